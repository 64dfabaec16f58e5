"""Tests of nnbook/perceptron.py and of every result the perceptron chapter (book/perceptron.md) states.

The chapter's numbers come from the same calls with the same seeds as the
tests below: if one changes, the other must change with it.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnbook.data import blobs_true_hyperplane, load_mnist_subset, make_blobs, make_xor
from nnbook.perceptron import (
    LOGIC_GATES,
    EpochLog,
    Perceptron,
    add_bias_column,
    convergence_bound,
    format_epoch,
    labels_to_signs,
    margin,
    perceptron_update,
    perceptron_update_01,
    product_features,
    radius,
    threshold_unit,
)

pytestmark = pytest.mark.ch02

BOOLEAN_PAIRS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)


# --- threshold logic units -------------------------------------------------


def test_logic_gates_have_the_weights_of_the_chapter():
    assert np.array_equal(LOGIC_GATES["OR"][0], [1.0, 1.0]) and LOGIC_GATES["OR"][1] == -0.5
    assert np.array_equal(LOGIC_GATES["AND"][0], [1.0, 1.0]) and LOGIC_GATES["AND"][1] == -1.5
    assert np.array_equal(LOGIC_GATES["NOT"][0], [-1.0]) and LOGIC_GATES["NOT"][1] == 0.5


@pytest.mark.parametrize(
    "gate, truth_table",
    [("OR", [0, 1, 1, 1]), ("AND", [0, 0, 0, 1])],
)
def test_two_input_gates_truth_tables(gate, truth_table):
    w, b = LOGIC_GATES[gate]
    out = threshold_unit(BOOLEAN_PAIRS, w, b)
    assert out.shape == (4,)
    assert np.array_equal(out, truth_table)


def test_not_gate_truth_table():
    w, b = LOGIC_GATES["NOT"]
    assert np.array_equal(threshold_unit(np.array([[0.0], [1.0]]), w, b), [1, 0])


def test_xor_from_two_layers_of_gates():
    """XOR(u, v) = AND(OR(u, v), NOT(AND(u, v))), as the chapter builds it."""
    or_out = threshold_unit(BOOLEAN_PAIRS, *LOGIC_GATES["OR"])
    nand_out = threshold_unit(threshold_unit(BOOLEAN_PAIRS, *LOGIC_GATES["AND"])[:, None], *LOGIC_GATES["NOT"])
    xor = threshold_unit(np.column_stack([or_out, nand_out]), *LOGIC_GATES["AND"])
    assert np.array_equal(xor, [0, 1, 1, 0])


def test_threshold_unit_fires_on_the_boundary():
    assert np.array_equal(threshold_unit(np.array([[1.0, 1.0]]), np.array([1.0, -1.0]), 0.0), [1.0])


# --- Rosenblatt's rule ---------------------------------------------------


def test_update_on_a_mistake_adds_y_x():
    w = np.array([0.5, -1.0, 2.0])
    x = np.array([1.0, 2.0, 0.0])  # w · x = -1.5 < 0 but y = +1: a mistake
    new_w = perceptron_update(w, x, +1)
    assert np.array_equal(new_w, [1.5, 1.0, 2.0])
    assert np.array_equal(perceptron_update(w, x, +1, lr=0.5), [1.0, 0.0, 2.0])
    # the score of the example moves by lr · ||x||² towards the right side
    assert new_w @ x == pytest.approx(w @ x + x @ x)


def test_update_on_a_negative_mistake_subtracts_x():
    w = np.array([1.0, 1.0])
    x = np.array([1.0, 3.0])  # w · x = 4 > 0 but y = -1
    assert np.array_equal(perceptron_update(w, x, -1), [0.0, -2.0])


def test_no_update_when_correct_and_a_new_array_is_returned():
    w = np.array([1.0, 2.0])
    x = np.array([1.0, 1.0])
    for y, sign in ((+1, 1.0), (-1, -1.0)):
        new_w = perceptron_update(sign * w, x, y)
        assert np.array_equal(new_w, sign * w)
    new_w = perceptron_update(w, x, +1)
    assert new_w is not w
    new_w[0] = 99.0
    assert w[0] == 1.0


@pytest.mark.parametrize("y", [+1, -1])
def test_a_point_on_the_boundary_is_a_mistake(y):
    w = np.array([1.0, -1.0])
    x = np.array([2.0, 2.0])  # w · x = 0
    assert np.array_equal(perceptron_update(w, x, y), w + y * x)
    # in particular the very first example updates w = 0
    assert np.array_equal(perceptron_update(np.zeros(2), x, y), y * x)


def test_01_form_on_the_three_cases():
    w = np.array([0.0, 1.0])
    x = np.array([1.0, -2.0])  # w · x = -2: predicts 0
    assert np.array_equal(perceptron_update_01(w, x, 1, lr=0.5), w + 0.5 * x)  # y − ŷ = +1
    assert np.array_equal(perceptron_update_01(w, x, 0, lr=0.5), w)  # correct
    assert np.array_equal(perceptron_update_01(-w, x, 0, lr=0.5), -w - 0.5 * x)  # y − ŷ = −1


def test_the_two_forms_differ_only_for_a_positive_point_on_the_boundary():
    w = np.array([1.0, -1.0])
    x = np.array([2.0, 2.0])  # w · x = 0, so ŷ = step(0) = 1
    assert np.array_equal(perceptron_update_01(w, x, 1), w)  # counted as correct
    assert np.array_equal(perceptron_update(w, x, +1), w + x)  # counted as a mistake
    # a negative point on the boundary is a mistake for both
    assert np.array_equal(perceptron_update_01(w, x, 0), perceptron_update(w, x, -1))


finite = st.floats(-10, 10, allow_nan=False, width=64)


@settings(max_examples=200, deadline=None)
@given(
    w=st.lists(finite, min_size=3, max_size=3),
    x=st.lists(finite, min_size=3, max_size=3),
    y01=st.sampled_from([0, 1]),
    lr=st.floats(1e-3, 10),
)
def test_01_form_equals_the_pm1_form_off_the_boundary(w, x, y01, lr):
    w, x = np.array(w), np.array(x)
    if w @ x == 0 and y01 == 1:
        return  # the one documented difference, tested above
    assert np.array_equal(perceptron_update_01(w, x, y01, lr), perceptron_update(w, x, 2 * y01 - 1, lr))


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(-8, 8),
    steps=st.integers(1, 60),
)
def test_scaling_lr_from_zero_scales_every_weight_and_changes_no_decision(seed, k, steps):
    """From w = 0, every iterate is a sum of ±lr·x, so lr only rescales w and never changes a sign.

    In exact arithmetic this holds for any lr > 0. In floating point, multiplying
    by a power of two is exact, so with lr = 2^k it holds *bit for bit*; for other
    values of lr rounding can flip the sign of a score that is exactly 0 in exact
    arithmetic, so we only claim it for powers of two.
    """
    rng = np.random.default_rng(seed)
    X1 = add_bias_column(rng.integers(-3, 4, size=(steps, 2)))
    y = rng.choice([-1.0, 1.0], size=steps)
    lr = 2.0**k
    w_one, w_lr = np.zeros(3), np.zeros(3)
    for x, label in zip(X1, y):
        w_one = perceptron_update(w_one, x, label)
        w_lr = perceptron_update(w_lr, x, label, lr)
        assert np.array_equal(w_lr, lr * w_one)


def test_perceptron_fit_is_invariant_to_a_power_of_two_lr():
    X, y, _ = _separable_data(np.random.default_rng(3), m=60, d=3, gamma=0.3)
    a = Perceptron(lr=1.0, seed=1).fit(X, y)
    b = Perceptron(lr=0.125, seed=1).fit(X, y)
    assert [e.updates for e in a.log] == [e.updates for e in b.log]
    assert np.array_equal(b.w, 0.125 * a.w)


# --- radius, margin, bound ------------------------------------------------


def test_radius_margin_and_bound_on_a_hand_example():
    X1 = add_bias_column(np.array([[0.0, 2.0], [0.0, -2.0], [3.0, 4.0]]))
    assert np.array_equal(X1[:, 0], [1, 1, 1])
    y = np.array([1, 0, 1])
    w = np.array([0.0, 0.0, 1.0])  # the hyperplane x_2 = 0
    assert radius(X1) == pytest.approx(np.sqrt(26.0))
    assert margin(X1, y, w) == pytest.approx(4.0)  # closest points at distance 2: a band of width 4
    assert margin(X1, y, 10 * w) == pytest.approx(4.0)  # does not depend on the scale of w
    assert convergence_bound(X1, y, w) == pytest.approx(4 * 26 / 16)


def test_bound_needs_a_separating_hyperplane():
    X1 = add_bias_column(np.array([[0.0, 1.0], [0.0, -1.0]]))
    with pytest.raises(ValueError, match="does not separate"):
        convergence_bound(X1, np.array([0, 1]), np.array([0.0, 0.0, 1.0]))


def _separable_data(rng, m, d, gamma):
    """Up to ``m`` points in ``R^d`` with 0/1 labels, whose bias-folded versions lie at distance
    at least γ/2 on the correct side of a random unit hyperplane ``w_star`` (bias folded in)."""
    w_star = rng.normal(size=d + 1)
    w_star /= np.linalg.norm(w_star)
    X = rng.normal(size=(6 * m, d)) * 2
    scores = add_bias_column(X) @ w_star
    keep = np.abs(scores) >= gamma / 2
    X, scores = X[keep][:m], scores[keep][:m]
    return X, (scores > 0).astype(int), w_star


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(2, 60),
    d=st.integers(1, 5),
    gamma=st.floats(0.2, 2.0),
)
def test_convergence_bound_holds_on_random_separable_data(seed, m, d, gamma):
    rng = np.random.default_rng(seed)
    X, y, w_star = _separable_data(rng, m, d, gamma)
    if len(X) == 0:
        return
    X1 = add_bias_column(X)
    assert margin(X1, y, w_star) >= gamma - 1e-12
    bound = convergence_bound(X1, y, w_star)
    model = Perceptron(max_epochs=int(bound) + 2, seed=seed % 1000).fit(X, y)
    assert model.log[-1].updates == 0, "the theorem guarantees convergence within the bound"
    assert model.total_updates <= bound
    assert model.error_rate(X, y) == 0.0


# --- the Perceptron class ---------------------------------------------------


def test_fit_stops_with_zero_training_error_and_a_consistent_log():
    X, y, _ = _separable_data(np.random.default_rng(0), m=80, d=2, gamma=0.2)
    model = Perceptron(max_epochs=1000, seed=0).fit(X, y)
    log = model.log
    assert log[-1].updates == 0 and log[-1].train_error == 0.0
    assert all(e.updates > 0 for e in log[:-1])
    assert [e.epoch for e in log] == list(range(1, len(log) + 1))
    assert model.total_updates == sum(e.updates for e in log)
    assert all(e.test_error is None for e in log)
    assert np.array_equal(model.predict(X), y)
    assert model.w.shape == (3,)
    assert set(np.unique(model.predict(X))) <= {0, 1}


def test_fit_with_pm1_labels_predicts_pm1_and_logs_test_error(capsys):
    X, y, _ = _separable_data(np.random.default_rng(1), m=50, d=2, gamma=0.3)
    signs = 2 * y - 1
    model = Perceptron(seed=0).fit(X[:40], signs[:40], X[40:], signs[40:], verbose=True)
    assert set(np.unique(model.predict(X))) <= {-1, 1}
    assert all(0.0 <= e.test_error <= 1.0 for e in model.log)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [format_epoch(e) for e in model.log]


def test_fit_is_reproducible_and_depends_on_the_seed():
    X, y, _ = _separable_data(np.random.default_rng(2), m=100, d=3, gamma=0.1)
    a, b = Perceptron(seed=5).fit(X, y), Perceptron(seed=5).fit(X, y)
    assert np.array_equal(a.w, b.w) and a.log == b.log


def test_fit_without_shuffle_visits_examples_in_order():
    X = np.array([[1.0], [-1.0]])
    y = np.array([1, 0])
    model = Perceptron(shuffle=False).fit(X, y)
    # w = 0: x1 is on the boundary, update to (1, 1); then x2 scores 0, update to (0, 2); epoch 2 is clean
    assert np.array_equal(model.w, [0.0, 2.0])
    assert [e.updates for e in model.log] == [2, 0]


def test_format_epoch():
    assert format_epoch(EpochLog(3, 12, 0.0125, 0.5)) == "epoch   3:    12 updates, train error   1.25%, test error  50.00%"
    assert format_epoch(EpochLog(1, 0, 0.0, None)) == "epoch   1:     0 updates, train error   0.00%"


def test_labels_to_signs():
    assert np.array_equal(labels_to_signs([0, 1, 1]), [-1.0, 1.0, 1.0])
    assert np.array_equal(labels_to_signs([-1, 1]), [-1.0, 1.0])
    with pytest.raises(ValueError, match="must only contain"):
        labels_to_signs([0, 1, 2])


# --- XOR and the feature map -------------------------------------------------

XOR_LABELS = np.array([0, 1, 1, 0])


def test_xor_is_not_learned_by_a_perceptron():
    model = Perceptron(max_epochs=200, seed=0).fit(BOOLEAN_PAIRS, XOR_LABELS)
    assert len(model.log) == 200
    assert all(e.updates > 0 for e in model.log)
    assert all(e.train_error >= 0.25 for e in model.log)  # at least one of the four points is always wrong


def test_product_features():
    X = np.array([[2.0, 3.0], [-1.0, 0.5]])
    assert np.array_equal(product_features(X), [[2.0, 3.0, 6.0], [-1.0, 0.5, -0.5]])
    with pytest.raises(ValueError, match="2 input features"):
        product_features(np.zeros((3, 3)))


def test_xor_is_learned_after_the_feature_map():
    model = Perceptron(max_epochs=200, seed=0).fit(product_features(BOOLEAN_PAIRS), XOR_LABELS)
    assert model.log[-1].updates == 0
    assert np.array_equal(model.predict(product_features(BOOLEAN_PAIRS)), XOR_LABELS)


# --- clear errors ---------------------------------------------------------------


def test_fit_rejects_bad_labels():
    with pytest.raises(ValueError, match=r"y must only contain \(0, 1\), found \[2\]"):
        Perceptron().fit(np.zeros((3, 2)), np.array([0, 1, 2]))


def test_fit_rejects_nan_inputs():
    X = np.ones((3, 2))
    X[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"X contains 1 non-finite value.*\(1, 0\)"):
        Perceptron().fit(X, np.array([0, 1, 1]))


def test_fit_rejects_mismatched_rows():
    with pytest.raises(ValueError, match="X has 3 examples .* y has 2"):
        Perceptron().fit(np.zeros((3, 2)), np.array([0, 1]))


def test_fit_rejects_column_labels_and_half_a_test_set():
    with pytest.raises(ValueError, match="y must have 1 dimension"):
        Perceptron().fit(np.zeros((3, 2)), np.array([[0], [1], [1]]))
    with pytest.raises(ValueError, match="both X_test and y_test"):
        Perceptron().fit(np.zeros((3, 2)), np.array([0, 1, 1]), X_test=np.zeros((2, 2)))


def test_fit_rejects_an_empty_training_set():
    with pytest.raises(ValueError, match="at least one example"):
        Perceptron().fit(np.zeros((0, 2)), np.zeros(0, dtype=int))


def test_predict_before_fit():
    with pytest.raises(RuntimeError, match="before fit"):
        Perceptron().predict(np.zeros((2, 2)))


def test_predict_with_the_wrong_number_of_features():
    model = Perceptron().fit(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1]))
    with pytest.raises(ValueError, match="3 features .* fitted on 2"):
        model.predict(np.zeros((1, 3)))


@pytest.mark.parametrize("kwargs", [{"lr": 0.0}, {"lr": -1.0}, {"max_epochs": 0}, {"max_epochs": 2.5}])
def test_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        Perceptron(**kwargs)


# --- the chapter's results, with the chapter's data and seeds ----------------------


def test_first_epoch_by_hand_is_the_first_epoch_of_fit():
    """The chapter steps through the first epoch with perceptron_update in the order Perceptron(seed=0) draws."""
    X, y = make_blobs(60, margin=0.05, seed=0)
    X1, s = add_bias_column(X), labels_to_signs(y)
    w, updates = np.zeros(3), 0
    for i in np.random.default_rng(0).permutation(len(X1)):
        w_new = perceptron_update(w, X1[i], s[i])
        updates += not np.array_equal(w_new, w)
        w = w_new
    one_epoch = Perceptron(max_epochs=1, seed=0).fit(X, y)
    assert np.array_equal(one_epoch.w, w) and one_epoch.log[0].updates == updates
    model = Perceptron(seed=0).fit(X, y)
    assert model.log[0].updates == updates and model.log[-1].updates == 0 and model.log[-1].train_error == 0.0


def test_make_blobs_margin_is_the_theorems_gamma_on_bias_folded_data():
    w_true, b_true = blobs_true_hyperplane()
    w_star = np.r_[b_true, w_true]
    assert np.linalg.norm(w_star) == pytest.approx(1.0)
    for gap in (0.05, 0.4, 1.6):
        X, y = make_blobs(100, margin=gap, seed=3)
        assert margin(add_bias_column(X), y, w_star) == pytest.approx(gap, rel=1e-9)


@pytest.mark.parametrize("gap", [0.05, 0.1, 0.2, 0.4, 0.8, 1.6])
def test_convergence_bound_holds_on_blobs(gap):
    """The chapter's check: R and γ on the bias-folded data, w* the documented true line with the bias first."""
    w_true, b_true = blobs_true_hyperplane()
    w_star = np.r_[b_true, w_true]
    for seed in range(5):
        X, y = make_blobs(100, margin=gap, seed=seed)
        X1 = add_bias_column(X)
        R, gamma = radius(X1), margin(X1, y, w_star)
        bound = convergence_bound(X1, y, w_star)
        assert bound == pytest.approx(4 * R**2 / gamma**2)
        model = Perceptron(max_epochs=10_000, seed=seed).fit(X, y)
        assert model.log[-1].updates == 0 and model.log[-1].train_error == 0.0
        assert model.total_updates <= bound


@pytest.fixture(scope="module")
def mnist01():
    data = load_mnist_subset()
    train, test = np.isin(data.y_train, (0, 1)), np.isin(data.y_test, (0, 1))
    return data.X_train[train], data.y_train[train], data.X_test[test], data.y_test[test]


def test_mnist_zero_vs_one(mnist01):
    """What the chapter states: zero training error after a few epochs, test error below 1%."""
    X_train, y_train, X_test, y_test = mnist01
    assert X_train.shape == (800, 784) and X_test.shape == (200, 784)
    model = Perceptron(max_epochs=100, seed=0).fit(X_train, y_train, X_test, y_test)
    last = model.log[-1]
    assert last.updates == 0 and last.train_error == 0.0
    assert len(model.log) <= 8  # "a few epochs"
    assert last.test_error < 0.01
    assert any(e.test_error > 0 for e in model.log)  # "the test error is not zero at every epoch"
    assert model.error_rate(X_test, y_test) == last.test_error
    assert model.total_updates <= convergence_bound(add_bias_column(X_train), y_train, model.w)


def test_noisy_xor_never_converges_and_converges_after_phi():
    X, y = make_xor(200, seed=0)
    linear = Perceptron(max_epochs=100, seed=0).fit(X, y)
    assert len(linear.log) == 100 and all(e.updates > 0 for e in linear.log)
    assert min(e.train_error for e in linear.log) >= 0.25 - 1e-12  # the best a line can do on four clouds
    lifted = Perceptron(max_epochs=100, seed=0).fit(product_features(X), y)
    assert lifted.log[-1].updates == 0 and lifted.log[-1].train_error == 0.0


def test_xor_corners_separated_by_the_chapters_plane():
    """x_u + x_v − 2 x_u x_v − 0.5 separates the lifted XOR corners."""
    out = threshold_unit(product_features(BOOLEAN_PAIRS), np.array([1.0, 1.0, -2.0]), -0.5)
    assert np.array_equal(out, XOR_LABELS)
