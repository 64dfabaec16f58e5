"""The formulas and results that the chapter *Activation functions and initialization* states, checked again.

The chapter (``book/activations.md``) and these tests call the same functions of
:mod:`nnbook.experiments_activations` with the same settings. The activations and
the layers have their own unit tests (``test_activations.py``, ``test_layers.py``),
the initializers theirs (``test_initialization.py``); this file covers what the
chapter adds: the collapse of linear layers, the variance formula and the
initializations derived from it, the ``(1/4)^L`` bound, the symmetry claim, and
the numbers of every experiment the chapter quotes.
"""

import math

import numpy as np
import pytest

from nnbook.activations import get_activation, relu, sigmoid_derivative
from nnbook.experiments_activations import (
    DEEP_SETTINGS,
    DYING_RELU_SETTINGS,
    LINEAR_STACK_SETTINGS,
    PLATEAU_SETTINGS,
    PRELU_SETTINGS,
    SATURATION_SETTINGS,
    SYMMETRY_SETTINGS,
    GradientNorms,
    all_propagations,
    collapse_linear_stack,
    constant_network,
    dead_fraction,
    dying_relus,
    gaussian_expectation,
    hidden_unit_spread,
    input_jacobian,
    large_step_saturation,
    linear_stack_demo,
    pinned_fraction,
    plateau_length,
    plateau_run,
    preactivation_samples,
    same_sign_rows,
    sigmoid_chain_gradient,
    symmetry_run,
    train_prelu,
    variance_recursion,
)
from nnbook.gradcheck import assert_close, numerical_gradient_of_output
from nnbook.initialization import fans, he_normal, xavier_normal, xavier_uniform
from nnbook.layers import Identity, Linear, ReLU, Sequential, Sigmoid, Tanh, mlp
from nnbook.losses import SoftmaxCrossEntropy
from nnbook.optim import SGD
from nnbook.train import fit

pytestmark = pytest.mark.ch07


# ---- why non-linear ---------------------------------------------------------------------------------


def test_a_stack_of_linear_layers_is_one_affine_map():
    network, W, b, X, difference = linear_stack_demo(LINEAR_STACK_SETTINGS)
    sizes = LINEAR_STACK_SETTINGS["sizes"]
    assert W.shape == (sizes[-1], sizes[0]) and b.shape == (sizes[-1],)
    assert difference < 1e-12
    W1, W2, W3 = (layer.params["W"] for layer in network.layers if isinstance(layer, Linear))
    b1, b2, b3 = (layer.params["b"] for layer in network.layers if isinstance(layer, Linear))
    np.testing.assert_allclose(W, W3 @ W2 @ W1, rtol=1e-13)
    np.testing.assert_allclose(b, W3 @ (W2 @ b1 + b2) + b3, rtol=1e-13)


def test_collapse_refuses_a_non_linear_layer_and_a_non_linear_network_is_not_affine():
    with pytest.raises(ValueError, match=r"Linear and Identity layers only, got Tanh\(\)"):
        collapse_linear_stack(mlp((2, 3, 2), "tanh"))
    # an affine map f satisfies f(x) + f(y) = f(x + y) + f(0); a tanh network does not
    network = mlp((2, 8, 2), "tanh", seed=1)
    x, y, zero = np.array([[1.0, -2.0]]), np.array([[0.5, 1.5]]), np.zeros((1, 2))
    gap = network.forward(x) + network.forward(y) - network.forward(x + y) - network.forward(zero)
    assert np.abs(gap).max() > 1e-2
    linear = Sequential(Linear(2, 3, seed=0), Identity(), Linear(3, 2, seed=1))
    gap = linear.forward(x) + linear.forward(y) - linear.forward(x + y) - linear.forward(zero)
    assert np.abs(gap).max() < 1e-14


# ---- which activation where -------------------------------------------------------------------------


def test_positive_inputs_give_gradient_rows_of_one_sign():
    assert same_sign_rows("sigmoid") == 1.0 and same_sign_rows("relu") == 1.0 and same_sign_rows("softplus") == 1.0
    assert same_sign_rows("tanh") < 0.1 and same_sign_rows("arctan") < 0.1


def test_dead_fraction_counts_the_units_that_are_zero_on_every_example():
    network = Sequential(Linear(3, 4, seed=0), ReLU(), Linear(4, 2, seed=1))
    network.layers[0].params["b"][:] = [-100.0, 0.0, 0.0, -100.0]  # units 0 and 3 can never fire on these inputs
    X = np.random.default_rng(0).uniform(-1, 1, (50, 3))
    assert dead_fraction(network, X) == [0.5]


@pytest.fixture(scope="module")
def dying():
    return dying_relus(DYING_RELU_SETTINGS)


def test_relus_die_in_numbers_above_a_learning_rate_of_about_half(dying):
    lrs = np.array(dying.lrs)
    mean_dead = dying.dead.mean(axis=1)
    assert dying.dead.shape == (len(lrs), len(DYING_RELU_SETTINGS["seeds"]), 2)
    assert not dying.diverged.any() and dying.dead_at_init.max() == 0  # no unit is born dead
    assert mean_dead[lrs <= 0.3].max() < 0.05  # the chapter: at most a few percent
    assert mean_dead[lrs >= 1.5].min() > 0.8  # the chapter: most units of both layers
    assert mean_dead[lrs == 1.0][0, 0] > 0.5
    assert dying.accuracy[lrs >= 1.5].max() < 0.15  # chance is 10%
    assert dying.accuracy[lrs == 0.3].mean() > 0.9


# ---- the symmetry problem ---------------------------------------------------------------------------


def test_constant_weights_keep_the_hidden_units_identical_and_random_weights_solve_xor():
    run = symmetry_run(SYMMETRY_SETTINGS)
    assert hidden_unit_spread(run.constant) == [0.0]  # exactly, after every one of the updates
    W1 = run.constant.layers[0].params["W"]
    assert not np.allclose(W1, SYMMETRY_SETTINGS["constant"])  # the weights did move
    assert run.constant_history.accuracy[-1] <= 0.75  # one effective unit: a straight boundary
    assert hidden_unit_spread(run.random)[0] > 0.1
    assert run.random_history.accuracy[-1] == 1.0


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "elu", "softplus", "arctan"])
def test_symmetry_is_kept_for_ever_in_every_hidden_layer(activation):
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((60, 3)), rng.integers(0, 3, 60)
    network = constant_network((3, 5, 4, 3), activation, 0.3)
    fit(network, X, y, SGD(lr=0.5), epochs=20, batch_size=8, progress=False)
    assert hidden_unit_spread(network) == [0.0, 0.0]
    assert not np.allclose(network.layers[0].params["W"], 0.3)
    random = mlp((3, 5, 4, 3), activation, seed=0)
    assert min(hidden_unit_spread(random)) > 0


# ---- the variance of a pre-activation ---------------------------------------------------------------


def fourth_moment(law, variance):
    """E[x⁴] of a zero-mean normal (3σ⁴) or uniform (9σ⁴/5) variable of the given variance."""
    return (3.0 if law == "normal" else 9.0 / 5.0) * variance**2


@pytest.mark.parametrize("law", ["normal", "uniform"])
@pytest.mark.parametrize("n_in, var_w, var_a", [(256, 1 / 256, 0.5), (10, 0.3, 2.0), (784, 2 / 784, 1.0)])
def test_variance_of_a_preactivation_by_monte_carlo(law, n_in, var_w, var_a):
    n_samples = 100_000
    z = preactivation_samples(n_in, var_w, var_a, n_samples, seed=n_in, law=law)
    predicted = n_in * var_w * var_a
    # The sample variance of N independent draws has standard error √((E[z⁴] − Var(z)²) / N), and for
    # z = Σ w_k a_k with everything independent, E[z⁴] = n E[w⁴] E[a⁴] + 3 n (n − 1) (Var(w) Var(a))².
    fourth = n_in * fourth_moment(law, var_w) * fourth_moment(law, var_a) + 3 * n_in * (n_in - 1) * (var_w * var_a) ** 2
    standard_error = math.sqrt((fourth - predicted**2) / n_samples)
    assert abs(z.var() - predicted) < 5 * standard_error  # 5 standard errors: fails by chance once in 10⁶ runs
    assert standard_error < 0.02 * predicted  # and the check is sharp: within 2% of the value
    assert abs(z.mean()) < 5 * math.sqrt(predicted / n_samples)


def test_inputs_that_are_not_centred_enter_through_their_second_moment():
    # Var(z) = n Var(w) E[a²]: with ReLU inputs a = max(0, u), u ~ N(0, 1), E[a²] = 1/2 while Var(a) = 1/2 − 1/(2π)
    rng = np.random.default_rng(0)
    n_in, n_samples, var_w = 64, 100_000, 1 / 64
    a = relu(rng.standard_normal((n_samples, n_in)))
    z = np.einsum("ij,ij->i", math.sqrt(var_w) * rng.standard_normal((n_samples, n_in)), a)
    assert z.var() == pytest.approx(n_in * var_w * 0.5, rel=0.02)
    assert abs(z.var() - n_in * var_w * a.var()) > 0.1  # Var(a) alone would be wrong by a third


def test_gaussian_expectation_gives_the_closed_forms():
    for q in (1e-12, 0.3, 2.0, 256.0, 1e20):
        assert gaussian_expectation(lambda z: z**2, q) == pytest.approx(q, rel=1e-6)
        assert gaussian_expectation(lambda z: relu(z) ** 2, q) == pytest.approx(q / 2, rel=1e-6)
        assert gaussian_expectation(lambda z: relu(z), q) == pytest.approx(math.sqrt(q / (2 * math.pi)), rel=1e-6)
        assert gaussian_expectation(get_activation("relu").derivative, q) == pytest.approx(0.5, rel=1e-6)  # the jump at 0
        assert gaussian_expectation(get_activation("step").function, q) == pytest.approx(0.5, rel=1e-6)
    assert gaussian_expectation(np.cos, 1.0) == pytest.approx(math.exp(-0.5), rel=1e-6)  # E[cos z] = e^{−q/2}
    # tanh'² = sech⁴ is a narrow bump when q is large: E ≈ (4/3) / √(2π q)
    q = 1e4
    assert gaussian_expectation(lambda z: get_activation("tanh").derivative(z) ** 2, q) == pytest.approx(
        4 / 3 / math.sqrt(2 * math.pi * q), rel=1e-3)
    assert gaussian_expectation(np.cosh, 0.0) == 1.0


# ---- Xavier and He from the variance formula --------------------------------------------------------


def test_xavier_keeps_the_variance_of_a_linear_layer_forward_and_backward_when_fans_are_equal():
    n = 256
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2000, n))
    dZ = rng.standard_normal((2000, n))
    ratios_forward, ratios_backward = [], []
    for seed in range(10):
        W = xavier_normal((n, n), np.random.default_rng(seed))
        ratios_forward.append((X @ W.T).var() / X.var())
        ratios_backward.append((dZ @ W).var() / dZ.var())
    assert np.mean(ratios_forward) == pytest.approx(1.0, abs=0.03)
    assert np.mean(ratios_backward) == pytest.approx(1.0, abs=0.03)


def test_the_uniform_bound_and_the_he_factor():
    for shape in [(300, 500), (64, 32, 5, 5)]:
        fan_in, fan_out = fans(shape)
        limit = math.sqrt(6 / (fan_in + fan_out))
        assert limit**2 / 3 == pytest.approx(2 / (fan_in + fan_out))  # Var U(−a, a) = a²/3
        W = xavier_uniform(shape, np.random.default_rng(0))
        assert np.abs(W).max() <= limit and W.var() == pytest.approx(2 / (fan_in + fan_out), rel=0.03)
        assert he_normal(shape, np.random.default_rng(0)).var() == pytest.approx(2 / fan_in, rel=0.03)
    # He: E[ReLU(z)²] = Var(z)/2, so Var(w) = 2/n_in keeps E[z²] from layer to layer
    std_a, std_dz = variance_recursion("relu", 2 / 256, depth=10, width=256)
    np.testing.assert_allclose(std_a, math.sqrt(1 - 1 / math.pi), rtol=1e-6)  # q = 2 at every layer
    np.testing.assert_allclose(std_dz, math.sqrt(0.5), rtol=1e-6)
    # with Xavier's 1/n instead, the variance halves at every layer
    std_a_half, _ = variance_recursion("relu", 1 / 256, depth=10, width=256)
    np.testing.assert_allclose(std_a_half[1:] / std_a_half[:-1], math.sqrt(0.5), rtol=1e-6)


# ---- vanishing gradients: the (1/4)^L bound ---------------------------------------------------------


def test_max_sigmoid_slope_is_a_quarter():
    z = np.linspace(-20, 20, 400_001)
    assert sigmoid_derivative(z).max() == 0.25 and float(sigmoid_derivative(0.0)) == 0.25


@pytest.mark.parametrize("depth", [1, 2, 5, 10, 20])
def test_the_gradient_through_a_sigmoid_chain_is_at_most_a_quarter_to_the_depth(depth):
    gradients = sigmoid_chain_gradient(depth, n_draws=2000, seed=depth)
    assert gradients.shape == (2000,)
    assert gradients.max() <= 0.25**depth
    if depth == 1:
        assert gradients.max() > 0.99 * 0.25  # the bound is reached where z = 0


def test_the_sigmoid_chain_gradient_is_the_chain_rule():
    # one chain rebuilt with the package's layers: ∂a^[L]/∂b^[1] by the backward pass
    depth, seed = 6, 4
    rng = np.random.default_rng(seed)
    w, b, x = rng.uniform(-1, 1, (1, depth)), rng.uniform(-1, 1, (1, depth)), rng.standard_normal(1)
    blocks = []
    for layer in range(depth):
        linear = Linear(1, 1, init="zeros")
        linear.params["W"][:] = w[0, layer]
        linear.params["b"][:] = b[0, layer]
        blocks += [linear, Sigmoid()]
    chain = Sequential(*blocks)
    chain.forward(x.reshape(1, 1))
    chain.backward(np.ones((1, 1)))
    assert sigmoid_chain_gradient(depth, n_draws=1, seed=seed)[0] == pytest.approx(abs(blocks[0].grads["b"][0]), rel=1e-12)


def test_input_jacobian_is_the_product_of_the_layer_jacobians_and_obeys_the_bound():
    rng = np.random.default_rng(0)
    depth, width = 5, 12
    blocks = []
    for _ in range(depth):
        blocks += [Linear(width, width, init="xavier", seed=rng), Sigmoid()]
    network = Sequential(*blocks)
    x = rng.standard_normal(width)
    J = input_jacobian(network, x)
    product, a = np.eye(width), x
    for linear in blocks[::2]:
        z = linear.params["W"] @ a + linear.params["b"]
        product = np.diag(sigmoid_derivative(z)) @ linear.params["W"] @ product
        a = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(J, product, rtol=1e-12, atol=1e-16)
    x_batch = x[None, :].copy()
    for k in range(width):  # each row is the gradient of one output, numerically
        dout = np.eye(width)[k][None, :]
        assert_close(J[k], numerical_gradient_of_output(lambda: network.forward(x_batch), x_batch, dout)[0], f"row {k}")
    bound = 0.25**depth * np.prod([np.linalg.norm(linear.params["W"], 2) for linear in blocks[::2]])
    assert np.linalg.norm(J, 2) <= bound


# ---- the deep network: measured against predicted ---------------------------------------------------


@pytest.fixture(scope="module")
def propagations():
    return all_propagations(DEEP_SETTINGS)


def test_every_layer_is_predicted_by_the_variance_recursion(propagations):
    assert len(propagations) == 8
    for (activation, init), run in propagations.items():
        assert run.std_a.shape == run.std_dz.shape == (DEEP_SETTINGS["depth"],)
        assert len(run.sample_a) == DEEP_SETTINGS["depth"] and run.sample_a[0].size == DEEP_SETTINGS["histogram_sample"]
        np.testing.assert_allclose(run.std_a, run.predicted_std_a, rtol=0.5, err_msg=f"{activation}, {init}")
        np.testing.assert_allclose(run.std_dz, run.predicted_std_dz, rtol=0.5, err_msg=f"{activation}, {init}")
        gap = max(np.abs(np.log(run.std_a / run.predicted_std_a)).max(), np.abs(np.log(run.std_dz / run.predicted_std_dz)).max())
        assert gap < math.log(1.5), (activation, init)  # the chapter: within a factor 1.5


def test_what_the_chapter_says_about_each_initialization(propagations):
    small = "small N(0, 0.01²)"
    unit = "unit N(0, 1)"
    # small weights: the variance shrinks by 256·10⁻⁴ per layer for tanh, half that for ReLU
    assert propagations["tanh", small].std_a[-1] < 1e-7 and propagations["relu", small].std_a[-1] < 1e-8
    assert propagations["tanh", small].std_dz[0] < 1e-6 and propagations["relu", small].std_dz[0] < 1e-7
    ratio = propagations["tanh", small].std_a[1:] / propagations["tanh", small].std_a[:-1]
    np.testing.assert_allclose(ratio, math.sqrt(256e-4), rtol=0.1)
    # unit normal: ReLU explodes by √128 per layer; tanh is pinned, and its gradient grows backward
    assert propagations["relu", unit].std_a[-1] > 1e9 and propagations["relu", unit].std_dz[0] > 1e8
    np.testing.assert_allclose(propagations["relu", unit].std_a[1:] / propagations["relu", unit].std_a[:-1],
                               math.sqrt(128), rtol=0.25)
    assert pinned_fraction("tanh", propagations["tanh", unit].sample_a[-1]) > 0.8
    assert propagations["tanh", unit].std_dz[0] > 1000
    # Xavier: fine for tanh, too small by a factor 2 in variance per layer for ReLU
    xavier_tanh = propagations["tanh", "Xavier"]
    assert 0.15 < xavier_tanh.std_a[-1] < xavier_tanh.std_a[0] < 0.8
    assert xavier_tanh.std_dz.max() / xavier_tanh.std_dz.min() < 5
    assert propagations["relu", "Xavier"].std_a[-1] < 0.1
    # He keeps ReLU activations and gradients at their scale in every layer
    he = propagations["relu", "He"]
    assert 0.6 < he.std_a.min() and he.std_a.max() < 1.3
    assert 0.5 < he.std_dz.min() and he.std_dz.max() < 1.0


# ---- problems a learner meets -----------------------------------------------------------------------


def test_pinned_fraction_measures_closeness_to_the_ends_of_the_range():
    assert pinned_fraction("tanh", np.array([-0.999, -0.5, 0.0, 0.97, 0.985])) == pytest.approx(0.4)
    assert pinned_fraction("sigmoid", np.array([0.005, 0.5, 0.995, 0.98])) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def saturation():
    return large_step_saturation(SATURATION_SETTINGS)


def test_one_large_step_pins_the_units_and_they_stay_pinned(saturation):
    lrs = SATURATION_SETTINGS["lrs"]
    assert lrs[0] == 0.1 and lrs[-1] == 100.0
    for name in ("sigmoid", "tanh"):
        assert saturation.pinned[name][0] < 0.01  # a normal step pins nothing
        assert saturation.pinned[name][-1] > 0.85
        assert saturation.mean_slope[name][-1] < 0.05 < 0.8 < saturation.mean_slope[name][0]
        assert np.all(np.diff(saturation.pinned[name]) >= 0), "a larger step pins more"
        assert saturation.hidden_after[name].shape == (4000, 100)
        runs = saturation.recovery[name]
        assert runs["after"].accuracy[-1] < runs["without"].accuracy[-1] - 0.2
        assert saturation.pinned_after_recovery[name] > 0.9
    assert saturation.pinned["tanh"][-1] > 0.9 and saturation.mean_slope["tanh"][-1] < 0.05  # quoted by the chapter


def test_plateau_length_counts_the_steps_before_the_cost_leaves_the_level():
    assert plateau_length([2.30, 2.29, 2.295, 2.2, 1.0], 2.30) == 3
    assert plateau_length([2.30, 2.30], 2.30) == 2
    assert plateau_length([1.0], 2.30) == 0


def test_gradient_norms_records_the_whole_gradient_and_steps_like_the_optimizer():
    X, y = np.random.default_rng(0).standard_normal((8, 3)), np.array([0, 1, 2, 0, 1, 2, 0, 1])
    model, twin = mlp((3, 4, 3), "tanh", seed=0), mlp((3, 4, 3), "tanh", seed=0)
    loss = SoftmaxCrossEntropy()
    loss.forward(model.forward(X), y)
    model.backward(loss.backward())
    expected = math.sqrt(sum(float(np.sum(grad**2)) for _, _, grad in model.params_and_grads()))
    recorder = GradientNorms(SGD(lr=0.1))
    recorder.step(model)
    assert recorder.norms == [pytest.approx(expected)]
    loss.forward(twin.forward(X), y)
    twin.backward(loss.backward())
    SGD(lr=0.1).step(twin)
    for (_, p, _), (_, q, _) in zip(model.params_and_grads(), twin.params_and_grads()):
        np.testing.assert_array_equal(p, q)


def test_small_weights_give_a_plateau_at_the_entropy_of_the_class_frequencies():
    run = plateau_run(PLATEAU_SETTINGS)
    assert run.label_entropy == pytest.approx(math.log(10), abs=1e-12)  # 400 images of each digit
    steps_per_epoch = math.ceil(4000 / PLATEAU_SETTINGS["batch_size"])
    small, xavier = run.histories["normal"], run.histories["xavier"]
    assert len(small.step_loss) == PLATEAU_SETTINGS["epochs"] * steps_per_epoch == len(run.gradient_norms["normal"])
    length = plateau_length(small.step_loss, run.label_entropy)
    assert length > 2 * steps_per_epoch
    assert np.all(np.abs(np.array(small.step_loss[:length]) - run.label_entropy) < 0.02)
    assert small.loss[-1] < 1.0  # then it drops
    assert plateau_length(xavier.step_loss, run.label_entropy) < 20 and xavier.loss[-1] < small.loss[-1]
    norms = np.array(run.gradient_norms["normal"])
    assert norms[:length].min() > 0 and np.median(norms[length:]) > 3 * np.median(norms[:length])


def test_a_prelu_network_learns_its_slopes():
    network, history, slopes = train_prelu(PRELU_SETTINGS)
    assert slopes.shape == (PRELU_SETTINGS["sizes"][1],)
    assert slopes.min() < 0.2 and slopes.max() > 0.3  # all started at 0.25
    assert history.val_accuracy[-1] > 0.85
    assert not np.array_equal(network.layers[1].params["alpha"], np.full(100, 0.25))


def test_the_saturation_experiment_uses_the_activation_limits():
    # the ends of the ranges that pinned_fraction reads from the registry
    assert float(get_activation("tanh").function(np.array(1e4))) == 1.0
    assert float(get_activation("sigmoid").function(np.array(-1e4))) == 0.0
    assert isinstance(mlp((3, 2, 2), "tanh").layers[1], Tanh)
