"""Activation functions and their derivatives.

Each activation ``g`` comes with its derivative ``g'`` written as a function of
the pre-activation ``z``. Both act elementwise, so any shape works: ``(m, n)``
in, ``(m, n)`` out. The book's chapter on activations plots them all.

Three of them need care with large inputs: ``sigmoid``, ``softplus`` and
``log_sum_exp``/``softmax`` are written so that no ``exp`` ever overflows, and
they return finite, correct values for inputs as large as ±1e4.
"""

from typing import Callable, NamedTuple, Optional

import numpy as np


def sigmoid(z):
    """Logistic sigmoid ``σ(z) = 1 / (1 + exp(-z))``, computed without overflow.

    For ``z ≥ 0`` it uses ``1 / (1 + e^{-z})``; for ``z < 0`` the equal form
    ``e^{z} / (1 + e^{z})``. Either way the exponent is ``-|z| ≤ 0``.
    """
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_derivative(z):
    """``σ'(z) = σ(z) (1 − σ(z))``; its largest value is ``1/4``, at ``z = 0``.

    Computed as ``σ(z) σ(−z) = e / (1 + e)²`` with ``e = e^{−|z|}``: for large
    ``z``, ``σ(z)`` rounds to 1 and ``1 − σ(z)`` would lose every digit (0 from
    ``z ≈ 37`` on), while the slope itself is ``≈ e^{−|z|}``.
    """
    e = np.exp(-np.abs(np.asarray(z, dtype=np.float64)))
    return e / (1.0 + e) ** 2


def tanh(z):
    """Hyperbolic tangent, ``(e^z − e^{−z}) / (e^z + e^{−z}) = 2σ(2z) − 1``."""
    return np.tanh(np.asarray(z, dtype=np.float64))


def tanh_derivative(z):
    """``tanh'(z) = 1 − tanh(z)²``."""
    return 1.0 - np.tanh(np.asarray(z, dtype=np.float64)) ** 2


def relu(z):
    """Rectified linear unit ``max(0, z)``."""
    return np.maximum(0.0, np.asarray(z, dtype=np.float64))


def relu_derivative(z):
    """``1`` where ``z > 0``, else ``0`` (we take 0 at the kink ``z = 0``)."""
    return (np.asarray(z) > 0).astype(np.float64)


def leaky_relu(z, slope=0.01):
    """``z`` for ``z > 0``, ``slope · z`` otherwise."""
    z = np.asarray(z, dtype=np.float64)
    return np.where(z > 0, z, slope * z)


def leaky_relu_derivative(z, slope=0.01):
    """``1`` for ``z > 0``, ``slope`` otherwise."""
    return np.where(np.asarray(z) > 0, 1.0, slope)


def prelu(z, alpha=0.25):
    """Parametric ReLU: ``z`` for ``z > 0``, ``α z`` otherwise, with a slope ``α`` that is *learned*.

    Here ``alpha`` is a number; the layer :class:`nnbook.layers.PReLU` holds it as a
    trained parameter, one per feature, and computes ``dα`` as well.
    """
    z = np.asarray(z, dtype=np.float64)
    return np.where(z > 0, z, alpha * z)


def prelu_derivative(z, alpha=0.25):
    """``1`` for ``z > 0``, ``α`` otherwise (the derivative with respect to ``z``; ``∂g/∂α = z [z < 0]``)."""
    return np.where(np.asarray(z) > 0, 1.0, alpha)


def elu(z, alpha=1.0):
    """Exponential linear unit: ``z`` for ``z > 0``, ``α (e^z − 1)`` otherwise."""
    z = np.asarray(z, dtype=np.float64)
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def elu_derivative(z, alpha=1.0):
    """``1`` for ``z > 0``, ``α e^z = elu(z) + α`` otherwise."""
    z = np.asarray(z, dtype=np.float64)
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))


def softplus(z):
    """``log(1 + e^z)``, a smooth ReLU, computed as ``logaddexp(0, z)`` so it never overflows."""
    return np.logaddexp(0.0, np.asarray(z, dtype=np.float64))


def softplus_derivative(z):
    """``softplus'(z) = σ(z)``."""
    return sigmoid(z)


def arctan(z):
    """``arctan z``, an S-shaped curve like tanh, with values in ``(−π/2, π/2)``."""
    return np.arctan(np.asarray(z, dtype=np.float64))


def arctan_derivative(z):
    """``arctan'(z) = 1 / (1 + z²)``: 1 at 0, and it decays like ``1/z²``, slower than tanh's ``4 e^{−2|z|}``."""
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(over="ignore"):  # z² overflows to inf beyond 1e154, and 1 / inf = 0 is right
        return 1.0 / (1.0 + z * z)


def step(z):
    """Heaviside step, the perceptron's threshold: ``1`` if ``z ≥ 0`` else ``0``."""
    return (np.asarray(z) >= 0).astype(np.float64)


def step_derivative(z):
    """Zero wherever it exists (everywhere but ``z = 0``): why a step cannot be trained by gradients."""
    return np.zeros_like(np.asarray(z, dtype=np.float64))


def identity(z):
    """``g(z) = z``, the activation of a linear output."""
    return np.asarray(z, dtype=np.float64).copy()


def identity_derivative(z):
    """``g'(z) = 1``."""
    return np.ones_like(np.asarray(z, dtype=np.float64))


def _shifted_log_sum(z, axis):
    """``(z − c, log Σ_k e^{z_k − c})`` with ``c = max z`` along ``axis`` (kept as an axis of length 1).

    With that ``c`` every exponent is ``≤ 0`` and the largest term is exactly 1,
    so the sum is ``1 + r`` with ``r`` the other terms: its log is ``log1p(r)``,
    which keeps its digits when ``r`` is below the rounding of ``1 + r``.
    """
    z = np.asarray(z, dtype=np.float64)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    terms = np.exp(shifted)
    np.put_along_axis(terms, np.argmax(z, axis=axis, keepdims=True), 0.0, axis=axis)  # the 1, taken out
    return shifted, np.log1p(np.sum(terms, axis=axis, keepdims=True))


def log_sum_exp(z, axis=-1, keepdims=False):
    """``log Σ_k exp(z_k)`` along ``axis``, shifted by the maximum so no ``exp`` overflows.

    ``log Σ e^{z_k} = c + log Σ e^{z_k − c}`` for any ``c``; with ``c = max z`` every
    exponent is ``≤ 0`` and the largest term is exactly 1.
    """
    z = np.asarray(z, dtype=np.float64)
    out = np.max(z, axis=axis, keepdims=True) + _shifted_log_sum(z, axis)[1]
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(z, axis=-1):
    """``log softmax(z) = z − log_sum_exp(z) = (z − c) − log Σ_k e^{z_k − c}``, stable for any input.

    Subtracting the shift ``c = max z`` first keeps the digits of a log-probability near 0 (a confident
    class): ``z − log_sum_exp(z)`` would round it to the spacing of the floats near ``c``.
    """
    shifted, log_sum = _shifted_log_sum(z, axis)
    return shifted - log_sum


def softmax(z, axis=-1):
    """``softmax(z)_k = e^{z_k} / Σ_j e^{z_j}`` along ``axis``: rows of ``(m, K)`` sum to 1."""
    return np.exp(log_softmax(z, axis=axis))


class Activation(NamedTuple):
    """An activation function together with its derivative (both of ``z``), and how a network uses it.

    ``layer_name`` names the layer class of :mod:`nnbook.layers` that applies it
    (``None`` if no network layer does: the step function cannot be trained by
    gradients), and ``init`` the weight initialization recommended for the
    layer that feeds it (a key of :data:`nnbook.initialization.INITIALIZERS`):
    He for ReLU-like units, which zero about half of their inputs, Xavier for
    the others.
    """

    name: str
    function: Callable
    derivative: Callable
    layer_name: Optional[str] = None
    init: Optional[str] = None

    @property
    def layer(self):
        """The layer class of :mod:`nnbook.layers` (``ReLU`` for ``"relu"``), or ``None``."""
        if self.layer_name is None:
            return None
        from . import layers  # layers imports this module: look the class up when it is asked for

        return getattr(layers, self.layer_name)


#: The one registry of activations: name → :class:`Activation`. Networks (:func:`nnbook.layers.mlp`),
#: the explorers of :mod:`nnbook.widgets` and the chapters all read it.
ACTIVATIONS = {
    a.name: a
    for a in (
        Activation("sigmoid", sigmoid, sigmoid_derivative, "Sigmoid", "xavier"),
        Activation("tanh", tanh, tanh_derivative, "Tanh", "xavier"),
        Activation("relu", relu, relu_derivative, "ReLU", "he"),
        Activation("leaky_relu", leaky_relu, leaky_relu_derivative, "LeakyReLU", "he"),
        Activation("prelu", prelu, prelu_derivative, "PReLU", "he"),
        Activation("elu", elu, elu_derivative, "ELU", "he"),
        Activation("softplus", softplus, softplus_derivative, "Softplus", "xavier"),
        Activation("arctan", arctan, arctan_derivative, "Arctan", "xavier"),
        Activation("step", step, step_derivative),
        Activation("identity", identity, identity_derivative, "Identity", "xavier"),
    )
}


def get_activation(name):
    """Look up an :class:`Activation` by name, with a clear error for an unknown one."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


def network_activations():
    """The names of the activations a network can use (those with a layer class), in registry order."""
    return tuple(name for name, activation in ACTIVATIONS.items() if activation.layer_name is not None)
