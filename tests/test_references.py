"""Tests of nnbook/autograder/references.py: the answers of the hidden tests are the package's reference, exactly."""

import math

import numpy as np

from nnbook import optim
from nnbook.autograder import references


def test_input_gradients_are_the_vector_jacobian_products():
    rng = np.random.default_rng(0)
    A, B, dout = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    dA, dB = references.input_gradients(lambda a, b: a @ b, dout, A, B)
    np.testing.assert_allclose(dA, dout @ B.T)
    np.testing.assert_allclose(dB, A.T @ dout)
    (dx,) = references.input_gradients(lambda x: x.sum(axis=0), np.array([1.0, 2.0]), np.ones((3, 2)))
    np.testing.assert_array_equal(dx, [[1.0, 2.0]] * 3)


def test_one_hidden_network_is_consistent_and_reproducible():
    X, y, params, cache, grads = references.one_hidden_network(seed=3, m=6, n_x=4, n_h=5)
    assert X.shape == (6, 4) and y.shape == (6,) and set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_allclose(cache["A1"], np.tanh(X @ params["W1"].T + params["b1"]))
    np.testing.assert_allclose(cache["A2"], 1 / (1 + np.exp(-(cache["A1"] @ params["W2"].T + params["b2"]))))
    dZ2 = (cache["A2"] - y[:, None]) / 6
    np.testing.assert_allclose(grads["dW2"], dZ2.T @ cache["A1"])
    np.testing.assert_allclose(grads["dX"], (dZ2 @ params["W2"] * (1 - cache["A1"] ** 2)) @ params["W1"])
    again = references.one_hidden_network(seed=3, m=6, n_x=4, n_h=5)
    np.testing.assert_array_equal(again[4]["dW1"], grads["dW1"])


def test_deep_relu_network_has_the_documented_keys_and_gradients():
    X, y, params, cache, grads = references.deep_relu_network(seed=1, m=5, sizes=(3, 4, 6, 2))
    assert list(cache) == ["A0", "Z1", "A1", "Z2", "A2", "Z3"]
    assert sorted(grads) == sorted(["dW1", "db1", "dW2", "db2", "dW3", "db3", "dX", "dZ3"])
    np.testing.assert_allclose(cache["A2"], np.maximum(cache["Z2"], 0))
    np.testing.assert_allclose(grads["dW3"], grads["dZ3"].T @ cache["A2"])
    np.testing.assert_allclose(grads["dZ3"].sum(axis=1), 0, atol=1e-12)  # softmax minus one-hot, rows sum to 0


def test_one_hidden_network_is_exact_for_confident_mistakes():
    # dZ2 = (A2 - y) / m from the logits: through sigma' and a cross-entropy of clipped probabilities, a confident
    # mistake (|Z2| > 27.6) got 0.69 where the derivative is 1
    X, y, params, cache, grads = references.one_hidden_network(seed=5, m=40, n_x=6, n_h=8, output_scale=30.0)
    Z2 = cache["Z2"][:, 0]
    confident_mistakes = (np.abs(Z2) > 28) & ((Z2 > 0) != (y == 1))
    assert confident_mistakes.sum() >= 3
    exact_sigmoid = np.array([1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z)) for z in Z2])
    dZ2 = (exact_sigmoid - y) / 40
    assert np.allclose(grads["db2"], [dZ2.sum()], rtol=1e-13, atol=0)
    np.testing.assert_allclose(grads["dW2"], dZ2[None, :] @ cache["A1"], rtol=1e-12, atol=1e-15)


def test_the_reference_runs_the_packages_steps_and_carries_their_state():
    rng = np.random.default_rng(0)
    w, grads = rng.standard_normal((2, 3)), [rng.standard_normal((2, 3)) for _ in range(3)]
    m0, v0 = rng.standard_normal((2, 3)), rng.random((2, 3))
    trajectory = references.optimizer_steps("adam_step", w, grads, (m0, v0), steps_taken=4, lr=0.1, beta1=0.8, eps=0.0)
    state = (w, m0, v0)
    for t, (dw, got) in enumerate(zip(grads, trajectory), start=5):
        state = optim.adam_step(*state[:1], dw, *state[1:], t, 0.1, beta1=0.8, eps=0.0)
        for a, b in zip(got, state):
            np.testing.assert_array_equal(a, b)
    # the optimizers of the package, which count the steps themselves, take the same steps
    adam, model = optim.Adam(lr=0.1), type("OneParameter", (), {})()
    model.w = w.copy()
    model.params_and_grads = lambda: [("w", model.w, model.dw)]
    for dw, (expected_w, expected_m, expected_v) in zip(grads, references.optimizer_steps(
            "adam_step", w, grads, (np.zeros((2, 3)), np.zeros((2, 3))), lr=0.1)):
        model.dw = dw
        adam.step(model)
        np.testing.assert_allclose(model.w, expected_w, rtol=1e-15)
        np.testing.assert_allclose(adam.state["w"]["m"], expected_m, rtol=1e-15)
    (w1, v1), (w2, v2) = references.optimizer_steps("momentum_step", w, grads[:2], (np.zeros((2, 3)),), lr=0.5, beta=0.5)
    np.testing.assert_allclose(v2, 0.25 * grads[0] + 0.5 * grads[1])
    np.testing.assert_allclose(w2, w - 0.5 * v1 - 0.5 * v2)
    ((w1, s1),) = references.optimizer_steps("rmsprop_step", w, grads[:1], (np.zeros((2, 3)),), lr=0.5, eps=0.0)
    np.testing.assert_allclose(w1, w - 0.5 * np.sign(grads[0]) / np.sqrt(0.1))


def test_the_reference_schedule_is_a_warm_up_then_a_cosine():
    rates = [references.warmup_cosine_lr(t, 0.1, 4, 12, 0.01) for t in range(15)]
    np.testing.assert_allclose(rates[:5], [0.025, 0.05, 0.075, 0.1, 0.1])
    np.testing.assert_allclose(rates[8], 0.01 + 0.09 / 2)  # half-way through the decay: the mean of the two ends
    np.testing.assert_allclose(rates[12:], [0.01] * 3)
