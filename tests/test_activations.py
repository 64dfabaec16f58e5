"""Tests of nnbook/activations.py: values, derivatives, stability for huge inputs.

The activations are the subject of chapter 7 (``book/activations.md``), which
states the identities checked here: ``tanh z = 2σ(2z) − 1``, ``max σ' = 1/4``,
``ELU'(z) = ELU(z) + α`` for ``z < 0``, ``softplus' = σ``, ``arctan' = 1/(1 + z²)``.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nnbook import activations as act
from nnbook.gradcheck import assert_close, numerical_gradient, numerical_gradient_of_output

pytestmark = pytest.mark.ch07

finite_floats = st.floats(-30, 30, allow_nan=False, width=64)
HUGE = np.array([-1e4, -745.5, -50.0, 0.0, 50.0, 745.5, 1e4])


@pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
def test_derivative_matches_central_difference(name):
    activation = act.get_activation(name)
    # stay away from the kinks of relu/leaky_relu/elu/step at 0
    z = np.array([-2.5, -1.3, -0.4, 0.3, 0.9, 2.2])
    numeric = np.array([
        (activation.function(np.array(v + 1e-6)) - activation.function(np.array(v - 1e-6))) / 2e-6 for v in z
    ])
    np.testing.assert_allclose(activation.derivative(z), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "name, z, expected",
    [
        ("sigmoid", [0.0, np.log(3.0)], [0.5, 0.75]),
        ("tanh", [0.0, np.log(2.0)], [0.0, 0.6]),
        ("relu", [-2.0, 0.0, 3.0], [0.0, 0.0, 3.0]),
        ("leaky_relu", [-2.0, 3.0], [-0.02, 3.0]),
        ("prelu", [-2.0, 3.0], [-0.5, 3.0]),
        ("elu", [-np.log(2.0), 1.5], [-0.5, 1.5]),
        ("arctan", [0.0, 1.0, np.sqrt(3.0), -1e300], [0.0, np.pi / 4, np.pi / 3, -np.pi / 2]),
        ("softplus", [0.0, np.log(np.e - 1)], [np.log(2.0), 1.0]),
        ("step", [-1e-9, 0.0, 2.0], [0.0, 1.0, 1.0]),
        ("identity", [-3.0, 4.0], [-3.0, 4.0]),
    ],
)
def test_known_values(name, z, expected):
    np.testing.assert_allclose(act.get_activation(name).function(np.array(z)), expected, atol=1e-12)


@pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
def test_no_overflow_warning_and_finite_for_huge_inputs(name):
    activation = act.get_activation(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = activation.function(HUGE)
        slopes = activation.derivative(HUGE)
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(slopes))


def test_sigmoid_and_softplus_are_correct_at_the_extremes():
    np.testing.assert_array_equal(act.sigmoid(np.array([-1e4, 1e4])), [0.0, 1.0])
    assert act.sigmoid(np.array(-700.0)) == pytest.approx(np.exp(-700.0), rel=1e-12)
    np.testing.assert_allclose(act.softplus(np.array([-1e4, 1e4])), [0.0, 1e4])
    assert act.softplus(np.array(-40.0)) == pytest.approx(np.exp(-40.0), rel=1e-12)


def test_max_of_sigmoid_derivative_is_a_quarter_at_zero():
    z = np.linspace(-10, 10, 20001)
    slopes = act.sigmoid_derivative(z)
    assert slopes.max() == pytest.approx(0.25, abs=1e-12)
    assert z[np.argmax(slopes)] == pytest.approx(0.0, abs=1e-9)


@given(arrays(np.float64, st.integers(1, 8), elements=finite_floats))
def test_tanh_is_a_rescaled_sigmoid(z):
    np.testing.assert_allclose(act.tanh(z), 2 * act.sigmoid(2 * z) - 1, atol=1e-12)


@given(arrays(np.float64, st.integers(1, 8), elements=finite_floats))
def test_sigmoid_symmetry(z):
    np.testing.assert_allclose(act.sigmoid(-z), 1 - act.sigmoid(z), atol=1e-15)


def test_log_sum_exp_is_stable_and_exact():
    z = np.array([[1e4, 1e4], [-1e4, -1e4], [0.0, np.log(3.0)]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = act.log_sum_exp(z, axis=1)
    np.testing.assert_allclose(out, [1e4 + np.log(2), -1e4 + np.log(2), np.log(4.0)])
    assert act.log_sum_exp(z, axis=1, keepdims=True).shape == (3, 1)


@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=st.floats(-1e4, 1e4)))
@settings(max_examples=50)
def test_softmax_rows_are_probabilities(Z):
    P = act.softmax(Z, axis=1)
    assert np.all(P >= 0) and np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)


@given(arrays(np.float64, st.integers(1, 6), elements=finite_floats), st.floats(-100, 100))
def test_softmax_is_shift_invariant(z, c):
    np.testing.assert_allclose(act.softmax(z + c), act.softmax(z), atol=1e-12)


def mp_log_softmax(row):
    """The log-softmax of ``row`` in 50-digit arithmetic, rounded to float64 at the end."""
    import mpmath

    with mpmath.workdps(50):
        log_sum = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in row))
        return [float(mpmath.mpf(v) - log_sum) for v in row]


def test_log_softmax_keeps_the_digits_of_a_confident_class():
    """A log-probability near 0 (a class with almost all the mass) is as exact as the others: ``z − lse`` would round
    it to 0 or to the spacing of the floats near the largest logit."""
    Z = np.array([[40.0, 0.0, -5.0], [1003.0, 1000.0, 960.0], [3.0, -50.0, -60.0], [0.5, 0.5, -1.0]])
    expected = np.array([mp_log_softmax(row) for row in Z])
    np.testing.assert_allclose(act.log_softmax(Z, axis=1), expected, rtol=1e-14, atol=0)
    np.testing.assert_allclose(act.log_softmax(Z.T, axis=0), expected.T, rtol=1e-14, atol=0)
    assert act.log_softmax(Z, axis=1)[0, 0] < 0  # about -4.2e-18, where z - lse gives 0
    np.testing.assert_allclose(act.log_sum_exp(Z, axis=1), Z[:, 0] - expected[:, 0], rtol=1e-15)


def test_sigmoid_derivative_keeps_its_digits_far_from_zero():
    """``σ'(z)`` against 50-digit arithmetic from -700 to 700: ``σ (1 − σ)`` is 0 from ``z ≈ 37`` on."""
    import mpmath

    z = np.array([-700.0, -60.0, -37.0, -1.5, 0.0, 2.0, 37.0, 60.0, 700.0])
    with mpmath.workdps(50):
        expected = [float(mpmath.exp(-v) / (1 + mpmath.exp(-v)) ** 2) for v in z]
    np.testing.assert_allclose(act.sigmoid_derivative(z), expected, rtol=1e-14, atol=0)
    np.testing.assert_array_equal(act.sigmoid_derivative(z), act.sigmoid_derivative(-z))  # σ' is even


def test_log_softmax_gradient_numerically():
    z = np.array([0.3, -1.2, 2.0, 0.5])
    weights = np.array([0.1, -0.7, 0.4, 1.3])  # a random upstream gradient
    numeric = numerical_gradient(lambda: float(weights @ act.log_softmax(z)), z)
    analytic = weights - act.softmax(z) * weights.sum()
    np.testing.assert_allclose(numeric, analytic, rtol=1e-7, atol=1e-10)


def test_unknown_activation_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*choose one of"):
        act.get_activation("swish")


def test_step_derivative_is_zero_so_gradients_cannot_train_it():
    assert not np.any(act.step_derivative(np.linspace(-3, 3, 7)))


def test_the_registry_gives_each_activation_its_layer_and_initialization():
    from nnbook import layers
    from nnbook.initialization import INITIALIZERS

    assert act.network_activations() == tuple(name for name in act.ACTIVATIONS if name != "step")
    for name, activation in act.ACTIVATIONS.items():
        assert activation.name == name
        if activation.layer is None:
            assert name == "step" and activation.init is None  # no gradient to train it with
            continue
        layer = activation.layer()
        assert isinstance(layer, layers.ActivationLayer) and layer.activation is activation
        assert activation.init in INITIALIZERS
        assert activation.init == ("he" if name in ("relu", "leaky_relu", "prelu", "elu") else "xavier"), name


# ---- the identities of the chapter --------------------------------------------------------------------

#: Points away from the kinks at 0, from the saturated tails to the linear part.
GRID = np.concatenate([np.linspace(-12, -1e-3, 600), np.linspace(1e-3, 12, 600)])


@pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
def test_every_derivative_passes_the_gradient_check(name):
    activation = act.get_activation(name)
    rng = np.random.default_rng(len(name))
    z = rng.uniform(0.2, 4.0, (6, 5)) * rng.choice([-1.0, 1.0], (6, 5))  # (m, n), off the kinks
    dout = rng.standard_normal(z.shape)
    numeric = numerical_gradient_of_output(lambda: activation.function(z), z, dout)
    check = activation.derivative(z) * dout
    if name == "step":
        assert not numeric.any() and not check.any()
    else:
        assert_close(check, numeric, f"{name}'", tol=1e-7)


def test_elu_derivative_is_the_output_plus_alpha_on_the_negative_side():
    negative = GRID[GRID < 0]
    for alpha in (1.0, 0.5, 2.0):
        np.testing.assert_allclose(act.elu_derivative(negative, alpha), act.elu(negative, alpha) + alpha,
                                   rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(act.elu_derivative(GRID[GRID > 0]), 1.0)


def test_softplus_derivative_is_the_sigmoid_and_arctan_derivative_is_one_over_one_plus_z_squared():
    np.testing.assert_array_equal(act.softplus_derivative(GRID), act.sigmoid(GRID))
    h = 1e-6
    np.testing.assert_allclose((act.softplus(GRID + h) - act.softplus(GRID - h)) / (2 * h), act.sigmoid(GRID),
                               rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(act.arctan_derivative(GRID), 1 / (1 + GRID**2), rtol=1e-15)
    np.testing.assert_allclose((act.arctan(GRID + h) - act.arctan(GRID - h)) / (2 * h), 1 / (1 + GRID**2), rtol=1e-7)
    assert float(act.arctan_derivative(np.array(1e200))) == 0.0  # z² overflows quietly to the right answer


def test_tanh_identity_on_a_grid_and_largest_slopes():
    np.testing.assert_allclose(act.tanh(GRID), 2 * act.sigmoid(2 * GRID) - 1, atol=1e-15)
    np.testing.assert_allclose(act.tanh_derivative(GRID), 4 * act.sigmoid_derivative(2 * GRID), atol=1e-15)
    z = np.linspace(-5, 5, 100_001)
    assert act.sigmoid_derivative(z).max() == 0.25
    assert act.tanh_derivative(z).max() == 1.0 and act.arctan_derivative(z).max() == 1.0
    # far from 0: tanh' decays like 4e^{-2|z|}, arctan' only like 1/z²
    assert act.tanh_derivative(10.0) == pytest.approx(4 * math.exp(-20), rel=1e-7)
    assert act.arctan_derivative(10.0) == pytest.approx(1 / 101)


def test_prelu_function_and_derivative_take_the_slope():
    z = np.array([-2.0, -0.5, 0.0, 1.5])
    np.testing.assert_array_equal(act.prelu(z, alpha=0.1), [-0.2, -0.05, 0.0, 1.5])
    np.testing.assert_array_equal(act.prelu_derivative(z, alpha=0.1), [0.1, 0.1, 0.1, 1.0])
    np.testing.assert_array_equal(act.prelu(z, alpha=0.01), act.leaky_relu(z))  # the leaky ReLU is a PReLU
    np.testing.assert_array_equal(act.prelu(z, alpha=0.0), act.relu(z))
