"""Sphinx hooks of the book (a local extension, loaded by _config.yml).

* Every page's footer states the version of ``nnbook`` the book was built with
  (and ``{{ nnbook_version }}`` is a MyST substitution for the same string).
* ``{graded-exercises}`` lists the student notebooks found in ``exercises/*/``:
  title, the functions to write, points, a link to the readable page and a
  download link. Nothing is hard-coded: a new exercise folder appears by itself.
* ``{graded-exercise}`ex02``` links a chapter to the page of one assignment, or
  prints the folder name while that assignment does not exist yet.
* The self-check questions (sphinx-exercise's ``exercise`` directive, titled by
  ``numfig_format["exercise"]``) are numbered per chapter, "Self-check 4.2", with the
  chapter numbers of ``nnbook_chapter_numbers`` (see :func:`number_self_checks`).
* A display equation wider than its column (a phone) is shrunk to fit, down to
  :data:`MIN_MATH_SCALE` of its size (see :data:`FIT_DISPLAY_MATH`); wider ones must be
  broken into lines in the source.
* Each page loads each of its scripts once (see :func:`drop_duplicate_scripts`).

Pages that list exercises are read again when the set of exercise notebooks
changes, and when one of them is edited.
"""

import json
from pathlib import Path
from typing import NamedTuple

from docutils import nodes
from sphinx import addnodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

import nnbook

logger = logging.getLogger(__name__)

EXERCISES = "exercises"


class GradedExercise(NamedTuple):
    """One student notebook of ``exercises/<folder>/``."""

    folder: str
    path: str  # relative to the book's root, e.g. "exercises/ex01/perceptron_logistic.ipynb"
    title: str
    tasks: list  # the grade ids of the cells the student writes
    points: float
    written: int = 0  # the answers in words, graded by hand

    @property
    def docname(self):
        return self.path.removesuffix(".ipynb")


def read_exercise(root, path):
    """Title, tasks and points of the student notebook ``root / path`` (from nbgrader's cell metadata)."""
    notebook = json.loads((root / path).read_text(encoding="utf-8"))
    title, tasks, points, written = Path(path).stem, [], 0.0, 0
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and title == Path(path).stem:
            heading = next((line for line in source.splitlines() if line.startswith("# ")), None)
            title = heading[2:].strip() if heading else title
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if grading.get("solution") and cell["cell_type"] == "code":
            tasks.append(grading["grade_id"])
        elif grading.get("solution") and grading.get("grade"):
            written += 1
        points += float(grading.get("points", 0) if grading.get("grade") else 0)
    return GradedExercise(Path(path).parent.name, path.as_posix(), title, tasks, points, written)


def graded_exercises(root, folder="*"):
    """Every student notebook ``exercises/<folder>/*.ipynb`` under the book's ``root``, sorted."""
    root = Path(root)
    paths = sorted(root.glob(f"{EXERCISES}/{folder}/*.ipynb"))
    return [read_exercise(root, path.relative_to(root)) for path in paths if ".ipynb_checkpoints" not in path.parts]


def exercise_link(env, exercise):
    """A cross-reference to the page of ``exercise``, titled with the notebook's title."""
    return addnodes.pending_xref("", nodes.inline("", exercise.title), refdomain="std", reftype="doc",
                                 reftarget="/" + exercise.docname, refexplicit=True, refwarn=True,
                                 refdoc=env.docname)


def remember_exercises(env, exercises):
    """Record that the current page shows ``exercises`` (see :func:`outdated_pages`)."""
    for exercise in exercises:
        env.note_dependency(str(Path(env.srcdir) / exercise.path))
    if not hasattr(env, "nnbook_exercise_pages"):
        env.nnbook_exercise_pages = {}
    env.nnbook_exercise_pages[env.docname] = [exercise.path for exercise in graded_exercises(env.srcdir)]


class GradedExercisesDirective(SphinxDirective):
    """``{graded-exercises}``: one entry per student notebook, with its page and its download."""

    has_content = False

    def run(self):
        exercises = graded_exercises(self.env.srcdir)
        remember_exercises(self.env, exercises)
        if not exercises:
            return [nodes.paragraph(text="No graded exercise has been published yet.")]
        items = nodes.bullet_list()
        for exercise in exercises:
            paragraph = nodes.paragraph()
            paragraph += nodes.strong("", "", exercise_link(self.env, exercise))
            answers = {0: "", 1: " and a written answer"}.get(exercise.written, f" and {exercise.written} written answers")
            paragraph += nodes.Text(f" ({exercise.folder}): {len(exercise.tasks)} functions to write{answers}, "
                                    f"{exercise.points:g} points: ")
            for k, task in enumerate(exercise.tasks):
                paragraph += nodes.Text(", " if k else "")
                paragraph += nodes.literal(text=task)
            paragraph += nodes.Text(". ")
            paragraph += addnodes.download_reference("", "", nodes.literal(text=f"Download {Path(exercise.path).name}"),
                                                     reftarget="/" + exercise.path, refdoc=self.env.docname,
                                                     refexplicit=True)
            paragraph += nodes.Text(".")
            items += nodes.list_item("", paragraph)
        return [items]


def graded_exercise_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{graded-exercise}`ex02```: a link to the page of ``exercises/ex02/``, or its folder name until it exists."""
    env = inliner.document.settings.env
    exercises = graded_exercises(env.srcdir, text.strip())
    remember_exercises(env, exercises)
    if not exercises:
        return [nodes.literal(rawtext, text.strip())], []
    links = []
    for k, exercise in enumerate(exercises):
        links += [nodes.Text(" and ")] if k else []
        links.append(exercise_link(env, exercise))
    return links, []


def outdated_pages(app, env, added, changed, removed):
    """Pages that list exercises, when the set of exercise notebooks is no longer the one they saw."""
    current = [exercise.path for exercise in graded_exercises(env.srcdir)]
    pages = getattr(env, "nnbook_exercise_pages", {})
    return [docname for docname, seen in pages.items() if seen != current and docname in env.found_docs]


def purge_page(app, env, docname):
    getattr(env, "nnbook_exercise_pages", {}).pop(docname, None)


def merge_pages(app, env, docnames, other):
    if not hasattr(env, "nnbook_exercise_pages"):
        env.nnbook_exercise_pages = {}
    env.nnbook_exercise_pages.update(getattr(other, "nnbook_exercise_pages", {}))


def configure(app, config):
    """Put ``nnbook.__version__`` in every page's footer and in the substitution ``nnbook_version``.

    Also give the theme a colour mode to start from (without one, pydata-sphinx-theme
    logs an error on the console of the first page a reader opens).
    """
    stamp = f'<p class="nnbook-version">Built with <code>nnbook</code> {nnbook.__version__}.</p>'
    options = dict(config.html_theme_options)
    options["extra_footer"] = (options.get("extra_footer") or "") + stamp
    config.html_theme_options = options
    config.html_context = {"default_mode": "auto", **config.html_context}
    config.myst_substitutions = {**config.myst_substitutions, "nnbook_version": nnbook.__version__}


def number_self_checks(app, env):
    """Number the self-check questions per chapter: the k-th question of chapter n is "n.k".

    Sphinx numbers the ``exercise`` nodes of sphinx-exercise like figures, one count
    for the whole book (``env.toc_fignumbers``, filled just before this runs). This
    keeps Sphinx's order and replaces each number by (chapter, rank in the chapter),
    the chapter being ``nnbook_chapter_numbers[docname]``; the pages of one chapter
    share its count. A page with self-checks and no chapter number is a warning.
    Returns the pages whose numbers changed, which Sphinx then writes again.
    """
    numbers = app.config.nnbook_chapter_numbers
    found = sorted(((number, docname, node_id)
                    for docname, kinds in env.toc_fignumbers.items()
                    for node_id, number in kinds.get("exercise", {}).items()))
    counts, changed = {}, set()
    for _, docname, node_id in found:
        if docname not in numbers:
            logger.warning(f"self-check questions in {docname}, which has no chapter number in "
                           "nnbook_chapter_numbers (_config.yml)", location=docname)
            continue
        chapter = int(numbers[docname])
        counts[chapter] = counts.get(chapter, 0) + 1
        new = (chapter, counts[chapter])
        if env.toc_fignumbers[docname]["exercise"][node_id] != new:
            env.toc_fignumbers[docname]["exercise"][node_id] = new
            changed.add(docname)
    return sorted(changed)


#: The smallest size, as a fraction of the normal one, to which a display equation is shrunk to fit its column.
MIN_MATH_SCALE = 0.6

#: Runs when MathJax has typeset the page (MathJax's own ``startup.pageReady`` hook, so that
#: ``MathJax.startup.promise`` resolves after it), and again when the window is resized or a
#: dropdown opens: a display equation wider than its column is shrunk to fit, never below
#: MIN_MATH_SCALE, and marked ``data-nnbook-shrunk``. An inline script placed after the page's
#: ``window.MathJax = {...}``: it runs while the page is parsed, before the deferred tex-chtml.js.
FIT_DISPLAY_MATH = """
(function () {
  if (!window.MathJax) return;  // a page without mathematics
  const MIN_SCALE = %s;
  function fit() {
    document.querySelectorAll('mjx-container[display="true"]').forEach(function (math) {
      if (!('nnbookFontSize' in math.dataset)) math.dataset.nnbookFontSize = math.style.fontSize;
      math.style.fontSize = math.dataset.nnbookFontSize;
      delete math.dataset.nnbookShrunk;
      const width = math.clientWidth, needed = math.scrollWidth;
      if (width === 0 || needed <= width + 1) return;
      const scale = Math.max(MIN_SCALE, 0.99 * width / needed);
      math.style.fontSize = (parseFloat(getComputedStyle(math).fontSize) * scale).toFixed(2) + 'px';
      math.dataset.nnbookShrunk = scale.toFixed(2);
    });
  }
  let pending = false;
  function later() {
    if (pending) return;
    pending = true;
    setTimeout(function () { pending = false; fit(); }, 150);
  }
  const startup = window.MathJax.startup = window.MathJax.startup || {};
  startup.pageReady = function () {
    return MathJax.startup.defaultPageReady().then(function () {
      fit();
      window.addEventListener('resize', later);
      document.addEventListener('click', later);  // a dropdown that opens shows its equations
    });
  };
})();
""" % MIN_MATH_SCALE


def drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    """Load each script once per page.

    With Sphinx 7, scripts that an extension adds after the builder started are
    listed twice on every page (once with the file name ``None``, once ``""``);
    sphinx-thebe's inline ``const THEBE_JS_URL = …`` then fails with
    "Identifier 'THEBE_JS_URL' has already been declared".
    """
    if "script_files" not in context:
        return
    seen, unique = set(), []
    for script in context["script_files"]:
        key = (getattr(script, "filename", str(script)) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.add_config_value("nnbook_chapter_numbers", {}, "env", types=[dict])
    app.connect("config-inited", configure)
    app.connect("env-get-updated", number_self_checks, priority=900)  # after Sphinx numbered them
    # after the page's `window.MathJax = {...}` (priority 500), before the deferred tex-chtml.js runs
    app.add_js_file(None, body=FIT_DISPLAY_MATH, priority=600)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.add_directive("graded-exercises", GradedExercisesDirective)
    app.add_role("graded-exercise", graded_exercise_role)
    app.connect("env-get-outdated", outdated_pages)
    app.connect("env-purge-doc", purge_page)
    app.connect("env-merge-info", merge_pages)
    return {"version": nnbook.__version__, "parallel_read_safe": True, "parallel_write_safe": True}
