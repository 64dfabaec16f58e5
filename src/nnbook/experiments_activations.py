"""The experiments of the chapter *Activation functions and initialization*, with their settings in one place.

The chapter (``book/activations.md``) reports numbers that
``tests/test_experiments_activations.py`` checks again. Both call the functions
below with the settings below, so the book and its tests cannot drift apart.

* :func:`collapse_linear_stack` (:data:`LINEAR_STACK_SETTINGS`): a stack of linear
  layers is one affine map;
* :func:`dead_fraction`, :func:`dying_relus` (:data:`DYING_RELU_SETTINGS`): the
  fraction of ReLU units that output 0 on every training example, against the learning rate;
* :func:`same_sign_rows`: why zero-centred activations help the next layer's weights;
* :func:`symmetry_run` (:data:`SYMMETRY_SETTINGS`): constant weights keep the units
  of a layer identical for ever;
* :func:`preactivation_samples`: Monte Carlo of ``Var(z) = n_in Var(w) Var(a)``;
* :func:`gaussian_expectation`, :func:`variance_recursion`, :func:`signal_propagation`
  (:data:`DEEP_SETTINGS`): activations and gradients of a deep network, layer by
  layer, measured and predicted;
* :func:`sigmoid_chain_gradient`, :func:`input_jacobian`: the product of the
  Jacobians ``σ'(z) W`` and its bound ``(1/4)^L``;
* :func:`large_step_saturation` (:data:`SATURATION_SETTINGS`): one step with a
  too large learning rate pins sigmoid and tanh units;
* :func:`plateau_run` (:data:`PLATEAU_SETTINGS`): a loss that stalls, then drops;
* :func:`train_prelu` (:data:`PRELU_SETTINGS`): the slopes a PReLU network learns.
"""

import math
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from .activations import get_activation
from .data import load_mnist_subset, make_xor
from .initialization import as_generator, he_normal, small_normal, xavier_normal
from .layers import Identity, Linear, PReLU, ReLU, Sequential, mlp
from .losses import SoftmaxCrossEntropy
from .optim import SGD
from .train import History, fit

# ---------------------------------------------------------------------------
# Why non-linear: a stack of linear layers is one affine map
# ---------------------------------------------------------------------------

#: A network of three linear layers (identity activations) and the inputs it is compared on.
LINEAR_STACK_SETTINGS = {"sizes": (5, 8, 8, 3), "m": 100, "seed": 0}


def collapse_linear_stack(network):
    """The single affine map ``x ↦ W x + b`` that a chain of ``Linear`` and ``Identity`` layers computes.

    Layer after layer, ``W ← W^[l] W`` and ``b ← W^[l] b + b^[l]``, starting from
    ``W = I``, ``b = 0``: ``W = W^[L] ⋯ W^[1] : (n^[L], n_x)`` and ``b : (n^[L],)``.
    Returns ``(W, b)``.
    """
    W, b = None, None
    for layer in network.layers:
        if isinstance(layer, Identity):
            continue
        if not isinstance(layer, Linear):
            raise ValueError(f"collapse_linear_stack takes Linear and Identity layers only, got {layer!r}")
        W_l, b_l = layer.params["W"], layer.params["b"]
        W, b = (W_l, b_l.copy()) if W is None else (W_l @ W, W_l @ b + b_l)
    return W, b


def linear_stack_demo(settings=LINEAR_STACK_SETTINGS):
    """``mlp(sizes, "identity")`` against its collapsed map on ``m`` random inputs; ``(network, W, b, X, max |difference|)``."""
    s = settings
    network = mlp(s["sizes"], "identity", seed=s["seed"])
    W, b = collapse_linear_stack(network)
    X = as_generator(s["seed"] + 1).standard_normal((s["m"], s["sizes"][0]))
    difference = float(np.max(np.abs(network.forward(X) - (X @ W.T + b))))
    return network, W, b, X, difference


# ---------------------------------------------------------------------------
# Which activation where: zero-centred outputs, dying ReLUs
# ---------------------------------------------------------------------------


def same_sign_rows(activation, n_in=50, n_out=20, seed=0):
    """The fraction of rows of ``dW = dz aᵀ`` (one example) whose entries all have one sign.

    ``a = g(z)`` comes from standard normal pre-activations ``z : (n_in,)``, ``dz : (n_out,)``
    is a random upstream gradient. Row ``j`` of ``dW`` is ``dz_j a``: when every ``a_k > 0``
    (sigmoid, ReLU) its entries share the sign of ``dz_j``, so the update of one example
    moves all the weights of unit ``j`` up together or down together.
    """
    rng = as_generator(seed)
    a = get_activation(activation).function(rng.standard_normal(n_in))
    dW = np.outer(rng.standard_normal(n_out), a)  # (n_out, n_in)
    nonzero = dW != 0
    same = [np.all(row[keep] > 0) or np.all(row[keep] < 0) for row, keep in zip(dW, nonzero)]
    return float(np.mean(same))


def dead_fraction(model, X):
    """For each ReLU layer of ``model``, the fraction of its units that output 0 on every row of ``X : (m, n_x)``.

    Such a unit passes no gradient (``ReLU'(z) = 0`` on every example), so its
    incoming weights never change again: it is *dead*. Returns a list, one number per ReLU layer.
    """
    fractions, a = [], X
    for layer in model.layers:
        a = layer.forward(a)
        if isinstance(layer, ReLU):
            fractions.append(float(np.mean(np.all(a == 0, axis=0))))
    return fractions


#: The dying-ReLU experiment: an MLP trained on the MNIST subset by plain SGD for a few epochs, once per
#: learning rate and seed; then the dead units of each hidden layer are counted on the 4,000 training images.
DYING_RELU_SETTINGS = {
    "sizes": (784, 100, 100, 10),
    "lrs": (0.01, 0.03, 0.1, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0),
    "seeds": (0, 1, 2),
    "epochs": 3,
    "batch_size": 32,
}


class DyingReLUs(NamedTuple):
    """What :func:`dying_relus` returns: arrays indexed ``[learning rate, seed]`` (and ``[…, layer]``)."""

    lrs: tuple
    dead: np.ndarray  # (n_lrs, n_seeds, n_hidden_layers): fraction of dead units after training
    dead_at_init: np.ndarray  # (n_seeds, n_hidden_layers)
    accuracy: np.ndarray  # (n_lrs, n_seeds): training accuracy after training
    diverged: np.ndarray  # (n_lrs, n_seeds): bool


def dying_relus(settings=DYING_RELU_SETTINGS):
    """Train ``mlp(sizes, "relu")`` (He initialization) for every learning rate and seed; count the dead units.

    Each run starts from the weights of its seed and shuffles with the same seed,
    so the learning rate is the only thing that changes along a row. BLAS runs on one thread.
    """
    s = settings
    data = load_mnist_subset()
    X, y = data.X_train, data.y_train
    n_hidden = len(s["sizes"]) - 2
    dead = np.zeros((len(s["lrs"]), len(s["seeds"]), n_hidden))
    dead_at_init = np.zeros((len(s["seeds"]), n_hidden))
    accuracy = np.zeros((len(s["lrs"]), len(s["seeds"])))
    diverged = np.zeros((len(s["lrs"]), len(s["seeds"])), dtype=bool)
    with threadpool_limits(limits=1, user_api="blas"):
        for j, seed in enumerate(s["seeds"]):
            dead_at_init[j] = dead_fraction(mlp(s["sizes"], "relu", seed=seed), X)
        for i, lr in enumerate(s["lrs"]):
            for j, seed in enumerate(s["seeds"]):
                model = mlp(s["sizes"], "relu", seed=seed)
                history = fit(model, X, y, SGD(lr=lr), epochs=s["epochs"], batch_size=s["batch_size"], seed=seed,
                              progress=False, history_sample=None)
                diverged[i, j] = history.diverged
                accuracy[i, j] = history.accuracy[-1]
                dead[i, j] = np.nan if history.diverged else dead_fraction(model, X)
    return DyingReLUs(tuple(s["lrs"]), dead, dead_at_init, accuracy, diverged)


# ---------------------------------------------------------------------------
# The symmetry problem
# ---------------------------------------------------------------------------

#: The XOR network of the MLP chapter (2 → 4 tanh → 2), trained from constant weights and from random ones.
SYMMETRY_SETTINGS = {
    "sizes": (2, 4, 2),
    "activation": "tanh",
    "constant": 0.5,
    "lr": 0.3,
    "epochs": 100,
    "batch_size": 16,
    "m": 200,
    "noise": 0.1,
    "seed": 0,
}


def constant_network(sizes, activation, value, dtype=np.float64):
    """``mlp(sizes, activation)`` with every weight set to ``value`` (biases stay 0)."""
    network = mlp(sizes, activation, dtype=dtype)
    for layer in network.layers:
        if isinstance(layer, Linear):
            layer.params["W"][...] = value
    return network


class SymmetryRun(NamedTuple):
    """What :func:`symmetry_run` returns: both networks after training, their histories, the data."""

    constant: Sequential
    constant_history: History
    random: Sequential
    random_history: History
    X: np.ndarray
    y: np.ndarray


def symmetry_run(settings=SYMMETRY_SETTINGS):
    """Train the same network on XOR from constant weights and from the random weights of ``mlp``.

    Same data, learning rate, mini-batches and number of epochs; only the starting weights differ.
    """
    s = settings
    X, y = make_xor(s["m"], noise=s["noise"], seed=s["seed"])
    runs = []
    for network in (constant_network(s["sizes"], s["activation"], s["constant"]),
                    mlp(s["sizes"], s["activation"], seed=s["seed"])):
        history = fit(network, X, y, SGD(lr=s["lr"]), epochs=s["epochs"], batch_size=s["batch_size"], seed=s["seed"],
                      progress=False)
        runs += [network, history]
    return SymmetryRun(*runs, X, y)


def hidden_unit_spread(network):
    """For each hidden ``Linear`` layer, the largest difference between two of its units' weights and biases.

    ``max_{j,k} |W_j − W_k|`` over the rows of ``W`` (and the entries of ``b``): 0
    exactly when every unit of the layer computes the same function.
    """
    linears = [layer for layer in network.layers if isinstance(layer, Linear)][:-1]
    return [float(max(np.ptp(layer.params["W"], axis=0).max(), np.ptp(layer.params["b"]))) for layer in linears]


# ---------------------------------------------------------------------------
# The variance of a pre-activation, and of a deep network's signals
# ---------------------------------------------------------------------------


def preactivation_samples(n_in, var_w, var_a, n_samples, seed=0, law="normal"):
    """``n_samples`` independent draws of ``z = Σ_k w_k a_k`` (``k = 1 … n_in``), to check ``Var(z) = n_in Var(w) Var(a)``.

    Every draw takes new weights and new inputs, all independent with mean 0:
    ``w_k`` of variance ``var_w``, ``a_k`` of variance ``var_a``, both normal
    (``law="normal"``) or both uniform on ``(−c, c)`` with ``c² / 3`` the variance
    (``law="uniform"``). Returns ``z : (n_samples,)``.
    """
    rng = as_generator(seed)
    shape = (n_samples, n_in)
    if law == "normal":
        w = math.sqrt(var_w) * rng.standard_normal(shape)
        a = math.sqrt(var_a) * rng.standard_normal(shape)
    elif law == "uniform":
        w = rng.uniform(-1, 1, shape) * math.sqrt(3 * var_w)
        a = rng.uniform(-1, 1, shape) * math.sqrt(3 * var_a)
    else:
        raise ValueError(f"law must be 'normal' or 'uniform', got {law!r}")
    return np.einsum("ij,ij->i", w, a)


def gaussian_expectation(f, q, n_points=4001):
    """``E[f(z)]`` for ``z ~ N(0, q)``: the integral ``∫ f(z) φ(z) dz`` by the trapezoid rule.

    ``f`` acts elementwise on an array; ``q ≥ 0`` is a variance (``q = 0`` gives ``f(0)``).
    The nodes are the union of two grids of ``n_points`` points: one over
    ``±12`` standard deviations, for the bulk of the Gaussian, and one over
    ``[−20, 20]``, where the activations bend (the narrow bump of ``tanh'`` when
    the Gaussian is wide). The derivatives of ReLU and its kin jump at 0: each
    half-line is integrated on its own, with ``f`` taken at 0 from that side.
    A Gauss–Hermite rule would miss both features: its nodes are spread on the scale of ``√q`` only.
    """
    if q == 0:
        return float(f(np.zeros(1))[0])
    std = math.sqrt(q)
    z = np.union1d(std * np.linspace(0, 12, n_points), np.linspace(0, 20, n_points))
    z = z[z <= 12 * std]  # 0 ≤ z ≤ 12 std
    density = np.exp(-0.5 * (z / std) ** 2) / (std * math.sqrt(2 * math.pi))
    right = np.concatenate([[np.nextafter(0.0, 1.0)], z[1:]])  # 0 approached from the right, then the nodes
    return float(np.trapezoid(f(right) * density, z) + np.trapezoid(f(-right) * density, z))


def variance_recursion(activation, var_w, depth, width, var_x=1.0, var_dout=1.0):
    """Predicted standard deviations, layer by layer, of the activations and of the gradients of a deep network.

    The network has ``depth`` layers ``z^[l] = W^[l] a^[l−1]`` (biases 0) of ``width`` units and weights of
    variance ``var_w``; its input has entries of variance ``var_x``, and the gradient ``dout`` at its output has
    entries of variance ``var_dout``. With ``n = width`` and ``z^[l]`` treated as ``N(0, q_l)``:

    * forward: ``q_1 = n Var(w) var_x`` and ``q_l = n Var(w) E[g(z)²]``, with ``z ~ N(0, q_{l−1})``;
      the activations' variance is ``E[g(z)²] − E[g(z)]²``, ``z ~ N(0, q_l)``;
    * backward: ``Var(da^[L]) = var_dout``, ``Var(dz^[l]) = Var(da^[l]) E[g'(z)²]`` and
      ``Var(da^[l−1]) = n Var(w) Var(dz^[l])``.

    Returns ``(std_a, std_dz)``, two arrays of shape ``(depth,)`` (index 0 is layer 1).
    """
    g = get_activation(activation)
    q, std_a, second_moments = width * var_w * var_x, [], []
    slopes = []
    for _ in range(depth):
        mean = gaussian_expectation(g.function, q)
        second = gaussian_expectation(lambda z: g.function(z) ** 2, q)
        std_a.append(math.sqrt(max(second - mean**2, 0.0)))
        slopes.append(gaussian_expectation(lambda z: g.derivative(z) ** 2, q))
        second_moments.append(second)
        q = width * var_w * second
    var_da, var_dz = var_dout, [0.0] * depth
    for layer in reversed(range(depth)):
        var_dz[layer] = var_da * slopes[layer]
        var_da = width * var_w * var_dz[layer]
    return np.array(std_a), np.sqrt(np.array(var_dz))


def unit_normal(shape, rng=None, dtype=np.float64):
    """``W ~ N(0, 1)``: weights of variance 1, whatever the number of inputs (a bad idea, shown for contrast)."""
    return as_generator(rng).standard_normal(shape).astype(dtype)


#: The four initializations the deep-network experiment compares: name → (initializer, its weight variance
#: as a function of (fan_in, fan_out)).
DEEP_INITS = {
    "small N(0, 0.01²)": (small_normal, lambda fan_in, fan_out: 1e-4),
    "unit N(0, 1)": (unit_normal, lambda fan_in, fan_out: 1.0),
    "Xavier": (xavier_normal, lambda fan_in, fan_out: 2 / (fan_in + fan_out)),
    "He": (he_normal, lambda fan_in, fan_out: 2 / fan_in),
}

#: The deep-network experiment, after CS231n's notes: 10 layers of 256 units, 1,000 standard normal inputs,
#: a standard normal gradient at the output, every initialization of DEEP_INITS with tanh and with ReLU.
DEEP_SETTINGS = {
    "depth": 10,
    "width": 256,
    "m": 1000,
    "activations": ("tanh", "relu"),
    "inits": tuple(DEEP_INITS),
    "histogram_sample": 20000,
    "seed": 0,
}


class Propagation(NamedTuple):
    """What :func:`signal_propagation` returns for one activation and one initialization."""

    std_a: np.ndarray  # (depth,) measured standard deviation of the activations a^[l]
    std_dz: np.ndarray  # (depth,) measured standard deviation of the gradients dz^[l] = ∂J/∂z^[l]
    predicted_std_a: np.ndarray  # (depth,) from variance_recursion
    predicted_std_dz: np.ndarray  # (depth,)
    sample_a: list  # depth arrays of values of a^[l], for histograms
    sample_dz: list  # depth arrays of values of dz^[l]


def signal_propagation(activation, init, settings=DEEP_SETTINGS):
    """Run one forward and one backward pass through a deep network; measure and predict every layer's spread.

    The network is ``depth`` blocks ``Linear(width, width)`` + activation, weights drawn
    by ``DEEP_INITS[init]`` from ``seed``, biases 0. The input ``X : (m, width)`` is
    standard normal, and so is the gradient ``dout`` at the last activations: the
    gradient of ``J = Σ out · dout``, a random direction, as in CS231n's experiment.
    The prediction is :func:`variance_recursion` with the initialization's weight variance.
    """
    s = settings
    initializer, variance = DEEP_INITS[init]
    rng = as_generator(s["seed"])
    n = s["width"]
    blocks = []
    for _ in range(s["depth"]):
        linear = Linear(n, n, init="zeros")
        linear.params["W"] = initializer((n, n), rng)
        blocks += [linear, get_activation(activation).layer.of_width(n)]
    network = Sequential(*blocks)
    X = rng.standard_normal((s["m"], n))
    dout = rng.standard_normal((s["m"], n))
    activations, gradients = [], [None] * s["depth"]
    with threadpool_limits(limits=1, user_api="blas"):
        a = X
        for layer in network.layers:  # forward, keeping each block's activations a^[l] : (m, width)
            a = layer.forward(a)
            if not isinstance(layer, Linear):
                activations.append(a)
        d = dout
        for index in reversed(range(len(network.layers))):  # backward, keeping each block's dz^[l] : (m, width)
            d = network.layers[index].backward(d)
            if not isinstance(network.layers[index], Linear):
                gradients[index // 2] = d
    predicted_a, predicted_dz = variance_recursion(activation, variance(n, n), s["depth"], n)
    k = s["histogram_sample"]
    return Propagation(np.array([np.std(a) for a in activations]), np.array([np.std(d) for d in gradients]),
                       predicted_a, predicted_dz, [a.ravel()[:k].copy() for a in activations],
                       [d.ravel()[:k].copy() for d in gradients])


def all_propagations(settings=DEEP_SETTINGS):
    """:func:`signal_propagation` for every activation and initialization of ``settings``: ``{(activation, init): …}``."""
    return {(g, init): signal_propagation(g, init, settings) for g in settings["activations"] for init in settings["inits"]}


# ---------------------------------------------------------------------------
# Vanishing gradients through sigmoids: the product of the Jacobians σ'(z) W
# ---------------------------------------------------------------------------


def sigmoid_chain_gradient(depth, n_draws=1000, seed=0):
    """``|∂a^[L]/∂b^[1]|`` for ``n_draws`` random chains of ``L = depth`` sigmoid units, one unit per layer.

    Each chain computes ``z^[l] = w^[l] a^[l−1] + b^[l]``, ``a^[l] = σ(z^[l])`` from an input
    ``a^[0] ~ N(0, 1)``, with ``w^[l]`` and ``b^[l]`` uniform on ``(−1, 1)``. By the chain rule
    ``∂a^[L]/∂b^[1] = σ'(z^[L]) w^[L] ⋯ σ'(z^[2]) w^[2] σ'(z^[1])``, a product of ``L`` slopes
    ``σ' ≤ 1/4`` and ``L − 1`` weights ``|w| < 1``: it is at most ``(1/4)^L``.
    Returns ``(n_draws,)`` absolute values.
    """
    rng = as_generator(seed)
    w = rng.uniform(-1, 1, (n_draws, depth))
    b = rng.uniform(-1, 1, (n_draws, depth))
    a = rng.standard_normal(n_draws)
    gradient = np.ones(n_draws)
    sigmoid = get_activation("sigmoid")
    for layer in range(depth):
        z = w[:, layer] * a + b[:, layer]
        gradient *= sigmoid.derivative(z) * (w[:, layer] if layer > 0 else 1.0)
        a = sigmoid.function(z)
    return np.abs(gradient)


def input_jacobian(network, x):
    """The Jacobian ``∂out/∂x : (n_out, n_in)`` of ``network`` at one example ``x : (n_in,)``, by backpropagation.

    Row ``k`` is the gradient of output ``k``: the backward pass of ``dout = e_k``.
    All rows at once: the forward pass of ``n_out`` copies of ``x`` and the backward
    pass of the identity matrix. For a chain ``Linear, g, Linear, g, …`` it equals
    ``diag(g'(z^[L])) W^[L] ⋯ diag(g'(z^[1])) W^[1]``.
    """
    x = np.asarray(x, dtype=np.float64)
    n_out = network.forward(x[None, :]).shape[1]
    network.forward(np.tile(x, (n_out, 1)))  # (n_out, n_in): one copy of x per output
    return network.backward(np.eye(n_out))


# ---------------------------------------------------------------------------
# Problems a learner meets: saturation after a large step, plateaus
# ---------------------------------------------------------------------------

#: One SGD step with learning rates from normal to far too large, from the same initial network
#: ``784 → 100 → 10`` (Xavier initialization), on the first mini-batch of the MNIST subset; then a few
#: epochs at a normal learning rate, to see whether the network recovers.
SATURATION_SETTINGS = {
    "sizes": (784, 100, 10),
    "activations": ("sigmoid", "tanh"),
    "lrs": (0.1, 1.0, 10.0, 100.0),
    "batch_size": 64,
    "recovery_lr": 0.1,
    "recovery_epochs": 3,
    "seed": 0,
}


def pinned_fraction(activation, a):
    """The fraction of the values ``a = g(z)`` within 1% of the range of ``g`` from one of its ends.

    For tanh, ``|a| > 0.98``; for the sigmoid, ``a < 0.01`` or ``a > 0.99``. There the slope
    ``g'`` is below 2% (tanh) or 4% (sigmoid) of its largest value: the unit is *saturated*.
    """
    g = get_activation(activation).function
    low, high = float(g(np.array(-1e4))), float(g(np.array(1e4)))
    margin = 0.01 * (high - low)
    return float(np.mean((a < low + margin) | (a > high - margin)))


class Saturation(NamedTuple):
    """What :func:`large_step_saturation` returns; dicts keyed by activation, lists follow ``settings["lrs"]``."""

    pinned: dict  # activation → [fraction of (example, hidden unit) pairs pinned after the step, for each lr]
    mean_slope: dict  # activation → [mean g'(z) / max g', for each lr]
    hidden_before: dict  # activation → (m, n_hidden) hidden activations at initialization
    hidden_after: dict  # activation → (m, n_hidden) hidden activations after the step with the largest lr
    recovery: dict  # activation → {"without": History, "after": History} of the recovery epochs
    pinned_after_recovery: dict  # activation → fraction pinned after the recovery epochs (largest lr)


def _hidden(network, X):
    """The first hidden layer's activations ``a^[1] : (m, n^[1])``."""
    return network.layers[1].forward(network.layers[0].forward(X))


def _one_step(network, X, y, lr):
    loss = SoftmaxCrossEntropy()
    loss.forward(network.forward(X), y)
    network.backward(loss.backward())
    SGD(lr=lr).step(network)


def large_step_saturation(settings=SATURATION_SETTINGS):
    """Measure how one SGD step of each learning rate saturates the hidden units, and whether training recovers.

    For each activation and learning rate: the network of ``seed`` takes one step on
    the first ``batch_size`` training images; then the hidden activations of the 4,000
    training images are measured (:func:`pinned_fraction`, and the mean slope
    ``g'(z)`` divided by its largest value, ``g'(0)``). With the largest learning rate,
    and without the bad step, the network is then trained ``recovery_epochs`` epochs at ``recovery_lr``.
    """
    s = settings
    data = load_mnist_subset()
    X, y = data.X_train, data.y_train
    first = slice(0, s["batch_size"])
    pinned, slope, before, after, recovery, pinned_recovered = {}, {}, {}, {}, {}, {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name in s["activations"]:
            g = get_activation(name)
            pinned[name], slope[name] = [], []
            for lr in s["lrs"]:
                network = mlp(s["sizes"], name, seed=s["seed"])
                before[name] = _hidden(network, X)
                _one_step(network, X[first], y[first], lr)
                z = network.layers[0].forward(X)
                pinned[name].append(pinned_fraction(name, g.function(z)))
                slope[name].append(float(np.mean(g.derivative(z)) / g.derivative(np.array(0.0))))
            after[name] = g.function(z)
            recovery[name] = {}
            for label, lr in (("without", None), ("after", s["lrs"][-1])):
                network = mlp(s["sizes"], name, seed=s["seed"])
                if lr is not None:
                    _one_step(network, X[first], y[first], lr)
                recovery[name][label] = fit(network, X, y, SGD(lr=s["recovery_lr"]), epochs=s["recovery_epochs"],
                                            batch_size=s["batch_size"], seed=s["seed"], progress=False,
                                            history_sample=None)
            pinned_recovered[name] = pinned_fraction(name, _hidden(network, X))
    return Saturation(pinned, slope, before, after, recovery, pinned_recovered)


class GradientNorms:
    """An optimizer that records the norm of the whole gradient, ``√(Σ_θ ‖dθ‖²)``, before each step of ``optimizer``.

    ``fit`` calls ``step(model)`` after every backward pass: ``norms`` gets one number per mini-batch.
    """

    def __init__(self, optimizer):
        self.optimizer, self.norms = optimizer, []

    def step(self, model):
        self.norms.append(math.sqrt(sum(float(np.sum(grad**2)) for _, _, grad in model.params_and_grads())))
        self.optimizer.step(model)


#: A network with two hidden layers of tanh units on the MNIST subset, from the decks' "small random
#: weights" N(0, 0.01²) and from Xavier's; the same SGD otherwise.
PLATEAU_SETTINGS = {
    "sizes": (784, 64, 64, 10),
    "activation": "tanh",
    "inits": ("normal", "xavier"),
    "lr": 0.1,
    "epochs": 10,
    "batch_size": 64,
    "seed": 0,
}


class PlateauRun(NamedTuple):
    """What :func:`plateau_run` returns: for each initialization, the history and the gradient norm of every step."""

    histories: dict  # init → History (step_loss: the cost of every mini-batch)
    gradient_norms: dict  # init → list, one per mini-batch
    label_entropy: float  # the cost of predicting the class frequencies, −Σ p_k log p_k


def plateau_run(settings=PLATEAU_SETTINGS):
    """Train ``mlp(sizes, activation, init)`` for each initialization; record the cost and gradient norm of every step."""
    s = settings
    data = load_mnist_subset()
    X, y = data.X_train, data.y_train
    frequencies = np.bincount(y) / len(y)
    histories, norms = {}, {}
    with threadpool_limits(limits=1, user_api="blas"):
        for init in s["inits"]:
            network = mlp(s["sizes"], s["activation"], init=init, seed=s["seed"])
            recorder = GradientNorms(SGD(lr=s["lr"]))
            histories[init] = fit(network, X, y, recorder, epochs=s["epochs"], batch_size=s["batch_size"],
                                  seed=s["seed"], progress=False, history_sample=None)
            norms[init] = recorder.norms
    return PlateauRun(histories, norms, float(-np.sum(frequencies * np.log(frequencies))))


def plateau_length(step_loss, level, tolerance=0.02):
    """The number of steps, from the start, before the cost first falls below ``level − tolerance``."""
    below = np.flatnonzero(np.asarray(step_loss) < level - tolerance)
    return int(below[0]) if below.size else len(step_loss)


# ---------------------------------------------------------------------------
# PReLU: the slopes a network learns
# ---------------------------------------------------------------------------

#: A network ``784 → 100 PReLU → 10`` (one slope per hidden unit, starting at 0.25) on the MNIST subset.
PRELU_SETTINGS = {"sizes": (784, 100, 10), "lr": 0.1, "epochs": 5, "batch_size": 32, "seed": 0}


def train_prelu(settings=PRELU_SETTINGS):
    """Train ``mlp(sizes, "prelu")``; returns ``(network, history, slopes)`` with the learned ``slopes : (n^[1],)``."""
    s = settings
    data = load_mnist_subset()
    network = mlp(s["sizes"], "prelu", seed=s["seed"])
    assert isinstance(network.layers[1], PReLU)
    with threadpool_limits(limits=1, user_api="blas"):
        history = fit(network, data.X_train, data.y_train, SGD(lr=s["lr"]), epochs=s["epochs"],
                      batch_size=s["batch_size"], X_val=data.X_test, y_val=data.y_test, seed=s["seed"], progress=False)
    return network, history, network.layers[1].params["alpha"].copy()
