"""The adversarial corpora (``tests/adversarial/exNN.py``) graded by ``nnbook-autograde``, each outcome asserted.

For each exercise, on a copy of the course: an honest student is graded first,
alone; then the whole corpus in one run (the honest student's run is reused,
unchanged); then the command again, which must change nothing. For every
student: exactly the points earned (the gradebook, through nbgrader's API, and
the CSV), the status of the run, the reason, the flags, what the feedback says
and that it holds only the feedback page, with nothing live in it. For the
batch: no file of the course outside the grader's outputs changed (the
submissions, links and FIFOs included), no hidden test code or reference value
in any feedback, nothing written into the course by a student, the first
student's grade unchanged, every student in the summary.

ex01's corpus attacks the kernel and the verdicts as well as the files; ex02's,
ex03's, ex04's, ex05's and ex06's the files, markup and ids (ex06's also a convolution too
slow for the cell timeout). ``tests/adversarial/limits.py``, when it
exists, adds its cases to ex01's.

It needs bubblewrap (``apt-get install -y bubblewrap``) and is skipped without
it, unless ``NNBOOK_REQUIRE_SANDBOX=1`` (CI), which makes the skip a failure.
"""

import copy
import csv
import hashlib
import logging
import importlib.util
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from adversarial import ex01, ex02, ex03, ex04, ex05, ex06
from nbgrader_course import (
    assert_inert_html,
    cell_scores,
    cells_by_id,
    feedback_scripts,
    formgrader_page,
    live_markup,
    make_course,
    nbgrader_env,
    page_text,
    secret_lines,
)
from optional import require_sandbox

pytestmark = pytest.mark.autograde

OPTIONS = ["--timeout", "20", "--cell-timeout", "3", "--hidden-seed", "31337"]  # one seed: runs comparable
GRADER_OUTPUTS = {"autograded", "feedback", "gradebook.db", ".nnbook-autograde"}


def corpus_cases(module):
    cases = list(module.CASES)
    if module is ex01 and importlib.util.find_spec("adversarial.limits") is not None:
        from adversarial import limits

        cases += list(limits.CASES)
    return cases


EXERCISES = {module.ASSIGNMENT: (module, corpus_cases(module)) for module in (ex01, ex02, ex03, ex04, ex05, ex06)}
ALL_CASES = [pytest.param(assignment, case, id=f"{assignment}-{re.sub(r'[^A-Za-z0-9_]', '_', case.student)}")
             for assignment, (_, cases) in EXERCISES.items() for case in cases]


def refused_id(case):
    return "glob character" in case.reason


def autograde(course, assignment, *args):
    command = [sys.executable, "-m", "nnbook.autograder", assignment, "--course", str(course), *OPTIONS, *args]
    result = subprocess.run(command, env=nbgrader_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"nnbook-autograde failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


def hand_in(course, module, case, release):
    """Put ``case``'s submission into ``submitted/``, as its student (or their upload tool) would."""
    submitted = course / "submitted"
    folder = submitted / case.student / module.ASSIGNMENT
    targets = {"solution": course / "solutions" / module.ASSIGNMENT / module.NOTEBOOK,
               "honest": submitted / "honest" / module.ASSIGNMENT / module.NOTEBOOK,
               "gradebook": course / "gradebook.db"}
    if case.layout == "folder_link":
        (submitted / case.student).symlink_to(submitted / case.target)
        return
    if case.layout == "assignment_link":
        folder.parent.mkdir(parents=True)
        folder.symlink_to(submitted / case.target / module.ASSIGNMENT)
        return
    folder.mkdir(parents=True)
    for name, text in case.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    for name, target in case.links.items():
        (folder / name).symlink_to(targets.get(target, target))
    if case.timestamp is not None:
        (folder / "timestamp.txt").write_text(case.timestamp)
    path = folder / (case.name or module.NOTEBOOK)
    if case.layout == "symlink":
        path.symlink_to(targets[case.target])
    elif case.layout == "hardlink":
        os.link(targets[case.target], path)
    elif case.layout == "directory":
        path.mkdir()
        (path / module.NOTEBOOK).write_bytes(targets["solution"].read_bytes())
    elif case.layout == "fifo":
        os.mkfifo(path)
    elif case.raw is not None:
        path.write_text(case.raw)
    else:
        nbformat.write(submission(course, module, case, release), path)


def submission(course, module, case, release):
    notebook = copy.deepcopy(release)
    cells = cells_by_id(notebook)
    for grade_id, source in (module.CORRECT if case.answers is None else case.answers).items():
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
    for grade_id, edits in case.metadata_edits.items():
        cells[grade_id].metadata["nbgrader"].update(edits)
    new = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell, "raw": nbformat.v4.new_raw_cell}
    for cell_type, source, metadata in case.extra_cells:
        notebook.cells.append(new[cell_type](source, metadata=metadata))
    notebook.metadata.update(case.notebook_metadata)
    return notebook


def snapshot(course):
    """Every entry of the course outside the grader's outputs: a file's digest, a link's target, a FIFO, a folder."""
    entries = {}

    def walk(folder):
        for entry in os.scandir(folder):
            if folder == str(course) and (entry.name in GRADER_OUTPUTS or entry.name.startswith("grades_")):
                continue
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISLNK(mode):
                entries[entry.path] = ("link", os.readlink(entry.path))
            elif stat.S_ISDIR(mode):
                entries[entry.path] = ("folder",)
                walk(entry.path)
            elif stat.S_ISREG(mode):
                with open(entry.path, "rb") as file:
                    entries[entry.path] = ("file", hashlib.sha256(file.read()).hexdigest())
            else:
                entries[entry.path] = ("other", stat.S_IFMT(mode))

    walk(str(course))
    return entries


def digests(folder):
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.rglob("*")) if path.is_file()}


def read_rows(course, assignment):
    with open(course / f"grades_{assignment}.csv", newline="") as file:
        return {row["student_id"]: row for row in csv.DictReader(file)}


def grade_corpus(folder, assignment):
    """Hand in and grade one exercise's corpus; what the tests below check."""
    module, cases = EXERCISES[assignment]
    course = make_course(folder, [assignment])
    release = nbformat.read(course / "exercises" / assignment / module.NOTEBOOK, as_version=4)
    honest, others = cases[0], cases[1:]
    assert honest.student == "honest"
    hand_in(course, module, honest, release)
    autograde(course, assignment)
    first = cell_scores(course, assignment, [honest.student])[honest.student]
    for case in others:
        hand_in(course, module, case, release)
    before = snapshot(course)
    started = time.monotonic()
    log = autograde(course, assignment)
    seconds = time.monotonic() - started
    print(f"\n{assignment}: corpus of {len(cases)} students graded in {seconds:.1f} s")
    in_gradebook = [case.student for case in cases if not refused_id(case)]
    return {"course": course, "module": module, "cases": cases, "first": first, "before": before, "log": log,
            "seconds": seconds, "scores": cell_scores(course, assignment, in_gradebook),
            "rows": read_rows(course, assignment), "feedback": digests(course / "feedback")}


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    built = {}

    def get(assignment):
        if assignment not in built:
            require_sandbox()
            built[assignment] = grade_corpus(tmp_path_factory.mktemp(f"course-{assignment}"), assignment)
        return built[assignment]

    return get


def formgrader_baseline(corpus, assignment):
    """The scripts and handlers of the formgrader's own page, as it shows the honest student's notebook."""
    if "formgrader" not in corpus:
        problems, scripts = live_markup(formgrader_page(corpus["course"], assignment, "honest", corpus["module"].NOTEBOOK))
        corpus["formgrader"] = set(problems), set(scripts)
    return corpus["formgrader"]


def points_of(module, written=False):
    """``{cell: points}`` of the test cells (graded automatically), or of the written answers (graded by hand)."""
    return {cell.metadata["nbgrader"]["grade_id"]: float(cell.metadata["nbgrader"]["points"])
            for cell in module.SOURCE.cells if cell.metadata.get("nbgrader", {}).get("grade")
            and (cell.cell_type == "markdown") == written}


@pytest.mark.parametrize("assignment, case", ALL_CASES)
def test_each_student_gets_exactly_the_points_earned(corpora, assignment, case):
    corpus = corpora(assignment)
    course, module = corpus["course"], corpus["module"]
    row = corpus["rows"][case.csv_id or case.student]
    assert row["status"] == case.status, (row, corpus["log"].stdout[-3000:])
    assert case.reason in row["reason"], row["reason"]
    for flag in case.flags:
        assert flag in row["flags"], row["flags"]
    if not case.flags and not case.locked_edits and not case.strip_metadata:
        assert row["flags"] == "", row["flags"]
    points = points_of(module)
    assert float(row["score"]) == sum(value for cell, value in points.items() if cell not in case.lost)
    # the written answers wait for the instructor: they count in the maximum, not yet in the score
    assert float(row["max_score"]) == sum(points.values()) + sum(points_of(module, written=True).values())
    if not refused_id(case):
        assert corpus["scores"][case.student] == {cell: 0.0 if cell in case.lost else value for cell, value in points.items()}
    stem = module.NOTEBOOK.replace(".ipynb", "")
    autograded = course / "autograded" / case.student / assignment
    if case.status == "failed":
        assert not autograded.exists()
    else:
        kept = [module.NOTEBOOK] + (["timestamp.txt"] if case.timestamp and not case.flags else [])  # a checked date
        assert sorted(os.listdir(autograded)) == sorted(kept), "autograded/ holds more than the graded notebook"
        notebook = nbformat.read(autograded / module.NOTEBOOK, as_version=4)
        printed = "".join(str(output.get("text", "")) + "".join(map(str, output.get("data", {}).values()))
                          + str(output.get("evalue", "")) + "".join(output.get("traceback", []))
                          for cell in notebook.cells for output in cell.get("outputs", []))
        for needle in case.autograded:
            assert needle in printed, f"{case.student}: {needle!r} not in the autograded notebook"
        # the instructor's view of it (the formgrader, where written answers are graded): nothing of the
        # submission runs there, so the page has no script or handler that the honest student's page has not
        problems, scripts = live_markup(formgrader_page(course, assignment, case.student, module.NOTEBOOK))
        own_problems, own_scripts = formgrader_baseline(corpus, assignment)
        assert set(problems) <= own_problems, f"{case.student}: live markup in the formgrader: {set(problems) - own_problems}"
        assert set(scripts) <= own_scripts, f"{case.student}: a script of its own in the formgrader"
    if refused_id(case):
        assert not (course / "feedback" / case.student).exists()
        return
    folder = course / "feedback" / case.student / assignment
    assert sorted(os.listdir(folder)) == [f"{stem}.html"], "feedback/ holds more than the feedback page"
    page = (folder / f"{stem}.html").read_text()
    assert_inert_html(page, feedback_scripts())
    text = page_text(page)
    for needle in case.feedback:
        assert needle in text, f"{case.student}: {needle!r} not in the feedback"
    for needle in case.absent:
        assert needle not in page, f"{case.student}: {needle!r} reached the feedback"


@pytest.mark.parametrize("assignment", EXERCISES)
def test_no_feedback_holds_a_hidden_test_or_a_reference_value(corpora, assignment):
    corpus = corpora(assignment)
    course, module = corpus["course"], corpus["module"]
    hidden = secret_lines(module.SOURCE, regions=("HIDDEN TESTS",))
    pages = sorted((course / "feedback").rglob("*.html"))
    assert len(pages) == sum(not refused_id(case) for case in corpus["cases"])
    for page in pages:
        text = page_text(page.read_text())
        leaked = [line for line in hidden if line in text]
        assert not leaked, (page, leaked[:3])
        assert "reference_" not in text, page
        if page.parts[-3] != "hidden_marker":  # that student wrote the marker in a comment of their own code
            assert "HIDDEN TESTS" not in text, page
    if assignment == "ex01":
        assert "NaN" in page_text((course / "feedback" / "nan" / "ex01" / "perceptron_logistic.html").read_text())


@pytest.mark.parametrize("assignment", EXERCISES)
def test_the_batch_leaves_the_course_as_it_was(corpora, assignment):
    corpus = corpora(assignment)
    course = corpus["course"]
    assert snapshot(course) == corpus["before"], "a file outside the grader's outputs changed"
    assert not (course / "pwned.txt").exists()
    module = corpus["module"]
    full = {cell: value for cell, value in points_of(module).items()}
    assert corpus["scores"]["honest"] == corpus["first"] == full
    from nbgrader.api import Gradebook

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", nbgrader_env()["PATH"])
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="nnbook") as gradebook:
            students = {student.id for student in gradebook.students}
    assert students == {case.student for case in corpus["cases"] if not refused_id(case)}
    if assignment != "ex01":
        return
    autograded = nbformat.read(course / "autograded" / "loud" / "ex01" / ex01.NOTEBOOK, as_version=4)
    assert len(nbformat.writes(autograded)) < 2_000_000
    for student in ("shadow_modules", "reader", "gradebook_writer"):
        executed = nbformat.read(course / "autograded" / student / "ex01" / ex01.NOTEBOOK, as_version=4)
        printed = "".join(output.get("text", "") for cell in executed.cells for output in cell.get("outputs", []))
        for word in ("SHADOW", "WRITE SUCCEEDED", "GRADEBOOK CHANGED", "BEGIN SOLUTION"):
            assert word not in printed, (student, word)


@pytest.mark.parametrize("assignment", EXERCISES)
def test_the_summary_counts_every_outcome_and_lists_every_student(corpora, assignment):
    corpus = corpora(assignment)
    out, rows = corpus["log"].stdout, corpus["rows"].values()
    counts = {status: sum(row["status"] == status for row in rows) for status in ("graded", "failed", "timed out",
                                                                                     "kernel died")}
    counts["flagged"] = sum(bool(row["flags"]) for row in rows)
    for status, count in counts.items():
        assert any(line.startswith(f"  {status} ") and line.split()[-1] == str(count) for line in out.splitlines()), (
            status, count, out[-3000:])
    listed = {line.split()[0] for line in out.split("flags / reason", 1)[1].splitlines() if line.strip()}
    assert {case.student for case in corpus["cases"]} <= listed, out[-3000:]
    assert "sandboxed with bubblewrap" in out


@pytest.mark.parametrize("assignment", EXERCISES)
def test_running_again_changes_nothing(corpora, assignment):
    corpus = corpora(assignment)
    course = corpus["course"]
    executed = course / ".nnbook-autograde" / assignment / "executed"
    runs = {path: path.stat().st_mtime_ns for path in executed.rglob("*.ipynb")}
    autograde(course, assignment)
    assert {path: path.stat().st_mtime_ns for path in executed.rglob("*.ipynb")} == runs, "a notebook ran again"
    assert read_rows(course, assignment) == corpus["rows"]
    graded = [case.student for case in corpus["cases"] if not refused_id(case)]
    assert cell_scores(course, assignment, graded) == corpus["scores"]
    assert snapshot(course) == corpus["before"]
    assert digests(course / "feedback") == corpus["feedback"]
    autograde(course, assignment, "--student", "honest")  # one student again: the others keep their rows
    assert read_rows(course, assignment) == corpus["rows"]


#: Students whose answers draw unseeded random numbers: the numbers in their feedback change from run to run.
RANDOM_BY_DESIGN = {"unseeded"}


def test_a_dask_cluster_grades_the_corpus_exactly_as_local_grading(corpora, tmp_path_factory):
    """ex01's whole corpus (the limits included: the fork bomb, the memory and disk hogs) graded with
    ``--scheduler`` on a LocalCluster of two worker processes: every student gets the status, score and flags
    of local grading, and the same feedback page, byte for byte, unless it ran out of time (which cell a
    timeout interrupts depends on the machine's load) or its answer is random by design (then the same
    verdicts, with other numbers)."""
    distributed = pytest.importorskip("distributed")
    corpus = corpora("ex01")
    module, cases = EXERCISES["ex01"]
    course = make_course(tmp_path_factory.mktemp("course-ex01-dask"), ["ex01"])
    release = nbformat.read(course / "exercises" / "ex01" / module.NOTEBOOK, as_version=4)
    for case in cases:
        hand_in(course, module, case, release)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster:
        autograde(course, "ex01", "--scheduler", cluster.scheduler_address)
    rows, local = read_rows(course, "ex01"), corpus["rows"]
    assert sorted(rows) == sorted(local)
    for student, row in rows.items():
        expected = local[student]
        for key in ("status", "score", "max_score", "flags"):
            assert row[key] == expected[key], (student, key, row[key], expected[key])
        if row["status"] != "timed out":
            assert row["reason"] == expected["reason"], student
    def pages(folder):
        """The feedback pages by student and notebook, with the course's own path (which submissions that
        attack the course's files write into their code, as the feedback shows it) replaced by a placeholder."""
        return {path.relative_to(folder / "feedback").as_posix(): path.read_text().replace(str(folder), "COURSE")
                for path in sorted((folder / "feedback").rglob("*.html"))}

    def numbers_masked(page):
        return re.sub(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?", "#", page)

    remote, local_pages = pages(course), pages(corpus["course"])
    assert sorted(remote) == sorted(local_pages)
    for path, page in remote.items():
        student = Path(path).parts[0]
        if rows.get(student, {}).get("status") == "timed out":
            continue
        if student in RANDOM_BY_DESIGN:  # the same verdicts, on other numbers
            assert numbers_masked(page) == numbers_masked(local_pages[path]), f"{path}: another verdict"
        else:
            assert page == local_pages[path], f"{path}: the feedback differs from local grading's"
