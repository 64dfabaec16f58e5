"""Gradient descent: the parameter update and the mini-batches it walks through.

Gradient descent moves every parameter a small step against its gradient,
``θ ← θ − α dθ``, where ``α`` is the learning rate (``lr`` in code). Using all
``m`` examples per step is *batch* gradient descent, one example is
*stochastic* gradient descent, and anything between is *mini-batch*.
"""

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


class SGD:
    """Stochastic gradient descent on a model's parameters, in place: ``θ ← θ − lr · dθ``.

    ``step(model)`` walks ``model.params_and_grads()``; the arrays are updated
    in place so layers keep their own references to them.
    """

    def __init__(self, lr=0.1):
        self.lr = check_positive(lr, "lr")

    def step(self, model):
        for name, param, grad in model.params_and_grads():
            if grad.shape != param.shape:
                raise ValueError(f"gradient of {name} has shape {grad.shape}, the parameter has {param.shape}")
            param -= self.lr * grad
