"""Numerical gradients by central differences, and how to compare them.

The whole book trusts a gradient only once it agrees with a numerical one:

``∂f/∂x_j ≈ (f(x + h e_j) − f(x − h e_j)) / (2h)``,

whose error is ``O(h²)``. Tests, chapters and the autograder all use these
functions; nothing else in the project computes a numerical gradient.
Everything runs in float64: in float32 the rounding error of ``f`` divided
by ``2h`` swamps the answer.
"""

import numpy as np

#: Default step of the central difference: balances the O(h²) truncation
#: error against the O(ε/h) rounding error of float64.
STEP = 1e-5


def numerical_gradient(f, x, h=STEP):
    """Central-difference gradient of the scalar function ``f`` at ``x``.

    Parameters
    ----------
    f : callable taking no argument and returning a float. It must read ``x``
        (the very array passed here): each entry of ``x`` is perturbed in place,
        ``f`` is called, and the entry is restored.
    x : float64 array of any shape.

    Returns
    -------
    grad : array like ``x``, ``grad[j] ≈ ∂f/∂x[j]``.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError("numerical_gradient perturbs x in place: pass a float64 numpy array, not a copy or a list")
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        f_plus = f()
        x[index] = saved - h
        f_minus = f()
        x[index] = saved
        grad[index] = (f_plus - f_minus) / (2.0 * h)
    return grad


def numerical_gradient_of_output(f, x, dout, h=STEP):
    """Numerical ``dx`` of an array function ``out = f()``, given the upstream gradient ``dout``.

    It is the gradient of the scalar ``Σ out · dout``, which is what a backward
    pass computes. Use a *random* ``dout``: an all-ones one hides errors.
    """
    dout = np.asarray(dout, dtype=np.float64)
    return numerical_gradient(lambda: float(np.sum(f() * dout)), x, h)


def relative_error(a, b, eps=1e-12):
    """``max|a − b| / max(max|a|, max|b|, eps)``: 0 when equal, about 1 when unrelated."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)), eps)
    return float(np.max(np.abs(a - b)) / scale)


def largest_difference(actual, expected):
    """Return ``(index, actual value, expected value)`` where ``|actual − expected|`` is largest."""
    difference = np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(expected, dtype=np.float64))
    index = np.unravel_index(np.nanargmax(np.where(np.isnan(difference), np.inf, difference)), difference.shape)
    index = tuple(int(i) for i in index)
    return index, float(np.asarray(actual)[index]), float(np.asarray(expected)[index])


def assert_close(actual, expected, name, tol=1e-6):
    """Assert ``relative_error(actual, expected) ≤ tol``, or explain what differs.

    The message names the quantity, both shapes, the relative error, and the
    entry with the largest difference.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"{name}: expected shape {expected.shape}, got shape {actual.shape}")
    if not np.all(np.isfinite(actual)):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(actual))[0])
        raise AssertionError(f"{name}: contains NaN or inf, e.g. at index {where}")
    error = relative_error(actual, expected)
    if not error <= tol:
        index, got, want = largest_difference(actual, expected)
        raise AssertionError(
            f"{name}: relative error {error:.3g} exceeds {tol:.1g}; largest difference at index {index}: "
            f"got {got:.6g}, expected {want:.6g}"
        )
    return error


def check_gradient(f, x, analytic, name="gradient", tol=1e-6, h=STEP):
    """Compare an analytic gradient with the numerical gradient of ``f`` at ``x``; return the relative error."""
    return assert_close(analytic, numerical_gradient(f, x, h), name, tol)
