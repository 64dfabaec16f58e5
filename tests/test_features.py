"""Tests of nnbook/features.py and of what the page *Feature design* (book/features.md, chapter 2) states."""

import itertools
import math

import numpy as np
import pytest

from nnbook.data import make_circles
from nnbook.features import (
    EIGHT_VS_REST_SETTINGS,
    digit_against_rest,
    hog_features,
    image_gradients,
    knn_errors,
    knn_predict,
    monomial_exponents,
    n_monomials,
    pair_products,
    polynomial_features,
    products_experiment,
    random_pairs,
    shift_sensitivity,
    sign_pattern_polynomial,
    squared_distances,
)
from nnbook.perceptron import Perceptron

pytestmark = pytest.mark.ch02


# ---- polynomial features -----------------------------------------------------------------------


def test_polynomial_features_of_one_input_are_the_powers():
    x = np.array([[2.0], [-1.0], [0.5]])
    np.testing.assert_array_equal(polynomial_features(x, 3), [[2, 4, 8], [-1, 1, -1], [0.5, 0.25, 0.125]])


def test_polynomial_features_of_two_inputs_up_to_degree_two():
    X = np.array([[2.0, 3.0]])
    # x1, x2, x1², x1 x2, x2²
    np.testing.assert_array_equal(polynomial_features(X, 2), [[2, 3, 4, 6, 9]])


@pytest.mark.parametrize("n, D", [(1, 1), (1, 5), (2, 2), (3, 3), (4, 2), (5, 4)])
def test_the_number_of_monomials_is_n_plus_d_choose_d(n, D):
    """C(n + D, D), the constant included, against a brute-force count of exponent vectors with sum ≤ D."""
    brute = sum(1 for e in itertools.product(range(D + 1), repeat=n) if sum(e) <= D)
    assert n_monomials(n, D) == math.comb(n + D, D) == brute
    exponents = monomial_exponents(n, D)
    assert len(exponents) + 1 == brute and len({tuple(row) for row in exponents}) == len(exponents)
    assert polynomial_features(np.ones((2, n)), D).shape == (2, brute - 1)


def test_the_counts_quoted_for_mnist():
    assert n_monomials(784, 2) == 308_505 and n_monomials(784, 3) == 80_931_145
    assert 784 * 783 // 2 == 306_936


def test_a_linear_function_of_the_features_is_any_polynomial():
    """b + w · Φ_D(x) equals the polynomial with coefficients (b, w_1, …, w_D)."""
    rng = np.random.default_rng(0)
    x, coefficients = rng.uniform(-2, 2, size=50), rng.normal(size=6)
    scores = coefficients[0] + polynomial_features(x[:, None], 5) @ coefficients[1:]
    np.testing.assert_allclose(scores, np.polynomial.Polynomial(coefficients)(x), rtol=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_the_sign_pattern_polynomial_has_the_labels_signs_and_degree_the_number_of_changes(seed):
    rng = np.random.default_rng(seed)
    x = rng.permutation(np.linspace(-1, 1, 12))
    s = rng.choice([-1, 1], size=12)
    p = sign_pattern_polynomial(x, s)
    order = np.argsort(x)
    changes = int(np.count_nonzero(s[order][1:] != s[order][:-1]))
    assert p.degree() == changes
    np.testing.assert_array_equal(np.sign(p(x)), s)


def test_the_chapters_points_need_degree_four_and_the_perceptron_agrees():
    x = np.array([-0.9, -0.7, -0.4, -0.1, 0.2, 0.4, 0.65, 0.9])
    s = np.array([1, 1, -1, -1, 1, -1, 1, 1])
    assert sign_pattern_polynomial(x, s).degree() == 4
    for D in range(1, 7):
        model = Perceptron(max_epochs=1000, seed=0).fit(polynomial_features(x[:, None], D), s)
        assert (model.log[-1].updates == 0) == (D >= 4), D


def test_the_circles_become_separable_with_degree_two_monomials():
    X, y = make_circles(200, seed=0)
    assert Perceptron(max_epochs=200, seed=0).fit(polynomial_features(X, 2), y).log[-1].updates == 0
    assert Perceptron(max_epochs=200, seed=0).fit(X, y).log[-1].updates > 0


def test_stone_weierstrass_polynomials_approach_the_absolute_value():
    """The chapter's figure: the largest error of the least-squares polynomial for |x| falls with the degree."""
    x = np.linspace(-1, 1, 4001)
    errors = [np.max(np.abs(np.polynomial.Chebyshev.fit(x, np.abs(x), D)(x) - np.abs(x))) for D in (2, 4, 8, 16, 32, 64)]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:]))
    assert errors[-1] < 0.01 and 1.8 < errors[-2] / errors[-1] < 2.2  # halves when the degree doubles


# ---- random pixel products -----------------------------------------------------------------------


def test_random_pairs_are_distinct_ordered_and_cover_every_pair_when_asked():
    pairs = random_pairs(6, 15, seed=3)
    assert pairs.shape == (15, 2) and np.all(pairs[:, 0] < pairs[:, 1])
    assert {tuple(p) for p in pairs} == set(itertools.combinations(range(6), 2))


def test_random_pairs_are_reproducible_and_nested():
    big, small = random_pairs(784, 1000, seed=0), random_pairs(784, 100, seed=0)
    np.testing.assert_array_equal(big[:100], small)
    assert len({tuple(p) for p in big}) == 1000 and big.min() >= 0 and big.max() < 784
    assert not np.array_equal(random_pairs(784, 100, seed=1), small)
    with pytest.raises(ValueError, match="between 0 and"):
        random_pairs(4, 7)


def test_pair_products_multiply_the_chosen_columns():
    X = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(pair_products(X, [[0, 1], [2, 3]]), np.column_stack([X[:, 0] * X[:, 1], X[:, 2] * X[:, 3]]))
    assert pair_products(X, np.zeros((0, 2), dtype=int)).shape == (3, 0)


@pytest.fixture(scope="module")
def products_runs():
    return products_experiment(EIGHT_VS_REST_SETTINGS)


def test_products_make_the_eights_separable_and_lower_the_test_error(products_runs):
    """features.md: with 10,000 products the training set is separable and the test error falls below 60% of the pixels'."""
    raw, richest = products_runs[0], products_runs[-1]
    assert [run.n_features for run in products_runs] == [784 + K for K in EIGHT_VS_REST_SETTINGS["n_products"]]
    assert raw.train_error > 0.02 and richest.train_error == 0.0 and richest.epochs < EIGHT_VS_REST_SETTINGS["max_epochs"]
    assert richest.test_error < 0.6 * raw.test_error < 0.1
    train_errors = [run.train_error for run in products_runs]
    assert all(later <= earlier for earlier, later in zip(train_errors, train_errors[1:]))


def test_the_eights_are_one_tenth_of_the_subset():
    _, y_train, _, y_test = digit_against_rest(8)
    assert y_train.mean() == 0.1 and y_test.mean() == 0.1


# ---- k-nearest neighbours ----------------------------------------------------------------------


def test_squared_distances_match_a_loop():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    loop = np.array([[np.sum((a - b) ** 2) for b in B] for a in A])
    np.testing.assert_allclose(squared_distances(A, B), loop, rtol=1e-12, atol=1e-12)
    assert np.all(squared_distances(A, A).diagonal() >= 0)


def test_knn_on_a_small_example_worked_by_hand():
    X_train = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    y_train = np.array([0, 0, 1, 1, 1])
    X = np.array([[0.4], [1.9], [6.1], [9.0]])
    np.testing.assert_array_equal(knn_predict(X_train, y_train, X, k=1), [0, 1, 1, 1])
    # k = 3 at 0.4: neighbours 0, 1, 2 -> labels 0, 0, 1 -> 0; at 1.9: 2, 1, 0 -> 1, 0, 0 -> 0
    np.testing.assert_array_equal(knn_predict(X_train, y_train, X, k=3), [0, 0, 1, 1])


def test_knn_breaks_a_tied_vote_with_the_nearest_neighbour():
    X_train = np.array([[0.0], [1.0], [3.0], [4.0]])
    y_train = np.array([5, 7, 7, 5])
    # at 0.9 the 2 neighbours are 1.0 (label 7) and 0.0 (label 5): a tie, the nearest wins
    np.testing.assert_array_equal(knn_predict(X_train, y_train, np.array([[0.9], [0.1]]), k=2), [7, 5])


def test_knn_with_one_neighbour_recalls_its_training_set_and_matches_a_brute_force_vote():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, size=60)
    np.testing.assert_array_equal(knn_predict(X, y, X, k=1), y)
    queries = rng.normal(size=(25, 4))
    predicted = knn_predict(X, y, queries, k=5, batch_size=7)
    for q, label in zip(queries, predicted):
        nearest = np.argsort(np.sum((X - q) ** 2, axis=1), kind="stable")[:5]
        counts = np.bincount(y[nearest], minlength=3)
        winners = np.flatnonzero(counts == counts.max())
        assert label == next(y[i] for i in nearest if y[i] in winners)


def test_knn_beats_the_perceptron_on_the_eights(products_runs):
    errors = knn_errors(EIGHT_VS_REST_SETTINGS)
    assert min(errors.values()) < products_runs[-1].test_error
    assert errors[1] == pytest.approx(0.019)


def test_the_radius_makes_the_nearest_neighbours_robust_to_flipped_labels():
    """features.md: on the circles with 25% flipped labels, k-NN on r = ‖x‖ errs at most a quarter as often."""
    X, y = make_circles(100, noise=0.1, seed=0)
    X_test, y_test = make_circles(2000, noise=0.1, seed=1)
    flipped = np.random.default_rng(0).random(100) < 0.25
    y_noisy = np.where(flipped, 1 - y, y)
    r, r_test = np.linalg.norm(X, axis=1, keepdims=True), np.linalg.norm(X_test, axis=1, keepdims=True)
    ks = range(1, 40, 2)
    best_xy = min(np.mean(knn_predict(X, y_noisy, X_test, k) != y_test) for k in ks)
    best_r = min(np.mean(knn_predict(r, y_noisy, r_test, k) != y_test) for k in ks)
    assert best_r < 0.25 * best_xy and best_r < 0.02


# ---- histograms of oriented gradients ----------------------------------------------------------


def test_image_gradients_of_a_ramp():
    image = np.tile(np.arange(6.0), (5, 1))[None]          # intensity = column index
    gx, gy = image_gradients(image)
    np.testing.assert_array_equal(gx[0, :, 1:-1], 2.0)     # I[c + 1] − I[c − 1]
    np.testing.assert_array_equal(gx[0, :, 0], 1.0)        # the border repeats the image
    np.testing.assert_array_equal(gy, 0.0)


@pytest.mark.parametrize("direction, expected_bin", [("vertical edge", 0), ("horizontal edge", 4), ("diagonal", 2)])
def test_hog_puts_each_edge_in_the_bin_of_its_gradient(direction, expected_bin):
    """Gradient angles 0°, 90° and 45° fall in bins [0°, 20°), [80°, 100°) and [40°, 60°) of 9."""
    r, c = np.mgrid[0:8, 0:8]
    image = {"vertical edge": c >= 4, "horizontal edge": r >= 4, "diagonal": r + c >= 8}[direction].astype(float)
    hist = hog_features(image[None], cell=8, bins=9)
    assert hist.shape == (1, 1, 1, 9)
    assert np.argmax(hist[0, 0, 0]) == expected_bin and hist[0, 0, 0].max() > 0.9 * hist[0, 0, 0].sum()  # the border adds a little


def test_hog_adds_up_the_gradient_magnitudes_cell_by_cell():
    """A step of height 1 between columns 3 and 4 gives |gx| = 1 on both columns, on every row: 16 in bin 0."""
    image = np.zeros((16, 16))
    image[:, 4:] = 1.0
    hist = hog_features(image[None], cell=8)
    assert hist.shape == (1, 2, 2, 9)
    np.testing.assert_allclose(hist[0, :, 0, 0], [16.0, 16.0])
    np.testing.assert_allclose(hist[0, :, 1], 0.0)
    np.testing.assert_allclose(hist.sum(), np.hypot(*image_gradients(image[None])).sum())


def test_hog_changes_less_than_the_pixels_when_a_digit_moves():
    from nnbook.data import load_mnist_subset

    images = load_mnist_subset(flatten=False).X_test
    pixels = shift_sensitivity(images, [1, 2, 3, 4])
    hog = shift_sensitivity(images, [1, 2, 3, 4], lambda batch: hog_features(batch, cell=7))
    assert hog[0] < 0.6 * pixels[0] and all(h < 0.75 * p for h, p in zip(hog, pixels))
    assert shift_sensitivity(images[:5], [0]) == [0.0]
