"""ex02, computation graphs, survives nbgrader's round trip: generate, submit, autograde, feedback, export.

On a temporary copy of the course (see ``nbgrader_course.py``), one
``autograde`` run grades these made-up students:

=============  =====================================================================  =======
student        submission                                                             score
=============  =====================================================================  =======
``solution``   the source notebook itself                                             16 / 16
``untouched``  the student version as released                                         0 / 16
``partial``    right ``mul``, ``exp`` and ``log`` rules; ``add_backward`` that         6 / 16
               forgets to un-broadcast; ``backprop`` that overwrites gradients
               instead of adding them; the rest untouched
``borrower``   every answer right, but ``mul_backward`` computed with the package's   14 / 16
               engine ``nnbook.autodiff``
``wrapper``    every answer right, but ``add_backward`` a wrapper around the          14 / 16
               engine's ``nnbook.autodiff.unbroadcast``
=============  =====================================================================  =======

The hidden test of ``backprop`` grades it on random graphs and on the graphs of
composed expressions, whose gradients come from ``nnbook.autodiff``; it supplies the
local derivatives itself, so a wrong rule never costs the traversal its points.
"""

import csv

import nbformat
import pytest
from nbgrader_course import (
    ROOT,
    assert_ran_cleanly,
    autograded,
    cell_scores,
    cells_by_id,
    errors,
    grade_cells,
    make_course,
    nbgrader,
    submission,
    submit,
    written_answer,
)

pytestmark = pytest.mark.nbgrader

ASSIGNMENT, NOTEBOOK = "ex02", "computation_graphs.ipynb"
RULES = ("mul", "add", "matmul", "exp", "log", "sum", "sigmoid")
FUNCTIONS = (*(f"{rule}_backward" for rule in RULES), "backprop")
GRADE_CELLS = [f"test_{name}{suffix}" for name in FUNCTIONS for suffix in ("", "_hidden")]


def function_of(grade_cell):
    """The function a grade cell tests: ``test_mul_backward_hidden`` -> ``mul_backward``."""
    return grade_cell.removeprefix("test_").removesuffix("_hidden")


NO_UNBROADCAST = '''
def add_backward(dout, a_shape, b_shape):
    return dout, dout  # forgets that a broadcast input collects the gradient of every copy
'''

OVERWRITING_BACKPROP = '''
def backprop(n_nodes, edges, output):
    parents = [[] for _ in range(n_nodes)]
    for child, parent, local in edges:
        parents[child].append((parent, local))
    order, visited = [], set()

    def visit(node):
        if node not in visited:
            visited.add(node)
            for parent, _ in parents[node]:
                visit(parent)
            order.append(node)

    visit(output)
    grads = np.zeros(n_nodes)
    grads[output] = 1.0
    for node in reversed(order):
        for parent, local in parents[node]:
            grads[parent] = grads[node] * local  # overwrites what another use of the parent contributed
    return grads
'''

ENGINE_MUL = '''
from nnbook.autodiff import Tensor

def mul_backward(dout, a, b):
    ta, tb = Tensor(a), Tensor(b)
    (ta * tb * Tensor(dout)).sum().backward()
    return ta.grad, tb.grad
'''

WRAPPED_UNBROADCAST = '''
import nnbook.autodiff

def add_backward(dout, a_shape, b_shape):
    return nnbook.autodiff.unbroadcast(dout, a_shape), nnbook.autodiff.unbroadcast(dout, b_shape)
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("course"), [ASSIGNMENT])
    source = nbformat.read(course / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    release = nbformat.read(course / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4)
    answers = {name: written_answer(cells_by_id(source)[name].source) for name in FUNCTIONS}
    right = {name: answers[name] for name in ("mul_backward", "exp_backward", "log_backward")}
    wrong = {"add_backward": NO_UNBROADCAST, "backprop": OVERWRITING_BACKPROP}

    submit(course, ASSIGNMENT, "solution", NOTEBOOK, source)
    submit(course, ASSIGNMENT, "untouched", NOTEBOOK, release)
    submit(course, ASSIGNMENT, "partial", NOTEBOOK, submission(release, {**right, **wrong}))
    borrowed = {"borrower": {"mul_backward": ENGINE_MUL}, "wrapper": {"add_backward": WRAPPED_UNBROADCAST}}
    for student, answer in borrowed.items():
        submit(course, ASSIGNMENT, student, NOTEBOOK, submission(release, {**answers, **answer}))
    nbgrader(course, "autograde", ASSIGNMENT)
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    nbgrader(course, "export", "--to=grades.csv")
    return course, cell_scores(course, ASSIGNMENT, ["solution", "untouched", "partial", "borrower", "wrapper"])


def test_every_function_has_a_visible_and_a_hidden_test_worth_one_point():
    source = nbformat.read(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    assert grade_cells(source) == GRADE_CELLS
    assert all(cells_by_id(source)[cell].metadata.nbgrader["points"] == 1 for cell in GRADE_CELLS)


def test_every_stub_names_its_task():
    cells = cells_by_id(nbformat.read(ROOT / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4))
    for name in FUNCTIONS:
        assert f'raise NotImplementedError("ex02: {name}")' in cells[name].source
        assert cells[name].source.count("\n") == 3, f"the stub of {name} is more than its def, docstring and raise"


def test_the_solution_gets_full_marks(graded):
    course, scores = graded
    assert scores["solution"] == dict.fromkeys(GRADE_CELLS, 1.0)
    assert_ran_cleanly(autograded(course, ASSIGNMENT, "solution", NOTEBOOK))


def test_the_untouched_student_version_gets_zero_and_fails_only_with_not_implemented(graded):
    course, scores = graded
    assert scores["untouched"] == dict.fromkeys(GRADE_CELLS, 0.0)
    cells = cells_by_id(autograded(course, ASSIGNMENT, "untouched", NOTEBOOK))
    for grade_id in GRADE_CELLS:
        (error,) = errors(cells[grade_id])
        assert error.ename == "NotImplementedError" and error.evalue == f"ex02: {function_of(grade_id)}", error.evalue


def test_a_partly_correct_submission_gets_exactly_its_points(graded):
    course, scores = graded
    right = ("mul_backward", "exp_backward", "log_backward")
    assert scores["partial"] == {cell: float(function_of(cell) in right) for cell in GRADE_CELLS}
    cells = cells_by_id(autograded(course, ASSIGNMENT, "partial", NOTEBOOK))
    (error,) = errors(cells["test_add_backward"])
    assert error.evalue == (
        "db for b of shape (3,) added to (2, 3): expected shape (3,), got shape (2, 3). "
        "db is dout itself: b was broadcast along a new first axis, so sum dout over axis 0."
    )
    (error,) = errors(cells["test_add_backward_hidden"])
    assert error.evalue == (
        "db for a of shape (5, 2) plus b of shape (2,): expected shape (2,), got shape (5, 2). "
        "It is dout itself: sum dout over the axes that broadcasting added or stretched."
    )
    for grade_id in ("test_backprop", "test_backprop_hidden"):  # the hidden test: a composed expression
        (error,) = errors(cells[grade_id])
        assert error.evalue.startswith("grads for b = a + a, c = b * b: "), error.evalue
        assert error.evalue.endswith(
            "Likely mistake: a node used twice gets one contribution per use: add to grads[parent] (+=), "
            "do not overwrite it."
        ), error.evalue
    (error,) = errors(cells["test_sum_backward"])
    assert error.ename == "NotImplementedError" and error.evalue == "ex02: sum_backward"


@pytest.mark.parametrize(
    "student, function, reference",
    [("borrower", "mul_backward", "nnbook.autodiff."), ("wrapper", "add_backward", "nnbook.autodiff.unbroadcast,")],
)
def test_the_package_engine_in_place_of_a_rule_earns_nothing(graded, student, function, reference):
    course, scores = graded
    assert scores[student] == {cell: float(function_of(cell) != function) for cell in GRADE_CELLS}
    cells = cells_by_id(autograded(course, ASSIGNMENT, student, NOTEBOOK))
    for grade_id in (f"test_{function}", f"test_{function}_hidden"):
        (error,) = errors(cells[grade_id])
        assert error.ename == "AssertionError", grade_id
        assert error.evalue.startswith(f"{function} calls {reference}"), error.evalue


def test_feedback_and_export(graded):
    course, scores = graded
    totals = {student: sum(cells.values()) for student, cells in scores.items()}
    assert totals == {"solution": 16.0, "untouched": 0.0, "partial": 6.0, "borrower": 14.0, "wrapper": 14.0}
    for student, total in totals.items():
        html = course / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")
        assert f"computation_graphs (Score: {total:.1f} / 18.0)" in html.read_text(), student
    with open(course / "grades.csv", newline="") as file:
        rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(file) if row["assignment"] == ASSIGNMENT}
    assert rows == totals
