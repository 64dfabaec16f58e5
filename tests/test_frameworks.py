"""nnbook.frameworks: the same network in nnbook, PyTorch and Keras, with the same weights and gradients.

PyTorch agrees with nnbook to float64 rounding. Keras 3 on its PyTorch backend
multiplies float64 arrays in float32 (its type promotion turns float64 results
into float32, keras-team/keras#23704), so it agrees to float32 rounding only:
the tolerances below say which is which.
"""

import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

from nnbook.experiments_optim import model_gradients
from nnbook.frameworks import (
    INSTALL_HINT,
    fit_batches,
    grad_fn_tree,
    gradients_keras,
    gradients_torch,
    keras_cost,
    max_relative_difference,
    relative_differences,
    to_keras,
    to_torch,
    torch_threads,
    train_keras,
    train_torch,
    weights_as_nnbook,
)
from nnbook.layers import Flatten, Linear, PReLU, ReLU, Sequential, Sigmoid, Tanh, mlp
from nnbook.losses import softmax_cross_entropy
from nnbook.optim import SGD
from nnbook.train import fit
from optional import import_torch

pytestmark = pytest.mark.ch10

torch = import_torch()


def import_keras():
    """``keras`` on the PyTorch backend, or a skip (a failure when ``NNBOOK_REQUIRE_TORCH`` is set)."""
    from nnbook.frameworks import import_keras as package_import_keras

    try:
        return package_import_keras()  # sets KERAS_BACKEND=torch before the first import of keras
    except ImportError:
        if os.environ.get("NNBOOK_REQUIRE_TORCH"):
            raise
        pytest.skip("keras is not installed", allow_module_level=True)


keras = import_keras()

#: float64 rounding, with room for a few hundred additions in another order
FLOAT64_TOL = 1e-12
#: float32 rounding (2⁻²³ ≈ 1.2e-7), with the same room
FLOAT32_TOL = 2e-6


def small_problem(m=64, n_x=12, n_h=8, K=5, seed=0, activation="relu"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n_x))
    y = rng.integers(0, K, size=m)
    return mlp((n_x, n_h, K), activation, seed=seed), X, y


# ---- the conversions ---------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "identity"])
def test_to_torch_and_to_keras_give_the_same_outputs_as_the_nnbook_model(activation):
    model, X, _ = small_problem(activation=activation)
    Z = model.forward(X)
    with torch.no_grad():
        Z_torch = to_torch(model)(torch.from_numpy(X)).numpy()
    Z_keras = keras.ops.convert_to_numpy(to_keras(model)(torch.from_numpy(X)))
    assert Z_torch.dtype == np.float64 and Z_torch.shape == Z.shape == Z_keras.shape
    np.testing.assert_allclose(Z_torch, Z, rtol=FLOAT64_TOL, atol=FLOAT64_TOL)
    np.testing.assert_allclose(Z_keras, Z, rtol=FLOAT32_TOL, atol=FLOAT32_TOL)


def test_the_weights_are_copied_with_the_shapes_of_each_framework():
    model, _, _ = small_problem(n_x=12, n_h=8, K=5)
    W, b = model.layers[0].params["W"].copy(), model.layers[0].params["b"].copy()
    torch_model, keras_model = to_torch(model), to_keras(model)
    assert tuple(torch_model[0].weight.shape) == W.shape == (8, 12)  # (n_out, n_in), as nnbook
    np.testing.assert_array_equal(torch_model[0].weight.detach().numpy(), W)
    kernel, bias = keras_model.layers[0].get_weights()
    assert kernel.shape == (12, 8) and kernel.dtype == np.float64  # (n_in, n_out): the transpose
    np.testing.assert_array_equal(kernel, W.T)
    np.testing.assert_array_equal(bias, b)
    # the copies are copies: training the nnbook model leaves them as they were
    model.layers[0].params["W"] += 1.0
    np.testing.assert_array_equal(torch_model[0].weight.detach().numpy(), W)
    # and weights_as_nnbook reads them back under nnbook's names
    for framework_model in (torch_model, keras_model):
        weights = weights_as_nnbook(framework_model)
        assert sorted(weights) == ["0.W", "0.b", "2.W", "2.b"]
        np.testing.assert_array_equal(weights["0.W"], W)


def test_the_dtype_is_kept():
    model = mlp((6, 4, 3), seed=1, dtype=np.float32)
    assert to_torch(model)[0].weight.dtype == torch.float32
    assert to_keras(model).layers[0].kernel.dtype == "float32"


def test_a_flatten_layer_is_converted_for_images():
    model = Sequential(Flatten(), Linear(2 * 3 * 3, 4, seed=0), Tanh(), Linear(4, 2, seed=1))
    images = np.random.default_rng(0).normal(size=(5, 2, 3, 3))
    with torch.no_grad():
        Z_torch = to_torch(model)(torch.from_numpy(images)).numpy()
    Z_keras = keras.ops.convert_to_numpy(to_keras(model, input_shape=(2, 3, 3))(torch.from_numpy(images)))
    np.testing.assert_allclose(Z_torch, model.forward(images), rtol=FLOAT64_TOL)
    np.testing.assert_allclose(Z_keras, model.forward(images), rtol=FLOAT32_TOL)


def test_unsupported_layers_and_models_are_refused_with_the_layer_named():
    model = Sequential(Linear(3, 2, seed=0), PReLU(2))
    with pytest.raises(ValueError, match=r"layer 1, PReLU\(2\).*supported layers: .*Linear"):
        to_torch(model)
    with pytest.raises(ValueError, match=r"layer 1, PReLU\(2\)"):
        to_keras(model)
    with pytest.raises(TypeError, match="Sequential"):
        to_torch(Linear(3, 2))
    with pytest.raises(ValueError, match="input_shape"):
        to_keras(Sequential(Flatten(), Linear(4, 2, seed=0)))


# ---- the gradients ----------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_the_three_gradients_agree(activation):
    model, X, y = small_problem(activation=activation)
    J, grads = model_gradients(model, X, y)
    J_torch, grads_torch = gradients_torch(to_torch(model), X, y)
    J_keras, grads_keras = gradients_keras(to_keras(model), X, y)
    assert sorted(grads_torch) == sorted(grads_keras) == sorted(grads) == ["0.W", "0.b", "2.W", "2.b"]
    for name in grads:
        assert grads_torch[name].shape == grads_keras[name].shape == grads[name].shape
        assert grads_torch[name].dtype == np.float64
    assert abs(J_torch - J) <= FLOAT64_TOL * J and abs(J_keras - J) <= FLOAT32_TOL * J
    assert max_relative_difference(grads_torch, grads) <= FLOAT64_TOL
    assert max_relative_difference(grads_keras, grads) <= FLOAT32_TOL


def test_keras_computes_in_float32_even_for_float64_weights():
    """What the chapter says of Keras 3.15 on PyTorch: float64 in and out, float32 in between."""
    model, X, y = small_problem(m=64, n_x=200, n_h=32)
    _, grads = model_gradients(model, X, y)
    keras_model = to_keras(model)
    assert keras_model.layers[0].kernel.dtype == "float64"
    _, grads_keras = gradients_keras(keras_model, X, y)
    error = max_relative_difference(grads_keras, grads)
    assert 1e-12 < error <= FLOAT32_TOL, error  # not float64's precision; if Keras fixes this, update the chapter


def test_torch_gradients_match_the_nnbook_formula_on_the_mnist_shapes():
    model = mlp((784, 64, 10), seed=0)
    rng = np.random.default_rng(1)
    X, y = rng.uniform(size=(32, 784)), rng.integers(0, 10, 32)
    _, grads = model_gradients(model, X, y)
    _, grads_torch = gradients_torch(to_torch(model), X, y)
    assert relative_differences(grads_torch, grads).keys() == grads.keys()
    assert max_relative_difference(grads_torch, grads) <= 1e-13


def test_gradients_do_not_accumulate_over_calls():
    model, X, y = small_problem()
    torch_model, keras_model = to_torch(model), to_keras(model)
    first_torch, first_keras = gradients_torch(torch_model, X, y)[1], gradients_keras(keras_model, X, y)[1]
    second_torch, second_keras = gradients_torch(torch_model, X, y)[1], gradients_keras(keras_model, X, y)[1]
    assert max_relative_difference(second_torch, first_torch) == 0.0
    assert max_relative_difference(second_keras, first_keras) == 0.0


def test_relative_differences_need_the_same_names():
    with pytest.raises(ValueError, match="named"):
        relative_differences({"0.W": np.ones(2)}, {"0.b": np.ones(2)})
    assert max_relative_difference({"a": np.array([1.0, 2.0])}, {"a": np.array([1.0, 2.5])}) == pytest.approx(0.2)


# ---- training on the same batches -------------------------------------------------------------


def test_fit_batches_are_the_batches_fit_trains_on():
    """Plain SGD by hand on fit_batches lands on exactly fit's weights."""
    model, X, y = small_problem(m=50)
    by_hand = mlp((12, 8, 5), seed=0)
    fit(model, X, y, SGD(0.1), epochs=3, batch_size=16, seed=7, progress=False)
    batches = fit_batches(len(X), 3, 16, seed=7)
    assert [len(b) for b in batches[0]] == [16, 16, 16, 2]
    for epoch in batches:
        assert sorted(np.concatenate(epoch)) == list(range(50))
        for batch in epoch:
            _, grads = model_gradients(by_hand, X[batch], y[batch])
            for name, param, _ in by_hand.params_and_grads():
                param -= 0.1 * grads[name]
    for (name, trained, _), (_, manual, _) in zip(model.params_and_grads(), by_hand.params_and_grads()):
        np.testing.assert_array_equal(trained, manual, err_msg=name)


def test_the_three_trainings_on_the_same_batches_agree():
    model, X, y = small_problem(m=128, activation="tanh")
    torch_model, keras_model = to_torch(model), to_keras(model)
    batches = fit_batches(len(X), 4, 32, seed=3)
    with torch_threads(1):
        history = fit(model, X, y, SGD(0.2), epochs=4, batch_size=32, seed=3, progress=False, history_sample=None)
        torch_history = train_torch(torch_model, X, y, batches, 0.2)
        keras_history = train_keras(keras_model, X, y, batches, 0.2)
    assert len(history.loss) == len(torch_history["loss"]) == len(keras_history["loss"]) == 5
    assert history.loss[-1] < 0.9 * history.loss[0]  # it did train
    np.testing.assert_allclose(torch_history["loss"], history.loss, rtol=FLOAT64_TOL)
    np.testing.assert_allclose(torch_history["step_loss"], history.step_loss, rtol=FLOAT64_TOL)
    np.testing.assert_allclose(keras_history["loss"], history.loss, rtol=FLOAT32_TOL)
    weights = {name: param for name, param, _ in model.params_and_grads()}
    assert max_relative_difference(weights_as_nnbook(torch_model), weights) <= FLOAT64_TOL
    assert max_relative_difference(weights_as_nnbook(keras_model), weights) <= FLOAT32_TOL


def test_train_keras_refuses_batches_it_cannot_reproduce():
    model, X, y = small_problem(m=40)
    with pytest.raises(ValueError, match="must all have 16 examples"):
        train_keras(to_keras(model), X, y, [[np.arange(16), np.arange(16, 20), np.arange(20, 40)]], 0.1)


def test_keras_cost_is_the_mean_softmax_cross_entropy():
    model, X, y = small_problem()
    assert keras_cost(to_keras(model), X, y) == pytest.approx(softmax_cross_entropy(model.forward(X), y)[0],
                                                              rel=FLOAT32_TOL)


def test_train_keras_leaves_keras_default_float_type_as_it_was():
    model, X, y = small_problem(m=32)
    before = keras.config.floatx()
    train_keras(to_keras(model), X, y, fit_batches(32, 1, 16), 0.1)
    assert keras.config.floatx() == before


# ---- the graph torch.autograd records -----------------------------------------------------------


def test_grad_fn_tree_walks_the_recorded_graph_down_to_the_leaves():
    w = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    L = 0.5 * (torch.sigmoid(w * -1.0 + b) - 1.0) ** 2
    rows = grad_fn_tree(L, {w: "w", b: "b"})
    assert rows == [(0, "MulBackward0"), (1, "PowBackward0"), (2, "SubBackward0"), (3, "SigmoidBackward0"),
                    (4, "AddBackward0"), (5, "MulBackward0"), (6, "AccumulateGrad → w.grad"),
                    (5, "AccumulateGrad → b.grad")]


def test_a_used_twice_leaf_appears_once_per_path():
    x = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    rows = grad_fn_tree(x * x, {x: "x"})
    assert rows == [(0, "MulBackward0"), (1, "AccumulateGrad → x.grad"), (1, "AccumulateGrad → x.grad")]


# ---- the package without the frameworks ---------------------------------------------------------


def test_the_package_imports_without_torch_or_keras_and_says_how_to_install_them():
    """With torch and keras hidden, nnbook.frameworks imports, and using it names the pip command."""
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "sys.modules['keras'] = None\n"
        "import nnbook.frameworks as f, nnbook.layers, nnbook.train\n"
        "from nnbook.layers import mlp\n"
        "try:\n"
        "    f.to_torch(mlp((3, 2, 2)))\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert INSTALL_HINT in result.stdout and "PyTorch" in result.stdout
    assert INSTALL_HINT == "pip install torch==2.13.0 keras"


def test_importing_nnbook_frameworks_imports_neither_framework():
    code = "import sys, nnbook.frameworks, nnbook.experiments_frameworks; print('torch' in sys.modules, 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
    assert importlib.import_module("nnbook.frameworks").__doc__
