"""The perceptron: a threshold unit and Rosenblatt's learning rule.

A threshold logic unit outputs ``1`` when ``w · x + b ≥ 0`` and ``0``
otherwise (McCulloch and Pitts 1943). Rosenblatt (1957) showed how to learn
``w`` from examples: whenever an example is misclassified, add it to ``w``
(or subtract it). With labels ``y ∈ {−1, +1}`` and the bias folded into ``w``
by a constant input ``x_0 = 1``, the update on a mistake is ``w ← w + y x``.

The same rule written for labels in ``{0, 1}`` is ``w ← w + α (y − ŷ) x``
(:func:`perceptron_update_01`). A single unit cannot compute XOR; the feature
map ``Φ(x_u, x_v) = (x_u, x_v, x_u x_v)`` (:func:`product_features`) makes it
linearly separable.

If every (bias-folded) input has norm at most ``R`` and some unit vector
``w*`` has ``y (w* · x) ≥ γ/2`` on every example (the classes are separated
by a gap of width ``γ``), the rule makes at most ``4R²/γ²`` updates (Novikoff 1962): the chapter proves it
and checks it on data of known margin.
"""

from typing import NamedTuple

import numpy as np

from .activations import step
from .validation import (
    as_float_array,
    check_binary_labels,
    check_finite,
    check_ndim,
    check_positive,
    check_rows_match,
)


def threshold_unit(X, w, b):
    """Output of a threshold logic unit, ``step(X @ w + b)``: ``(m, n_x)`` → ``(m,)`` in {0, 1}."""
    return step(np.asarray(X, dtype=np.float64) @ np.asarray(w, dtype=np.float64) + b)


#: Weights and biases that make a threshold unit compute the Boolean gates on inputs in {0, 1}.
LOGIC_GATES = {
    "OR": (np.array([1.0, 1.0]), -0.5),
    "AND": (np.array([1.0, 1.0]), -1.5),
    "NOT": (np.array([-1.0]), 0.5),
}


def add_bias_column(X):
    """Fold the bias into the weights: ``(m, n_x)`` → ``(m, n_x + 1)`` with a first column of ones."""
    X = as_float_array(X, "X")
    return np.hstack([np.ones((X.shape[0], 1)), X])


def perceptron_update(w, x, y, lr=1.0):
    """One step of Rosenblatt's rule on the example ``(x, y)``, with ``y ∈ {−1, +1}``.

    ``w`` and ``x`` both have shape ``(n_x + 1,)`` (bias folded in). If
    ``y (w · x) ≤ 0`` the example is misclassified (a point *on* the boundary
    counts as a mistake) and the rule returns ``w + lr · y · x``; otherwise it
    returns ``w`` unchanged. Returns a new array.
    """
    w = np.asarray(w, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if y * (w @ x) <= 0:
        return w + lr * y * x
    return w.copy()


def perceptron_update_01(w, x, y, lr=1.0):
    """The same rule written for labels ``y ∈ {0, 1}``: ``w ← w + lr (y − ŷ) x`` with ``ŷ = step(w · x)``.

    ``y − ŷ`` is 0 on a correct prediction and ``±1`` on a mistake, with the sign
    of the ``±1`` label ``2y − 1``: the step is the one of :func:`perceptron_update`.
    The two forms differ only for a *positive* example exactly on the boundary
    (``w · x = 0``): ``step(0) = 1`` counts it as correct here, while the ``±1``
    form counts it as a mistake. Returns a new array.
    """
    w = np.asarray(w, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    y_hat = float(step(w @ x))
    return w + lr * (y - y_hat) * x


def product_features(X):
    """The feature map ``Φ(x_u, x_v) = (x_u, x_v, x_u x_v)``: ``(m, 2)`` → ``(m, 3)``.

    A hyperplane in the three new features is the curve
    ``w_1 x_u + w_2 x_v + w_3 x_u x_v + b = 0`` in the input plane, which is
    enough to separate XOR.
    """
    X = check_finite(check_ndim(as_float_array(X, "X"), "X", 2), "X")
    if X.shape[1] != 2:
        raise ValueError(f"product_features needs 2 input features, X has shape {X.shape}")
    return np.column_stack([X, X[:, 0] * X[:, 1]])


class EpochLog(NamedTuple):
    """What one pass over the training set did."""

    epoch: int
    updates: int
    train_error: float
    test_error: float | None


def labels_to_signs(y):
    """``{0, 1}`` labels to ``{−1, +1}``; labels already in ``{−1, +1}`` pass through."""
    y = np.asarray(y)
    if np.all(np.isin(y, (-1, 1))):
        return y.astype(np.float64)
    check_binary_labels(y, "y", (0, 1))
    return 2.0 * y - 1.0


def _check_fit_arguments(X, y, X_test, y_test):
    """Validate the arguments of :meth:`Perceptron.fit`: ``X : (m, n_x)`` finite with ``m ≥ 1``, ``y : (m,)``,
    and the optional test set likewise (both ``X_test`` and ``y_test``, or neither)."""
    X = check_finite(check_ndim(as_float_array(X, "X"), "X", 2), "X")
    y = check_ndim(np.asarray(y), "y", 1)
    check_rows_match(X, y)
    if X.shape[0] == 0:
        raise ValueError(f"X must hold at least one example, got shape {X.shape}")
    if (X_test is None) != (y_test is None):
        raise ValueError("pass both X_test and y_test, or neither")
    if X_test is not None:
        X_test = check_finite(check_ndim(as_float_array(X_test, "X_test"), "X_test", 2), "X_test")
        y_test = check_ndim(np.asarray(y_test), "y_test", 1)
        check_rows_match(X_test, y_test, "X_test", "y_test")
    return X, y, X_test, y_test


class Perceptron:
    """Rosenblatt's perceptron for two classes.

    Labels may be ``{0, 1}`` or ``{−1, +1}``; predictions use the same
    convention as the labels passed to :meth:`fit`. After fitting,
    ``w`` has shape ``(n_x + 1,)`` (``w[0]`` is the bias) and ``log`` lists one
    :class:`EpochLog` per epoch.
    """

    def __init__(self, lr=1.0, max_epochs=100, shuffle=True, seed=0):
        self.lr = check_positive(lr, "lr")
        if not (isinstance(max_epochs, (int, np.integer)) and max_epochs >= 1):
            raise ValueError(f"max_epochs must be an integer ≥ 1, got {max_epochs!r}")
        self.max_epochs = int(max_epochs)
        self.shuffle = shuffle
        self.seed = seed
        self.w = None
        self.log = []

    @property
    def total_updates(self):
        """Number of updates (mistakes) over all epochs."""
        return sum(entry.updates for entry in self.log)

    def decision_function(self, X):
        """``X @ w[1:] + w[0]``, shape ``(m,)``."""
        if self.w is None:
            raise RuntimeError("Perceptron.decision_function called before fit")
        X = check_ndim(as_float_array(X, "X"), "X", 2)
        if X.shape[1] != len(self.w) - 1:
            raise ValueError(f"X has {X.shape[1]} features (shape {X.shape}) but the perceptron was fitted on {len(self.w) - 1}")
        return X @ self.w[1:] + self.w[0]

    def predict(self, X):
        """Predicted labels, in the label convention seen by :meth:`fit`."""
        positive = self.decision_function(X) >= 0
        return np.where(positive, 1, self._negative_label)

    def error_rate(self, X, y):
        """Fraction of misclassified examples."""
        return float(np.mean(self.predict(X) != np.asarray(y)))

    def fit(self, X, y, X_test=None, y_test=None, verbose=False):
        """Run epochs of the perceptron rule until an epoch makes no update or ``max_epochs`` is reached."""
        X, y, X_test, y_test = _check_fit_arguments(X, y, X_test, y_test)
        signs = labels_to_signs(y)
        self._negative_label = 0 if np.any(np.asarray(y) == 0) else -1
        X1 = add_bias_column(X)
        rng = np.random.default_rng(self.seed)
        self.w = np.zeros(X1.shape[1])
        self.log = []
        for epoch in range(1, self.max_epochs + 1):
            order = rng.permutation(len(X1)) if self.shuffle else np.arange(len(X1))
            updates = 0
            for i in order:
                new_w = perceptron_update(self.w, X1[i], signs[i], self.lr)
                # x_0 = 1 and lr > 0, so an update always changes w
                updates += not np.array_equal(new_w, self.w)
                self.w = new_w
            test_error = None if X_test is None else self.error_rate(X_test, y_test)
            self.log.append(EpochLog(epoch, int(updates), self.error_rate(X, y), test_error))
            if verbose:
                print(format_epoch(self.log[-1]))
            if updates == 0:
                break
        return self


def format_epoch(entry):
    """One line of the per-epoch table: updates, train error, test error."""
    test = "" if entry.test_error is None else f", test error {100 * entry.test_error:6.2f}%"
    return f"epoch {entry.epoch:3d}: {entry.updates:5d} updates, train error {100 * entry.train_error:6.2f}%{test}"


def radius(X):
    """``R = max_i ‖x⁽ⁱ⁾‖``, the radius of the smallest origin-centred ball holding the data."""
    return float(np.max(np.linalg.norm(as_float_array(X, "X"), axis=1)))


def margin(X, y, w):
    """The gap ``γ`` that the separator ``w`` leaves between the classes: ``γ = 2 min_i y⁽ⁱ⁾ (x⁽ⁱ⁾ · w) / ‖w‖``.

    This follows the convergence theorem's convention: with ``‖w*‖ = 1``, every
    example satisfies ``y (x · w*) ≥ γ/2``, so ``γ/2`` is the distance from the
    closest example to the hyperplane and ``γ`` the width of the empty band.
    ``X`` is bias-folded (see :func:`add_bias_column`) and ``w`` includes the bias.
    Positive exactly when ``w`` separates the data.
    """
    w = as_float_array(w, "w")
    signs = labels_to_signs(y)
    return float(2.0 * np.min(signs * (as_float_array(X, "X") @ w)) / np.linalg.norm(w))


def convergence_bound(X, y, w):
    """The bound ``4R²/γ²`` on the number of perceptron updates on bias-folded data ``X``.

    ``R`` is :func:`radius` of ``X`` and ``γ`` the :func:`margin` of any separator
    ``w``; the better the separator, the tighter the bound.
    """
    gamma = margin(X, y, w)
    if gamma <= 0:
        raise ValueError(f"w does not separate the data (margin {gamma:.3g} ≤ 0); the bound needs a separator")
    return 4.0 * radius(X) ** 2 / gamma**2
