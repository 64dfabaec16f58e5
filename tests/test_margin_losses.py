"""Tests of nnbook/margin_losses.py: the logistic loss with ±1 labels is the binary cross-entropy (ch04)."""

import numpy as np
import pytest

from nnbook.activations import sigmoid
from nnbook.gradcheck import assert_close, numerical_gradient
from nnbook.losses import binary_cross_entropy_with_logits
from nnbook.margin_losses import hinge_loss, perceptron_loss, signed_logistic_loss

pytestmark = pytest.mark.ch04


@pytest.mark.parametrize("scale", [0.5, 3.0, 40.0, 700.0])
def test_the_signed_logistic_loss_is_the_binary_cross_entropy(scale):
    """−log σ(s z) with s = 2y − 1 equals −[y log σ(z) + (1 − y) log(1 − σ(z))], value and gradient, at any scale."""
    rng = np.random.default_rng(0)
    z, y = scale * rng.normal(size=50), rng.integers(0, 2, size=50).astype(float)
    s = 2 * y - 1
    J, dz = signed_logistic_loss(z, s)
    J_bce, dz_bce = binary_cross_entropy_with_logits(z, y)
    assert J == pytest.approx(J_bce, rel=1e-12)
    np.testing.assert_allclose(dz, dz_bce, rtol=1e-12, atol=1e-300)


def test_the_two_cases_of_the_derivation():
    """s = +1: −log σ(z) = −log a; s = −1: −log σ(−z) = −log(1 − σ(z)) = −log(1 − a)."""
    z = np.array([-2.0, -0.3, 0.0, 1.7])
    for zi in z:
        a = sigmoid(zi)
        assert signed_logistic_loss([zi], [1.0])[0] == pytest.approx(-np.log(a), rel=1e-14)
        assert signed_logistic_loss([zi], [-1.0])[0] == pytest.approx(-np.log(1 - a), rel=1e-14)
        assert 1 - a == pytest.approx(sigmoid(-zi), rel=1e-14)


def test_worked_values():
    assert signed_logistic_loss([0.0], [1.0])[0] == pytest.approx(np.log(2))
    assert signed_logistic_loss([2.0], [-1.0])[0] == pytest.approx(np.log1p(np.exp(2.0)))
    J, dz = signed_logistic_loss([-800.0, 800.0], [1.0, 1.0])      # a certain mistake, a certain success
    assert J == pytest.approx(400.0) and np.allclose(dz, [-0.5, 0.0])


@pytest.mark.parametrize("loss", [signed_logistic_loss, hinge_loss, perceptron_loss])
def test_each_gradient_matches_a_numerical_gradient_away_from_the_kinks(loss):
    rng = np.random.default_rng(1)
    z, s = rng.normal(size=20) * 2, rng.choice([-1.0, 1.0], size=20)
    z[np.abs(s * z - 1) < 0.05] += 0.2                    # away from the hinge's kink
    z[np.abs(z) < 0.05] += 0.2                            # and the perceptron's
    _, dz = loss(z, s)
    assert_close(dz, numerical_gradient(lambda: loss(z, s)[0], z), f"dz of {loss.__name__}")


def test_hinge_and_perceptron_values_and_labels():
    z, s = np.array([2.0, 0.5, -1.0, 0.0]), np.array([1.0, 1.0, 1.0, -1.0])
    assert hinge_loss(z, s)[0] == pytest.approx((0 + 0.5 + 2 + 1) / 4)
    assert perceptron_loss(z, s)[0] == pytest.approx((0 + 0 + 1 + 0) / 4)
    np.testing.assert_array_equal(perceptron_loss(z, s)[1], [0, 0, -0.25, 0.25])   # the boundary counts as a mistake
    with pytest.raises(ValueError, match="s = 2 y - 1"):
        signed_logistic_loss(z, np.array([0, 1, 1, 0]))
