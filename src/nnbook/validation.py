"""Input checks shared by the whole package.

A wrong shape or a NaN deep inside a computation gives a useless error much
later. These helpers fail early, saying which argument is wrong, what was
expected and what was received.
"""

import numpy as np


def as_float_array(x, name):
    """Return ``x`` as a float64 array, or raise ``TypeError`` naming ``name``."""
    try:
        array = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be numeric array-like, got {type(x).__name__}: {error}") from None
    return array


def check_finite(x, name):
    """Raise ``ValueError`` if ``x`` holds a NaN or an infinity, saying where the first one is."""
    x = np.asarray(x)
    if x.dtype.kind in "fc" and not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(x))
        where = tuple(int(i) for i in bad[0])
        raise ValueError(f"{name} contains {len(bad)} non-finite value(s) (NaN or inf); the first is at index {where}")
    return x


def check_ndim(x, name, ndims):
    """Raise ``ValueError`` unless ``x.ndim`` is one of ``ndims``."""
    ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if x.ndim not in ndims:
        expected = " or ".join(str(n) for n in ndims)
        raise ValueError(f"{name} must have {expected} dimension(s), got shape {x.shape}")
    return x


def check_same_shape(a, b, name_a, name_b):
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"{name_a} has shape {np.shape(a)} but {name_b} has shape {np.shape(b)}; they must match")


def check_rows_match(X, y, name_X="X", name_y="y"):
    """Raise ``ValueError`` unless ``X`` and ``y`` hold the same number of examples (first axis)."""
    if np.shape(X)[0] != np.shape(y)[0]:
        raise ValueError(
            f"{name_X} has {np.shape(X)[0]} examples (shape {np.shape(X)}) but {name_y} has "
            f"{np.shape(y)[0]} (shape {np.shape(y)}); the first axis counts examples and must match"
        )


def check_positive(value, name):
    """Raise ``ValueError`` unless ``value`` is a finite number > 0."""
    if not (np.isscalar(value) and np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def check_binary_labels(y, name, values=(0, 1)):
    """Raise ``ValueError`` unless every entry of ``y`` is one of ``values``."""
    unexpected = np.setdiff1d(np.unique(y), values)
    if unexpected.size:
        raise ValueError(f"{name} must only contain {values}, found {unexpected[:5].tolist()}")
    return y
