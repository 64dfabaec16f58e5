"""The written answers: a short question in every exercise, answered in words and graded by hand in nbgrader.

Each exercise's source notebook has, besides its test cells, a markdown
answer cell graded by hand ("manually graded answer" in nbgrader), worth 2
points, with a model answer and a rubric that only the instructor's notebook
holds. Fast checks read the notebooks. One round trip grades ex01 as an
instructor does: ``nnbook-autograde`` (the answers wait for a human, the
automatic points are given), then the formgrader, nbgrader's manual-grading
view, served by a real Jupyter server (the answers are there, each with its
score box, and a hostile answer is inert), a grade given through the
formgrader's API as its score box does, and the export and the feedback
(the hand-given points count).
"""

import csv
import json
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader_course import (
    ASSIGNMENTS,
    ROOT,
    cell_scores,
    cells_by_id,
    formgrader,
    grade_cells,
    live_markup,
    make_course,
    nbgrader,
    nbgrader_env,
    page_text,
    submission,
    submit,
    written_answer,
    written_cells,
)
from optional import require_sandbox

NOTEBOOKS = {assignment: next((ROOT / "solutions" / assignment).glob("*.ipynb")).name for assignment in ASSIGNMENTS}
HOSTILE_ANSWER = ("<script>document.title = 'PWNED'</script><img src=x onerror=alert('answer')> "
                  "[click](javascript:alert('link')) $x$")
HOSTILE_OUTPUT_CELL = '''class Shown:
    def _repr_html_(self):
        return "<script>document.title = 'OUTPUT'</script><svg onload=alert('output')></svg>"
Shown()'''


def notebooks(assignment):
    source = nbformat.read(ROOT / "solutions" / assignment / NOTEBOOKS[assignment], as_version=4)
    release = nbformat.read(ROOT / "exercises" / assignment / NOTEBOOKS[assignment], as_version=4)
    return source, release


# ---- the notebooks -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_exercise_asks_a_written_question_with_a_rubric_for_the_instructor(assignment):
    source, release = notebooks(assignment)
    written = written_cells(source)
    assert written, f"{assignment} has no written answer graded by hand"
    cells, released = cells_by_id(source), cells_by_id(release)
    for grade_id in written:
        answer = cells[grade_id]
        assert answer.metadata["nbgrader"]["points"] == 2 and not answer.metadata["nbgrader"]["locked"]
        assert "**Model answer.**" in answer.source and "**Rubric (2 points).**" in answer.source, grade_id
        question = cells[f"{grade_id}_question"]
        assert question.metadata["nbgrader"]["locked"] and "**Question.**" in question.source
        assert source.cells.index(question) + 1 == source.cells.index(answer), "the answer cell follows its question"
        # the student gets the question, and an empty answer: no line of the model answer or of the rubric
        assert released[f"{grade_id}_question"].source == question.source
        assert released[grade_id].source == "YOUR ANSWER HERE"
        text = (ROOT / "exercises" / assignment / NOTEBOOKS[assignment]).read_text()
        leaked = [line for line in answer.source.splitlines() if len(line) > 25 and line in text]
        assert not leaked, f"exercises/{assignment} shows the model answer: {leaked[:2]}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_points_the_notebook_announces_are_its_cells(assignment):
    source, _ = notebooks(assignment)
    cells = cells_by_id(source)
    automatic = sum(cells[grade_id].metadata["nbgrader"]["points"] for grade_id in grade_cells(source))
    by_hand = sum(cells[grade_id].metadata["nbgrader"]["points"] for grade_id in written_cells(source))
    intro = source.cells[0].source
    assert f"**Points** ({automatic + by_hand} in total: {automatic} graded automatically" in intro
    assert f"at most {automatic} of the {automatic + by_hand}" in intro


# ---- the round trip: autograde, the formgrader, a grade by hand, export and feedback --------------------------------


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """ex01 graded by nnbook-autograde: an honest student, a hostile one (answer and outputs), the untouched notebook."""
    require_sandbox()
    course = make_course(tmp_path_factory.mktemp("course"), ["ex01"])
    source = nbformat.read(course / "solutions/ex01" / NOTEBOOKS["ex01"], as_version=4)
    release = nbformat.read(course / "exercises/ex01" / NOTEBOOKS["ex01"], as_version=4)
    cells = cells_by_id(source)
    code = {name: written_answer(cell.source) for name, cell in cells.items()
            if cell.cell_type == "code" and cell.metadata["nbgrader"].get("solution")}
    honest = submission(release, {**code, "written_cross_entropy": "The log's derivative cancels sigma'(z): dz = a - y."})
    hostile = submission(release, {**code, "written_cross_entropy": HOSTILE_ANSWER})
    hostile.cells.append(nbformat.v4.new_code_cell(HOSTILE_OUTPUT_CELL))
    hostile.cells.append(nbformat.v4.new_markdown_cell(HOSTILE_ANSWER))
    for student, notebook in (("honest", honest), ("hostile", hostile), ("untouched", release)):
        submit(course, "ex01", student, NOTEBOOKS["ex01"], notebook)
    command = [sys.executable, "-m", "nnbook.autograder", "ex01", "--course", str(course)]
    result = subprocess.run(command, env=nbgrader_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"nnbook-autograde failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return course


def read_csv(path):
    with open(path, newline="") as file:
        return {row["student_id"]: row for row in csv.DictReader(file)}


def feedback_page(course, student):
    return (course / "feedback" / student / "ex01" / NOTEBOOKS["ex01"].replace(".ipynb", ".html")).read_text()


@pytest.mark.nbgrader
@pytest.mark.autograde
def test_written_answers_wait_for_a_human_and_the_automatic_points_are_given(graded):
    answers = cell_scores(graded, "ex01", ["honest", "hostile", "untouched"], written=True)
    for student in ("honest", "hostile"):
        (grade,) = answers[student].values()
        assert grade["needs_manual_grade"] and grade["auto_score"] is None and grade["manual_score"] is None
    # an answer left as released scores 0 at once, as nbgrader does for an unchanged answer cell
    (untouched,) = answers["untouched"].values()
    assert untouched["auto_score"] == 0 and not untouched["needs_manual_grade"]
    rows = read_csv(graded / "grades_ex01.csv")
    assert {student: (float(row["score"]), float(row["max_score"])) for student, row in rows.items()} == {
        "honest": (10.0, 12.0), "hostile": (10.0, 12.0), "untouched": (0.0, 12.0)}
    page = feedback_page(graded, "honest")
    assert "Answer written_cross_entropy (Score: not graded yet (by hand) / 2.0)" in page_text(page)
    assert "The log&#x27;s derivative cancels" in page or "The log's derivative cancels" in page_text(page)


@pytest.mark.nbgrader
@pytest.mark.autograde
def test_the_formgrader_shows_each_answer_with_its_score_box_inert_and_takes_a_grade(graded):
    with formgrader(graded) as request:
        submissions = json.loads(request("/formgrader/api/submitted_notebooks/ex01/" + NOTEBOOKS["ex01"][:-6]))
        assert {item["student"]: item["needs_manual_grade"] for item in submissions} == {
            "honest": True, "hostile": True, "untouched": False}
        ids = {item["student"]: item["id"] for item in submissions}
        pages = {student: request(f"/formgrader/submissions/{ids[student]}/") for student in ids}
        for student, page in pages.items():
            assert "Student's answer" in page and 'id="written_cross_entropy"' in page, student  # the score box
        assert "cancels sigma&#x27;(z)" in pages["honest"] or "cancels sigma'(z)" in page_text(pages["honest"])
        # the hostile answer and outputs are shown as text, nothing of them runs in the instructor's browser
        problems, scripts = live_markup(pages["hostile"])
        assert not [p for p in problems if "alert" in p], problems
        assert not [s for s in scripts if "PWNED" in s or "OUTPUT" in s]
        assert "document.title = &#x27;PWNED&#x27;" in pages["hostile"] or "PWNED" in page_text(pages["hostile"])
        # the exercise's own text is rendered (the question, with its mathematics)
        assert "<h2" in pages["honest"] and "In your own words" in pages["honest"]
        # a grade by hand, as the score box sends it
        for student, points in (("honest", 2), ("hostile", 1)):
            grade_id = _grade_id(graded, student)
            saved = json.loads(request(f"/formgrader/api/grade/{grade_id}", json={"manual_score": points}))
            assert saved["manual_score"] == points and not saved["needs_manual_grade"]
    nbgrader(graded, "export", "--to", str(graded / "export.csv"))
    exported = read_csv(graded / "export.csv")
    assert {student: float(exported[student]["raw_score"]) for student in ("honest", "hostile", "untouched")} == {
        "honest": 12.0, "hostile": 11.0, "untouched": 0.0}
    assert {float(row["max_score"]) for row in exported.values()} == {12.0}
    nbgrader(graded, "generate_feedback", "ex01", "--force")
    page = page_text(feedback_page(graded, "honest"))
    assert "(Score: 12.0 / 12.0)" in page and "Answer written_cross_entropy (Score: 2.0 / 2.0)" in page


def _grade_id(course, student):
    """The gradebook id of a student's written-answer grade (what the formgrader's score box is bound to)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", nbgrader_env()["PATH"])
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="nnbook") as gradebook:
            return gradebook.find_grade("written_cross_entropy", NOTEBOOKS["ex01"][:-6], "ex01", student).id
