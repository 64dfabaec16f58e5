"""Tests of nnbook/losses.py: values, gradients checked numerically, clear errors."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnbook import losses
from nnbook.activations import sigmoid
from nnbook.gradcheck import check_gradient


def test_mse_value_and_gradient_by_hand():
    J, d = losses.mse(np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0]))
    assert J == pytest.approx((0 + 4 + 9) / (2 * 3))
    np.testing.assert_allclose(d, [0.0, 2 / 3, 1.0])


@pytest.mark.parametrize("shape", [(1,), (5,), (4, 3)])
def test_mse_gradient_numerically(shape):
    rng = np.random.default_rng(1)
    y_hat, y = rng.normal(size=shape), rng.normal(size=shape)
    _, d = losses.mse(y_hat, y)
    check_gradient(lambda: losses.mse(y_hat, y)[0], y_hat, d, "dy_hat")


def test_bce_by_hand():
    J, da = losses.binary_cross_entropy(np.array([0.8, 0.4]), np.array([1.0, 0.0]))
    assert J == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2)
    np.testing.assert_allclose(da, [-1 / 0.8 / 2, 1 / 0.6 / 2])


@pytest.mark.parametrize("m", [1, 3, 17])
def test_bce_gradient_numerically(m):
    rng = np.random.default_rng(m)
    a = rng.uniform(0.05, 0.95, size=m)
    y = rng.integers(0, 2, size=m).astype(float)
    _, da = losses.binary_cross_entropy(a, y)
    check_gradient(lambda: losses.binary_cross_entropy(a, y)[0], a, da, "da")


@given(st.integers(1, 20), st.integers(0, 10_000))
@settings(max_examples=30)
def test_bce_with_logits_agrees_with_bce_of_sigmoid(m, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=4, size=m)
    y = rng.integers(0, 2, size=m).astype(float)
    J_logits, dz = losses.binary_cross_entropy_with_logits(z, y)
    J_probs, da = losses.binary_cross_entropy(sigmoid(z), y)
    assert J_logits == pytest.approx(J_probs, rel=1e-9)
    # chain rule: dz = da * σ'(z), which simplifies to (a − y)/m
    np.testing.assert_allclose(dz, da * sigmoid(z) * (1 - sigmoid(z)), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(dz, (sigmoid(z) - y) / m, atol=1e-15)


def test_bce_with_logits_gradient_numerically():
    z = np.array([-3.0, -0.2, 0.7, 5.0])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    _, dz = losses.binary_cross_entropy_with_logits(z, y)
    check_gradient(lambda: losses.binary_cross_entropy_with_logits(z, y)[0], z, dz, "dz")


def test_bce_with_logits_is_exact_for_huge_logits():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        J, dz = losses.binary_cross_entropy_with_logits(np.array([1e4, -1e4]), np.array([0.0, 1.0]))
    assert J == pytest.approx(1e4)
    np.testing.assert_allclose(dz, [0.5, -0.5])


def test_bce_of_confident_wrong_probability_is_large_but_finite():
    J, da = losses.binary_cross_entropy(np.array([0.0, 1.0]), np.array([1.0, 0.0]))
    assert J == pytest.approx(-np.log(losses.EPS))
    assert np.all(np.isfinite(da))


def test_softmax_cross_entropy_by_hand():
    Z = np.array([[0.0, np.log(3.0)], [np.log(4.0), 0.0]])
    J, dZ = losses.softmax_cross_entropy(Z, np.array([1, 1]))
    assert J == pytest.approx(-(np.log(0.75) + np.log(0.2)) / 2)
    np.testing.assert_allclose(dZ, [[0.25 / 2, -0.25 / 2], [0.8 / 2, -0.8 / 2]])


@pytest.mark.parametrize("m, K", [(1, 2), (5, 3), (8, 10)])
def test_softmax_cross_entropy_gradient_numerically(m, K):
    rng = np.random.default_rng(K)
    Z = rng.normal(scale=3, size=(m, K))
    y = rng.integers(0, K, size=m)
    _, dZ = losses.softmax_cross_entropy(Z, y)
    check_gradient(lambda: losses.softmax_cross_entropy(Z, y)[0], Z, dZ, "dZ")


def test_softmax_cross_entropy_accepts_one_hot_and_is_stable():
    Z = np.array([[1e4, 0.0, -1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        J_labels, dZ_labels = losses.softmax_cross_entropy(Z, np.array([1]))
        J_onehot, dZ_onehot = losses.softmax_cross_entropy(Z, losses.one_hot(np.array([1]), 3))
    assert J_labels == pytest.approx(1e4) and J_onehot == pytest.approx(1e4)
    np.testing.assert_allclose(dZ_labels, dZ_onehot)
    np.testing.assert_allclose(dZ_labels, [[1.0, -1.0, 0.0]])


def test_one_hot():
    np.testing.assert_array_equal(losses.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        losses.one_hot(np.array([3]), 3)
    with pytest.raises(ValueError, match="1-D integer"):
        losses.one_hot(np.array([0.5]))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: losses.mse(np.zeros(3), np.zeros(4)), r"y_hat has shape \(3,\) but y has shape \(4,\)"),
        (lambda: losses.mse(np.array([1.0, np.nan]), np.zeros(2)), r"y_hat contains 1 non-finite.*index \(1,\)"),
        (lambda: losses.binary_cross_entropy(np.array([1.5]), np.array([1.0])), "probabilities in \\[0, 1\\]"),
        (lambda: losses.softmax_cross_entropy(np.zeros(3), np.array([0])), "Z must have 2 dimension"),
        (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0])), "Z has 2 examples"),
        (lambda: losses.mse(np.zeros(0), np.zeros(0)), "at least one example"),
        (lambda: losses.mse("abc", np.zeros(1)), "y_hat must be numeric"),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
