"""Sphinx hooks of the book (a local extension, loaded by _config.yml).

* Every page's footer states the version of ``nnbook`` the book was built with
  (and ``{{ nnbook_version }}`` is a MyST substitution for the same string).
* ``{graded-exercises}`` lists the student notebooks found in ``exercises/*/``:
  title, the functions to write, points, a link to the readable page and a
  download link. Nothing is hard-coded: a new exercise folder appears by itself.
* ``{graded-exercise}`ex02``` links a chapter to the page of one assignment, or
  prints the folder name while that assignment does not exist yet.
* Each page loads each of its scripts once (see :func:`drop_duplicate_scripts`).

Pages that list exercises are read again when the set of exercise notebooks
changes, and when one of them is edited.
"""

import json
from pathlib import Path
from typing import NamedTuple

from docutils import nodes
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective

import nnbook

EXERCISES = "exercises"


class GradedExercise(NamedTuple):
    """One student notebook of ``exercises/<folder>/``."""

    folder: str
    path: str  # relative to the book's root, e.g. "exercises/ex01/perceptron_logistic.ipynb"
    title: str
    tasks: list  # the grade ids of the cells the student writes
    points: float

    @property
    def docname(self):
        return self.path.removesuffix(".ipynb")


def read_exercise(root, path):
    """Title, tasks and points of the student notebook ``root / path`` (from nbgrader's cell metadata)."""
    notebook = json.loads((root / path).read_text(encoding="utf-8"))
    title, tasks, points = Path(path).stem, [], 0.0
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and title == Path(path).stem:
            heading = next((line for line in source.splitlines() if line.startswith("# ")), None)
            title = heading[2:].strip() if heading else title
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if grading.get("solution") and cell["cell_type"] == "code":
            tasks.append(grading["grade_id"])
        points += float(grading.get("points", 0) if grading.get("grade") else 0)
    return GradedExercise(Path(path).parent.name, path.as_posix(), title, tasks, points)


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
            paragraph += nodes.Text(f" ({exercise.folder}): {len(exercise.tasks)} functions to write, "
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
    app.connect("config-inited", configure)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.add_directive("graded-exercises", GradedExercisesDirective)
    app.add_role("graded-exercise", graded_exercise_role)
    app.connect("env-get-outdated", outdated_pages)
    app.connect("env-purge-doc", purge_page)
    app.connect("env-merge-info", merge_pages)
    return {"version": nnbook.__version__, "parallel_read_safe": True, "parallel_write_safe": True}
