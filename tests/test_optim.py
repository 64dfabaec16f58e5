"""Tests of nnbook/optim.py: the gradient step and mini-batch splitting."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnbook import optim


def test_gradient_descent_step_moves_against_the_gradient():
    params = {"w": np.array([1.0, -2.0]), "b": 0.5}
    new = optim.gradient_descent_step(params, {"w": np.array([0.5, -1.0]), "b": 2.0}, lr=0.1)
    np.testing.assert_allclose(new["w"], [0.95, -1.9])
    assert new["b"] == pytest.approx(0.3)
    np.testing.assert_array_equal(params["w"], [1.0, -2.0])  # untouched


def test_gradient_descent_step_errors():
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        optim.gradient_descent_step({"w": np.zeros(2)}, {"w": np.zeros(2)}, lr=-1)
    with pytest.raises(ValueError, match=r"names must match"):
        optim.gradient_descent_step({"w": np.zeros(2)}, {"W": np.zeros(2)}, lr=0.1)
    with pytest.raises(ValueError, match=r"grads\['w'\] has shape \(3,\), params\['w'\] has \(2,\)"):
        optim.gradient_descent_step({"w": np.zeros(2)}, {"w": np.zeros(3)}, lr=0.1)


@given(st.integers(1, 200), st.integers(1, 64), st.integers(0, 100))
def test_minibatches_partition_the_examples(m, batch_size, seed):
    batches = optim.minibatch_indices(m, batch_size, np.random.default_rng(seed))
    assert len(batches) == -(-m // batch_size)
    assert all(len(b) == batch_size for b in batches[:-1])
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(m))


def test_minibatches_are_reproducible_and_reshuffled_each_epoch():
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    first = optim.minibatch_indices(10, 4, rng_a)
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(optim.minibatch_indices(10, 4, rng_b)))
    second = optim.minibatch_indices(10, 4, rng_a)
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))
    np.testing.assert_array_equal(np.concatenate(optim.minibatch_indices(5, 2, None, shuffle=False)), np.arange(5))


def test_minibatches_without_a_generator_are_seeded():
    first = np.concatenate(optim.minibatch_indices(10, 3))
    np.testing.assert_array_equal(first, np.concatenate(optim.minibatch_indices(10, 3)))
    assert not np.array_equal(first, np.arange(10))


@pytest.mark.parametrize("bad", [0, -1, 2.5, None])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        optim.minibatch_indices(10, bad, np.random.default_rng(0))
