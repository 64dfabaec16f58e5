"""Tests of nnbook/regularization.py: the L2 and L1 penalties, weight decay, and inverted dropout.

The penalties are checked against their closed forms, numerical gradients and
PyTorch (``weight_decay`` of ``torch.optim.SGD`` is the L2 penalty's gradient,
autograd differentiates the L1 penalty); dropout against its definition (the
dropped fraction, the expectation kept, the identity at inference), numerical
gradients with the mask fixed, and ``torch.nn.functional.dropout``'s scaling.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optional import import_torch
from strategies import seeds

from nnbook.gradcheck import assert_close, numerical_gradient, numerical_gradient_of_output
from nnbook.layers import Linear, ReLU, Sequential, mlp
from nnbook.optim import SGD
from nnbook.regularization import (
    L1,
    L2,
    Dropout,
    dropout_backward,
    dropout_forward,
    dropout_mask,
    is_penalized,
    l1_penalty,
    l1_penalty_gradient,
    l2_penalty,
    l2_penalty_gradient,
    weight_decay_step,
)

pytestmark = pytest.mark.ch09


# ---- penalties ------------------------------------------------------------------------------------------


def test_l2_and_l1_penalties_by_hand():
    W1, W2 = np.array([[1.0, -2.0], [0.0, 3.0]]), np.array([[-1.0, 1.0]])
    # ‖W1‖² = 14, ‖W2‖² = 2; Σ|W1| = 6, Σ|W2| = 2
    assert l2_penalty([W1, W2], lam=0.5, m=4) == pytest.approx(0.5 / 8 * 16)
    assert l1_penalty([W1, W2], lam=0.5, m=4) == pytest.approx(0.5 / 4 * 8)
    np.testing.assert_array_equal(l1_penalty_gradient(W1, 0.5, 4), 0.125 * np.array([[1, -1], [0, 1]]))


@settings(max_examples=20, deadline=None)
@given(seed=seeds, lam=st.floats(0.01, 10.0), m=st.integers(1, 1000))
def test_penalty_gradients_are_the_numerical_gradients(seed, lam, m):
    W = np.random.default_rng(seed).uniform(0.1, 2.0, (3, 4)) * np.random.default_rng(seed + 1).choice([-1, 1], (3, 4))
    assert_close(l2_penalty_gradient(W, lam, m), numerical_gradient(lambda: l2_penalty([W], lam, m), W), "L2")
    assert_close(l1_penalty_gradient(W, lam, m), numerical_gradient(lambda: l1_penalty([W], lam, m), W), "L1")


def test_weight_decay_step_is_a_gradient_step_on_the_penalized_cost():
    rng = np.random.default_rng(0)
    W, dW = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    lr, lam, m = 0.1, 2.0, 50
    np.testing.assert_allclose(weight_decay_step(W, dW, lr, lam, m), W - lr * (dW + l2_penalty_gradient(W, lam, m)),
                               rtol=1e-14)
    np.testing.assert_allclose(weight_decay_step(W, np.zeros_like(W), lr, lam, m), W * (1 - lr * lam / m), rtol=1e-15)


def test_penalties_apply_to_weights_only():
    assert is_penalized("W") and is_penalized("2.W")
    assert not any(is_penalized(name) for name in ("b", "0.b", "1.gamma", "1.beta", "alpha"))
    model = mlp((3, 4, 2), "relu", seed=0)
    weights = [W for _, W, _ in L2(1.0).weights(model)]
    assert [W.shape for W in weights] == [(4, 3), (2, 4)]


@pytest.mark.parametrize("penalty", [L2(0.3), L1(0.3)], ids=repr)
def test_penalty_adds_its_gradient_to_the_weights_gradients_only(penalty):
    model = mlp((3, 4, 2), "tanh", seed=1)
    model.zero_grad()
    penalty.add_gradients(model, 10)
    for name, W, dW in model.params_and_grads():
        expected = penalty.gradient(W, 0.3, 10) if name.endswith("W") else np.zeros_like(W)
        np.testing.assert_array_equal(dW, expected, err_msg=name)
    assert penalty.cost(model, 10) == pytest.approx(penalty.value([model.layers[0].params["W"],
                                                                  model.layers[2].params["W"]], 0.3, 10))


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf, "0.1"])
def test_a_bad_strength_is_refused(bad):
    with pytest.raises(ValueError, match="regularization strength λ must be a finite number ≥ 0"):
        L2(bad)


def test_a_bad_number_of_examples_is_refused():
    with pytest.raises(ValueError, match="m, the number of training examples, must be an integer > 0, got 0"):
        l2_penalty([np.ones(2)], 0.1, 0)


def _torch_copy(torch, model):
    """A torch nn.Sequential of Linear and ReLU layers with the weights of ``model`` (float64)."""
    modules = []
    for layer in model.layers:
        if isinstance(layer, Linear):
            linear = torch.nn.Linear(*layer.params["W"].shape[::-1], dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.params["W"]))
                linear.bias.copy_(torch.from_numpy(layer.params["b"]))
            modules.append(linear)
        else:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules)


@pytest.mark.parametrize("lam", [0.0, 5.0])
def test_fit_with_an_l2_penalty_follows_torch_weight_decay(lam):
    """fit with L2(λ) on m examples is torch.optim.SGD with weight_decay = λ/m on the weights, same batches."""
    torch = import_torch()
    from nnbook.train import fit

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    model = mlp((3, 5, 2), "relu", seed=2)
    reference = _torch_copy(torch, model)
    history = fit(model, X, y, SGD(0.1), epochs=3, batch_size=8, penalty=L2(lam), seed=7, progress=False)

    weights = [p for n, p in reference.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in reference.named_parameters() if n.endswith("bias")]
    optimizer = torch.optim.SGD([{"params": weights, "weight_decay": lam / len(X)}, {"params": biases}], lr=0.1)
    order = np.random.default_rng(7)
    from nnbook.optim import minibatch_indices

    steps = []
    for _ in range(3):
        for batch in minibatch_indices(len(X), 8, order):
            optimizer.zero_grad()
            J = torch.nn.functional.cross_entropy(reference(torch.from_numpy(X[batch])), torch.from_numpy(y[batch]))
            J.backward()
            # the penalty at the weights before the step, as fit's step_loss records it
            steps.append(J.item() + lam / (2 * len(X)) * sum(float((w.detach() ** 2).sum()) for w in weights))
            optimizer.step()
    np.testing.assert_allclose(history.step_loss, steps, rtol=1e-9)
    for (name, param, _), torch_param in zip(model.params_and_grads(), reference.parameters()):
        np.testing.assert_allclose(param, torch_param.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_l1_penalty_gradient_equals_torch_autograd():
    torch = import_torch()
    W = np.random.default_rng(3).standard_normal((4, 6))
    W_t = torch.tensor(W, requires_grad=True)
    (0.7 / 30 * W_t.abs().sum()).backward()
    np.testing.assert_allclose(l1_penalty_gradient(W, 0.7, 30), W_t.grad.numpy(), rtol=1e-15)


def test_l1_drives_weights_to_zero_and_l2_only_shrinks_them():
    """Many steps on the penalty alone (dW = 0 plus the penalty's gradient): L2 shrinks by a constant factor, never
    reaching zero; L1 subtracts a constant amount and reaches zero (then oscillates around it within one step)."""
    W0 = np.array([[1.0, -0.5, 0.1]])
    W2, W1 = W0.copy(), W0.copy()
    for _ in range(200):
        W2 -= 0.1 * l2_penalty_gradient(W2, 1.0, 1)
        W1 -= 0.1 * l1_penalty_gradient(W1, 1.0, 1)
    np.testing.assert_allclose(W2, W0 * 0.9**200, rtol=1e-12)
    assert np.all(W2 != 0)
    assert np.all(np.abs(W1) <= 0.1 + 1e-12)


# ---- dropout --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 0.8])
def test_dropout_drops_a_fraction_p_and_keeps_the_expectation(p):
    x = np.ones((400, 500))
    out, cache = dropout_forward(x, p, rng=0)
    dropped = np.mean(out == 0)
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / x.size) + 1e-12
    assert set(np.unique(out)) <= {0.0, 1 / (1 - p)}
    assert abs(out.mean() - 1.0) < 5 * np.sqrt(p / (1 - p) / x.size) + 1e-12


def test_dropout_mask_is_one_per_example_and_seeded():
    M1, M2 = dropout_mask((3, 1000), 0.5, rng=11), dropout_mask((3, 1000), 0.5, rng=11)
    np.testing.assert_array_equal(M1, M2)
    assert not np.array_equal(M1[0], M1[1]), "each example gets its own mask"
    assert np.array_equal(dropout_mask((2, 3), 1.0, rng=0), np.zeros((2, 3)))


def test_dropout_keeps_where_the_uniform_draw_is_at_least_p():
    """The convention that reproduces a mask from a seed: keep entry j when u_j ≥ p, u ~ U[0, 1) in order."""
    u = np.random.default_rng(5).random((4, 7))
    np.testing.assert_array_equal(dropout_mask((4, 7), 0.3, rng=5), (u >= 0.3) / 0.7)


def test_dropout_at_inference_is_the_identity():
    x = np.random.default_rng(0).standard_normal((5, 4))
    out, cache = dropout_forward(x, 0.5, training=False)
    assert out is x
    dout = np.ones_like(x)
    assert dropout_backward(dout, cache) is dout


def test_dropout_backward_is_the_numerical_gradient_with_the_mask_fixed():
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    out, cache = dropout_forward(x, 0.4, rng=9)
    numeric = numerical_gradient_of_output(lambda: dropout_forward(x, 0.4, rng=9)[0], x, dout)
    assert_close(dropout_backward(dout, cache), numeric, "dropout dx")


@pytest.mark.parametrize("bad", [-0.1, 1.5, np.nan])
def test_a_bad_drop_probability_is_refused(bad):
    with pytest.raises(ValueError, match=r"dropout probability p \(of dropping a unit\) must be in \[0, 1\]"):
        Dropout(bad)
    with pytest.raises(ValueError, match="must be in"):
        dropout_forward(np.ones(3), bad)


def test_dropout_of_nan_input_names_it():
    with pytest.raises(ValueError, match="dropout_forward: x"):
        dropout_forward(np.array([1.0, np.nan]), 0.5)


def test_dropout_layer_draws_a_new_mask_each_step_and_none_in_eval():
    layer = Dropout(0.5, seed=0)
    x = np.ones((4, 50))
    first, second = layer.forward(x), layer.forward(x)
    assert not np.array_equal(first, second)
    layer.eval()
    np.testing.assert_array_equal(layer.forward(x), x)


def test_dropout_scaling_matches_torch():
    """torch.nn.functional.dropout keeps each entry as x/(1 − p) or zeroes it, as ours does."""
    torch = import_torch()
    torch.manual_seed(0)
    x = np.random.default_rng(0).uniform(1, 2, (200, 300))
    theirs = torch.nn.functional.dropout(torch.from_numpy(x), p=0.3, training=True).numpy()
    ours, _ = dropout_forward(x, 0.3, rng=0)
    for out in (theirs, ours):
        kept = out != 0
        np.testing.assert_allclose(out[kept], x[kept] / 0.7, rtol=1e-15)
        assert abs(1 - kept.mean() - 0.3) < 0.01
    assert np.array_equal(torch.nn.functional.dropout(torch.from_numpy(x), p=0.3, training=False).numpy(), x)


def test_a_network_with_dropout_trains_and_evaluates_without_dropping():
    from nnbook.data import make_moons
    from nnbook.train import evaluate, fit

    X, y = make_moons(200, noise=0.1, seed=0)
    model = Sequential(Linear(2, 32, seed=0), ReLU(), Dropout(0.25, seed=1), Linear(32, 2, seed=2))
    history = fit(model, X, y, SGD(0.3), epochs=60, batch_size=32, progress=False)
    assert history.accuracy[-1] > 0.95
    assert model.training, "fit leaves the model in the mode it found it"
    loss_a, _ = evaluate(model, X, y)
    loss_b, _ = evaluate(model, X, y)
    assert loss_a == loss_b, "evaluation is deterministic: no unit dropped in inference mode"
