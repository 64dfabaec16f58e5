"""Weight initialization: random starting weights whose scale comes from the weight's shape.

A layer's weights must start random (equal weights would compute equal
gradients and stay equal: the symmetry problem) and at a scale that keeps the
signal neither exploding nor vanishing from layer to layer. That scale depends
on how many inputs feed each unit (the *fan-in*) and how many units each input
feeds (the *fan-out*), which :func:`fans` reads from the weight's shape:

* a dense weight ``W : (n_out, n_in)``: ``fan_in = n_in``, ``fan_out = n_out``;
* a convolution filter bank ``W : (F, C, k_h, k_w)``: each output value sums
  ``C · k_h · k_w`` inputs, so ``fan_in = C · k_h · k_w``, and each input value
  reaches ``F · k_h · k_w`` outputs, so ``fan_out = F · k_h · k_w``.

Every initializer takes the shape, a ``numpy.random.Generator`` (``rng``) that
seeds it, and a dtype, and returns a new array. :data:`INITIALIZERS` names them
for layers (``Linear(..., init="he")``); :func:`initialize` looks a name up.
"""

import math

import numpy as np


def as_generator(seed=None):
    """A ``numpy.random.Generator``: ``seed`` itself if it is one, else a new one seeded with ``seed`` (0 if ``None``)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(0 if seed is None else seed)


def fans(shape):
    """``(fan_in, fan_out)`` of a weight of shape ``(n_out, n_in)`` or ``(F, C, k_h, k_w)``.

    For any weight of two or more dimensions the first axis counts the outputs,
    the second the inputs, and the rest (the kernel) multiplies both:
    ``fan_in = shape[1] · k``, ``fan_out = shape[0] · k`` with ``k = ∏ shape[2:]``
    (``k = k_h · k_w`` for a 2-D convolution, ``1`` for a dense weight).
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) < 2 or min(shape) < 1:
        raise ValueError(
            f"a weight needs a shape (n_out, n_in) or (F, C, k_h, k_w) with positive sizes to have fans, got {shape}"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def zeros(shape, rng=None, dtype=np.float64):
    """All zeros: right for biases, wrong for weights (every unit of a layer would stay identical)."""
    return np.zeros(shape, dtype=dtype)


def small_normal(shape, rng=None, dtype=np.float64, std=0.01):
    """The classic "small random weights": ``W ~ N(0, σ²)`` with ``σ = 0.01``, ``Var(W) = 10⁻⁴``, whatever the shape."""
    return (std * as_generator(rng).standard_normal(shape)).astype(dtype)


def xavier_normal(shape, rng=None, dtype=np.float64):
    """Glorot and Bengio (2010), normal: ``W ~ N(0, σ²)`` with ``Var(W) = 2 / (fan_in + fan_out)``.

    The compromise between keeping the variance of the activations (``1/fan_in``)
    and of the gradients (``1/fan_out``) from layer to layer; for tanh and sigmoid.
    """
    fan_in, fan_out = fans(shape)
    return (math.sqrt(2.0 / (fan_in + fan_out)) * as_generator(rng).standard_normal(shape)).astype(dtype)


def xavier_uniform(shape, rng=None, dtype=np.float64):
    """Glorot and Bengio (2010), uniform: ``W ~ U(−a, a)`` with ``a = √(6 / (fan_in + fan_out))``.

    A uniform law on ``(−a, a)`` has variance ``a²/3``, so again ``Var(W) = 2 / (fan_in + fan_out)``.
    """
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return as_generator(rng).uniform(-limit, limit, shape).astype(dtype)


def he_normal(shape, rng=None, dtype=np.float64):
    """He et al. (2015), normal: ``W ~ N(0, σ²)`` with ``Var(W) = 2 / fan_in``.

    A ReLU zeroes half of its inputs on average, halving the variance; the
    factor 2 makes up for it, so the activations keep their scale; for ReLU-like units.
    """
    fan_in, _ = fans(shape)
    return (math.sqrt(2.0 / fan_in) * as_generator(rng).standard_normal(shape)).astype(dtype)


def he_uniform(shape, rng=None, dtype=np.float64):
    """He et al. (2015), uniform: ``W ~ U(−a, a)`` with ``a = √(6 / fan_in)``, so ``Var(W) = a²/3 = 2 / fan_in``."""
    fan_in, _ = fans(shape)
    limit = math.sqrt(6.0 / fan_in)
    return as_generator(rng).uniform(-limit, limit, shape).astype(dtype)


#: The initializers by name, as layers take them (``Linear(n_in, n_out, init="xavier")``).
INITIALIZERS = {
    "zeros": zeros,
    "normal": small_normal,
    "xavier": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "he": he_normal,
    "he_uniform": he_uniform,
}


def initialize(method, shape, rng=None, dtype=np.float64):
    """A new weight of ``shape`` drawn by the initializer named ``method`` (a key of :data:`INITIALIZERS`)."""
    if method not in INITIALIZERS:
        raise ValueError(f"unknown initialization {method!r}; choose one of {sorted(INITIALIZERS)}")
    return INITIALIZERS[method](shape, rng, dtype)
