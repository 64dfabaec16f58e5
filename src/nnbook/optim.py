"""Gradient descent and its refinements: the parameter updates, their learning-rate schedules, the mini-batches.

Gradient descent moves every parameter a small step against its gradient,
``θ ← θ − α dθ``, where ``α`` is the learning rate (``lr`` in code). Using all
``m`` examples per step is *batch* gradient descent, one example is
*stochastic* gradient descent, and anything between is *mini-batch*.

The refinements keep a little state per parameter, updated at every step:

* momentum, a running mean of the gradients ``v ← β v + (1 − β) dθ``, ``θ ← θ − α v``;
* RMSProp, a running mean of the squared gradients ``s ← ρ s + (1 − ρ) dθ²``,
  ``θ ← θ − α dθ / (√s + ε)``: each coordinate gets its own step size;
* Adam, both, with their bias from the zero start corrected:
  ``m̂ = m / (1 − β₁ᵗ)``, ``v̂ = v / (1 − β₂ᵗ)``, ``θ ← θ − α m̂ / (√v̂ + ε)``;
* AdamW, Adam with *decoupled* weight decay ``θ ← θ (1 − α λ)`` before the step.

Each update is written twice. The *pure step* (:func:`momentum_step`,
:func:`rmsprop_step`, :func:`adam_step`, :func:`decoupled_weight_decay`) takes
plain arrays and the state, and returns new ones: that is the formula, shown in
the book and asked for in the exercise. The *optimizer* (:class:`SGD`,
:class:`Momentum`, :class:`RMSProp`, :class:`Adam`, :class:`AdamW`) only keeps
the state of each parameter, keyed by the parameter's name
(``optimizer.state["0.W"]``), counts the steps and applies the pure step to a
model in place. The learning rate is a number or a *schedule*, a function of the
number of steps already taken (:class:`StepDecay`, :class:`ExponentialDecay`,
:class:`InverseTimeDecay`, :class:`CosineDecay`, :class:`Warmup`).
"""

import math

import numpy as np

from .validation import check_positive


def gradient_descent_step(params, grads, lr):
    """One step ``θ ← θ − lr · dθ`` for every parameter; returns new arrays, leaves ``params`` untouched.

    Parameters
    ----------
    params : dict name → array (``{"w": (n_x,), "b": ()}``, say).
    grads : dict with the same names and shapes, ``grads[name] = ∂J/∂params[name]``.
    lr : float > 0, the learning rate ``α``.
    """
    check_positive(lr, "lr")
    if set(params) != set(grads):
        raise ValueError(f"params has {sorted(params)} but grads has {sorted(grads)}; names must match")
    new_params = {}
    for name, value in params.items():
        if np.shape(grads[name]) != np.shape(value):
            raise ValueError(f"grads[{name!r}] has shape {np.shape(grads[name])}, params[{name!r}] has {np.shape(value)}")
        new_params[name] = value - lr * grads[name]
    return new_params


def minibatch_indices(m, batch_size, rng=None, shuffle=True):
    """Split ``range(m)`` into consecutive mini-batches of at most ``batch_size`` indices.

    With ``shuffle`` the order is a fresh permutation drawn from ``rng`` (a
    ``numpy.random.Generator``, seeded with 0 when not given), so each epoch
    sees the examples in a new order. The last batch is smaller when
    ``batch_size`` does not divide ``m``.
    """
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if shuffle and rng is None:
        rng = np.random.default_rng(0)
    order = rng.permutation(m) if shuffle else np.arange(m)
    return [order[start : start + batch_size] for start in range(0, m, batch_size)]


# ---------------------------------------------------------------------------
# The pure steps: plain arrays and state in, new arrays and state out
# ---------------------------------------------------------------------------


def sgd_step(w, dw, lr):
    """Plain gradient descent on one parameter: ``w ← w − lr · dw``. Returns the new ``w``."""
    return w - lr * dw


def momentum_step(w, dw, v, lr, beta=0.9):
    """Momentum, as the lecture decks write it; returns ``(w_new, v_new)``.

    ``v ← β v + (1 − β) dw`` (an exponentially weighted mean of the gradients,
    ``v = 0`` before the first step), then ``w ← w − lr · v``. ``β = 0`` is plain
    gradient descent. PyTorch writes ``v ← β v + dw`` instead: the same steps
    with a learning rate ``lr · (1 − β)``.
    """
    v = beta * v + (1.0 - beta) * dw
    return w - lr * v, v


def rmsprop_step(w, dw, s, lr, rho=0.9, eps=1e-8):
    """RMSProp; returns ``(w_new, s_new)``.

    ``s ← ρ s + (1 − ρ) dw²`` (a running mean of the squared gradient, ``s = 0``
    before the first step), then ``w ← w − lr · dw / (√s + ε)``: a coordinate
    whose gradient is large takes smaller steps. ``ε`` only guards the division.
    """
    s = rho * s + (1.0 - rho) * dw**2
    return w - lr * dw / (np.sqrt(s) + eps), s


def adam_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam (Kingma and Ba, 2015); ``t`` is the number of this step, 1 for the first. Returns ``(w_new, m_new, v_new)``.

    ``m ← β₁ m + (1 − β₁) dw`` and ``v ← β₂ v + (1 − β₂) dw²`` (both 0 before the
    first step), so both are biased towards 0 early on: the weights of a running
    mean started at 0 sum to ``1 − βᵗ``, not 1. Dividing by that sum corrects it:
    ``m̂ = m / (1 − β₁ᵗ)``, ``v̂ = v / (1 − β₂ᵗ)``; then ``w ← w − lr · m̂ / (√v̂ + ε)``.
    The first step is therefore about ``lr · sign(dw)``.
    """
    m = beta1 * m + (1.0 - beta1) * dw
    v = beta2 * v + (1.0 - beta2) * dw**2
    m_hat = m / (1.0 - beta1**t)
    v_hat = v / (1.0 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def decoupled_weight_decay(w, lr, weight_decay):
    """Decoupled weight decay (Loshchilov and Hutter, 2019): ``w ← w (1 − lr · λ)``, applied before AdamW's step.

    It shrinks the weights directly instead of adding ``λ w`` to the gradient,
    which Adam would then rescale coordinate by coordinate.
    """
    return w * (1.0 - lr * weight_decay)


# ---------------------------------------------------------------------------
# Learning-rate schedules: the rate of step t, t = 0, 1, 2, … steps already taken
# ---------------------------------------------------------------------------


class Constant:
    """``α_t = α₀``."""

    def __init__(self, lr):
        self.lr = check_positive(lr, "lr")

    def __call__(self, t):
        return self.lr

    def __repr__(self):
        return f"{type(self).__name__}({self.lr})"


class StepDecay(Constant):
    """``α_t = α₀ · drop^⌊t / every⌋``: the rate is multiplied by ``drop`` every ``every`` steps (``StepLR`` in PyTorch)."""

    def __init__(self, lr, drop=0.5, every=10):
        super().__init__(lr)
        self.drop, self.every = check_positive(drop, "drop"), _check_steps(every, "every")

    def __call__(self, t):
        return self.lr * self.drop ** (t // self.every)


class ExponentialDecay(Constant):
    """``α_t = α₀ · γᵗ``, with ``0 < γ ≤ 1`` (``ExponentialLR`` in PyTorch)."""

    def __init__(self, lr, gamma=0.99):
        super().__init__(lr)
        self.gamma = check_positive(gamma, "gamma")

    def __call__(self, t):
        return self.lr * self.gamma**t


class InverseTimeDecay(Constant):
    """``α_t = α₀ / (1 + k t)``: the ``1/t`` decay under which stochastic gradient descent converges."""

    def __init__(self, lr, k=0.01):
        super().__init__(lr)
        self.k = check_positive(k, "k")

    def __call__(self, t):
        return self.lr / (1.0 + self.k * t)


class CosineDecay(Constant):
    """``α_t = α_min + (α₀ − α_min)(1 + cos(π t / T)) / 2`` for ``t ≤ T``, then ``α_min`` (``CosineAnnealingLR``)."""

    def __init__(self, lr, total_steps, lr_min=0.0):
        super().__init__(lr)
        self.total_steps = _check_steps(total_steps, "total_steps")
        if not (np.isscalar(lr_min) and 0 <= lr_min <= lr):
            raise ValueError(f"lr_min must be a number between 0 and lr = {lr}, got {lr_min!r}")
        self.lr_min = lr_min

    def __call__(self, t):
        t = min(t, self.total_steps)
        return self.lr_min + (self.lr - self.lr_min) * (1.0 + math.cos(math.pi * t / self.total_steps)) / 2.0


class Warmup:
    """A linear warm-up over ``steps`` steps, then ``schedule``: ``α_t = α₀ (t + 1) / steps`` for ``t < steps``.

    ``α₀ = schedule(0)``; after the warm-up, step ``t`` takes ``schedule(t − steps)``,
    so the wrapped schedule starts where the warm-up ends.
    """

    def __init__(self, schedule, steps):
        self.schedule = as_schedule(schedule)
        self.steps = _check_steps(steps, "steps")

    def __call__(self, t):
        if t < self.steps:
            return self.schedule(0) * (t + 1) / self.steps
        return self.schedule(t - self.steps)

    def __repr__(self):
        return f"Warmup({self.schedule!r}, steps={self.steps})"


def as_schedule(lr):
    """A schedule from a learning rate: a callable ``t ↦ α_t`` is one already, a number ``α`` becomes :class:`Constant`."""
    return lr if callable(lr) else Constant(lr)


def _check_steps(value, name):
    if not (isinstance(value, (int, np.integer)) and value >= 1):
        raise ValueError(f"{name} must be a positive integer number of steps, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------
# The optimizers: per-parameter state, a step counter, the pure step applied in place
# ---------------------------------------------------------------------------


class Optimizer:
    """Base class: ``step(model)`` updates every ``(name, param, grad)`` of ``model.params_and_grads()`` in place.

    ``state[name]`` holds the parameter's own state (a dict of arrays, empty
    until its first step); ``t`` counts the steps taken; the learning rate of
    the next step is ``lr``, read from the schedule. The arrays are updated in
    place (``param[...] = …``) so that layers keep their references to them.
    Subclasses write :meth:`update`, the pure step on one parameter.
    """

    def __init__(self, lr):
        self.schedule = as_schedule(lr)
        self.state = {}
        self.t = 0

    @property
    def lr(self):
        """The learning rate of the next step, ``schedule(t)``."""
        return self.schedule(self.t)

    def step(self, model):
        lr = self.lr
        self.t += 1
        for name, param, grad in model.params_and_grads():
            if grad.shape != param.shape:
                raise ValueError(f"gradient of {name} has shape {grad.shape}, the parameter has {param.shape}")
            param[...] = self.update(param, grad, self.state.setdefault(name, {}), lr)

    def update(self, w, dw, state, lr):
        """The new value of one parameter ``w`` from its gradient ``dw``; updates ``state`` (a dict)."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent: ``θ ← θ − lr · dθ`` (:func:`sgd_step`); no state."""

    def __init__(self, lr=0.1):
        super().__init__(lr)

    def update(self, w, dw, state, lr):
        return sgd_step(w, dw, lr)


class Momentum(Optimizer):
    """Gradient descent with momentum, the decks' form (:func:`momentum_step`); ``state[name]["v"]``."""

    def __init__(self, lr=0.1, beta=0.9):
        super().__init__(lr)
        self.beta = _check_decay(beta, "beta")

    def update(self, w, dw, state, lr):
        new_w, state["v"] = momentum_step(w, dw, state.get("v", 0.0), lr, self.beta)
        return new_w


class RMSProp(Optimizer):
    """RMSProp (:func:`rmsprop_step`); ``state[name]["s"]``."""

    def __init__(self, lr=0.001, rho=0.9, eps=1e-8):
        super().__init__(lr)
        self.rho, self.eps = _check_decay(rho, "rho"), check_positive(eps, "eps")

    def update(self, w, dw, state, lr):
        new_w, state["s"] = rmsprop_step(w, dw, state.get("s", 0.0), lr, self.rho, self.eps)
        return new_w


class Adam(Optimizer):
    """Adam (:func:`adam_step`); ``state[name]`` holds ``m``, ``v`` and the parameter's own step count ``t``."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1, self.beta2 = _check_decay(beta1, "beta1"), _check_decay(beta2, "beta2")
        self.eps = check_positive(eps, "eps")

    def update(self, w, dw, state, lr):
        state["t"] = state.get("t", 0) + 1
        new_w, state["m"], state["v"] = adam_step(w, dw, state.get("m", 0.0), state.get("v", 0.0), state["t"], lr,
                                                  self.beta1, self.beta2, self.eps)
        return new_w


class AdamW(Adam):
    """Adam with decoupled weight decay (:func:`decoupled_weight_decay`, then :func:`adam_step`), as ``torch.optim.AdamW``."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        super().__init__(lr, beta1, beta2, eps)
        if not (np.isscalar(weight_decay) and np.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
        self.weight_decay = weight_decay

    def update(self, w, dw, state, lr):
        return super().update(decoupled_weight_decay(w, lr, self.weight_decay), dw, state, lr)


def _check_decay(value, name):
    if not (np.isscalar(value) and 0 <= value < 1):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return value
