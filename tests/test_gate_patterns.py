"""The gate patterns of backpropagation, checked with the engine (chapter *Chain rule and computation graphs*, ch05).

Each node passes the upstream gradient ``G`` to its inputs in a pattern that is
easy to remember: an addition *distributes* it (every input gets ``G``), a
maximum *routes* it (the winner gets ``G``, the others 0), a product *swaps*
the inputs (each input gets ``G`` times the other input). The tests use random
arrays and a random ``G``, so that no pattern holds by accident.
"""

import numpy as np
import pytest

from nnbook.autodiff import Tensor, trace
from nnbook.gradcheck import assert_close, numerical_gradient_of_output

pytestmark = pytest.mark.ch05


def backward_of(op, *arrays, seed=0):
    """The gradients that the engine gives each input of ``op`` for a random upstream gradient; and that gradient."""
    tensors = [Tensor(a) for a in arrays]
    out = op(*tensors)
    G = np.random.default_rng(seed).normal(size=out.shape)
    out.backward(G)
    return [t.grad for t in tensors], G


@pytest.mark.parametrize("seed", range(5))
def test_add_distributes_the_gradient(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    (da, db), G = backward_of(lambda s, t: s + t, a, b, seed=seed)
    np.testing.assert_array_equal(da, G)
    np.testing.assert_array_equal(db, G)


@pytest.mark.parametrize("seed", range(5))
def test_max_routes_the_gradient_to_the_larger_input(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    (da, db), G = backward_of(lambda s, t: s.maximum(t), a, b, seed=seed)
    np.testing.assert_array_equal(da, np.where(a > b, G, 0.0))
    np.testing.assert_array_equal(db, np.where(a > b, 0.0, G))
    np.testing.assert_array_equal(da + db, G)                 # nothing is lost, nothing is copied


@pytest.mark.parametrize("seed", range(5))
def test_multiply_swaps_the_inputs(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    (da, db), G = backward_of(lambda s, t: s * t, a, b, seed=seed)
    np.testing.assert_array_equal(da, G * b)
    np.testing.assert_array_equal(db, G * a)


def test_maximum_backward_matches_a_numerical_gradient_with_broadcasting():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (4,))
    a[np.abs(a - b) < 0.1] += 0.5                             # away from ties, where max has a kink
    (da, db), G = backward_of(lambda s, t: s.maximum(t), a, b, seed=3)
    assert_close(da, numerical_gradient_of_output(lambda: np.maximum(a, b), a, G), "d max / d a")
    assert_close(db, numerical_gradient_of_output(lambda: np.maximum(a, b), b, G), "d max / d b")


def test_a_tie_routes_the_gradient_to_the_second_input_like_relu():
    (da, db), G = backward_of(lambda s, t: s.maximum(t), np.array([0.0, 1.0]), np.array([0.0, 0.0]))
    np.testing.assert_array_equal(da, [0.0, G[1]])
    np.testing.assert_array_equal(db, [G[0], 0.0])
    x = Tensor(np.array([0.0, 2.0]))
    x.maximum(0.0).backward(np.ones(2))
    relu = Tensor(np.array([0.0, 2.0]))
    relu.relu().backward(np.ones(2))
    np.testing.assert_array_equal(x.grad, relu.grad)


def test_the_chapters_example_with_all_three_gates():
    """L = (a + b) · max(c, d) at a = 1, b = 2, c = −1, d = 4: L = 12, and the gates give 4, 4, 0, 3."""
    a, b, c, d = (Tensor(v) for v in (1.0, 2.0, -1.0, 4.0))
    s = a + b
    m = c.maximum(d)
    L = s * m
    L.backward()
    assert float(L.data) == 12.0
    assert (float(s.grad), float(m.grad)) == (4.0, 3.0)        # the product swaps: dL/ds = m, dL/dm = s
    assert (float(a.grad), float(b.grad)) == (4.0, 4.0)        # the sum distributes dL/ds
    assert (float(c.grad), float(d.grad)) == (0.0, 3.0)        # the max routes dL/dm to d
    nodes, edges = trace(L)
    assert len(nodes) == 7 and len(edges) == 6


def test_trace_lists_every_node_once_and_every_operand_as_an_edge():
    a = Tensor(2.0)
    b = a * a
    c = b + a
    nodes, edges = trace(c)
    assert len(nodes) == 3 and nodes[-1] is c and {id(n) for n in nodes} == {id(a), id(b), id(c)}
    assert sorted((id(p), id(q)) for p, q in edges) == sorted([(id(a), id(b)), (id(a), id(b)), (id(b), id(c)), (id(a), id(c))])
