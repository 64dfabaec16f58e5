"""Tests of nnbook/initialization.py: fans from shapes, and sample variances that match each formula.

The formulas are checked on a dense weight ``(n_out, n_in)`` and on a convolution's
filters ``(F, C, k_h, k_w)``, whose fans count the kernel: ``fan_in = C·k_h·k_w``,
``fan_out = F·k_h·k_w``. That ``Linear`` draws its weights here is tested in
``test_layers.py``.
"""

import math

import numpy as np
import pytest

from nnbook import initialization as init

DENSE = (400, 600)  # (n_out, n_in): fan_in 600, fan_out 400
CONV = (64, 32, 5, 5)  # (F, C, k_h, k_w): fan_in 32·25 = 800, fan_out 64·25 = 1600

#: initializer → its variance as a function of (fan_in, fan_out), as the docstrings state it
VARIANCES = {
    init.small_normal: lambda fan_in, fan_out: 0.01**2,
    init.xavier_normal: lambda fan_in, fan_out: 2 / (fan_in + fan_out),
    init.xavier_uniform: lambda fan_in, fan_out: 2 / (fan_in + fan_out),
    init.he_normal: lambda fan_in, fan_out: 2 / fan_in,
    init.he_uniform: lambda fan_in, fan_out: 2 / fan_in,
}
#: the uniform ones and their bound a, for U(−a, a)
LIMITS = {
    init.xavier_uniform: lambda fan_in, fan_out: math.sqrt(6 / (fan_in + fan_out)),
    init.he_uniform: lambda fan_in, fan_out: math.sqrt(6 / fan_in),
}


def test_fans_of_a_dense_weight_and_of_convolution_filters():
    assert init.fans(DENSE) == (600, 400)
    assert init.fans(CONV) == (32 * 5 * 5, 64 * 5 * 5)
    assert init.fans((8, 3, 3, 1)) == (9, 24)
    assert init.fans((7, 1)) == (1, 7)
    for bad in [(5,), (), (3, 0)]:
        with pytest.raises(ValueError, match=r"shape \(n_out, n_in\) or \(F, C, k_h, k_w\)"):
            init.fans(bad)


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("initializer", list(VARIANCES), ids=lambda f: f.__name__)
def test_sample_variance_matches_the_formula(initializer, shape):
    W = initializer(shape, np.random.default_rng(0))
    assert W.shape == shape and W.dtype == np.float64
    variance = VARIANCES[initializer](*init.fans(shape))
    # 240,000 and 51,200 draws: the sample variance is within about 1% of the true one
    assert W.var() == pytest.approx(variance, rel=0.03)
    assert abs(W.mean()) < 0.02 * math.sqrt(variance)
    if initializer in LIMITS:
        limit = LIMITS[initializer](*init.fans(shape))
        assert np.all(np.abs(W) <= limit) and np.abs(W).max() > 0.99 * limit
        assert limit**2 / 3 == pytest.approx(variance)  # the variance of U(−a, a) is a²/3


def test_the_docstrings_state_the_formulas():
    assert "2 / (fan_in + fan_out)" in init.xavier_normal.__doc__
    assert "√(6 / (fan_in + fan_out))" in init.xavier_uniform.__doc__
    assert "2 / fan_in" in init.he_normal.__doc__
    assert "√(6 / fan_in)" in init.he_uniform.__doc__
    assert "0.01" in init.small_normal.__doc__


def test_zeros():
    W = init.zeros(CONV, np.random.default_rng(0), np.float32)
    assert W.shape == CONV and W.dtype == np.float32 and not W.any()


@pytest.mark.parametrize("name", sorted(init.INITIALIZERS))
def test_seeded_by_a_generator_and_in_the_dtype_asked(name):
    first = init.initialize(name, (6, 3, 2, 2), np.random.default_rng(5))
    again = init.initialize(name, (6, 3, 2, 2), np.random.default_rng(5))
    np.testing.assert_array_equal(first, again)
    if name != "zeros":
        assert not np.array_equal(first, init.initialize(name, (6, 3, 2, 2), np.random.default_rng(6)))
    assert init.initialize(name, (3, 4), np.random.default_rng(0), np.float32).dtype == np.float32
    # one generator shared by two draws gives two different matrices (mlp draws all its layers from one)
    rng = np.random.default_rng(1)
    if name != "zeros":
        assert not np.array_equal(init.initialize(name, (3, 4), rng), init.initialize(name, (3, 4), rng))


def test_as_generator_and_unknown_names():
    rng = np.random.default_rng(3)
    assert init.as_generator(rng) is rng
    assert init.as_generator(3).random() == np.random.default_rng(3).random()
    assert init.as_generator(None).random() == np.random.default_rng(0).random()
    with pytest.raises(ValueError, match=r"unknown initialization 'glorot'; choose one of \['he', 'he_uniform', "
                                         r"'normal', 'xavier', 'xavier_uniform', 'zeros'\]"):
        init.initialize("glorot", (2, 2))


def test_xavier_normal_draws_what_the_layers_drew_before():
    # Linear(n_in, n_out, "xavier", rng) used to draw sqrt(2 / (n_in + n_out)) * rng.standard_normal((n_out, n_in)):
    # the reference networks of the graded exercises depend on those exact numbers
    expected = np.sqrt(2.0 / (3 + 5)) * np.random.default_rng(2).standard_normal((5, 3))
    np.testing.assert_array_equal(init.xavier_normal((5, 3), np.random.default_rng(2)), expected)
    expected = np.sqrt(2.0 / 3) * np.random.default_rng(2).standard_normal((5, 3))
    np.testing.assert_array_equal(init.he_normal((5, 3), np.random.default_rng(2)), expected)
