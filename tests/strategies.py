"""Hypothesis strategies shared by the tests: sizes, seeds, and well-conditioned float64 problems.

A strategy here draws *sizes and a seed*, and builds its arrays with
``numpy.random.default_rng(seed)``: the examples stay small to print, shrink
well, and every array is float64.

The problems for gradient checks are *well-conditioned*: the weights are
scaled by ``1/√n_x`` so that the logits stay within a few units. A saturated
logit (``|z| ≳ 15``) makes the whole gradient tiny, about ``e^{−|z|}``, and
then the rounding error of a central difference (``~1e-16 · J / h``) is no
longer small *relative* to it: the check would fail on a correct formula.
Stability with huge logits is tested separately, with :func:`logit_matrices`.
"""

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

#: number of examples in a batch
batch_sizes = st.integers(min_value=1, max_value=12)
#: number of input features
feature_counts = st.integers(min_value=1, max_value=6)
#: number of classes of a softmax
class_counts = st.integers(min_value=2, max_value=6)
#: seeds of numpy generators
seeds = st.integers(min_value=0, max_value=2**32 - 1)
#: scales of the inputs (the weights are scaled by 1/√n_x on top, so logits stay within a few units)
scales = st.sampled_from([0.1, 1.0, 2.0])


class LinearProblem(NamedTuple):
    """A batch ``X : (m, n_x)``, targets, and parameters of a linear model (vector ``w`` or matrix ``W``)."""

    X: np.ndarray
    y: np.ndarray
    w: np.ndarray
    b: object


def _inputs_and_weights(rng, m, n_x, scale, n_out=None):
    X = rng.normal(scale=scale, size=(m, n_x))
    w_scale = 1.0 / np.sqrt(n_x)
    if n_out is None:
        return X, rng.normal(scale=w_scale, size=n_x), float(rng.normal())
    return X, rng.normal(scale=w_scale, size=(n_out, n_x)), rng.normal(size=n_out)


@st.composite
def regression_problems(draw):
    """Adaline: real targets ``y : (m,)``, ``w : (n_x,)``, scalar ``b``."""
    m, n_x, scale = draw(batch_sizes), draw(feature_counts), draw(scales)
    rng = np.random.default_rng(draw(seeds))
    X, w, b = _inputs_and_weights(rng, m, n_x, scale)
    return LinearProblem(X, rng.normal(size=m), w, b)


@st.composite
def binary_problems(draw):
    """Logistic regression: labels ``y : (m,)`` in ``{0., 1.}``, ``w : (n_x,)``, scalar ``b``."""
    m, n_x, scale = draw(batch_sizes), draw(feature_counts), draw(scales)
    rng = np.random.default_rng(draw(seeds))
    X, w, b = _inputs_and_weights(rng, m, n_x, scale)
    return LinearProblem(X, rng.integers(0, 2, size=m).astype(np.float64), w, b)


@st.composite
def multiclass_problems(draw):
    """Softmax regression: integer labels ``y : (m,)`` in ``{0, …, K−1}``, ``W : (K, n_x)``, ``b : (K,)``."""
    m, n_x, K, scale = draw(batch_sizes), draw(feature_counts), draw(class_counts), draw(scales)
    rng = np.random.default_rng(draw(seeds))
    X, W, b = _inputs_and_weights(rng, m, n_x, scale, n_out=K)
    return LinearProblem(X, rng.integers(0, K, size=m), W, b)


@st.composite
def logit_matrices(draw, min_scale=1.0, max_scale=1e4):
    """Logits ``Z : (m, K)`` whose entries may be huge (up to ``max_scale``): for stability tests."""
    m, K = draw(batch_sizes), draw(class_counts)
    scale = draw(st.floats(min_value=min_scale, max_value=max_scale))
    rng = np.random.default_rng(draw(seeds))
    return rng.normal(scale=scale, size=(m, K))
