"""Tests of nnbook/gradcheck.py: the numerical gradient and the comparisons everyone relies on."""

import numpy as np
import pytest

from nnbook import gradcheck


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = gradcheck.numerical_gradient(lambda: float(np.sum(x**3) + x[0, 1] * x[1, 0]), x)
    expected = 3 * x**2 + np.array([[0.0, 0.5], [-2.0, 0.0]])
    np.testing.assert_allclose(grad, expected, rtol=1e-8)


def test_numerical_gradient_restores_its_input():
    x = np.array([0.1, 0.2, 0.3])
    before = x.copy()
    gradcheck.numerical_gradient(lambda: float(np.sum(np.sin(x))), x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_refuses_copies_and_float32():
    with pytest.raises(TypeError, match="float64 numpy array"):
        gradcheck.numerical_gradient(lambda: 0.0, [1.0, 2.0])
    with pytest.raises(TypeError, match="float64"):
        gradcheck.numerical_gradient(lambda: 0.0, np.zeros(2, dtype=np.float32))


def test_numerical_gradient_of_output_uses_the_upstream_gradient():
    x = np.array([1.0, 2.0, -1.0])
    dout = np.array([0.3, -1.1, 2.0])
    dx = gradcheck.numerical_gradient_of_output(lambda: x**2, x, dout)
    np.testing.assert_allclose(dx, 2 * x * dout, rtol=1e-8)


def test_relative_error():
    assert gradcheck.relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert gradcheck.relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 2.2)
    assert gradcheck.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert gradcheck.relative_error(np.array([1.0]), np.array([-1.0])) == pytest.approx(2.0)
    with pytest.raises(ValueError, match=r"shapes \(2,\) and \(3,\)"):
        gradcheck.relative_error(np.zeros(2), np.zeros(3))


def test_assert_close_reports_shape_location_and_values():
    expected = np.zeros((2, 3))
    actual = expected.copy()
    actual[1, 2] = 0.5
    with pytest.raises(AssertionError, match=r"dW: relative error 1 exceeds .*index \(1, 2\): got 0.5, expected 0"):
        gradcheck.assert_close(actual, expected, "dW")
    with pytest.raises(AssertionError, match=r"db: expected shape \(3,\), got shape \(3, 1\)"):
        gradcheck.assert_close(np.zeros((3, 1)), np.zeros(3), "db")
    with pytest.raises(AssertionError, match=r"dx: contains NaN or inf, e.g. at index \(1,\)"):
        gradcheck.assert_close(np.array([0.0, np.nan]), np.zeros(2), "dx")
    assert gradcheck.assert_close(np.ones(2) * (1 + 1e-9), np.ones(2), "x") < 1e-8


def test_check_gradient_catches_a_wrong_gradient():
    x = np.array([0.3, -0.8])
    gradcheck.check_gradient(lambda: float(np.sum(x**2)), x, 2 * x)
    with pytest.raises(AssertionError, match="gradient: relative error"):
        gradcheck.check_gradient(lambda: float(np.sum(x**2)), x, x)


def test_central_difference_error_is_second_order():
    x = np.array([0.7])
    errors = [
        abs(gradcheck.numerical_gradient(lambda: float(np.exp(x[0])), x, h)[0] - np.exp(0.7)) for h in (1e-2, 1e-3)
    ]
    assert errors[0] / errors[1] == pytest.approx(100, rel=0.05)
