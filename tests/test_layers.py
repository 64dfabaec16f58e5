"""Tests of nnbook/layers.py: the layer contract, shapes, errors, initialization, dtypes.

Every ``Layer`` subclass of the package goes through the same contract checks
(output shape, backward against numerical gradients of the input and of every
parameter, train/eval, buffers, float32 kept). The classes are *discovered*, by
walking nnbook's modules, so a new layer cannot skip the checks: it needs an
example in :data:`EXAMPLES` (activation layers get theirs from the activation
registry), or the test that demands one fails. The layers are also checked
against the same network written with the autodiff engine of
:mod:`nnbook.autodiff` (property-based), and against ``torch.autograd`` when
PyTorch is installed.
"""

import importlib
import inspect
import pkgutil
import re
from typing import Callable, NamedTuple

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from optional import import_torch
from strategies import class_counts, feature_counts, seeds

import nnbook
from nnbook import initialization, layers, losses, normalization, regularization
from nnbook import conv
from nnbook.activations import ACTIVATIONS, network_activations
from nnbook.autodiff import Tensor
from nnbook.gradcheck import assert_close, numerical_gradient, numerical_gradient_of_output
from nnbook.optim import SGD

pytestmark = pytest.mark.ch06


class Example(NamedTuple):
    """A small layer to run through the contract: ``build(dtype)`` makes it; the shapes include the batch."""

    id: str
    build: Callable
    input_shape: tuple
    output_shape: tuple
    #: statistics over the batch in training mode (batch normalization): a batch of one is refused there
    batch_statistics: bool = False


#: The registry of examples, by layer class. A new layer is covered by adding one line here.
EXAMPLES = {
    regularization.Dropout: [
        Example("Dropout", lambda dtype: regularization.Dropout(0.5, seed=3), (6, 5), (6, 5)),
        Example(
            "Linear-ReLU-Dropout-Linear",
            lambda dtype: layers.Sequential(layers.Linear(4, 6, seed=9, dtype=dtype), layers.ReLU(),
                                            regularization.Dropout(0.25, seed=4), layers.Linear(6, 3, seed=10, dtype=dtype)),
            (5, 4),
            (5, 3),
        ),
    ],
    normalization.BatchNorm: [
        Example("BatchNorm", lambda dtype: normalization.BatchNorm(4, dtype=dtype), (5, 4), (5, 4),
                batch_statistics=True),
        Example(
            "BatchNorm-Linear-Tanh",  # not Linear → BatchNorm: the bias before a BatchNorm has a zero gradient
            lambda dtype: layers.Sequential(normalization.BatchNorm(4, dtype=dtype),
                                            layers.Linear(4, 3, seed=8, dtype=dtype), layers.Tanh()),
            (5, 4),
            (5, 3),
            batch_statistics=True,
        ),
    ],
    layers.Linear: [
        Example("Linear", lambda dtype: layers.Linear(4, 3, seed=1, dtype=dtype), (5, 4), (5, 3)),
        Example("Linear-xavier", lambda dtype: layers.Linear(4, 2, init="xavier", seed=2, dtype=dtype), (5, 4), (5, 2)),
        Example("Linear-no-dx", lambda dtype: layers.Linear(3, 2, seed=3, dtype=dtype, input_grad=False), (4, 3), (4, 2)),
    ],
    layers.ActivationLayer: [Example("ActivationLayer-tanh", lambda dtype: layers.ActivationLayer("tanh"), (5, 4), (5, 4))],
    layers.PReLU: [
        Example("PReLU-per-feature", lambda dtype: layers.PReLU(4, dtype=dtype), (5, 4), (5, 4)),
        Example("PReLU-shared", lambda dtype: layers.PReLU(1, init=0.1, dtype=dtype), (5, 4), (5, 4)),
    ],
    layers.Flatten: [
        Example("Flatten-images", lambda dtype: layers.Flatten(), (3, 2, 3, 4), (3, 24)),
        Example("Flatten-rows", lambda dtype: layers.Flatten(), (3, 5), (3, 5)),
    ],
    layers.Sequential: [
        Example("mlp-tanh", lambda dtype: layers.mlp((4, 5, 3), "tanh", seed=3, dtype=dtype), (5, 4), (5, 3)),
        Example("mlp-relu-deep", lambda dtype: layers.mlp((4, 6, 5, 2), "relu", seed=4, dtype=dtype), (5, 4), (5, 2)),
        Example(
            "Sequential-mixed",
            lambda dtype: layers.Sequential(
                layers.Linear(4, 6, seed=5, dtype=dtype), layers.ELU(), layers.Linear(6, 3, seed=6, dtype=dtype),
                layers.Softplus(),
            ),
            (5, 4),
            (5, 3),
        ),
        Example(
            "Sequential-images",
            lambda dtype: layers.Sequential(layers.Flatten(), layers.Linear(12, 3, seed=7, dtype=dtype), layers.Tanh()),
            (4, 3, 2, 2),
            (4, 3),
        ),
    ],
}
# the layers for images (chapter 11): convolution, pooling, spatial batch normalization
EXAMPLES.update({
    # statistics over m·H·W values per channel: one image of several pixels is enough, hence no batch_statistics
    normalization.BatchNorm2D: [
        Example("BatchNorm2D", lambda dtype: normalization.BatchNorm2D(3, dtype=dtype), (4, 3, 2, 3), (4, 3, 2, 3)),
    ],
    conv.Conv2D: [
        Example("Conv2D", lambda dtype: conv.Conv2D(2, 3, (3, 2), seed=1, dtype=dtype), (2, 2, 5, 4), (2, 3, 3, 3)),
        Example("Conv2D-stride-padding", lambda dtype: conv.Conv2D(2, 3, 3, stride=2, padding=1, seed=2, dtype=dtype),
                (2, 2, 5, 4), (2, 3, 3, 2)),
        Example("Conv2D-no-dx", lambda dtype: conv.Conv2D(1, 2, 2, seed=3, dtype=dtype, input_grad=False),
                (2, 1, 4, 3), (2, 2, 3, 2)),
    ],
    conv.MaxPool2D: [
        Example("MaxPool2D", lambda dtype: conv.MaxPool2D(2), (2, 3, 4, 6), (2, 3, 2, 3)),
        Example("MaxPool2D-overlapping", lambda dtype: conv.MaxPool2D((3, 2), stride=1), (2, 2, 4, 3), (2, 2, 2, 2)),
    ],
    conv.AvgPool2D: [
        Example("AvgPool2D", lambda dtype: conv.AvgPool2D(2), (2, 3, 4, 6), (2, 3, 2, 3)),
        Example("AvgPool2D-overlapping", lambda dtype: conv.AvgPool2D(3, stride=2), (2, 2, 5, 5), (2, 2, 2, 2)),
    ],
})
EXAMPLES[layers.Sequential].append(Example(
    "Sequential-small-cnn",
    lambda dtype: layers.Sequential(
        # not Conv2D → BatchNorm2D: the bias before a batch normalization has a zero gradient
        conv.Conv2D(1, 2, 3, padding=1, seed=9, dtype=dtype), layers.Tanh(), normalization.BatchNorm2D(2, dtype=dtype),
        conv.MaxPool2D(2), layers.Flatten(), layers.Linear(8, 3, seed=10, dtype=dtype),
    ),
    (2, 1, 4, 4),
    (2, 3),
))
# every activation of the registry that a network can use, through its layer class
for _name in network_activations():
    EXAMPLES.setdefault(ACTIVATIONS[_name].layer, []).append(
        Example(ACTIVATIONS[_name].layer.__name__, lambda dtype, _name=_name: ACTIVATIONS[_name].layer.of_width(4, dtype),
                (5, 4), (5, 4))
    )


def package_layer_classes():
    """Every subclass of ``Layer`` defined in nnbook: its modules walked with pkgutil (recursively into
    subpackages), then the subclasses of ``Layer`` collected, recursively, among the classes they define."""
    modules = [importlib.import_module(info.name) for info in pkgutil.walk_packages(nnbook.__path__, "nnbook.")]
    assert "nnbook.layers" in {module.__name__ for module in modules}

    def subclasses(cls):
        return {sub for direct in cls.__subclasses__() for sub in {direct} | subclasses(direct)}

    return sorted((cls for cls in subclasses(layers.Layer) if cls.__module__.split(".")[0] == "nnbook"),
                  key=lambda cls: (cls.__module__, cls.__qualname__))


LAYER_CLASSES = package_layer_classes()
ALL_EXAMPLES = [example for examples in EXAMPLES.values() for example in examples]
contract = pytest.mark.parametrize("example", ALL_EXAMPLES, ids=[example.id for example in ALL_EXAMPLES])


def away_from_zero(rng, shape):
    """Entries of size 0.5–2 with random signs: no input sits at a kink of ReLU-like activations."""
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], size=shape)


def randomized(layer, rng):
    """``layer`` with noise added to every parameter, so zero biases cannot hide a mistake."""
    for _, param, _ in layer.params_and_grads():
        param += 0.3 * rng.standard_normal(param.shape)
    return layer


def flatten_layers(layer):
    """The layers inside ``layer``, recursively (a non-Sequential layer is its own only leaf)."""
    if isinstance(layer, layers.Sequential):
        return [leaf for sub in layer.layers for leaf in flatten_layers(sub)]
    return [layer]


# ---- discovery: every layer of the package has an example ---------------------------------------


def test_discovery_finds_the_layers_of_the_package_and_not_the_loss():
    assert {layers.Linear, layers.Flatten, layers.Sequential, layers.ReLU, layers.Tanh} <= set(LAYER_CLASSES)
    assert layers.Layer not in LAYER_CLASSES
    assert losses.SoftmaxCrossEntropy not in LAYER_CLASSES, "a loss is not a layer"
    assert layers.SoftmaxCrossEntropy is losses.SoftmaxCrossEntropy  # the old import path still works


def check_has_an_example(cls):
    """Fail, saying what to do, unless :data:`EXAMPLES` builds an instance of exactly ``cls``."""
    if not any(type(example.build(np.float64)) is cls for example in EXAMPLES.get(cls, [])):
        pytest.fail(f"{cls.__module__}.{cls.__qualname__} is a Layer without an example: add a small construction "
                    "of it to EXAMPLES in tests/test_layers.py (for an activation layer, its entry in "
                    "nnbook.activations.ACTIVATIONS), so that it runs through the layer contract")


@pytest.mark.parametrize("cls", LAYER_CLASSES, ids=[cls.__qualname__ for cls in LAYER_CLASSES])
def test_every_layer_class_has_an_example(cls):
    check_has_an_example(cls)


def test_a_layer_without_an_example_fails_with_what_to_do():
    class Unregistered(layers.Layer):
        pass

    with pytest.raises(pytest.fail.Exception, match=r"Unregistered is a Layer without an example: add a small"):
        check_has_an_example(Unregistered)


# ---- the contract, for every example --------------------------------------------------------------


def same_draws(layer):
    """``layer`` with the generators of its random layers (dropout) re-seeded: the next forward draws the
    same masks as the last one, so that a numerical gradient differentiates one fixed function."""
    for leaf in flatten_layers(layer):
        if hasattr(leaf, "rng"):
            leaf.rng = np.random.default_rng(1234)
    return layer


@contract
def test_output_shape_and_gradients_match_numerical_ones(example):
    rng = np.random.default_rng(len(example.id))
    layer = randomized(example.build(np.float64), rng)
    x = away_from_zero(rng, example.input_shape)
    out = same_draws(layer).forward(x)
    assert out.shape == example.output_shape
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    analytic = {name: grad.copy() for name, _, grad in layer.params_and_grads()}
    names = list(analytic)
    assert len(set(names)) == len(names), "parameter names must be unique"
    for name, param, grad in layer.params_and_grads():
        assert grad.shape == param.shape, name

    with_dx = layer.input_grad
    if not with_dx:  # a layer that skips dx returns None; switch it on to check dx too
        assert dx is None
        layer.input_grad = True
        same_draws(layer).forward(x)
        dx = layer.backward(dout)
        for name, _, grad in layer.params_and_grads():
            np.testing.assert_array_equal(grad, analytic[name], err_msg=f"d{name} depends on input_grad")
    assert dx.shape == x.shape
    assert_close(dx, numerical_gradient_of_output(lambda: same_draws(layer).forward(x), x, dout), f"{example.id}: dx")
    for name, param, _ in layer.params_and_grads():
        numeric = numerical_gradient_of_output(lambda: same_draws(layer).forward(x), param, dout)
        assert_close(analytic[name], numeric, f"{example.id}: d{name}")


@contract
def test_batch_of_one_and_shapes_follow_the_batch(example):
    layer = example.build(np.float64)
    if example.batch_statistics:  # the variance of one example is 0: refused in training mode, as torch refuses it
        with pytest.raises(ValueError, match="expected more than one value per feature in training mode"):
            layer.forward(np.ones((1, *example.input_shape[1:])))
    for m in (1, 7):
        layer.train(m > 1 or not example.batch_statistics)  # a batch of one goes through in inference mode
        shape = (m, *example.input_shape[1:])
        out = layer.forward(np.random.default_rng(m).standard_normal(shape))
        assert out.shape == (m, *example.output_shape[1:])
        dx = layer.backward(np.ones_like(out))
        assert dx is None or dx.shape == shape


@contract
def test_train_and_eval_switch_the_mode_everywhere_state_is_kept_where_it_belongs(example):
    layer = example.build(np.float64)
    leaves = [layer, *flatten_layers(layer)]
    assert all(leaf.training for leaf in leaves), "a new layer is in training mode"
    assert layer.eval() is layer
    assert not any(leaf.training for leaf in leaves)
    assert layer.train() is layer and all(leaf.training for leaf in leaves)
    assert layer.train(False) is layer and not any(leaf.training for leaf in leaves)
    layer.train(True)
    for leaf in leaves:
        assert isinstance(leaf.buffers, dict)
        assert not set(leaf.buffers) & set(leaf.params), "a buffer is not trained: it cannot be a parameter"
        if hasattr(leaf, "rng"):  # a layer that draws random numbers owns a seeded generator
            assert isinstance(leaf.rng, np.random.Generator)

    # built twice, the layer draws the same numbers in training mode: its randomness is seeded
    x = np.random.default_rng(0).standard_normal(example.input_shape)
    np.testing.assert_array_equal(example.build(np.float64).forward(x), example.build(np.float64).forward(x))

    # in inference mode the output is a function of the input alone, and no buffer moves
    layer.eval()
    before = {id(leaf): {k: np.copy(v) for k, v in leaf.buffers.items()} for leaf in leaves}
    np.testing.assert_array_equal(layer.forward(x), layer.forward(x))
    for leaf in leaves:
        for key, value in leaf.buffers.items():
            np.testing.assert_array_equal(value, before[id(leaf)][key], err_msg=key)


@contract
def test_float32_stays_float32(example):
    layer = example.build(np.float32)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(example.input_shape).astype(np.float32)
    out = layer.forward(x)
    assert out.dtype == np.float32
    dx = layer.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert dx is None or dx.dtype == np.float32
    for name, param, grad in layer.params_and_grads():
        assert param.dtype == np.float32 and grad.dtype == np.float32, name


@contract
def test_backward_before_forward_is_a_clear_error(example):
    layer = example.build(np.float64)
    if isinstance(layer, layers.Sequential) and not layer.layers:
        pytest.skip("an empty chain has nothing to run")
    with pytest.raises(RuntimeError, match=r"\w+\.backward called before forward: there is no cache"):
        layer.backward(np.ones(example.output_shape))


@contract
def test_wrong_dout_shape_names_both_shapes(example):
    layer = example.build(np.float64)
    layer.forward(np.ones(example.input_shape))
    shape = tuple(example.output_shape)
    wider, longer = (shape[0], shape[1] + 1, *shape[2:]), (shape[0] + 1, *shape[1:])
    expected = rf"dout has shape {re.escape(str(wider))} but the layer's output had shape {re.escape(str(shape))}"
    with pytest.raises(ValueError, match=expected):
        layer.backward(np.ones(wider))
    with pytest.raises(ValueError, match=rf"dout has shape {re.escape(str(longer))}"):
        layer.backward(np.ones(longer))


# ---- particular layers ------------------------------------------------------------------------------


def test_parameter_names_and_shapes():
    assert {name: p.shape for name, p, _ in layers.Linear(4, 3).params_and_grads()} == {"W": (3, 4), "b": (3,)}
    model = layers.mlp((4, 5, 3), "tanh")
    assert {name: p.shape for name, p, _ in model.params_and_grads()} == {
        "0.W": (5, 4),
        "0.b": (5,),
        "2.W": (3, 5),
        "2.b": (3,),
    }
    assert [type(layer) for layer in model.layers] == [layers.Linear, layers.Tanh, layers.Linear]
    assert list(layers.ReLU().params_and_grads()) == []
    assert layers.ReLU().buffers == {} and layers.Linear(2, 2).buffers == {}


def test_an_empty_sequential_is_the_identity():
    x = np.arange(6.0).reshape(2, 3)
    model = layers.Sequential()
    np.testing.assert_array_equal(model.forward(x), x)
    np.testing.assert_array_equal(model.backward(2 * x), 2 * x)
    assert list(model.params_and_grads()) == []
    assert model.input_grad
    model.input_grad = False  # nothing to switch off
    assert model.eval() is model and not model.training


def test_flatten_turns_images_into_rows_and_back():
    images = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)  # (m, C, H, W)
    flatten = layers.Flatten()
    rows = flatten.forward(images)
    assert rows.shape == (2, 60)
    np.testing.assert_array_equal(rows[1], images[1].ravel())
    np.testing.assert_array_equal(flatten.backward(rows), images)
    assert flatten.forward(np.ones((0, 3, 2))).shape == (0, 6)  # an empty batch keeps its width


def test_relu_takes_derivative_zero_at_the_kink_like_the_autodiff_engine():
    z = np.array([[-1.0, 0.0, 2.0]])
    dout = np.array([[3.0, 5.0, 7.0]])
    relu = layers.ReLU()
    np.testing.assert_array_equal(relu.forward(z), [[0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(relu.backward(dout), [[0.0, 0.0, 7.0]])
    t = Tensor(z)
    t.relu().backward(dout)
    np.testing.assert_array_equal(t.grad, [[0.0, 0.0, 7.0]])


def test_a_first_layer_without_input_gradient_still_fills_dW_and_db():
    rng = np.random.default_rng(8)
    X, dout = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    full = randomized(layers.mlp((3, 4, 2), "tanh", seed=1), np.random.default_rng(9))
    lean = randomized(layers.mlp((3, 4, 2), "tanh", seed=1, input_grad=False), np.random.default_rng(9))
    assert full.input_grad and not lean.input_grad
    np.testing.assert_array_equal(lean.forward(X), full.forward(X))
    assert lean.backward(dout) is None
    assert full.backward(dout).shape == X.shape
    for (name, _, grad), (_, _, expected) in zip(lean.params_and_grads(), full.params_and_grads()):
        np.testing.assert_array_equal(grad, expected, err_msg=name)


def test_sequential_input_grad_switches_the_first_layer_with_parameters():
    model = layers.Sequential(layers.Flatten(), layers.Linear(6, 4, seed=0), layers.ReLU(), layers.Linear(4, 2))
    first, second = model.layers[1], model.layers[3]
    model.input_grad = False
    assert not first.input_grad and second.input_grad and not model.input_grad
    x = np.random.default_rng(0).standard_normal((3, 2, 3))
    model.forward(x)
    assert model.backward(np.ones((3, 2))) is None  # the Flatten before it is not run backward
    model.input_grad = True
    assert first.input_grad and model.backward(np.ones((3, 2))).shape == x.shape
    nested = layers.Sequential(layers.Sequential(layers.Linear(2, 2)), layers.Linear(2, 2))
    nested.input_grad = False
    assert not nested.layers[0].layers[0].input_grad and nested.layers[1].input_grad


def test_wrong_input_width_names_the_shapes():
    with pytest.raises(ValueError, match=r"Linear\(4, 3\) expects input of shape \(m, 4\), got \(2, 5\)"):
        layers.Linear(4, 3).forward(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"expects input of shape \(m, 4\), got \(4,\)"):
        layers.Linear(4, 3).forward(np.ones(4))
    with pytest.raises(ValueError, match=r"Linear\(5, 3\) expects input of shape \(m, 5\), got \(2, 4\)"):
        layers.Sequential(layers.Linear(4, 4), layers.ReLU(), layers.Linear(5, 3)).forward(np.ones((2, 4)))


def test_linear_draws_its_weights_with_the_initialization_module(monkeypatch):
    for init in initialization.INITIALIZERS:
        W = layers.Linear(5, 3, init=init, seed=4).params["W"]
        np.testing.assert_array_equal(W, initialization.initialize(init, (3, 5), np.random.default_rng(4)))
    calls = []
    monkeypatch.setitem(initialization.INITIALIZERS, "he",
                        lambda shape, rng, dtype: calls.append(shape) or np.zeros(shape, dtype))
    layers.Linear(5, 3)
    assert calls == [(3, 5)]
    # and no second copy of the formulas in layers.py
    assert "sqrt" not in inspect.getsource(layers)


def test_init_weights_is_the_initialization_module():
    np.testing.assert_array_equal(layers.init_weights(4, 6, "xavier", np.random.default_rng(1)),
                                  initialization.xavier_normal((4, 6), np.random.default_rng(1)))
    with pytest.raises(ValueError, match=r"unknown initialization 'glorot'; choose one of \['he', 'he_uniform', "):
        layers.init_weights(3, 4, "glorot")


def test_mlp_takes_layer_class_and_initialization_from_the_activation_registry():
    for name in network_activations():
        model = layers.mlp((500, 400, 3), name)
        assert type(model.layers[1]) is ACTIVATIONS[name].layer
        fan_in, fan_out = 500, 400
        variance = 2 / fan_in if ACTIVATIONS[name].init == "he" else 2 / (fan_in + fan_out)
        assert model.layers[0].params["W"].var() == pytest.approx(variance, rel=0.03), name
    assert layers.mlp((500, 400), "relu").layers[0].params["W"].var() == pytest.approx(2 / 500, rel=0.03)
    assert layers.mlp((500, 400), "tanh").layers[0].params["W"].var() == pytest.approx(2 / 900, rel=0.03)
    with pytest.raises(ValueError, match=r"unknown activation 'swish' for an MLP; choose one of \['arctan', 'elu', "):
        layers.mlp((2, 2), "swish")
    with pytest.raises(ValueError, match="unknown activation 'step' for an MLP"):
        layers.mlp((2, 2), "step")  # in the registry, but no network layer: its derivative is zero


def test_same_seed_same_weights_different_seed_different_weights():
    a, b, c = layers.mlp((3, 4, 2), seed=1), layers.mlp((3, 4, 2), seed=1), layers.mlp((3, 4, 2), seed=2)
    for (_, pa, _), (_, pb, _), (_, pc, _) in zip(a.params_and_grads(), b.params_and_grads(), c.params_and_grads()):
        np.testing.assert_array_equal(pa, pb)
    assert not np.array_equal(a.layers[0].params["W"], c.layers[0].params["W"])


@pytest.mark.parametrize("activation", network_activations())
def test_a_float32_network_trains_in_float32(activation):
    model = layers.mlp((4, 5, 3), activation, dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    loss = losses.SoftmaxCrossEntropy()
    Z = model.forward(x)
    assert Z.dtype == np.float32
    loss.forward(Z, np.array([0, 1, 2, 0, 1, 2]))
    dZ = loss.backward()
    assert dZ.dtype == np.float32
    assert model.backward(dZ).dtype == np.float32
    before = {name: param.copy() for name, param, _ in model.params_and_grads()}
    SGD(lr=0.1).step(model)
    for name, param, grad in model.params_and_grads():
        assert param.dtype == np.float32, name
        assert grad.dtype == np.float32, name
        assert not np.array_equal(param, before[name]) or not grad.any(), name


# ---- three-way agreement: layer backprop == autodiff engine == numerical --------------------------

#: The activations written with the autodiff engine below (every network activation but the identity).
ENGINE_ACTIVATIONS = ["relu", "tanh", "sigmoid", "elu", "softplus", "leaky_relu"]

#: The same activations written with the autodiff engine's primitives.
TENSOR_ACTIVATIONS = {
    "relu": lambda z: z.relu(),
    "tanh": lambda z: z.tanh(),
    "sigmoid": lambda z: z.sigmoid(),
    "elu": lambda z: z.relu() + (-(-z).relu()).exp() - 1.0,  # z > 0: z; else e^z − 1
    "softplus": lambda z: (z.exp() + 1.0).log(),
    "leaky_relu": lambda z: z.relu() - 0.01 * (-z).relu(),
}

#: Activations whose first or second derivative jumps at 0: a central difference across 0 is wrong.
KINKED = {"relu", "leaky_relu", "elu"}


def assert_same_gradient(actual, expected, name, tol=1e-8, floor=1e-4):
    """Two exactly computed float64 gradients agree to ``tol``, relative to the larger of their size and ``floor``.

    The floor is for a saturated softmax: ``p − 1`` of about 1e-7 carries a rounding
    error of about 1e-15 that no formula avoids, already 1e-8 *relative*; two
    correct implementations round differently. A wrong gradient is off by O(1).
    """
    scale = max(np.max(np.abs(actual)), np.max(np.abs(expected)), floor)
    if np.max(np.abs(np.asarray(actual) - np.asarray(expected))) > tol * scale:
        assert_close(actual, expected, name, tol)  # fails, and says where
    assert np.shape(actual) == np.shape(expected), name


def test_assert_same_gradient_sees_a_difference():
    assert_same_gradient(np.array([1.0, -2.0]), np.array([1.0, -2.0 + 1e-10]), "close enough")
    assert_same_gradient(np.array([1e-7, 0.0]), np.array([1e-7 + 1e-14, 0.0]), "below the floor")
    with pytest.raises(AssertionError, match="relative error"):
        assert_same_gradient(np.array([1.0, -2.0]), np.array([1.0, -2.0 + 1e-7]), "too far")
    with pytest.raises(AssertionError, match="relative error"):
        assert_same_gradient(np.array([1e-7, 0.0]), np.array([2e-7, 0.0]), "small and wrong")


@st.composite
def mlp_problems(draw):
    """A random MLP ``n_x → 1–3 hidden layers of width 1–6 → K`` with its weights, a batch and a loss."""
    depth = draw(st.integers(1, 3))
    sizes = [draw(feature_counts) for _ in range(depth + 1)] + [draw(class_counts)]
    activation = draw(st.sampled_from(ENGINE_ACTIVATIONS))
    m = draw(st.integers(1, 8))
    head = draw(st.sampled_from(["cross_entropy", "random_upstream"]))
    rng = np.random.default_rng(draw(seeds))
    model = randomized(layers.mlp(sizes, activation, seed=rng), rng)
    X = rng.standard_normal((m, sizes[0]))
    y = rng.integers(0, sizes[-1], size=m)
    dout = rng.standard_normal((m, sizes[-1]))
    return model, activation, head, X, y, dout


def layer_backprop(model, head, X, y, dout):
    """Loss, ``dX`` and every parameter gradient of ``model`` by its own backward pass."""
    Z = model.forward(X)
    if head == "cross_entropy":
        loss = losses.SoftmaxCrossEntropy()
        J = loss.forward(Z, y)
        dZ = loss.backward()
    else:
        J, dZ = np.sum(Z * dout), dout
    dX = model.backward(dZ)
    return J, dX, {name: grad.copy() for name, _, grad in model.params_and_grads()}


def autodiff_backprop(model, activation, head, X, y, dout):
    """The same network written with Tensors built from the *same* weight arrays; also the pre-activations."""
    x = Tensor(X)
    params = {name: Tensor(param) for name, param, _ in model.params_and_grads()}
    linear_indices = [i for i, layer in enumerate(model.layers) if isinstance(layer, layers.Linear)]
    h, pre_activations = x, []
    for index in linear_indices:
        h = h @ params[f"{index}.W"].T + params[f"{index}.b"]
        if index != linear_indices[-1]:
            pre_activations.append(h.data)
            h = TENSOR_ACTIVATIONS[activation](h)
    J = h.softmax_cross_entropy(y) if head == "cross_entropy" else (h * dout).sum()
    J.backward()
    return float(J.data), x.grad, {name: t.grad for name, t in params.items()}, pre_activations


@settings(max_examples=150, deadline=None)
@given(mlp_problems())
def test_layer_backprop_autodiff_and_numerical_gradients_agree(problem):
    model, activation, head, X, y, dout = problem
    J_ad, dX_ad, grads_ad, pre_activations = autodiff_backprop(model, activation, head, X, y, dout)
    if activation in KINKED:
        assume(min(np.min(np.abs(z)) for z in pre_activations) > 1e-3)
    J, dX, grads = layer_backprop(model, head, X, y, dout)

    assert J == pytest.approx(J_ad, rel=1e-12, abs=1e-12)
    assert_same_gradient(dX, dX_ad, "dX: layers vs autodiff")
    assert set(grads) == set(grads_ad) and len(grads) == len(model.layers) + 1  # a W and a b per Linear
    for name in grads:
        assert_same_gradient(grads[name], grads_ad[name], f"d{name}: layers vs autodiff")

    # A central difference resolves a gradient only down to about 1e-16·|J|/h ≈ 1e-11·|J| in absolute
    # terms; a gradient array whose largest entry is tiny (a saturated softmax, say) cannot be checked
    # to 1e-6 *relative* error. Those examples stop here, after the exact comparison above.
    scales = [np.max(np.abs(g)) for g in (dX, *grads.values())]
    assume(all(scale == 0.0 or scale > 1e-3 * max(1.0, abs(J)) for scale in scales))

    def cost():
        return layer_backprop(model, head, X, y, dout)[0]

    assert_close(dX, numerical_gradient(cost, X), "dX: layers vs numerical", tol=1e-6)
    for name, param, _ in model.params_and_grads():
        assert_close(grads[name], numerical_gradient(cost, param), f"d{name}: layers vs numerical", tol=1e-6)


# ---- PyTorch cross-check -----------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(mlp_problems())
def test_layer_backprop_matches_torch_autograd(problem):
    torch = import_torch()
    F = torch.nn.functional
    torch_activations = {
        "relu": F.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "elu": lambda z: F.elu(z, alpha=1.0),
        "softplus": lambda z: F.softplus(z, threshold=50.0),  # the default switches to z above 20
        "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=0.01),
    }
    model, activation, _, X, y, _ = problem
    J, dX, grads = layer_backprop(model, "cross_entropy", X, y, None)

    linears = {}
    for index, layer in enumerate(model.layers):
        if isinstance(layer, layers.Linear):
            linear = torch.nn.Linear(layer.n_in, layer.n_out, dtype=torch.float64)
            assert tuple(linear.weight.shape) == layer.params["W"].shape
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.params["W"]))
                linear.bias.copy_(torch.from_numpy(layer.params["b"]))
            linears[index] = linear
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    h = x
    for index in linears:
        h = linears[index](h)
        if index != max(linears):
            h = torch_activations[activation](h)
    reference = F.cross_entropy(h, torch.from_numpy(y))
    reference.backward()

    assert J == pytest.approx(reference.item(), rel=1e-12, abs=1e-12)
    assert_same_gradient(dX, x.grad.numpy(), "dX: layers vs torch")
    for index, linear in linears.items():
        assert_same_gradient(grads[f"{index}.W"], linear.weight.grad.numpy(), f"d{index}.W: layers vs torch")
        assert_same_gradient(grads[f"{index}.b"], linear.bias.grad.numpy(), f"d{index}.b: layers vs torch")


# ---- PReLU and Arctan (chapter 7) --------------------------------------------------------------------


@pytest.mark.ch07
def test_prelu_has_one_trained_slope_per_feature_and_mlp_builds_it_so():
    layer = layers.PReLU(4)
    assert repr(layer) == "PReLU(4)" and isinstance(layer, layers.ActivationLayer)
    assert {name: p.shape for name, p, _ in layer.params_and_grads()} == {"alpha": (4,)}
    np.testing.assert_array_equal(layer.params["alpha"], 0.25)
    assert layers.PReLU(1, init=0.1).params["alpha"].tolist() == [0.1]
    model = layers.mlp((3, 5, 4, 2), "prelu", dtype=np.float32)
    assert [repr(leaf) for leaf in model.layers] == ["Linear(3, 5)", "PReLU(5)", "Linear(5, 4)", "PReLU(4)", "Linear(4, 2)"]
    assert model.layers[1].params["alpha"].dtype == np.float32
    assert [name for name, _, _ in model.params_and_grads()] == ["0.W", "0.b", "1.alpha", "2.W", "2.b", "3.alpha",
                                                                 "4.W", "4.b"]
    # every other activation layer is built as before, without arguments
    assert type(layers.ReLU.of_width(7, np.float32)) is layers.ReLU


@pytest.mark.ch07
def test_prelu_slope_gradient_sums_dout_times_z_on_the_negative_side():
    z = np.array([[1.0, -2.0], [-1.0, 3.0], [-4.0, -1.0]])  # the chapter's self-check question
    per_feature, shared = layers.PReLU(2), layers.PReLU(1)
    for layer in (per_feature, shared):
        layer.forward(z)
        dz = layer.backward(np.ones_like(z))
        np.testing.assert_array_equal(dz, [[1.0, 0.25], [0.25, 1.0], [0.25, 0.25]])
    np.testing.assert_array_equal(per_feature.grads["alpha"], [-5.0, -3.0])
    np.testing.assert_array_equal(shared.grads["alpha"], [-8.0])
    out, cache = layers.prelu_forward(z, np.array([0.5, -1.0]))
    np.testing.assert_array_equal(out, [[1.0, 2.0], [-0.5, 3.0], [-2.0, 1.0]])
    dz, dalpha = layers.prelu_backward(2 * np.ones_like(z), cache)
    np.testing.assert_array_equal(dalpha, [-10.0, -6.0])


@pytest.mark.ch07
def test_prelu_on_images_has_one_slope_per_channel_and_passes_the_gradient_check():
    rng = np.random.default_rng(5)
    layer = layers.PReLU(3)
    layer.params["alpha"][:] = [0.2, -0.3, 0.7]
    x = away_from_zero(rng, (2, 3, 4, 4))  # (m, C, H, W)
    dout = rng.standard_normal(x.shape)
    out = layer.forward(x)
    assert out.shape == x.shape
    np.testing.assert_array_equal(out[:, 1][x[:, 1] < 0], -0.3 * x[:, 1][x[:, 1] < 0])
    dx = layer.backward(dout)
    assert layer.grads["alpha"].shape == (3,)
    assert_close(dx, numerical_gradient_of_output(lambda: layer.forward(x), x, dout), "dx")
    assert_close(layer.grads["alpha"], numerical_gradient_of_output(lambda: layer.forward(x), layer.params["alpha"], dout),
                 "dalpha")


@pytest.mark.ch07
def test_prelu_says_what_shape_it_expects():
    with pytest.raises(ValueError, match=r"PReLU with 3 slopes expects input of shape \(m, 3, …\).*got \(2, 4\)"):
        layers.PReLU(3).forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"got \(5,\)"):
        layers.PReLU(1).forward(np.ones(5))
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match="PReLU needs a positive number of slopes"):
            layers.PReLU(bad)


def torch_relative_error(actual, expected):
    from nnbook.gradcheck import relative_error

    return relative_error(actual, expected.detach().numpy())


@pytest.mark.ch07
@pytest.mark.parametrize("shape, num_parameters", [((7, 5), 5), ((7, 5), 1), ((3, 4, 2, 3), 4)],
                         ids=["per-feature", "shared", "per-channel"])
def test_prelu_matches_torch_in_float64(shape, num_parameters):
    torch = import_torch()
    rng = np.random.default_rng(num_parameters)
    z = away_from_zero(rng, shape)
    dout = rng.standard_normal(shape)
    alpha = rng.uniform(-0.5, 0.8, num_parameters)
    layer = layers.PReLU(num_parameters)
    layer.params["alpha"][:] = alpha
    out = layer.forward(z)
    dz = layer.backward(dout)

    reference = torch.nn.PReLU(num_parameters=num_parameters, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(alpha))
    z_t = torch.tensor(z, requires_grad=True)
    out_t = reference(z_t)
    out_t.backward(torch.from_numpy(dout))
    assert torch_relative_error(out, out_t) <= 1e-7
    assert torch_relative_error(dz, z_t.grad) <= 1e-7
    assert torch_relative_error(layer.grads["alpha"], reference.weight.grad) <= 1e-7


@pytest.mark.ch07
def test_arctan_layer_matches_torch_in_float64():
    torch = import_torch()
    rng = np.random.default_rng(11)
    z = 3 * rng.standard_normal((6, 4))
    dout = rng.standard_normal(z.shape)
    layer = layers.Arctan()
    out = layer.forward(z)
    dz = layer.backward(dout)
    z_t = torch.tensor(z, requires_grad=True)
    out_t = torch.atan(z_t)
    out_t.backward(torch.from_numpy(dout))
    assert torch_relative_error(out, out_t) <= 1e-7
    assert torch_relative_error(dz, z_t.grad) <= 1e-7
