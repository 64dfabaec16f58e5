"""Tests of nnbook/autograder/formgrade.py: in nbgrader's formgrader, what a submission wrote is shown, and inert."""

import base64

import nbformat
import pytest
from nbgrader_course import ROOT, live_markup

from nnbook.autograder import autograde
from nnbook.autograder.formgrade import InertStudentMarkup, inert_output

SCRIPT = "<script>document.title = 'PWNED'</script><img src=x onerror=alert(1)>"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n....").decode()


def test_inert_output_keeps_the_text_and_real_images_only():
    stream = nbformat.v4.new_output("stream", name="stdout", text=SCRIPT)
    assert inert_output(stream) is stream  # the template escapes a stream
    shown = nbformat.v4.new_output("display_data", data={"text/html": SCRIPT, "text/plain": "<Shown>",
                                                         "application/javascript": "alert(1)", "image/png": PNG,
                                                         "image/svg+xml": "<svg onload=alert(1)/>"},
                                   metadata={"image/png": {"width": '1" onload="alert(1)'}})
    kept = inert_output(shown)
    assert kept.data == {"text/plain": "<Shown>", "image/png": PNG} and kept.metadata == {}
    assert inert_output(nbformat.v4.new_output("display_data", data={"text/html": SCRIPT})) is None
    # image data go into an attribute of the page: anything but base64 is dropped
    forged = nbformat.v4.new_output("execute_result", data={"image/png": 'x" onerror="alert(1)'}, execution_count=1)
    assert inert_output(forged) is None


def notebook_with_a_student(release):
    nb = nbformat.v4.new_notebook(cells=[release.cells[0], nbformat.v4.new_markdown_cell(SCRIPT),
                                         nbformat.v4.new_raw_cell(SCRIPT),
                                         nbformat.v4.new_code_cell("Shown()", execution_count=1)])
    nb.cells[1].metadata = {"nbgrader": {"grade": True, "solution": True, "grade_id": "written", "points": 2,
                                         "locked": False}, "tags": ['"><script>alert(1)</script>']}
    nb.cells[1].attachments = {"a.png": {"image/png": PNG}}
    nb.cells[3].outputs = [nbformat.v4.new_output("execute_result", data={"text/html": SCRIPT, "text/plain": "x"},
                                                  execution_count=1)]
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": '"><script>alert(1)</script>'}
    return nb


def test_the_exercise_text_is_rendered_and_the_students_is_escaped_with_its_grading_metadata_kept():
    release = nbformat.read(ROOT / "exercises" / "ex01" / "perceptron_logistic.ipynb", as_version=4)
    preprocessor = InertStudentMarkup(config=autograde.course_config(ROOT))
    nb, _ = preprocessor.preprocess(notebook_with_a_student(release),
                                    {"assignment_id": "ex01", "notebook_id": "perceptron_logistic"})
    exercise, written, raw, code = nb.cells
    assert exercise.source == release.cells[0].source  # the exercise's own text, rendered
    for escaped in (written, raw):
        assert escaped.cell_type == "markdown" and escaped.source.startswith('<pre class="nnbook-student-text">')
        assert "<script>" not in escaped.source and "&lt;script&gt;" in escaped.source
    assert written.metadata == {"nbgrader": {"grade": True, "solution": True, "grade_id": "written", "points": 2,
                                             "locked": False}}  # the formgrader's score box needs these, no tags
    assert "attachments" not in written
    assert code.source == "Shown()" and code.outputs[0].data == {"text/plain": "x"}
    assert [cell["id"] for cell in nb.cells] == ["cell-0", "cell-1", "cell-2", "cell-3"]
    assert "pygments_lexer" in nb.metadata.language_info and "script" not in str(nb.metadata)


def test_without_the_released_notebook_every_text_cell_is_escaped():
    release = nbformat.read(ROOT / "exercises" / "ex01" / "perceptron_logistic.ipynb", as_version=4)
    nb, _ = InertStudentMarkup().preprocess(notebook_with_a_student(release), {})
    assert all(cell.source.startswith("<pre") for cell in nb.cells if cell.cell_type == "markdown")


def test_a_feedback_page_already_sanitized_is_left_as_it_is():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('<pre class="nnbook-student-text">x</pre>')])
    same, _ = InertStudentMarkup().preprocess(nb, {"nnbook_sanitized": True})
    assert same.cells[0].source == '<pre class="nnbook-student-text">x</pre>'


@pytest.mark.filterwarnings("ignore:No lexer found")  # the forged lexer name is read before preprocessing, then unused
def test_the_course_gives_it_to_every_html_exporter_so_the_formgrader_uses_it():
    from nbconvert.exporters import HTMLExporter

    exporter = HTMLExporter(config=autograde.course_config(ROOT))
    assert any(isinstance(p, InertStudentMarkup) for p in exporter._preprocessors)
    release = nbformat.read(ROOT / "exercises" / "ex01" / "perceptron_logistic.ipynb", as_version=4)
    page, _ = exporter.from_notebook_node(notebook_with_a_student(release), {"assignment_id": "ex01",
                                                                              "notebook_id": "perceptron_logistic"})
    problems, scripts = live_markup(page)
    assert not [p for p in problems if "alert" in p] and not [s for s in scripts if "PWNED" in s or "alert" in s]
