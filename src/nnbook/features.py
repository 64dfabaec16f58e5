"""Feature design: what a linear classifier sees, and k-nearest neighbours as the contrast.

A linear classifier draws a hyperplane in the space of its inputs. Feed it
``Φ(x)`` instead of ``x`` and the hyperplane ``w · Φ(x) + b = 0`` becomes a
curved boundary in the input space: the choice of ``Φ`` sets what the model can
represent (chapter *Feature design*, ``book/features.md``).

* :func:`polynomial_features` and :func:`n_monomials`: every monomial of degree
  at most ``D``; with enough of them a linear classifier separates any finite
  set of distinct points (:func:`sign_pattern_polynomial` builds the separator in one dimension);
* :func:`random_pairs` and :func:`pair_products`: products of pairs of inputs drawn at
  random, a cheap subset of the degree-2 monomials for inputs with many features (images);
* :func:`knn_predict`: k-nearest neighbours, which learns no weights and keeps the training set;
* :func:`hog_features`: histograms of oriented gradients (Dalal and Triggs 2005),
  the kind of hand-designed image features that learned features replaced;
* :func:`products_experiment` (:data:`EIGHT_VS_REST_SETTINGS`), :func:`knn_errors` and
  :func:`shift_sensitivity`: the chapter's experiments on the MNIST subset.

Arrays are batch-first: ``X : (m, n_x)``, labels ``y : (m,)``, images ``(m, H, W)``.
"""

import itertools
import math
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from .data import load_mnist_subset
from .perceptron import Perceptron
from .validation import as_float_array, check_finite, check_ndim, check_rows_match


def _check_X(X, name="X"):
    return check_finite(check_ndim(as_float_array(X, name), name, 2), name)


def _check_degree(degree):
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise ValueError(f"degree must be an integer ≥ 1, got {degree!r}")
    return int(degree)


def monomial_exponents(n, degree):
    """The exponents of every monomial of degree 1 to ``degree`` in ``n`` variables, shape ``(k, n)``.

    Row ``r`` holds ``(e_1, …, e_n)`` for the monomial ``x_1^{e_1} ⋯ x_n^{e_n}``, in
    order of increasing degree; the constant monomial (degree 0) is left out, since
    a linear classifier has its own bias. ``k + 1 = C(n + D, D)`` (:func:`n_monomials`).
    """
    degree = _check_degree(degree)
    rows = []
    for d in range(1, degree + 1):
        for combination in itertools.combinations_with_replacement(range(n), d):
            rows.append(np.bincount(combination, minlength=n))
    return np.array(rows, dtype=np.int64).reshape(-1, n)


def polynomial_features(X, degree):
    """Every monomial of degree 1 to ``degree`` of the columns of ``X : (m, n)``: shape ``(m, C(n + D, D) − 1)``.

    For one variable (``n = 1``) the columns are ``x, x², …, x^D``; for two and
    ``D = 2`` they are ``x_1, x_2, x_1², x_1 x_2, x_2²``. A linear function of these
    features plus a bias is any polynomial of degree at most ``D``.
    """
    X = _check_X(X)
    exponents = monomial_exponents(X.shape[1], degree)  # (k, n)
    return np.prod(X[:, None, :] ** exponents[None, :, :], axis=2)  # (m, k)


def n_monomials(n, degree):
    """The number of monomials of degree at most ``D`` in ``n`` variables, constant included: ``C(n + D, D)``.

    A monomial of degree at most ``D`` is a choice of exponents ``e_1 + ⋯ + e_n ≤ D``;
    adding a slack exponent ``e_0 = D − Σ e_i`` makes it a way of putting ``D``
    identical balls in ``n + 1`` boxes, and there are ``C(n + D, D)`` of those.
    """
    return math.comb(n + _check_degree(degree), degree)


def sign_pattern_polynomial(x, s):
    """A polynomial ``p`` with ``sign p(x_i) = s_i`` at distinct points ``x : (m,)``, labels ``s`` in ``{−1, +1}``.

    Sort the points; wherever the label changes between two neighbours, put a
    root midway between them. With ``k`` changes, ``p(x) = c ∏_{j=1}^{k} (x − r_j)``
    has degree ``k`` and changes sign exactly at the ``r_j``; the sign of ``c``
    makes it agree with the first label. No polynomial of degree below ``k`` can
    do it: it would need ``k`` sign changes, hence ``k`` roots. Returns a
    ``numpy.polynomial.Polynomial`` (the constant ``1`` when no label changes).
    """
    x = check_ndim(as_float_array(x, "x"), "x", 1)
    s = np.asarray(s)
    check_rows_match(x, s, "x", "s")
    if not np.all(np.isin(s, (-1, 1))):
        raise ValueError("s must hold labels in {-1, +1}")
    order = np.argsort(x)
    x, s = x[order], s[order]
    if np.any(np.diff(x) == 0):
        raise ValueError("the points must be distinct: two equal points cannot carry two labels")
    changes = np.flatnonzero(s[1:] != s[:-1])
    roots = (x[changes] + x[changes + 1]) / 2
    polynomial = np.polynomial.Polynomial.fromroots(roots) if len(roots) else np.polynomial.Polynomial([1.0])
    # left of every root, ∏ (x − r_j) has the sign (−1)^k
    return polynomial * (s[0] * (-1) ** len(roots))


def random_pairs(n, k, seed=0):
    """``k`` distinct pairs ``(i, j)`` with ``0 ≤ i < j < n``, drawn uniformly without replacement: shape ``(k, 2)``.

    There are ``n (n − 1) / 2`` such pairs (306,936 for the 784 pixels of MNIST).
    A pair is drawn as one index among them and decoded, so nothing of that size is
    built. The same ``seed`` gives the same pairs; the first ``k`` pairs of a
    draw are the pairs of any smaller draw with the same seed.
    """
    total = n * (n - 1) // 2
    if not 0 <= k <= total:
        raise ValueError(f"k must be between 0 and n (n − 1) / 2 = {total}, got {k}")
    flat = np.random.default_rng(seed).permutation(total)[:k]  # (k,)
    # decode the flat index of the pair (i, j), i < j, in the order (0,1), (0,2), …, (0,n−1), (1,2), …
    starts = np.concatenate([[0], np.cumsum(np.arange(n - 1, 0, -1))])  # index of the first pair of each i
    i = np.searchsorted(starts, flat, side="right") - 1
    j = flat - starts[i] + i + 1
    return np.column_stack([i, j]).astype(np.int64)


def pair_products(X, pairs):
    """The products ``x_i x_j`` of the columns of ``X : (m, n)`` for each pair ``(i, j)`` of ``pairs : (k, 2)``: ``(m, k)``."""
    X = _check_X(X)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return X[:, pairs[:, 0]] * X[:, pairs[:, 1]]


def squared_distances(A, B):
    """``D[i, j] = ‖a_i − b_j‖²`` for the rows of ``A : (p, n)`` and ``B : (q, n)``: shape ``(p, q)``.

    Expanded as ``‖a‖² + ‖b‖² − 2 a · b``, one matrix product; rounding can make an
    entry slightly negative, so it is clipped at 0.
    """
    A, B = as_float_array(A, "A"), as_float_array(B, "B")
    D = (A * A).sum(axis=1)[:, None] + (B * B).sum(axis=1)[None, :] - 2.0 * A @ B.T
    return np.maximum(D, 0.0)


def knn_predict(X_train, y_train, X, k=1, batch_size=500):
    """The majority label of the ``k`` nearest training examples (Euclidean distance) of each row of ``X``.

    ``X_train : (m, n)``, ``y_train : (m,)`` integer labels, ``X : (q, n)`` → ``(q,)``.
    Nothing is learned: the training set *is* the model, and each prediction
    costs ``m`` distances. Ties between equally distant neighbours go to the one
    that comes first in the training set; a tie in the vote goes to the label of the
    nearest neighbour among the tied labels. ``X`` is processed ``batch_size`` rows
    at a time, so that the matrix of distances stays small.
    """
    X_train, X = _check_X(X_train, "X_train"), _check_X(X, "X")
    y_train = np.asarray(y_train)
    check_rows_match(X_train, y_train, "X_train", "y_train")
    if not 1 <= k <= len(X_train):
        raise ValueError(f"k must be between 1 and the number of training examples {len(X_train)}, got {k}")
    labels, y_index = np.unique(y_train, return_inverse=True)
    predictions = np.empty(len(X), dtype=y_train.dtype)
    for start in range(0, len(X), batch_size):
        D = squared_distances(X[start:start + batch_size], X_train)           # (b, m)
        nearest = np.argsort(D, axis=1, kind="stable")[:, :k]                  # (b, k), nearest first
        neighbour_labels = y_index[nearest]                                    # (b, k)
        votes = np.zeros((len(D), len(labels)), dtype=np.int64)
        np.add.at(votes, (np.repeat(np.arange(len(D)), k), neighbour_labels.ravel()), 1)
        winning = votes == votes.max(axis=1, keepdims=True)                    # (b, n_labels): the tied winners
        # the nearest neighbour whose label is among the winners
        first = np.argmax(np.take_along_axis(winning, neighbour_labels, axis=1), axis=1)
        predictions[start:start + len(D)] = labels[neighbour_labels[np.arange(len(D)), first]]
    return predictions


def image_gradients(images):
    """Horizontal and vertical derivatives of ``images : (m, H, W)`` by the centred difference ``[−1, 0, 1]``.

    ``gx[…, r, c] = I[r, c + 1] − I[r, c − 1]`` and ``gy[…, r, c] = I[r + 1, c] − I[r − 1, c]``
    (rows grow downwards), with the image repeated at its border. Returns ``(gx, gy)``,
    each ``(m, H, W)``. Dalal and Triggs found this simplest filter the best for HOG.
    """
    images = check_ndim(as_float_array(images, "images"), "images", 3)
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]
    gy = padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]
    return gx, gy


def hog_features(images, cell=8, bins=9):
    """Histograms of oriented gradients of ``images : (m, H, W)``: shape ``(m, H // cell, W // cell, bins)``.

    At every pixel, the gradient ``(gx, gy)`` (:func:`image_gradients`) has a magnitude
    ``√(gx² + gy²)`` and an *unsigned* orientation ``θ = atan2(gy, gx)`` folded into
    ``[0°, 180°)`` (a dark-to-light edge and a light-to-dark one count alike).
    The image is cut into cells of ``cell × cell`` pixels (rows and columns beyond the last
    whole cell are dropped), and each cell gets a histogram of ``bins`` orientation
    bins of ``180°/bins`` each: bin ``k`` adds up the magnitudes of the pixels with
    ``k · 180°/bins ≤ θ < (k + 1) · 180°/bins``.

    This is the core of the descriptor of Dalal and Triggs (2005): 8 × 8 cells and 9
    bins of 20°. Their full descriptor also splits each vote between the two nearest
    bins and normalizes the histograms over overlapping blocks of 2 × 2 cells, which
    this version leaves out.
    """
    images = check_ndim(as_float_array(images, "images"), "images", 3)
    if cell < 1 or images.shape[1] < cell or images.shape[2] < cell:
        raise ValueError(f"cells of {cell} pixels do not fit in images of shape {images.shape[1:]}")
    gx, gy = image_gradients(images)
    magnitude = np.hypot(gx, gy)
    angle = np.degrees(np.arctan2(gy, gx)) % 180.0                       # [0, 180)
    index = np.minimum((angle // (180.0 / bins)).astype(np.int64), bins - 1)
    m, H, W = images.shape
    rows, cols = H // cell, W // cell
    magnitude = magnitude[:, :rows * cell, :cols * cell]
    index = index[:, :rows * cell, :cols * cell]
    one_hot = magnitude[..., None] * (index[..., None] == np.arange(bins))   # (m, H', W', bins)
    return one_hot.reshape(m, rows, cell, cols, cell, bins).sum(axis=(2, 4))


def shift_sensitivity(images, shifts, features=None):
    """How much features change when images move right by ``shifts`` pixels: a list, one mean per shift.

    For each shift ``k`` the images ``(m, H, W)`` are rolled ``k`` columns to the right
    and the mean over the images of ``‖f(shifted) − f(image)‖ / ‖f(image)‖`` is returned;
    ``features`` maps ``(m, H, W)`` to any array with the examples first (the raw pixels
    when ``None``). A feature invariant to small shifts gives small numbers.
    """
    images = check_ndim(as_float_array(images, "images"), "images", 3)
    f = features or (lambda batch: batch)
    reference = f(images).reshape(len(images), -1)
    changes = []
    for k in shifts:
        moved = f(np.roll(images, k, axis=2)).reshape(len(images), -1)
        changes.append(float(np.mean(np.linalg.norm(moved - reference, axis=1) / np.linalg.norm(reference, axis=1))))
    return changes


# ---------------------------------------------------------------------------
# The chapter's experiment: MNIST "8" against the other digits
# ---------------------------------------------------------------------------

#: The experiment of the chapter *Feature design*: the perceptron on the pixels of the MNIST
#: subset plus ``K`` random products of pairs of pixels, for each ``K`` of ``n_products``.
EIGHT_VS_REST_SETTINGS = {
    "digit": 8,
    "n_products": (0, 100, 300, 1000, 3000, 10000),
    "max_epochs": 20,
    "seed": 0,
    "knn_k": (1, 3, 5, 9, 15, 25),
}


def digit_against_rest(digit=8):
    """The MNIST subset as a two-class problem: label 1 for ``digit``, 0 for the nine others.

    Returns ``(X_train : (4000, 784), y_train : (4000,), X_test : (1000, 784), y_test : (1000,))``;
    one example in ten is positive, so answering "not the digit" always errs 10% of the time.
    """
    data = load_mnist_subset()
    return data.X_train, (data.y_train == digit).astype(np.int64), data.X_test, (data.y_test == digit).astype(np.int64)


class ProductsRun(NamedTuple):
    """One run of :func:`products_experiment`: ``K`` products, the features seen, and the errors at the end."""

    n_products: int
    n_features: int
    epochs: int
    train_error: float
    test_error: float


def products_experiment(settings=EIGHT_VS_REST_SETTINGS):
    """The perceptron on the 784 pixels and ``K`` random pixel products, for each ``K`` of ``settings["n_products"]``.

    The pairs are drawn once (:func:`random_pairs`), so the features for a ``K`` include
    those for every smaller ``K``. Each perceptron starts from ``w = 0`` and runs at most
    ``max_epochs`` epochs (it stops earlier if the training set becomes separable);
    the errors are those of the weights at the end. Returns a list of :class:`ProductsRun`.
    """
    s = settings
    X_train, y_train, X_test, y_test = digit_against_rest(s["digit"])
    pairs = random_pairs(X_train.shape[1], max(s["n_products"]), s["seed"])
    runs = []
    with threadpool_limits(limits=1, user_api="blas"):
        for K in s["n_products"]:
            F_train = np.hstack([X_train, pair_products(X_train, pairs[:K])])    # (4000, 784 + K)
            F_test = np.hstack([X_test, pair_products(X_test, pairs[:K])])
            model = Perceptron(max_epochs=s["max_epochs"], seed=s["seed"]).fit(F_train, y_train, F_test, y_test)
            last = model.log[-1]
            runs.append(ProductsRun(K, F_train.shape[1], len(model.log), last.train_error, last.test_error))
    return runs


def knn_errors(settings=EIGHT_VS_REST_SETTINGS):
    """Test error of :func:`knn_predict` on the pixels of the same problem, for each ``k`` of ``settings["knn_k"]``: a dict."""
    X_train, y_train, X_test, y_test = digit_against_rest(settings["digit"])
    with threadpool_limits(limits=1, user_api="blas"):
        return {k: float(np.mean(knn_predict(X_train, y_train, X_test, k) != y_test)) for k in settings["knn_k"]}
