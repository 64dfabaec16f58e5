"""What the instructor sees of a submission in nbgrader's formgrader: all of it, with the student's markup inert.

The formgrader (``nbgrader formgrader``, or the Formgrader tab of Jupyter) is
where written answers are graded by hand: it renders the autograded notebook
as HTML in the instructor's browser, logged in to the instructor's Jupyter
server. nbgrader renders a markdown cell as it is, and the classic template
renders an HTML, SVG or JavaScript output as it is: a student's
``<script>``, ``<img onerror=…>`` or ``javascript:`` link would run there
with the instructor's rights (the server runs code and reads the gradebook).

:class:`InertStudentMarkup`, an nbconvert preprocessor that
``nbgrader_config.py`` gives every HTML exporter (``c.HTMLExporter.preprocessors``),
so the formgrader's, keeps everything the instructor grades, made inert:

* **markdown and raw cells** are rendered only if they are the exercise's own
  text (the source of a text cell of the released notebook); any other one,
  a written answer included, is shown as escaped text, as the feedback shows it;
* **code** is kept (the template highlights and escapes it), and so are the
  outputs nbconvert escapes (streams, errors, ``text/plain``) and the PNG and
  JPEG images whose data really are base64; HTML, SVG, JavaScript, markdown,
  LaTeX and widget outputs are dropped;
* **metadata** is reduced to nbgrader's grading keys (a tag or an attachment
  can carry markup into the page) and cell ids are renumbered.

A feedback page, already reduced further by :class:`nnbook.autograder.feedback.SanitizeFeedback`,
is left as it is.
"""

import re

import nbformat
from nbconvert.preprocessors import Preprocessor

from .feedback import exercise_text, rebuild, released_notebook, text_cell

#: Output types nbconvert's templates escape when they render them.
TEXT_OUTPUTS = {"stream", "error"}
#: Data of a display or result that stays: escaped text, and images whose data are checked to be base64.
KEPT_DATA = ("text/plain", "image/png", "image/jpeg")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")


def inert_output(output):
    """``output`` with only what renders as inert HTML, or ``None`` when nothing of it does."""
    if output.get("output_type") in TEXT_OUTPUTS:
        return output
    data = {}
    for mime in KEPT_DATA:
        value = output.get("data", {}).get(mime)
        if isinstance(value, list):
            value = "".join(value)
        if not isinstance(value, str):
            continue
        if mime != "text/plain" and not _BASE64.fullmatch(value):
            continue  # the template puts image data in an attribute: nothing but base64 may go there
        data[mime] = value
    if not data:
        return None
    kept = nbformat.from_dict({key: value for key, value in output.items() if key not in ("data", "metadata")})
    kept.data, kept.metadata = data, {}
    return kept


class InertStudentMarkup(Preprocessor):
    """Make what a submission wrote inert in nbgrader's HTML views (see the module docstring)."""

    def preprocess(self, nb, resources):
        if resources.get("nnbook_sanitized"):  # a feedback page: reduced further already
            return nb, resources
        info = resources.get("nbgrader", {})
        assignment = resources.get("assignment_id") or info.get("assignment")  # the formgrader's names, or nbgrader's
        notebook = resources.get("notebook_id") or info.get("notebook")
        texts = exercise_text(released_notebook(self.config, assignment, notebook))

        def clean_cell(cell, meta):
            if cell.cell_type != "code":
                return text_cell(cell, texts)
            clean = nbformat.v4.new_code_cell(cell.source, execution_count=cell.get("execution_count"))
            clean.outputs = [kept for kept in map(inert_output, cell.get("outputs", [])) if kept is not None]
            return clean

        return rebuild(nb, clean_cell), resources
