"""``nnbook-autograde`` grades ex02, ex03, ex04, ex05 and ex06 as plain nbgrader does, sandboxed.

The adversarial corpora (``test_autograde_corpus.py``) attack every exercise
(ex01's also the kernel and the verdicts). Here ex02, ex03 and ex04 go through the
sandboxed command with honest and partly correct students, to show that their interfaces (dicts of arrays for ex03,
shapes, axes and graphs as plain data for ex02, tuples of arrays carried from step to step and keyword arguments for
ex04, caches with ``None`` in them and an exception that must be raised for ex05, images of four axes, caches that
are tuples of arrays and ints, and shapes given as ints for ex06) cross the plain-data bridge: each
student gets exactly the total of the nbgrader round trips (``test_nbgrader_ex03.py``, ``test_nbgrader_ex02.py``,
``test_nbgrader_ex04.py``, ``test_nbgrader_ex05.py``, ``test_nbgrader_ex06.py``), and no feedback shows hidden test
code.
"""

import csv
import subprocess
import sys

import nbformat
import pytest
import test_nbgrader_ex02 as ex02
import test_nbgrader_ex04 as ex04
import test_nbgrader_ex05 as ex05
import test_nbgrader_ex06 as ex06
from nbgrader_course import (
    cells_by_id,
    make_course,
    nbgrader_env,
    page_text,
    secret_lines,
    submission,
    submit,
    written_answer,
)
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


def round_trip_students(module):
    """The made-up students of an nbgrader round-trip module (``test_nbgrader_ex04.py``, …) as ``students`` hands them
    in, and ``{student: total}`` that they got there; the solution's answers are handed in as ``honest``."""
    extra = {student: (lambda answers, own=own: {**answers, **own}) for student, (own, _) in module.STUDENTS.items()}
    totals = {"honest": module.TOTALS["solution"], "untouched": 0.0,
              **{student: module.TOTALS[student] for student in module.STUDENTS}}
    return extra, totals


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


def test_ex04_is_graded_sandboxed_like_nbgrader(tmp_path):
    """The students of ``test_nbgrader_ex04.py``, the borrower of ``nnbook.optim`` included (its import fails in the
    sandbox, where plain nbgrader's ``own_work`` refuses the call: the same points lost)."""
    require_sandbox()
    course = make_course(tmp_path, [ex04.ASSIGNMENT])
    extra, expected = round_trip_students(ex04)
    source = students(course, ex04.ASSIGNMENT, ex04.NOTEBOOK, ex04.FUNCTIONS, extra)
    totals = grade(course, ex04.ASSIGNMENT)
    assert totals == expected
    assert_no_hidden_code_in_feedback(course, ex04.ASSIGNMENT, ex04.NOTEBOOK, source)
    for student, hint in [("t_from_zero", "the bias correction uses t - 1, as if t counted the steps already taken"),
                          ("stateless", "the running means ignore the m and v they were given")]:
        page = page_text((course / "feedback" / student / ex04.ASSIGNMENT / "optimizers.html").read_text())
        assert hint in page, student  # the diagnostics cross the bridge, the hidden tests' included


def test_ex05_is_graded_sandboxed_like_nbgrader(tmp_path):
    """The students of ``test_nbgrader_ex05.py``; a batch of one must be refused with a ValueError, which reaches the
    grader as the exception's name and message only, and students who refuse it otherwise are told so."""
    require_sandbox()
    course = make_course(tmp_path, [ex05.ASSIGNMENT])
    extra, expected = round_trip_students(ex05)
    extra.update({f"refusal_{name}": (lambda answers, statement=statement: {
        **answers, "batchnorm_forward": ex05.batchnorm_forward(refuse=statement)})
        for name, (statement, _) in ex05.REFUSALS.items()})
    source = students(course, ex05.ASSIGNMENT, ex05.NOTEBOOK, ex05.FUNCTIONS, extra)
    totals = grade(course, ex05.ASSIGNMENT)
    expected.update({f"refusal_{name}": 10.0 for name in ex05.REFUSALS})
    assert totals == expected
    assert_no_hidden_code_in_feedback(course, ex05.ASSIGNMENT, ex05.NOTEBOOK, source)
    pages = {student: page_text((course / "feedback" / student / ex05.ASSIGNMENT / "batchnorm_dropout.html").read_text())
             for student in ("eps_outside", "missing_paths", "refusal_no_refusal", "refusal_assertion", "refusal_terse")}
    assert "eps is outside the square root" in pages["eps_outside"]  # the diagnostics cross the bridge
    assert "dx misses the path through the variance" in pages["missing_paths"]  # the hidden tests' included
    for name, (_, message) in ex05.REFUSALS.items():
        # the start of the message: the sandboxed grader adds, to a student's exception, the line that raised it
        assert f"batchnorm_forward {message.split(' (')[0]}" in pages[f"refusal_{name}"], name


def test_ex06_is_graded_sandboxed_like_nbgrader(tmp_path):
    """The students of ``test_nbgrader_ex06.py``: six nested loops finish in time, each mistake costs its function's
    points only, the package's reference (whose import fails in the sandbox) earns nothing."""
    require_sandbox()
    course = make_course(tmp_path, [ex06.ASSIGNMENT])
    extra, expected = round_trip_students(ex06)
    source = students(course, ex06.ASSIGNMENT, ex06.NOTEBOOK, ex06.FUNCTIONS, extra)
    totals = grade(course, ex06.ASSIGNMENT)
    assert totals == expected
    assert_no_hidden_code_in_feedback(course, ex06.ASSIGNMENT, ex06.NOTEBOOK, source)
    for student, hint in [("flipped", "the kernel is flipped"), ("stride_forgotten", "the stride is forgotten in dW"),
                          ("padded_dx", "dx still holds the padding"), ("channels_first", "ordered by channel"),
                          ("reshape_only", "reshaped straight to (m, F, H', W')"),
                          ("max_everywhere", "dout reaches every pixel of the window"),
                          ("in_place", "avgpool_backward changed its argument dout in place")]:
        page = page_text((course / "feedback" / student / ex06.ASSIGNMENT / "conv_pool.html").read_text())
        assert hint in page, student  # the diagnostics cross the bridge, the hidden tests' included
