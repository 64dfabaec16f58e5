"""Loss functions, each returning the cost and its gradient.

Every function here returns a pair ``(J, dinput)``: the cost ``J``, the *mean*
of the per-example loss over the ``m`` examples of the batch, and the gradient
of ``J`` with respect to the function's first argument, with that argument's
shape. Because ``J`` is a mean, every gradient carries a factor ``1/m``.

:class:`SoftmaxCrossEntropy` wraps :func:`softmax_cross_entropy` as an object
with ``forward`` and ``backward``, for the training loop of :mod:`nnbook.train`.
"""

import numpy as np

from .activations import sigmoid, softplus
from .validation import as_float_array, check_finite, check_ndim, check_rows_match, check_same_shape

#: Probabilities are clipped to ``[EPS, 1 - EPS]`` before taking a log.
EPS = 1e-12


def _prepare(y_hat, y, name_y_hat):
    y_hat = check_finite(as_float_array(y_hat, name_y_hat), name_y_hat)
    y = check_finite(as_float_array(y, "y"), "y")
    check_same_shape(y_hat, y, name_y_hat, "y")
    if y_hat.ndim == 0 or y_hat.shape[0] == 0:
        raise ValueError(f"{name_y_hat} must hold at least one example along its first axis, got shape {y_hat.shape}")
    return y_hat, y


def mse(y_hat, y):
    """Mean squared error with a half, ``J = 1/(2m) Σ_i ‖ŷ⁽ⁱ⁾ − y⁽ⁱ⁾‖²``.

    Parameters
    ----------
    y_hat, y : arrays of the same shape, ``(m,)`` or ``(m, n_y)``.

    Returns
    -------
    J : float
    dy_hat : array like ``y_hat``, ``(ŷ − y) / m``. The ½ cancels the 2 of the square.
    """
    y_hat, y = _prepare(y_hat, y, "y_hat")
    m = y_hat.shape[0]
    diff = y_hat - y
    return 0.5 * np.sum(diff**2) / m, diff / m


def binary_cross_entropy(a, y):
    """Binary cross-entropy from probabilities, ``J = −1/m Σ [y log a + (1 − y) log(1 − a)]``.

    Parameters
    ----------
    a : ``(m,)`` or ``(m, 1)``, predicted probabilities ``P(y = 1 | x)`` in ``[0, 1]``.
    y : same shape, labels in ``{0, 1}`` (or soft labels in ``[0, 1]``).

    Returns
    -------
    J : float
    da : like ``a``, ``(−y/a + (1 − y)/(1 − a)) / m``.

    ``a`` is clipped to ``[EPS, 1 − EPS]`` so that a confident wrong answer
    gives a large finite loss instead of ``inf``. When you have the logits
    ``z``, prefer :func:`binary_cross_entropy_with_logits`: it is exact.
    """
    a, y = _prepare(a, y, "a")
    if np.any((a < 0) | (a > 1)):
        raise ValueError(
            f"a must hold probabilities in [0, 1], got values in [{a.min():.3g}, {a.max():.3g}]; "
            "pass logits to binary_cross_entropy_with_logits instead"
        )
    m = a.shape[0]
    a = np.clip(a, EPS, 1.0 - EPS)
    J = -np.sum(y * np.log(a) + (1.0 - y) * np.log(1.0 - a)) / m
    da = (-y / a + (1.0 - y) / (1.0 - a)) / m
    return J, da


def binary_cross_entropy_with_logits(z, y):
    """Binary cross-entropy of ``a = σ(z)`` computed from the logits ``z``.

    Since ``−log σ(z) = softplus(−z)`` and ``−log(1 − σ(z)) = softplus(z)``,
    the loss is ``y softplus(−z) + (1 − y) softplus(z)``, finite for any ``z``.
    It equals ``softplus(z) − y z``, but that form cancels for a confident right
    answer (``z = 30, y = 1``: ``30.000000000000092 − 30``) and keeps only a few
    correct digits of the tiny loss; a sum of non-negative terms loses none.
    The gradient is written the same way, ``σ(z) − y = (1 − y) σ(z) − y σ(−z)``,
    so that ``σ(−z)`` is never computed as ``1 − σ(z)``.

    Parameters
    ----------
    z : ``(m,)`` or ``(m, 1)``, logits.
    y : same shape, labels in ``[0, 1]``.

    Returns
    -------
    J : float
    dz : like ``z``, ``(σ(z) − y) / m``: the famous ``dz = a − y``, averaged.
    """
    z, y = _prepare(z, y, "z")
    m = z.shape[0]
    J = np.sum(y * softplus(-z) + (1.0 - y) * softplus(z)) / m
    return J, ((1.0 - y) * sigmoid(z) - y * sigmoid(-z)) / m


def one_hot(y, n_classes=None):
    """Integer labels ``(m,)`` in ``{0, …, K−1}`` to a one-hot matrix ``(m, K)``."""
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iub":
        raise ValueError(f"labels must be a 1-D integer array, got dtype {y.dtype} and shape {y.shape}")
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes - 1}], found values in [{y.min()}, {y.max()}]")
    Y = np.zeros((y.shape[0], n_classes))
    Y[np.arange(y.shape[0]), y] = 1.0
    return Y


def softmax_cross_entropy(Z, y):
    """Softmax followed by cross-entropy, ``J = −1/m Σ_i log softmax(z⁽ⁱ⁾)_{y⁽ⁱ⁾}``.

    Parameters
    ----------
    Z : ``(m, K)``, logits (scores) of the ``K`` classes for ``m`` examples.
    y : ``(m,)`` integer labels in ``{0, …, K−1}``, or ``(m, K)`` one-hot (or probability) rows.

    Returns
    -------
    J : float
    dZ : ``(m, K)``, ``(softmax(Z) − Y) / m`` with ``Y`` the one-hot labels.

    The log-softmax is computed with the log-sum-exp shift, so huge logits are
    fine. Each row is shifted by its maximum ``c = z_top``, and the other classes
    are summed apart, ``S = Σ_{k≠top} e^{z_k − c} ≤ K − 1``, so that

    ``log softmax(z)_k = (z_k − c) − log1p(S)``,  ``softmax(z)_k = e^{z_k − c} / (1 + S)``.

    When the labelled class leads, its loss is ``log1p(S)`` and its gradient
    ``−Σ_{k≠y} softmax(z)_k``: both keep full relative accuracy however small
    they are, where ``log(1 + S)`` and ``softmax(z)_y − 1`` round most of ``S`` away.
    The formula itself is :func:`softmax_cross_entropy_onehot`; this function
    checks its inputs and turns integer labels into one-hot rows.
    """
    Z = check_finite(check_ndim(as_float_array(Z, "Z"), "Z", 2), "Z")
    y = np.asarray(y)
    check_rows_match(Z, y, "Z", "y")
    Y = one_hot(y, Z.shape[1]) if y.ndim == 1 else check_finite(as_float_array(y, "y"), "y")
    check_same_shape(Z, Y, "Z", "one-hot y")
    return softmax_cross_entropy_onehot(Z, Y)


def softmax_cross_entropy_onehot(Z, Y):
    """The formula of :func:`softmax_cross_entropy`, on inputs already checked, returning ``(J, dZ)``.

    ``Z : (m, K)`` float64 logits, finite; ``Y : (m, K)`` one-hot (or probability)
    rows. No input is checked here: this is the part that runs once per
    mini-batch inside a training loop, whose data were checked where they
    entered (:func:`nnbook.train.fit`). The log-softmax ``log_P`` and the
    softmax ``P`` come from the same exponentials, computed once.
    """
    m, rows = Z.shape[0], np.arange(Z.shape[0])
    top = np.argmax(Z, axis=1)  # the leading class of each row, (m,)
    shifted = Z - Z[rows, top][:, None]  # z − c ≤ 0, exactly 0 at the top class
    E = np.exp(shifted)
    E[rows, top] = 0.0  # keep only the other classes
    S = E.sum(axis=1, keepdims=True)  # (m, 1)
    log_P = shifted - np.log1p(S)  # log softmax(Z)
    P = E / (1.0 + S)  # softmax(Z), except 0 at the top class
    J = -np.sum(Y * log_P) / m
    dZ = P - Y
    # at the top class softmax − Y = (1 − Y) − Σ_{k≠top} softmax_k: exact for a confident right answer
    dZ[rows, top] = (1.0 - Y[rows, top]) - P.sum(axis=1)
    return J, dZ / m


class SoftmaxCrossEntropy:
    """The loss of a classifier as an object for training loops: softmax then cross-entropy,
    ``J = −1/m Σ log softmax(Z)[i, y_i]``.

    ``forward(Z, y)`` with ``Z : (m, K)`` and ``y : (m,)`` integer labels (or
    ``(m, K)`` one-hot rows) returns the scalar cost; ``backward()`` returns
    ``dZ = (softmax(Z) − Y)/m : (m, K)`` in the dtype of ``Z``, computed in the
    same pass as ``J`` (by :func:`softmax_cross_entropy_onehot`) and cached.

    With ``check=True`` (the default) ``forward`` checks its inputs as
    :func:`softmax_cross_entropy` does. A training loop that checked its data
    once where they entered uses ``check=False``: no check of dtype, rank,
    NaNs or label range per mini-batch (:func:`nnbook.train.fit` does so).

    It is a loss, not a layer: it has no parameters and its ``forward`` takes the labels.
    """

    def __init__(self, check=True):
        self.check = check
        self.cache = None

    def __repr__(self):
        return "SoftmaxCrossEntropy()" if self.check else "SoftmaxCrossEntropy(check=False)"

    def forward(self, Z, y):
        if self.check:
            J, dZ = softmax_cross_entropy(Z, y)
        else:
            Y = np.asarray(y)
            if Y.ndim == 1:  # integer labels to one-hot rows
                Y = np.zeros(Z.shape)
                Y[np.arange(Z.shape[0]), y] = 1.0
            J, dZ = softmax_cross_entropy_onehot(np.asarray(Z, dtype=np.float64), np.asarray(Y, dtype=np.float64))
        self.cache = dZ.astype(np.asarray(Z).dtype, copy=False)
        return J

    __call__ = forward

    def backward(self, dout=1.0):
        if self.cache is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward: there is no cache to use")
        return self.cache * dout
