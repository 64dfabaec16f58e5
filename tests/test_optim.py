"""Tests of nnbook/optim.py: the gradient step, mini-batches, the optimizers and schedules (against torch.optim)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnbook import optim
from nnbook.layers import Linear, ReLU, Sequential
from optional import import_torch


def test_gradient_descent_step_moves_against_the_gradient():
    params = {"w": np.array([1.0, -2.0]), "b": 0.5}
    new = optim.gradient_descent_step(params, {"w": np.array([0.5, -1.0]), "b": 2.0}, lr=0.1)
    np.testing.assert_allclose(new["w"], [0.95, -1.9])
    assert new["b"] == pytest.approx(0.3)
    np.testing.assert_array_equal(params["w"], [1.0, -2.0])  # untouched


def test_gradient_descent_step_errors():
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        optim.gradient_descent_step({"w": np.zeros(2)}, {"w": np.zeros(2)}, lr=-1)
    with pytest.raises(ValueError, match=r"names must match"):
        optim.gradient_descent_step({"w": np.zeros(2)}, {"W": np.zeros(2)}, lr=0.1)
    with pytest.raises(ValueError, match=r"grads\['w'\] has shape \(3,\), params\['w'\] has \(2,\)"):
        optim.gradient_descent_step({"w": np.zeros(2)}, {"w": np.zeros(3)}, lr=0.1)


@given(st.integers(1, 200), st.integers(1, 64), st.integers(0, 100))
def test_minibatches_partition_the_examples(m, batch_size, seed):
    batches = optim.minibatch_indices(m, batch_size, np.random.default_rng(seed))
    assert len(batches) == -(-m // batch_size)
    assert all(len(b) == batch_size for b in batches[:-1])
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(m))


def test_minibatches_are_reproducible_and_reshuffled_each_epoch():
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    first = optim.minibatch_indices(10, 4, rng_a)
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(optim.minibatch_indices(10, 4, rng_b)))
    second = optim.minibatch_indices(10, 4, rng_a)
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))
    np.testing.assert_array_equal(np.concatenate(optim.minibatch_indices(5, 2, None, shuffle=False)), np.arange(5))


def test_minibatches_without_a_generator_are_seeded():
    first = np.concatenate(optim.minibatch_indices(10, 3))
    np.testing.assert_array_equal(first, np.concatenate(optim.minibatch_indices(10, 3)))
    assert not np.array_equal(first, np.arange(10))


@pytest.mark.parametrize("bad", [0, -1, 2.5, None])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        optim.minibatch_indices(10, bad, np.random.default_rng(0))


# ---------------------------------------------------------------------------
# The pure steps, the optimizers and the schedules, against their formulas and torch.optim
# ---------------------------------------------------------------------------

def _rel_err(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(np.asarray(b))), 1e-300)


def test_momentum_with_beta_zero_is_gradient_descent():
    w, dw = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    new_w, v = optim.momentum_step(w, dw, np.zeros(2), lr=0.1, beta=0.0)
    np.testing.assert_array_equal(new_w, optim.sgd_step(w, dw, 0.1))
    np.testing.assert_array_equal(v, dw)


def test_momentum_is_a_running_mean_of_the_gradients():
    # Three steps by hand: v1 = 0.1 g, v2 = 0.9 v1 + 0.1 g, v3 = 0.9 v2 + 0.1 g for a constant g.
    w, v, g = np.array([0.0]), np.array([0.0]), np.array([1.0])
    for expected_v in (0.1, 0.19, 0.271):
        w, v = optim.momentum_step(w, g, v, lr=1.0, beta=0.9)
        np.testing.assert_allclose(v, [expected_v], rtol=1e-15)
    np.testing.assert_allclose(w, [-(0.1 + 0.19 + 0.271)], rtol=1e-15)


def test_rmsprop_step_by_hand():
    w, s = optim.rmsprop_step(np.array([1.0]), np.array([2.0]), np.array([0.0]), lr=0.01, rho=0.9, eps=0.0)
    np.testing.assert_allclose(s, [0.4], rtol=1e-15)  # 0.1 · 2²
    np.testing.assert_allclose(w, [1.0 - 0.01 * 2.0 / np.sqrt(0.4)], rtol=1e-15)


@given(st.floats(1e-3, 1e3), st.floats(1e-4, 1e-1))
def test_adam_first_step_is_about_lr_times_the_sign(g, lr):
    for sign in (1.0, -1.0):
        w, m, v = optim.adam_step(np.array([0.0]), np.array([sign * g]), 0.0, 0.0, t=1, lr=lr)
        # m̂ = g and v̂ = g² exactly after one step, so the step is lr · g / (|g| + ε).
        np.testing.assert_allclose(w, [-sign * lr * g / (g + 1e-8)], rtol=1e-12)
        assert abs(w[0] + sign * lr) <= lr * 1e-5


def test_adam_bias_correction_makes_the_running_means_unbiased_for_a_constant_gradient():
    g = np.array([3.0, -0.5])
    w, m, v = np.zeros(2), 0.0, 0.0
    for t in range(1, 6):
        w, m, v = optim.adam_step(w, g, m, v, t, lr=0.1)
        # The weights of the running mean sum to 1 − βᵗ: dividing by it gives back g and g².
        np.testing.assert_allclose(m / (1 - 0.9**t), g, rtol=1e-14)
        np.testing.assert_allclose(v / (1 - 0.999**t), g**2, rtol=1e-12)


def test_pure_steps_never_modify_their_inputs():
    rng = np.random.default_rng(0)
    w, dw, a, b = (rng.standard_normal(5) for _ in range(4))
    copies = [x.copy() for x in (w, dw, a, b)]
    optim.momentum_step(w, dw, a, 0.1)
    optim.rmsprop_step(w, dw, np.abs(a), 0.1)
    optim.adam_step(w, dw, a, np.abs(b), 3, 0.1)
    optim.decoupled_weight_decay(w, 0.1, 0.01)
    for x, copy in zip((w, dw, a, b), copies):
        np.testing.assert_array_equal(x, copy)


def _torch_run(torch, make_optimizer, w0, gradients, scheduler=None):
    """Run a torch optimizer on one parameter fed the given gradients; the parameter after every step."""
    param = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = make_optimizer([param])
    sched = scheduler(opt) if scheduler else None
    trajectory = []
    for g in gradients:
        param.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        if sched:
            sched.step()
        trajectory.append(param.detach().numpy().copy())
    return trajectory


class _OneParameter:
    """The smallest model an optimizer can step: one named parameter whose gradient is set from outside."""

    def __init__(self, w0):
        self.w, self.dw = np.array(w0, dtype=np.float64), None

    def params_and_grads(self):
        yield "w", self.w, self.dw


def _nnbook_run(optimizer, w0, gradients):
    model = _OneParameter(w0)
    trajectory = []
    for g in gradients:
        model.dw = np.asarray(g)
        optimizer.step(model)
        trajectory.append(model.w.copy())
    return trajectory


def _problem(seed=0, steps=12, shape=(4, 3)):
    rng = np.random.default_rng(seed)
    # Gradients on very different scales, some tiny, so that ε and the bias correction matter.
    scales = 10.0 ** rng.uniform(-6, 2, shape)
    return rng.standard_normal(shape), [scales * rng.standard_normal(shape) for _ in range(steps)]


@pytest.mark.parametrize("case", ["sgd", "momentum", "rmsprop", "adam", "adamw"])
def test_optimizers_match_torch_optim(case):
    torch = import_torch()
    w0, gradients = _problem()
    lr, beta, wd = 0.05, 0.9, 0.1
    ours, theirs = {
        "sgd": (optim.SGD(lr), lambda p: torch.optim.SGD(p, lr=lr)),
        # The decks' momentum (v ← βv + (1−β)g) is PyTorch's (v ← βv + g) with the learning rate lr (1 − β).
        "momentum": (optim.Momentum(lr, beta), lambda p: torch.optim.SGD(p, lr=lr * (1 - beta), momentum=beta)),
        "rmsprop": (optim.RMSProp(lr, rho=0.9, eps=1e-8), lambda p: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-8)),
        "adam": (optim.Adam(lr), lambda p: torch.optim.Adam(p, lr=lr, betas=(0.9, 0.999), eps=1e-8)),
        "adamw": (optim.AdamW(lr, weight_decay=wd),
                  lambda p: torch.optim.AdamW(p, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)),
    }[case]
    for step, (a, b) in enumerate(zip(_nnbook_run(ours, w0, gradients), _torch_run(torch, theirs, w0, gradients))):
        assert _rel_err(a, b) <= 1e-7, f"{case}, step {step + 1}"


def test_adamw_with_a_cosine_schedule_matches_torch():
    torch = import_torch()
    w0, gradients = _problem(seed=1, steps=15)
    ours = optim.AdamW(optim.CosineDecay(0.1, total_steps=15, lr_min=0.001), weight_decay=0.05)
    theirs = _torch_run(torch, lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.05), w0, gradients,
                        scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=15, eta_min=0.001))
    for a, b in zip(_nnbook_run(ours, w0, gradients), theirs):
        assert _rel_err(a, b) <= 1e-7


@pytest.mark.parametrize("name", ["step", "exponential", "cosine", "inverse_time", "warmup_cosine"])
def test_schedules_match_torch_lr_schedulers(name):
    torch = import_torch()
    lr0, n = 0.3, 40
    ours, make = {
        "step": (optim.StepDecay(lr0, drop=0.5, every=7), lambda o: torch.optim.lr_scheduler.StepLR(o, 7, 0.5)),
        "exponential": (optim.ExponentialDecay(lr0, 0.9), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9)),
        "cosine": (optim.CosineDecay(lr0, n, lr_min=0.01),
                   lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=n, eta_min=0.01)),
        "inverse_time": (optim.InverseTimeDecay(lr0, k=0.2),
                         lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda t: 1 / (1 + 0.2 * t))),
        # a linear warm-up over 5 steps, then a cosine decay over the 35 steps left
        "warmup_cosine": (optim.Warmup(optim.CosineDecay(lr0, n - 5), 5), lambda o: torch.optim.lr_scheduler.SequentialLR(
            o, [torch.optim.lr_scheduler.LinearLR(o, start_factor=0.2, end_factor=1.0, total_iters=4),
                torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=n - 5)], milestones=[5])),
    }[name]
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))], lr=lr0)
    scheduler = make(opt)
    for t in range(n + 1):
        assert ours(t) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12, abs=1e-15), f"{name}, t = {t}"
        opt.step()
        scheduler.step()


def test_schedules_closed_forms():
    assert optim.StepDecay(1.0, 0.1, every=3)(7) == pytest.approx(0.01)
    assert optim.InverseTimeDecay(1.0, k=0.5)(4) == pytest.approx(1 / 3)
    cosine = optim.CosineDecay(1.0, 10, lr_min=0.2)
    assert (cosine(0), cosine(5), cosine(10), cosine(25)) == pytest.approx((1.0, 0.6, 0.2, 0.2))
    warm = optim.Warmup(optim.Constant(0.4), steps=4)
    assert [warm(t) for t in range(6)] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])


def test_optimizer_reads_its_learning_rate_from_the_schedule_and_counts_steps():
    opt = optim.SGD(optim.StepDecay(1.0, drop=0.5, every=1))
    model = _OneParameter([1.0])
    model.dw = np.array([1.0])
    for expected in (0.0, -0.5, -0.75):  # steps of 1, 0.5, 0.25
        opt.step(model)
        assert model.w[0] == pytest.approx(expected)
    assert opt.t == 3 and opt.lr == pytest.approx(0.125)


def test_optimizer_state_is_keyed_by_parameter_and_updates_in_place():
    model = Sequential(Linear(3, 2, seed=0), ReLU(), Linear(2, 1, seed=1))
    W = model.layers[0].params["W"]
    for layer in model.layers[::2]:
        layer.zero_grad()
        for grad in layer.grads.values():
            grad += 1.0
    opt = optim.Adam(0.01)
    opt.step(model)
    assert set(opt.state) == {"0.W", "0.b", "2.W", "2.b"}
    assert opt.state["0.W"]["m"].shape == (2, 3) and opt.state["2.b"]["t"] == 1
    assert model.layers[0].params["W"] is W  # the layer's own array, changed in place


def test_optimizer_errors():
    with pytest.raises(ValueError, match=r"beta must be a number in \[0, 1\), got 1.0"):
        optim.Momentum(0.1, beta=1.0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        optim.Adam(lr=0.0)
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        optim.AdamW(weight_decay=-1)
    with pytest.raises(ValueError, match="total_steps must be a positive integer"):
        optim.CosineDecay(0.1, 0)
    with pytest.raises(ValueError, match="lr_min must be a number between 0 and lr"):
        optim.CosineDecay(0.1, 10, lr_min=0.5)
    model = _OneParameter([1.0, 2.0])
    model.dw = np.zeros(3)
    with pytest.raises(ValueError, match=r"gradient of w has shape \(3,\), the parameter has \(2,\)"):
        optim.Adam().step(model)
