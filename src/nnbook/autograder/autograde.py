"""``nnbook-autograde``: autograde every submission of an exercise, in parallel, sandboxed, with trusted verdicts.

Run from the course folder (the repository root), as ``nbgrader autograde`` is::

    nnbook-autograde ex01                 # every submitted/<student>/ex01/
    nnbook-autograde ex01 --student ada   # one student (repeatable)

It drives nbgrader's own API, after an intake, in two steps per submission:

0. **Intake** (in this process, :func:`take_in`): each notebook is read once,
   if it is a regular file of the student's own (not a symbolic link, one
   name, not too large, in real folders ``submitted/<student>/<assignment>/``),
   and copied under ``.nnbook-autograde/<assignment>/intake/``; everything
   after works from that copy. Anything else, a student id nbgrader would take
   as a glob pattern, a notebook under another name, scores 0 with the reason.
1. **Run** (in a pool of worker processes, one per CPU core): nbgrader's
   sanitizing preprocessors restore the locked cells and metadata from the
   gradebook (deleted test cells are added back); then
   :class:`nnbook.autograder.trusted_execute.SandboxedExecute` runs the copy with the
   run's secret hidden seed: the student's cells in a kernel inside
   :mod:`nnbook.autograder.sandbox` (a throwaway folder, no network, time, CPU and memory
   limits), the test cells in the worker, on the student's values brought back
   as plain data. The executed notebook and a summary (with the seed) are
   written atomically under ``.nnbook-autograde/<assignment>/``.
2. **Record** (in this process, one submission at a time, so the gradebook has
   a single writer): nbgrader's ``Autograde`` converter runs with its usual
   pipeline, reading the submission from a staging folder that holds only the
   copy, except that its ``Execute`` step is :class:`ReuseExecution`, which
   takes the outputs of step 1. nbgrader thus writes
   ``autograded/<student>/<assignment>/`` (the notebook, and the checked
   ``timestamp.txt``, only), the scores,
   comments and late penalties as ``nbgrader autograde`` would. An interrupt
   (Ctrl-C, SIGTERM) waits until the submission being recorded is complete.

Then :class:`nnbook.autograder.feedback.FeedbackExporter` writes ``feedback/<student>/<assignment>/*.html``
(and nothing else there): each test named after what it grades, its verdict,
the student's code; no hidden test, no output of the student's cells. A CSV of
the gradebook's scores with each submission's status is written (every student,
cells safe for spreadsheets), and a summary of every student printed.

Re-running is idempotent: a submission whose notebook, source notebook and
options are unchanged is not run again (``--force`` runs it again); step 2 is
always redone, so a run interrupted anywhere is completed by the next one.
The exit status is 0 when every submission was processed, whatever the
students' code did; 1 when the grader itself failed on one; 2 when it refused
to start (no sandbox, unknown assignment).
"""

import argparse
import ast
import concurrent.futures
import contextlib
import copy
import csv
import errno
import hashlib
import json
import logging
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import stat
import sys
import tempfile
import time
import traceback
import warnings
from functools import lru_cache
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    IgnorePattern,
    LimitOutput,
    NbGraderPreprocessor,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)
from traitlets import Unicode
from traitlets.config.loader import PyFileConfigLoader

import nnbook

from . import feedback, sandbox
from .trusted_execute import SandboxedExecute, student_signatures

STATUSES = ("graded", "failed", "timed out", "kernel died")
WORK_FOLDER = ".nnbook-autograde"
MAX_NOTEBOOK_BYTES = 32 * 2**20  # a submitted notebook larger than this is refused
MAX_TIMESTAMP_BYTES = 1024
GLOB_CHARACTERS = "*?[]"
CLUSTER_WAIT_SECONDS = 60  # how long --scheduler waits for the scheduler to answer, then for a first worker


class ReuseExecution(NbGraderPreprocessor):
    """nbgrader's ``Execute`` step, replaced: the outputs of the notebook the sandboxed run executed.

    The executed notebook must have the same cells as the one nbgrader has just
    sanitized; otherwise the submission changed since it was run, and this fails.
    """

    folder = Unicode(help="Where the runs left the executed notebooks: <folder>/<student>/<notebook>.ipynb").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        path = Path(self.folder) / info["student"] / f"{info['notebook']}.ipynb"
        executed = nbformat.read(path, as_version=4)
        if [cell.source for cell in executed.cells] != [cell.source for cell in nb.cells]:
            raise RuntimeError(f"{path} does not match the submission: run it again with --force")
        for cell, done in zip(nb.cells, executed.cells):
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = done.outputs, done.execution_count
        nb.metadata["language_info"] = executed.metadata.get("language_info", {})
        return nb, resources


class RestoreLockedCells(OverwriteCells):
    """nbgrader's ``OverwriteCells``, without its false alarm on every cell with hidden tests.

    ``generate_assignment`` records each test cell in the gradebook with its
    hidden tests (so that grading can put them back) and the checksum of that
    source, then releases the cell without them. Every submission, untouched
    ones included, therefore differs from the gradebook in each such cell, and
    nbgrader's ``OverwriteCells`` warns "Attribute 'checksum' for cell … has
    changed!" for each one while it puts the hidden tests back (nbgrader issue
    #1961). Here a locked cell whose source is exactly the released one (the
    gradebook's without its hidden tests) gets the gradebook's source first, as
    nbgrader would give it; any other difference (an edited test, changed
    points or flags) is judged, restored and reported by nbgrader as before.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id:
            try:
                source_cell = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                source_cell = None
            if (source_cell is not None and source_cell.locked and source_cell.cell_type == cell.cell_type
                    and cell.source == feedback.without_hidden_tests(source_cell.source)):
                cell.source = source_cell.source
        return super().preprocess_cell(cell, resources, cell_index)


SANITIZE = [ClearOutput, DeduplicateIds, OverwriteKernelspec, RestoreLockedCells, CheckCellMetadata]


# -- the course ------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def course_config(course):
    """The course's ``nbgrader_config.py``, rooted at ``course``, with the autograder's settings."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    config.OverwriteCells.add_missing_cells = True  # a deleted test cell is put back, and graded
    config.ClearHiddenTests.enforce_metadata = False
    return config


def course_paths(course, assignment):
    config = course_config(course)
    directory = config.CourseDirectory
    return {
        "db_url": directory.get("db_url") or f"sqlite:///{course / 'gradebook.db'}",
        "source": course / directory.get("source_directory", "source") / assignment,
        "release": course / directory.get("release_directory", "release") / assignment,
        "submitted": course / directory.get("submitted_directory", "submitted"),
        "autograded": course / directory.get("autograded_directory", "autograded"),
        "feedback": course / directory.get("feedback_directory", "feedback"),
        "work": course / WORK_FOLDER / assignment,
    }


def expected_notebooks(course, assignment):
    """The names of the assignment's notebooks (``perceptron_logistic.ipynb``), from its source folder."""
    return sorted(path.name for path in course_paths(course, assignment)["source"].glob("*.ipynb"))


def _sha256(*paths):
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def run_key(course, assignment, student, options):
    """What a run depends on: the submission (the intake's copy), the source notebooks, the package, the options.

    The hidden tests' seed is not part of it: an unchanged submission keeps the
    run it had, with the seed recorded in its result.
    """
    paths = course_paths(course, assignment)
    notebooks = sorted(paths["source"].glob("*.ipynb"))
    submitted = [paths["work"] / "intake" / student / path.name for path in notebooks]
    package = [path for _, path in sandbox.package_modules()]  # every module, in every subfolder
    keys = ("timeout", "cell_timeout", "memory", "cpu", "isolate", "disk", "processes")
    options = {key: options.get(key) for key in keys}
    # the course's configuration too: its limits and allowed imports decide how a notebook runs
    return _sha256(*notebooks, *submitted, *package, course / "nbgrader_config.py") + json.dumps(options, sort_keys=True)


def _write_atomically(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(text) if isinstance(text, bytes) else partial.write_text(text)
    os.replace(partial, path)


# -- intake: what a student handed in, read once ---------------------------------------------------------------------


class Refused(Exception):
    """A submission that is not a notebook file of the student's own: graded 0, with this reason."""


def refused_id(student):
    """Why the folder name ``student`` cannot be graded as a student id, or ``None``.

    nbgrader takes a student id as a glob pattern (``*`` would match, and
    re-record, every other student) and strips trailing whitespace (another
    student's id); such ids are refused, never passed to nbgrader.
    """
    if any(character in GLOB_CHARACTERS for character in student):
        return (f"the student id {student!r} contains a glob character ({' '.join(GLOB_CHARACTERS)}), which nbgrader "
                "would match against other students' folders: refused (rename the folder)")
    if not student or student != student.strip() or not student.isprintable():
        return f"the student id {student!r} has surrounding spaces or control characters: refused (rename the folder)"
    return None


def submitted_students(course, assignment):
    """The names under ``submitted/`` with an entry ``<assignment>`` (of any kind: a link is refused at intake).

    Folders whose name starts with a dot (``.ipynb_checkpoints``) are not
    students, as for nbgrader, whose ``*`` does not match them.
    """
    root = course_paths(course, assignment)["submitted"]
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(name for name in names if not name.startswith(".") and os.path.lexists(root / name / assignment))


def _kind(mode):
    kinds = [(stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
             (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISREG, "a file")]
    return next((name for test, name in kinds if test(mode)), "not a file")


def _open_folder(name, parent, shown):
    """The descriptor of the folder ``name`` in the open folder ``parent``: a folder, not a link to one."""
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            kind = _kind(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
            raise Refused(f"{shown} is {kind}, not a folder of your own") from None
        raise Refused(f"{shown} cannot be opened ({error.strerror})") from None


def read_own_file(name, folder, shown, limit):
    """The bytes of ``name`` in the open folder ``folder``: a regular file, not a link, with one name, small enough.

    The entry is checked before it is opened (a FIFO or a device is never
    opened), then opened once with ``O_NOFOLLOW | O_NONBLOCK`` and checked again
    on the descriptor, which is what is read. ``FileNotFoundError`` if absent;
    :class:`Refused` with the reason otherwise.
    """
    def check(status):
        if not stat.S_ISREG(status.st_mode):
            raise Refused(f"{shown} is {_kind(status.st_mode)}, not a file of your own")
        if status.st_nlink != 1:
            raise Refused(f"{shown} has {status.st_nlink} names (hard links): only a file of your own, with one "
                          "name, is graded")
        if status.st_size > limit:
            raise Refused(f"{shown} is larger than {limit:,} bytes")

    before = os.stat(name, dir_fd=folder, follow_symlinks=False)
    check(before)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=folder)
    except OSError as error:
        raise Refused(f"{shown} cannot be opened ({error.strerror})") from None
    with os.fdopen(fd, "rb") as file:
        status = os.fstat(fd)
        check(status)
        if (status.st_dev, status.st_ino) != (before.st_dev, before.st_ino):
            raise Refused(f"{shown} was replaced while it was read")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise Refused(f"{shown} is larger than {limit:,} bytes")
    return data


def take_in(course, assignment, student):
    """Read what ``student`` handed in, once, and keep a copy: everything after works from the copy.

    Accepted: each notebook of the assignment as a regular file, not a
    symbolic link, with one name (no hard link), at most
    ``MAX_NOTEBOOK_BYTES``, in ``submitted/<student>/<assignment>/``, both of
    them real folders, not links. The copies go to
    ``.nnbook-autograde/<assignment>/intake/<student>/``; ``timestamp.txt``, read
    the same way, must be a date nbgrader can read, or it is ignored (flagged).
    Nothing else beside the notebook is read. Returns ``{"ok", "reason",
    "flags", "notebooks": {name: sha256}, "timestamp"}``; never raises for what
    the student handed in.
    """
    paths = course_paths(course, assignment)
    copies = paths["work"] / "intake" / student
    shutil.rmtree(copies, ignore_errors=True)
    intake = {"student": student, "ok": False, "reason": "", "flags": [], "notebooks": {}, "timestamp": None}
    expected = expected_notebooks(course, assignment)
    where = f"submitted/{student}/{assignment}"
    opened = []
    try:
        opened.append(os.open(paths["submitted"], os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
        opened.append(_open_folder(student, opened[-1], f"submitted/{student}"))
        opened.append(_open_folder(assignment, opened[-1], where))
        folder = opened[-1]
        handed_in = sorted(name for name in os.listdir(folder) if name.endswith(".ipynb"))
        found = {}
        for name in expected:
            try:
                found[name] = read_own_file(name, folder, name, MAX_NOTEBOOK_BYTES)
            except FileNotFoundError:
                continue
        missing = [name for name in expected if name not in found]
        if missing:
            got = ", ".join(name for name in handed_in if name not in expected) or "no notebook"
            message = f"notebook not found: expected {', '.join(missing)}, got {got}"
            if not found:
                raise Refused(message)
            intake["flags"].append(message)
        try:
            text = read_own_file("timestamp.txt", folder, "timestamp.txt", MAX_TIMESTAMP_BYTES).decode().strip()
            intake["timestamp"] = utils.parse_utc(text).isoformat() if text else None
        except FileNotFoundError:
            pass
        except Exception as error:  # noqa: BLE001 (not a date, not a file, not UTF-8: the student's)
            reason = str(error) if isinstance(error, Refused) else f"{type(error).__name__}: {str(error)[:100]}"
            intake["flags"].append(f"timestamp.txt ignored ({reason}): graded as on time")
        for name, data in found.items():
            _write_atomically(copies / name, data)
            intake["notebooks"][name] = hashlib.sha256(data).hexdigest()
        intake["ok"] = True
    except Refused as refusal:
        intake["reason"] = str(refusal)
    except OSError as error:
        intake["reason"] = f"{where} cannot be read ({error.strerror or error})"
    finally:
        for fd in opened:
            os.close(fd)
    return intake


# -- step 1: run a submission (in a worker) ------------------------------------------------------------------------


def nnbook_modules(notebook, locked=False):
    """The modules of ``nnbook`` (other than the helpers) that the code cells mention; all cells, or the unlocked only."""
    mentioned = set()
    for cell in notebook.cells:
        if cell.cell_type != "code" or (utils.is_locked(cell) and not locked):
            continue
        for match in re.finditer(r"\bnnbook[ \t]*\.[ \t]*(\w+)|\bfrom[ \t]+nnbook[ \t]+import[ \t]+\(?[ \t]*([\w \t,]+)", cell.source):
            names = [match.group(1)] if match.group(1) else re.findall(r"\w+", match.group(2))
            mentioned.update(name for name in names if name not in sandbox.KERNEL_TOP_LEVEL and name != "as")
    return mentioned


def reference_uses(notebook, release=None):
    """The reference modules the student's cells mention and the released notebook does not (masked when graded)."""
    mentioned = nnbook_modules(notebook) - (nnbook_modules(release, locked=True) if release is not None else set())
    return [f"uses the package's reference implementation (nnbook.{name})" for name in sorted(mentioned)]


def released_modules(course, assignment):
    """The modules of ``nnbook`` that the released notebooks import when they run (left unmasked in the sandbox).

    Only imports that execute in the kernel count: those at the top level of a
    cell that is not a test (the data sets of a closing demo, say), not those
    inside a function of the setup cell, which only the grader calls.
    """
    imported = set()
    for path in sorted(course_paths(course, assignment)["release"].glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or utils.is_grade(cell):
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            nodes = [node for statement in tree.body if not isinstance(statement, (ast.FunctionDef, ast.ClassDef))
                     for node in ast.walk(statement)]
            for node in nodes:
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nnbook."):
                    imported.add(node.module.split(".")[1])
                elif isinstance(node, ast.ImportFrom) and node.module == "nnbook":
                    imported.update(alias.name for alias in node.names)
                elif isinstance(node, ast.Import):
                    imported.update(a.name.split(".")[1] for a in node.names if a.name.startswith("nnbook."))
    return sorted(imported - sandbox.KERNEL_TOP_LEVEL)


def tampering(submitted, release):
    """How the submission changed the locked cells or the nbgrader metadata of the released notebook."""
    def by_id(notebook):
        return {cell.metadata["nbgrader"]["grade_id"]: cell for cell in notebook.cells
                if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")}

    mine, theirs = by_id(submitted), by_id(release)
    flags = []
    for grade_id, cell in theirs.items():
        if grade_id not in mine:
            flags.append(f"deleted cell {grade_id} (put back from the gradebook)")
            continue
        keys = ("grade", "solution", "locked", "points")
        if any(mine[grade_id].metadata["nbgrader"].get(key) != cell.metadata["nbgrader"].get(key) for key in keys):
            flags.append(f"changed the nbgrader metadata of {grade_id} (restored)")
        if cell.metadata["nbgrader"].get("locked") and mine[grade_id].source != cell.source:
            flags.append(f"edited the locked cell {grade_id} (restored)")
    return flags


def package_digest():
    """The SHA-256 of every module of the installed ``nnbook``: a worker grades only with the client's package."""
    return _sha256(*(path for _, path in sandbox.package_modules()))


def prepare_submission(course, assignment, student, options, intake=None):
    """Step 1, the part that reads the course (here, on the instructor's machine): a job for :func:`execute_job`.

    It works from the copy :func:`take_in` made (``intake``, its answer; taken
    here when not given), never from ``submitted/``: each notebook is checked
    against the released one (tampering, reference uses: flags) and sanitized
    with nbgrader's preprocessors, which restore the locked and test cells from
    the gradebook. The job is plain data: the sanitized notebooks (the hidden
    tests are in them: grading needs them), the names each must define, the
    course's configuration, the options and the result so far; nothing of
    ``solutions/``' answers and no access to the gradebook. A submission that
    cannot be read is finished here: its job has no notebooks and a failed result.
    """
    paths = course_paths(course, assignment)
    if intake is None:
        intake = take_in(course, assignment, student)
    config = copy.deepcopy(course_config(course))
    if options.get("cell_timeout"):
        config.Execute.timeout = options["cell_timeout"]  # nbclient reloads its traits from the config
    result = {"student": student, "status": "graded", "reason": "", "flags": list(intake["flags"]), "cells": {},
              "key": run_key(course, assignment, student, options), "grader_error": False,
              "hidden_seed": options.get("hidden_seed"), "intake_flags": list(intake["flags"])}
    job = {"student": student, "assignment": assignment, "options": options, "config": config, "result": result,
           "modules": released_modules(course, assignment), "package": package_digest(), "notebooks": []}
    if not intake["ok"]:
        result.update(status="failed", reason=intake["reason"])
        return job
    for source_path in sorted(paths["source"].glob("*.ipynb")):
        name = source_path.stem
        submitted = paths["work"] / "intake" / student / source_path.name
        if source_path.name not in intake["notebooks"]:
            continue  # flagged by the intake; nbgrader gives its tests 0
        try:
            notebook = nbformat.reads(submitted.read_bytes().decode("utf-8", errors="replace"), as_version=4)
            release_path = paths["release"] / source_path.name
            release = nbformat.read(release_path, as_version=4) if release_path.exists() else None
            if release is not None:
                result["flags"] += tampering(notebook, release)
            result["flags"] += reference_uses(notebook, release)
            resources = {"nbgrader": {"notebook": name, "assignment": assignment, "student": student,
                                      "db_url": paths["db_url"]}}
            for preprocessor in SANITIZE:
                notebook, resources = preprocessor(config=config).preprocess(notebook, resources)
        except Exception as error:  # noqa: BLE001 (an unreadable notebook is the student's failure)
            result.update(status="failed", reason=f"{source_path.name} cannot be read as a notebook: "
                                                  f"{type(error).__name__}: {str(error)[:300]}")
            continue
        try:
            signatures = student_signatures(nbformat.read(source_path, as_version=4))
        except Exception as error:  # noqa: BLE001 (the course's own notebook: the grader's failure, reported)
            result.update(status="failed", grader_error=True,
                          reason=f"grader error: {source_path.name}: {type(error).__name__}: {error}")
            job["notebooks"] = []
            break
        job["notebooks"].append({"name": name, "notebook": nbformat.writes(notebook), "signatures": signatures,
                                 "resources": resources})
    return job


def execute_job(job):
    """Step 1, the part that runs the student's code: each notebook of ``job`` in its sandbox; ``(result, executed)``.

    It needs no course folder, only this package (the same as the client's:
    checked) and the sandbox (bubblewrap, root), so it runs in a local worker
    process or on a Dask worker of another machine alike. ``executed`` maps a
    notebook's name to the executed notebook (as JSON text). A failure of the
    grader itself is reported in the result (``grader_error``), never raised.
    """
    started = time.monotonic()
    result, options, executed = copy.deepcopy(job["result"]), job["options"], {}
    if package_digest() != job["package"]:
        result.update(status="failed", grader_error=True,
                      reason=f"grader error: this worker's nnbook ({nnbook.__version__}, in {Path(nnbook.__file__).parent}"
                             ") differs from the instructor's: install the course's package on every worker")
        return result, executed
    seed = {"hidden_seed": options["hidden_seed"]} if options.get("hidden_seed") is not None and hasattr(
        SandboxedExecute, "hidden_seed") else {}
    scratch = Path(tempfile.mkdtemp(prefix="nnbg-", dir="/tmp"))  # short: unix socket paths are limited to 107 bytes
    try:
        package = sandbox.student_package(scratch / "lib", job["modules"])
        for entry in job["notebooks"]:
            name = entry["name"]
            executor = SandboxedExecute(
                config=job["config"], scratch=str(scratch / f"run-{name}"), package=str(package),
                names=list(entry["signatures"]), signatures=entry["signatures"], isolate=options["isolate"],
                memory=options["memory"], cpu_seconds=options["cpu"], notebook_timeout=options["timeout"], **seed,
                **{key: options[key] for key in ("disk", "processes") if options.get(key) is not None},
            )
            notebook, _ = executor.preprocess(nbformat.reads(entry["notebook"], as_version=4),
                                              copy.deepcopy(entry["resources"]))
            if executor.status != "graded" and result["status"] == "graded":
                result.update(status=executor.status, reason=executor.stopped)
            for cell in notebook.cells:
                if utils.is_grade(cell):
                    score, points = utils.determine_grade(cell)
                    # a written answer (a markdown cell graded by hand) has no outputs, and no score until then
                    message = next((o.evalue for o in cell.get("outputs", []) if o.output_type == "error"), "")
                    result["cells"][cell.metadata["nbgrader"]["grade_id"]] = [score, points, message]
            executed[name] = nbformat.writes(notebook)
    except Exception as error:  # noqa: BLE001 (the grader's own failure: reported, and the batch goes on)
        result.update(status="failed", grader_error=True,
                      reason=f"grader error: {type(error).__name__}: {error}\n{traceback.format_exc()[-2000:]}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result["seconds"] = round(time.monotonic() - started, 2)
    return result, executed


def store_outcome(course, assignment, result, executed):
    """Step 1's outcome written atomically under ``.nnbook-autograde/<assignment>/`` (executed notebooks first,
    the summary last: a summary on disk means a complete run); returns ``result``."""
    paths = course_paths(course, assignment)
    for name, text in executed.items():
        _write_atomically(paths["work"] / "executed" / result["student"] / f"{name}.ipynb", text)
    _write_atomically(paths["work"] / "results" / f"{result['student']}.json", json.dumps(result, indent=1))
    return result


def run_submission(course, assignment, student, options, intake=None):
    """Step 1 for one student, on this machine: :func:`prepare_submission`, :func:`execute_job`, :func:`store_outcome`.

    Returns the summary, also written to ``results/<student>.json``.
    """
    return store_outcome(course, assignment, *execute_job(prepare_submission(course, assignment, student, options,
                                                                               intake)))


def _worker_init():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    logging.getLogger("traitlets").setLevel(logging.ERROR)


# -- step 2: record the grades (in this process) ---------------------------------------------------------------------


def _course_id(course):
    return course_config(course).CourseDirectory.get("course_id", "default_course")


class _Errors(logging.Handler):
    """Keeps the errors nbgrader logs, so that a failure says more than "Please see the above traceback"."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def record(course, assignment, student, intake):
    """Step 2 for one student: nbgrader's ``Autograde`` converter, fed the intake's copy and the executed notebooks.

    nbgrader reads the submission from a staging folder under
    ``.nnbook-autograde/`` that holds only the copy :func:`take_in` made (and a
    checked ``timestamp.txt``), never ``submitted/``: it copies everything
    beside the notebook into ``autograded/``, and that is then only the graded
    notebook. Raises on failure, with nbgrader's own error.
    """
    paths = course_paths(course, assignment)
    config = copy.deepcopy(course_config(course))
    config.CourseDirectory.submitted_directory = os.path.relpath(paths["work"] / "staging", course)
    config.Autograde.sanitize_preprocessors = SANITIZE
    config.Autograde.autograde_preprocessors = [
        ReuseExecution, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, AssignLatePenalties,
        CheckCellMetadata,
    ]
    config.ReuseExecution.folder = str(paths["work"] / "executed")
    config.BaseConverter.force = True
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.student_id = student
    coursedir = CourseDirectory(config=config)
    staged = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    errors = _Errors()
    converter = Autograde(coursedir=coursedir, config=config)
    converter.log.addHandler(errors)
    try:
        for name in intake["notebooks"]:
            shutil.copyfile(paths["work"] / "intake" / student / name, staged / name)
        if intake.get("timestamp"):
            (staged / "timestamp.txt").write_text(intake["timestamp"])
        converter.start()
    except Exception as error:
        details = [line for message in errors.messages for line in message.splitlines() if line.strip()]
        raise RuntimeError(f"{error} {' | '.join(details[-3:])}".strip()) from error
    finally:
        converter.log.removeHandler(errors)
        shutil.rmtree(staged, ignore_errors=True)


def record_refusal(course, assignment, student, reason, page=True):
    """A submission that cannot be graded: 0 for every test in the gradebook, as nbgrader gives a notebook not handed in.

    Its stale ``autograded/`` and ``feedback/`` folders (of an earlier run) are
    removed; with ``page``, the feedback is one page giving the reason.
    """
    paths = course_paths(course, assignment)
    with Gradebook(paths["db_url"], course_id=_course_id(course)) as gradebook:
        gradebook.update_or_create_student(student)
        submission = gradebook.update_or_create_submission(assignment, student)
        maxima = {}
        for notebook in submission.notebooks:
            maxima[notebook.name] = notebook.max_score
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        gradebook.db.commit()
    for step in ("autograded", "feedback"):
        _remove(paths[step] / student / assignment)
    if page:
        for name, max_score in maxima.items():
            text = feedback.refusal_page(name, assignment, reason, max_score)
            _write_atomically(paths["feedback"] / student / assignment / f"{name}.html", text)


def _remove(folder):
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder)


def write_feedback(course, assignment, students):
    """The feedback HTML of ``students``, from their autograded notebooks; ``{student: error}`` for those that failed.

    :class:`nnbook.autograder.feedback.FeedbackExporter` with the preprocessors of
    ``nnbook.autograder.feedback.PREPROCESSORS`` (nbgrader's ``GetGrades``, which
    also marks the written answers still to grade by hand, and the sanitizer), as
    ``nbgrader_config.py`` gives ``nbgrader generate_feedback``.
    ``feedback/<student>/<assignment>/`` is emptied and gets the pages only:
    nothing else of ``autograded/`` or of the submission.
    """
    paths = course_paths(course, assignment)
    config = copy.deepcopy(course_config(course))
    exporter = feedback.FeedbackExporter(config=config)
    for preprocessor in feedback.PREPROCESSORS:
        exporter.register_preprocessor(preprocessor, enabled=True)
    failed = {}
    for student in students:
        try:
            pages = {}
            for name in expected_notebooks(course, assignment):
                graded = paths["autograded"] / student / assignment / name
                if not graded.is_file():
                    continue
                stem = Path(name).stem
                resources = {"nbgrader": {"student": student, "assignment": assignment, "notebook": stem,
                                          "db_url": paths["db_url"]}}
                pages[f"{stem}.html"], _ = exporter.from_notebook_node(nbformat.read(graded, as_version=4), resources)
            folder = paths["feedback"] / student / assignment
            _remove(folder)
            for page, text in pages.items():
                _write_atomically(folder / page, text)
        except Exception as error:  # noqa: BLE001 (one student's page never stops the others)
            failed[student] = f"{type(error).__name__}: {str(error)[:300]}"
    return failed


def spreadsheet_safe(value):
    """``value`` as a CSV cell that a spreadsheet shows as text: ``=``, ``+``, ``-``, ``@``, tab or CR first gets a ``'``.

    OWASP's advice against CSV injection: a cell starting with one of these is
    a formula to Excel, LibreOffice and Google Sheets.
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_csv(course, assignment, results, path):
    """One row per student: the gradebook's scores (nbgrader's API), the status of the run, its flags and reason.

    A submission refused or unreadable scores 0 (a refused student id is not in
    the gradebook at all); a grader error leaves the score empty. Every text
    cell is written :func:`spreadsheet_safe`; the rows returned are as they were.
    """
    paths = course_paths(course, assignment)
    with Gradebook(paths["db_url"], course_id=_course_id(course)) as gradebook:
        try:
            assignment_max = gradebook.find_assignment(assignment).max_score
        except MissingEntry:
            assignment_max = ""
        rows = []
        for student, result in sorted(results.items()):
            try:
                submission = gradebook.find_submission(assignment, student)
                score, max_score = submission.score, submission.max_score
            except MissingEntry:
                score, max_score = ("", "") if result["grader_error"] or result["status"] != "failed" else (0.0, assignment_max)
            rows.append({"student_id": student, "assignment": assignment, "score": score, "max_score": max_score,
                         "status": result["status"], "flags": "; ".join(result["flags"]),
                         "reason": result["reason"].splitlines()[0] if result["reason"] else ""})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]) if rows else ["student_id"])
        writer.writeheader()
        writer.writerows([{key: spreadsheet_safe(value) for key, value in row.items()} for row in rows])
    return rows


@contextlib.contextmanager
def deferred_interrupts():
    """Hold SIGINT and SIGTERM until the block ends, so that a submission is recorded whole or not at all."""
    received = []
    previous = {sig: signal.signal(sig, lambda number, frame: received.append(number))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            raise KeyboardInterrupt


# -- the command -----------------------------------------------------------------------------------------------------


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="nnbook-autograde", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", help="the assignment to grade, e.g. ex01")
    parser.add_argument("--course", default=".", help="the course folder, with nbgrader_config.py (default: here)")
    parser.add_argument("--student", action="append", default=[], help="grade only this student (repeatable)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel runs (default: CPU cores)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run the notebooks on the workers of this Dask scheduler (tcp://host:8786) instead of "
                             "local processes; this machine still records the grades and writes the feedback")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per notebook, wall clock (default 300)")
    parser.add_argument("--cell-timeout", type=float, default=None,
                        help="seconds per cell or call (default: Execute.timeout of nbgrader_config.py)")
    parser.add_argument("--memory", type=int, default=2048, help="MiB of memory per notebook (default 2048)")
    parser.add_argument("--cpu", type=int, default=None, help="CPU seconds per notebook (default: 2 × --timeout)")
    parser.add_argument("--disk", type=int, default=None,
                        help="MiB a notebook may write in all (default: SandboxedExecute.disk, 256)")
    parser.add_argument("--processes", type=int, default=None,
                        help="processes and threads of a notebook's kernel (default: SandboxedExecute.processes, 64)")
    parser.add_argument("--force", action="store_true", help="run every submission again, even unchanged ones")
    parser.add_argument("--hidden-seed", type=int, default=None,
                        help="the hidden tests' seed, to reproduce a grade (default: a fresh secret one per run)")
    parser.add_argument("--no-feedback", action="store_true", help="do not write the feedback HTML")
    parser.add_argument("--csv", default=None, help="where to write the grades (default: grades_<assignment>.csv)")
    parser.add_argument("--allow-unsandboxed", action="store_true",
                        help="grade even where the sandbox cannot run: student code then runs with your rights")
    parser.add_argument("--report", action="store_true",
                        help="also write the class report: report_<assignment>.html and its two CSVs "
                             "(scores, pass rate of each function, mistakes; nnbook.autograder.report)")
    parser.add_argument("--report-dir", default=None, help="where to write the report (default: the course folder)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_arguments(argv)
    course = Path(args.course).resolve()
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # nbgrader runs alembic
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy's warnings about nbgrader's sessions
    if not (course / "nbgrader_config.py").exists():
        print(f"nnbook-autograde: no nbgrader_config.py in {course}: run it from the course folder", file=sys.stderr)
        return 2
    problem = sandbox.isolation_problem()
    if problem and not args.allow_unsandboxed:
        print(f"nnbook-autograde: refusing to grade: {problem}.\nWithout the sandbox, a submission can read "
              "solutions/, the hidden tests, the gradebook and other submissions, and write anywhere you can. "
              "Pass --allow-unsandboxed to grade anyway (per-process time, memory and CPU limits still apply; the "
              "totals do not).", file=sys.stderr)
        return 2
    if problem:
        print(f"nnbook-autograde: WARNING: grading without the sandbox ({problem}).", file=sys.stderr)
    paths = course_paths(course, args.assignment)
    if not paths["source"].is_dir() or not any(paths["source"].glob("*.ipynb")):
        print(f"nnbook-autograde: no assignment {args.assignment!r} in {paths['source']}", file=sys.stderr)
        return 2
    everyone = submitted_students(course, args.assignment)
    students = [student for student in everyone if student in args.student] if args.student else everyone
    seed = args.hidden_seed if args.hidden_seed is not None else secrets.randbits(63)
    options = {"timeout": args.timeout, "cell_timeout": args.cell_timeout, "memory": args.memory * 2**20,
               "cpu": args.cpu or int(2 * args.timeout), "isolate": problem is None, "hidden_seed": seed,
               "disk": args.disk * 2**20 if args.disk is not None else None, "processes": args.processes}
    try:
        results, started = grade(course, args.assignment, students, options, args.workers, args.force,
                                 not args.no_feedback, scheduler=args.scheduler)
    except ClusterUnavailable as error:  # nothing was graded: the submissions wait for the next run
        print(f"nnbook-autograde: {error}. Nothing was graded.", file=sys.stderr)
        return 2
    csv_path = Path(args.csv) if args.csv else course / f"grades_{args.assignment}.csv"
    rows = write_csv(course, args.assignment, {**saved_results(course, args.assignment, everyone), **results}, csv_path)
    print_summary(args.assignment, rows, results, time.monotonic() - started, args.workers, problem is None, csv_path)
    if args.report:  # every student of the CSV: this run's results and the others' last ones
        from . import report  # matplotlib is loaded only for the report

        everyone_results = {**saved_results(course, args.assignment, everyone), **results}
        written = report.write_report(course, args.assignment, everyone_results,
                                      Path(args.report_dir).resolve() if args.report_dir else course)
        print(f"Report: {written['html']}")
    return 1 if any(result["grader_error"] for result in results.values()) else 0


def refused_result(student, reason):
    return {"student": student, "status": "failed", "reason": reason, "flags": [], "cells": {}, "grader_error": False,
            "id_refused": True}


def saved_results(course, assignment, students):
    """The last result of each of ``students`` (what ``--student`` leaves out of the run keeps its row in the CSV)."""
    results = {}
    for student in students:
        problem = refused_id(student)
        saved = course_paths(course, assignment)["work"] / "results" / f"{student}.json"
        if problem:
            results[student] = refused_result(student, problem)
        elif saved.is_file():
            results[student] = json.loads(saved.read_text())
    return results


class ClusterUnavailable(Exception):
    """``--scheduler`` names no Dask cluster that can grade: no scheduler answers, or no worker joins it."""


def connect(scheduler):
    """A Dask client of the scheduler at ``scheduler`` with at least one worker, or :class:`ClusterUnavailable`."""
    from distributed import Client

    try:
        client = Client(scheduler, set_as_default=False, timeout=CLUSTER_WAIT_SECONDS)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterUnavailable(f"no Dask scheduler answers at {scheduler} ({type(error).__name__}: "
                                 f"{str(error)[:200]}): start one with `dask scheduler`, or check the address") from None
    try:
        client.wait_for_workers(1, timeout=CLUSTER_WAIT_SECONDS)
    except TimeoutError:
        client.close()
        raise ClusterUnavailable(f"no Dask worker joined the scheduler at {scheduler} within {CLUSTER_WAIT_SECONDS} "
                                 f"s: start them on the grading machines with `dask worker {scheduler} --nthreads 1`"
                                 ) from None
    return client


def jobs_in_flight(client):
    """How many jobs :func:`run_on_cluster` keeps on the cluster: two per worker thread (so that no worker waits
    while the client prepares the next job), and at least 4, asked again as workers join or leave."""
    return max(4, 2 * sum(client.nthreads().values()))


def run_on_cluster(course, assignment, students, options, intakes, client, finish):
    """Step 1 for ``students`` on the Dask cluster of ``client`` (from :func:`connect`); ``finish(result)`` as each
    one is done.

    Each job is prepared here (:func:`prepare_submission`: the course, the
    gradebook and ``solutions/`` stay on this machine), executed by a worker
    (:func:`execute_job`, which needs only the package and the sandbox), and its
    outcome written here (:func:`store_outcome`): this process stays the only
    writer of the course. Only :func:`jobs_in_flight` jobs are on the cluster at
    a time, the next one prepared as one comes back: the memory stays bounded
    and each outcome is written as soon as it arrives, so an interrupted run
    loses at most the jobs in flight. When a worker dies, the scheduler gives
    its job to another (Dask's ``allowed-failures``, 3 by default); a job that
    still fails is reported as not graded, with the reason, and nothing of it is
    written, so the next run grades it again.
    """
    from distributed import as_completed

    waiting, running = iter(students), {}
    completed = as_completed(loop=client.loop)

    def submit_more(limit):
        while len(running) < limit:
            student = next(waiting, None)
            if student is None:
                return
            job = prepare_submission(course, assignment, student, options, intakes[student])
            if not job["notebooks"]:  # refused or unreadable: nothing to run
                finish(store_outcome(course, assignment, *execute_job(job)))
                continue
            future = client.submit(execute_job, job, key=f"nnbook-{assignment}-{student}-{secrets.token_hex(8)}",
                                   pure=False)
            running[future] = student
            completed.add(future)

    try:
        submit_more(jobs_in_flight(client))
        for future in completed:
            student = running.pop(future)
            try:
                outcome = future.result()
            except Exception as error:  # noqa: BLE001 (a lost worker: reported, and the batch goes on)
                finish({"student": student, "status": "failed", "flags": list(intakes[student]["flags"]),
                        "cells": {}, "grader_error": True, "reason": f"not graded: its Dask job failed "
                        f"({type(error).__name__}: {str(error)[:300]}); run the command again to grade it"})
            else:
                finish(store_outcome(course, assignment, *outcome))
            submit_more(jobs_in_flight(client))
    except KeyboardInterrupt:
        client.cancel(list(running), force=True)
        raise


def grade(course, assignment, students, options, workers, force, feedback=True, scheduler=None):
    """Intake, steps 1 and 2 for ``students``, then their feedback (in the workers): ``{student: summary}``, start time.

    Step 1 runs in a pool of ``workers`` local processes, or, with
    ``scheduler`` (a Dask scheduler's address, ``tcp://host:8786``), on that
    cluster's workers (:func:`run_on_cluster`); steps 2 and the feedback stay here.

    One submission never stops the batch: a refused student id is reported and
    never reaches nbgrader; a submission the intake refuses, or that cannot be
    read as a notebook, scores 0 with its reason; a failure of the grader on
    one submission is reported (``grader_error``) and the others go on.
    """
    started = time.monotonic()
    client = connect(scheduler) if scheduler else None  # before anything: no cluster, nothing done
    try:
        return _grade(course, assignment, students, options, workers, force, feedback, client), started
    finally:
        if client is not None:
            client.close()


def _grade(course, assignment, students, options, workers, force, feedback, client):
    """:func:`grade` with the Dask ``client`` (or ``None``): ``{student: summary}``."""
    from tqdm import tqdm

    paths = course_paths(course, assignment)
    results, to_run, intakes = {}, [], {}
    progress = tqdm(total=len(students), unit="submission", desc=f"autograding {assignment}", file=sys.stderr,
                    dynamic_ncols=True)

    def finish(result):
        student = result["student"]
        try:
            with deferred_interrupts():
                if result["status"] != "failed":
                    record(course, assignment, student, intakes[student])
                elif not result["grader_error"] and not result.get("id_refused"):
                    record_refusal(course, assignment, student, result["reason"], page=feedback)
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001
            result.update(status="failed", grader_error=True, reason=f"nbgrader could not record it: {error}")
        results[student] = result
        counts = {status: sum(r["status"] == status for r in results.values()) for status in STATUSES}
        progress.set_postfix({key: value for key, value in counts.items() if value}, refresh=False)
        progress.update()

    for student in students:
        problem = refused_id(student)
        if problem:
            finish(refused_result(student, problem))
            continue
        intake = intakes[student] = take_in(course, assignment, student)
        if not intake["ok"]:
            finish(run_submission(course, assignment, student, options, intake))
            continue
        saved = paths["work"] / "results" / f"{student}.json"
        cached = json.loads(saved.read_text()) if saved.exists() and not force else None
        if cached and cached.get("key") == run_key(course, assignment, student, options) and not cached["grader_error"]:
            own = [flag for flag in cached["flags"] if flag not in cached.get("intake_flags", [])]
            cached.update(flags=intake["flags"] + own, intake_flags=intake["flags"])  # timestamp.txt may have changed
            finish(cached)
        else:
            to_run.append(student)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max(1, workers), mp_context=context, initializer=_worker_init) as pool:
        futures = [] if client else [pool.submit(run_submission, course, assignment, student, options,
                                                    intakes[student]) for student in to_run]
        try:
            if client:
                run_on_cluster(course, assignment, to_run, options, intakes, client, finish)
            for future in concurrent.futures.as_completed(futures):
                finish(future.result())
            graded = [student for student in students if results[student]["status"] != "failed"]
            if feedback and graded:  # reads the gradebook only: in parallel, a share of the students per worker
                shares = [graded[i::max(1, workers)] for i in range(max(1, workers))]
                for done in [pool.submit(write_feedback, course, assignment, share) for share in shares if share]:
                    for student, error in done.result().items():
                        results[student]["flags"].append(f"feedback not written: {error}")
                        results[student]["grader_error"] = True
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            raise
    progress.close()
    return results


def printable(text):
    """``text`` safe for a terminal: control characters (escape sequences) shown as ``\\xNN``."""
    return "".join(character if character.isprintable() else f"\\x{ord(character):02x}" for character in str(text))


def print_summary(assignment, rows, results, seconds, workers, isolated, csv_path):
    """The counts of this run, then every student of the CSV: score, status, flags and reason."""
    counts = {status: sum(r["status"] == status for r in results.values()) for status in STATUSES}
    flagged = sum(bool(r["flags"]) for r in results.values())
    total = len(results)
    rate = total / seconds * 60 if seconds else 0.0
    print(f"\nAutograded {assignment}: {total} submission(s) in {seconds:.1f} s ({rate:.1f} per minute, {workers} "
          f"worker(s), {'sandboxed with bubblewrap' if isolated else 'NOT sandboxed'})")
    for status in STATUSES:
        print(f"  {status:<12} {counts[status]:>5}")
    print(f"  {'flagged':<12} {flagged:>5}")
    if rows:
        print(f"\n{'student':<20} {'score':>9} {'status':<12} flags / reason")
    for row in rows:
        score = f"{row['score']:g}/{row['max_score']:g}" if row["score"] != "" and row["max_score"] != "" else "-"
        notes = "; ".join(note for note in (row["flags"], row["reason"]) if note)
        print(f"{printable(row['student_id']):<20} {score:>9} {row['status']:<12} {printable(notes)[:200]}")
    print(f"\nGrades: {csv_path}")


if __name__ == "__main__":
    sys.exit(main())
