"""Tests of nnbook/grading.py: what a student reads when a graded check fails.

Every message is asserted word for word where it matters: it is the only
feedback a student gets from a hidden test.
"""

import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings
from strategies import binary_problems

from nnbook import grading
from nnbook.linear_models import logistic_gradients


def failure(check, *args, **kwargs):
    """The message of the AssertionError that ``check(*args, **kwargs)`` must raise."""
    with pytest.raises(AssertionError) as error:
        check(*args, **kwargs)
    return str(error.value)


# ---- tolerances ---------------------------------------------------------------------------------------------------


def test_tolerances_are_defined_in_one_place():
    assert grading.TOLERANCES == {"value": 1e-10, "gradient": 1e-12, "numerical": 1e-6}
    assert grading.tolerance("gradient") == 1e-12
    with pytest.raises(ValueError, match=r"unknown kind 'grad'; choose one of \['gradient', 'numerical', 'value'\]"):
        grading.tolerance("grad")
    with pytest.raises(ValueError, match="unknown kind"):
        grading.check_array("dw", np.zeros(2), np.zeros(2), kind="loose")


def test_the_kind_selects_the_tolerance():
    expected = np.array([1.0, 2.0])
    close = expected * (1 + 5e-7)  # relative error 5e-7: as close as a numerical gradient gets, not a closed form
    grading.check_array("dw", close, expected, kind="numerical")
    message = failure(grading.check_array, "dw", close, expected, kind="gradient")
    assert message.startswith("dw: relative error 5e-07 exceeds 1e-12")


def test_the_tolerances_can_be_changed_in_one_place(monkeypatch):
    monkeypatch.setitem(grading.TOLERANCES, "value", 1e-3)
    grading.check_array("J", np.array([1.0005]), np.array([1.0]), kind="value")


# ---- random problems ----------------------------------------------------------------------------------------------


def test_random_problem_shapes_types_and_determinism():
    X, y, w, b = grading.random_problem(seed=3, m=4, n_x=7)
    assert X.shape == (4, 7) and y.shape == (4,) and w.shape == (7,)
    assert X.dtype == y.dtype == w.dtype == np.float64
    assert isinstance(b, float)
    assert set(np.unique(y)) <= {0.0, 1.0}
    again = grading.random_problem(seed=3, m=4, n_x=7)
    for first, second in zip((X, y, w, b), again):
        np.testing.assert_array_equal(first, second)
    assert not np.array_equal(X, grading.random_problem(seed=4, m=4, n_x=7)[0])


def test_random_problem_keeps_probabilities_away_from_0_and_1():
    X, y, w, b = grading.random_problem(seed=0, m=500, n_x=20)
    z = X @ w + b
    assert np.max(np.abs(z)) < 10  # no saturated sigmoid, no clipped log


def test_random_problem_with_a_single_example():
    X, y, w, b = grading.random_problem(seed=1, m=1, n_x=3)
    assert X.shape == (1, 3) and y.shape == (1,)


# ---- unpack -------------------------------------------------------------------------------------------------------


def test_unpack_accepts_a_tuple_or_a_list_of_the_right_length():
    dw, db = grading.unpack("bce_gradients", (np.zeros(2), 0.5), ("dw", "db"))
    assert db == 0.5
    assert grading.unpack("f", [1, 2], ("a", "b")) == (1, 2)


@pytest.mark.parametrize(
    "result, got",
    [
        (None, "None (no return statement?)"),
        ((1.0, 2.0, 3.0), "a tuple of 3 values"),
        ([1.0], "a list of 1 values"),
        (np.zeros(2), "a single ndarray"),
        (0.5, "a single float"),
    ],
)
def test_unpack_explains_a_wrong_number_of_values(result, got):
    message = failure(grading.unpack, "bce_gradients", result, ("dw", "db"))
    assert message == f"bce_gradients must return 2 values, `return dw, db`; it returned {got}"


# ---- what is not an array -----------------------------------------------------------------------------------------


def test_a_list_is_converted():
    grading.check_array("dw", [1.0, 2.0], np.array([1.0, 2.0]))
    grading.check_array("dw", [[1, 2]], np.array([[1.0, 2.0]]))


def test_none_is_explained():
    message = failure(grading.check_array, "dw", None, np.zeros(3))
    assert message == "dw is None: the function returned nothing. Did you forget the `return` statement?"


def test_a_tuple_is_explained():
    message = failure(grading.check_array, "dw", (np.zeros(3), 0.0), np.zeros(3))
    assert message == (
        "dw is a tuple of 2 value(s), not an array: `return a, b` or a stray comma (`return a,`) makes a tuple. "
        "Return only the quantity asked for."
    )


@pytest.mark.parametrize("actual, kind", [("0.5", "str"), ({"w": 1}, "dict"), ({1.0}, "set")])
def test_a_string_dict_or_set_is_explained(actual, kind):
    message = failure(grading.check_array, "dw", actual, np.zeros(1))
    assert message.startswith(f"dw must be a number or a numpy array, got a {kind}: ")


def test_something_numpy_cannot_convert_is_explained():
    message = failure(grading.check_array, "dw", [[1.0, 2.0], [3.0]], np.zeros(2))
    assert message.startswith("dw must be a numpy array of numbers, got a list that numpy cannot convert (")
    message = failure(grading.check_array, "dw", np.array([np.zeros(2), 1.0], dtype=object), np.zeros(2))
    assert message.startswith("dw must be a numpy array of numbers, got a ndarray that numpy cannot convert (")


# ---- shapes -------------------------------------------------------------------------------------------------------


def test_a_right_answer_passes_and_returns_nothing():
    # nbgrader reads a number left as a cell's last value as a partial grade: a check must return None
    assert grading.check_array("dw", np.array([1.0, -2.0]), np.array([1.0, -2.0])) is None
    assert grading.check_scalar("db", 0.25, 0.25) is None


def test_a_wrong_shape_without_a_recognizable_cause():
    message = failure(grading.check_array, "dw", np.zeros(4), np.zeros(3))
    assert message == "dw: expected shape (3,), got shape (4,)."


def test_a_transposed_matrix_is_recognized():
    expected = np.arange(6.0).reshape(2, 3)
    message = failure(grading.check_array, "dW", expected.T, expected)
    assert message == (
        "dW: expected shape (2, 3), got shape (3, 2). It is the transpose of the expected array: check the order "
        "of the factors of a product (e.g. X.T @ dZ versus dZ.T @ X) or transpose the result."
    )


@pytest.mark.parametrize("shape", [(3, 1), (1, 3)])
def test_a_column_or_a_row_instead_of_a_vector_is_recognized(shape):
    expected = np.array([1.0, 2.0, 3.0])
    message = failure(grading.check_array, "dw", expected.reshape(shape), expected)
    assert message == (
        f"dw: expected shape (3,), got shape {shape}. The values are right but arranged as {shape} instead of (3,): "
        "a row (1, n) or a column (n, 1) is not the 1-D array (n,). Use .reshape((3,)) or .ravel(), "
        "or avoid keepdims=True and [:, None]."
    )


def test_a_wrong_shape_with_wrong_values_gets_no_hint():
    message = failure(grading.check_array, "dw", np.array([[1.0, 2.0, 4.0]]), np.array([1.0, 2.0, 3.0]))
    assert message == "dw: expected shape (3,), got shape (1, 3)."


def test_per_example_terms_that_should_be_summed():
    terms = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    message = failure(grading.check_array, "dw", terms, terms.sum(axis=0), batch_size=3)
    assert message == (
        "dw: expected shape (2,), got shape (3, 2). It holds one term per example: sum them over the batch axis "
        "(axis 0). The 1/m of the mean is already in each term."
    )


def test_per_example_terms_that_should_be_averaged():
    terms = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
    message = failure(grading.check_array, "dw", terms, terms.mean(axis=0), batch_size=3)
    assert message.endswith("It holds one term per example: average them over the batch axis (axis 0).")


def test_an_extra_batch_axis_with_wrong_values():
    message = failure(grading.check_array, "dw", np.ones((3, 2)), np.zeros(2), batch_size=3)
    assert message == (
        "dw: expected shape (2,), got shape (3, 2). It has one extra leading axis, one entry per example: "
        "did you forget to reduce over the batch axis (axis 0)?"
    )


def test_an_extra_axis_that_is_not_the_batch_gets_no_hint():
    terms = np.ones((4, 2))
    message = failure(grading.check_array, "dw", terms, terms.sum(axis=0), batch_size=3)
    assert message == "dw: expected shape (2,), got shape (4, 2)."
    message = failure(grading.check_array, "dw", np.ones((3, 2)), np.zeros(2))
    assert message == "dw: expected shape (2,), got shape (3, 2)."


# ---- non-finite values --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad, shown", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_nan_and_inf_are_located_and_explained(bad, shown):
    actual = np.array([[0.5, 0.5], [bad, 0.5]])
    message = failure(grading.check_array, "sigmoid(z)", actual, np.full((2, 2), 0.5), kind="value")
    assert message == (
        f"sigmoid(z): contains 1 NaN or inf value(s), the first at index (1, 0) (got {shown}, expected 0.5). "
        "An exp that overflows, a log of 0 or a division by 0 gives them: use a numerically stable formula."
    )


def test_a_known_mistake_that_divides_by_zero_is_named_by_its_nan():
    # Adam's bias correction with the exponent t - 1 at the first step: m / (1 - beta1**0) = m / 0
    w, m = np.array([1.0, -2.0, 0.5]), np.array([0.1, 0.0, -0.3])
    with np.errstate(all="ignore"):
        divided_by_zero = w - 0.1 * (m / 0.0) / (np.abs(m / 0.0) + 1e-8)  # nan where m != 0, and 0 / 0 = nan
    assert np.isnan(divided_by_zero).all()
    mistakes = {"t counts from 1: 1 - beta1**0 is 0.": divided_by_zero, "the step is missing.": w}
    message = failure(grading.check_array, "w_new", divided_by_zero, w - 0.1 * np.sign(m), kind="value",
                      mistakes=mistakes)
    assert message.endswith("use a numerically stable formula. Likely mistake: t counts from 1: 1 - beta1**0 is 0.")
    # a NaN elsewhere, or other finite values, is not that mistake
    other = divided_by_zero.copy()
    other[1] = 0.0
    message = failure(grading.check_array, "w_new", other, w - 0.1 * np.sign(m), kind="value", mistakes=mistakes)
    assert "Likely mistake" not in message
    partly = np.array([np.nan, -2.0, 0.5])
    mistakes = {"one nan.": np.array([np.nan, -2.0, 0.5 + 1e-13]), "another nan.": np.array([np.nan, -2.0, 0.7]),
                "an inf.": np.array([np.inf, -2.0, 0.5])}
    message = failure(grading.check_array, "w_new", partly, w, kind="value", mistakes=mistakes)
    assert message.endswith("Likely mistake: one nan.")
    with grading.hidden("w_new"):  # the hint, and still no number
        message = failure(grading.check_array, "w_new", partly, w, kind="value", mistakes=mistakes)
    assert message == ("w_new: contains 1 NaN or inf value(s), the first at index (0,). An exp that overflows, a log "
                       "of 0 or a division by 0 gives them: use a numerically stable formula. Likely mistake: one nan.")


# ---- wrong values -------------------------------------------------------------------------------------------------


def test_a_wrong_value_reports_the_largest_error_and_where():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    actual = expected.copy()
    actual[1, 0] = 3.5
    message = failure(grading.check_array, "dW", actual, expected)
    assert message == (
        "dW: relative error 0.125 exceeds 1e-12; largest difference at index (1, 0): got 3.5, expected 3"
    )


def test_a_transposed_square_matrix_is_recognized():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    message = failure(grading.check_array, "dW", expected.T, expected)
    assert message.startswith("dW: relative error 0.25 exceeds 1e-12; largest difference at index (0, 1)")
    assert message.endswith(
        ". Likely mistake: It is the transpose of the expected array: check the order of the factors of a product."
    )


def test_a_wrong_sign_is_recognized():
    expected = np.array([0.5, -1.5])
    message = failure(grading.check_array, "dw", -expected, expected)
    assert message == (
        "dw: relative error 2 exceeds 1e-12; largest difference at index (1,): got 1.5, expected -1.5. "
        "Likely mistake: It has the wrong sign: its opposite would be right (a − y versus y − a? + versus −?)."
    )


def test_a_sum_instead_of_a_mean_is_recognized():
    expected = np.array([0.5, -1.5])
    message = failure(grading.check_array, "dw", 4 * expected, expected, batch_size=4)
    assert message.endswith(
        "Likely mistake: It is m = 4 times too large, m being the batch size: you summed over the examples "
        "where J is a mean (divide by m)."
    )


def test_a_mean_taken_twice_is_recognized():
    expected = np.array([0.5, -1.5])
    message = failure(grading.check_array, "dw", expected / 4, expected, batch_size=4)
    assert message.endswith(
        "Likely mistake: It is m = 4 times too small, m being the batch size: you divided by m once too often."
    )


def test_no_batch_hint_without_a_batch_size_or_with_a_single_example():
    expected = np.array([0.5, -1.5])
    for batch_size in (None, 1):
        message = failure(grading.check_array, "dw", 4 * expected, expected, batch_size=batch_size)
        assert "Likely mistake" not in message


def test_an_unrecognized_wrong_value_gets_no_hint():
    message = failure(grading.check_array, "dw", np.array([0.1, 0.2]), np.array([0.5, -1.5]), batch_size=4)
    assert message == "dw: relative error 1.13 exceeds 1e-12; largest difference at index (1,): got 0.2, expected -1.5"


def test_a_known_mistake_is_named_by_its_description():
    w, dw = np.array([1.0, -2.0]), np.array([0.5, 1.0])
    mistakes = {"you moved along the gradient.": w + 0.1 * dw, "the learning rate is missing.": w - dw}
    message = failure(grading.check_array, "the new w", w + 0.1 * dw, w - 0.1 * dw, kind="value", mistakes=mistakes)
    assert message.endswith(". Likely mistake: you moved along the gradient.")
    message = failure(grading.check_array, "the new w", w - dw, w - 0.1 * dw, kind="value", mistakes=mistakes)
    assert message.endswith(". Likely mistake: the learning rate is missing.")


def test_a_known_mistake_of_another_shape_is_named_too():
    message = failure(grading.check_array, "w", np.zeros(2), np.ones(3), mistakes={"w was not updated.": np.zeros(2)})
    assert message == "w: expected shape (3,), got shape (2,). w was not updated."


def test_a_known_mistake_takes_precedence_over_the_generic_hints():
    expected = np.array([1.0, 2.0])
    message = failure(grading.check_array, "w", -expected, expected, mistakes={"you stepped uphill.": -expected})
    assert message.endswith("Likely mistake: you stepped uphill.")
    assert "wrong sign" not in message


@settings(max_examples=30, deadline=None)
@given(binary_problems())
def test_the_gradient_mistakes_of_logistic_regression_are_recognized(problem):
    X, y, w, b = problem
    m = X.shape[0]
    _, dw, db = logistic_gradients(X, y, w, b)
    assume(np.max(np.abs(dw)) > 1e-6 and abs(db) > 1e-6)
    grading.check_array("dw", dw.copy(), dw, batch_size=m)
    grading.check_scalar("db", db, db, batch_size=m, kind="gradient")
    assert "wrong sign" in failure(grading.check_array, "dw", -dw, dw, batch_size=m)
    assert "wrong sign" in failure(grading.check_scalar, "db", -db, db, batch_size=m)
    if m > 1:
        assert "times too large" in failure(grading.check_array, "dw", m * dw, dw, batch_size=m)
        assert "times too small" in failure(grading.check_scalar, "db", db / m, db, batch_size=m, kind="gradient")
    assert "1-D array" in failure(grading.check_array, "dw", dw[None, :], dw, batch_size=m)


# ---- scalars ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("actual", [0.25, np.float64(0.25), np.array(0.25), np.float32(0.25), 1 / 4])
def test_a_number_in_any_form_is_accepted(actual):
    grading.check_scalar("J", actual, 0.25)


def test_a_scalar_tuple_is_explained():
    message = failure(grading.check_scalar, "J", (0.25, np.zeros(3)), 0.25)
    assert message == (
        "J: expected a single number, got a tuple of 2 value(s). If you wrote `return a, b` (a cost and its "
        "gradient, say), return only the number asked for."
    )


def test_a_scalar_none_is_explained():
    assert failure(grading.check_scalar, "J", None, 0.25).startswith("J is None")


def test_a_one_element_array_instead_of_a_number():
    message = failure(grading.check_scalar, "db", np.array([0.25]), 0.25)
    assert message == (
        "db: expected a single number (shape ()), got shape (1,). "
        "The value is right but it is an array, not a number: use float(...) or .item()."
    )


def test_one_value_per_example_instead_of_a_number():
    per_example = np.array([0.1, 0.2, 0.3])
    message = failure(grading.check_scalar, "J", per_example, 0.6, batch_size=3)
    assert message.startswith("J: expected a single number (shape ()), got shape (3,). It holds one term per example")
    message = failure(grading.check_scalar, "J", per_example, 0.2, batch_size=3)
    assert message.endswith("average them over the batch axis (axis 0).")


def test_a_wrong_scalar():
    message = failure(grading.check_scalar, "J", 0.5, 0.25)
    assert message == "J: relative error 0.5 exceeds 1e-10; largest difference at index (): got 0.5, expected 0.25"
    message = failure(grading.check_scalar, "J", 3 * 0.25, 0.25, batch_size=3)
    assert message.endswith("you summed over the examples where J is a mean (divide by m).")
    message = failure(grading.check_scalar, "J", -0.25, 0.25)
    assert "It has the wrong sign" in message


def test_a_scalar_nan():
    message = failure(grading.check_scalar, "J", float("nan"), 0.25)
    assert message.startswith("J: contains 1 NaN or inf value(s), the first at index () (got nan, expected 0.25).")


# ---- inputs changed in place --------------------------------------------------------------------------------------


def test_an_argument_changed_in_place_is_named_in_words_a_student_can_follow():
    def perceptron_update(w, x, y, lr=1.0):
        w += lr * y * x
        return w

    assert grading.call("perceptron_update", lambda w: w + 1.0, np.array([1.0, 2.0])).tolist() == [2.0, 3.0]
    message = failure(grading.call, "perceptron_update", perceptron_update, np.array([1.0, 2.0]), np.ones(2), 1)
    assert message == (
        "perceptron_update changed its argument w in place (as `w += ...` or `w[...] = ...` do): the caller's value "
        "changed too. Leave the inputs as they were: compute a new array instead, e.g. `new = w + ...`, and return it."
    )


# ---- call: a function judged alone, its inputs unchanged -------------------------------------------------------------


def test_call_returns_what_the_function_returns_and_leaves_the_inputs_alone():
    w, cache = np.array([1.0, 2.0]), {"A1": np.ones((2, 2))}
    assert grading.call("f", lambda w, cache: w + cache["A1"][0], w, cache).tolist() == [2.0, 3.0]


@pytest.mark.parametrize("function, where", [
    (lambda w, cache: w.__iadd__(1.0), "w"),
    (lambda w, cache: cache["A1"].__setitem__((0, 1), 5.0), "cache['A1']"),
    (lambda w, cache: cache.pop("A1"), "cache"),
    (lambda w, cache: w.sort(), "w"),
])
def test_call_names_the_argument_changed_in_place(function, where):
    w, cache = np.array([2.0, 1.0]), {"A1": np.ones((2, 2))}
    message = failure(grading.call, "backward", function, w, cache)
    assert message.startswith(f"backward changed its argument {where} in place"), message


def test_call_changed_lists_and_keyword_arguments_are_named():
    def sort_edges(n_nodes, edges):
        edges.sort()
        return edges

    message = failure(grading.call, "backprop", sort_edges, 3, [(1, 0, 2.0), (0, 2, 1.0)])
    assert message.startswith("backprop changed its argument edges in place"), message
    message = failure(grading.call, "f", lambda x=None: x.fill(0.0), x=np.ones(2))
    assert message.startswith("f changed its argument x in place"), message


def test_call_refuses_the_package_reference():
    from nnbook.activations import sigmoid

    assert failure(grading.call, "sigmoid", sigmoid, np.zeros(2)).startswith(
        "sigmoid calls nnbook.activations.sigmoid, the package's own implementation")


# ---- hidden tests: secret seeds, no reference number in a message -------------------------------------------------


def test_hidden_inputs_depend_on_the_function_and_the_graders_secret(monkeypatch):
    monkeypatch.setattr(grading, "_hidden_seed", 0)
    first = grading.hidden_rng("sigmoid").standard_normal(3)
    assert np.array_equal(first, grading.hidden_rng("sigmoid").standard_normal(3))  # reproducible for a seed
    assert not np.array_equal(first, grading.hidden_rng("bce_gradients").standard_normal(3))
    grading.set_hidden_seed(123_456_789)
    assert not np.array_equal(first, grading.hidden_rng("sigmoid").standard_normal(3))
    with grading.hidden("sigmoid") as rng:
        assert np.array_equal(rng.standard_normal(3), grading.hidden_rng("sigmoid").standard_normal(3))


@pytest.mark.parametrize("actual", [
    np.array([0.7, -1.3, 2.9]),  # unrelated values
    np.array([-0.5, 1.25, -3.0]),  # the wrong sign
    np.array([2.5, -6.25, 15.0]),  # five times too large
    np.array([0.5, np.nan, 3.0]),  # NaN
])
def test_inside_a_hidden_test_no_number_of_the_reference_reaches_the_message(actual):
    expected = np.array([0.5, -1.25, 3.0])
    with grading.hidden("dw"):
        message = failure(grading.check_array, "dw for m = 5", actual, expected, batch_size=5)
    assert message.startswith("dw for m = 5: ")
    for number in ("0.5", "1.25", "3", "0.7", "1.3", "2.9", "2.5", "6.25", "15", "relative error"):
        assert number not in message.split(": ", 1)[1].replace("m = 5", "").replace("(1,)", "").replace("(0,)", ""), message
    outside = failure(grading.check_array, "dw for m = 5", actual, expected, batch_size=5)
    assert "expected" in outside  # outside a hidden test the numbers are shown


def test_a_hidden_message_still_names_the_mistake():
    with grading.hidden("dw"):
        message = failure(grading.check_array, "dw", -np.array([0.5, -1.25]), np.array([0.5, -1.25]))
    assert message == ("dw: wrong values, the largest difference at index (1,). Likely mistake: It has the wrong sign: "
                       "its opposite would be right (a − y versus y − a? + versus −?).")


# ---- broadcasting ---------------------------------------------------------------------------------------------------


def test_a_broadcast_column_against_a_row_is_named():
    message = failure(grading.check_array, "dw", np.zeros((3, 5)), np.zeros(3), batch_size=5)
    assert message.startswith("dw: expected shape (3,), got shape (3, 5). An array of shape (3, 1) combined with one "
                              "of shape (5,) broadcasts to (3, 5)"), message


def test_an_m_by_m_array_is_named_as_a_column_minus_a_row():
    message = failure(grading.check_array, "dZ2", np.zeros((4, 4)), np.zeros((4, 1)), batch_size=4)
    assert "an (m, 1) array combined with an (m,) one broadcasts to (m, m), as `A2 - y` does" in message, message


def test_huge_values_give_a_message_and_no_warning():
    # pytest turns a RuntimeWarning raised in nnbook into an error (pyproject.toml): the guesses must not overflow
    message = failure(grading.check_array, "dw", np.array([1e308, -1e308]), np.array([1.0, 2.0]), batch_size=10)
    assert message.startswith("dw: relative error 1 exceeds 1e-12")


# ---- own_work: the reference implementation earns nothing -------------------------------------------------------


def test_own_work_accepts_plain_numpy_code():
    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    with grading.own_work("sigmoid"):
        value = sigmoid(np.zeros(3))
    np.testing.assert_array_equal(value, [0.5, 0.5, 0.5])


def test_own_work_refuses_the_reference_imported_or_wrapped():
    from nnbook.activations import sigmoid as imported

    def wrapper(z):
        import nnbook.activations

        return 1.0 * nnbook.activations.sigmoid(z)

    for student_sigmoid in (imported, wrapper):
        with pytest.raises(AssertionError, match=r"sigmoid calls nnbook\.activations\.sigmoid, the package's own"):
            with grading.own_work("sigmoid"):
                student_sigmoid(np.zeros(3))


def test_own_work_allows_the_helpers_and_what_it_is_told_to_allow():
    from nnbook.gradcheck import numerical_gradient
    from nnbook.losses import mse

    with grading.own_work("f"):
        x = np.ones(2)
        numerical_gradient(lambda: float(np.sum(x**2)), x)
    with grading.own_work("f", allowed=(*grading.HELPER_MODULES, "nnbook.losses")):
        mse(np.zeros(2), np.ones(2))
    with pytest.raises(AssertionError, match=r"f calls nnbook\.losses\."):
        with grading.own_work("f"):
            mse(np.zeros(2), np.ones(2))


def test_own_work_restores_the_previous_profiler_even_on_error():
    assert sys.getprofile() is None
    with pytest.raises(ZeroDivisionError):
        with grading.own_work("f"):
            1 / 0
    assert sys.getprofile() is None


# ---- raises: a function that must refuse its input ------------------------------------------------------------------


def _refuse(x):
    if len(x) < 2:
        raise ValueError("expected more than one value per feature in training mode")
    return x


class _ReportedError(Exception):
    """What the sandboxed grader raises for an exception of the student's: only its name (``kind``) and message."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def test_raises_passes_when_the_function_raises_the_error_with_its_reason():
    with grading.raises("f", ValueError, "for one example", mentioning="More than one"):
        grading.call("f", _refuse, [1.0])


def test_raises_accepts_the_sandboxed_graders_report_of_the_error_by_name():
    with grading.raises("f", ValueError, "for one example", mentioning="more than one"):
        raise _ReportedError("ValueError", "expected more than one value (at line 3 of your f: `raise ...`)")
    with pytest.raises(AssertionError, match=r"^f raised TypeError \(bad\) for one example: it should raise ValueError"):
        with grading.raises("f", ValueError, "for one example"):
            raise _ReportedError("TypeError", "bad")


def test_raises_fails_when_the_function_returns():
    with pytest.raises(AssertionError, match=r"^f returned for one example, where it should raise ValueError"):
        with grading.raises("f", ValueError, "for one example"):
            grading.call("f", lambda x: x, [1.0])


def test_raises_fails_for_another_exception_and_names_it():
    def wrong(x):
        if len(x) < 2:
            raise AssertionError("batch too small")

    with pytest.raises(AssertionError, match=r"^f raised AssertionError \(batch too small\) for one example: it should "
                                             r"raise ValueError"):
        with grading.raises("f", ValueError, "for one example"):
            grading.call("f", wrong, [1.0])


def test_raises_fails_when_the_message_does_not_say_why():
    def terse(x):
        raise ValueError("no")

    with pytest.raises(AssertionError, match=r"its message does not say why: it should mention 'more than one'; it "
                                             r"says 'no'"):
        with grading.raises("f", ValueError, "for one example", mentioning="more than one"):
            grading.call("f", terse, [1.0])
    with grading.raises("f", ValueError, "for one example"):  # without `mentioning`, any message will do
        grading.call("f", terse, [1.0])


def test_raises_lets_a_stub_and_the_graders_own_exceptions_through():
    def stub(x):
        raise NotImplementedError("ex05: f")

    with pytest.raises(NotImplementedError, match="ex05: f"):
        with grading.raises("f", ValueError, "for one example"):
            grading.call("f", stub, [1.0])
    from nnbook.autograder.trusted_execute import NotRun

    with pytest.raises(NotRun):
        with grading.raises("f", ValueError, "for one example"):
            raise NotRun("the kernel died")
