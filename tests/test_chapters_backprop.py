"""The formulas and results that the chapters on backpropagation state, checked again.

Chapters: *Chain rule and computation graphs* (``book/computation_graphs.md``, ch05),
*Backpropagation in matrix form* (``book/backprop.md``) and *Multi-layer
perceptrons* (``book/mlp.md``) (ch06). The chapters and these tests call the same
functions of :mod:`nnbook.experiments` with the same settings. The engine,
the layers and the training loop have their own unit tests (``test_autodiff.py``,
``test_layers.py``, ``test_train.py``); this file covers what the chapters add:
worked examples, identities between formulas, counts, and the experiments' numbers.
"""

import numpy as np
import pytest

from nnbook.activations import sigmoid
from nnbook.autodiff import Tensor
from nnbook.data import carve_dev_split, load_mnist_subset
from nnbook.experiments import (
    LOGISTIC_LEAST_SQUARES_POINT,
    MNIST_SETTINGS,
    RELU_SUM_SETTINGS,
    XOR_SETTINGS,
    ReLUSum,
    bumpy,
    logistic_least_squares,
    matmul_flops,
    max_error,
    mnist_mlp_vs_softmax,
    relu_sum_errors,
    relu_sum_fit,
    train_xor,
    two_paths_example,
)
from nnbook.gradcheck import assert_close, numerical_gradient
from nnbook.layers import linear_backward, mlp
from nnbook.train import evaluate

# ---------------------------------------------------------------------------
# ch05: chain rule and computation graphs
# ---------------------------------------------------------------------------


def logistic_least_squares_by_engine(w, b, x, y):
    """The chapter's graph u = w x, z = u + b, a = σ(z), r = a − y, L = ½ r², differentiated by the engine."""
    w_t, b_t, x_t = Tensor(w), Tensor(b), Tensor(x)
    L = 0.5 * ((w_t * x_t + b_t).sigmoid() - y) ** 2
    L.backward()
    return float(L.data), float(w_t.grad), float(b_t.grad)


def some_points(k=20, seed=0):
    rng = np.random.default_rng(seed)
    points = [LOGISTIC_LEAST_SQUARES_POINT]
    for _ in range(k):
        w, b, x = rng.uniform(-1.5, 1.5, size=3)  # |z| ≤ 3.75: the sigmoid is not saturated, the gradient not tiny
        points.append({"w": w, "b": b, "x": x, "y": float(rng.integers(0, 2))})
    return points


@pytest.mark.ch05
@pytest.mark.parametrize("point", some_points(), ids=lambda p: f"w={p['w']:.2f}")
def test_logistic_least_squares_calculus_equals_engine_and_numerical_gradient(point):
    w, b, x, y = point["w"], point["b"], point["x"], point["y"]
    L, dw, db = logistic_least_squares(w, b, x, y)
    L_engine, dw_engine, db_engine = logistic_least_squares_by_engine(w, b, x, y)
    np.testing.assert_allclose([L, dw, db], [L_engine, dw_engine, db_engine], rtol=1e-12, atol=1e-15)
    params = np.array([w, b])
    numeric = numerical_gradient(lambda: logistic_least_squares(params[0], params[1], x, y)[0], params)
    assert_close([dw, db], numeric, "(dL/dw, dL/db)", tol=1e-7)


@pytest.mark.ch05
def test_logistic_least_squares_numbers_of_the_worked_example():
    # at w = 2, x = −1, b = 1, y = 1: z = −1, a = σ(−1), dL/dz = (a − 1) a (1 − a), dL/dw = −dL/dz, dL/db = dL/dz
    point = LOGISTIC_LEAST_SQUARES_POINT
    assert point == {"w": 2.0, "x": -1.0, "b": 1.0, "y": 1.0}
    a = 1.0 / (1.0 + np.exp(1.0))
    L, dw, db = logistic_least_squares(**point)
    assert np.isclose(L, 0.5 * (a - 1.0) ** 2)
    assert np.isclose(db, (a - 1.0) * a * (1.0 - a)) and np.isclose(dw, -db)
    assert round(db, 4) == -0.1437 and round(L, 4) == 0.2672


@pytest.mark.ch05
@pytest.mark.parametrize("x1, x2", [(1.5, -2.0), (1.0, 1.0), (0.0, 0.3), (-0.7, 2.5)])
def test_two_paths_example_sum_over_paths(x1, x2):
    p, dp_dx1, dp_dx2 = two_paths_example(x1, x2)
    # the expanded polynomial p = x1² x2 + x1 x2³
    assert np.isclose(p, x1**2 * x2 + x1 * x2**3)
    assert np.isclose(dp_dx1, 2 * x1 * x2 + x2**3) and np.isclose(dp_dx2, x1**2 + 3 * x1 * x2**2)
    # the engine, on the graph with two intermediate nodes
    t1, t2 = Tensor(x1), Tensor(x2)
    (t1 * t2 * (t1 + t2**2)).backward()
    np.testing.assert_allclose([t1.grad, t2.grad], [dp_dx1, dp_dx2], rtol=1e-12, atol=1e-12)
    # and central differences
    inputs = np.array([x1, x2])
    assert_close([dp_dx1, dp_dx2], numerical_gradient(lambda: two_paths_example(*inputs)[0], inputs), "dp", tol=1e-7)


@pytest.mark.ch05
def test_two_paths_example_at_one_one_is_four():
    # the self-check question of the chapter
    assert two_paths_example(1.0, 1.0)[2] == 4.0


@pytest.mark.ch05
def test_engine_on_logistic_regression_finds_dz_equal_a_minus_y_over_m():
    rng = np.random.default_rng(3)
    m, n_x = 16, 4
    X, y = rng.normal(size=(m, n_x)), rng.integers(0, 2, size=m)
    W = Tensor(rng.normal(size=(1, n_x)))
    b = Tensor(np.array([0.1]))
    Y = y[:, None].astype(float)
    Z = Tensor(X) @ W.T + b
    A = Z.sigmoid()
    J = -(Y * A.log() + (1 - Y) * (1 - A).log()).mean()
    J.backward()
    a = sigmoid(X @ W.data.ravel() + 0.1)[:, None]
    np.testing.assert_allclose(Z.grad, (a - Y) / m, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(W.grad, ((a - Y) / m).T @ X, rtol=1e-10)
    np.testing.assert_allclose(b.grad, [np.sum(a - Y) / m], rtol=1e-10)


@pytest.mark.ch05
def test_forward_and_reverse_accumulation_give_the_same_gradient():
    # reverse mode: row vector times J_L … J_1 from the left; forward mode: J_L … J_1 applied to e_1, …, e_n
    rng = np.random.default_rng(0)
    n, L = 30, 5
    jacobians = [rng.normal(size=(n, n)) / np.sqrt(n) for _ in range(L)]
    u = rng.normal(size=n)
    g_reverse = u
    for J in reversed(jacobians):
        g_reverse = g_reverse @ J
    T = np.eye(n)
    for J in jacobians:
        T = J @ T
    np.testing.assert_allclose(g_reverse, u @ T, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# ch06: backpropagation in matrix form
# ---------------------------------------------------------------------------


@pytest.mark.ch06
@pytest.mark.parametrize("m, n_in, n_out", [(1, 3, 2), (5, 4, 3), (17, 2, 6)])
def test_batch_gradients_are_sums_of_the_column_formulas(m, n_in, n_out):
    """dW = dZᵀ A is Σ_i dz⁽ⁱ⁾ a⁽ⁱ⁾ᵀ, db the sum of the rows, and row i of dA = dZ W is (Wᵀ dz⁽ⁱ⁾)ᵀ."""
    rng = np.random.default_rng(m)
    A, W, dZ = rng.normal(size=(m, n_in)), rng.normal(size=(n_out, n_in)), rng.normal(size=(m, n_out))
    dA, dW, db = linear_backward(dZ, A, W)
    np.testing.assert_allclose(dW, sum(np.outer(dZ[i], A[i]) for i in range(m)), rtol=1e-12)
    np.testing.assert_allclose(db, sum(dZ[i] for i in range(m)), rtol=1e-12)
    for i in range(m):
        np.testing.assert_allclose(dA[i], W.T @ dZ[i], rtol=1e-12)


@pytest.mark.ch06
def test_matmul_flops_backward_is_twice_forward():
    for sizes in [(784, 256, 256, 10), (2, 4, 2), (5, 8, 6, 3), (1000, 1000, 1000, 10)]:
        for m in (1, 32, 256):
            forward, backward = matmul_flops(sizes, m)
            assert backward == 2 * forward


@pytest.mark.ch06
def test_matmul_flops_counts_of_the_chapter():
    m = 256
    forward, backward = matmul_flops((784, 256, 256, 10), m)
    assert forward == 2 * m * (784 * 256 + 256 * 256 + 256 * 10)
    forward_no_dx, backward_no_dx = matmul_flops((784, 256, 256, 10), m, input_grad=False)
    assert forward_no_dx == forward
    assert backward_no_dx == 4 * m * (784 * 256 + 256 * 256 + 256 * 10) - 2 * m * 784 * 256
    assert f"{backward_no_dx / forward_no_dx:.2f}" == "1.25"
    # the self-check question: 1000-1000-1000-10 without dX
    forward, backward = matmul_flops((1000, 1000, 1000, 10), 7, input_grad=False)
    assert np.isclose(backward / forward, 3.02 / 2.01)


# ---------------------------------------------------------------------------
# ch06: multi-layer perceptrons
# ---------------------------------------------------------------------------


@pytest.mark.ch06
def test_linear_layers_without_activation_collapse_to_one_affine_map():
    rng = np.random.default_rng(0)
    model = mlp((3, 5, 2), activation="identity", seed=0)
    (W1, b1), (W2, b2) = [(layer.params["W"], layer.params["b"]) for layer in model.layers[::2]]
    X = rng.normal(size=(10, 3))
    np.testing.assert_allclose(model.forward(X), X @ (W2 @ W1).T + (W2 @ b1 + b2), rtol=1e-12)


@pytest.mark.ch06
def test_the_chapter_network_solves_xor():
    run = train_xor(XOR_SETTINGS)
    assert run.history.accuracy[-1] == 1.0
    assert run.history.val_accuracy[-1] == 1.0  # the dev set, watched after every epoch
    assert run.test_accuracy == 1.0 == evaluate(run.model, run.X_test, run.y_test)[1]  # the test set, scored once
    assert not np.array_equal(run.X_dev, run.X_test)
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(np.argmax(run.model.forward(corners), axis=1), [0, 1, 1, 0])


@pytest.mark.ch06
def test_relu_interpolant_of_the_proposition():
    """P = f(t₀) + Σ (sₙ − sₙ₋₁) ReLU(x − tₙ) interpolates f and is within h² max|f''| / 8 of it."""
    a, b, N = -np.pi, np.pi, 40
    t = np.linspace(a, b, N + 1)
    s = np.diff(bumpy(t)) / np.diff(t)
    P = ReLUSum(t[:-1], np.diff(np.r_[0.0, s]), float(bumpy(t[0])))
    np.testing.assert_allclose(P(t), bumpy(t), atol=1e-12)
    max_f2 = 1 + 0.5 * 9 + 0.25 * 49  # |f''| ≤ |sin x| + ½·9|sin 3x| + ¼·49|cos 7x|
    h = (b - a) / N
    assert max_error(P, bumpy, (a, b)) <= h**2 * max_f2 / 8


@pytest.mark.ch06
def test_two_relus_make_a_sigmoidal_function():
    t = np.linspace(-3, 4, 701)
    s = np.maximum(0, t) - np.maximum(0, t - 1)
    np.testing.assert_allclose(s, np.clip(t, 0, 1), atol=1e-15)


@pytest.mark.ch06
def test_relu_sum_fit_reproduces_a_piecewise_linear_function_exactly():
    # a broken line with its kinks among the fit's knots is represented without error
    knots = np.array([-np.pi, -np.pi / 2, 0.0, np.pi / 2])

    def broken(x):
        return ReLUSum(knots, np.array([1.0, -2.0, 3.0, -1.5]), 0.5)(x)

    assert max_error(relu_sum_fit(broken, 4), broken) < 1e-10


@pytest.mark.ch06
def test_relu_sum_error_decreases_with_width_like_n_to_the_minus_two():
    fits, errors = relu_sum_errors(RELU_SUM_SETTINGS)
    assert len(errors) == len(RELU_SUM_SETTINGS["units"])
    assert all(later < earlier for earlier, later in zip(errors, errors[1:]))
    assert errors[-1] < RELU_SUM_SETTINGS["claimed_max_error"]
    slope = np.polyfit(np.log(RELU_SUM_SETTINGS["units"][-4:]), np.log(errors[-4:]), 1)[0]
    assert -2.2 < slope < -1.8
    assert [len(F.knots) for F in fits] == list(RELU_SUM_SETTINGS["units"])


@pytest.mark.ch06
def test_mnist_mlp_beats_softmax_regression_on_the_same_split():
    result = mnist_mlp_vs_softmax(MNIST_SETTINGS)
    assert result.mlp_test_accuracy > result.softmax_test_accuracy
    assert len(result.mlp_history.val_accuracy) == MNIST_SETTINGS["epochs"] + 1
    assert len(result.softmax.history["val_accuracy"]) == MNIST_SETTINGS["epochs"] + 1
    # the curves are drawn on a stratified dev set carved from the training images, never on the test set
    assert (result.m_train, result.m_dev) == (3500, 500)
    # the test accuracy it reports is the one the model actually has on the 1,000 test images
    data = load_mnist_subset()
    dev = carve_dev_split(data, MNIST_SETTINGS["dev_fraction"], seed=MNIST_SETTINGS["seed"])
    assert evaluate(result.mlp, dev.X_dev, dev.y_dev)[1] == result.mlp_history.val_accuracy[-1]
    assert result.mlp_test_accuracy > 0.9
    assert evaluate(result.mlp, data.X_test, data.y_test)[1] == result.mlp_test_accuracy
    assert result.softmax.accuracy(data.X_test, data.y_test) == result.softmax_test_accuracy
