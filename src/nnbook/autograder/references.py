"""The answers of the hidden tests: the package's reference, run on the inputs the grader draws.

The hidden tests of the exercises call these functions in the grader's
process (never in a student's kernel, where the reference is masked): the
gradients a backward rule must return (ex02), random networks run forward
and backward by the package's layers (ex03), the package's optimizer steps
and learning-rate schedule (ex04), and batch normalization in training mode with
its running statistics carried from batch to batch (ex05). They only arrange the
reference (:mod:`nnbook.autodiff`, :mod:`nnbook.layers`, :mod:`nnbook.optim`,
:mod:`nnbook.normalization`): no new math.
"""

import numpy as np

from .. import layers, normalization, optim
from ..autodiff import Tensor


def input_gradients(expression, dout, *inputs):
    """What a node's backward rule must return: the reference engine's gradients for the upstream gradient ``dout``.

    ``expression`` builds the node from :class:`nnbook.autodiff.Tensor` inputs
    (``lambda a, b: a * b``); the result is ``[∂J/∂input for each input]`` for
    ``J = sum(expression(*inputs) * dout)``, each of its input's shape. For the
    hidden tests of the computation-graph exercise, which run in the grader.
    """
    tensors = [Tensor(np.asarray(value, dtype=np.float64)) for value in inputs]
    (expression(*tensors) * Tensor(np.asarray(dout, dtype=np.float64), requires_grad=False)).sum().backward()
    return [tensor.grad for tensor in tensors]


def _forward_recording(network, X):
    """``[A0 = X, then the output of every layer]``: the arrays of a forward pass, in order."""
    arrays = [X]
    for layer in network.layers:
        arrays.append(layer.forward(arrays[-1]))
    return arrays


def _parameters_and_gradients(network, dX):
    """``params`` ``{"W1", "b1", …}`` and ``grads`` ``{"dW1", "db1", …, "dX"}`` of a network after its backward pass."""
    linears = network.layers[::2]
    params = {f"{name}{l}": linear.params[name] for l, linear in enumerate(linears, 1) for name in "Wb"}
    grads = {f"d{name}{l}": linear.grads[name] for l, linear in enumerate(linears, 1) for name in "Wb"}
    return params, {**grads, "dX": dX}


def one_hidden_network(seed, m, n_x, n_h, output_scale=1.0):
    """A random one-hidden-layer problem, run forward and backward by the package's layers.

    The network is ``Linear(n_x, n_h) → tanh → Linear(n_h, 1) → sigmoid`` with
    the mean binary cross-entropy. Returns ``(X, y, params, cache, grads)``:
    ``X : (m, n_x)``, labels ``y : (m,)`` in {0., 1.}, ``params`` ``W1 : (n_h, n_x)``,
    ``b1 : (n_h,)``, ``W2 : (1, n_h)``, ``b2 : (1,)``, ``cache`` ``A0 = X``,
    ``Z1``, ``A1 : (m, n_h)``, ``Z2``, ``A2 : (m, 1)``, and ``grads`` ``dW1``,
    ``db1``, ``dW2``, ``db2``, ``dX`` of the cost. The same seed gives the same problem.
    """
    rng = np.random.default_rng(seed)
    network = layers.Sequential(layers.Linear(n_x, n_h, "xavier", rng), layers.Tanh(),
                                layers.Linear(n_h, 1, "xavier", rng), layers.Sigmoid())
    for linear in network.layers[::2]:
        linear.params["b"][...] = rng.standard_normal(linear.n_out)
    network.layers[2].params["W"][...] *= output_scale
    network.layers[2].params["b"][...] *= output_scale
    X, y = 2 * rng.standard_normal((m, n_x)), rng.integers(0, 2, size=m).astype(float)
    arrays = _forward_recording(network, X)
    # dZ2 = (A2 − y) / m from the logits, not through σ′ and a cross-entropy of clipped probabilities,
    # which are wrong for a confident mistake (|Z2| > 27.6)
    gradient = (arrays[-1] - y[:, None]) / m
    for layer in reversed(network.layers[:-1]):
        gradient = layer.backward(gradient)
    params, grads = _parameters_and_gradients(network, gradient)
    return X, y, params, dict(zip(("A0", "Z1", "A1", "Z2", "A2"), arrays)), grads


def deep_relu_network(seed, m, sizes):
    """A random deep ReLU problem with a softmax cross-entropy, run forward and backward by the package's layers.

    ``sizes = (n_x, n^[1], …, n^[L])``. Returns ``(X, y, params, cache, grads)``:
    ``X : (m, n_x)``, labels ``y : (m,)`` in ``{0, …, n^[L] − 1}``, ``params``
    ``W1, b1, …, WL, bL``, ``cache`` ``A0 = X, Z1, A1, …, A{L−1}, ZL``, and
    ``grads`` ``dW1, db1, …, dWL, dbL, dX`` of the mean cost, plus ``dZL``, the
    gradient at the scores, ``(softmax(ZL) − Y) / m``.
    """
    rng = np.random.default_rng(seed)
    network = layers.mlp(sizes, "relu", seed=rng)
    for linear in network.layers[::2]:
        linear.params["b"][...] = 0.5 * rng.standard_normal(linear.n_out)
    X, y = rng.standard_normal((m, sizes[0])), rng.integers(0, sizes[-1], size=m)
    arrays = _forward_recording(network, X)
    loss = layers.SoftmaxCrossEntropy()
    loss.forward(arrays[-1], y)
    dX = network.backward(loss.backward())
    params, grads = _parameters_and_gradients(network, dX)
    L = len(sizes) - 1
    keys = ["A0", *(f"{kind}{l}" for l in range(1, L) for kind in "ZA"), f"Z{L}"]
    return X, y, params, dict(zip(keys, arrays)), {**grads, f"dZ{L}": loss.backward()}


def optimizer_steps(name, w, grads, state, steps_taken=0, **hyperparameters):
    """The package's pure step ``name`` run over the gradients ``grads``, each step from the previous one's output.

    ``name`` is ``"momentum_step"`` (``state = (v,)``), ``"rmsprop_step"``
    (``(s,)``) or ``"adam_step"`` (``(m, v)``; the step count passed to it is
    ``steps_taken + k`` at the ``k``-th step, so ``steps_taken = 0`` starts at
    ``t = 1``); ``hyperparameters`` are its keyword arguments (``lr``, ``beta``,
    ``eps``, …). Returns ``[(w, *state) after step k for k = 1, …, len(grads)]``,
    what an optimizer carrying the state from step to step computes.
    """
    step = {"momentum_step": optim.momentum_step, "rmsprop_step": optim.rmsprop_step,
            "adam_step": optim.adam_step}[name]
    trajectory = []
    for k, dw in enumerate(grads, start=1):
        count = (steps_taken + k,) if name == "adam_step" else ()
        w, *state = step(w, dw, *state, *count, **hyperparameters)
        trajectory.append((w, *state))
    return trajectory


def warmup_cosine_lr(t, lr_max, warmup_steps, total_steps, lr_min=0.0):
    """The learning rate of step ``t`` (``t`` steps already taken) of a linear warm-up over ``warmup_steps`` steps,
    then a cosine decay from ``lr_max`` to ``lr_min`` that ends at step ``total_steps``: the package's schedules."""
    return optim.Warmup(optim.CosineDecay(lr_max, total_steps - warmup_steps, lr_min), warmup_steps)(t)


def batchnorm_training_steps(batches, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    """The package's batch normalization in training mode over ``batches``, the running statistics carried along.

    Each batch ``x : (m, n)`` (``m ≥ 2``) goes through :func:`nnbook.normalization.batchnorm_forward`, then
    :func:`nnbook.normalization.update_running_statistics` updates ``running_mean, running_var : (n,)`` with
    ``momentum`` (PyTorch's convention: the unbiased batch variance in the running one). Returns
    ``[(out, cache, running_mean, running_var) after batch k for k = 1, …, len(batches)]``, what ex05's
    ``batchnorm_forward`` returns when each call is given the running statistics the call before returned.
    """
    trajectory = []
    for x in batches:
        out, cache = normalization.batchnorm_forward(x, gamma, beta, eps)
        running_mean, running_var = normalization.update_running_statistics(
            running_mean, running_var, cache["mean"], cache["var"], x.shape[0], momentum)
        trajectory.append((out, cache, running_mean, running_var))
    return trajectory
