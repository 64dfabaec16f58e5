"""Losses of the signed score ``s z``, for labels ``s ∈ {−1, +1}``.

With ``±1`` labels (the perceptron's convention, and Fleuret's), an example is
classified correctly exactly when its *margin* ``s z = s (w · x + b)`` is
positive, and the classical losses of a linear classifier are functions of that
one number:

* the perceptron loss ``max(0, −s z)`` (chapter *The perceptron*);
* the hinge loss of the support vector machine, ``max(0, 1 − s z)``;
* the logistic loss ``log(1 + e^{−s z}) = −log σ(s z)``, which *is* the binary
  cross-entropy written for ``±1`` labels (chapter *Logistic and softmax regression*).

Each function takes logits ``z : (m,)`` and labels ``s : (m,)`` in ``{−1, +1}`` and
returns ``(J, dz)``: the mean loss and its gradient with respect to ``z``, shape ``(m,)``.
"""

import numpy as np

from .activations import sigmoid, softplus
from .validation import as_float_array, check_rows_match


def _prepare(z, s):
    z = as_float_array(z, "z")
    s = as_float_array(s, "s")
    check_rows_match(z, s, "z", "s")
    if not np.all(np.isin(s, (-1.0, 1.0))):
        raise ValueError("s must hold labels in {-1, +1}; for labels y in {0, 1} use s = 2 y - 1")
    return z, s, z.shape[0]


def signed_logistic_loss(z, s):
    """``J = (1/m) Σ_i log(1 + e^{−s_i z_i}) = −(1/m) Σ_i log σ(s_i z_i)`` and ``dz = −s σ(−s z) / m``.

    ``log(1 + e^{−u})`` is ``softplus(−u)``, finite for any ``u``. With ``y = (s + 1)/2``
    it equals the binary cross-entropy of ``σ(z)`` against ``y``, and ``dz = (σ(z) − y)/m``:
    for ``s = +1``, ``−σ(−z) = σ(z) − 1``; for ``s = −1``, ``σ(z) − 0``.
    """
    z, s, m = _prepare(z, s)
    margin = s * z
    return float(np.sum(softplus(-margin)) / m), -s * sigmoid(-margin) / m


def hinge_loss(z, s):
    """``J = (1/m) Σ_i max(0, 1 − s_i z_i)`` and ``dz = −s [s z < 1] / m`` (0 at the kink ``s z = 1``)."""
    z, s, m = _prepare(z, s)
    margin = s * z
    return float(np.sum(np.maximum(0.0, 1.0 - margin)) / m), -s * (margin < 1) / m


def perceptron_loss(z, s):
    """``J = (1/m) Σ_i max(0, −s_i z_i)`` and ``dz = −s [s z ≤ 0] / m``.

    At the kink ``s z = 0`` the gradient is taken as ``−s/m``, the choice that makes
    a step of stochastic gradient descent the perceptron's update (a point on the
    boundary counts as a mistake).
    """
    z, s, m = _prepare(z, s)
    margin = s * z
    return float(np.sum(np.maximum(0.0, -margin)) / m), -s * (margin <= 0) / m
