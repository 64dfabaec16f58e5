"""Tests of nnbook/autodiff.py: every operation's backward against a numerical gradient, and the engine's bookkeeping.

Each operation is checked through each of its arguments separately, in float64,
with a *random* upstream gradient ``dout``: the numerical side is the gradient
of ``Σ out · dout`` (:func:`nnbook.gradcheck.numerical_gradient_of_output`), the
analytic side is ``arg.grad`` after ``out.backward(dout)``.
"""

import sys
import zlib
from decimal import Decimal, localcontext

import numpy as np
import pytest

from optional import import_torch

from nnbook.autodiff import Tensor, unbroadcast
from nnbook.gradcheck import assert_close, numerical_gradient, numerical_gradient_of_output

pytestmark = pytest.mark.ch05


def random_arrays(shapes, rng, positive=False):
    """One float64 array per shape, with entries of size 0.5–2: away from 0 (the kinks of relu, the pole of 1/x)."""
    arrays = [rng.uniform(0.5, 2.0, shape) for shape in shapes]
    if not positive:
        arrays = [a * rng.choice([-1.0, 1.0], size=np.shape(a)) for a in arrays]
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def check_backward(op, arrays, rng, tol=1e-7):
    """Assert that ``op``'s backward matches the numerical gradient for each argument, with a random ``dout``."""
    tensors = [Tensor(a) for a in arrays]
    out = op(*tensors)
    dout = rng.standard_normal(out.shape)
    out.backward(dout)
    for i, (array, tensor) in enumerate(zip(arrays, tensors)):
        numeric = numerical_gradient_of_output(lambda: op(*[Tensor(a) for a in arrays]).data, array, dout)
        assert_close(tensor.grad, numeric, f"gradient of argument {i}", tol=tol)
    return out


# Each case: (id, operation on Tensors, argument shapes, all arguments positive?, numpy reference or None).
# With reference None the operation itself, applied to numpy arrays, is the reference for the forward value.
OPERATIONS = [
    ("add", lambda a, b: a + b, [(3, 4), (3, 4)], False, None),
    ("add-row-broadcast", lambda a, b: a + b, [(3, 4), (4,)], False, None),
    ("add-column-broadcast", lambda a, b: a + b, [(3, 4), (3, 1)], False, None),
    ("add-scalar-tensor", lambda a, b: a + b, [(3, 4), ()], False, None),
    ("add-both-broadcast", lambda a, b: a + b, [(3, 1), (1, 4)], False, None),
    ("add-constant", lambda a: a + 2.5, [(3, 4)], False, None),
    ("radd-constant", lambda a: 2.5 + a, [(3, 4)], False, None),
    ("sub", lambda a, b: a - b, [(3, 4), (3, 4)], False, None),
    ("sub-row-broadcast", lambda a, b: a - b, [(3, 4), (4,)], False, None),
    ("rsub-constant", lambda a: 2.0 - a, [(3, 4)], False, None),
    ("rsub-array-constant", lambda a: np.arange(4.0) - a, [(3, 4)], False, None),
    ("neg", lambda a: -a, [(3, 4)], False, None),
    ("mul", lambda a, b: a * b, [(3, 4), (3, 4)], False, None),
    ("mul-row-broadcast", lambda a, b: a * b, [(4,), (3, 4)], False, None),
    ("mul-column-broadcast", lambda a, b: a * b, [(3, 4), (3, 1)], False, None),
    ("mul-outer-broadcast", lambda a, b: a * b, [(3, 1), (1, 4)], False, None),
    ("mul-scalar-tensor", lambda a, b: a * b, [(), (3, 4)], False, None),
    ("rmul-constant", lambda a: 3.0 * a, [(3, 4)], False, None),
    ("div", lambda a, b: a / b, [(3, 4), (3, 4)], False, None),
    ("div-row-broadcast", lambda a, b: a / b, [(3, 4), (4,)], False, None),
    ("div-by-constant", lambda a: a / 4.0, [(3, 4)], False, None),
    ("rtruediv-constant", lambda b: 3.0 / b, [(3, 4)], False, None),
    ("rtruediv-array-constant", lambda b: np.arange(1.0, 5.0) / b, [(3, 4)], False, None),
    ("pow-2", lambda a: a**2, [(3, 4)], False, None),
    ("pow-3", lambda a: a**3, [(3, 4)], False, None),
    ("pow-half", lambda a: a**0.5, [(3, 4)], True, None),
    ("pow-negative", lambda a: a**-1.5, [(3, 4)], True, None),
    ("pow-zero", lambda a: a**0, [(3, 4)], False, None),
    ("pow-one", lambda a: a**1, [(3, 4)], False, None),
    ("matmul", lambda a, b: a @ b, [(3, 4), (4, 2)], False, None),
    ("matmul-vector-shaped", lambda a, b: a @ b, [(1, 4), (4, 1)], False, None),
    ("exp", lambda a: a.exp(), [(3, 4)], False, np.exp),
    ("log", lambda a: a.log(), [(3, 4)], True, np.log),
    ("sigmoid", lambda a: a.sigmoid(), [(3, 4)], False, lambda a: 1 / (1 + np.exp(-a))),
    ("tanh", lambda a: a.tanh(), [(3, 4)], False, np.tanh),
    ("relu", lambda a: a.relu(), [(3, 4)], False, lambda a: np.maximum(a, 0)),
    ("reshape", lambda a: a.reshape(2, 6), [(3, 4)], False, None),
    ("reshape-tuple", lambda a: a.reshape((4, 3)), [(3, 4)], False, None),
    ("reshape-flatten", lambda a: a.reshape(-1), [(3, 4)], False, None),
    ("transpose", lambda a: a.T, [(3, 4)], False, None),
    ("transpose-3d", lambda a: a.T, [(2, 3, 4)], False, None),
    ("sum-all", lambda a: a.sum(), [(3, 4)], False, None),
    ("sum-all-keepdims", lambda a: a.sum(keepdims=True), [(3, 4)], False, None),
    ("sum-axis0", lambda a: a.sum(axis=0), [(3, 4)], False, None),
    ("sum-axis0-keepdims", lambda a: a.sum(axis=0, keepdims=True), [(3, 4)], False, None),
    ("sum-axis1", lambda a: a.sum(axis=1), [(3, 4)], False, None),
    ("sum-axis1-keepdims", lambda a: a.sum(axis=1, keepdims=True), [(3, 4)], False, None),
    ("sum-axis-negative", lambda a: a.sum(axis=-1), [(2, 3, 4)], False, None),
    ("sum-axis-tuple", lambda a: a.sum(axis=(0, 2)), [(2, 3, 4)], False, None),
    ("mean-all", lambda a: a.mean(), [(3, 4)], False, None),
    ("mean-all-keepdims", lambda a: a.mean(keepdims=True), [(3, 4)], False, None),
    ("mean-axis0", lambda a: a.mean(axis=0), [(3, 4)], False, None),
    ("mean-axis0-keepdims", lambda a: a.mean(axis=0, keepdims=True), [(3, 4)], False, None),
    ("mean-axis1", lambda a: a.mean(axis=1), [(3, 4)], False, None),
    ("mean-axis1-keepdims", lambda a: a.mean(axis=1, keepdims=True), [(3, 4)], False, None),
    ("mean-axis-tuple", lambda a: a.mean(axis=(1, 2)), [(2, 3, 4)], False, None),
    (
        "composite-linear-tanh-mean",
        lambda X, W, b: (X @ W.T + b).tanh().mean(axis=0).sum(),
        [(5, 3), (4, 3), (4,)],
        False,
        lambda X, W, b: np.tanh(X @ W.T + b).mean(axis=0).sum(),
    ),
    (
        "composite-normalize-rows",
        lambda a: a / a.sum(axis=1, keepdims=True),
        [(3, 4)],
        True,
        None,
    ),
]


@pytest.mark.parametrize("name, op, shapes, positive, reference", OPERATIONS, ids=[case[0] for case in OPERATIONS])
def test_forward_and_backward_of_every_operation(name, op, shapes, positive, reference):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = random_arrays(shapes, rng, positive)
    out = check_backward(op, arrays, rng)
    expected = (reference or op)(*[a.copy() for a in arrays])
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


def test_softmax_cross_entropy_value_and_gradient():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((5, 4))
    y = np.array([0, 3, 1, 1, 2])
    logits = Tensor(Z)
    J = logits.softmax_cross_entropy(y)
    expected = -np.mean(np.log(np.exp(Z[np.arange(5), y]) / np.exp(Z).sum(axis=1)))
    assert J.shape == ()
    assert J.data == pytest.approx(expected, rel=1e-12)
    J.backward()
    assert_close(logits.grad, numerical_gradient(lambda: float(Tensor(Z).softmax_cross_entropy(y).data), Z), "dZ")
    # and inside a larger graph, with an upstream gradient other than 1
    check_backward(lambda Z: Z.softmax_cross_entropy(y) * 3.0, [Z], rng)
    with pytest.raises(ValueError, match=r"logits of shape \(m, K\), got \(4,\)"):
        Tensor(np.zeros(4)).softmax_cross_entropy(np.array([0]))


def test_softmax_cross_entropy_is_exact_when_the_label_leads():
    """Labels leading by 25, 37 and 20.5 (and one trailing by 28): the cost and ``dZ`` agree with their values
    computed with 120-digit decimals within 4 ulps, where ``log(1 + S)`` and ``softmax − 1`` kept 5 digits at most."""
    Z = np.array([[25.0, 0.0, -1.5], [40.0, 3.0, 2.0], [0.5, 21.0, -3.0], [2.0, -1.0, 30.0]])
    for rows in ([0], [1], [2], [0, 1, 2], [0, 1, 2, 3]):
        y = np.array([0, 0, 1, 0])[rows]
        logits = Tensor(Z[rows])
        J = logits.softmax_cross_entropy(y) * 2.0  # an upstream gradient other than 1, exact in binary
        J.backward()
        with localcontext() as context:
            context.prec = 120
            m, exact_J, exact_dZ = len(rows), Decimal(0), []
            for z, label in zip(Z[rows], y):
                shifted = [(Decimal(float(v)) - Decimal(float(z[label]))).exp() for v in z]  # e^{z_k − z_y}
                exact_J += 2 * sum(shifted).ln() / m
                exact_dZ += [2 * (e / sum(shifted) - int(k == label)) / m for k, e in enumerate(shifted)]
        pairs = [(float(J.data), exact_J)] + list(zip(logits.grad.ravel(), exact_dZ))
        errors = [float(abs(Decimal(float(a)) - e) / abs(e)) for a, e in pairs]
        assert max(errors) <= 4 * np.finfo(np.float64).eps, f"rows {rows}: relative errors {errors}"


#: exponent p, and the derivative p x^(p−1) at x = 0, −0, 1.5, −2
POW_DERIVATIVES = [
    (0, [0.0, 0.0, 0.0, 0.0]),
    (0.0, [0.0, 0.0, 0.0, 0.0]),
    (1, [1.0, 1.0, 1.0, 1.0]),
    (2, [0.0, 0.0, 3.0, -4.0]),
    (3.0, [0.0, 0.0, 6.75, 12.0]),
]


def test_pow_backward_at_zero_is_the_exact_derivative():
    """``d(x^p)/dx = p x^(p−1)``: at ``x = 0``, 0 for ``p = 0`` (not ``0 · 0^(−1)``, a NaN) and 1 for ``p = 1``."""
    x_values = np.array([0.0, -0.0, 1.5, -2.0])
    dout = np.array([0.5, -1.25, 3.0, 2.0])  # all products below are exact in binary
    for p, local in POW_DERIVATIVES:
        x = Tensor(x_values)
        out = x**p
        out.backward(dout)
        np.testing.assert_array_equal(out.data, x_values**p)
        np.testing.assert_array_equal(x.grad, dout * np.array(local), err_msg=f"exponent {p!r}")


def test_torch_agrees_on_pow_at_zero():
    torch = import_torch()
    x_values = np.array([0.0, 1.5, -2.0])
    for p in (0, 0.0, 1, 2, 3.0):
        x = Tensor(x_values)
        (x**p).sum().backward()
        theirs = torch.tensor(x_values, dtype=torch.float64, requires_grad=True)
        (theirs**p).sum().backward()
        np.testing.assert_array_equal(x.grad, theirs.grad.numpy(), err_msg=f"exponent {p!r}")


def test_unbroadcast_sums_over_added_and_stretched_axes():
    grad = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(grad, (3, 4)), grad.sum(axis=0))
    np.testing.assert_array_equal(unbroadcast(grad, (3, 1)), grad.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(unbroadcast(grad, (1, 1, 4)), grad.sum(axis=(0, 1), keepdims=True))
    assert unbroadcast(grad, ()) == grad.sum()
    assert unbroadcast(grad, (2, 3, 4)) is grad


def test_the_check_catches_a_wrong_local_rule():
    """The harness is not vacuous: a square whose backward forgot the factor 2 fails it."""

    def wrong_square(x):
        def backward():
            x.grad += out.grad * x.data  # should be 2 * x.data

        out = x._child(x.data**2, (x,), "wrong_square", backward)
        return out

    rng = np.random.default_rng(1)
    with pytest.raises(AssertionError, match="relative error"):
        check_backward(wrong_square, random_arrays([(3, 4)], rng), rng)


def test_an_all_ones_upstream_gradient_hides_a_missing_transpose():
    """Why the upstream gradient must be random: with ``dout`` all ones a transpose
    whose backward only reshapes looks right; with a random ``dout`` it does not."""

    def wrong_transpose(x):
        def backward():
            x.grad += out.grad.reshape(x.shape)  # should be out.grad.T

        out = x._child(x.data.T, (x,), "wrong_T", backward)
        return out

    rng = np.random.default_rng(2)
    X = random_arrays([(3, 4)], rng)[0]
    ones = np.ones((4, 3))
    x = Tensor(X)
    wrong_transpose(x).backward(ones)
    assert_close(x.grad, numerical_gradient_of_output(lambda: X.T, X, ones), "dx with dout = 1")  # passes: fooled
    with pytest.raises(AssertionError, match="relative error"):
        check_backward(wrong_transpose, [X], rng)  # random dout: caught


def test_matmul_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(m, n\) @ \(n, p\), got \(3, 4\) @ \(3, 4\)"):
        Tensor(np.zeros((3, 4))) @ Tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"got \(3, 4\) @ \(4,\)"):
        Tensor(np.zeros((3, 4))) @ Tensor(np.zeros(4))
    with pytest.raises(ValueError, match=r"got \(4,\) @ \(4, 2\)"):
        Tensor(np.zeros(4)) @ np.zeros((4, 2))


def test_pow_needs_a_constant_scalar_exponent():
    with pytest.raises(TypeError, match="constant scalar exponent.*Tensor"):
        Tensor(np.ones(3)) ** Tensor(2.0)
    with pytest.raises(TypeError, match="constant scalar exponent.*ndarray"):
        Tensor(np.ones(3)) ** np.array([1.0, 2.0, 3.0])


def test_numpy_operands_on_the_left_give_tensors():
    t = Tensor(np.array([1.0, 2.0, 4.0]))
    for result in (np.ones(3) - t, np.ones(3) / t, np.float64(2.0) * t, np.ones(3) + t):
        assert isinstance(result, Tensor)
    np.testing.assert_array_equal((np.ones(3) - t).data, [0.0, -1.0, -3.0])
    np.testing.assert_array_equal((np.ones(3) / t).data, [1.0, 0.5, 0.25])


def naive_recursive_backward(output):
    """The tempting, wrong backward: each node runs its local rule, then recurses into its parents.

    Without a topological order a node's rule may run before all of its uses
    have added to its gradient, or (as here) once per use, each time passing on
    everything it has collected so far.
    """

    def visit(node):
        node._backward()
        for parent in node._parents:
            visit(parent)

    output.grad = np.ones_like(output.data)
    visit(output)


def test_a_reused_node_gets_every_contribution_once():
    a_values = np.array([0.5, -1.0, 2.0])
    # c = (a + a)² = 4a², so dc/da = 8a
    a = Tensor(a_values)
    b = a + a
    c = b * b
    c.backward(np.ones(3))
    np.testing.assert_allclose(a.grad, 8 * a_values, rtol=1e-12)
    np.testing.assert_allclose(b.grad, 2 * b.data, rtol=1e-12)

    a_naive = Tensor(a_values)
    b_naive = a_naive + a_naive
    naive_recursive_backward(b_naive * b_naive)
    # b's rule runs once per use of b, each time with b's full gradient: a gets 16a, not 8a
    np.testing.assert_allclose(a_naive.grad, 16 * a_values, rtol=1e-12)
    assert not np.allclose(a_naive.grad, 8 * a_values)


def test_a_node_reached_by_a_short_and_a_long_path():
    """``d = b · exp(b)`` with ``b = 3a``: b is reached directly and through exp(b)."""
    a_values = np.array([0.3, -0.7])
    a = Tensor(a_values)
    b = a * 3.0
    d = b * b.exp()
    d.backward(np.ones(2))
    b_values = 3 * a_values
    np.testing.assert_allclose(a.grad, 3 * (1 + b_values) * np.exp(b_values), rtol=1e-12)


def test_a_deep_chain_does_not_hit_the_recursion_limit():
    depth = 5000
    assert 2 * depth > sys.getrecursionlimit()  # each step adds two nodes
    x = Tensor(np.array(0.5))
    y = x
    for _ in range(depth):
        y = y * 1.0001 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0001**depth, rel=1e-9)
    y.zero_grad()
    assert x.grad == 0.0
    with pytest.raises(RecursionError):  # the naive recursive backward cannot do it
        naive_recursive_backward(y)


def test_gradients_accumulate_over_backward_calls_and_zero_grad_resets():
    rng = np.random.default_rng(3)
    A, B = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    a, b = Tensor(A), Tensor(B)
    product = a * b * 2.0  # an intermediate node between the leaves and the output
    J = product.sum()
    J.backward()
    np.testing.assert_allclose(a.grad, 2 * B, rtol=1e-12)
    J.backward()
    np.testing.assert_allclose(a.grad, 4 * B, rtol=1e-12)  # twice the gradient, not more
    np.testing.assert_allclose(b.grad, 4 * A, rtol=1e-12)
    np.testing.assert_allclose(product.grad, 2 * np.ones((2, 3)), rtol=1e-12)
    assert J.grad == 2.0
    J.zero_grad()
    for node in (a, b, product, J):
        assert node.grad.shape == node.shape
        assert np.all(node.grad == 0.0)
    J.backward()
    np.testing.assert_allclose(a.grad, 2 * B, rtol=1e-12)


def test_two_outputs_sharing_a_node_add_their_gradients():
    rng = np.random.default_rng(4)
    A, B = rng.standard_normal(3), rng.standard_normal(3)
    a, b = Tensor(A), Tensor(B)
    h = a * b
    J1 = h.sum()
    J2 = (h * h).sum()
    J1.backward()
    J2.backward()
    # d(J1 + J2)/da = b + 2 (a b) b
    np.testing.assert_allclose(a.grad, B + 2 * A * B * B, rtol=1e-12)


def test_backward_errors():
    x = Tensor(np.ones((2, 3)))
    y = x * 2.0
    with pytest.raises(ValueError, match=r"needs a scalar output, this one has shape \(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"upstream gradient has shape \(3,\), the tensor has shape \(2, 3\)"):
        y.backward(np.ones(3))
    with pytest.raises(ValueError, match=r"upstream gradient has shape \(3, 2\), the tensor has shape \(2, 3\)"):
        y.backward(np.ones((3, 2)))
    assert np.all(x.grad == 0.0)  # nothing ran


def test_torch_agrees_on_a_composed_expression_with_broadcasting():
    torch = import_torch()
    rng = np.random.default_rng(5)
    arrays = {
        "X": rng.standard_normal((5, 3)),
        "W": rng.standard_normal((4, 3)),
        "b": rng.standard_normal(4),
        "s": rng.uniform(0.5, 2.0, (5, 1)),
        "c": np.array(0.7),
        "P": rng.uniform(0.5, 2.0, (1, 4)),
    }
    y = np.array([0, 3, 1, 2, 3])

    def expression(X, W, b, s, c, P):
        H = (X @ W.T + b).tanh() * s - c
        G = (H.sigmoid() + H.relu() * 0.5) / P + (H * H).exp() ** 0.5
        return G.mean(axis=1, keepdims=True).log().sum() * c + ((G - G.mean(axis=0)) ** 2).sum(axis=0).mean()

    ours = {name: Tensor(value) for name, value in arrays.items()}
    out = expression(**ours) + (ours["X"] @ ours["W"].T).softmax_cross_entropy(y)
    out.backward()

    theirs = {name: torch.tensor(value, dtype=torch.float64, requires_grad=True) for name, value in arrays.items()}
    reference = expression(**theirs) + torch.nn.functional.cross_entropy(
        theirs["X"] @ theirs["W"].T, torch.tensor(y)
    )
    reference.backward()

    assert float(out.data) == pytest.approx(reference.item(), rel=1e-12)
    for name in arrays:
        assert_close(ours[name].grad, theirs[name].grad.numpy(), f"d{name}", tol=1e-10)


def test_sigmoid_backward_keeps_its_digits_for_saturated_units():
    """The sigmoid's local gradient far from 0 against 50-digit arithmetic: ``out (1 − out)`` is 0 for ``z ≥ 37``."""
    import mpmath

    z = np.array([-60.0, -37.0, 0.5, 37.0, 60.0])
    x = Tensor(z)
    x.sigmoid().backward(np.ones_like(z))
    with mpmath.workdps(50):
        expected = [float(mpmath.exp(-v) / (1 + mpmath.exp(-v)) ** 2) for v in z]
    np.testing.assert_allclose(x.grad, expected, rtol=1e-14, atol=0)

