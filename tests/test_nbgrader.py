"""The graded exercises survive nbgrader's round trip: generate, submit, autograde, feedback, export.

Everything runs on a copy of the course (``nbgrader_config.py`` and
``solutions/``) in a temporary folder, through nbgrader's command line as an
instructor runs it from the repository root; the repository is never written
to. One ``autograde`` run grades several made-up students at once:

==================  ============================================================  =======
student             submission                                                    score
==================  ============================================================  =======
``solution``        the source notebook itself                                    10 / 10
``untouched``       the student version as released                                0 / 10
``partial``         correct ``sigmoid`` and ``binary_cross_entropy``, a            4 / 10
                    ``bce_gradients`` returning ``dw`` as a row ``(1, n_x)``
``naive_sigmoid``   every answer right, ``sigmoid`` written ``1 / (1 + exp(-z))``  10 / 10
                    (a RuntimeWarning for ``z = -1e4``, but the right value)
``reference``       every answer right, but ``perceptron_update`` imported from     6 / 10
                    ``nnbook`` and ``binary_cross_entropy`` a wrapper around the
                    package's: no point for those two
``broken_sigmoid``  every answer right but ``sigmoid``, a syntax error: only        8 / 10
                    sigmoid's two points are lost
``summed_cost``     every answer right but ``binary_cross_entropy``, a sum where    8 / 10
                    the cost is a mean: ``bce_gradients`` keeps its points
``in_place``        every answer right but ``sigmoid``, which changes its           8 / 10
                    argument ``z`` in place: the tests say so
==================  ============================================================  =======

and a second run grades ``naive_sigmoid`` again with nbgrader's IgnorePattern
switched off, to show that the warning is really there and costs the two
sigmoid points without the pattern.
"""

import csv
import re
from pathlib import Path

import nbformat
import pytest
from nbgrader_course import (
    assert_ran_cleanly,
    ASSIGNMENTS,
    ROOT,
    autograded,
    cell_scores,
    cells_by_id,
    errors,
    make_course,
    nbgrader,
    nbgrader_id,
    regenerate_command,
    secret_lines,
    submission,
    submit,
    written_answer,
)

pytestmark = pytest.mark.nbgrader

NOTEBOOK = "perceptron_logistic.ipynb"  # the notebook of ex01
FUNCTIONS = ("perceptron_update", "sigmoid", "binary_cross_entropy", "bce_gradients", "gradient_descent_step")
GRADE_CELLS = [f"test_{name}{suffix}" for name in FUNCTIONS for suffix in ("", "_hidden")]
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN", "### BEGIN")

NAIVE_SIGMOID = '''
def sigmoid(z):
    return 1 / (1 + np.exp(-z))
'''

ROW_GRADIENT = '''
def bce_gradients(X, y, a):
    dz = (a - y) / X.shape[0]
    return dz[None, :] @ X, float(np.sum(dz))  # dw as a row (1, n_x), not the 1-D (n_x,)
'''

BROKEN_SIGMOID = '''
def sigmoid(z):
    return 1 / (1 + np.exp(-z)  # a parenthesis is missing: the cell does not run
'''

SUMMED_COST = '''
def binary_cross_entropy(a, y):
    return float(-np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)))  # a sum, not the mean
'''

IN_PLACE_SIGMOID = '''
def sigmoid(z):
    z *= -1  # changes the caller's array
    np.exp(z, out=z)
    return 1 / (1 + z)
'''

REFERENCE_PERCEPTRON = '''
from nnbook.perceptron import perceptron_update  # the package's answer, not the student's
'''

WRAPPED_REFERENCE_BCE = '''
import nnbook.losses

def binary_cross_entropy(a, y):
    J, _ = nnbook.losses.binary_cross_entropy(a, y)
    return J
'''


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course in which `nbgrader generate_assignment` has run for every assignment."""
    return make_course(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="module")
def graded(course):
    """The course after autograding, feedback and export of the students of the module docstring."""
    source = nbformat.read(course / "solutions" / "ex01" / NOTEBOOK, as_version=4)
    release = nbformat.read(course / "exercises" / "ex01" / NOTEBOOK, as_version=4)
    answers = {name: written_answer(cells_by_id(source)[name].source) for name in FUNCTIONS}

    submit(course, "ex01", "solution", NOTEBOOK, source)
    submit(course, "ex01", "untouched", NOTEBOOK, release)
    partial = {"sigmoid": answers["sigmoid"], "binary_cross_entropy": answers["binary_cross_entropy"]}
    submit(course, "ex01", "partial", NOTEBOOK, submission(release, {**partial, "bce_gradients": ROW_GRADIENT}))
    naive = submission(release, {**answers, "sigmoid": NAIVE_SIGMOID})
    submit(course, "ex01", "naive_sigmoid", NOTEBOOK, naive)
    borrowed = {"perceptron_update": REFERENCE_PERCEPTRON, "binary_cross_entropy": WRAPPED_REFERENCE_BCE}
    submit(course, "ex01", "reference", NOTEBOOK, submission(release, {**answers, **borrowed}))
    for student, wrong in [("broken_sigmoid", {"sigmoid": BROKEN_SIGMOID}), ("summed_cost", {"binary_cross_entropy": SUMMED_COST}),
                           ("in_place", {"sigmoid": IN_PLACE_SIGMOID})]:
        submit(course, "ex01", student, NOTEBOOK, submission(release, {**answers, **wrong}))
    nbgrader(course, "autograde", "ex01")

    submit(course, "ex01", "naive_unfiltered", NOTEBOOK, naive)
    nbgrader(course, "autograde", "ex01", "--student=naive_unfiltered", "--IgnorePattern.enabled=False")

    nbgrader(course, "generate_feedback", "ex01")
    nbgrader(course, "export", "--to=grades.csv")
    students = ["solution", "untouched", "partial", "naive_sigmoid", "naive_unfiltered", "reference", "broken_sigmoid",
                "summed_cost", "in_place"]
    return course, cell_scores(course, "ex01", students)


# ---- the release folder is nbgrader's output, and holds no secret ------------------------------------------------


def first_difference(expected, actual):
    """Where two notebooks first differ, in words."""
    if expected.metadata != actual.metadata:
        return "the notebook metadata"
    if len(expected.cells) != len(actual.cells):
        return f"the number of cells ({len(actual.cells)} committed, {len(expected.cells)} generated)"
    for index, (want, got) in enumerate(zip(expected.cells, actual.cells)):
        if want != got:
            fields = sorted(key for key in set(want) | set(got) if want.get(key) != got.get(key))
            return f"cell {index} (id {want.get('id')!r}): {', '.join(fields)}"
    return None


def test_exercises_are_what_nbgrader_generates_from_solutions(course):
    for assignment in ASSIGNMENTS:
        generated_folder, committed_folder = course / "exercises" / assignment, ROOT / "exercises" / assignment
        how = (
            f"exercises/{assignment} is not what nbgrader generates from solutions/{assignment}: regenerate it from "
            f"the repository root with `{regenerate_command(assignment)}` and commit exercises/{assignment}."
        )
        generated = sorted(path.relative_to(generated_folder) for path in generated_folder.rglob("*") if path.is_file())
        committed = sorted(path.relative_to(committed_folder) for path in committed_folder.rglob("*") if path.is_file())
        assert committed == generated, f"{how} Files generated: {generated}; committed: {committed}."
        for name in generated:
            if name.suffix == ".ipynb":
                want = nbformat.read(generated_folder / name, as_version=4)
                got = nbformat.read(committed_folder / name, as_version=4)
                assert got == want, f"{how} {name} differs first in {first_difference(want, got)}."
            else:
                same = (committed_folder / name).read_bytes() == (generated_folder / name).read_bytes()
                assert same, f"{how} {name} differs."


def released_text(path):
    """Everything a student can read in a released file: its raw text and, for a notebook, the cell sources."""
    text = path.read_text(errors="replace")
    if path.suffix == ".ipynb":
        text += "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
    return text


def test_no_solution_or_hidden_test_reaches_the_exercises():
    released = {path: released_text(path) for path in (ROOT / "exercises").rglob("*") if path.is_file()}
    assert released, f"exercises/ is empty: run `{regenerate_command('<assignment>')}` for every assignment"
    for assignment in ASSIGNMENTS:
        for source_path in (ROOT / "solutions" / assignment).glob("*.ipynb"):
            source = nbformat.read(source_path, as_version=4)
            secrets = secret_lines(source)
            for cell in source.cells:  # every solution and hidden test has at least one line of its own
                if "BEGIN SOLUTION" in cell.source or "BEGIN HIDDEN TESTS" in cell.source:
                    assert any(line.strip() in secrets for line in cell.source.splitlines()), nbgrader_id(cell)
            for path, text in released.items():
                for marker in MARKERS:
                    assert marker not in text, f"{path.relative_to(ROOT)} contains the nbgrader marker {marker!r}"
                leaked = sorted(line for line in secrets if line in text)
                assert not leaked, f"{path.relative_to(ROOT)} contains solution or hidden-test code: {leaked[:5]}"


def test_the_notebooks_are_committed_without_outputs():
    for path in [*(ROOT / "solutions").rglob("*.ipynb"), *(ROOT / "exercises").rglob("*.ipynb")]:
        for cell in nbformat.read(path, as_version=4).cells:
            assert not cell.get("outputs") and not cell.get("execution_count"), f"{path.relative_to(ROOT)} has outputs"


def test_every_stub_names_its_task():
    release = nbformat.read(ROOT / "exercises" / "ex01" / NOTEBOOK, as_version=4)
    cells = cells_by_id(release)
    for name in FUNCTIONS:
        assert f'raise NotImplementedError("ex01: {name}")' in cells[name].source
        assert cells[name].source.count("\n") == 3, f"the stub of {name} is more than its def, docstring and raise"


# ---- the configuration ---------------------------------------------------------------------------------------------


def test_configuration():
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert Path(config.CourseDirectory.root) == ROOT
    assert config.CourseDirectory.source_directory == "solutions"
    assert config.CourseDirectory.release_directory == "exercises"
    assert 0 < config.Execute.timeout <= 120
    assert config.IgnorePattern.enabled is True
    pattern = config.IgnorePattern.pattern
    warnings = [
        "/tmp/ipykernel_7039/319625.py:2: RuntimeWarning: overflow encountered in exp\n  return 1 / (1 + np.exp(-z))\n",
        "<ipython-input-3-aa>:4: RuntimeWarning: divide by zero encountered in log\n  J = -np.mean(np.log(a))\n",
        "C:\\Users\\me\\x.py:12: DeprecationWarning: old\n  f()\n",
    ]
    for text in warnings:
        assert re.search(pattern, text), text
    for text in ["AssertionError: dw: expected shape (3,)\n", "RuntimeWarning is a class\n", "some text on stderr\n"]:
        assert not re.search(pattern, text), text


# ---- autograde ----------------------------------------------------------------------------------------------------


def test_the_solution_gets_full_marks(graded):
    course, scores = graded
    assert scores["solution"] == dict.fromkeys(GRADE_CELLS, 1.0)
    assert_ran_cleanly(autograded(course, "ex01", "solution", NOTEBOOK))


def test_the_untouched_student_version_gets_zero_and_fails_only_with_not_implemented(graded):
    course, scores = graded
    assert scores["untouched"] == dict.fromkeys(GRADE_CELLS, 0.0)
    failed = [(nbgrader_id(cell), error) for cell in autograded(course, "ex01", "untouched", NOTEBOOK).cells for error in errors(cell)]
    assert failed, "the untouched notebook raised nothing"
    for grade_id, error in failed:
        assert error.ename == "NotImplementedError" and error.evalue.startswith("ex01: "), (grade_id, error.evalue)


def test_a_partly_correct_submission_gets_exactly_its_points(graded):
    course, scores = graded
    right = {"test_sigmoid", "test_sigmoid_hidden", "test_binary_cross_entropy", "test_binary_cross_entropy_hidden"}
    assert scores["partial"] == {cell: float(cell in right) for cell in GRADE_CELLS}
    cells = cells_by_id(autograded(course, "ex01", "partial", NOTEBOOK))
    (error,) = errors(cells["test_bce_gradients"])
    assert error.ename == "AssertionError"
    assert error.evalue == (
        "dw: expected shape (2,), got shape (1, 2). The values are right but arranged as (1, 2) instead of (2,): "
        "a row (1, n) or a column (n, 1) is not the 1-D array (n,). Use .reshape((2,)) or .ravel(), "
        "or avoid keepdims=True and [:, None]."
    )
    (error,) = errors(cells["test_gradient_descent_step"])
    assert error.ename == "NotImplementedError" and error.evalue == "ex01: gradient_descent_step"


def test_a_runtime_warning_from_a_correct_sigmoid_costs_nothing(graded):
    course, scores = graded
    assert scores["naive_sigmoid"] == dict.fromkeys(GRADE_CELLS, 1.0)
    # the same notebook graded without the IgnorePattern: the warning is there, and nbgrader would give 0
    sigmoid_cells = {"test_sigmoid", "test_sigmoid_hidden"}
    assert scores["naive_unfiltered"] == {cell: float(cell not in sigmoid_cells) for cell in GRADE_CELLS}
    cells = cells_by_id(autograded(course, "ex01", "naive_unfiltered", NOTEBOOK))
    stderr = "".join(output.text for output in cells["test_sigmoid"].outputs if output.get("name") == "stderr")
    assert "RuntimeWarning: overflow encountered in exp" in stderr


def test_the_package_reference_in_place_of_an_answer_earns_nothing(graded):
    course, scores = graded
    borrowed = {"perceptron_update": "nnbook.perceptron.perceptron_update", "binary_cross_entropy": "nnbook.losses.binary_cross_entropy"}
    assert scores["reference"] == {cell: float(not any(name in cell for name in borrowed)) for cell in GRADE_CELLS}
    cells = cells_by_id(autograded(course, "ex01", "reference", NOTEBOOK))
    for name, reference in borrowed.items():
        for grade_id in (f"test_{name}", f"test_{name}_hidden"):
            (error,) = errors(cells[grade_id])
            assert error.ename == "AssertionError", grade_id
            assert error.evalue.startswith(f"{name} calls {reference}, the package's own implementation"), error.evalue


@pytest.mark.parametrize("student, function", [("broken_sigmoid", "sigmoid"), ("summed_cost", "binary_cross_entropy"),
                                               ("in_place", "sigmoid")])
def test_a_mistake_in_one_function_costs_only_its_points(graded, student, function):
    course, scores = graded
    assert scores[student] == {cell: float(function not in cell) for cell in GRADE_CELLS}


def test_a_function_that_changes_its_argument_is_told_which(graded):
    course, _ = graded
    cells = cells_by_id(autograded(course, "ex01", "in_place", NOTEBOOK))
    for grade_id in ("test_sigmoid", "test_sigmoid_hidden"):
        (error,) = errors(cells[grade_id])
        assert error.evalue.startswith("sigmoid changed its argument z in place"), error.evalue


def test_feedback_is_generated_for_every_student(graded):
    course, scores = graded
    for student, cells in scores.items():
        html = course / "feedback" / student / "ex01" / NOTEBOOK.replace(".ipynb", ".html")
        assert html.exists(), f"no feedback for {student}"
        total = sum(cells.values())
        assert f"perceptron_logistic (Score: {total:.1f} / 12.0)" in html.read_text(), student


def test_export_writes_the_scores_of_every_student(graded):
    course, scores = graded
    with open(course / "grades.csv", newline="") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file) if row["assignment"] == "ex01"}
    expected = {
        "solution": 10.0,
        "untouched": 0.0,
        "partial": 4.0,
        "naive_sigmoid": 10.0,
        "naive_unfiltered": 8.0,
        "reference": 6.0,
        "broken_sigmoid": 8.0,
        "summed_cost": 8.0,
        "in_place": 8.0,
    }
    assert {student: float(row["score"]) for student, row in rows.items()} == expected
    assert {float(row["max_score"]) for row in rows.values()} == {12.0}  # 10 automatic, 2 by hand
