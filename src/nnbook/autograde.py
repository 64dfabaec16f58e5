"""``nnbook-autograde``: autograde every submission of an exercise, in parallel, sandboxed, with trusted verdicts.

Run from the course folder (the repository root), as ``nbgrader autograde`` is::

    nnbook-autograde ex01                 # every submitted/<student>/ex01/
    nnbook-autograde ex01 --student ada   # one student (repeatable)

It drives nbgrader's own API in two steps per submission:

1. **Run** (in a pool of worker processes, one per CPU core): the submitted
   notebook is read, never written; nbgrader's sanitizing preprocessors
   restore the locked cells and metadata from the gradebook (deleted test
   cells are added back); then :class:`nnbook.trusted_execute.SandboxedExecute`
   runs it: the student's cells in a kernel inside :mod:`nnbook.sandbox`
   (a throwaway folder holding only the ``.ipynb``, no network, time, CPU and
   memory limits), the test cells in the worker, on the student's values
   brought back as plain data. The executed notebook and a summary are
   written atomically under ``.nnbook-autograde/<assignment>/``.
2. **Record** (in this process, one submission at a time, so the gradebook has
   a single writer): nbgrader's ``Autograde`` converter runs with its usual
   pipeline, except that its ``Execute`` step is :class:`ReuseExecution`,
   which takes the outputs of step 1. nbgrader thus writes
   ``autograded/<student>/<assignment>/``, the scores, comments and late
   penalties as ``nbgrader autograde`` would. An interrupt (Ctrl-C, SIGTERM)
   waits until the submission being recorded is complete.

Then nbgrader's ``GenerateFeedback`` writes ``feedback/<student>/<assignment>/*.html``
with the hidden tests' code removed (nbgrader's ``ClearHiddenTests``): each test
shows its name, its points and its diagnostic message. A CSV of the
gradebook's scores with each submission's status is written, a summary printed.

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
import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from functools import lru_cache
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde, GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
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

from . import sandbox
from .trusted_execute import SandboxedExecute, student_names

SANITIZE = [ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata]
STATUSES = ("graded", "failed", "timed out", "kernel died")
WORK_FOLDER = ".nnbook-autograde"


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
        "work": course / WORK_FOLDER / assignment,
    }


def _sha256(*paths):
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def run_key(course, assignment, student, options):
    """What a run depends on: the submission, the source notebooks, the package, the options."""
    paths = course_paths(course, assignment)
    notebooks = sorted(paths["source"].glob("*.ipynb"))
    submitted = [paths["submitted"] / student / assignment / path.name for path in notebooks]
    package = sorted(Path(nnbook.__file__).parent.glob("*.py"))
    options = {key: options[key] for key in ("timeout", "cell_timeout", "memory", "cpu", "isolate")}
    return _sha256(*notebooks, *submitted, *package) + json.dumps(options, sort_keys=True)


def _write_atomically(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


# -- step 1: run a submission (in a worker) ------------------------------------------------------------------------


def nnbook_modules(notebook, locked=False):
    """The modules of ``nnbook`` (other than the helpers) that the code cells mention; all cells, or the unlocked only."""
    mentioned = set()
    for cell in notebook.cells:
        if cell.cell_type != "code" or (utils.is_locked(cell) and not locked):
            continue
        for match in re.finditer(r"\bnnbook[ \t]*\.[ \t]*(\w+)|\bfrom[ \t]+nnbook[ \t]+import[ \t]+\(?[ \t]*([\w \t,]+)", cell.source):
            names = [match.group(1)] if match.group(1) else re.findall(r"\w+", match.group(2))
            mentioned.update(name for name in names if name not in sandbox.STUDENT_MODULES and name != "as")
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
    return sorted(imported - set(sandbox.STUDENT_MODULES))


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


def run_submission(course, assignment, student, options):
    """Step 1 for one student: sanitize and run each notebook; the summary, also written to ``results/<student>.json``."""
    started = time.monotonic()
    paths = course_paths(course, assignment)
    config = copy.deepcopy(course_config(course))
    if options.get("cell_timeout"):
        config.Execute.timeout = options["cell_timeout"]  # nbclient reloads its traits from the config
    result = {"student": student, "status": "graded", "reason": "", "flags": [], "cells": {},
              "key": run_key(course, assignment, student, options), "grader_error": False}
    scratch = Path(tempfile.mkdtemp(prefix="nnbg-", dir="/tmp"))  # short: unix socket paths are limited to 107 bytes
    try:
        package = sandbox.student_package(scratch / "lib", released_modules(course, assignment))
        for source_path in sorted(paths["source"].glob("*.ipynb")):
            name = source_path.stem
            submitted = paths["submitted"] / student / assignment / source_path.name
            if not submitted.exists():
                result["flags"].append(f"no {source_path.name} was handed in")
                continue
            try:
                notebook = nbformat.reads(submitted.read_text(errors="replace"), as_version=4)
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
            executor = SandboxedExecute(
                config=config, scratch=str(scratch / f"run-{name}"), package=str(package),
                names=student_names(nbformat.read(source_path, as_version=4)), isolate=options["isolate"],
                memory=options["memory"], cpu_seconds=options["cpu"], notebook_timeout=options["timeout"],
            )
            notebook, resources = executor.preprocess(notebook, resources)
            if executor.status != "graded" and result["status"] == "graded":
                result.update(status=executor.status, reason=executor.stopped)
            for cell in notebook.cells:
                if utils.is_grade(cell):
                    score, points = utils.determine_grade(cell)
                    message = next((o.evalue for o in cell.outputs if o.output_type == "error"), "")
                    result["cells"][cell.metadata["nbgrader"]["grade_id"]] = [score, points, message]
            _write_atomically(paths["work"] / "executed" / student / f"{name}.ipynb", nbformat.writes(notebook))
    except Exception as error:  # noqa: BLE001 (the grader's own failure: reported, and the batch goes on)
        result.update(status="failed", grader_error=True,
                      reason=f"grader error: {type(error).__name__}: {error}\n{traceback.format_exc()[-2000:]}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result["seconds"] = round(time.monotonic() - started, 2)
    _write_atomically(paths["work"] / "results" / f"{student}.json", json.dumps(result, indent=1))
    return result


def _worker_init():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    logging.getLogger("traitlets").setLevel(logging.ERROR)


# -- step 2: record the grades (in this process) ---------------------------------------------------------------------


def record(course, assignment, student):
    """Step 2 for one student: nbgrader's ``Autograde`` converter, fed the executed notebooks; raises on failure."""
    config = copy.deepcopy(course_config(course))
    config.Autograde.autograde_preprocessors = [
        ReuseExecution, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, AssignLatePenalties,
        CheckCellMetadata,
    ]
    config.ReuseExecution.folder = str(course_paths(course, assignment)["work"] / "executed")
    config.BaseConverter.force = True
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.student_id = student
    Autograde(coursedir=CourseDirectory(config=config), config=config).start()


def write_feedback(course, assignment, students):
    """nbgrader's ``GenerateFeedback``, with the hidden tests' code removed from the HTML."""
    config = copy.deepcopy(course_config(course))
    config.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
    config.BaseConverter.force = True
    config.CourseDirectory.assignment_id = assignment
    for student in students:
        config.CourseDirectory.student_id = student
        GenerateFeedback(coursedir=CourseDirectory(config=config), config=config).start()


def write_csv(course, assignment, results, path):
    """One row per student: the gradebook's scores (nbgrader's API), the status of the run, its flags and reason."""
    paths = course_paths(course, assignment)
    with Gradebook(paths["db_url"], course_id=course_config(course).CourseDirectory.get("course_id", "default_course")) as gradebook:
        rows = []
        for student, result in sorted(results.items()):
            try:
                submission = gradebook.find_submission(assignment, student)
                score, max_score = submission.score, submission.max_score
            except MissingEntry:
                score, max_score = "", ""
            rows.append({"student_id": student, "assignment": assignment, "score": score, "max_score": max_score,
                         "status": result["status"], "flags": "; ".join(result["flags"]),
                         "reason": result["reason"].splitlines()[0] if result["reason"] else ""})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]) if rows else ["student_id"])
        writer.writeheader()
        writer.writerows(rows)
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
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per notebook, wall clock (default 300)")
    parser.add_argument("--cell-timeout", type=float, default=None,
                        help="seconds per cell or call (default: Execute.timeout of nbgrader_config.py)")
    parser.add_argument("--memory", type=int, default=2048, help="MiB of memory per notebook (default 2048)")
    parser.add_argument("--cpu", type=int, default=None, help="CPU seconds per notebook (default: 2 × --timeout)")
    parser.add_argument("--force", action="store_true", help="run every submission again, even unchanged ones")
    parser.add_argument("--no-feedback", action="store_true", help="do not write the feedback HTML")
    parser.add_argument("--csv", default=None, help="where to write the grades (default: grades_<assignment>.csv)")
    parser.add_argument("--allow-unsandboxed", action="store_true",
                        help="grade even where the sandbox cannot run: student code then runs with your rights")
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
              "Pass --allow-unsandboxed to grade anyway (time and memory limits still apply).", file=sys.stderr)
        return 2
    if problem:
        print(f"nnbook-autograde: WARNING: grading without the sandbox ({problem}).", file=sys.stderr)
    paths = course_paths(course, args.assignment)
    if not paths["source"].is_dir() or not any(paths["source"].glob("*.ipynb")):
        print(f"nnbook-autograde: no assignment {args.assignment!r} in {paths['source']}", file=sys.stderr)
        return 2
    students = sorted(path.parent.name for path in paths["submitted"].glob(f"*/{args.assignment}") if path.is_dir())
    if args.student:
        students = [student for student in students if student in args.student]
    options = {"timeout": args.timeout, "cell_timeout": args.cell_timeout, "memory": args.memory * 2**20,
               "cpu": args.cpu or int(2 * args.timeout), "isolate": problem is None}
    results, started = grade(course, args.assignment, students, options, args.workers, args.force, not args.no_feedback)
    csv_path = Path(args.csv) if args.csv else course / f"grades_{args.assignment}.csv"
    rows = write_csv(course, args.assignment, results, csv_path)
    print_summary(args.assignment, rows, results, time.monotonic() - started, args.workers, problem is None, csv_path)
    return 1 if any(result["grader_error"] for result in results.values()) else 0


def grade(course, assignment, students, options, workers, force, feedback=True):
    """Steps 1 and 2 for ``students``, then their feedback (in the workers): ``{student: summary}``, the start time."""
    from tqdm import tqdm

    started = time.monotonic()
    results, to_run = {}, []
    for student in students:
        saved = course_paths(course, assignment)["work"] / "results" / f"{student}.json"
        cached = json.loads(saved.read_text()) if saved.exists() and not force else None
        if cached and cached.get("key") == run_key(course, assignment, student, options) and not cached["grader_error"]:
            results[student] = cached
        else:
            to_run.append(student)
    progress = tqdm(total=len(students), unit="submission", desc=f"autograding {assignment}", file=sys.stderr,
                    dynamic_ncols=True)

    def finish(result):
        student = result["student"]
        if result["status"] != "failed":
            try:
                with deferred_interrupts():
                    record(course, assignment, student)
            except KeyboardInterrupt:
                raise
            except Exception as error:  # noqa: BLE001
                result.update(status="failed", grader_error=True, reason=f"nbgrader could not record it: {error}")
        results[student] = result
        counts = {status: sum(r["status"] == status for r in results.values()) for status in STATUSES}
        progress.set_postfix({key: value for key, value in counts.items() if value}, refresh=False)
        progress.update()

    for student in students:
        if student in results:
            finish(results[student])
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max(1, workers), mp_context=context, initializer=_worker_init) as pool:
        futures = [pool.submit(run_submission, course, assignment, student, options) for student in to_run]
        try:
            for future in concurrent.futures.as_completed(futures):
                finish(future.result())
            graded = [student for student in students if results[student]["status"] != "failed"]
            if feedback and graded:  # reads the gradebook only: in parallel, a share of the students per worker
                shares = [graded[i::max(1, workers)] for i in range(max(1, workers))]
                for done in [pool.submit(write_feedback, course, assignment, share) for share in shares if share]:
                    done.result()
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            raise
    progress.close()
    return results, started


def print_summary(assignment, rows, results, seconds, workers, isolated, csv_path):
    counts = {status: sum(r["status"] == status for r in results.values()) for status in STATUSES}
    flagged = sum(bool(r["flags"]) for r in results.values())
    total = len(results)
    rate = total / seconds * 60 if seconds else 0.0
    print(f"\nAutograded {assignment}: {total} submission(s) in {seconds:.1f} s ({rate:.1f} per minute, {workers} "
          f"worker(s), {'sandboxed with bubblewrap' if isolated else 'NOT sandboxed'})")
    for status in STATUSES:
        print(f"  {status:<12} {counts[status]:>5}")
    print(f"  {'flagged':<12} {flagged:>5}")
    remarkable = [row for row in rows if row["status"] != "graded" or row["flags"]]
    if remarkable:
        print(f"\n{'student':<20} {'score':>7} {'status':<12} flags / reason")
        for row in remarkable:
            score = f"{row['score']:g}/{row['max_score']:g}" if row["score"] != "" else "-"
            print(f"{row['student_id']:<20} {score:>7} {row['status']:<12} {row['flags'] or ''} {row['reason'][:120]}")
    print(f"\nGrades: {csv_path}")


if __name__ == "__main__":
    sys.exit(main())
