"""Helpers for the nbgrader round-trip tests: a throwaway copy of the course, and nbgrader run on it.

The tests of each exercise (``test_nbgrader.py`` for ex01, ``test_nbgrader_ex02.py``, …)
copy ``nbgrader_config.py`` and ``solutions/`` to a temporary folder, run
nbgrader's command line there as an instructor does from the repository root,
submit made-up students and read their scores back from the gradebook. The
repository itself is never written to. ``assert_inert_html`` checks that a
feedback page holds nothing live (the autograder's tests use it).
"""

import contextlib
import copy
import html
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(path.name for path in (ROOT / "solutions").iterdir() if path.is_dir())


def regenerate_command(assignment):
    return f"nbgrader generate_assignment {assignment} --force"


def nbgrader_env():
    """The environment with this interpreter's bin/ first on PATH: nbgrader runs the `alembic` script from there."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def nbgrader(course, *args):
    """Run ``nbgrader <args>`` in the course folder, as an instructor would from the repository root."""
    command = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"]
    result = subprocess.run(command, cwd=course, env=nbgrader_env(), capture_output=True, text=True, timeout=900)
    log = f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    assert result.returncode == 0, f"`nbgrader {' '.join(args)}` failed:\n{log}"
    return result


def make_course(folder, assignments=ASSIGNMENTS):
    """Copy the course into ``folder`` and run `nbgrader generate_assignment` for each of ``assignments``."""
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copytree(ROOT / "solutions", folder / "solutions", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for assignment in assignments:
        nbgrader(folder, "generate_assignment", assignment)
    return folder


def nbgrader_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def cells_by_id(notebook):
    return {nbgrader_id(cell): cell for cell in notebook.cells if nbgrader_id(cell)}


def grade_cells(notebook):
    """The grade ids of the test cells of ``notebook`` (graded automatically), in order."""
    return [nbgrader_id(cell) for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("grade") and not cell.metadata["nbgrader"].get("solution")]


def written_cells(notebook):
    """The grade ids of the written answers of ``notebook`` (markdown answer cells graded by hand), in order."""
    return [nbgrader_id(cell) for cell in notebook.cells
            if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("grade")
            and cell.metadata["nbgrader"].get("solution")]


def secret_lines(notebook, regions=("SOLUTION", "HIDDEN TESTS"), min_length=8):
    """Code lines found only inside the given nbgrader regions of ``notebook``, never elsewhere in it.

    ``regions`` names the markers (``### BEGIN SOLUTION`` … ``### END SOLUTION``,
    ``### BEGIN HIDDEN TESTS`` …); comments and lines shorter than ``min_length``
    are left out, being too common to tell a leak.
    """
    secret, public = set(), set()
    for cell in notebook.cells:
        inside = False
        for line in cell.source.splitlines():
            if any(f"BEGIN {region}" in line for region in regions):
                inside = True
            elif any(f"END {region}" in line for region in regions):
                inside = False
            else:
                (secret if inside else public).add(line.strip())
    return {line for line in secret - public if len(line) >= min_length and not line.startswith("#")}


def written_answer(source):
    """A solution cell as a student would write it: without nbgrader's markers and the unreachable stub."""
    skipped = ("### BEGIN SOLUTION", "### END SOLUTION", "raise NotImplementedError")
    return "\n".join(line for line in source.splitlines() if not any(mark in line for mark in skipped))


def submission(release, answers):
    """The released notebook with the solution cells named in ``answers`` replaced by their new source."""
    notebook = copy.deepcopy(release)
    cells = cells_by_id(notebook)
    for grade_id, source in answers.items():
        cells[grade_id].source = source.strip("\n")
    return notebook


def submit(course, assignment, student, notebook_name, notebook):
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / notebook_name)


def cell_scores(course, assignment, students, written=False):
    """``{student: {test cell: score}}`` read from the gradebook (one notebook per assignment).

    With ``written=True``, the grades of the written answers instead (markdown cells graded by hand):
    ``{student: {answer cell: Grade}}``, nbgrader's ``Grade`` records themselves (``needs_manual_grade``,
    ``auto_score``, ``manual_score``), read while the gradebook is open.
    """
    from nbgrader.api import Gradebook

    scores = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", nbgrader_env()["PATH"])  # the Gradebook checks its schema with `alembic`
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="nnbook") as gradebook:
            for student in students:
                (notebook,) = gradebook.find_submission(assignment, student).notebooks
                grades = [grade for grade in notebook.grades if (grade.cell.cell_type == "markdown") == written]
                scores[student] = {grade.name: (grade.to_dict() if written else grade.score) for grade in grades}
    return scores


def autograded(course, assignment, student, notebook_name):
    return nbformat.read(course / "autograded" / student / assignment / notebook_name, as_version=4)


def failures(course, assignment, student, notebook_name):
    """``{grade cell: (ename, evalue)}`` for the cells of a student's autograded notebook that raised."""
    found = {}
    for grade_id, cell in cells_by_id(autograded(course, assignment, student, notebook_name)).items():
        for error in errors(cell):
            found[grade_id] = (error.ename, error.evalue)
    return found


def assert_untouched_fails_only_with_its_stubs(course, assignment, notebook_name, scores, grade_ids):
    """The student version as released scores 0 in every test cell, each failing with the stub's
    ``NotImplementedError("<assignment>: <function>")`` and nothing else; returns the failures."""
    assert scores == dict.fromkeys(grade_ids, 0.0)
    failed = failures(course, assignment, "untouched", notebook_name)
    assert set(grade_ids) <= set(failed)
    for grade_id, (ename, evalue) in failed.items():
        assert ename == "NotImplementedError" and evalue.startswith(f"{assignment}: "), (grade_id, evalue)
    return failed


def assert_ran_cleanly(notebook):
    """Assert that no cell of an autograded ``notebook`` raised an error or wrote to stderr."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error" and output.get("name") != "stderr", (nbgrader_id(cell), output)


def errors(cell):
    return [output for output in cell.get("outputs", []) if output.output_type == "error"]


class _MarkupInspector(HTMLParser):
    """Collects what, in an HTML page, would run or load something: scripts, handlers, frames, script URLs."""

    FRAMES = {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "form", "portal"}
    URL_SCHEMES = ("javascript:", "vbscript:", "data:text/html")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems, self.scripts, self._script = [], [], None

    def handle_starttag(self, tag, attrs):
        self._check(tag, attrs)
        if tag == "script":
            self._script = []

    def handle_startendtag(self, tag, attrs):
        self._check(tag, attrs)

    def _check(self, tag, attrs):
        if tag in self.FRAMES:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            squeezed = re.sub(r"[\s\x00-\x1f]", "", value or "").lower()
            if name.startswith("on") or name == "srcdoc" or squeezed.startswith(self.URL_SCHEMES):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if tag == "script" and name == "src" or tag == "link" and name == "href" and "://" in (value or ""):
                self.problems.append(f"<{tag} {name}={value!r}> loads a file")
            if tag == "meta" and name == "http-equiv":
                self.problems.append(f"<meta http-equiv={value!r}>")

    def handle_data(self, data):
        if self._script is not None:
            self._script.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append("".join(self._script))
            self._script = None


def live_markup(text):
    """``(problems, scripts)`` of the HTML ``text``: what would run or load something (handlers, frames, script URLs),
    and the text of every script."""
    inspector = _MarkupInspector()
    inspector.feed(text)
    inspector.close()
    return inspector.problems, inspector.scripts


def assert_inert_html(text, allowed_scripts=()):
    """Assert that the HTML ``text`` runs no script but ``allowed_scripts`` (their exact text) and has no event handler,
    frame, form, ``javascript:`` URL or file loaded from elsewhere: nothing a submission wrote can be live in it."""
    problems, scripts = live_markup(text)
    allowed = {script.strip() for script in allowed_scripts}
    unknown = [script.strip()[:200] for script in scripts if script.strip() not in allowed]
    assert not problems, f"live markup: {problems[:5]}"
    assert not unknown, f"scripts that are not the page's own: {unknown[:3]}"


def feedback_scripts():
    """The two scripts a feedback page may hold: MathJax's configuration and MathJax itself."""
    from nnbook.autograder import feedback

    return feedback.MATHJAX_CONFIG, feedback.mathjax_script()


def page_text(text):
    """The visible text of an HTML page: without its styles and scripts, its tags, its entities."""
    text = re.sub(r"<(style|script)\b.*?</\1>", "", text, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


@contextlib.contextmanager
def formgrader(course):
    """nbgrader's formgrader, served by a Jupyter server started in ``course``: yields ``request(path, json=None)``.

    ``request`` GETs ``path`` (PUTs ``json`` when given) with the server's token and returns the text of the
    answer; ``request.url`` and ``request.token`` are the server's address and token, for a browser. The server listens on 127.0.0.1 only, with Jupyter's folders in the course (nothing of the
    machine's configuration), and is stopped at the end.
    """
    import json as json_module
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "formgrader-test-token"
    jupyter = course / ".jupyter-test"
    env = dict(nbgrader_env(), JUPYTER_CONFIG_DIR=str(jupyter / "config"), JUPYTER_DATA_DIR=str(jupyter / "data"),
               JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"))
    command = [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
               "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}"]
    server = subprocess.Popen(command, cwd=course, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def request(path, json=None):
        data = None if json is None else json_module.dumps(json).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="GET" if json is None else "PUT",
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as answer:
            return answer.read().decode()

    request.url, request.token = f"http://127.0.0.1:{port}", token
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request("/api/status")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the Jupyter server did not start:\n{server.stderr.read()[-3000:]}") from None
                time.sleep(0.2)
        yield request
    finally:
        server.terminate()
        try:
            server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def formgrader_page(course, assignment, student, notebook_name):
    """The formgrader's manual-grading page of one submission, rendered in this process as the formgrader renders it.

    The exporter is the formgrader's: nbconvert's ``HTMLExporter`` with the course's configuration
    (``nbgrader_config.py``, whose ``HTMLExporter.preprocessors`` make the student's markup inert) and
    nbgrader's ``formgrade`` template; the resources are those its submission page passes.
    """
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from nnbook.autograder import autograde

    config = copy.deepcopy(autograde.course_config(course))
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {"assignment_id": assignment, "notebook_id": Path(notebook_name).stem, "submission_id": "id",
                 "index": 0, "total": 1, "base_url": "", "student": student, "last_name": None, "first_name": None,
                 "notebook_path": f"autograded/{student}/{assignment}/{notebook_name}"}
    page, _ = HTMLExporter(config=config).from_filename(
        str(course / "autograded" / student / assignment / notebook_name), resources=resources)
    return page
