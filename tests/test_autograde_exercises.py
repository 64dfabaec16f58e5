"""``nnbook-autograde`` grades ex03 and ex02 as plain nbgrader does, sandboxed.

The adversarial corpora (``test_autograde_corpus.py``) attack every exercise
(ex01's also the kernel and the verdicts). Here ex02 and ex03 go through the
sandboxed command with honest and partly correct students, to show that their interfaces (dicts of arrays for ex03,
shapes, axes and graphs as plain data for ex02) cross the plain-data bridge:
each student gets exactly the total of the nbgrader round trips
(``test_nbgrader_ex03.py``, ``test_nbgrader_ex02.py``), and no feedback shows
hidden test code.
"""

import csv
import subprocess
import sys

import nbformat
import pytest
import test_nbgrader_ex02 as ex02
from nbgrader_course import cells_by_id, make_course, nbgrader_env, secret_lines, submission, submit, written_answer
from optional import require_sandbox

pytestmark = pytest.mark.autograde

EX03 = "ex03", "backprop_by_hand.ipynb", ("one_hidden_forward", "one_hidden_backward", "deep_forward", "deep_backward")


def grade(course, assignment):
    """Run nnbook-autograde on ``assignment``; return ``{student: total}`` from its CSV."""
    command = [sys.executable, "-m", "nnbook.autograder", assignment, "--course", str(course)]
    result = subprocess.run(command, env=nbgrader_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"nnbook-autograde failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    with open(course / f"grades_{assignment}.csv", newline="") as file:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(file)}


def students(course, assignment, notebook, functions, extra=None):
    """Hand in the honest (solution answers) and untouched students, plus ``extra`` {student: answers}."""
    source = nbformat.read(course / "solutions" / assignment / notebook, as_version=4)
    release = nbformat.read(course / "exercises" / assignment / notebook, as_version=4)
    answers = {name: written_answer(cells_by_id(source)[name].source) for name in functions}
    submit(course, assignment, "honest", notebook, submission(release, answers))
    submit(course, assignment, "untouched", notebook, release)
    for student, edits in (extra or {}).items():
        submit(course, assignment, student, notebook, submission(release, edits(answers)))
    return source


def assert_no_hidden_code_in_feedback(course, assignment, notebook, source):
    hidden = secret_lines(source, regions=("HIDDEN TESTS",))
    for html in (course / "feedback").rglob(f"{assignment}/*.html"):
        text = html.read_text()
        leaked = sorted(line for line in hidden if line in text)
        assert not leaked, f"{html.relative_to(course)} shows hidden test code: {leaked[:3]}"


def test_ex03_is_graded_sandboxed_like_nbgrader(tmp_path):
    require_sandbox()
    assignment, notebook, functions = EX03
    course = make_course(tmp_path, [assignment])
    source = students(course, assignment, notebook, functions)
    assert grade(course, assignment) == {"honest": 20.0, "untouched": 0.0}
    assert_no_hidden_code_in_feedback(course, assignment, notebook, source)


def test_ex02_is_graded_sandboxed_like_nbgrader(tmp_path):
    require_sandbox()
    course = make_course(tmp_path, [ex02.ASSIGNMENT])

    def partial(answers):
        right = {name: answers[name] for name in ("mul_backward", "exp_backward", "log_backward")}
        return {**right, "add_backward": ex02.NO_UNBROADCAST, "backprop": ex02.OVERWRITING_BACKPROP}

    extra = {"partial": partial, "borrower": lambda answers: {**answers, "mul_backward": ex02.ENGINE_MUL}}
    source = students(course, ex02.ASSIGNMENT, ex02.NOTEBOOK, ex02.FUNCTIONS, extra)
    totals = grade(course, ex02.ASSIGNMENT)
    assert totals == {"honest": 16.0, "untouched": 0.0, "partial": 6.0, "borrower": 14.0}
    assert_no_hidden_code_in_feedback(course, ex02.ASSIGNMENT, ex02.NOTEBOOK, source)
