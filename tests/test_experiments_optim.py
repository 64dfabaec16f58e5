"""The formulas and results of the chapter *Optimization* (``book/optimization.md``), checked again.

The chapter and these tests call the same functions of :mod:`nnbook.experiments_optim`
with the same settings. The optimizers themselves are tested in ``test_optim.py``; this
file covers what the chapter derives (the variance of a mini-batch gradient, the two
conventions of momentum, its stability bound and rate, the bias of a running mean,
weight decay in SGD and Adam, gradient accumulation) and every claim it makes about
its experiments.
"""

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnbook.data import load_mnist_subset, make_blobs
from nnbook.experiments_optim import (
    BATCH_SIZE_SETTINGS,
    GRADIENT_NOISE_SETTINGS,
    JITTER_SETTINGS,
    LR_GRID,
    MNIST_OPTIMIZER_SETTINGS,
    MOMENTUM_SETTINGS,
    OPTIMIZERS,
    QUADRATIC,
    ROSENBROCK,
    SCHEDULE_STEPS,
    SCHEDULES,
    WEIGHT_DECAY_SETTINGS,
    Point,
    Quadratic,
    RecordingOptimizer,
    Rosenbrock,
    TorchMomentum,
    accumulated_gradients,
    accumulation_step,
    batch_size_runs,
    bias_correction_demo,
    compare_on_function,
    convergence_rate,
    cost_after_step,
    ema_weights,
    final_gap,
    jitter_runs,
    least_squares_sgd,
    minibatch_gradient_variance,
    minibatch_step_gains,
    mnist_optimizers,
    model_gradients,
    momentum_break_even,
    momentum_lr_bound,
    momentum_matrix,
    momentum_spectral_radius,
    torch_momentum_step,
    trajectory,
    tune_learning_rate,
    tune_mnist_learning_rates,
    weight_decay_paths,
)
from nnbook.gradcheck import assert_close, numerical_gradient
from nnbook.layers import mlp
from nnbook.linear_models import Adaline, adaline_gradients, adaline_hessian
from nnbook.optim import SGD, AdamW, Momentum, decoupled_weight_decay, momentum_step, rmsprop_step, sgd_step
from optional import import_torch

pytestmark = pytest.mark.ch08

PAGE = Path(__file__).resolve().parents[1] / "book" / "optimization.md"


# ---------------------------------------------------------------------------
# Mini-batches: the variance of the estimate and the expected decrease
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("m", [2, 5, 8])
def test_the_variance_of_a_minibatch_gradient_is_the_formula_over_all_batches(m):
    rng = np.random.default_rng(m)
    G = rng.normal(size=(m, 3)) + rng.normal(size=3)         # per-example gradients, not centred
    g = G.mean(axis=0)
    for B in range(1, m + 1):
        batches = list(itertools.combinations(range(m), B))   # every batch is equally likely
        exact = np.mean([np.sum((G[list(batch)].mean(axis=0) - g) ** 2) for batch in batches])
        assert np.isclose(minibatch_gradient_variance(G, B), exact, rtol=1e-12, atol=1e-15)
        sigma2 = np.mean(np.sum((G - g) ** 2, axis=1))
        assert np.isclose(exact, sigma2 / B * (m - B) / (m - 1), rtol=1e-12, atol=1e-15)
    assert minibatch_gradient_variance(G, m) == pytest.approx(0.0, abs=1e-15)   # the whole set: no error


def test_the_variance_formula_checks_the_batch_size():
    with pytest.raises(ValueError, match="batch_size must be an integer between 1 and m = 4, got 5"):
        minibatch_gradient_variance(np.zeros((4, 2)), 5)


def test_for_a_quadratic_cost_the_expected_step_has_the_full_first_order_term_and_the_noise_at_second_order():
    """The chapter's expansion, exact for a quadratic cost (Adaline): E J(θ − α ĝ_B) = J − α‖g‖² + α²/2 (gᵀHg + E eᵀHe)."""
    rng = np.random.default_rng(0)
    m, B, lr = 8, 3, 0.3
    X, y = rng.normal(size=(m, 2)), rng.normal(size=m)
    w, b = rng.normal(size=2), 0.4
    J = lambda w_, b_: adaline_gradients(X, y, w_, b_)[0]  # noqa: E731
    _, dw, db = adaline_gradients(X, y, w, b)
    g = np.append(dw, db)
    H = adaline_hessian(X)
    per_example = np.array([np.append(*adaline_gradients(X[i:i + 1], y[i:i + 1], w, b)[1:]) for i in range(m)])
    after, noise = [], []
    for batch in itertools.combinations(range(m), B):
        g_batch = per_example[list(batch)].mean(axis=0)
        assert np.allclose(g_batch, np.append(*adaline_gradients(X[list(batch)], y[list(batch)], w, b)[1:]))
        after.append(J(w - lr * g_batch[:2], b - lr * g_batch[2]))
        noise.append((g_batch - g) @ H @ (g_batch - g))
    predicted = J(w, b) - lr * g @ g + lr**2 / 2 * (g @ H @ g + np.mean(noise))
    assert np.isclose(np.mean(after), predicted, rtol=1e-12)


def test_a_replicated_training_set_has_the_gradient_of_one_copy():
    """Fleuret's thought experiment: K copies of M examples; the mean over one copy is the full gradient."""
    data = load_mnist_subset()
    X, y = data.X_train[:50], data.y_train[:50]
    network = mlp((784, 16, 10), "relu", seed=1)
    J_one, g_one = model_gradients(network, X, y)
    J_all, g_all = model_gradients(network, np.tile(X, (4, 1)), np.tile(y, 4))
    assert np.isclose(J_one, J_all, rtol=1e-12)
    for name in g_one:
        np.testing.assert_allclose(g_all[name], g_one[name], rtol=1e-10, atol=1e-14)


def test_cost_after_step_leaves_the_model_unchanged_and_is_the_cost_of_the_stepped_model():
    data = load_mnist_subset()
    X, y = data.X_train[:64], data.y_train[:64]
    network = mlp((784, 8, 10), "relu", seed=0)
    before = [np.array(p) for _, p, _ in network.params_and_grads()]
    J, grads = model_gradients(network, X, y)
    J_after = cost_after_step(network, grads, 0.1, X, y)
    for (_, p, _), saved in zip(network.params_and_grads(), before):
        np.testing.assert_array_equal(p, saved)
    SGD(0.1).step(network)
    assert np.isclose(J_after, model_gradients(network, X, y)[0], rtol=1e-12)
    assert J_after < J


@pytest.fixture(scope="module")
def gains():
    return minibatch_step_gains(GRADIENT_NOISE_SETTINGS)


def test_step_gains_have_the_shapes_and_the_claims_of_the_chapter(gains):
    s = GRADIENT_NOISE_SETTINGS
    assert gains.batch_sizes == s["batch_sizes"] and gains.trained_epochs == (0, 1)
    assert all(r.shape == (len(s["batch_sizes"]), s["n_batches"]) for r in gains.ratios)
    share = [r.mean(axis=1) for r in gains.ratios]
    b64 = s["batch_sizes"].index(64)
    assert share[0][b64] > 0.9                                # "most of a full-gradient step at 1.6% of its cost"
    assert 0.5 < share[1][b64] < share[0][b64]                # after one epoch, less
    assert share[1][0] < 0 and share[1][1] < 0.1              # batches of 4 (and 16) make the cost rise on average
    assert gains.full_decrease[1] < gains.full_decrease[0] / 2  # the full gradient's step is smaller after an epoch
    assert abs(share[0][-1] - 1) < 0.05 and abs(share[1][-1] - 1) < 0.05  # B = 1024: about the full step
    assert gains.costs[1] < gains.costs[0]
    assert 64 / 4000 == pytest.approx(0.016)


# ---------------------------------------------------------------------------
# Mini-batches: examples seen, seconds, and the recording optimizer
# ---------------------------------------------------------------------------


def test_the_recording_optimizer_counts_examples_with_a_short_last_batch():
    X, y = np.zeros((10, 3)), np.zeros(10, dtype=int)
    model = mlp((3, 2), "relu", seed=0)
    recorder = RecordingOptimizer(SGD(0.1), 10, 4, X, y, record_at=[4, 10, 14, 20])
    recorder.start(model)
    seen = []
    for _ in range(5):
        recorder.step(model)
        seen.append(recorder.seen)
    assert seen == [4, 8, 10, 14, 18]                         # batches of 4, 4, 2 per epoch
    assert [r[0] for r in recorder.records] == [0, 4, 10, 14]   # the checkpoints passed, each recorded once
    assert all(later[1] >= earlier[1] for earlier, later in zip(recorder.records, recorder.records[1:]))


@pytest.fixture(scope="module")
def runs():
    return batch_size_runs(BATCH_SIZE_SETTINGS)


def test_batch_size_runs_record_every_epoch_and_the_claims_of_the_chapter(runs):
    m = 4000
    assert sorted(runs) == [1, 10, 100, 1000]
    for B, run in runs.items():
        epochs = BATCH_SIZE_SETTINGS["epochs"][B]
        assert run.examples[0] == 0 and run.seconds[0] == 0 and run.examples[-1] == epochs * m
        assert set(m * np.arange(1, epochs + 1)) <= set(run.examples)
        assert np.all(np.diff(run.examples) > 0) and np.all(np.diff(run.seconds) >= 0)
        assert len(run.history.step_loss) == epochs * m // B
    one_epoch = {B: run.cost[run.examples == m][0] for B, run in runs.items()}
    assert one_epoch[10] <= one_epoch[1] < one_epoch[100] < one_epoch[1000]   # per example: small batches win
    assert np.max(np.diff(runs[1].cost)) > 0.1                                 # B = 1 zig-zags
    # The seconds are measured but never asserted: a timed assertion fails on a busy machine (benchmarks/ times things).


def test_batch_size_runs_are_reproducible_in_their_costs(runs):
    settings = dict(BATCH_SIZE_SETTINGS, epochs={10: 1})
    again = batch_size_runs(settings)[10]
    first = runs[10]
    assert np.array_equal(again.cost[again.examples == 4000], first.cost[first.examples == 4000])


# ---------------------------------------------------------------------------
# Gradient accumulation
# ---------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(micro=st.integers(1, 70), m=st.integers(1, 70))
def test_accumulated_gradients_equal_the_large_batch(micro, m):
    data = load_mnist_subset()
    X, y = data.X_train[:m], data.y_train[:m]
    network = mlp((784, 12, 10), "relu", seed=3)
    J_big, big = model_gradients(network, X, y)
    J_acc, acc = accumulated_gradients(network, X, y, micro)
    assert abs(J_acc - J_big) <= 1e-12 * max(1.0, abs(J_big))
    for name in big:
        np.testing.assert_allclose(acc[name], big[name], rtol=0, atol=1e-12)


def test_an_accumulation_step_is_the_large_batch_step_also_for_momentum():
    data = load_mnist_subset()
    X, y = data.X_train[:100], data.y_train[:100]
    one_pass, accumulated = mlp((784, 16, 10), "relu", seed=0), mlp((784, 16, 10), "relu", seed=0)
    opt_one, opt_acc = Momentum(0.5, 0.9), Momentum(0.5, 0.9)
    for _ in range(3):
        model_gradients(one_pass, X, y)
        opt_one.step(one_pass)
        accumulation_step(accumulated, opt_acc, X, y, 32)   # 32, 32, 32, 4
    for (name, p, _), (_, q, _) in zip(one_pass.params_and_grads(), accumulated.params_and_grads()):
        np.testing.assert_allclose(q, p, rtol=0, atol=1e-12)
        np.testing.assert_allclose(opt_acc.state[name]["v"], opt_one.state[name]["v"], rtol=0, atol=1e-12)


def test_equal_weights_for_unequal_micro_batches_are_not_the_batch_gradient():
    """The self-check's answer: the weights must be the sizes over the total."""
    data = load_mnist_subset()
    X, y = data.X_train[:100], data.y_train[:100]
    network = mlp((784, 16, 10), "relu", seed=0)
    _, big = model_gradients(network, X, y)
    parts = [model_gradients(network, X[s:s + 32], y[s:s + 32])[1] for s in range(0, 100, 32)]
    equal = {name: np.mean([p[name] for p in parts], axis=0) for name in big}
    sized = {name: sum(len(X[s:s + 32]) / 100 * p[name] for s, p in zip(range(0, 100, 32), parts)) for name in big}
    assert max(np.abs(equal[n] - big[n]).max() for n in big) > 1e-4
    assert max(np.abs(sized[n] - big[n]).max() for n in big) < 1e-12


def test_accumulation_checks_the_micro_batch_size():
    network = mlp((3, 2), "relu", seed=0)
    with pytest.raises(ValueError, match="micro_batch_size must be a positive integer, got 0"):
        accumulated_gradients(network, np.zeros((4, 3)), np.zeros(4, dtype=int), 0)


# ---------------------------------------------------------------------------
# Momentum: the two conventions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.99])
def test_the_decks_momentum_is_pytorchs_with_lr_times_one_minus_beta(beta):
    rng = np.random.default_rng(int(beta * 100))
    gradients = rng.normal(size=(50, 4))
    w_decks, v = np.zeros(4), np.zeros(4)
    w_torch, buf = np.zeros(4), np.zeros(4)
    lr = 0.7
    for t, g in enumerate(gradients):
        lr_t = lr / (1 + 0.1 * t)                                       # a schedule: the rule holds step by step
        w_decks, v = momentum_step(w_decks, g, v, lr_t, beta)
        w_torch, buf = torch_momentum_step(w_torch, g, buf, lr_t * (1 - beta), beta)
        np.testing.assert_allclose(buf, v / (1 - beta), rtol=1e-12, atol=1e-13)   # u_t = v_t / (1 − β)
        np.testing.assert_allclose(w_torch, w_decks, rtol=1e-12, atol=1e-13)


def test_torch_momentum_step_is_torch_optim_sgd_with_momentum():
    torch = import_torch()
    rng = np.random.default_rng(0)
    w0, gradients = rng.normal(size=5), rng.normal(size=(20, 5))
    parameter = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    optimizer = torch.optim.SGD([parameter], lr=0.05, momentum=0.9)
    w, buf = w0.copy(), 0.0
    for g in gradients:
        optimizer.zero_grad()
        parameter.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        w, buf = torch_momentum_step(w, g, buf, 0.05, 0.9)
        np.testing.assert_allclose(parameter.detach().numpy(), w, rtol=1e-13, atol=1e-15)
    # and the book's Momentum(lr = 0.5) takes the same steps as torch's lr = 0.05
    point = Point(w0)
    book = Momentum(0.5, 0.9)
    for g in gradients:
        point.grad[...] = g
        book.step(point)
    np.testing.assert_allclose(point.x, parameter.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_torch_momentum_optimizer_and_decks_momentum_follow_the_same_path_on_the_quadratic():
    f, x0, s = QUADRATIC["function"], QUADRATIC["x0"], MOMENTUM_SETTINGS
    decks = trajectory(f.gradient, x0, Momentum(s["lr"], s["beta"]), s["steps"])
    torch_form = trajectory(f.gradient, x0, TorchMomentum(s["lr"] * (1 - s["beta"]), s["beta"]), s["steps"])
    assert len(decks) == s["steps"] + 1
    assert np.abs(decks - torch_form).max() < 1e-12


# ---------------------------------------------------------------------------
# Momentum: the 2 × 2 recurrence, the stability bound and the rate
# ---------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(lr=st.floats(1e-3, 10), lam=st.floats(1e-2, 10), beta=st.floats(0, 0.99), x=st.floats(-5, 5), v=st.floats(-5, 5))
def test_one_momentum_step_on_a_quadratic_is_the_matrix(lr, lam, beta, x, v):
    new_x, new_v = momentum_step(np.array(x), lam * x, np.array(v), lr, beta)
    M = momentum_matrix(lr, lam, beta)
    np.testing.assert_allclose(M @ [x, v], [new_x, new_v], rtol=1e-12, atol=1e-12)
    assert np.isclose(np.trace(M), 1 + beta - lr * (1 - beta) * lam, rtol=1e-12, atol=1e-12)
    assert np.isclose(np.linalg.det(M), beta, rtol=1e-9, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(a=st.floats(1e-4, 8), beta=st.floats(0, 0.98))
def test_momentum_is_stable_exactly_below_the_bound(a, beta):
    """0 < α(1 − β)λ < 2(1 + β) ⟺ spectral radius < 1; in the complex band it is √β."""
    lam = 3.0
    lr = a / ((1 - beta) * lam)
    radius = momentum_spectral_radius(lr, lam, beta)
    edge = 2 * (1 + beta)
    if abs(a - edge) > 1e-6 and a > 1e-6:
        assert (radius < 1) == (a < edge)
        assert (lr < momentum_lr_bound(lam, beta)) == (a < edge)
    root = math.sqrt(beta)
    if (1 - root) ** 2 + 1e-6 < a < (1 + root) ** 2 - 1e-6:
        assert np.isclose(radius, root, rtol=1e-6)
    if beta == 0:
        assert np.isclose(radius, abs(1 - lr * lam), rtol=1e-9, atol=1e-12)   # plain gradient descent


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("lam", [0.04, 1.0, 4.0])
def test_momentum_runs_just_inside_the_bound_converge_and_just_outside_diverge(beta, lam):
    f = Quadratic((lam, lam))
    bound = momentum_lr_bound(lam, beta)
    inside = trajectory(f.gradient, (1.0, -2.0), Momentum(0.99 * bound, beta), 3000)
    outside = trajectory(f.gradient, (1.0, -2.0), Momentum(1.01 * bound, beta), 3000)
    assert len(inside) == 3001 and np.linalg.norm(inside[-1]) < 1e-6
    assert len(outside) < 3001                       # left the bounds of `trajectory`
    assert momentum_spectral_radius(0.99 * bound, lam, beta) < 1 < momentum_spectral_radius(1.01 * bound, lam, beta)


def test_the_bound_at_beta_zero_is_gradient_descents_and_the_chapters_numbers():
    assert momentum_lr_bound(4.0, 0.0) == pytest.approx(0.5)
    assert momentum_lr_bound(4.0, 0.9) == pytest.approx(9.5)                # the page: the bound on λ = 4
    assert momentum_lr_bound(4.0, 0.9) / momentum_lr_bound(4.0, 0.0) == pytest.approx(19)
    assert momentum_lr_bound(10.0, 0.9) == pytest.approx(3.8)               # self-check: decks' form
    assert momentum_lr_bound(10.0, 0.9) * (1 - 0.9) == pytest.approx(0.38)  # and PyTorch's
    steps_outside = len(trajectory(QUADRATIC["function"].gradient, QUADRATIC["x0"], Momentum(1.01 * 9.5, 0.9), 1000))
    assert steps_outside - 1 < 1000


def test_momentum_beats_the_best_gradient_descent_exactly_above_the_break_even_condition_number():
    for beta in (0.5, 0.9, 0.99):
        kappa_star = momentum_break_even(beta)
        gd_rate = lambda kappa: (kappa - 1) / (kappa + 1)  # noqa: E731
        assert np.isclose(gd_rate(kappa_star), math.sqrt(beta), rtol=1e-12)
        assert gd_rate(1.01 * kappa_star) > math.sqrt(beta) > gd_rate(0.99 * kappa_star)
        # momentum reaches √β on every eigenvalue only if κ fits in the complex band
        assert ((1 + math.sqrt(beta)) / (1 - math.sqrt(beta))) ** 2 > kappa_star
    assert momentum_break_even(0.9) == pytest.approx(37.97, abs=0.01)


def test_the_measured_rates_on_the_quadratic_are_the_predicted_ones():
    f, x0, s = QUADRATIC["function"], QUADRATIC["x0"], MOMENTUM_SETTINGS
    assert np.allclose(f.curvatures, [0.04, 4.0]) and f.condition_number == pytest.approx(100)
    lr_gd = 2 / f.curvatures.sum()
    assert s["lr"] == pytest.approx(2 * 2 / f.curvatures.max())  # twice the rate where gradient descent diverges
    gd = trajectory(f.gradient, x0, SGD(lr_gd), s["steps"])
    mo = trajectory(f.gradient, x0, Momentum(s["lr"], s["beta"]), s["steps"])
    kappa = f.condition_number
    assert convergence_rate(gd, f.minimum) == pytest.approx((kappa - 1) / (kappa + 1), abs=1e-4)
    assert convergence_rate(mo, f.minimum) == pytest.approx(math.sqrt(s["beta"]), abs=1e-3)
    assert np.linalg.norm(mo[-1]) < 1e-5 < 1e-2 < np.linalg.norm(gd[-1])
    # every a = lr (1 − β) λ of the bowl lies in the complex band, where the rate is √β
    a = s["lr"] * (1 - s["beta"]) * f.curvatures
    root = math.sqrt(s["beta"])
    assert np.all(((1 - root) ** 2 < a) & (a < (1 + root) ** 2))


def test_on_the_milder_bowl_the_best_gradient_descent_beats_momentum():
    """The chapter: on 0.1 x₁² + 2 x₂² (κ = 20, below the break-even 38) gradient descent's 19/21 beats √0.9."""
    milder = Quadratic((0.2, 4.0))
    assert milder.condition_number == pytest.approx(20) and milder.condition_number < momentum_break_even(0.9)
    x0 = QUADRATIC["x0"]
    gd = convergence_rate(trajectory(milder.gradient, x0, SGD(2 / milder.curvatures.sum()), 300), 0)
    mo = convergence_rate(trajectory(milder.gradient, x0, Momentum(1.0, 0.9), 300), 0)
    assert gd == pytest.approx(19 / 21, abs=1e-3) and round(19 / 21, 3) == 0.905
    assert mo == pytest.approx(math.sqrt(0.9), abs=2e-3) and gd < mo
    assert "$0.1\\,x_1^2 + 2\\,x_2^2$, with $\\kappa = 20$" in PAGE.read_text()


def test_the_test_functions_have_the_right_gradients_and_minima():
    rng = np.random.default_rng(0)
    for f in (Quadratic((0.04, 4.0)), Rosenbrock()):
        assert f(f.minimum) == f.f_min and np.allclose(f.gradient(f.minimum), 0)
        for _ in range(5):
            x = rng.normal(size=2)
            assert_close(f.gradient(x), numerical_gradient(lambda: f(x), x), "gradient", tol=1e-7)
        grid = rng.normal(size=(3, 4, 2))
        assert f(grid).shape == (3, 4)


# ---------------------------------------------------------------------------
# Adam: the bias of running means, RMSProp's first step, weight decay
# ---------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(beta=st.floats(0, 0.999), t=st.integers(1, 2000))
def test_the_weights_of_a_running_mean_started_at_zero_sum_to_one_minus_beta_t(beta, t):
    weights = ema_weights(beta, t)
    assert weights.shape == (t,)
    assert np.isclose(weights.sum(), 1 - beta**t, rtol=1e-9, atol=1e-12)
    # and they are the running mean's: m_t = Σ weights · g for any sequence g
    g = np.cos(np.arange(t))
    m = 0.0
    for value in g:
        m = beta * m + (1 - beta) * value
    assert np.isclose(m, weights @ g, rtol=1e-9, atol=1e-9)


def test_bias_correction_on_a_constant_gradient_and_the_numbers_of_the_chapter():
    demo = bias_correction_demo(steps=3000)
    t = demo.t
    np.testing.assert_allclose(demo.m, 1 - 0.9**t, rtol=1e-12)
    np.testing.assert_allclose(demo.v, 1 - 0.999**t, rtol=1e-9)
    np.testing.assert_allclose(demo.m_hat, 1.0, rtol=1e-12)
    np.testing.assert_allclose(demo.v_hat, 1.0, rtol=1e-9)
    np.testing.assert_allclose(demo.step_corrected, 1.0, rtol=1e-7)
    np.testing.assert_allclose(demo.step_uncorrected, (1 - 0.9**t) / np.sqrt(1 - 0.999**t), rtol=1e-6)
    worst = int(np.argmax(demo.step_uncorrected))
    assert demo.step_uncorrected[0] == pytest.approx(0.1 / math.sqrt(0.001), rel=1e-6)   # 3.16: self-check
    assert round(demo.step_uncorrected[0], 2) == 3.16
    assert demo.t[worst] == 12 and round(demo.step_uncorrected[worst], 1) == 6.6


def test_rmsprops_first_step_is_lr_over_the_root_of_one_minus_rho():
    w, g = np.zeros(3), np.array([2.0, -0.01, 5.0])
    new_w, _ = rmsprop_step(w, g, 0.0, lr=0.1, rho=0.9, eps=0.0)
    np.testing.assert_allclose(-new_w, 0.1 / math.sqrt(0.1) * np.sign(g), rtol=1e-12)
    assert 0.1 / math.sqrt(0.1) / 0.1 == pytest.approx(3.16, abs=0.01)


@settings(max_examples=30, deadline=None)
@given(lr=st.floats(1e-4, 1), lam=st.floats(0, 1), seed=st.integers(0, 100))
def test_with_sgd_an_l2_penalty_is_decoupled_weight_decay(lr, lam, seed):
    rng = np.random.default_rng(seed)
    w, g = rng.normal(size=4), rng.normal(size=4)
    np.testing.assert_allclose(sgd_step(w, g + lam * w, lr), sgd_step(decoupled_weight_decay(w, lr, lam), g, lr),
                               rtol=1e-12, atol=1e-14)


def test_weight_decay_in_adam_l2_against_decoupled():
    s = WEIGHT_DECAY_SETTINGS
    l2, decoupled = weight_decay_paths(s)
    assert l2.shape == decoupled.shape == (s["steps"] + 1, 2)
    t = np.arange(s["steps"] + 1)
    decay = (1 - s["lr"] * s["weight_decay"]) ** t
    np.testing.assert_allclose(decoupled[:, 1], decay, rtol=1e-12)          # no gradient: exactly (1 − αλ)^t
    assert np.max(np.abs(decoupled[:, 0] - decay)) < 0.02                  # the large gradient only wiggles it
    assert l2[1000, 0] > 0.9 and round(l2[1000, 0], 2) == 0.92              # L2: the large-gradient weight barely decays
    assert abs(l2[200, 1]) < 0.02                                           # and the other one collapses
    assert round(decoupled[1000, 1], 2) == 0.37
    # L2: the no-gradient weight moves by about lr per step at first, whatever λ
    assert 0.5 * s["lr"] < (l2[0, 1] - l2[10, 1]) / 10 <= 1.01 * s["lr"]


def test_the_decoupled_path_is_what_the_adamw_optimizer_does():
    s = WEIGHT_DECAY_SETTINGS
    _, decoupled = weight_decay_paths(s)
    point = Point(s["w0"])
    optimizer = AdamW(s["lr"], weight_decay=s["weight_decay"])
    for step in range(1, 201):
        point.grad[...] = [s["gradient_scale"] * (-1.0) ** step, 0.0]
        optimizer.step(point)
    np.testing.assert_allclose(point.x, decoupled[200], rtol=1e-12)


# ---------------------------------------------------------------------------
# Schedules and the jitter of chapter 3
# ---------------------------------------------------------------------------


def test_the_schedules_drawn_by_the_chapter():
    values = {name: np.array([schedule(t) for t in range(SCHEDULE_STEPS + 1)]) for name, schedule in SCHEDULES.items()}
    step, exponential, inverse, cosine, warm = values.values()
    assert step[249] == 0.1 and step[250] == 0.05 and step[1000] == 0.1 / 16
    assert exponential[1000] == pytest.approx(0.1 * 0.997**1000)
    assert inverse[100] == pytest.approx(0.05)
    assert cosine[0] == 0.1 and cosine[500] == pytest.approx(0.05) and cosine[1000] == pytest.approx(0)
    assert warm[0] == pytest.approx(0.001) and warm[99] == pytest.approx(0.1) and warm[1000] == pytest.approx(0)
    assert np.all(np.diff(warm[:100]) > 0) and np.all(np.diff(warm[100:]) <= 0)


def test_least_squares_sgd_with_a_constant_rate_is_chapter_3s_adaline_step_for_step():
    s = JITTER_SETTINGS
    X, y = make_blobs(s["m"], margin=s["margin"], seed=s["data_seed"])
    path, history = least_squares_sgd(X, 2.0 * y - 1, s["lr"], s["epochs"], s["batch_size"], s["seed"])
    adaline = Adaline(lr=s["lr"], epochs=s["epochs"], batch_size=s["batch_size"], seed=s["seed"],
                      record_params=True).fit(X, y)
    expected = np.array([np.append(p["w"], p["b"]) for p in adaline.history["params"]])
    assert np.array_equal(path, expected)
    assert history.loss == adaline.history["loss"]


def test_least_squares_sgd_reads_the_rate_of_step_t_from_the_schedule():
    calls = []

    def schedule(t):
        calls.append(t)
        return 0.01

    X, y = make_blobs(20, seed=1)
    path, _ = least_squares_sgd(X, 2.0 * y - 1, schedule, epochs=2, batch_size=5)
    assert calls == list(range(8)) and len(path) == 9


def test_a_decaying_rate_removes_the_jitter():
    s = JITTER_SETTINGS
    jitter = jitter_runs(s)
    X, y = make_blobs(s["m"], margin=s["margin"], seed=s["data_seed"])
    chapter3 = Adaline(lr=0.05, epochs=20, batch_size=1, seed=0).fit(X, y)
    assert np.array_equal(jitter.paths["constant"][-1], np.append(chapter3.params["w"], chapter3.params["b"]))
    last_epoch = {name: d[-200:].mean() for name, d in jitter.distances.items()}
    ratio_inverse = last_epoch["constant"] / last_epoch["1/t"]
    ratio_cosine = last_epoch["constant"] / last_epoch["cosine"]
    assert 15 < ratio_inverse < 40 and 15 < ratio_cosine < 40    # "about twenty times closer"
    # the constant rate stops improving: its last epoch is no closer than its second
    assert last_epoch["constant"] > 0.5 * jitter.distances["constant"][200:400].mean()
    # the 1/t rate keeps getting closer
    d = jitter.distances["1/t"]
    assert d[-200:].mean() < d[1800:2000].mean() < d[200:400].mean()
    assert jitter.schedules["cosine"].total_steps == 4000


def test_robbins_monro_sums_of_the_schedules():
    inverse, exponential = SCHEDULES["1/t (k = 0.01)"], SCHEDULES["exponential (γ = 0.997)"]
    partial = lambda schedule, n: sum(schedule(t) for t in range(n))  # noqa: E731
    for n in (10_000, 100_000):                                          # Σ α_t ≥ ∫ α₀/(1 + kt) dt = (α₀/k) log(1 + kn)
        assert partial(inverse, n) >= 0.1 / 0.01 * math.log(1 + 0.01 * n)
    assert partial(inverse, 100_000) - partial(inverse, 10_000) > 0.9 * 0.1 / 0.01 * math.log(10)   # per decade: unbounded
    squares = sum(inverse(t) ** 2 for t in range(100_000))
    assert squares < 0.1**2 / 0.01 * 1.01                                # Σ α_t² ≤ α₀²/k: finite
    assert partial(exponential, 100_000) == pytest.approx(0.1 / (1 - 0.997), rel=1e-6)   # the self-check's sum
    assert 0.1 / (1 - 0.99) == pytest.approx(10)


# ---------------------------------------------------------------------------
# The four optimizers on the quadratic and on Rosenbrock's function
# ---------------------------------------------------------------------------


def test_trajectory_stops_when_the_path_leaves_every_bound():
    f = Quadratic((1.0, 1.0))
    path = trajectory(f.gradient, (1.0, 1.0), SGD(3.0), 500)      # |1 − 3| = 2 per step: diverges
    assert len(path) < 501 and np.max(np.abs(path[-1])) > 1e6
    assert final_gap({"function": f, "steps": 500}, path) == math.inf


def test_tuning_picks_the_best_of_the_grid():
    for name in OPTIMIZERS:
        lr, gap = tune_learning_rate(QUADRATIC, name)
        gaps = [final_gap(QUADRATIC, trajectory(QUADRATIC["function"].gradient, QUADRATIC["x0"], OPTIMIZERS[name](x),
                                                QUADRATIC["steps"])) for x in LR_GRID]
        assert gap == min(gaps) and lr == LR_GRID[int(np.argmin(gaps))]
    assert len(LR_GRID) == 21 and LR_GRID[0] == pytest.approx(1e-4) and LR_GRID[-1] == pytest.approx(10)


def test_the_comparison_on_the_quadratic_says_what_the_chapter_says():
    results = compare_on_function(QUADRATIC)
    assert results["SGD"].lr == pytest.approx(0.316, abs=1e-3)
    above = LR_GRID[LR_GRID.index(results["SGD"].lr) + 1]
    assert results["SGD"].lr < 2 / QUADRATIC["function"].curvatures.sum() < above       # 0.495 between two grid points
    assert final_gap(QUADRATIC, trajectory(QUADRATIC["function"].gradient, QUADRATIC["x0"], SGD(above), 150)) == math.inf
    gaps = {name: r.gap for name, r in results.items()}
    assert gaps["momentum"] < 1e-7 and gaps["Adam"] < 1e-6
    assert 1e-3 < gaps["RMSProp"] < 1e-2 < gaps["SGD"] < 0.1
    # RMSProp ends oscillating around the minimum at about the scale of its learning rate
    rms_path = results["RMSProp"].path
    assert np.abs(rms_path[-20:, 1]).max() < results["RMSProp"].lr


def test_the_comparison_on_rosenbrocks_function_says_what_the_chapter_says():
    results = compare_on_function(ROSENBROCK)
    gaps = {name: r.gap for name, r in results.items()}
    assert gaps["momentum"] < 1e-10 and gaps["Adam"] < 1e-10
    assert gaps["RMSProp"] < gaps["SGD"] and 0.05 < gaps["SGD"] < 0.2
    assert np.allclose(results["momentum"].path[-1], [1, 1], atol=1e-6)
    assert np.allclose(results["Adam"].path[-1], [1, 1], atol=1e-6)
    sgd_end = results["SGD"].path[-1]
    assert 0.5 < sgd_end[0] < 0.9                                  # still in the bend of the valley


# ---------------------------------------------------------------------------
# MNIST
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def histories():
    return mnist_optimizers(MNIST_OPTIMIZER_SETTINGS)


def test_the_four_optimizers_on_mnist_say_what_the_chapter_says(histories):
    assert list(histories) == ["SGD", "momentum", "RMSProp", "Adam"]
    for history in histories.values():
        assert not history.diverged and len(history.loss) == MNIST_OPTIMIZER_SETTINGS["epochs"] + 1
    accuracies = [h.val_accuracy[-1] for h in histories.values()]
    assert max(accuracies) - min(accuracies) < 0.02                  # close together on the test set
    assert min(accuracies) > 0.9
    train = {name: h.loss[-1] for name, h in histories.items()}
    assert train["momentum"] == min(train.values()) and train["momentum"] < train["SGD"] / 2
    momentum = histories["momentum"]
    best = int(np.argmin(momentum.val_loss))
    assert best < MNIST_OPTIMIZER_SETTINGS["epochs"] and momentum.val_loss[-1] > momentum.val_loss[best]
    assert momentum.loss[-1] < momentum.loss[best]                   # while the training cost keeps falling
    assert MNIST_OPTIMIZER_SETTINGS["lr"]["Adam"] == 1e-3


@pytest.mark.parametrize("name", ["SGD", "momentum", "RMSProp", "Adam"])
def test_each_mnist_learning_rate_beats_its_neighbours_on_the_grid(name):
    grid = MNIST_OPTIMIZER_SETTINGS["lr_grid"]
    chosen = MNIST_OPTIMIZER_SETTINGS["lr"][name]
    k = grid.index(chosen)
    neighbours = grid[max(k - 1, 0):k + 2]
    costs = tune_mnist_learning_rates(MNIST_OPTIMIZER_SETTINGS, names=[name], grid=neighbours)[name]
    assert min(costs, key=costs.get) == chosen, costs
    assert 0 < k < len(grid) - 1, "the chosen rate must not sit at the edge of the grid"


# ---------------------------------------------------------------------------
# The page states the settings it runs
# ---------------------------------------------------------------------------


def test_the_page_states_the_settings_of_the_experiments():
    text = PAGE.read_text()
    curvatures = QUADRATIC["function"].curvatures
    assert f"f(x) = {curvatures[0] / 2:g}\\, x_1^2 + {curvatures[1] / 2:g}\\, x_2^2" in text
    assert "\\lambda_1 = 0.04$ and $\\lambda_2 = 4$" in text and "$\\kappa = 100$" in text
    assert f"$\\beta = {MOMENTUM_SETTINGS['beta']}$\nand $\\alpha = {MOMENTUM_SETTINGS['lr']:g}$" in text
    assert f"$\\alpha_{{\\text{{torch}}}} = {MOMENTUM_SETTINGS['lr'] * (1 - MOMENTUM_SETTINGS['beta']):.1f}$" in text
    assert "batches of 1, 10, 100 and 1,000" in text and sorted(BATCH_SIZE_SETTINGS["epochs"]) == [1, 10, 100, 1000]
    assert "learning rate 0.05" in text and BATCH_SIZE_SETTINGS["lr"] == GRADIENT_NOISE_SETTINGS["lr"] == 0.05
    assert "$\\alpha = 0.05$, 20 epochs on 200 points" in text
    assert (JITTER_SETTINGS["lr"], JITTER_SETTINGS["epochs"], JITTER_SETTINGS["m"]) == (0.05, 20, 200)
    assert "grid of 21 values from $10^{-4}$ to 10" in text
    assert "trained for 10 epochs with batches of 64" in text
    assert (MNIST_OPTIMIZER_SETTINGS["epochs"], MNIST_OPTIMIZER_SETTINGS["batch_size"]) == (10, 64)
    assert "a grid from $10^{-4}$ to 3" in text
    assert MNIST_OPTIMIZER_SETTINGS["lr_grid"][0] == 1e-4 and MNIST_OPTIMIZER_SETTINGS["lr_grid"][-1] == 3.0
    assert "Twenty batches of each size" in text and GRADIENT_NOISE_SETTINGS["n_batches"] == 20
    assert re.search(r"From\s+\$\(-1\.2, 1\)\$", text) and ROSENBROCK["x0"] == (-1.2, 1.0)
    assert "After 1,000 steps" in text and ROSENBROCK["steps"] == 1000
    assert "$\\pm 10$" in text and WEIGHT_DECAY_SETTINGS["gradient_scale"] == 10.0
    for key in ("polyak1964", "sutskever2013", "tieleman2012", "kingma2015", "loshchilov2017", "loshchilov2019",
                "goyal2017", "robbins1951", "zhang2023"):
        assert key in text, key
    assert "{graded-exercise}`ex04`" in text and "(normalization.md)" in text


# ---------------------------------------------------------------------------
# The numbers the page prints, at the precision it prints them
# ---------------------------------------------------------------------------


def test_the_numbers_the_page_quotes(gains, runs, histories):
    """Every number the chapter glues into its text, recomputed (seeded runs: the same on every machine)."""
    b64 = GRADIENT_NOISE_SETTINGS["batch_sizes"].index(64)
    share = [r.mean(axis=1) for r in gains.ratios]
    assert f"{share[0][b64]:.0%}" == "97%" and f"{share[1][b64]:.0%}" == "71%" and f"{share[1][0]:.0%}" == "-344%"
    assert f"{gains.full_decrease[0]:.3f}" == "0.055" and f"{gains.full_decrease[1]:.3f}" == "0.014"

    one_epoch = {B: run.cost[run.examples == 4000][0] for B, run in runs.items()}
    assert {B: f"{c:.2f}" for B, c in one_epoch.items()} == {1: "0.37", 10: "0.36", 100: "1.20", 1000: "2.25"}

    f, x0, s = QUADRATIC["function"], QUADRATIC["x0"], MOMENTUM_SETTINGS
    gd = trajectory(f.gradient, x0, SGD(2 / f.curvatures.sum()), s["steps"])
    mo = trajectory(f.gradient, x0, Momentum(s["lr"], s["beta"]), s["steps"])
    assert f"{convergence_rate(gd, 0):.3f}" == "0.980" and f"{convergence_rate(mo, 0):.3f}" == "0.949"
    assert f"{np.linalg.norm(gd[-1]):.1e}" == "2.5e-02" and f"{np.linalg.norm(mo[-1]):.1e}" == "1.2e-06"
    bound = momentum_lr_bound(f.curvatures.max(), s["beta"])
    outside = trajectory(f.gradient, x0, Momentum(1.01 * bound, s["beta"]), 1000)
    assert f"{bound:.2f}" == "9.50" and len(outside) - 1 == 80

    l2, decoupled = weight_decay_paths(WEIGHT_DECAY_SETTINGS)
    assert (f"{l2[1000, 0]:.2f}", f"{abs(l2[200, 1]):.3f}", f"{decoupled[1000, 1]:.2f}") == ("0.92", "0.016", "0.37")

    jitter = jitter_runs(JITTER_SETTINGS)
    last = {name: d[-200:].mean() for name, d in jitter.distances.items()}
    assert (f"{last['constant']:.3f}", f"{last['1/t']:.4f}", f"{last['cosine']:.4f}") == ("0.078", "0.0033", "0.0027")
    assert f"{last['constant'] / last['1/t']:.0f}" == "23"

    bowl = compare_on_function(QUADRATIC)
    assert (f"{bowl['SGD'].gap:.1e}", f"{bowl['SGD'].lr:.3g}") == ("4.4e-02", "0.316")
    assert (f"{bowl['momentum'].gap:.0e}", f"{bowl['RMSProp'].gap:.0e}", f"{bowl['Adam'].gap:.0e}") == (
        "9e-09", "6e-03", "2e-07")
    banana = compare_on_function(ROSENBROCK)
    assert (f"{banana['SGD'].gap:.2f}", f"{banana['RMSProp'].gap:.2f}") == ("0.10", "0.03")
    assert (f"{banana['momentum'].gap:.0e}", f"{banana['Adam'].gap:.0e}") == ("2e-14", "7e-14")

    accuracies = sorted(f"{h.val_accuracy[-1]:.1%}" for h in histories.values())
    assert (accuracies[0], accuracies[-1]) == ("92.2%", "93.2%")
    assert (f"{histories['momentum'].loss[-1]:.3f}", f"{histories['SGD'].loss[-1]:.3f}") == ("0.011", "0.067")
    momentum = histories["momentum"]
    best = int(np.argmin(momentum.val_loss))
    assert (best, f"{momentum.val_loss[best]:.3f}", f"{momentum.val_loss[-1]:.3f}") == (6, "0.245", "0.268")
