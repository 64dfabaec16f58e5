"""Tests of nnbook/validation.py: the error messages the whole package relies on."""

import numpy as np
import pytest

from nnbook import validation as v


def test_messages_say_what_and_where():
    with pytest.raises(ValueError, match=r"X contains 2 non-finite value\(s\).*first is at index \(0, 1\)"):
        v.check_finite(np.array([[1.0, np.inf], [np.nan, 0.0]]), "X")
    with pytest.raises(ValueError, match=r"W must have 2 dimension\(s\), got shape \(3,\)"):
        v.check_ndim(np.zeros(3), "W", 2)
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got nan"):
        v.check_positive(float("nan"), "lr")
    with pytest.raises(ValueError, match=r"y must only contain \(0, 1\), found \[2\]"):
        v.check_binary_labels(np.array([0, 1, 2]), "y")
    with pytest.raises(TypeError, match="X must be numeric array-like, got str"):
        v.as_float_array("x", "X")


def test_valid_input_passes_through():
    x = np.array([1.0, 2.0])
    assert v.check_finite(x, "x") is x
    assert v.check_positive(0.5, "lr") == 0.5
    assert v.as_float_array([1, 2], "x").dtype == np.float64
