"""The adversarial corpus (``tests/adversarial/ex01.py``) graded by ``nnbook-autograde``, each outcome asserted.

On a copy of the course: an honest student is graded first, alone; then the
whole corpus in one run (the honest student's run is reused, unchanged); then
the command again, which must change nothing. For every student: exactly the
points earned (the gradebook, through nbgrader's API), the status of the run,
the reason in the feedback, the flags; for the batch: the submitted files
untouched, no hidden test code or reference value in any feedback, nothing
written into the course by a student, the first student's grade unchanged.

It needs bubblewrap (``apt-get install -y bubblewrap``) and is skipped without
it, unless ``NNBOOK_REQUIRE_SANDBOX=1`` (CI), which makes the skip a failure.
"""

import copy
import csv
import hashlib
import subprocess
import sys
import time

import nbformat
import pytest
from adversarial.ex01 import CASES, GRADE_CELLS, NOTEBOOK
from nbgrader_course import cell_scores, cells_by_id, make_course, nbgrader_env, secret_lines
from optional import require_sandbox


pytestmark = pytest.mark.autograde

OPTIONS = ["--timeout", "20", "--cell-timeout", "3"]


def autograde(course, *args):
    command = [sys.executable, "-m", "nnbook.autograde", "ex01", "--course", str(course), *OPTIONS, *args]
    result = subprocess.run(command, env=nbgrader_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"nnbook-autograde failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


def hand_in(course, case, release):
    folder = course / "submitted" / case.student / "ex01"
    folder.mkdir(parents=True)
    for name, text in case.files.items():
        (folder / name).write_text(text)
    if case.raw is not None:
        (folder / NOTEBOOK).write_text(case.raw)
        return
    notebook = copy.deepcopy(release)
    cells = cells_by_id(notebook)
    for grade_id, source in case.answers.items():
        if source is not None:
            cells[grade_id].source = source.replace("COURSE", str(course)).strip("\n")
    for grade_id, source in case.locked_edits.items():
        if source is None:
            notebook.cells.remove(cells[grade_id])
        else:
            cells[grade_id].source = source
    for grade_id in case.strip_metadata:
        del cells[grade_id].metadata["nbgrader"]
        cells[grade_id].source = 'print("all good")'
    if case.student == "tamperer":
        cells["test_sigmoid"].metadata["nbgrader"]["points"] = 100
    nbformat.write(notebook, folder / NOTEBOOK)


def digests(course):
    return {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in (course / "submitted").rglob("*") if path.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    require_sandbox()
    course = make_course(tmp_path_factory.mktemp("course"), ["ex01"])
    release = nbformat.read(course / "exercises" / "ex01" / NOTEBOOK, as_version=4)
    honest, others = CASES[0], CASES[1:]
    hand_in(course, honest, release)
    autograde(course)
    first = cell_scores(course, "ex01", [honest.student])[honest.student]
    for case in others:
        hand_in(course, case, release)
    before = digests(course)
    started = time.monotonic()
    log = autograde(course)
    seconds = time.monotonic() - started
    graded = [case.student for case in CASES if case.status != "failed"]
    return {"course": course, "first": first, "before": before, "log": log, "seconds": seconds,
            "scores": cell_scores(course, "ex01", graded), "rows": read_rows(course)}


def read_rows(course):
    with open(course / "grades_ex01.csv", newline="") as file:
        return {row["student_id"]: row for row in csv.DictReader(file)}


def feedback_text(course, student):
    import html
    import re

    path = course / "feedback" / student / "ex01" / NOTEBOOK.replace(".ipynb", ".html")
    text = re.sub(r"<(style|script).*?</\1>", "", path.read_text(), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


@pytest.mark.parametrize("case", CASES, ids=[case.student for case in CASES])
def test_each_student_gets_exactly_the_points_earned(corpus, case):
    row = corpus["rows"][case.student]
    assert row["status"] == case.status, (row, corpus["log"].stdout[-2000:])
    for flag in case.flags:
        assert flag in row["flags"], row["flags"]
    if not case.flags and case.student not in ("tamperer",):
        assert row["flags"] == "", row["flags"]
    if case.status == "failed":
        assert row["score"] == "" and "cannot be read" in row["reason"]
        assert not (corpus["course"] / "feedback" / case.student).exists()
        return
    expected = {cell: 0.0 if cell in case.lost else 1.0 for cell in GRADE_CELLS}
    assert corpus["scores"][case.student] == expected
    assert float(row["score"]) == 10 - len(case.lost) and float(row["max_score"]) == 10.0
    text = feedback_text(corpus["course"], case.student)
    for needle in case.feedback:
        assert needle in text, f"{case.student}: {needle!r} not in the feedback"


def test_the_feedback_holds_no_hidden_test_and_no_reference_value(corpus):
    course = corpus["course"]
    source = nbformat.read(course / "solutions" / "ex01" / NOTEBOOK, as_version=4)
    hidden = secret_lines(source, regions=("HIDDEN TESTS",))
    for html in (course / "feedback").rglob("*.html"):
        text = feedback_text(course, html.parts[-3])
        assert "HIDDEN TESTS" not in text
        leaked = [line for line in hidden if line in text]
        assert not leaked, (html, leaked[:3])
        assert "reference_" not in text
    nan = feedback_text(course, "nan")
    assert "expected (hidden)" in nan and "got nan" in nan


def test_the_batch_leaves_the_course_as_it_was(corpus):
    course = corpus["course"]
    assert digests(course) == corpus["before"], "a submitted file changed"
    assert not (course / "pwned.txt").exists()
    assert corpus["scores"]["honest"] == corpus["first"] == dict.fromkeys(GRADE_CELLS, 1.0)
    autograded = nbformat.read(course / "autograded" / "loud" / "ex01" / NOTEBOOK, as_version=4)
    assert len(nbformat.writes(autograded)) < 2_000_000
    for student in ("shadow_modules", "reader", "gradebook_writer"):
        executed = nbformat.read(course / "autograded" / student / "ex01" / NOTEBOOK, as_version=4)
        printed = "".join(output.get("text", "") for cell in executed.cells for output in cell.get("outputs", []))
        for word in ("SHADOW", "WRITE SUCCEEDED", "GRADEBOOK CHANGED", "BEGIN SOLUTION"):
            assert word not in printed, (student, word)


def test_the_summary_counts_every_outcome(corpus):
    out = corpus["log"].stdout
    for status, count in [("graded", 18), ("failed", 1), ("timed out", 1), ("kernel died", 1), ("flagged", 2)]:
        assert any(line.split() and line.strip().startswith(status) and line.split()[-1] == str(count)
                   for line in out.splitlines()), (status, out)
    assert "sandboxed with bubblewrap" in out


def test_running_again_changes_nothing(corpus):
    course = corpus["course"]
    started = time.monotonic()
    autograde(course)
    assert time.monotonic() - started < corpus["seconds"]  # nothing ran again
    assert read_rows(course) == corpus["rows"]
    graded = [case.student for case in CASES if case.status != "failed"]
    assert cell_scores(course, "ex01", graded) == corpus["scores"]
    assert digests(course) == corpus["before"]
