"""The class report of ``nnbook-autograde --report``: the scores, the pass rate of each function, the mistakes.

A synthetic class of ex03 is graded by the real sandboxed command: an honest student, the untouched notebook,
students with one known mistake each (a transposed dW1, gradients m times too large, the sign of deep_backward's
gradients, a sigmoid in the hidden layer), one whose function raises, one whose function never returns, one who
edited a locked test, a notebook under another name and a refused id. Student ids, file names and an exception's
message carry markup. The report must count exactly the students per function and per mistake, in its CSVs and
in its page, hold nothing live, and open offline in Chromium with its figures.
"""

import csv
import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from nbgrader_course import (
    assert_inert_html,
    cells_by_id,
    make_course,
    nbgrader_env,
    page_text,
    submission,
    written_answer,
)
from optional import require_sandbox

from nnbook import grading
from nnbook.autograder import report

ASSIGNMENT, NOTEBOOK = "ex03", "backprop_by_hand.ipynb"
FUNCTIONS = ("one_hidden_forward", "one_hidden_backward", "deep_forward", "deep_backward")
MARKUP_ID = "<img src=x onerror=alert(1)>"  # a valid id: no glob character, no slash, printable
REFUSED_ID = "<svg onload=alert(3)>*"  # a glob character: refused, never graded
RENAMED = "<img src=x onerror=alert(2)>.ipynb"
SCRIPT_MESSAGE = "<script>alert('raised')</script>"

SIGMOID_IN_HIDDEN = "you used a sigmoid in the hidden layer: its activation is tanh."


def edit(answers, function, old, new):
    assert old in answers[function], (function, old)
    return {**answers, function: answers[function].replace(old, new)}


def class_of(answers):
    """``{student: answers}`` of the class: each student's cells, built from the solution's."""
    return {
        "honest": answers,
        "transposed": edit(answers, "one_hidden_backward", '"dW1": dZ1.T @ cache["A0"]',
                           '"dW1": cache["A0"].T @ dZ1'),
        "summed": edit(answers, "one_hidden_backward", 'dZ2 = (cache["A2"] - y[:, None]) / m',
                       'dZ2 = cache["A2"] - y[:, None]'),
        "sign": edit(answers, "deep_backward", "dZ /= m", "dZ /= -m"),
        MARKUP_ID: edit(edit(answers, "deep_backward", "dZ /= m", "dZ /= -m"),
                        "one_hidden_forward", "A1 = np.tanh(Z1)", "A1 = 1 / (1 + np.exp(-Z1))"),
        "raiser": edit(answers, "deep_forward", "L = len(params) // 2\n",
                       f"raise ValueError({SCRIPT_MESSAGE!r})\n    L = len(params) // 2\n"),
        "looper": edit(answers, "one_hidden_forward", 'Z1 = X @ params["W1"].T',
                       'while True:\n        pass\n    Z1 = X @ params["W1"].T'),
        "tamperer": answers,
    }


#: ``{function: students who pass}`` of the 9 notebooks that run (honest, untouched, the seven above but renamed).
PASSED = {
    "one_hidden_forward": {"honest", "transposed", "summed", "sign", "raiser", "tamperer"},
    "one_hidden_backward": {"honest", "sign", MARKUP_ID, "raiser", "looper", "tamperer"},
    "deep_forward": {"honest", "transposed", "summed", "sign", MARKUP_ID, "looper", "tamperer"},
    "deep_backward": {"honest", "transposed", "summed", "raiser", "looper", "tamperer"},
}
#: ``{(function, mistake): students}``: every mistake the report must find, and nothing else.
MISTAKES = {
    ("one_hidden_forward", report.NOT_IMPLEMENTED): {"untouched"},
    ("one_hidden_forward", report.OUT_OF_TIME): {"looper"},
    ("one_hidden_forward", SIGMOID_IN_HIDDEN): {MARKUP_ID},
    ("one_hidden_forward", report.WRONG_VALUE): {MARKUP_ID},  # the hidden test names no mistake
    ("one_hidden_backward", report.NOT_IMPLEMENTED): {"untouched"},
    ("one_hidden_backward", "the transpose of the expected array"): {"transposed"},
    ("one_hidden_backward", "m times too large: a sum where the cost is a mean"): {"summed"},
    ("deep_forward", report.NOT_IMPLEMENTED): {"untouched"},
    ("deep_forward", "an exception: ValueError"): {"raiser"},
    ("deep_backward", report.NOT_IMPLEMENTED): {"untouched"},
    ("deep_backward", "the wrong sign (its opposite would be right)"): {"sign", MARKUP_ID},
}
TESTS = {"one_hidden_forward": 2, "one_hidden_backward": 10, "deep_forward": 2, "deep_backward": 6}  # 1 point each
RAN = {"honest", "untouched", "transposed", "summed", "sign", MARKUP_ID, "raiser", "looper", "tamperer"}


# -- the parser of the messages, against the messages of nnbook.grading ---------------------------------------------


def message_of(check, *args, **kwargs):
    with pytest.raises(AssertionError) as failure:
        check(*args, **kwargs)
    return str(failure.value)


def classes(message, kind="AssertionError"):
    return [label for label, _ in report.mistake_classes(kind, message)]


def test_each_built_in_diagnostic_of_grading_is_its_class():
    expected = np.arange(6.0).reshape(2, 3) + 1
    square = np.array([[1.0, 2.0], [3.0, 4.0]])
    cases = [
        (message_of(grading.check_array, "dW", expected.T, expected), ["the transpose of the expected array"]),
        (message_of(grading.check_array, "dW", -expected, expected), ["the wrong sign (its opposite would be right)"]),
        (message_of(grading.check_array, "dW", 4 * expected, expected, batch_size=4),
         ["m times too large: a sum where the cost is a mean"]),
        (message_of(grading.check_array, "dW", expected / 4, expected, batch_size=4),
         ["m times too small: divided by m once too often"]),
        (message_of(grading.check_array, "db", expected.reshape(1, 6), expected.ravel()),
         ["the right values arranged in another shape (a row or a column)"]),
        (message_of(grading.check_scalar, "J", np.array([2.0]), 2.0),
         ["the right value, as an array instead of a number"]),
        (message_of(grading.check_array, "dW", np.stack([expected / 2, expected / 2]), expected, batch_size=2),
         ["one term per example, not summed over the batch"]),
        (message_of(grading.check_array, "dZ2", np.ones((3, 3)), np.arange(3.0).reshape(3, 1), batch_size=3),
         ["(m, m): an (m, 1) array combined with an (m,) one"]),
        (message_of(grading.check_array, "dW", np.stack([expected, expected]), expected, batch_size=2),
         ["one term per example, not averaged over the batch"]),
        (message_of(grading.check_array, "dW", np.ones((2, 2, 3)), expected, batch_size=2),
         ["an extra leading axis, one entry per example"]),
        (message_of(grading.check_array, "z", np.ones((4, 5)), np.arange(4.0)),
         ["an array broadcast against another (an extra axis)"]),
        (message_of(grading.check_array, "dW", -square, -square.T), ["the transpose of the expected array"]),
        # an antisymmetric matrix: its transpose and its opposite are both right, two hints one after the other
        (message_of(grading.check_array, "dW", np.array([[0.0, 1.0], [-1.0, 0.0]]),
                    np.array([[0.0, -1.0], [1.0, 0.0]])),
         ["the transpose of the expected array", "the wrong sign (its opposite would be right)"]),
        (message_of(grading.check_array, "a", np.array([np.nan, 1.0]), np.array([0.5, 1.0])),
         ["NaN or inf (an overflow, a log of 0, a division by 0)"]),
        (message_of(grading.check_array, "a", np.array([1.0, 3.0]), np.array([1.0, 2.0])), [report.WRONG_VALUE]),
        (message_of(grading.check_array, "a", np.zeros(4), np.zeros(3)), [report.WRONG_SHAPE]),
        (message_of(grading.unpack, "f", 1.0, ("a", "b")), [report.NOT_RETURNED]),
        (grading.in_place_message("adam_step", "m"), [report.IN_PLACE]),
        ("sigmoid calls nnbook.activations.sigmoid, the package's own implementation. The exercise asks you to write "
         "sigmoid yourself: a submission that uses the reference gets no points for it.", [report.REFERENCE]),
        ("This test could not run: the notebook ran out of time (300 s) in cell 12.", None),
    ]
    for message, expected_classes in cases[:-1]:
        assert classes(message) == expected_classes, message
    assert classes(cases[-1][0], "NotRun") == [report.OUT_OF_TIME]
    assert classes("ex03: deep_forward (at line 4 of your deep_forward: `raise …`)", "NotImplementedError") == [
        report.NOT_IMPLEMENTED]
    timeout = "f did not return within 3 s: it ran out of time (an endless loop, or far more work than the task needs?)"
    assert classes(timeout, "TimeoutError") == [report.OUT_OF_TIME]
    assert classes("the kernel died (exit status 0) while running cell 8", "NotRun") == [report.KERNEL_DIED]
    assert classes("bad <b>input</b>", "ValueError") == ["an exception: ValueError"]
    # the kind unknown (no executed notebook): guessed from the message
    assert [label for label, _ in report.mistake_classes("", "ex03: deep_forward", "ex03")] == [report.NOT_IMPLEMENTED]


def test_a_hint_of_the_exercise_is_one_class_whatever_the_numbers():
    hint = "the learning rate is missing: the step is lr * dw."
    wrong = np.array([1.0, 2.0])
    first = message_of(grading.check_array, "the new w for n_x = 2", wrong, wrong / 2, mistakes={hint: wrong})
    with grading.hidden("f"):
        second = message_of(grading.check_array, "the new w for n_x = 17", 3 * wrong, wrong, mistakes={
            "the step was taken 3 times, with lr = 0.5: take it once.": 3 * wrong})
    assert classes(first) == [hint]
    assert classes(second) == ["the step was taken … times, with lr = …: take it once."]
    # numbers in names stay: dW2, A2, Z2
    assert report.normalized("dZ2 was multiplied by sigma'(Z2) = A2 (1 - A2) for m = 64") == (
        "dZ2 was multiplied by sigma'(Z2) = A2 (… - A2) for m = …")


# -- a class graded by the real command ----------------------------------------------------------------------------


def hand_in(course):
    source = nbformat.read(course / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    release = nbformat.read(course / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4)
    answers = {name: written_answer(cells_by_id(source)[name].source) for name in FUNCTIONS}
    handed_in = {student: submission(release, edits) for student, edits in class_of(answers).items()}
    cells_by_id(handed_in["tamperer"])["test_one_hidden_forward"].source = "pass  # my own test"
    handed_in["untouched"] = release
    handed_in["renamed"] = submission(release, answers)
    handed_in[REFUSED_ID] = submission(release, answers)
    for student, notebook in handed_in.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / (RENAMED if student == "renamed" else NOTEBOOK))


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The course, graded with ``--report`` (report in ``reports/``), and the command's output."""
    require_sandbox()
    course = make_course(tmp_path_factory.mktemp("report"), [ASSIGNMENT])
    hand_in(course)
    command = [sys.executable, "-m", "nnbook.autograder", ASSIGNMENT, "--course", str(course), "--report",
               "--report-dir", str(course / "reports"), "--cell-timeout", "3", "--timeout", "120", "--hidden-seed", "7"]
    result = subprocess.run(command, env=nbgrader_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"nnbook-autograde failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return course, result.stdout


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.autograde
def test_the_csvs_count_exactly_the_students_per_function_and_per_mistake(graded_class):
    course, output = graded_class
    folder = course / "reports"
    assert f"Report: {folder / 'report_ex03.html'}" in output
    functions = {row["function"]: row for row in read_csv(folder / "report_ex03_functions.csv")}
    assert list(functions) == list(FUNCTIONS)
    for name, passed in PASSED.items():
        row = functions[name]
        assert (int(row["students"]), int(row["passed"]), int(row["failed"])) == (len(RAN), len(passed),
                                                                                  len(RAN) - len(passed)), name
        assert float(row["pass_rate"]) == round(len(passed) / len(RAN), 4)
    assert {name: (int(row["tests"]), float(row["points"])) for name, row in functions.items()} == {
        name: (count, float(count)) for name, count in TESTS.items()}
    mistakes = {(row["function"], row["mistake"]): row for row in read_csv(folder / "report_ex03_mistakes.csv")}
    assert set(mistakes) == set(MISTAKES)
    for key, students in MISTAKES.items():
        row = mistakes[key]
        assert int(row["students"]) == len(students), key
        assert set(row["student_ids"].split("; ")) == students, key
        assert row["kind"] == ("generic" if key[1] in (report.NOT_IMPLEMENTED, report.OUT_OF_TIME, report.WRONG_VALUE,
                                                      "an exception: ValueError") else "diagnosed"), key
    # each failing student of a function has at least one mistake there
    for name in FUNCTIONS:
        failing = RAN - PASSED[name]
        assert failing == set().union(*(students for (function, _), students in MISTAKES.items() if function == name))


@pytest.mark.autograde
def test_the_page_shows_the_same_counts_the_flags_and_the_failures_and_nothing_live(graded_class):
    course, _ = graded_class
    page = (course / "reports" / "report_ex03.html").read_text()
    assert_inert_html(page)
    assert "<script" not in page.lower() and "<img src=x" not in page and "<svg" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the student id, escaped
    text = page_text(page)
    for name, passed in PASSED.items():
        row = re.search(rf'<tr data-function="{name}">(.*?)</tr>', page, re.S).group(1)
        cells = [page_text(cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        assert cells == [name, str(TESTS[name]), str(TESTS[name]), str(len(RAN)), str(len(passed)),
                         str(len(RAN) - len(passed)), f"{len(passed) / len(RAN):.0%}"], name
    rows = re.findall(r"<tr><td><code>(\w+)</code></td><td class=\"mistake\">(.*?)</td><td>(\w+)</td>"
                      r"<td class=\"count\">(\d+)</td><td class=\"who\">(.*?)</td>", page, re.S)
    found = {(function, page_text(mistake)): (int(count), page_text(who)) for function, mistake, _, count, who in rows}
    assert set(found) == set(MISTAKES)
    for key, students in MISTAKES.items():
        count, who = found[key]
        assert count == len(students) and set(who.split(", ")) == students, key
    # the totals: 20 points of tests; the written answer pending; the refused and renamed count 0
    assert "of 20:" in text and "graded by hand" in text and "pending for" in text
    flagged = re.search(r'<table id="flagged-table">(.*?)</table>', page, re.S).group(1)
    assert "tamperer" in flagged and "edited the locked cell test_one_hidden_forward (restored)" in page_text(flagged)
    failed = page_text(re.search(r'<table id="failed-table">(.*?)</table>', page, re.S).group(1))
    assert f"notebook not found: expected {NOTEBOOK}, got {RENAMED}" in failed
    assert REFUSED_ID in failed and "glob character" in failed
    assert "looper" not in failed  # a call that never returns costs its function only: the notebook is graded
    assert SCRIPT_MESSAGE not in page  # the student's message is not in the report (only its kind)
    assert page.count("data:image/png;base64,") == 2


@pytest.mark.autograde
def test_the_report_alone_is_written_again_from_the_saved_results(graded_class, tmp_path):
    course, _ = graded_class
    assert report.main([ASSIGNMENT, "--course", str(course), "--report-dir", str(tmp_path)]) == 0
    for name in ("report_ex03.html", "report_ex03_functions.csv", "report_ex03_mistakes.csv"):
        assert (tmp_path / name).read_bytes() == (course / "reports" / name).read_bytes(), name


@pytest.mark.autograde
@pytest.mark.browser
def test_the_page_opens_offline_in_chromium_with_its_figures_and_tables(graded_class, tmp_path):
    from test_browser import ARTIFACTS, chromium

    course, _ = graded_class
    page = course / "reports" / "report_ex03.html"
    driver = chromium(tmp_path / "chromium")
    try:
        driver.get(page.as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.id, i.complete, i.naturalWidth, i.naturalHeight])")
        assert sorted(image[0] for image in images) == ["histogram", "pass-rates"]
        for identifier, complete, width, height in images:
            assert complete and width > 300 and height > 100, (identifier, width, height)
        table = driver.execute_script(
            "return Array.from(document.querySelectorAll('#function-table tbody tr'))"
            ".map(r => Array.from(r.cells).map(c => c.innerText))")
        assert [(row[0], int(row[4])) for row in table] == [(name, len(PASSED[name])) for name in FUNCTIONS]
        mistakes = driver.execute_script(
            "return Array.from(document.querySelectorAll('#mistake-table tbody tr'))"
            ".map(r => [r.cells[0].innerText, r.cells[1].innerText, r.cells[3].innerText])")
        assert {(function, mistake): int(count) for function, mistake, count in mistakes} == {
            key: len(students) for key, students in MISTAKES.items()}
        assert driver.execute_script("return document.scripts.length") == 0
        assert driver.title == "Class report: ex03"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "report-ex03.png"))
    finally:
        driver.quit()


def test_saved_results_alone_give_the_report_with_long_lists_folded_and_formulas_defused(tmp_path):
    """No grading: a course with ex01's source and made-up results (no executed notebooks, so the kinds of the
    errors are guessed from the messages); 14 students share a mistake, and an id is a spreadsheet formula."""
    import json
    import shutil

    from nbgrader_course import ROOT

    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    shutil.copytree(ROOT / "solutions" / "ex01", tmp_path / "solutions" / "ex01")
    source = nbformat.read(tmp_path / "solutions" / "ex01" / "perceptron_logistic.ipynb", as_version=4)
    tests = [cell.metadata.nbgrader.grade_id for cell in source.cells
             if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code"]
    sign = message_of(grading.check_array, "the new w", np.array([1.0, -2.0]), np.array([-1.0, 2.0]))
    results = {}
    for i in range(15):
        student = "=1+1" if i == 0 else f"s{i:02d}"
        cells = {test: [1.0, 1.0, ""] for test in tests}
        cells["written_cross_entropy"] = [None, 2.0, ""]
        if i < 14:
            cells["test_gradient_descent_step"] = [0.0, 1.0, sign]
        cells["test_sigmoid"] = [0.0, 1.0, "ex01: sigmoid"] if i == 14 else cells["test_sigmoid"]
        results[student] = {"student": student, "status": "graded", "reason": "", "flags": [], "cells": cells,
                            "grader_error": False}
    for student, result in results.items():
        (tmp_path / "submitted" / student / "ex01").mkdir(parents=True)
        path = tmp_path / ".nnbook-autograde" / "ex01" / "results" / f"{student}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result))
    assert report.main(["ex01", "--course", str(tmp_path)]) == 0
    mistakes = read_csv(tmp_path / "report_ex01_mistakes.csv")
    assert [(row["function"], row["mistake"], row["students"]) for row in mistakes] == [
        ("sigmoid", report.NOT_IMPLEMENTED, "1"),
        ("gradient_descent_step", "the wrong sign (its opposite would be right)", "14")]
    assert mistakes[1]["student_ids"].startswith("'=1+1; s01")  # not a formula
    page = (tmp_path / "report_ex01.html").read_text()
    assert_inert_html(page)
    assert "<details><summary>14 students</summary>=1+1, s01, " in page
    assert "pending for 15 student(s)" in page_text(page)
    functions = read_csv(tmp_path / "report_ex01_functions.csv")
    assert [(row["function"], row["passed"]) for row in functions] == [
        ("perceptron_update", "15"), ("sigmoid", "14"), ("binary_cross_entropy", "15"), ("bce_gradients", "15"),
        ("gradient_descent_step", "1")]
