"""Plain data: the only form in which values cross between the grader and a student's sandboxed kernel.

When the trusted autograder (:mod:`nnbook.autograde`) calls a student's
function, its arguments go into the sandbox and its result comes back as JSON
text, never as a pickle: numbers, strings, ``None``, booleans, numpy arrays of
booleans, integers or floats (as ``{"__ndarray__": {"dtype", "shape",
"data"}}``), and tuples, lists and string-keyed dicts of those.

:func:`encode` runs on both sides. Anything else (an ``ndarray`` subclass, an
object or complex array, a function) is encoded as a description only, and
:func:`decode` turns that description into a :class:`StudentObject` that numpy
refuses to convert, so a check of it fails with that description.

:func:`decode` is the grader's side, and it trusts nothing: the JSON text is
written by code the student controls. It accepts only the shapes above, builds
a fresh ``numpy.ndarray`` (never a subclass) of an allowed dtype whose data
matches its shape, and bounds the nesting depth and the number of elements.
"""

import json
import math

import numpy as np

#: The dtypes an array may have when it crosses: real numbers and booleans.
ALLOWED_DTYPES = frozenset(
    ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64"]
)
MAX_DEPTH = 16
MAX_ELEMENTS = 20_000_000


class StudentObject:
    """A value that was not plain data (an ndarray subclass, an object array, …), known only by its description.

    numpy cannot convert it, so :func:`nnbook.grading.check_array` refuses it
    with the description in its message; it never compares equal to anything.
    """

    def __init__(self, description):
        self.description = str(description)[:300]

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"it is {self.description}; only numbers and plain numpy arrays of real numbers are graded")

    def __eq__(self, other):
        return False

    __hash__ = None

    def __repr__(self):
        return f"<{self.description}>"


def _describe(value):
    kind = type(value)
    if isinstance(value, np.ndarray):
        if kind is not np.ndarray:
            return f"an ndarray subclass {kind.__module__}.{kind.__qualname__}"
        return f"a numpy array of dtype {value.dtype}"
    return f"a {kind.__module__}.{kind.__qualname__} object"


def encode(value, depth=0):
    """``value`` as JSON-ready plain data; what is not plain data becomes ``{"__unsupported__": description}``."""
    kind = type(value)
    if depth > MAX_DEPTH:
        return {"__unsupported__": "a value nested too deeply"}
    if value is None or kind in (bool, str):
        return value
    if kind is int:
        return value if abs(value) < 2**63 else float(value)
    if kind is float:
        return {"__float__": repr(value)} if not math.isfinite(value) else value
    if kind is np.ndarray and value.dtype.name in ALLOWED_DTYPES:
        return {"__ndarray__": {"dtype": value.dtype.name, "shape": list(value.shape), "data": _flat(value)}}
    if isinstance(value, np.generic) and kind.__module__ == "numpy" and np.dtype(kind).name in ALLOWED_DTYPES:
        return {"__scalar__": {"dtype": np.dtype(kind).name, "data": _flat(np.asarray(value))}}
    if kind in (tuple, list):
        items = [encode(item, depth + 1) for item in value]
        return {"__tuple__": items} if kind is tuple else items
    if kind is dict and all(type(key) is str for key in value):
        return {"__dict__": {key: encode(item, depth + 1) for key, item in value.items()}}
    return {"__unsupported__": _describe(value)}


def _flat(array):
    data = array.ravel().tolist()
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        data = [item if math.isfinite(item) else {"__float__": repr(item)} for item in data]
    return data


def dumps(value):
    """``value`` as JSON text (see :func:`encode`)."""
    return json.dumps(encode(value), allow_nan=False)


class PlainDataError(ValueError):
    """The text is not plain data as :func:`encode` writes it."""


def loads(text):
    """The value that :func:`dumps` wrote, rebuilt from untrusted ``text``; raises :class:`PlainDataError`."""
    try:
        tree = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise PlainDataError(f"not JSON: {error}") from None
    return decode(tree)


def decode(tree, depth=0, budget=None):
    """The value of a JSON tree written by :func:`encode`; every array is a fresh, exact ``numpy.ndarray``."""
    budget = budget if budget is not None else [MAX_ELEMENTS]
    if depth > MAX_DEPTH:
        raise PlainDataError("nested too deeply")
    if tree is None or type(tree) in (bool, str, int, float):
        return tree
    if type(tree) is list:
        return [decode(item, depth + 1, budget) for item in tree]
    if type(tree) is not dict or len(tree) != 1:
        raise PlainDataError(f"unexpected {type(tree).__name__}")
    ((tag, body),) = tree.items()
    if tag == "__float__" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "__tuple__" and type(body) is list:
        return tuple(decode(item, depth + 1, budget) for item in body)
    if tag == "__dict__" and type(body) is dict:
        return {str(key): decode(item, depth + 1, budget) for key, item in body.items()}
    if tag == "__unsupported__":
        return StudentObject(body)
    if tag in ("__ndarray__", "__scalar__") and type(body) is dict:
        array = _decode_array(body, budget, scalar=tag == "__scalar__")
        return array[()] if tag == "__scalar__" else array
    raise PlainDataError(f"unknown tag {tag!r}")


def _decode_array(body, budget, scalar):
    dtype, data = body.get("dtype"), body.get("data")
    shape = [] if scalar else body.get("shape")
    if dtype not in ALLOWED_DTYPES or type(data) is not list or type(shape) is not list:
        raise PlainDataError(f"bad array (dtype {dtype!r})")
    if not all(type(n) is int and 0 <= n for n in shape) or len(shape) > 32:
        raise PlainDataError(f"bad shape {shape!r}")
    size = math.prod(shape)
    budget[0] -= size
    if size != len(data) or budget[0] < 0:
        raise PlainDataError(f"{len(data)} values for shape {tuple(shape)}")
    values = []
    for item in data:
        if type(item) is dict and list(item) == ["__float__"] and item["__float__"] in ("nan", "inf", "-inf"):
            item = float(item["__float__"])
        if type(item) not in (int, float, bool):
            raise PlainDataError(f"an array value is a {type(item).__name__}")
        values.append(item)
    try:
        return np.array(values, dtype=np.dtype(dtype)).reshape(shape)
    except (OverflowError, ValueError) as error:
        raise PlainDataError(f"values do not fit {dtype}: {error}") from None
