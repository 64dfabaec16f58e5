"""The experiments of the chapter *Optimization* (``book/optimization.md``), with their settings in one place.

The chapter and ``tests/test_experiments_optim.py`` call the functions below with
the settings below, so the numbers the chapter prints are the numbers the tests
check. The optimizers themselves live in :mod:`nnbook.optim`; this module only
runs them.

* Mini-batches: :func:`model_gradients` and :func:`cost_after_step`, a model's gradients
  on a batch and the cost after one step along them; :func:`minibatch_step_gains`
  (:data:`GRADIENT_NOISE_SETTINGS`), how much of a full-batch step a step on a small
  batch achieves, with :func:`minibatch_gradient_variance` the variance of its
  gradient; :class:`RecordingOptimizer` and :func:`batch_size_runs`
  (:data:`BATCH_SIZE_SETTINGS`), the cost against the examples seen and the seconds
  spent; :func:`accumulated_gradients` and :func:`accumulation_step`, gradient accumulation.
* Momentum: :func:`torch_momentum_step` and :class:`TorchMomentum`, PyTorch's convention;
  :func:`momentum_matrix`, :func:`momentum_spectral_radius`, :func:`momentum_lr_bound`
  and :func:`momentum_break_even`, its analysis on a quadratic (:data:`MOMENTUM_SETTINGS`).
* Functions of the plane and the paths of the optimizers on them: :class:`Quadratic`,
  :class:`Rosenbrock`, :class:`Point`, :func:`trajectory`, :func:`convergence_rate`,
  :func:`tune_learning_rate`, :func:`compare_on_function` (:data:`QUADRATIC`,
  :data:`ROSENBROCK`, :data:`LR_GRID`, :data:`OPTIMIZERS`).
* Adam: :func:`ema_weights` and :func:`bias_correction_demo`; :func:`weight_decay_paths`
  (:data:`WEIGHT_DECAY_SETTINGS`), L2 in Adam against decoupled weight decay.
* Schedules: :data:`SCHEDULES`; :func:`least_squares_sgd` and :func:`jitter_runs`
  (:data:`JITTER_SETTINGS`), chapter 3's stochastic gradient descent with a decaying rate.
* MNIST: :func:`mnist_optimizers` (:data:`MNIST_OPTIMIZER_SETTINGS`), the four
  optimizers on the MNIST subset, and :func:`tune_mnist_learning_rates`, how their
  learning rates were chosen.

numpy's matrix library runs on one thread in the MNIST experiments, as in
:mod:`nnbook.experiments`: products with small mini-batches gain nothing from
threads, and timings on a busy machine stay meaningful.
"""

import math
import time
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from .data import load_mnist_subset, make_blobs
from .layers import mlp
from .linear_models import adaline_gradients
from .losses import SoftmaxCrossEntropy
from .optim import (
    SGD,
    Adam,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    Momentum,
    Optimizer,
    RMSProp,
    StepDecay,
    Warmup,
    adam_step,
    as_schedule,
    decoupled_weight_decay,
    minibatch_indices,
    sgd_step,
)
from .perceptron import labels_to_signs
from .train import History, evaluate, fit, training_loop

# ---------------------------------------------------------------------------
# Gradients of a model on a batch
# ---------------------------------------------------------------------------


def model_gradients(model, X, y, loss=None):
    """One forward and backward pass of ``model`` on ``X : (m, n_x)``, ``y : (m,)``; returns ``(J, grads)``.

    ``J`` is the mean cost of the batch and ``grads`` a dict ``name → copy`` of
    the gradient of every parameter (names as in ``model.params_and_grads()``).
    """
    loss = loss or SoftmaxCrossEntropy(check=False)
    J = loss.forward(model.forward(X), y)
    model.backward(loss.backward())
    return float(J), {name: np.array(grad) for name, _, grad in model.params_and_grads()}


def cost_after_step(model, grads, lr, X, y, loss=None):
    """The mean cost on ``(X, y)`` after one step ``θ ← θ − lr · grads[θ]``; the model is left as it was."""
    loss = loss or SoftmaxCrossEntropy(check=False)
    saved = {name: np.array(param) for name, param, _ in model.params_and_grads()}
    for name, param, _ in model.params_and_grads():
        param[...] = sgd_step(saved[name], grads[name], lr)
    try:
        return float(loss.forward(model.forward(X), y))
    finally:
        for name, param, _ in model.params_and_grads():
            param[...] = saved[name]


# ---------------------------------------------------------------------------
# Mini-batches: how good is the gradient of a small batch?
# ---------------------------------------------------------------------------


def minibatch_gradient_variance(per_example_grads, batch_size):
    """``E ‖ĝ_B − g‖²`` for the mean ``ĝ_B`` of a batch of ``B`` examples drawn without replacement.

    ``per_example_grads : (m, p)`` holds the gradient of each example's loss, ``g``
    is their mean. With ``σ² = (1/m) Σᵢ ‖gᵢ − g‖²`` (how much the examples
    disagree), ``E ‖ĝ_B − g‖² = σ² (m − B) / (B (m − 1))``: it falls like ``1/B``,
    vanishes at ``B = m``, and for ``m ≫ B`` does not depend on ``m``.
    """
    G = np.asarray(per_example_grads, dtype=np.float64)
    m = G.shape[0]
    if not (isinstance(batch_size, (int, np.integer)) and 1 <= batch_size <= m):
        raise ValueError(f"batch_size must be an integer between 1 and m = {m}, got {batch_size!r}")
    sigma2 = np.mean(np.sum((G - G.mean(axis=0)) ** 2, axis=1))
    return float(sigma2 * (m - batch_size) / (batch_size * (m - 1))) if m > 1 else 0.0


#: How much of a full-batch step does a step on a batch of ``B`` examples achieve? The MLP
#: ``784 → 64 → 10`` at its initial weights, and after ``trained_epochs`` more epochs of SGD;
#: ``n_batches`` random batches of each size.
GRADIENT_NOISE_SETTINGS = {
    "sizes": (784, 64, 10),
    "activation": "relu",
    "lr": 0.05,
    "batch_sizes": (4, 16, 64, 256, 1024),
    "n_batches": 20,
    "trained_epochs": (0, 1),
    "train_batch_size": 64,
    "seed": 0,
}


class StepGains(NamedTuple):
    """What :func:`minibatch_step_gains` returns, one entry per number of epochs trained before measuring."""

    batch_sizes: tuple
    trained_epochs: tuple
    costs: list  # the full training cost J before the step
    full_decrease: list  # J − J(after a step with the full gradient)
    ratios: list  # (n_batch_sizes, n_batches) arrays: decrease with a batch's gradient / full_decrease


def minibatch_step_gains(settings=GRADIENT_NOISE_SETTINGS):
    """The decrease of the full training cost after one step of size ``lr`` on the gradient of a random batch.

    For each batch size ``B``, ``n_batches`` batches are drawn without replacement
    (seeded); the decrease of the cost on all 4,000 training images is divided by
    the decrease that a step with the full gradient achieves from the same weights.
    A ratio near 1 means the batch's gradient was as useful as the full one, for
    ``B / 4000`` of its cost.
    """
    s = settings
    data = load_mnist_subset()
    X, y = data.X_train, data.y_train
    rng = np.random.default_rng(s["seed"])
    costs, full_decrease, ratios = [], [], []
    with threadpool_limits(limits=1, user_api="blas"):
        for epochs in s["trained_epochs"]:
            model = mlp(s["sizes"], s["activation"], seed=s["seed"])
            if epochs:
                fit(model, X, y, SGD(s["lr"]), epochs=epochs, batch_size=s["train_batch_size"], seed=s["seed"],
                    progress=False)
            J, g = model_gradients(model, X, y)
            full = J - cost_after_step(model, g, s["lr"], X, y)
            table = np.empty((len(s["batch_sizes"]), s["n_batches"]))
            for row, B in enumerate(s["batch_sizes"]):
                for k in range(s["n_batches"]):
                    batch = rng.choice(len(X), B, replace=False)
                    _, g_batch = model_gradients(model, X[batch], y[batch])
                    table[row, k] = (J - cost_after_step(model, g_batch, s["lr"], X, y)) / full
            costs.append(J)
            full_decrease.append(full)
            ratios.append(table)
    return StepGains(tuple(s["batch_sizes"]), tuple(s["trained_epochs"]), costs, full_decrease, ratios)


# ---------------------------------------------------------------------------
# Mini-batches: the cost against the examples seen and against the seconds
# ---------------------------------------------------------------------------


class RecordingOptimizer:
    """Wrap an optimizer: after each of its steps, count the examples seen and the seconds spent training.

    ``m`` is the number of training examples and ``batch_size`` the mini-batch size
    of the run (the last batch of an epoch may be smaller). At the checkpoints
    ``record_at`` (numbers of examples seen) the cost on ``(X_eval, y_eval)`` is
    measured and ``records`` gets ``(examples_seen, seconds, cost)``. The seconds
    are those of training: the clock starts at :meth:`start` and stops while the
    wrapper evaluates.
    """

    def __init__(self, optimizer, m, batch_size, X_eval, y_eval, record_at):
        self.optimizer = optimizer
        self.sizes = [len(batch) for batch in minibatch_indices(m, batch_size, shuffle=False)]
        self.X_eval, self.y_eval = X_eval, y_eval
        self.record_at = np.sort(np.asarray(record_at))
        self.records = []
        self.steps = 0
        self.seen = 0
        self.seconds = 0.0
        self._next = 0  # the index of the next checkpoint in record_at
        self._mark = None

    def start(self, model):
        """Record the cost before training (0 examples, 0 seconds) and start the clock."""
        self._record(model)
        self._mark = time.perf_counter()

    def step(self, model):
        self.optimizer.step(model)
        self.seconds += time.perf_counter() - self._mark
        self.seen += self.sizes[self.steps % len(self.sizes)]
        self.steps += 1
        if self._next < len(self.record_at) and self.record_at[self._next] <= self.seen:
            self._record(model)
            self._next = int(np.searchsorted(self.record_at, self.seen, side="right"))
        self._mark = time.perf_counter()

    def _record(self, model):
        cost, _ = evaluate(model, self.X_eval, self.y_eval)
        self.records.append((self.seen, self.seconds, cost))


#: Mini-batch SGD on the MNIST subset with several batch sizes and one learning rate. Each
#: batch size runs its own number of epochs (so that the runs last about as long); the cost
#: is measured on ``eval_size`` training images at ``n_records`` checkpoints spaced evenly on
#: a log scale of the examples seen, and at the end of every epoch.
BATCH_SIZE_SETTINGS = {
    "sizes": (784, 64, 10),
    "activation": "relu",
    "lr": 0.05,
    "epochs": {1: 1, 10: 8, 100: 16, 1000: 40},
    "eval_size": 1000,
    "n_records": 30,
    "seed": 0,
}


class BatchSizeRun(NamedTuple):
    """One run of :func:`batch_size_runs`: arrays of the examples seen, the seconds of training and the cost."""

    batch_size: int
    examples: np.ndarray
    seconds: np.ndarray
    cost: np.ndarray
    history: History


def batch_size_runs(settings=BATCH_SIZE_SETTINGS):
    """Train the same MLP from the same weights with each batch size of ``settings["epochs"]``; ``{B: BatchSizeRun}``.

    The learning rate, the initial weights and the shuffling seed are the same
    for all; only the batch size (and the number of epochs) changes.
    """
    s = settings
    data = load_mnist_subset()
    X, y = data.X_train, data.y_train
    X_eval, y_eval = X[: s["eval_size"]], y[: s["eval_size"]]
    runs = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for B, epochs in s["epochs"].items():
            total = epochs * len(X)
            record_at = np.unique(np.concatenate([np.geomspace(B, total, s["n_records"]).astype(int),
                                                  len(X) * np.arange(1, epochs + 1)]))  # and every epoch's end
            model = mlp(s["sizes"], s["activation"], seed=s["seed"])
            optimizer = RecordingOptimizer(SGD(s["lr"]), len(X), B, X_eval, y_eval, record_at)
            optimizer.start(model)
            history = fit(model, X, y, optimizer, epochs=epochs, batch_size=B, seed=s["seed"], progress=False,
                          history_sample=100)
            examples, seconds, cost = (np.array(column) for column in zip(*optimizer.records))
            runs[B] = BatchSizeRun(B, examples, seconds, cost, history)
    return runs


# ---------------------------------------------------------------------------
# Gradient accumulation
# ---------------------------------------------------------------------------


def accumulated_gradients(model, X, y, micro_batch_size, loss=None):
    """The gradient of the mean cost over ``X : (m, n_x)``, computed ``micro_batch_size`` examples at a time.

    The cost of a batch is a mean, so the gradient of the whole batch is the mean
    of the micro-batches' gradients weighted by their sizes:
    ``dθ = Σ_k (m_k / m) dθ_k``, where micro-batch ``k`` holds ``m_k`` examples
    (the last one may be smaller). Only one micro-batch's activations are in memory
    at a time. Returns ``(J, grads)``, the cost of the whole batch and a dict
    ``name → gradient``, equal to those of one pass on the whole batch.
    """
    if not (isinstance(micro_batch_size, (int, np.integer)) and micro_batch_size >= 1):
        raise ValueError(f"micro_batch_size must be a positive integer, got {micro_batch_size!r}")
    m = len(X)
    total_J, total = 0.0, {name: np.zeros_like(param) for name, param, _ in model.params_and_grads()}
    for start in range(0, m, micro_batch_size):
        X_micro, y_micro = X[start : start + micro_batch_size], y[start : start + micro_batch_size]
        J, grads = model_gradients(model, X_micro, y_micro, loss)
        weight = len(X_micro) / m
        total_J += weight * J
        for name in total:
            total[name] += weight * grads[name]
    return total_J, total


def accumulation_step(model, optimizer, X, y, micro_batch_size, loss=None):
    """One optimizer step on the batch ``(X, y)``, its gradient accumulated over micro-batches; returns the cost ``J``.

    The accumulated gradients are written into the model's gradient arrays, then
    ``optimizer.step(model)`` runs as after an ordinary backward pass.
    """
    J, grads = accumulated_gradients(model, X, y, micro_batch_size, loss)
    for name, _, grad in model.params_and_grads():
        grad[...] = grads[name]
    optimizer.step(model)
    return J


# ---------------------------------------------------------------------------
# Momentum: PyTorch's convention, and the analysis on a quadratic
# ---------------------------------------------------------------------------


def torch_momentum_step(w, dw, buf, lr, beta=0.9):
    """Momentum as ``torch.optim.SGD(momentum=β)`` writes it; returns ``(w_new, buf_new)``.

    ``buf ← β buf + dw`` (``buf = 0`` before the first step, so the first step sets
    ``buf = dw``, as PyTorch does), then ``w ← w − lr · buf``. It is
    :func:`nnbook.optim.momentum_step` with ``buf = v / (1 − β)``: the same steps
    when ``lr_torch = lr (1 − β)``.
    """
    buf = beta * buf + dw
    return w - lr * buf, buf


class TorchMomentum(Optimizer):
    """Momentum in PyTorch's convention (:func:`torch_momentum_step`), as an optimizer; ``state[name]["buf"]``."""

    def __init__(self, lr=0.01, beta=0.9):
        super().__init__(lr)
        self.beta = beta

    def update(self, w, dw, state, lr):
        new_w, state["buf"] = torch_momentum_step(w, dw, state.get("buf", 0.0), lr, self.beta)
        return new_w


def momentum_matrix(lr, curvature, beta=0.9):
    """The matrix ``M`` of one momentum step (decks' form) on ``f(x) = ½ λ x²``: ``(x, v)_{t+1} = M (x, v)_t``.

    With ``dw = λ x``: ``v ← β v + (1 − β) λ x`` and ``x ← x − lr · v``, so
    ``M = [[1 − lr (1 − β) λ, −lr β], [(1 − β) λ, β]]``, of trace
    ``1 + β − lr (1 − β) λ`` and determinant ``β``.
    """
    a = lr * (1.0 - beta) * curvature
    return np.array([[1.0 - a, -lr * beta], [(1.0 - beta) * curvature, beta]])


def momentum_spectral_radius(lr, curvature, beta=0.9):
    """The largest modulus of the eigenvalues of :func:`momentum_matrix`: the error shrinks iff it is below 1."""
    return float(np.max(np.abs(np.linalg.eigvals(momentum_matrix(lr, curvature, beta)))))


def momentum_lr_bound(curvature, beta=0.9):
    """The largest stable learning rate of momentum (decks' form) on curvature ``λ``: ``2 (1 + β) / ((1 − β) λ)``.

    ``β = 0`` gives plain gradient descent's ``2 / λ``.
    """
    return 2.0 * (1.0 + beta) / ((1.0 - beta) * curvature)


def momentum_break_even(beta=0.9):
    """The condition number ``κ = λ_max / λ_min`` above which momentum ``β`` beats the best gradient descent.

    Gradient descent with its best rate shrinks the error by ``(κ − 1)/(κ + 1)``
    per step; momentum, when every ``lr (1 − β) λ`` lies in
    ``[(1 − √β)², (1 + √β)²]`` (complex eigenvalues), by ``√β``. The two are equal at
    ``κ = (1 + √β) / (1 − √β)``.
    """
    root = math.sqrt(beta)
    return (1.0 + root) / (1.0 - root)


# ---------------------------------------------------------------------------
# Functions of the plane, and the paths of the optimizers on them
# ---------------------------------------------------------------------------


class Quadratic:
    """``f(x) = ½ (λ₁ x₁² + λ₂ x₂²)``: a bowl with curvatures ``λ₁``, ``λ₂`` along the axes; minimum 0 at 0."""

    def __init__(self, curvatures=(0.04, 4.0)):
        self.curvatures = np.asarray(curvatures, dtype=np.float64)
        self.minimum, self.f_min = np.zeros(2), 0.0

    def __repr__(self):
        return f"Quadratic(curvatures={tuple(self.curvatures.tolist())})"

    def __call__(self, x):
        """``f`` at points ``x : (..., 2)``; shape ``(...)``."""
        x = np.asarray(x, dtype=np.float64)
        return 0.5 * np.sum(self.curvatures * x**2, axis=-1)

    def gradient(self, x):
        """``∇f(x) = (λ₁ x₁, λ₂ x₂)`` at one point ``x : (2,)``."""
        return self.curvatures * x

    @property
    def condition_number(self):
        return float(self.curvatures.max() / self.curvatures.min())


class Rosenbrock:
    """``f(x) = (1 − x₁)² + 100 (x₂ − x₁²)²``: a curved, narrow valley, minimum 0 at ``(1, 1)``; not convex."""

    def __init__(self):
        self.minimum, self.f_min = np.ones(2), 0.0

    def __repr__(self):
        return "Rosenbrock()"

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float64)
        return (1.0 - x[..., 0]) ** 2 + 100.0 * (x[..., 1] - x[..., 0] ** 2) ** 2

    def gradient(self, x):
        x1, x2 = x
        return np.array([-2.0 * (1.0 - x1) - 400.0 * x1 * (x2 - x1**2), 200.0 * (x2 - x1**2)])


class Point:
    """A point of the plane as a model with one parameter ``"x"`` of shape ``(2,)``, for the optimizers to move."""

    def __init__(self, x0):
        self.x = np.array(x0, dtype=np.float64)
        self.grad = np.zeros_like(self.x)

    def params_and_grads(self):
        yield "x", self.x, self.grad


#: Where the paths start, how many steps they take, and the test function.
QUADRATIC = {"function": Quadratic((0.04, 4.0)), "x0": (-10.0, 1.0), "steps": 150}
ROSENBROCK = {"function": Rosenbrock(), "x0": (-1.2, 1.0), "steps": 1000}

#: The learning rates tried for each optimizer on the functions of the plane: 10⁻⁴ to 10, a factor 10^¼ apart.
LR_GRID = tuple(float(lr) for lr in np.logspace(-4, 1, 21))

#: The four optimizers of the comparisons, as functions of the learning rate; β = 0.9 (decks' form),
#: ρ = 0.9, β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
OPTIMIZERS = {
    "SGD": lambda lr: SGD(lr),
    "momentum": lambda lr: Momentum(lr, beta=0.9),
    "RMSProp": lambda lr: RMSProp(lr, rho=0.9),
    "Adam": lambda lr: Adam(lr, beta1=0.9, beta2=0.999),
}


def trajectory(gradient, x0, optimizer, steps):
    """The path of ``optimizer`` from ``x0`` on a function of the plane with gradient ``gradient``: an array ``(k, 2)``.

    Row 0 is ``x0``, row ``t`` the point after ``t`` steps; ``k = steps + 1``, unless
    the path left every bound (a coordinate above 10⁶ or not finite), where it stops.
    """
    point = Point(x0)
    path = [point.x.copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            point.grad[...] = gradient(point.x)
            optimizer.step(point)
            path.append(point.x.copy())
            if not (np.all(np.isfinite(point.x)) and np.max(np.abs(point.x)) <= 1e6):
                break
    return np.array(path)


def convergence_rate(path, minimum):
    """The factor by which the distance to ``minimum`` shrinks per step along ``path``, fitted on a log scale.

    ``exp`` of the slope of the least-squares line through ``(t, log d_t)``, with
    ``d_t = ‖x_t − minimum‖``: a path that oscillates as it converges (momentum) gets
    its average rate. Compare it with a predicted rate, ``(κ − 1)/(κ + 1)`` for
    gradient descent, ``√β`` for momentum.
    """
    distances = np.linalg.norm(np.asarray(path) - minimum, axis=1)
    slope = np.polyfit(np.arange(len(distances)), np.log(distances), 1)[0]
    return float(np.exp(slope))


#: Gradient descent and momentum on :data:`QUADRATIC`: gradient descent at its best rate
#: ``2 / (λ₁ + λ₂)`` (chapter 3), momentum (decks' form) at ``lr`` and ``beta``.
MOMENTUM_SETTINGS = {"lr": 1.0, "beta": 0.9, "steps": 300}


def final_gap(problem, path):
    """``f(x_T) − f_min`` at the end of a path of ``problem["steps"]`` steps; infinity if it diverged."""
    f = problem["function"]
    if len(path) < problem["steps"] + 1:
        return math.inf
    return float(f(path[-1]) - f.f_min)


def tune_learning_rate(problem, name, grid=LR_GRID):
    """The learning rate of ``grid`` with which optimizer ``name`` ends closest to the minimum of ``problem``.

    Returns ``(lr, gap)``, the gap ``f(x_T) − f_min`` after ``problem["steps"]`` steps.
    """
    gaps = [final_gap(problem, trajectory(problem["function"].gradient, problem["x0"], OPTIMIZERS[name](lr),
                                          problem["steps"])) for lr in grid]
    best = int(np.argmin(gaps))
    return grid[best], gaps[best]


class Comparison(NamedTuple):
    """One optimizer of :func:`compare_on_function`: its tuned learning rate, its path and the final gap."""

    lr: float
    path: np.ndarray
    gap: float


def compare_on_function(problem, grid=LR_GRID):
    """Tune the learning rate of each of the four :data:`OPTIMIZERS` on ``problem``; a dict ``name → Comparison``."""
    results = {}
    for name in OPTIMIZERS:
        lr, gap = tune_learning_rate(problem, name, grid)
        path = trajectory(problem["function"].gradient, problem["x0"], OPTIMIZERS[name](lr), problem["steps"])
        results[name] = Comparison(lr, path, gap)
    return results


# ---------------------------------------------------------------------------
# Adam: the bias of a running mean started at zero, and weight decay
# ---------------------------------------------------------------------------


def ema_weights(beta, t):
    """The weights ``(1 − β) β^{t−s}`` of ``g₁, …, g_t`` in the running mean ``m_t`` (``m ← β m + (1 − β) g``, ``m₀ = 0``).

    Returns an array ``(t,)``; its sum is ``1 − βᵗ``, not 1: the mean is biased towards 0.
    """
    s = np.arange(1, t + 1)
    return (1.0 - beta) * beta ** (t - s)


class BiasCorrection(NamedTuple):
    """The running means of a constant gradient, without and with Adam's correction, and Adam's step ``/ lr``."""

    t: np.ndarray
    m: np.ndarray
    m_hat: np.ndarray
    v: np.ndarray
    v_hat: np.ndarray
    step_uncorrected: np.ndarray
    step_corrected: np.ndarray


def bias_correction_demo(steps=3000, gradient=1.0, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam's running means on a constant gradient ``g``, for ``t = 1, …, steps``.

    ``m_t = (1 − β₁ᵗ) g`` and ``v_t = (1 − β₂ᵗ) g²`` start near 0; the corrected
    ``m̂ = m / (1 − β₁ᵗ)`` and ``v̂ = v / (1 − β₂ᵗ)`` equal ``g`` and ``g²`` from the
    first step. The step ``m / (√v + ε)`` without correction, divided by the
    learning rate, is ``(1 − β₁ᵗ) / √(1 − β₂ᵗ)`` (for ``ε → 0``); with it, 1.
    """
    m = v = 0.0
    rows = []
    for t in range(1, steps + 1):
        m = beta1 * m + (1.0 - beta1) * gradient
        v = beta2 * v + (1.0 - beta2) * gradient**2
        m_hat, v_hat = m / (1.0 - beta1**t), v / (1.0 - beta2**t)
        rows.append((t, m, m_hat, v, v_hat, m / (math.sqrt(v) + eps), m_hat / (math.sqrt(v_hat) + eps)))
    return BiasCorrection(*(np.array(column) for column in zip(*rows)))


#: Two weights trained by Adam: the first has a large data gradient that alternates in sign
#: (``±gradient_scale``, a noisy but unbiased gradient of mean 0), the second none. Weight decay
#: ``λ`` either added to the gradient (L2) or decoupled (AdamW).
WEIGHT_DECAY_SETTINGS = {"lr": 0.01, "weight_decay": 0.1, "gradient_scale": 10.0, "steps": 1000, "w0": (1.0, 1.0)}


def weight_decay_paths(settings=WEIGHT_DECAY_SETTINGS):
    """The two weights under Adam with L2 (``λ w`` added to the gradient) and under AdamW: two arrays ``(steps + 1, 2)``.

    The data gradient at step ``t`` is ``(c (−1)ᵗ, 0)`` with ``c = gradient_scale``. With
    L2, Adam divides ``λ w`` by the root mean square of the whole gradient: the first
    weight, whose gradient is large, barely decays, and the second, whose gradient is
    only ``λ w``, moves by about ``lr`` per step whatever ``λ``. Decoupled decay shrinks
    both by ``(1 − lr λ)`` per step.
    """
    s = settings
    lr, lam = s["lr"], s["weight_decay"]
    paths = {}
    for name in ("L2", "decoupled"):
        w = np.array(s["w0"], dtype=np.float64)
        m = v = np.zeros(2)
        path = [w.copy()]
        for t in range(1, s["steps"] + 1):
            data_gradient = np.array([s["gradient_scale"] * (-1.0) ** t, 0.0])
            if name == "L2":
                w, m, v = adam_step(w, data_gradient + lam * w, m, v, t, lr)
            else:
                w, m, v = adam_step(decoupled_weight_decay(w, lr, lam), data_gradient, m, v, t, lr)
            path.append(w.copy())
        paths[name] = np.array(path)
    return paths["L2"], paths["decoupled"]


# ---------------------------------------------------------------------------
# Learning-rate schedules
# ---------------------------------------------------------------------------

#: The schedules the chapter draws, over ``SCHEDULE_STEPS`` steps from ``α₀ = 0.1``.
SCHEDULE_STEPS = 1000
SCHEDULES = {
    "step (×0.5 every 250)": StepDecay(0.1, drop=0.5, every=250),
    "exponential (γ = 0.997)": ExponentialDecay(0.1, gamma=0.997),
    "1/t (k = 0.01)": InverseTimeDecay(0.1, k=0.01),
    "cosine (T = 1000)": CosineDecay(0.1, total_steps=SCHEDULE_STEPS),
    "warm-up (100) + cosine": Warmup(CosineDecay(0.1, total_steps=SCHEDULE_STEPS - 100), steps=100),
}


def least_squares_sgd(X, targets, lr, epochs, batch_size, seed=0):
    """Mini-batch gradient descent on Adaline's cost from ``w = 0, b = 0``, with a learning rate or a schedule.

    ``X : (m, n_x)``, ``targets : (m,)``. The epochs run in the package's one loop,
    :func:`nnbook.train.training_loop`, with the shuffling of ``seed``, exactly as
    :class:`nnbook.linear_models.Adaline` trains; step ``t`` (from 0) uses
    ``schedule(t)``. Returns ``(path, history)``: the parameters ``θ = (w, b)``
    before the first step and after every step, an array ``(steps + 1, n_x + 1)``.
    """
    schedule = as_schedule(lr)
    w, b = np.zeros(X.shape[1]), 0.0
    path, grads, history = [np.append(w, b)], {}, History()

    def step(batch):
        J, grads["w"], grads["b"] = adaline_gradients(X[batch], targets[batch], w, b)
        return J

    def update():
        nonlocal w, b
        lr_t = schedule(len(path) - 1)
        w, b = sgd_step(w, grads["w"], lr_t), sgd_step(b, grads["b"], lr_t)
        path.append(np.append(w, b))

    def record():
        J = adaline_gradients(X, targets, w, b)[0]
        history.loss.append(J)
        return J

    training_loop(step, update, X.shape[0], epochs, batch_size, np.random.default_rng(seed), record, history)
    return np.array(path), history


#: Chapter 3's stochastic gradient descent (``B = 1``, ``α = 0.05``, 20 epochs on 200 blobs),
#: with a constant rate as there, and with two decaying ones.
JITTER_SETTINGS = {"m": 200, "margin": 0.5, "data_seed": 0, "lr": 0.05, "epochs": 20, "batch_size": 1, "seed": 0,
                   "k": 0.01}


class JitterRuns(NamedTuple):
    """What :func:`jitter_runs` returns: the exact minimum, and for each schedule its path and distances to it."""

    theta_star: np.ndarray
    paths: dict
    distances: dict
    schedules: dict


def jitter_runs(settings=JITTER_SETTINGS):
    """Stochastic gradient descent on chapter 3's blobs with a constant, a ``1/t`` and a cosine learning rate.

    ``θ* = (w*, b*)`` is the least-squares solution (``np.linalg.lstsq``); the
    distance ``‖θ_t − θ*‖`` after every step measures the jitter.
    """
    s = settings
    X, y = make_blobs(s["m"], margin=s["margin"], seed=s["data_seed"])
    targets = labels_to_signs(y)
    theta_star = np.linalg.lstsq(np.hstack([X, np.ones((len(X), 1))]), targets, rcond=None)[0]
    total = s["epochs"] * math.ceil(s["m"] / s["batch_size"])
    schedules = {
        "constant": s["lr"],
        "1/t": InverseTimeDecay(s["lr"], k=s["k"]),
        "cosine": CosineDecay(s["lr"], total_steps=total),
    }
    paths, distances = {}, {}
    for name, schedule in schedules.items():
        paths[name], _ = least_squares_sgd(X, targets, schedule, s["epochs"], s["batch_size"], s["seed"])
        distances[name] = np.linalg.norm(paths[name] - theta_star, axis=1)
    return JitterRuns(theta_star, paths, distances, schedules)


# ---------------------------------------------------------------------------
# The four optimizers on MNIST
# ---------------------------------------------------------------------------

#: The MLP ``784 → 64 → 10`` (ReLU) trained by each optimizer with the same batches, initial
#: weights and epochs. The learning rates were tuned once, by :func:`tune_mnist_learning_rates`
#: (the grid ``lr_grid``, the lowest validation cost after ``epochs`` epochs on 3,000 training
#: images, scored on the other 1,000; the test images were not used), and are fixed here.
MNIST_OPTIMIZER_SETTINGS = {
    "sizes": (784, 64, 10),
    "activation": "relu",
    "epochs": 10,
    "batch_size": 64,
    "seed": 0,
    "lr": {"SGD": 0.3, "momentum": 1.0, "RMSProp": 0.001, "Adam": 0.001},
    "lr_grid": (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
    "n_validation": 1000,
}


def _train_mnist(settings, name, lr, X, y, X_val, y_val):
    s = settings
    model = mlp(s["sizes"], s["activation"], seed=s["seed"])
    history = fit(model, X, y, OPTIMIZERS[name](lr), epochs=s["epochs"], batch_size=s["batch_size"], X_val=X_val,
                  y_val=y_val, seed=s["seed"], progress=False, history_sample=None)
    return model, history


def mnist_optimizers(settings=MNIST_OPTIMIZER_SETTINGS):
    """Train the MLP with each of the four :data:`OPTIMIZERS` at its learning rate of ``settings["lr"]``.

    Trained on the 4,000 training images, scored on the 1,000 test images after every
    epoch (``val_loss``, ``val_accuracy``). Returns a dict ``name → History``.
    """
    data = load_mnist_subset()
    with threadpool_limits(limits=1, user_api="blas"):
        return {name: _train_mnist(settings, name, lr, data.X_train, data.y_train, data.X_test, data.y_test)[1]
                for name, lr in settings["lr"].items()}


def tune_mnist_learning_rates(settings=MNIST_OPTIMIZER_SETTINGS, names=None, grid=None):
    """The validation cost after ``epochs`` epochs for each optimizer and learning rate: a dict ``name → {lr: cost}``.

    The last ``n_validation`` training images are held out and the model trains on the
    others; the test images are not used. A run that diverges scores infinity. This
    is how the learning rates of :data:`MNIST_OPTIMIZER_SETTINGS` were chosen (the one of
    lowest cost); it takes about a minute, so the chapter does not run it.
    """
    s = settings
    data = load_mnist_subset()
    n = len(data.X_train) - s["n_validation"]
    X, y, X_val, y_val = data.X_train[:n], data.y_train[:n], data.X_train[n:], data.y_train[n:]
    results = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name in names or OPTIMIZERS:
            results[name] = {}
            for lr in grid or s["lr_grid"]:
                _, history = _train_mnist(s, name, lr, X, y, X_val, y_val)
                results[name][lr] = math.inf if history.diverged else history.val_loss[-1]
    return results
