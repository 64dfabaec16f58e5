"""Plain data: the only form in which values cross between the grader and a student's sandboxed kernel.

When the trusted autograder (:mod:`nnbook.autograder.autograde`) calls a student's
function, its arguments go into the sandbox and its result comes back as JSON
text, never as a pickle: numbers, strings, ``None``, booleans, numpy arrays of
booleans, integers or floats (as ``{"__ndarray__": {"dtype", "shape",
"data"}}``, the data being the array's bytes, little-endian, in base64), and
tuples, lists and string-keyed dicts of those.

:func:`encode` runs on both sides. Anything else (an ``ndarray`` subclass, an
object or complex array, a function) is encoded as a description only, and
:func:`decode` turns that description into a :class:`StudentObject` that numpy
refuses to convert, so a check of it fails with that description.

:func:`loads` is the grader's side, and it trusts nothing: the JSON text is
written by code the student controls. It accepts only the shapes above, builds
a fresh ``numpy.ndarray`` (never a subclass) of an allowed dtype whose bytes
match its shape, and keeps the grader's memory within a small multiple of the
text's size: before the text is even parsed, it refuses one with more than
``MAX_VALUES`` values outside arrays (each would be a Python object, 20 to 70
times the bytes of its text), and while decoding, more than ``MAX_ELEMENTS``
array elements in all or a nesting deeper than ``MAX_DEPTH``. An array costs
about three times its size while it is decoded, then its size.
"""

import base64
import binascii
import json
import math

import numpy as np

#: The dtypes an array may have when it crosses: real numbers and booleans.
ALLOWED_DTYPES = frozenset(
    ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64"]
)
#: Deepest nesting of lists, tuples and dicts.
MAX_DEPTH = 16
#: Elements of all the arrays of one value together.
MAX_ELEMENTS = 20_000_000
#: Values outside arrays in one text: numbers, strings, lists, tuples, dicts and their items.
MAX_VALUES = 100_000


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
        return {"__ndarray__": {"dtype": value.dtype.name, "shape": list(value.shape), "data": _bytes(value)}}
    if isinstance(value, np.generic) and kind.__module__ == "numpy" and np.dtype(kind).name in ALLOWED_DTYPES:
        return {"__scalar__": {"dtype": np.dtype(kind).name, "data": _bytes(np.asarray(value))}}
    if kind in (tuple, list):
        items = [encode(item, depth + 1) for item in value]
        return {"__tuple__": items} if kind is tuple else items
    if kind is dict and all(type(key) is str for key in value):
        return {"__dict__": {key: encode(item, depth + 1) for key, item in value.items()}}
    return {"__unsupported__": _describe(value)}


def _bytes(array):
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return base64.b64encode(little.tobytes()).decode("ascii")


def dumps(value):
    """``value`` as JSON text (see :func:`encode`)."""
    return json.dumps(encode(value), allow_nan=False)


class PlainDataError(ValueError):
    """The text is not plain data as :func:`encode` writes it, or it is too big to decode."""


def loads(text):
    """The value that :func:`dumps` wrote, rebuilt from untrusted ``text``; raises :class:`PlainDataError`."""
    if not isinstance(text, str):
        raise PlainDataError(f"not text but {type(text).__name__}")
    # Every JSON value but the first follows one of these characters: an upper bound of the objects json.loads builds.
    values = text.count(",") + text.count("[") + text.count("{") + text.count(":") + 1
    if values > MAX_VALUES:
        raise PlainDataError(
            f"too big to grade: more than {MAX_VALUES:,} values outside numpy arrays (numbers, strings, lists, tuples, "
            "dicts and their items); return numpy arrays")
    try:
        tree = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise PlainDataError(f"not JSON: {str(error)[:200]}") from None
    return decode(tree)


def decode(tree):
    """The value of a JSON tree written by :func:`encode`; every array is a fresh, exact ``numpy.ndarray``."""
    return _decode(tree, 0, [MAX_ELEMENTS])


def _decode(tree, depth, budget):
    if depth > MAX_DEPTH:
        raise PlainDataError(f"nested more than {MAX_DEPTH} deep")
    if tree is None or type(tree) in (bool, str, int, float):
        return tree
    if type(tree) is list:
        return [_decode(item, depth + 1, budget) for item in tree]
    if type(tree) is not dict or len(tree) != 1:
        raise PlainDataError(f"unexpected {type(tree).__name__}")
    ((tag, body),) = tree.items()
    if tag == "__float__" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "__tuple__" and type(body) is list:
        return tuple(_decode(item, depth + 1, budget) for item in body)
    if tag == "__dict__" and type(body) is dict:
        return {str(key): _decode(item, depth + 1, budget) for key, item in body.items()}
    if tag == "__unsupported__":
        return StudentObject(body)
    if tag in ("__ndarray__", "__scalar__") and type(body) is dict:
        array = _decode_array(body, budget, scalar=tag == "__scalar__")
        return array[()] if tag == "__scalar__" else array
    raise PlainDataError(f"unknown tag {str(tag)[:40]!r}")


def _decode_array(body, budget, scalar):
    dtype, data = body.get("dtype"), body.get("data")
    shape = [] if scalar else body.get("shape")
    if dtype not in ALLOWED_DTYPES or type(data) is not str or type(shape) is not list:
        raise PlainDataError(f"bad array (dtype {str(dtype)[:40]!r})")
    if len(shape) > 32 or not all(type(n) is int and 0 <= n for n in shape):
        raise PlainDataError(f"bad shape {str(shape)[:80]}")
    size = math.prod(shape)
    budget[0] -= size
    if budget[0] < 0:
        raise PlainDataError(f"too big to grade: more than {MAX_ELEMENTS:,} array elements")
    itemsize = np.dtype(dtype).itemsize
    if len(data) != 4 * math.ceil(size * itemsize / 3):
        raise PlainDataError(f"the data of an array of shape {tuple(shape)} and dtype {dtype} has the wrong length")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise PlainDataError("the data of an array is not base64") from None
    if len(raw) != size * itemsize:
        raise PlainDataError(f"{len(raw)} bytes for an array of shape {tuple(shape)} and dtype {dtype}")
    if dtype == "bool":
        octets = np.frombuffer(raw, dtype=np.uint8)
        if octets.size and octets.max() > 1:
            raise PlainDataError("a boolean array holds a byte other than 0 and 1")
        return octets.astype(bool).reshape(shape)
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(np.dtype(dtype)).reshape(shape)
