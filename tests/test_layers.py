"""Tests of nnbook/layers.py: backward against numerical gradients, shapes, errors, initialization, dtypes.

The layers are checked three ways: against central differences (one
parametrized test over :data:`LAYERS`), against the same network written with
the autodiff engine of :mod:`nnbook.autodiff` (property-based), and against
``torch.autograd`` when PyTorch is installed.
"""

import inspect

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from optional import import_torch
from strategies import class_counts, feature_counts, seeds

from nnbook import layers
from nnbook.autodiff import Tensor
from nnbook.gradcheck import assert_close, numerical_gradient, numerical_gradient_of_output
from nnbook.optim import SGD

pytestmark = pytest.mark.ch06

#: The registry: (id, factory, input width, output width). A new layer is covered by adding one line.
LAYERS = [
    ("Linear", lambda: layers.Linear(4, 3, seed=1), 4, 3),
    ("Linear-xavier", lambda: layers.Linear(4, 2, init="xavier", seed=2), 4, 2),
    ("Sigmoid", layers.Sigmoid, 4, 4),
    ("Tanh", layers.Tanh, 4, 4),
    ("ReLU", layers.ReLU, 4, 4),
    ("LeakyReLU", layers.LeakyReLU, 4, 4),
    ("ELU", layers.ELU, 4, 4),
    ("Softplus", layers.Softplus, 4, 4),
    ("Identity", layers.Identity, 4, 4),
    ("mlp-tanh", lambda: layers.mlp((4, 5, 3), "tanh", seed=3), 4, 3),
    ("mlp-relu-deep", lambda: layers.mlp((4, 6, 5, 2), "relu", seed=4), 4, 2),
    (
        "Sequential-mixed",
        lambda: layers.Sequential(
            layers.Linear(4, 6, seed=5), layers.ELU(), layers.Linear(6, 3, seed=6), layers.Softplus()
        ),
        4,
        3,
    ),
]
LAYER_IDS = [entry[0] for entry in LAYERS]
registry = pytest.mark.parametrize("factory, n_in, n_out", [entry[1:] for entry in LAYERS], ids=LAYER_IDS)


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


def test_the_registry_covers_every_layer_class():
    classes = {
        obj
        for obj in vars(layers).values()
        if inspect.isclass(obj) and issubclass(obj, layers.Layer) and obj not in (layers.Layer, layers.ActivationLayer)
    }
    covered = set()
    for _, factory, _, _ in LAYERS:
        layer = factory()
        covered |= {type(layer)} | {type(leaf) for leaf in flatten_layers(layer)}
    assert classes - covered == set(), "add these layers to LAYERS"


@registry
def test_backward_matches_numerical_gradients(factory, n_in, n_out):
    rng = np.random.default_rng(n_in * 100 + n_out)
    layer = randomized(factory(), rng)
    x = away_from_zero(rng, (5, n_in))
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    analytic = {name: grad.copy() for name, _, grad in layer.params_and_grads()}

    assert_close(dx, numerical_gradient_of_output(lambda: layer.forward(x), x, dout), "dx")
    for name, param, _ in layer.params_and_grads():
        numeric = numerical_gradient_of_output(lambda: layer.forward(x), param, dout)
        assert_close(analytic[name], numeric, f"d{name}")


@registry
def test_shapes_of_outputs_and_gradients(factory, n_in, n_out):
    layer = factory()
    for m in (1, 7):
        x = np.random.default_rng(m).standard_normal((m, n_in))
        out = layer.forward(x)
        assert out.shape == (m, n_out)
        assert layer.backward(np.ones_like(out)).shape == x.shape
        names = [name for name, _, _ in layer.params_and_grads()]
        assert len(set(names)) == len(names)
        for name, param, grad in layer.params_and_grads():
            assert grad.shape == param.shape, name


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


@registry
def test_backward_before_forward_is_a_clear_error(factory, n_in, n_out):
    layer = factory()
    with pytest.raises(RuntimeError, match=r"\w+\.backward called before forward: there is no cache"):
        layer.backward(np.ones((2, n_out)))


@registry
def test_wrong_dout_shape_names_both_shapes(factory, n_in, n_out):
    layer = factory()
    layer.forward(np.ones((2, n_in)))
    expected = rf"dout has shape \(2, {n_out + 1}\) but the layer's output had shape \(2, {n_out}\)"
    with pytest.raises(ValueError, match=expected):
        layer.backward(np.ones((2, n_out + 1)))
    with pytest.raises(ValueError, match=rf"dout has shape \(3, {n_out}\)"):
        layer.backward(np.ones((3, n_out)))


def test_an_empty_sequential_is_the_identity():
    x = np.arange(6.0).reshape(2, 3)
    model = layers.Sequential()
    np.testing.assert_array_equal(model.forward(x), x)
    np.testing.assert_array_equal(model.backward(2 * x), 2 * x)
    assert list(model.params_and_grads()) == []


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
    np.testing.assert_array_equal(lean.forward(X), full.forward(X))
    assert lean.backward(dout) is None
    assert full.backward(dout).shape == X.shape
    for (name, _, grad), (_, _, expected) in zip(lean.params_and_grads(), full.params_and_grads()):
        np.testing.assert_array_equal(grad, expected, err_msg=name)


def test_wrong_input_width_names_the_shapes():
    with pytest.raises(ValueError, match=r"Linear\(4, 3\) expects input of shape \(m, 4\), got \(2, 5\)"):
        layers.Linear(4, 3).forward(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"expects input of shape \(m, 4\), got \(4,\)"):
        layers.Linear(4, 3).forward(np.ones(4))
    with pytest.raises(ValueError, match=r"Linear\(5, 3\) expects input of shape \(m, 5\), got \(2, 4\)"):
        layers.Sequential(layers.Linear(4, 4), layers.ReLU(), layers.Linear(5, 3)).forward(np.ones((2, 4)))


def test_softmax_cross_entropy_backward_matches_numerical_gradient():
    rng = np.random.default_rng(7)
    Z = rng.standard_normal((6, 4)) * 3
    y = np.array([0, 3, 2, 2, 1, 0])
    loss = layers.SoftmaxCrossEntropy()
    J = loss.forward(Z, y)
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    assert J == pytest.approx(-np.mean(np.log(P[np.arange(6), y])), rel=1e-12)
    dZ = loss.backward()
    assert dZ.shape == Z.shape
    assert_close(dZ, numerical_gradient(lambda: loss.forward(Z, y), Z), "dZ")
    loss.forward(Z, y)
    np.testing.assert_allclose(loss.backward(2.5), 2.5 * dZ, rtol=1e-12)

    soft = rng.dirichlet(np.ones(4), size=6)  # probability rows as targets
    loss.forward(Z, soft)
    assert_close(loss.backward(), numerical_gradient(lambda: loss.forward(Z, soft), Z), "dZ with soft targets")


def test_softmax_cross_entropy_backward_before_forward():
    with pytest.raises(RuntimeError, match="SoftmaxCrossEntropy.backward called before forward"):
        layers.SoftmaxCrossEntropy().backward()


@pytest.mark.parametrize("method, variance", [("xavier", 2 / (400 + 600)), ("he", 2 / 600), ("normal", 0.01**2)])
def test_init_weights_variance(method, variance):
    W = layers.init_weights(400, 600, method, np.random.default_rng(0))
    assert W.shape == (400, 600)
    assert abs(W.mean()) < 0.01 * np.sqrt(variance)
    assert W.var() == pytest.approx(variance, rel=0.03)


def test_init_weights_unknown_method_and_mlp_defaults():
    with pytest.raises(ValueError, match=r"unknown initialization 'glorot'; choose one of \['he', 'normal', 'xa"):
        layers.init_weights(3, 4, "glorot")
    assert layers.mlp((500, 400), "relu").layers[0].params["W"].var() == pytest.approx(2 / 500, rel=0.03)
    assert layers.mlp((500, 400), "tanh").layers[0].params["W"].var() == pytest.approx(2 / 900, rel=0.03)
    with pytest.raises(ValueError, match="unknown activation 'swish' for an MLP"):
        layers.mlp((2, 2), "swish")


def test_same_seed_same_weights_different_seed_different_weights():
    a, b, c = layers.mlp((3, 4, 2), seed=1), layers.mlp((3, 4, 2), seed=1), layers.mlp((3, 4, 2), seed=2)
    for (_, pa, _), (_, pb, _), (_, pc, _) in zip(a.params_and_grads(), b.params_and_grads(), c.params_and_grads()):
        np.testing.assert_array_equal(pa, pb)
    assert not np.array_equal(a.layers[0].params["W"], c.layers[0].params["W"])


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus", "identity"])
def test_float32_parameters_stay_float32(activation):
    model = layers.mlp((4, 5, 3), activation, dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    loss = layers.SoftmaxCrossEntropy()
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

ACTIVATIONS = ["relu", "tanh", "sigmoid", "elu", "softplus", "leaky_relu"]

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
    activation = draw(st.sampled_from(ACTIVATIONS))
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
        loss = layers.SoftmaxCrossEntropy()
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
