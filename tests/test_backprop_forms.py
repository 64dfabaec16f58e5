"""The three notations of backpropagation give the same numbers (chapter *Backpropagation in matrix form*, ch06).

Per neuron (δ_j = g′(z_j) Σ_k w_kj δ_k, with loops), the book's batch matrices
(dW = dZᵀ A, with nnbook.layers), and the row-major form with folded biases
(Δ = Aᵀ δ, with the summed cost).
"""

import numpy as np
import pytest

from nnbook.backprop_forms import (
    book_gradients,
    from_row_major,
    neuron_by_neuron_gradients,
    row_major_gradients,
    to_row_major,
)
from nnbook.gradcheck import assert_close, numerical_gradient

pytestmark = pytest.mark.ch06


def random_problem(seed, m=6, sizes=(4, 5, 3)):
    rng = np.random.default_rng(seed)
    n0, n1, n2 = sizes
    params = {"W1": rng.normal(size=(n1, n0)), "b1": rng.normal(size=n1),
              "W2": rng.normal(size=(n2, n1)), "b2": rng.normal(size=n2)}
    return params, rng.normal(size=(m, n0)), rng.integers(0, n2, size=m)


@pytest.mark.parametrize("seed", range(6))
def test_the_three_forms_give_the_same_gradients(seed):
    params, X, y = random_problem(seed, m=3 + seed, sizes=(2 + seed % 3, 3 + seed, 2 + seed % 2))
    book = book_gradients(params, X, y)
    neurons = neuron_by_neuron_gradients(params, X, y)
    Delta_h, Delta_out = row_major_gradients(params, X, y)
    (dW1, db1), (dW2, db2) = from_row_major(Delta_h, len(X)), from_row_major(Delta_out, len(X))
    rows = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
    for name in book:
        assert book[name].shape == params[name[1:]].shape
        np.testing.assert_allclose(neurons[name], book[name], rtol=1e-10, atol=1e-14, err_msg=f"{name}: per neuron")
        np.testing.assert_allclose(rows[name], book[name], rtol=1e-10, atol=1e-14, err_msg=f"{name}: row-major")


def test_row_major_shapes_and_the_folded_bias():
    params, X, y = random_problem(0)
    m = len(X)
    W_row = to_row_major(params["W1"], params["b1"])
    assert W_row.shape == (4 + 1, 5)
    np.testing.assert_array_equal(W_row[0], params["b1"])
    np.testing.assert_array_equal(W_row[1:], params["W1"].T)
    # [1, X] W_row = X W1ᵀ + b1: the same pre-activations
    np.testing.assert_allclose(np.hstack([np.ones((m, 1)), X]) @ W_row, X @ params["W1"].T + params["b1"])
    Delta_h, Delta_out = row_major_gradients(params, X, y)
    assert Delta_h.shape == (5, 5) and Delta_out.shape == (6, 3)
    book = book_gradients(params, X, y)
    # Δ = m [db; dWᵀ]: the summed cost is m times the mean cost, and the layout is transposed
    np.testing.assert_allclose(Delta_out, m * to_row_major(book["dW2"], book["db2"]), rtol=1e-12)


def test_the_per_neuron_gradients_match_a_numerical_gradient():
    from nnbook.activations import sigmoid, softmax

    params, X, y = random_problem(5, m=4)

    def cost():
        A1 = sigmoid(X @ params["W1"].T + params["b1"])
        P = softmax(A1 @ params["W2"].T + params["b2"], axis=1)
        return float(-np.mean(np.log(P[np.arange(len(y)), y])))

    grads = neuron_by_neuron_gradients(params, X, y)
    for name in params:
        assert_close(grads["d" + name], numerical_gradient(cost, params[name]), "d" + name)


def test_the_hidden_error_term_of_one_unit_by_hand():
    """δ_j = g′(z_j) Σ_k w_kj δ_k for one example and one hidden unit, against the book's dz^[1] = (W^[2]ᵀ dz^[2]) ⊙ g′(z^[1])."""
    from nnbook.activations import sigmoid, softmax

    params, X, y = random_problem(2, m=1)
    x = X[0]
    a1 = sigmoid(params["W1"] @ x + params["b1"])
    delta2 = softmax(params["W2"] @ a1 + params["b2"]) - np.eye(3)[y[0]]
    j = 2
    delta_j = a1[j] * (1 - a1[j]) * sum(params["W2"][k, j] * delta2[k] for k in range(3))
    dz1 = (params["W2"].T @ delta2) * a1 * (1 - a1)
    assert delta_j == pytest.approx(dz1[j], rel=1e-12)
    assert book_gradients(params, X, y)["db1"][j] == pytest.approx(delta_j, rel=1e-12)   # m = 1: db1 = dz1


def test_the_weights_of_an_always_blank_input_get_no_gradient():
    """mlp.md: column k of dW = dZᵀ X is Σ_i dZ_i X_ik, zero when X_ik = 0 for every example; MNIST has 129 such pixels."""
    from nnbook.data import load_mnist_subset
    from nnbook.layers import linear_backward

    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 5))
    X[:, 2] = 0.0
    _, dW, _ = linear_backward(rng.normal(size=(7, 3)), X, rng.normal(size=(3, 5)))
    np.testing.assert_array_equal(dW[:, 2], 0.0)
    assert np.all(dW[:, [0, 1, 3, 4]] != 0)
    assert int(np.sum(load_mnist_subset().X_train.max(axis=0) == 0)) == 129
