"""ex03, backprop by hand, survives nbgrader's round trip: generate, submit, autograde, feedback, export.

As in ``test_nbgrader.py`` (which also checks, for every assignment, that
``exercises/`` is what nbgrader generates and that no solution or hidden test
reaches it), everything runs on a copy of the course in a temporary folder.
The notebook has 20 test cells of one point each, a visible and a hidden test
per graded quantity; one ``autograde`` run grades these made-up students:

==============  ===================================================================  =======
student         submission                                                           score
==============  ===================================================================  =======
``solution``    the source notebook itself                                           20 / 20
``untouched``   the student version as released                                       0 / 20
``partial``     the one-hidden-layer network right but for ``dW1``, returned          10 / 20
                transposed; the deep network untouched
``mean_db``     every answer right but the biases' gradients, averaged over the       12 / 20
                batch where ``dZ`` already holds the ``1/m``
``reference``   every answer right, but ``one_hidden_backward`` built on               8 / 20
                ``nnbook.layers.linear_backward`` and ``deep_forward`` on
                ``nnbook.layers.linear_forward``: no point for those two functions
==============  ===================================================================  =======
"""

import ast
import csv

import nbformat
import pytest
from nbgrader_course import (
    assert_ran_cleanly,
    assert_untouched_fails_only_with_its_stubs,
    ROOT,
    autograded,
    cell_scores,
    cells_by_id,
    failures,
    grade_cells,
    make_course,
    nbgrader,
    submission,
    submit,
    written_answer,
)

pytestmark = pytest.mark.nbgrader

ASSIGNMENT = "ex03"
NOTEBOOK = "backprop_by_hand.ipynb"
FUNCTIONS = ("one_hidden_forward", "one_hidden_backward", "deep_forward", "deep_backward")
QUANTITIES = {  # the test cells of each function, each a visible test followed by its hidden test
    "one_hidden_forward": ["one_hidden_forward"],
    "one_hidden_backward": [f"one_hidden_{name}" for name in ("dW2", "db2", "dW1", "db1", "dX")],
    "deep_forward": ["deep_forward"],
    "deep_backward": ["deep_output_layer", "deep_hidden_layers", "deep_dX"],
}
CELLS_OF = {name: [f"test_{q}{suffix}" for q in quantities for suffix in ("", "_hidden")] for name, quantities in QUANTITIES.items()}
GRADE_CELLS = [cell for name in FUNCTIONS for cell in CELLS_OF[name]]
STUDENTS = ("solution", "untouched", "partial", "mean_db", "reference")


def scores_where(failing):
    """Every grade cell at 1 point except those of ``failing``, at 0."""
    return {cell: float(cell not in failing) for cell in GRADE_CELLS}


def replaced(source, old, new):
    assert old in source, f"{old!r} is not in the solution any more: update the test"
    return source.replace(old, new)


REFERENCE_BACKWARD = '''
from nnbook.layers import linear_backward  # the package's layer, not the student's own formulas

def one_hidden_backward(y, cache, params):
    dZ2 = (cache["A2"] - y[:, None]) / y.shape[0]
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
    dX, dW1, db1 = linear_backward(dA1 * (1 - cache["A1"] ** 2), cache["A0"], params["W1"])
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dX": dX}
'''

REFERENCE_DEEP_FORWARD = '''
from nnbook.layers import linear_forward

def deep_forward(X, params):
    L = len(params) // 2
    cache, A = {"A0": X}, X
    for l in range(1, L + 1):
        Z = cache[f"Z{l}"] = linear_forward(A, params[f"W{l}"], params[f"b{l}"])
        if l < L:
            A = cache[f"A{l}"] = np.maximum(Z, 0)
    return Z, cache
'''


@pytest.fixture(scope="module")
def source():
    return nbformat.read(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, source):
    """A copy of the course with ex03 generated, the students of the module docstring autograded, feedback, export."""
    course = make_course(tmp_path_factory.mktemp("course"), [ASSIGNMENT])
    release = nbformat.read(course / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4)
    answers = {name: written_answer(cells_by_id(source)[name].source) for name in FUNCTIONS}

    submit(course, ASSIGNMENT, "solution", NOTEBOOK, source)
    submit(course, ASSIGNMENT, "untouched", NOTEBOOK, release)
    transposed = replaced(answers["one_hidden_backward"], '"dW1": dZ1.T @ cache["A0"]', '"dW1": cache["A0"].T @ dZ1')
    partial = {"one_hidden_forward": answers["one_hidden_forward"], "one_hidden_backward": transposed}
    submit(course, ASSIGNMENT, "partial", NOTEBOOK, submission(release, partial))
    mean_db = {
        **answers,
        "one_hidden_backward": replaced(
            replaced(answers["one_hidden_backward"], '"db1": dZ1.sum(axis=0)', '"db1": dZ1.mean(axis=0)'),
            '"db2": dZ2.sum(axis=0)', '"db2": dZ2.mean(axis=0)',
        ),
        "deep_backward": replaced(answers["deep_backward"], "dZ.sum(axis=0)", "dZ.mean(axis=0)"),
    }
    submit(course, ASSIGNMENT, "mean_db", NOTEBOOK, submission(release, mean_db))
    borrowed = {"one_hidden_backward": REFERENCE_BACKWARD, "deep_forward": REFERENCE_DEEP_FORWARD}
    submit(course, ASSIGNMENT, "reference", NOTEBOOK, submission(release, {**answers, **borrowed}))

    nbgrader(course, "autograde", ASSIGNMENT)
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    nbgrader(course, "export", "--to=grades.csv")
    return course, cell_scores(course, ASSIGNMENT, STUDENTS)



# ---- the notebook itself -------------------------------------------------------------------------------------------


def test_the_grade_cells_and_their_points(source):
    assert grade_cells(source) == GRADE_CELLS
    points = [cells_by_id(source)[grade_id].metadata.nbgrader["points"] for grade_id in GRADE_CELLS]
    assert points == [1] * len(GRADE_CELLS)


def test_every_stub_names_its_task():
    release = cells_by_id(nbformat.read(ROOT / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4))
    for name in FUNCTIONS:
        (function,) = ast.parse(release[name].source).body
        docstring, stub = function.body
        assert function.name == name and isinstance(docstring.value, ast.Constant), name
        assert ast.unparse(stub) == f"raise NotImplementedError('{ASSIGNMENT}: {name}')", name


def calls_to(tree, names):
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "id", None) in names]


def test_every_test_cell_calls_the_graded_function_through_grading_call(source):
    """Every test cell calls a student's function only as `grading.call("<its name>", <it>, ...)`: under own_work
    (a borrowed reference earns nothing), with a check that it left its arguments unchanged; and a hidden test
    runs inside `grading.hidden(...)` (inputs from the grader's secret seed, no reference number in a message)."""
    for function, cells in CELLS_OF.items():
        for grade_id in cells:
            tree = ast.parse(cells_by_id(source)[grade_id].source)
            called = [call for call in ast.walk(tree) if isinstance(call, ast.Call) and ast.unparse(call.func) == "grading.call"]
            assert called and {(call.args[0].value, ast.unparse(call.args[1])) for call in called} == {(function, function)}, grade_id
            assert not calls_to(tree, FUNCTIONS), f"{grade_id} calls a student's function directly"
            hidden = [node for node in ast.walk(tree) if isinstance(node, ast.With)
                      and any(ast.unparse(item.context_expr.func) == "grading.hidden" for item in node.items)]
            assert bool(hidden) == grade_id.endswith("_hidden"), grade_id


# ---- autograde ----------------------------------------------------------------------------------------------------


def test_the_solution_gets_full_marks(graded):
    course, scores = graded
    assert scores["solution"] == dict.fromkeys(GRADE_CELLS, 1.0)
    assert_ran_cleanly(autograded(course, ASSIGNMENT, "solution", NOTEBOOK))


def test_the_untouched_student_version_gets_zero_and_fails_only_with_not_implemented(graded):
    course, scores = graded
    failed = assert_untouched_fails_only_with_its_stubs(course, ASSIGNMENT, NOTEBOOK, scores["untouched"], GRADE_CELLS)
    # every test of a backward pass runs the backward pass alone, on the reference's cache
    assert failed["test_one_hidden_dW1_hidden"][1] == "ex03: one_hidden_backward"
    assert failed["test_one_hidden_dW1"][1] == "ex03: one_hidden_backward"


def test_a_transposed_gradient_costs_exactly_its_own_cells(graded):
    course, scores = graded
    deep = [cell for name in ("deep_forward", "deep_backward") for cell in CELLS_OF[name]]
    assert scores["partial"] == scores_where({"test_one_hidden_dW1", "test_one_hidden_dW1_hidden", *deep})
    failed = failures(course, ASSIGNMENT, "partial", NOTEBOOK)
    assert failed["test_one_hidden_dW1"] == ("AssertionError", (
        "dW1: expected shape (2, 3), got shape (3, 2). It is the transpose of the expected array: check the order "
        "of the factors of a product (e.g. X.T @ dZ versus dZ.T @ X) or transpose the result."
    ))
    ename, evalue = failed["test_one_hidden_dW1_hidden"]
    assert ename == "AssertionError"
    assert evalue.startswith("dW1 for m = 1, n_x = 2, n_h = 3: expected shape (3, 2), got shape (2, 3). It is the transpose")
    assert failed["test_deep_dX"] == ("NotImplementedError", "ex03: deep_backward")
    assert failed["test_deep_dX_hidden"] == ("NotImplementedError", "ex03: deep_backward")


def test_a_mean_instead_of_a_sum_is_named_with_the_batch_size(graded):
    course, scores = graded
    wrong = {"one_hidden_db2", "one_hidden_db1", "deep_output_layer", "deep_hidden_layers"}
    assert scores["mean_db"] == scores_where({f"test_{q}{suffix}" for q in wrong for suffix in ("", "_hidden")})
    failed = failures(course, ASSIGNMENT, "mean_db", NOTEBOOK)
    ename, evalue = failed["test_one_hidden_db1_hidden"]
    assert ename == "AssertionError"
    # no number of the reference in a hidden test's message, and m = 1 cannot tell a mean from a sum
    assert evalue.startswith("db1 for m = 9, n_x = 5, n_h = 2: wrong values, the largest difference at index")
    assert evalue.endswith(
        "Likely mistake: It is m = 9 times too small, m being the batch size: you divided by m once too often."
    )
    ename, evalue = failed["test_deep_output_layer_hidden"]
    assert evalue.startswith("db3 (the output layer) for the widths (5, 7, 6, 3) and m = 8: wrong values"), evalue
    assert evalue.endswith("It is m = 8 times too small, m being the batch size: you divided by m once too often.")
    ename, evalue = failed["test_one_hidden_db2"]  # the visible test shows the numbers
    assert evalue.startswith("db2: relative error") and "It is m = 2 times too small" in evalue, evalue


def test_the_package_reference_in_place_of_an_answer_earns_nothing(graded):
    course, scores = graded
    borrowed = {
        "one_hidden_backward": "nnbook.layers.linear_backward",
        "deep_forward": "nnbook.layers.linear_forward",
    }
    assert scores["reference"] == scores_where({cell for name in borrowed for cell in CELLS_OF[name]})
    failed = failures(course, ASSIGNMENT, "reference", NOTEBOOK)
    for name, reference in borrowed.items():
        for grade_id in CELLS_OF[name]:
            ename, evalue = failed[grade_id]
            assert ename == "AssertionError", grade_id
            assert evalue.startswith(f"{name} calls {reference}, the package's own implementation"), evalue


def test_feedback_is_generated_for_every_student(graded):
    course, scores = graded
    for student, cells in scores.items():
        html = course / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")
        assert html.exists(), f"no feedback for {student}"
        text = html.read_text()
        assert f"backprop_by_hand (Score: {sum(cells.values()):.1f} / 22.0)" in text, student
    partial = (course / "feedback" / "partial" / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")).read_text()
    assert "It is the transpose of the expected array" in partial  # the student reads why dW1 failed


def test_export_writes_the_scores_of_every_student(graded):
    course, _ = graded
    with open(course / "grades.csv", newline="") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file)}
    expected = {"solution": 20.0, "untouched": 0.0, "partial": 10.0, "mean_db": 12.0, "reference": 8.0}
    assert {student: float(row["score"]) for student, row in rows.items()} == expected
    assert {row["assignment"] for row in rows.values()} == {ASSIGNMENT}
    assert {float(row["max_score"]) for row in rows.values()} == {22.0}  # 20 automatic, 2 by hand
