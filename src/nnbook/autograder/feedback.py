"""The feedback a student receives: what grading says about the notebook, and nothing the notebook wrote.

The feedback HTML is released to students, so it is built from what the
grader trusts, whatever the submission holds:

* **test cells** show their visible tests' code (the hidden tests' code is cut
  out, :func:`without_hidden_tests`) and, when they failed, the grader's verdict
  as plain, escaped text: ``AssertionError: dw for m = 5: …``, without a
  traceback (nbgrader's would quote the hidden test's lines), with the
  reference's numbers cut out of a hidden test's message and any line of a
  hidden test replaced by ``[…]``. What a test printed is dropped: a student's
  function could print, during a hidden test, its hidden inputs;
* **the student's code** is shown, highlighted and escaped, **without its
  outputs**: a cell could print hidden inputs stashed during a hidden test, or
  display HTML and JavaScript;
* **markdown and raw cells** are rendered only if they are the exercise's own
  text (the same source as a cell of the released notebook); any other one is
  the student's and is shown as escaped text in a ``<pre>``;
* cell and notebook metadata are reset (tags, widget state, attachments and
  language settings are rendered by nbconvert's templates, some unescaped).

:class:`SanitizeFeedback` is the nbgrader preprocessor that does this;
:class:`FeedbackExporter` is nbgrader's HTML exporter with a template of its
own: each test is named after the function and quantity it grades
(:func:`test_label`), messages wrap inside the page, and MathJax is inlined
from the copy the book uses (``sphinx-mathjax-offline``), so the page is one
self-contained file that typesets its mathematics offline.
``nbgrader_config.py`` installs both, so that ``nbgrader generate_feedback``
writes the same pages as ``nnbook-autograde``.
"""

import copy
import functools
import html
import re
from pathlib import Path

import nbformat
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader import utils
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests as NbgraderClearHiddenTests
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor
from traitlets import List, default

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
MESSAGE_LIMIT = 3_000  # characters of a verdict shown
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")


# -- hidden tests ----------------------------------------------------------------------------------------------------


def without_hidden_tests(source):
    """``source`` without its hidden-test regions, as nbgrader's ``ClearHiddenTests`` removes them, but never raising.

    The marker lines and every line between them go; an unterminated region
    runs to the end of the cell. On a well-formed cell the result is exactly
    nbgrader's, so it is what ``generate_assignment`` released.
    """
    kept, inside = [], False
    for line in source.split("\n"):
        if BEGIN in line:
            inside = True
        elif END in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def hidden_lines(source, min_length=8):
    """The lines (stripped) inside the hidden-test regions of ``source`` at least ``min_length`` long."""
    lines, inside = set(), False
    for line in source.split("\n"):
        if BEGIN in line:
            inside = True
        elif END in line:
            inside = False
        elif inside and len(line.strip()) >= min_length:
            lines.add(line.strip())
    return lines


def is_test(cell):
    """A test cell: graded, not an answer (nbgrader's "autograded tests")."""
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


class ClearHiddenTests(NbgraderClearHiddenTests):
    """nbgrader's ``ClearHiddenTests`` for feedback: only the test cells, and never an error.

    nbgrader's raises on any cell with an unterminated ``BEGIN HIDDEN TESTS``,
    a student's comment included, which stops ``generate_feedback``; the
    student's own cells are theirs to show, whatever their comments say.
    """

    display_data_priority = List(["text/plain"], help="Unused: this preprocessor reads no output.").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if is_test(cell):
            cell.source = without_hidden_tests(cell.source)
        return cell, resources


# -- names of the tests ----------------------------------------------------------------------------------------------


def test_label(grade_id, function, hidden):
    """How the feedback names a test: ``"dW2 of one_hidden_backward (hidden)"``.

    ``function`` is the grade id of the answer cell above the test (the
    function it grades). The quantity is what the test's grade id adds to
    that name: ``test_`` and ``_hidden`` dropped, then the words it shares with
    the function's name at the start (``test_one_hidden_dW2_hidden`` after
    ``one_hidden_backward``: ``dW2``). A test named after its function is just
    the function (``test_sigmoid``: ``sigmoid``). Without an answer cell above,
    the grade id is the name.
    """
    suffix = " (hidden)" if hidden else " (visible)"
    name = grade_id.removeprefix("test_").removesuffix("_hidden")
    if not function:
        return name + suffix
    words, own = name.split("_"), function.split("_")
    shared = 0
    while shared < min(len(words), len(own)) and words[shared] == own[shared]:
        shared += 1
    rest = words[shared:]
    return (f"{' '.join(rest)} of {function}" if rest else function) + suffix


def test_labels(notebook, hidden_ids=()):
    """``{grade id: label}`` for the test cells of ``notebook``, each graded by the answer cell above it."""
    labels, function = {}, None
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id"):
            function = meta["grade_id"]
        elif meta.get("grade") and meta.get("grade_id"):
            grade_id = meta["grade_id"]
            hidden = grade_id in hidden_ids or BEGIN in cell.source or grade_id.endswith("_hidden")
            labels[grade_id] = test_label(grade_id, function, hidden)
    return labels


# -- the sanitizer ---------------------------------------------------------------------------------------------------


def plain_text(text):
    """``text`` without terminal escape sequences and control characters (newlines and tabs stay)."""
    return _CONTROL.sub("", text)


def escaped_text_cell(source):
    """A markdown cell that shows ``source`` as escaped text: one ``<pre>`` line, nothing for markdown or MathJax."""
    text = html.escape(plain_text(source), quote=True).replace("$", "&#36;").replace("\\", "&#92;")
    text = text.replace("`", "&#96;").replace("\n", "&#10;")
    return nbformat.v4.new_markdown_cell(f'<pre class="nnbook-student-text">{text}</pre>')


def verdict(outputs, hidden, secret=()):
    """The outputs a test cell keeps: its error as one escaped text stream (``[]`` when it passed)."""
    from .trusted_execute import redact  # the grader's own redaction of the reference's numbers

    messages = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
                for output in outputs if output.get("output_type") == "error"]
    if not messages:
        return []
    text = plain_text("\n".join(str(message) for message in messages))
    length = len(text)
    text = text[:4 * MESSAGE_LIMIT]
    for line in sorted(secret, key=len, reverse=True):  # a kernel that quotes a hidden test (plain nbgrader)
        text = text.replace(line, "[…]")
    text = text.replace(BEGIN, "[…]").replace(END, "[…]")
    if hidden:
        text = redact(text)
    if len(text) > MESSAGE_LIMIT or length > 4 * MESSAGE_LIMIT:
        text = f"{text[:MESSAGE_LIMIT]} [… {max(length - MESSAGE_LIMIT, 0):,} characters cut …]"
    return [nbformat.v4.new_output("stream", name="stderr", text=text)]


def released_notebook(config, assignment, notebook):
    """The released notebook of the exercise (the source one if there is none), or ``None``; ``config`` locates the course."""
    if not assignment or not notebook:
        return None
    coursedir = CourseDirectory(config=config)
    for step in (coursedir.release_directory, coursedir.source_directory):
        path = Path(coursedir.format_path(step, ".", assignment)) / f"{notebook}.ipynb"
        if path.is_file():
            return nbformat.read(path, as_version=4)
    return None


def nbgrader_metadata(cell):
    """The cell's nbgrader metadata, only the keys nbgrader's templates and grading read (the rest can hold markup)."""
    keep = ("grade", "solution", "locked", "task", "grade_id", "points", "score", "needs_manual_grade", "comment",
            "schema_version", "cell_type", "checksum")
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return {key: meta[key] for key in keep if key in meta}


def exercise_text(release):
    """The sources of the text cells of the released notebook ``release`` (or ``None``): the exercise's own words."""
    return {cell.source for cell in (release.cells if release else []) if cell.cell_type != "code"}


def text_cell(cell, texts):
    """A text cell made anew: rendered if its source is the exercise's own (in ``texts``), else escaped text.

    Anything else is the student's (a written answer too) or a raw cell, never rendered.
    """
    if cell.cell_type == "markdown" and cell.source in texts:
        return nbformat.v4.new_markdown_cell(cell.source)
    return escaped_text_cell(cell.source)


def rebuild(nb, clean_cell):
    """Replace every cell of ``nb`` by ``clean_cell(cell, meta)``, a cell made anew (``meta``: its grading metadata).

    The new cells keep only nbgrader's grading metadata and get new ids, and the notebook's metadata is
    reset: a tag, an id or a language name can carry markup into a page.
    """
    cells = []
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_metadata(cell)
        clean = clean_cell(cell, meta)
        clean.metadata = {"nbgrader": meta} if meta else {}
        clean["id"] = f"cell-{index}"
        cells.append(clean)
    nb.cells = cells
    nb.metadata = nbformat.from_dict({
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"},
    })
    return nb


class SanitizeFeedback(NbGraderPreprocessor):
    """Reduce a graded notebook to what grading says (see the module docstring); idempotent per conversion."""

    display_data_priority = List(["text/plain"], help="Unused: no display output reaches the feedback.").tag(config=True)

    def preprocess(self, nb, resources):
        if resources.get("nnbook_sanitized"):
            return nb, resources
        info = resources.get("nbgrader", {})
        release = released_notebook(self.config, info.get("assignment"), info.get("notebook"))
        texts = exercise_text(release)
        tests = [cell for cell in nb.cells if is_test(cell)]
        hidden_ids = {cell.metadata["nbgrader"].get("grade_id") for cell in tests if BEGIN in cell.source}
        secret = set().union(*(hidden_lines(cell.source) for cell in tests))
        labels = test_labels(release if release is not None else nb, hidden_ids)

        def clean_cell(cell, meta):
            if cell.cell_type != "code":
                return text_cell(cell, texts)
            clean = nbformat.v4.new_code_cell(cell.source)
            if is_test(cell):
                hidden = meta.get("grade_id") in hidden_ids
                clean.source = without_hidden_tests(cell.source)
                clean.outputs = verdict(cell.get("outputs", []), hidden, secret)
            return clean

        rebuild(nb, clean_cell)
        resources["nnbook_labels"] = labels
        resources["nnbook_sanitized"] = True
        return nb, resources


class GetGradesAndPending(GetGrades):
    """nbgrader's ``GetGrades``, and whether each grade still waits for the instructor (a written answer not yet
    graded by hand: its score is 0 in the gradebook until then, and the page says "not graded yet")."""

    def _get_score(self, cell, resources):
        super()._get_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        cell.metadata.nbgrader["needs_manual_grade"] = bool(grade.needs_manual_grade)


#: GenerateFeedback's preprocessors for this course (``nbgrader_config.py``). The sanitizer comes before the
#: clearing of the hidden tests, which it needs to see (to cut their lines out of what a kernel quoted).
PREPROCESSORS = [GetGradesAndPending, SanitizeFeedback, ClearHiddenTests, CSSHTMLHeaderPreprocessor]


# -- the page --------------------------------------------------------------------------------------------------------


def mathjax_folder():
    """The MathJax 3 files of the ``sphinx-mathjax-offline`` package, which the book uses too."""
    import importlib.util

    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the package sphinx-mathjax-offline (MathJax for offline use) is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax"


@functools.lru_cache(maxsize=1)
def mathjax_script():
    """MathJax 3 (TeX input, SVG output: no font files), as the text of an inline ``<script>``."""
    text = (mathjax_folder() / "tex-svg-full.js").read_text(encoding="utf-8")
    if re.search(r"</?script", text, flags=re.IGNORECASE):
        raise RuntimeError("the MathJax bundle contains a <script> tag: it cannot be inlined")
    return text.replace("<!--", "<\\!--")


MATHJAX_CONFIG = """window.MathJax = {
  tex: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]],
        processEscapes: true, processEnvironments: true},
  svg: {fontCache: "global"},
  options: {enableMenu: false, ignoreHtmlClass: "nnbook-student-text"},
  startup: {typeset: true}
};"""

STYLE = """
body { overflow: visible; font-size: 14px; padding-top: 1em; }
div#notebook { overflow: visible; border-top: none; }
div#notebook-container { width: 100%; box-shadow: none; padding: 0; }
div.nbgrader_cell { width: 100%; }
div.nbgrader_cell .panel-heading { padding: 0.4em 0.6em; }
div.nbgrader_cell .panel-body { padding: 0.4em; }
div.nbgrader_cell .input_area { background: white; border: none; }
li.late-penalty { color: #d2413a; }
/* a verdict is one long line: wrap it inside the page */
div.output_area pre, div.output_subarea pre, pre.nnbook-student-text {
  white-space: pre-wrap; word-break: break-word; overflow-wrap: anywhere;
}
div.output_subarea { max-width: 100%; overflow-x: visible; }
div.output_stderr { background: #fdd; }
pre.nnbook-student-text { background: #f7f7f7; border: 1px solid #ddd; padding: 0.5em; }
"""

TEMPLATE = r"""{%- extends 'nbconvert/templates/classic/index.html.j2' -%}

{%- macro label(cell) -%}
{{ resources.nnbook_labels.get(cell.metadata.nbgrader.grade_id, cell.metadata.nbgrader.grade_id) | e }}
{%- endmacro -%}

{#- a written answer has no score until the instructor grades it by hand (the gradebook's score is 0 until then) -#}
{%- macro cell_score(cell) -%}
{%- if cell.metadata.nbgrader.needs_manual_grade and cell.metadata.nbgrader.solution -%}
not graded yet (by hand)
{%- else -%}
{{ cell.metadata.nbgrader.score | default(0) | float | round(2) }}
{%- endif -%}
{%- endmacro -%}

{%- block header -%}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{{ resources.nbgrader.notebook | e }}</title>
{{ resources.include_css('bootstrap.min.css') }}
{{ resources.include_css('static/style.css') }}
{% for css in resources.inlining.css -%}
<style type="text/css">
{{ css }}
</style>
{% endfor %}
<style type="text/css">{{ resources.nnbook_style }}</style>
<script>{{ resources.nnbook_mathjax_config }}</script>
<script>{{ resources.nnbook_mathjax }}</script>
</head>
{%- endblock header -%}

{% block body %}
<body>
  <a name="top"></a>
  <div class="container">
    <div class="panel panel-default">
      <div class="panel-heading">
        <h4>{{ resources.nbgrader.notebook | e }} (Score: {{ resources.nbgrader.score | default(0) | float | round(2) }} / {{ resources.nbgrader.max_score | default(0) | float | round(2) }})</h4>
        <div id="toc">
          <ol>
          {% for cell in nb.cells %}
            {% if cell.metadata.nbgrader and cell.metadata.nbgrader.grade %}
            <li><a href="#{{ cell.metadata.nbgrader.grade_id | e }}">{{ label(cell) if not cell.metadata.nbgrader.solution else "Answer " ~ (cell.metadata.nbgrader.grade_id | e) }}</a> (Score: {{ cell_score(cell) }} / {{ cell.metadata.nbgrader.points | default(0) | float | round(2) }})</li>
            {% endif %}
            {% if cell.metadata.nbgrader and cell.metadata.nbgrader.comment %}
            <li><a href="#comment-{{ cell.metadata.nbgrader.grade_id | e }}">Comment</a></li>
            {% endif %}
          {% endfor %}
          {% if (resources.nbgrader.late_penalty | default(0)) > 0 %}
            <li class="late-penalty">Late submission penalty (Score: -{{ resources.nbgrader.late_penalty | float | round(2) }})</li>
          {% endif %}
          </ol>
        </div>
      </div>
      <div class="panel-body">
        <div id="notebook" class="border-box-sizing">
          <div class="container" id="notebook-container">
            {{ super() }}
          </div>
        </div>
      </div>
    </div>
  </div>
</body>
{%- endblock body %}

{% block body_header %}{% endblock body_header %}
{% block body_footer %}{% endblock body_footer %}

{% block footer %}
</html>
{% endblock footer %}

{% macro nbgrader_heading(cell) -%}
{%- if cell.metadata.nbgrader.solution or cell.metadata.nbgrader.task -%}
<a name="comment-{{ cell.metadata.nbgrader.grade_id | e }}"></a>
{%- endif -%}
{%- if cell.metadata.nbgrader.grade -%}
<a name="{{ cell.metadata.nbgrader.grade_id | e }}"></a>
{%- endif -%}
<div class="panel-heading">
{%- if cell.metadata.nbgrader.solution -%}
  <span class="nbgrader-label">Your answer: <code>{{ cell.metadata.nbgrader.grade_id | e }}</code></span>
{%- elif cell.metadata.nbgrader.grade -%}
  <span class="nbgrader-label">Test: {{ label(cell) }}</span>
{%- endif -%}
{%- if cell.metadata.nbgrader.grade -%}
  <span class="pull-right">Score: {{ cell_score(cell) }} / {{ cell.metadata.nbgrader.points | default(0) | float | round(2) }} <a href="#top">(Top)</a></span>
{%- endif -%}
</div>
{%- endmacro %}

{% macro nbgrader_footer(cell) -%}
{%- if cell.metadata.nbgrader.comment -%}
<div class="panel-footer"><div><b>Comments:</b> {{ cell.metadata.nbgrader.comment | e }}</div></div>
{%- endif -%}
{%- endmacro %}

{% block markdowncell scoped %}
<div class="cell border-box-sizing text_cell rendered">
  <div class="inner_cell">
    <div class="text_cell_render border-box-sizing rendered_html">
      {{ cell.source | markdown2html | strip_files_prefix }}
    </div>
  </div>
</div>
{% endblock markdowncell %}

{% block input %}
  {%- if cell.metadata.nbgrader and (cell.metadata.nbgrader.solution or cell.metadata.nbgrader.grade) -%}
  <div class="panel panel-primary nbgrader_cell">
    {{ nbgrader_heading(cell) }}
    <div class="panel-body">
      <div class="input_area">
        {{ cell.source | highlight_code(metadata=cell.metadata) }}
      </div>
    </div>
    {{ nbgrader_footer(cell) }}
  </div>
  {%- else -%}
  <div class="inner_cell">
    <div class="input_area">
      {{ cell.source | highlight_code(metadata=cell.metadata) }}
    </div>
  </div>
  {%- endif -%}
{% endblock input %}
"""


def _bootstrap_css_folder():
    import nbgrader

    return str(Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "static" / "node_modules"
               / "bootstrap" / "dist" / "css")


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback page, sanitized (:class:`SanitizeFeedback`, always applied), offline, readable."""

    @default("template_name")
    def _default_template_name(self):
        return "classic"  # the template's base (nbgrader's GenerateFeedback sets "feedback", whose base is classic)

    @default("extra_template_paths")
    def _default_extra_template_paths(self):
        return [_bootstrap_css_folder()]  # as nbgrader's GenerateFeedback sets it

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.raw_template = TEMPLATE

    def from_notebook_node(self, nb, resources=None, **kw):
        nb = copy.deepcopy(nb)
        resources = self._init_resources(resources)
        nb, resources = SanitizeFeedback(parent=self).preprocess(nb, resources)
        resources["nnbook_style"] = STYLE
        resources["nnbook_mathjax_config"] = MATHJAX_CONFIG
        resources["nnbook_mathjax"] = mathjax_script()
        return super().from_notebook_node(nb, resources, **kw)


def refusal_page(notebook, assignment, reason, max_score):
    """The feedback of a submission that could not be graded: the reason, escaped, and the score 0."""
    title = html.escape(f"{notebook} ({assignment})")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n"
        f"<title>{title}</title>\n<style type=\"text/css\">{STYLE}</style>\n</head>\n<body>\n"
        f"<h4>{html.escape(notebook)} (Score: 0.0 / {float(max_score):.1f})</h4>\n"
        "<p>Your submission could not be graded:</p>\n"
        f"<pre class=\"nnbook-student-text\">{html.escape(plain_text(reason))}</pre>\n"
        "<p>Hand in the notebook file itself, with its name unchanged, as the exercise was released.</p>\n"
        "</body>\n</html>\n"
    )
