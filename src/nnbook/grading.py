"""Grading helpers: the checks that the test cells of the graded exercises call.

A test cell calls a student's function through :func:`call`, which judges it
alone: its inputs come from the test (small readable values computed with the
package's reference in the visible tests, fresh random ones in the hidden tests),
never from the student's other answers, and a function that changes one of its
arguments in place fails, naming the argument. The test then compares what the
function returned with what it should return. When they differ, the message says
what to fix: which quantity, the expected and actual shapes, the largest error and
where, and the usual mistake when it recognizes one (a transpose, a wrong sign, a
sum instead of a mean, a broadcast of an ``(m,)`` array against an ``(m, 1)`` one,
NaN from an overflow).

A hidden test runs inside :func:`hidden`, which draws its inputs from a seed the
grader keeps secret and keeps the reference's numbers out of every message: it
says what is wrong and where, not what the right value is.

The tolerances live in one place, :data:`TOLERANCES`. Every comparison is in
float64 and goes through :func:`nnbook.gradcheck.relative_error`.
"""

import contextlib
import contextvars
import copy
import inspect
import sys
import zlib
from pathlib import Path

import numpy as np

from .gradcheck import assert_close, largest_difference, relative_error

#: The modules of ``nnbook`` that a student's code may call: the checks themselves, not answers.
HELPER_MODULES = ("nnbook.grading", "nnbook.gradcheck", "nnbook.validation")

#: Largest relative error (:func:`nnbook.gradcheck.relative_error`, the largest difference over the largest
#: entry) accepted for each kind of quantity:
#:
#: * ``"value"``, 1e-10: what a formula computes directly (a cost, an activation, a forward pass). Two correct
#:   formulas may differ by more than rounding here: ``log(1 − a)`` and ``log1p(−a)`` differ by about
#:   1e-10 relative for ``a`` near 1e-6.
#: * ``"gradient"``, 1e-12: a derivative compared with the reference's closed form. Two correct closed forms,
#:   computed in any order, agree to about 1e-15 on the exercises' inputs (a margin of 1000); central
#:   differences with the usual step ``h = 1e-5`` are off by 1e-11 to 1e-9 (median 7e-11 on ex03's networks),
#:   so a numerical gradient handed in as a backward pass fails, and its hidden tests' large inputs make one
#:   too slow to compute anyway (two forward passes per parameter).
#: * ``"numerical"``, 1e-6: a derivative compared with a numerical gradient (of an expression of the test's own,
#:   never of the student's code), which carries an ``O(h²)`` error of its own.
TOLERANCES = {"value": 1e-10, "gradient": 1e-12, "numerical": 1e-6}

#: Whether the checks keep the reference's numbers out of their messages (inside :func:`hidden`).
_concealed = contextvars.ContextVar("concealed", default=False)
#: The grader's secret, mixed into the seeds of the hidden tests' inputs (:func:`set_hidden_seed`).
_hidden_seed = 0


def tolerance(kind):
    """The tolerance of a kind of quantity, ``"value"`` or ``"gradient"``."""
    try:
        return TOLERANCES[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; choose one of {sorted(TOLERANCES)}") from None


def random_problem(seed, m, n_x):
    """A fresh logistic-regression problem ``(X, y, w, b)`` drawn from ``seed``.

    ``X : (m, n_x)`` standard normal, ``y : (m,)`` labels ``0.0``/``1.0``,
    ``w : (n_x,)`` with variance ``1/n_x`` (so ``z = X w + b`` stays of order 1
    and no probability is saturated), ``b`` a Python float. The same seed
    always gives the same problem.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n_x))
    y = rng.integers(0, 2, size=m).astype(np.float64)
    w = rng.standard_normal(n_x) / np.sqrt(n_x)
    b = float(rng.standard_normal())
    return X, y, w, b


def unpack(function_name, result, names):
    """Check that ``result`` holds one value per name (``return dw, db``) and return them as a tuple."""
    if isinstance(result, (tuple, list)) and len(result) == len(names):
        return tuple(result)
    if result is None:
        got = "None (no return statement?)"
    elif isinstance(result, (tuple, list)):
        got = f"a {type(result).__name__} of {len(result)} values"
    else:
        got = f"a single {type(result).__name__}"
    raise AssertionError(
        f"{function_name} must return {len(names)} values, `return {', '.join(names)}`; it returned {got}"
    )


def _as_array(name, actual):
    """``actual`` as a float64 array, or an ``AssertionError`` explaining why it cannot be one."""
    if actual is None:
        raise AssertionError(f"{name} is None: the function returned nothing. Did you forget the `return` statement?")
    if isinstance(actual, tuple):
        raise AssertionError(
            f"{name} is a tuple of {len(actual)} value(s), not an array: `return a, b` or a stray comma "
            "(`return a,`) makes a tuple. Return only the quantity asked for."
        )
    if isinstance(actual, (str, bytes, dict, set)):
        raise AssertionError(f"{name} must be a number or a numpy array, got a {type(actual).__name__}: {actual!r:.60}")
    try:
        return np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise AssertionError(
            f"{name} must be a numpy array of numbers, got a {type(actual).__name__} that numpy cannot "
            f"convert ({error})"
        ) from None


def _matches(candidate, expected, tol):
    candidate = np.asarray(candidate, dtype=np.float64)
    return (
        candidate.shape == expected.shape
        and bool(np.all(np.isfinite(candidate)))
        and relative_error(candidate, expected) <= tol
    )


def _describe_shape(shape):
    return "a single number (shape ())" if shape == () else f"shape {shape}"


def _shape_hint(actual, expected, tol, batch_size):
    """Name the mistake behind a shape mismatch, when the values show it."""
    if actual.ndim == 2 and actual.T.shape == expected.shape and _matches(actual.T, expected, tol):
        return (
            "It is the transpose of the expected array: check the order of the factors of a product "
            "(e.g. X.T @ dZ versus dZ.T @ X) or transpose the result."
        )
    if actual.size == expected.size and _matches(actual.reshape(expected.shape), expected, tol):
        if expected.shape == ():
            return "The value is right but it is an array, not a number: use float(...) or .item()."
        return (
            f"The values are right but arranged as {actual.shape} instead of {expected.shape}: a row (1, n) "
            f"or a column (n, 1) is not the 1-D array (n,). Use .reshape({expected.shape}) or .ravel(), "
            "or avoid keepdims=True and [:, None]."
        )
    per_example = actual.ndim == expected.ndim + 1 and actual.shape[1:] == expected.shape
    if per_example and (batch_size is None or actual.shape[0] == batch_size):
        if _matches(actual.sum(axis=0), expected, tol):
            return (
                "It holds one term per example: sum them over the batch axis (axis 0). "
                "The 1/m of the mean is already in each term."
            )
        if _matches(actual.mean(axis=0), expected, tol):
            return "It holds one term per example: average them over the batch axis (axis 0)."
        if batch_size is not None:
            return (
                "It has one extra leading axis, one entry per example: did you forget to reduce over the batch axis "
                "(axis 0)?"
            )
    return _broadcast_hint(actual.shape, expected.shape, batch_size)


def _broadcast_hint(actual_shape, expected_shape, batch_size):
    """Name the broadcast that turns arrays of the expected shapes into one of ``actual_shape``, when one does."""
    if len(actual_shape) != 2 or actual_shape == expected_shape or len(expected_shape) > 2:
        return None
    rows, columns = actual_shape
    if batch_size is not None and rows == columns == batch_size and expected_shape in ((batch_size, 1), (batch_size,)):
        return (
            f"It is ({batch_size}, {batch_size}), m by m: an (m, 1) array combined with an (m,) one broadcasts to "
            "(m, m), as `A2 - y` does with A2 : (m, 1) and y : (m,). Give both the same shape, e.g. y[:, None]."
        )
    pairs = {(rows,): columns, (rows, 1): columns}
    if expected_shape in pairs and 1 not in actual_shape:
        other = pairs[expected_shape]
        return (
            f"An array of shape {(rows, 1)} combined with one of shape {(columns,)} broadcasts to {actual_shape}: "
            f"one of the arrays on that line has an extra axis (from [:, None], keepdims=True or a column (n, 1)) "
            f"or lacks one, so numpy paired every entry with every other. Check each operand's shape "
            f"(print(a.shape)); the result should be {_describe_shape(expected_shape)}, and {other} is the length "
            "of the axis that should not be there."
        )
    return None


def _mistake_hints(actual, tol, mistakes):
    """The descriptions of the known wrong answers that ``actual`` matches.

    A wrong answer that holds NaN or inf (a division by 0) is matched by an
    ``actual`` with the same NaN and inf at the same places and the same finite values.
    """
    mistakes = mistakes or {}
    return [hint for hint, wrong in mistakes.items() if _same_answer(actual, np.asarray(wrong, dtype=np.float64), tol)]


def _same_answer(actual, wrong, tol):
    finite = np.isfinite(actual)
    if np.all(finite):
        return _matches(actual, wrong, tol)
    return (actual.shape == wrong.shape and np.array_equal(actual[~finite], wrong[~finite], equal_nan=True)
            and _matches(actual[finite], wrong[finite], tol))


def _value_hints(actual, expected, tol, batch_size):
    """Name the mistakes that explain a same-shape difference, when the values show it."""
    hints = []
    if actual.ndim == 2 and actual.shape[0] == actual.shape[1] and _matches(actual.T, expected, tol):
        hints.append("It is the transpose of the expected array: check the order of the factors of a product.")
    if _matches(-actual, expected, tol):
        hints.append("It has the wrong sign: its opposite would be right (a − y versus y − a? + versus −?).")
    if batch_size is not None and batch_size > 1:
        if _matches(actual / batch_size, expected, tol):
            hints.append(
                f"It is m = {batch_size} times too large, m being the batch size: you summed over the examples "
                "where J is a mean (divide by m)."
            )
        if _matches(actual * batch_size, expected, tol):
            hints.append(
                f"It is m = {batch_size} times too small, m being the batch size: you divided by m once too often."
            )
    return hints


def check_array(name, actual, expected, batch_size=None, kind="gradient", mistakes=None):
    """Assert that ``actual`` equals ``expected`` within ``TOLERANCES[kind]``.

    Parameters
    ----------
    name : what the student computed, as the message should call it (``"dw"``, ``"sigmoid(z)"``).
    actual : what the student's function returned; a list is converted, ``None``
        or a tuple is refused with an explanation.
    expected : the right answer, an array.
    batch_size : ``m``, when the quantity is a mean over ``m`` examples; lets the
        message recognize a sum taken instead of a mean (and the converse).
    kind : ``"value"``, ``"gradient"`` or ``"numerical"``, the key of :data:`TOLERANCES`.
    mistakes : optional dict ``description → wrong answer``: when ``actual``
        matches a wrong answer, the message quotes its description. A wrong
        answer may hold NaN or inf (a division by 0): ``actual`` matches it
        when it has them at the same places and the same other values.

    Raises
    ------
    AssertionError naming ``name``, the expected and actual shapes or the
    largest difference (index, got, expected), and the likely mistake if one of
    the known ones (transpose, reshape, per-example terms, wrong sign, off by
    the batch size, NaN or inf, one of ``mistakes``) explains the difference.

    Inside :func:`hidden` the message gives no number of the reference: no
    expected value, no value got, no relative error; only what and where.

    Returns ``None`` on purpose: nbgrader reads a number left as the value of
    a test cell's last line as a partial grade, so a check must not return one.
    """
    tol = tolerance(kind)
    concealed = _concealed.get()
    expected = np.asarray(expected, dtype=np.float64)
    actual = _as_array(name, actual)
    if actual.shape != expected.shape:
        message = f"{name}: expected {_describe_shape(expected.shape)}, got {_describe_shape(actual.shape)}."
        with np.errstate(all="ignore"):  # the guesses may overflow; the message must still come out
            hints = _mistake_hints(actual, tol, mistakes) or [_shape_hint(actual, expected, tol, batch_size)]
        raise AssertionError(" ".join([message, *filter(None, hints)]))
    finite = np.isfinite(actual)
    if not np.all(finite):
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        values = "" if concealed else f" (got {actual[first]}, expected {float(expected[first]):.6g})"
        message = (
            f"{name}: contains {int(np.sum(~finite))} NaN or inf value(s), the first at index {first}{values}. "
            "An exp that overflows, a log of 0 or a division by 0 gives them: use a numerically stable formula."
        )
        with np.errstate(all="ignore"):
            hints = _mistake_hints(actual, tol, mistakes)
        raise AssertionError(f"{message} Likely mistake: {' '.join(hints)}" if hints else message)
    if relative_error(actual, expected) <= tol:
        return
    with np.errstate(all="ignore"):
        hints = _mistake_hints(actual, tol, mistakes) or _value_hints(actual, expected, tol, batch_size)
    if concealed:
        index = largest_difference(actual, expected)[0]
        message = f"{name}: wrong values, the largest difference at index {index}"
    else:
        try:
            assert_close(actual, expected, name, tol)
        except AssertionError as error:
            message = str(error)
    raise AssertionError(f"{message}. Likely mistake: {' '.join(hints)}" if hints else message) from None


def check_scalar(name, actual, expected, batch_size=None, kind="value", mistakes=None):
    """Assert that ``actual`` is a single number equal to ``expected`` within ``TOLERANCES[kind]``.

    A Python or numpy float (or a 0-d array) is accepted. An array of one element
    or one value per example is refused with an explanation; so is a tuple, as
    when ``return J, dJ`` returns more than the cost. Other arguments as in
    :func:`check_array`.
    """
    if isinstance(actual, tuple):
        raise AssertionError(
            f"{name}: expected a single number, got a tuple of {len(actual)} value(s). "
            "If you wrote `return a, b` (a cost and its gradient, say), return only the number asked for."
        )
    check_array(name, actual, np.asarray(expected, dtype=np.float64), batch_size, kind, mistakes)


def in_place_message(function_name, where):
    """What a student reads when ``function_name`` changed its argument ``where`` (``w``, ``cache['A1']``) in place."""
    return (
        f"{function_name} changed its argument {where} in place (as `{where} += ...` or `{where}[...] = ...` do): "
        f"the caller's value changed too. Leave the inputs as they were: compute a new array instead, "
        f"e.g. `new = {where} + ...`, and return it."
    )


def changed_entry(before, after, where):
    """The first place (``where``, ``where['A1']``, ``where[2]``) where ``after`` differs from ``before``, or ``None``.

    ``before`` is a copy taken before the call: arrays are compared entry by
    entry (NaN equal to NaN), dicts key by key, lists and tuples item by item.
    """
    if isinstance(before, np.ndarray):
        after = np.asarray(after) if isinstance(after, (np.ndarray, list, tuple)) else after
        if not isinstance(after, np.ndarray) or after.shape != before.shape:
            return where
        try:
            same = np.array_equal(before, after, equal_nan=before.dtype.kind in "fc")
        except TypeError:
            same = np.array_equal(before, after)
        return None if same else where
    if isinstance(before, dict):
        if not isinstance(after, dict) or set(before) != set(after):
            return where
        for key in before:
            found = changed_entry(before[key], after[key], f"{where}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(before, (list, tuple)):
        if not isinstance(after, (list, tuple)) or len(before) != len(after):
            return where
        for index, (old, new) in enumerate(zip(before, after)):
            found = changed_entry(old, new, f"{where}[{index}]")
            if found:  # an item that cannot change in place (a number, a tuple) was replaced: the list changed
                return found if isinstance(old, (np.ndarray, dict, list)) else where
        return None
    if isinstance(before, (int, float, complex, str, bytes, type(None))) and not isinstance(before, bool):
        if isinstance(after, np.generic):
            after = after.item()
        same_number = before == after or (before != before and after != after)  # NaN equals NaN here
        return None if type(before) is type(after) and same_number else where
    return None


def parameter_names(function, count):
    """The names of the first ``count`` parameters of ``function`` (``argument 3`` where they cannot be known)."""
    try:
        names = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        names = []
    return [names[i] if i < len(names) else f"argument {i + 1}" for i in range(count)]


def call(function_name, function, *args, **kwargs):
    """Call the student's ``function(*args, **kwargs)`` as a test must: alone, and leaving its inputs unchanged.

    The call runs under :func:`own_work` (a call of the package's reference
    fails), on the arguments given, which the test builds from the reference,
    never from the student's other answers. Afterwards every argument must
    still equal a copy taken before the call; otherwise an ``AssertionError``
    names the argument (and the key or index) that the function changed in
    place. Returns what the function returned.
    """
    before_args, before_kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    with own_work(function_name):
        result = function(*args, **kwargs)
    names = parameter_names(function, len(args))
    for name, old, new in [*zip(names, before_args, args), *((k, before_kwargs[k], kwargs[k]) for k in kwargs)]:
        where = changed_entry(old, new, name)
        if where is not None:
            raise AssertionError(in_place_message(function_name, where))
    return result


def _raised_kind(error):
    """The name of the exception a student's function raised: its class's, or, in the sandboxed grader, the ``kind``
    the kernel reported (there the grader knows the student's exception only by its name and message)."""
    kind = getattr(error, "kind", None)
    return kind if isinstance(kind, str) else type(error).__name__


@contextlib.contextmanager
def raises(function_name, error, situation, mentioning=None):
    """The block, a :func:`call` of the student's ``function_name``, must raise ``error`` (a class, ``ValueError``).

    ``situation`` says when, for the messages ("for x of shape (1, 3), one example, in training mode");
    ``mentioning``, when given, is a phrase the exception's message must contain (case ignored), so that it says
    why. Passes when the function raises ``error`` (or, in the sandboxed grader, reports an exception of that
    name); fails with an ``AssertionError`` that says what happened when it returns, raises another exception, or
    raises ``error`` with a message without ``mentioning``. A stub's ``NotImplementedError`` and the grader's own
    exceptions go through unchanged.
    """
    expected = error.__name__
    try:
        yield
    except Exception as raised:  # noqa: BLE001 (whatever the student's function raised is judged here)
        kind, message = _raised_kind(raised), str(raised)
        grader_own = type(raised).__module__.startswith(__package__ + ".") and not hasattr(raised, "kind")
        if kind == "NotImplementedError" or grader_own:
            raise
        if not (isinstance(raised, error) or kind == expected):
            raise AssertionError(f"{function_name} raised {kind} ({message[:300]}) {situation}: it should raise "
                                 f"{expected}, as `raise {expected}(\"...\")`.") from None
        if mentioning and mentioning.lower() not in message.lower():
            raise AssertionError(f"{function_name} raised {expected} {situation}, as it should, but its message does "
                                 f"not say why: it should mention {mentioning!r}; it says {message[:300]!r}.") from None
        return
    raise AssertionError(f"{function_name} returned {situation}, where it should raise {expected}: "
                         f"`raise {expected}(\"...\")` before computing anything.")


def set_hidden_seed(seed):
    """Mix the grader's secret ``seed`` into the inputs of every hidden test run after this call."""
    global _hidden_seed
    _hidden_seed = int(seed) % 2**63


def hidden_rng(function_name):
    """The random generator of the hidden tests of ``function_name``: from the grader's secret seed and the name.

    Without a secret (plain nbgrader, a student's kernel) the seed is 0 and the
    inputs are the same at every run; ``nnbook-autograde`` draws a new secret
    for every grading run and records it for the instructor, so the inputs of a
    graded run cannot be reproduced from the repository.
    """
    return np.random.default_rng([_hidden_seed, zlib.crc32(function_name.encode())])


@contextlib.contextmanager
def hidden(function_name):
    """The block of a hidden test of ``function_name``; yields its random generator (:func:`hidden_rng`).

    Inside it the checks keep the reference's numbers out of their messages
    (no expected value, no value got, no relative error from which the
    reference could be solved for): a message says what is wrong (shape,
    sign, ×m, transposed, NaN, …) and where.
    """
    token = _concealed.set(True)
    try:
        yield hidden_rng(function_name)
    finally:
        _concealed.reset(token)


def _module_of(code, package_dir):
    """``"nnbook.<module>"`` if ``code`` was compiled from a file of the package, else ``None``."""
    path = Path(code.co_filename)
    if path.suffix != ".py" or package_dir not in path.parents:
        return None
    return ".".join(["nnbook", *path.relative_to(package_dir).with_suffix("").parts])


@contextlib.contextmanager
def own_work(function_name, allowed=HELPER_MODULES):
    """Fail the enclosed block if it calls a function of ``nnbook`` outside ``allowed``.

    The hidden tests run the student's function inside it::

        with grading.own_work("sigmoid"):
            actual = sigmoid(z)

    A submission that imports or calls the package's reference implementation
    (``from nnbook.activations import sigmoid``, or a wrapper around it) gets
    an ``AssertionError`` naming the reference it called, and no point.
    """
    package_dir = Path(__file__).resolve().parent
    called = []

    def watch(frame, event, arg):
        if event == "call":
            module = _module_of(frame.f_code, package_dir)
            if module is not None and module not in allowed:
                called.append(f"{module}.{frame.f_code.co_name}")

    previous = sys.getprofile()
    sys.setprofile(watch)
    try:
        yield
    finally:
        sys.setprofile(previous)
    if called:
        raise AssertionError(
            f"{function_name} calls {called[0]}, the package's own implementation. The exercise asks you to "
            f"write {function_name} yourself: a submission that uses the reference gets no points for it."
        )
