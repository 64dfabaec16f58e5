"""Normalization: scaling the inputs once, and normalizing every layer's pre-activations in every mini-batch.

Two ideas with one formula, ``(x − shift) / scale`` per feature.

**Input scaling.** The statistics are computed once, on the training set, and
then applied unchanged to every other example (validation, test, production):

* :class:`Standardizer`, ``x ↦ (x − μ) / σ``, mean 0 and standard deviation 1
  per feature on the training set;
* :class:`MinMaxScaler`, ``x ↦ (x − min) / (max − min)``, each feature in
  ``[0, 1]`` on the training set.

Both are fitted with ``fit(X_train)`` and then ``transform`` any ``X : (m, n_x)``;
``inverse_transform`` undoes the map. A feature that is constant on the
training set is only shifted (its scale is taken as 1), so it becomes 0, not NaN.

**Batch normalization** (Ioffe and Szegedy, 2015) standardizes the
pre-activations ``z : (m, n)`` of a layer with the mean and variance of the
current mini-batch, then lets the network choose their scale and offset with
two learned vectors ``γ, β : (n,)``:

* :func:`batchnorm_forward` and :func:`batchnorm_backward` are the pure pair of
  training mode, as CS231n writes them: ``(out, cache)`` forward, and
  ``(dx, dgamma, dbeta)`` backward, derived step by step through the
  computation graph; :func:`batchnorm_backward_simplified` is the same
  gradient in closed form;
* :func:`batchnorm_inference` is inference mode, with the running statistics
  that :func:`update_running_statistics` keeps during training (as PyTorch does);
* :class:`BatchNorm` is the layer: it keeps the parameters, the running
  statistics and the cache, switches mode with ``train()``/``eval()``, and
  calls the pure functions for the arithmetic.
"""

import numpy as np

from .layers import Layer
from .validation import as_float_array, check_finite, check_positive

# ---------------------------------------------------------------------------
# Input scaling: statistics from the training set, reused everywhere else
# ---------------------------------------------------------------------------


class FeatureScaler:
    """Base class: the per-feature affine map ``x ↦ (x − shift) / scale``, fitted on a training set.

    ``shift`` and ``scale`` have shape ``(n_x,)`` once :meth:`fit` has run
    (``None`` before). Subclasses say which statistics they are, in :meth:`statistics`.
    """

    def __init__(self):
        self.shift = None
        self.scale = None

    def __repr__(self):
        fitted = "" if self.shift is None else f"n_x={self.shift.size}"
        return f"{type(self).__name__}({fitted})"

    def statistics(self, X):
        """``(shift, scale)`` of the training set ``X : (m, n_x)``, both ``(n_x,)``, ``scale > 0``."""
        raise NotImplementedError

    def fit(self, X):
        """Compute the statistics on the training set ``X : (m, n_x)`` (finite, ``m ≥ 1``); returns ``self``."""
        X = _check_rows(X, "X", type(self).__name__ + ".fit")
        if X.shape[0] == 0:
            raise ValueError(f"{type(self).__name__}.fit needs at least one example, got X of shape {X.shape}")
        self.shift, self.scale = self.statistics(X)
        return self

    def transform(self, X):
        """``(X − shift) / scale`` for ``X : (m, n_x)``, with the training set's statistics; returns a new array."""
        X = self._check_fitted_input(X, "transform")
        return (X - self.shift) / self.scale

    def inverse_transform(self, X_scaled):
        """Undo :meth:`transform`: ``X_scaled · scale + shift``, shape ``(m, n_x)``."""
        X_scaled = self._check_fitted_input(X_scaled, "inverse_transform")
        return X_scaled * self.scale + self.shift

    def fit_transform(self, X):
        """``fit(X)`` then ``transform(X)``: for the training set only."""
        return self.fit(X).transform(X)

    def _check_fitted_input(self, X, method):
        where = f"{type(self).__name__}.{method}"
        if self.shift is None:
            raise RuntimeError(f"{where} called before fit: fit the scaler on the training set first")
        X = _check_rows(X, "X", where)
        if X.shape[1] != self.shift.size:
            raise ValueError(f"{where}: X has {X.shape[1]} features (shape {X.shape}) but the scaler was fitted "
                             f"on {self.shift.size}")
        return X


class Standardizer(FeatureScaler):
    """Standardization ``x ↦ (x − μ) / σ``, ``μ, σ : (n_x,)`` the training set's mean and standard deviation.

    ``σ`` is the population standard deviation, ``√(Σ_i (x⁽ⁱ⁾ − μ)² / m)``, as
    ``numpy.std`` and scikit-learn's ``StandardScaler`` compute it. A feature
    that is constant on the training set (``σ = 0``: a pixel that is blank in
    every training image) keeps ``σ = 1``: it is centred, and becomes 0.
    """

    @property
    def mean(self):
        """``μ : (n_x,)``, the per-feature mean of the training set."""
        return self.shift

    @property
    def std(self):
        """``σ : (n_x,)``, the per-feature standard deviation of the training set (1 for a constant feature)."""
        return self.scale

    def statistics(self, X):
        constant = np.ptp(X, axis=0) == 0
        mean = np.where(constant, X[0], X.mean(axis=0))  # a constant feature's mean is exact
        std = np.where(constant, 1.0, X.std(axis=0))
        return mean, std


class MinMaxScaler(FeatureScaler):
    """Min–max scaling ``x ↦ (x − min) / (max − min)``: every feature in ``[0, 1]`` on the training set.

    Other data can fall outside ``[0, 1]``: they are scaled with the training
    set's ``min`` and ``max``, never with their own. A feature that is constant
    on the training set keeps a range of 1, and becomes 0.
    """

    @property
    def minimum(self):
        """``(n_x,)``, the per-feature minimum of the training set."""
        return self.shift

    @property
    def range(self):
        """``max − min : (n_x,)`` on the training set (1 for a constant feature)."""
        return self.scale

    def statistics(self, X):
        minimum, spread = X.min(axis=0), np.ptp(X, axis=0)
        return minimum, np.where(spread == 0, 1.0, spread)


def _check_rows(X, name, where):
    """``X`` as a finite float64 array of shape ``(m, n_x)``, or a ``ValueError`` that says where."""
    X = as_float_array(X, name)
    if X.ndim != 2:
        raise ValueError(f"{where}: {name} must have shape (m, n_x), one example per row, got shape {X.shape}")
    return check_finite(X, f"{where}: {name}")


# ---------------------------------------------------------------------------
# Batch normalization: the pure functions
# ---------------------------------------------------------------------------


def batchnorm_forward(x, gamma, beta, eps=1e-5, check=True):
    """Batch normalization in training mode, on a mini-batch ``x : (m, n)``; returns ``(out, cache)``.

    Per feature ``j``, with the statistics of *this* mini-batch::

        μ_j  = 1/m Σ_i x_ij                    mean,               (n,)
        σ²_j = 1/m Σ_i (x_ij − μ_j)²           biased variance,    (n,)
        x̂_ij = (x_ij − μ_j) / √(σ²_j + ε)      ε inside the root,  (m, n)
        out_ij = γ_j x̂_ij + β_j                                    (m, n)

    ``gamma, beta : (n,)``; ``eps > 0`` keeps the division finite when a feature
    is constant in the batch. The cache is a dict of plain arrays, what
    :func:`batchnorm_backward` needs: ``x_centered = x − μ : (m, n)``,
    ``std = √(σ² + ε) : (n,)``, ``x_hat : (m, n)``, ``gamma : (n,)``, and the
    batch statistics ``mean``, ``var : (n,)`` for the running averages.

    ``check=False`` skips the checks of the arguments (shapes, ``m ≥ 2``, no NaN):
    the :class:`BatchNorm` layer checks the shape of its input itself, and lets a
    diverging training run reach :func:`nnbook.train.fit`, which reports it.
    """
    if check:
        x, gamma, beta = _check_batchnorm_arguments(x, gamma, beta, eps, "batchnorm_forward")
        _check_more_than_one(x.shape[0], x.shape, "batchnorm_forward")
    mean = x.mean(axis=0)
    x_centered = x - mean
    var = np.mean(x_centered**2, axis=0)
    std = np.sqrt(var + eps)
    x_hat = x_centered / std
    out = gamma * x_hat + beta
    cache = {"x_centered": x_centered, "std": std, "x_hat": x_hat, "gamma": gamma, "mean": mean, "var": var}
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass of :func:`batchnorm_forward`, step by step through its computation graph.

    ``dout : (m, n)`` is ``∂J/∂out``; returns ``dx : (m, n)``, ``dgamma, dbeta : (n,)``.
    The forward pass, as a graph of small nodes (per feature, over the ``m`` rows)::

        μ = mean(x) → c = x − μ → v = mean(c²) → s = √(v + ε) → x̂ = c / s → out = γ x̂ + β

    The backward pass visits the nodes in reverse and adds, at every node, the
    gradient that reaches it along each path. ``c`` feeds two nodes (``v`` and
    ``x̂``) and ``x`` feeds two (``c`` and ``μ``): their gradients are sums of two terms.
    """
    x_centered, std, x_hat, gamma = cache["x_centered"], cache["std"], cache["x_hat"], cache["gamma"]
    m = dout.shape[0]
    # out = γ x̂ + β
    dbeta = dout.sum(axis=0)  # (n,)
    dgamma = np.sum(dout * x_hat, axis=0)  # (n,)
    dx_hat = dout * gamma  # (m, n)
    # x̂ = c / s: c receives dx̂ / s, and s (shared by the m rows) receives Σ_i dx̂ · (−c / s²)
    dc = dx_hat / std  # (m, n), first path into c
    ds = -np.sum(dx_hat * x_centered, axis=0) / std**2  # (n,)
    # s = √(v + ε)
    dv = ds / (2.0 * std)  # (n,)
    # v = 1/m Σ_i c²: second path into c
    dc = dc + 2.0 * x_centered * dv / m  # (m, n)
    # c = x − μ: x receives dc directly, μ receives −Σ_i dc
    dmu = -dc.sum(axis=0)  # (n,)
    # μ = 1/m Σ_i x: second path into x
    dx = dc + dmu / m  # (m, n)
    return dx, dgamma, dbeta


def batchnorm_backward_simplified(dout, cache):
    """The gradient of :func:`batchnorm_backward` in closed form; returns ``(dx, dgamma, dbeta)``.

    Summing the paths of the graph by hand, with ``s = √(σ² + ε)`` and all sums over the ``m`` rows::

        dβ = Σ dout,   dγ = Σ dout · x̂,
        dx = γ / (m s) · (m · dout − Σ dout − x̂ · Σ (dout · x̂))
           = γ / (m s) · (m · dout − dβ − x̂ · dγ)

    Three terms: the direct path, minus the mean's share, minus the variance's.
    """
    x_hat, std, gamma = cache["x_hat"], cache["std"], cache["gamma"]
    m = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx = gamma / (m * std) * (m * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta


def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5, check=True):
    """Batch normalization in inference mode: ``out = γ (x − μ_run) / √(σ²_run + ε) + β``.

    ``x : (m, n)``, any ``m ≥ 1``; ``gamma, beta, running_mean, running_var : (n,)``.
    The statistics are fixed numbers, estimated during training
    (:func:`update_running_statistics`), so each example's output depends on
    that example alone, and the map is the same affine function at every call.
    ``check=False`` skips the checks of the arguments, as in :func:`batchnorm_forward`.
    """
    if check:
        x, gamma, beta = _check_batchnorm_arguments(x, gamma, beta, eps, "batchnorm_inference")
        for name, value in (("running_mean", running_mean), ("running_var", running_var)):
            if np.shape(value) != gamma.shape:
                raise ValueError(f"batchnorm_inference: {name} must have shape {gamma.shape}, like gamma, "
                                 f"got {np.shape(value)}")
            check_finite(value, f"batchnorm_inference: {name}")
        if np.any(np.asarray(running_var) < 0):
            raise ValueError("batchnorm_inference: running_var must be >= 0 (it is a variance)")
    return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta


def update_running_statistics(running_mean, running_var, mean, var, m, momentum=0.1):
    """The running averages of the batch statistics, updated as PyTorch does; returns ``(running_mean, running_var)``.

    ``running ← (1 − momentum) · running + momentum · batch`` (an exponential
    moving average; PyTorch's ``momentum = 0.1`` is ``1 − β`` with ``β = 0.9``),
    where the batch's variance is the *unbiased* one, ``σ²_B · m / (m − 1)``:
    the forward pass normalizes with the biased ``σ²_B``, but the running
    variance estimates the variance of the whole population, for which dividing
    by ``m − 1`` removes the bias of a sample of ``m``. PyTorch's documentation of
    ``torch.nn.BatchNorm1d`` says so ("the value stored in the moving average of
    the variance is calculated via the unbiased estimator, equivalent to
    ``torch.var(input, unbiased=True)``"), and ``tests/test_normalization.py``
    checks it against ``torch.nn.functional.batch_norm``.

    All arrays ``(n,)``; ``m ≥ 2`` is the number of values each statistic averaged.
    """
    unbiased_var = var * (m / (m - 1))
    return (1.0 - momentum) * running_mean + momentum * mean, (1.0 - momentum) * running_var + momentum * unbiased_var


def _check_batchnorm_arguments(x, gamma, beta, eps, where):
    x = x if isinstance(x, np.ndarray) and x.dtype.kind == "f" else as_float_array(x, f"{where}: x")
    if x.ndim != 2:
        raise ValueError(f"{where}: x must have shape (m, n), one example per row, got shape {x.shape}")
    check_finite(x, f"{where}: x")
    n = x.shape[1]
    arrays = []
    for name, value in (("gamma", gamma), ("beta", beta)):
        value = np.asarray(value)
        if value.shape != (n,):
            raise ValueError(f"{where}: {name} must have shape ({n},), one value per feature of x {x.shape}, "
                             f"got {value.shape}")
        arrays.append(check_finite(value, f"{where}: {name}"))
    check_positive(eps, "eps")
    return x, arrays[0], arrays[1]


def _check_more_than_one(count, shape, where):
    """Training mode needs two values per feature at least: the variance of one value is 0, and ``x̂`` would be 0."""
    if count < 2:
        raise ValueError(f"{where}: expected more than one value per feature in training mode, got input of shape "
                         f"{shape}; the variance of one example is 0, so use batches of 2 or more (or eval mode)")


# ---------------------------------------------------------------------------
# Batch normalization: the layer
# ---------------------------------------------------------------------------


class BatchNorm(Layer):
    """Batch normalization of ``n`` features, for inputs ``x : (m, n)``: place it between ``Linear`` and its activation.

    * ``params``: ``gamma : (n,)``, ones, and ``beta : (n,)``, zeros, with their ``grads``;
    * ``buffers``: ``running_mean : (n,)``, zeros, and ``running_var : (n,)``, ones, not trained;
    * training mode (``train()``, the default): :func:`batchnorm_forward` with the
      statistics of the mini-batch (``m ≥ 2``), then :func:`update_running_statistics`
      with ``momentum``; ``backward`` is :func:`batchnorm_backward_simplified` (equal to
      the step-by-step :func:`batchnorm_backward`, in fewer operations);
    * inference mode (``eval()``): :func:`batchnorm_inference` with the running
      statistics; ``backward`` is then the gradient of that affine map.

    The arithmetic is in the pure functions; the layer checks the shape of its
    input, keeps the cache and fills ``grads``. It reads its input as rows
    ``(m, n)`` through :meth:`to_rows`: a spatial version, for images
    ``(m, C, H, W)`` with statistics per channel over ``m``, ``H`` and ``W``, only
    has to turn them into rows ``(m·H·W, C)`` there, and back in :meth:`from_rows`.
    """

    def __init__(self, n, momentum=0.1, eps=1e-5, dtype=np.float64):
        super().__init__()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"BatchNorm needs a positive integer number of features, got {n!r}")
        if not (np.isscalar(momentum) and 0.0 <= momentum <= 1.0):
            raise ValueError(f"momentum must be a number in [0, 1], got {momentum!r}")
        self.n, self.momentum, self.eps = int(n), float(momentum), float(check_positive(eps, "eps"))
        self.params = {"gamma": np.ones(self.n, dtype=dtype), "beta": np.zeros(self.n, dtype=dtype)}
        self.buffers = {"running_mean": np.zeros(self.n, dtype=dtype), "running_var": np.ones(self.n, dtype=dtype)}
        self.zero_grad()

    def __repr__(self):
        return f"{type(self).__name__}({self.n})"

    def to_rows(self, x):
        """The input as rows ``(m, n)``, one per value of each feature; here the input itself, after a shape check."""
        if x.ndim != 2 or x.shape[1] != self.n:
            raise ValueError(f"{self!r} expects input of shape (m, {self.n}), got {x.shape}")
        return x

    def from_rows(self, rows, shape):
        """The inverse of :meth:`to_rows`: rows ``(m, n)`` back to the input's ``shape``."""
        return rows

    def forward(self, x):
        rows = self.to_rows(x)
        gamma, beta = self.params["gamma"], self.params["beta"]
        if self.training:
            _check_more_than_one(rows.shape[0], x.shape, repr(self))
            out, cache = batchnorm_forward(rows, gamma, beta, self.eps, check=False)
            running = update_running_statistics(self.buffers["running_mean"], self.buffers["running_var"],
                                                cache["mean"], cache["var"], rows.shape[0], self.momentum)
            self.buffers["running_mean"][...], self.buffers["running_var"][...] = running
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
            out = batchnorm_inference(rows, gamma, beta, mean, var, self.eps, check=False)
            cache = {"x": rows, "mean": mean.copy(), "std": np.sqrt(var + self.eps), "gamma": gamma}
        self.cache = (x.shape, self.training, cache)
        return self.from_rows(out, x.shape)

    def backward(self, dout):
        shape, training, cache = self._cached()
        self._check_dout(dout, shape)
        drows = self.to_rows(dout)
        if not training:  # out = γ (x − μ_run) / s_run + β: an affine map of x, the statistics are constants
            x_hat = (cache["x"] - cache["mean"]) / cache["std"]
            dgamma, dbeta = np.sum(drows * x_hat, axis=0), drows.sum(axis=0)
            dx = drows * (cache["gamma"] / cache["std"])
        else:
            dx, dgamma, dbeta = batchnorm_backward_simplified(drows, cache)
        self.grads["gamma"], self.grads["beta"] = dgamma, dbeta
        return self.from_rows(dx, shape)


class BatchNorm2D(BatchNorm):
    """Spatial batch normalization of ``C`` channels, for images ``x : (m, C, H, W)``: place it after a convolution.

    A channel is one feature seen at every pixel, so it gets one ``γ_c``, one
    ``β_c`` and one pair of statistics, computed over the ``m · H · W`` values of
    the channel in the mini-batch (as ``torch.nn.BatchNorm2d``)::

        μ_c  = 1/(mHW) Σ_{n,i,j} x[n, c, i, j],     σ²_c = 1/(mHW) Σ_{n,i,j} (x[n, c, i, j] − μ_c)²
        out[n, c, i, j] = γ_c (x[n, c, i, j] − μ_c) / √(σ²_c + ε) + β_c

    That is :class:`BatchNorm` on the rows ``(m·H·W, C)``, one row per pixel of
    each image: :meth:`to_rows` moves the channels last and flattens the rest,
    :meth:`from_rows` undoes it; the pure pair, the running statistics (with
    ``m·H·W`` values per statistic in the unbiased variance) and the eval mode are
    those of :class:`BatchNorm`. An input in channels-last memory, as the
    convolution layers of :mod:`nnbook.conv` produce, becomes rows without a copy.
    """

    def to_rows(self, x):
        """Images ``(m, C, H, W)`` as rows ``(m·H·W, C)``: ``x.transpose(0, 2, 3, 1).reshape(-1, C)``."""
        if x.ndim != 4 or x.shape[1] != self.n:
            raise ValueError(f"{self!r} expects images of shape (m, {self.n}, H, W), got {x.shape}")
        return x.transpose(0, 2, 3, 1).reshape(-1, self.n)

    def from_rows(self, rows, shape):
        """Rows ``(m·H·W, C)`` back to images of ``shape = (m, C, H, W)`` (a view, channels-last in memory)."""
        m, C, H, W = shape
        return rows.reshape(m, H, W, C).transpose(0, 3, 1, 2)
