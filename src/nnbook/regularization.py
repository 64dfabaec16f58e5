"""Regularization: weight penalties (L2, L1) and dropout.

A regularizer trades a little fit on the training set for a model that
generalizes better. Two kinds live here:

* **penalties** added to the cost, on the weights ``W`` of every layer (not the
  biases): L2, ``λ/(2m) Σ_l ‖W^[l]‖²_F``, and L1, ``λ/m Σ_l Σ |W^[l]_jk|``, with
  ``m`` the number of training examples, so that the penalty weighs the same
  against the mean cost whatever the size of the mini-batch;
* **dropout**, which zeroes each unit of a layer's input with probability ``p``
  during training and scales the survivors by ``1/(1 − p)`` (*inverted* dropout),
  so that nothing changes at inference.

``p`` is the probability of **dropping** a unit, as in ``torch.nn.Dropout`` and
Keras; some texts (Srivastava et al., 2014) write the *keep* probability ``1 − p``.
"""

import numpy as np

from .initialization import as_generator
from .layers import Layer
from .validation import check_finite

# ---------------------------------------------------------------------------
# Penalties on the weights
# ---------------------------------------------------------------------------


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_penalty_arguments(lam, m):
    if not (_is_number(lam) and np.isfinite(lam) and lam >= 0):
        raise ValueError(f"the regularization strength λ must be a finite number ≥ 0, got {lam!r}")
    if not (isinstance(m, (int, np.integer)) and m > 0):
        raise ValueError(f"m, the number of training examples, must be an integer > 0, got {m!r}")


def l2_penalty(weights, lam, m):
    """``λ/(2m) Σ ‖W‖²_F`` over the arrays of ``weights`` (an iterable of weight arrays)."""
    _check_penalty_arguments(lam, m)
    return lam / (2 * m) * sum(float(np.sum(W**2)) for W in weights)


def l2_penalty_gradient(W, lam, m):
    """``∂/∂W [λ/(2m) ‖W‖²_F] = (λ/m) W``, shaped like ``W``."""
    return (lam / m) * W


def l1_penalty(weights, lam, m):
    """``λ/m Σ |W_jk|`` over the arrays of ``weights`` (an iterable of weight arrays)."""
    _check_penalty_arguments(lam, m)
    return lam / m * sum(float(np.sum(np.abs(W))) for W in weights)


def l1_penalty_gradient(W, lam, m):
    """A subgradient of ``λ/m Σ |W_jk|``: ``(λ/m) sign(W)``, with ``0`` where ``W_jk = 0``."""
    return (lam / m) * np.sign(W)


def weight_decay_step(W, dW, lr, lam, m):
    """One gradient step on ``J + λ/(2m) ‖W‖²_F``, written as weight decay.

    ``W − α (dW + (λ/m) W) = W (1 − αλ/m) − α dW``: the weights shrink by the
    factor ``1 − αλ/m`` before the usual step on the data cost's gradient ``dW``.
    Returns the new weights; ``W`` is not modified.
    """
    return W * (1 - lr * lam / m) - lr * dW


def is_penalized(name):
    """Penalties apply to weights (parameters named ``W``), never to biases or normalization's ``γ``, ``β``."""
    return name.rsplit(".", 1)[-1] == "W"


class Penalty:
    """A penalty on every weight of a model, added to the cost by :func:`nnbook.train.fit`.

    ``cost(model, m)`` is the penalty's value, ``add_gradients(model, m)`` adds
    its gradient to each weight's gradient in ``model``'s ``grads`` (after the
    backward pass of the data cost). ``m`` is the number of training examples.
    """

    def __init__(self, lam):
        _check_penalty_arguments(lam, 1)
        self.lam = float(lam)

    def __repr__(self):
        return f"{type(self).__name__}(lam={self.lam:g})"

    @staticmethod
    def weights(model):
        """The weights of ``model`` the penalty applies to, with their gradients: ``(name, W, dW)`` triples."""
        return [(name, W, dW) for name, W, dW in model.params_and_grads() if is_penalized(name)]

    def cost(self, model, m):
        return self.value([W for _, W, _ in self.weights(model)], self.lam, m)

    def add_gradients(self, model, m):
        for _, W, dW in self.weights(model):
            dW += self.gradient(W, self.lam, m)


class L2(Penalty):
    """The L2 penalty ``λ/(2m) Σ_l ‖W^[l]‖²_F`` ("weight decay" under gradient descent)."""

    value = staticmethod(l2_penalty)
    gradient = staticmethod(l2_penalty_gradient)


class L1(Penalty):
    """The L1 penalty ``λ/m Σ_l Σ |W^[l]_jk|``, which drives weights to exactly zero."""

    value = staticmethod(l1_penalty)
    gradient = staticmethod(l1_penalty_gradient)


# ---------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------


def _check_drop_probability(p):
    if not (_is_number(p) and np.isfinite(p) and 0 <= p <= 1):
        raise ValueError(f"the dropout probability p (of dropping a unit) must be in [0, 1], got {p!r}")


def dropout_mask(shape, p, rng=None, dtype=np.float64):
    """The scaled mask of inverted dropout: ``[u ≥ p] / (1 − p)`` for ``u ~ U[0, 1)`` drawn per entry of ``shape``.

    Each entry is kept with probability ``1 − p`` (then worth ``1/(1 − p)``) and
    dropped with probability ``p`` (then ``0``); its expectation is ``1``. One
    mask per example: with ``shape = (m, n)`` every row gets its own. ``rng`` is a
    ``numpy.random.Generator`` or a seed. With ``p = 1`` everything is dropped.
    """
    keep = as_generator(rng).random(shape) >= p
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return (keep * scale).astype(dtype, copy=False)


def dropout_forward(x, p, training=True, rng=None, check=True):
    """Inverted dropout on ``x : (m, n)`` (any shape); returns ``(out, cache)``.

    Training: ``out = x ⊙ M`` with ``M = dropout_mask(x.shape, p, rng)``, so that
    ``E[out] = x``. Inference (``training=False``): ``out = x``, nothing dropped
    and nothing scaled. The cache is ``{"mask": M}`` (``None`` at inference), what
    :func:`dropout_backward` needs.
    """
    if check:
        _check_drop_probability(p)
        check_finite(x, "dropout_forward: x")
    if not training or p == 0:
        return x, {"mask": None}
    mask = dropout_mask(x.shape, p, rng, dtype=x.dtype if x.dtype.kind == "f" else np.float64)
    return x * mask, {"mask": mask}


def dropout_backward(dout, cache):
    """Backward pass of :func:`dropout_forward`: ``dx = dout ⊙ M`` (``dout`` itself at inference).

    Dropout multiplies by a constant mask, so the gradient flows only through the
    kept units, scaled by the same ``1/(1 − p)``.
    """
    mask = cache["mask"]
    return dout if mask is None else dout * mask


class Dropout(Layer):
    """Inverted dropout with probability ``p`` of dropping each unit, in training mode only.

    The layer draws its masks from its own generator, seeded when it is built
    (``seed``), so a run is reproducible; in inference mode (``eval()``) it is the identity.
    """

    def __init__(self, p=0.5, seed=0):
        super().__init__()
        _check_drop_probability(p)
        self.p = float(p)
        self.rng = as_generator(seed)

    def __repr__(self):
        return f"Dropout(p={self.p:g})"

    def forward(self, x):
        out, self.cache = dropout_forward(x, self.p, self.training, self.rng, check=False)
        self.shape = x.shape
        return out

    def backward(self, dout):
        cache = self._cached()
        self._check_dout(dout, self.shape)
        return dropout_backward(dout, cache)
