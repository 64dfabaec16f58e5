"""Benchmark: autograding N synthetic ex01 submissions: plain sequential nbgrader, ``nnbook-autograde`` with its
local pool, and ``nnbook-autograde --scheduler`` on a Dask cluster of 2 local workers.

For each N (20 and 100 by default; ``--n 20 500`` for the scale measurement of
the autograding guide), identical copies of the course are made
(``nbgrader_config.py``, ``solutions/``, ``nbgrader generate_assignment ex01``)
with the same N submissions, a mix of eight kinds (student ``i`` is of kind
``i mod 8``):

* kinds 0–5, honest and partial: the first ``i mod 8`` functions right, the
  stubs after them (scores 0, 2, …, 10);
* kind 6, broken: every function right but a syntax error in ``sigmoid``'s cell;
* kind 7, hostile (quickly): every function right, and the first cell tries to
  read the gradebook and ``solutions/``, to open a network connection, and
  ``binary_cross_entropy`` calls the package's reference.

Then, in the same run:

* **plain**: ``nbgrader autograde ex01``, ``nbgrader generate_feedback ex01`` and
  ``nbgrader export``, one submission after the other, as the README says
  (unsandboxed: the hostile kind's reads and connection are not stopped there);
* **local**: ``nnbook-autograde ex01`` (the sandboxed kernels in a pool of one
  worker per core, the gradebook written by nbgrader's converter, feedback and CSV);
* **dask**: ``nnbook-autograde ex01 --scheduler …`` on a ``distributed.LocalCluster``
  of 2 worker processes of one thread (what a real cluster runs, here on the
  same 2 cores: its overhead against the local pool is what a cluster pays per
  submission).

After the Dask run, the work that stays on the client (the intake, the job's
preparation, the outcome written, nbgrader's record of the grades, the
feedback page) is timed on its own for a sample of its students: whatever the
number of workers, the client cannot go faster than that. The report also gives
the mean time a worker spent on a submission (``execute_job``'s own timing).

Each is timed end to end; the report gives seconds per submission and
submissions per minute, checks that the local and Dask paths give every student
the same total, and counts the students whose total differs under plain
nbgrader (none is expected: the reference use is caught by the tests themselves). The
load average at the end of each size tells whether other processes shared the
machine: above the number of cores, the times are not to be trusted.

Run ``python benchmarks/bench_autograde.py`` (about eight minutes on 2 cores; ``--n 20 500``, about 35),
``--n 4`` for a smoke run, ``--output report.md`` to save the table,
``--no-plain`` or ``--no-dask`` to leave a path out.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "perceptron_logistic.ipynb"
FUNCTIONS = ("perceptron_update", "sigmoid", "binary_cross_entropy", "bce_gradients", "gradient_descent_step")


def environment():
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def run(course, *command):
    done = subprocess.run(command, cwd=course, env=environment(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done


def nbgrader(course, *args):
    return run(course, sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}")


def written_answer(source):
    skipped = ("### BEGIN SOLUTION", "### END SOLUTION", "raise NotImplementedError")
    return "\n".join(line for line in source.splitlines() if not any(mark in line for mark in skipped))


HOSTILE_CELL = """
import socket
for path in ("../../../gradebook.db", "../../../solutions", "../../solutions"):
    try:
        open(path).read(10)
    except Exception:
        pass
try:
    socket.create_connection(("pypi.org", 443), timeout=1)
except Exception:
    pass
"""
HOSTILE_BCE = "from nnbook.losses import binary_cross_entropy as _bce\n\ndef binary_cross_entropy(a, y):\n    " \
              "return _bce(a, y)[0]\n"


def answers_of(kind, answers):
    """The answer cells of a student of ``kind`` (0–7, see the module's docstring)."""
    if kind < 6:
        return {name: answers[name] for name in FUNCTIONS[:kind]}
    chosen = dict(answers)
    if kind == 6:
        chosen["sigmoid"] = "def sigmoid(z)\n    return z"
    else:
        chosen["perceptron_update"] = HOSTILE_CELL + answers["perceptron_update"]
        chosen["binary_cross_entropy"] = HOSTILE_BCE
    return chosen


def make_course(folder, n):
    """A copy of the course with ex01 generated and ``n`` synthetic submissions of the eight kinds."""
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copytree(ROOT / "solutions" / "ex01", folder / "solutions" / "ex01")
    nbgrader(folder, "generate_assignment", "ex01")
    source = nbformat.read(folder / "solutions" / "ex01" / NOTEBOOK, as_version=4)
    release = nbformat.read(folder / "exercises" / "ex01" / NOTEBOOK, as_version=4)
    answers = {cell.metadata["nbgrader"]["grade_id"]: written_answer(cell.source)
               for cell in source.cells if cell.metadata.get("nbgrader", {}).get("solution")}
    for i in range(n):
        notebook = nbformat.from_dict(release)
        chosen = answers_of(i % 8, answers)
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in chosen:
                cell.source = chosen[grade_id]
        target = folder / "submitted" / f"student{i:03d}" / "ex01"
        target.mkdir(parents=True)
        nbformat.write(notebook, target / NOTEBOOK)
    return folder


def totals_from_csv(path, score="score"):
    with open(path, newline="") as file:
        return {row["student_id"]: float(row[score]) for row in csv.DictReader(file) if row[score] != ""}


def timed(function):
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def client_seconds(course, sample=16):
    """Seconds per submission of the work that stays on the client when a cluster grades: for ``sample`` students
    already graded in ``course``, the intake, the job's preparation, the outcome written, nbgrader's record of the
    grades and the feedback page (done again, each timed on its own). It bounds what any number of workers can do."""
    from nnbook.autograder import autograde

    os.environ["PATH"] = environment()["PATH"]  # nbgrader's converter runs alembic
    options = {"timeout": 300.0, "cell_timeout": None, "memory": 2**31, "cpu": 600, "isolate": True,
               "hidden_seed": 1, "disk": None, "processes": None}
    work = course / ".nnbook-autograde" / "ex01"
    students = sorted(path.stem for path in (work / "results").glob("*.json"))[:sample]
    students = [student for student in students if (work / "executed" / student).is_dir()]
    steps = dict.fromkeys(("prepare", "record", "feedback"), 0.0)
    for student in students:
        started = time.perf_counter()
        intake = autograde.take_in(course, "ex01", student)
        autograde.prepare_submission(course, "ex01", student, options, intake)
        executed = {path.stem: path.read_text() for path in (work / "executed" / student).glob("*.ipynb")}
        autograde.store_outcome(course, "ex01", json.loads((work / "results" / f"{student}.json").read_text()),
                                executed)
        steps["prepare"] += time.perf_counter() - started
        steps["record"] += timed(lambda: autograde.record(course, "ex01", student, intake))
    steps["feedback"] = timed(lambda: autograde.write_feedback(course, "ex01", students))  # one exporter, as a run
    per_submission = {step: seconds / len(students) for step, seconds in steps.items()}
    ran = [json.loads(path.read_text()).get("seconds") for path in (work / "results").glob("*.json")]
    ran = [seconds for seconds in ran if seconds]  # refused or unreadable submissions start no kernel
    per_submission["worker"] = sum(ran) / len(ran)  # execute_job on a worker, as it timed itself
    return per_submission


def bench(n, workdir, plain=True, dask=True):
    """Grade ``n`` submissions by each path, on copies of one course; the times and the comparison of the totals."""
    result = {"n": n}
    local_course = make_course(workdir / f"local-{n}", n)
    result["local"] = timed(lambda: run(local_course, sys.executable, "-m", "nnbook.autograder", "ex01"))
    local_totals = totals_from_csv(local_course / "grades_ex01.csv")
    if dask:
        from distributed import LocalCluster

        dask_course = make_course(workdir / f"dask-{n}", n)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=40) as cluster:
            result["dask"] = timed(lambda: run(dask_course, sys.executable, "-m", "nnbook.autograder", "ex01",
                                               "--scheduler", cluster.scheduler_address))
        result["dask_same"] = totals_from_csv(dask_course / "grades_ex01.csv") == local_totals
        result["client"] = client_seconds(dask_course)
    if plain:
        plain_course = make_course(workdir / f"plain-{n}", n)
        result["plain"] = timed(lambda: (nbgrader(plain_course, "autograde", "ex01"),
                                         nbgrader(plain_course, "generate_feedback", "ex01"),
                                         nbgrader(plain_course, "export", "--to=grades.csv")))
        plain_totals = totals_from_csv(plain_course / "grades.csv")
        result["plain_differs"] = sum(plain_totals.get(student) != total for student, total in local_totals.items())
    result["load"] = os.getloadavg()[1]
    return result


def report(results):
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    lines = [
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        f"- machine: {cpu}, {os.cpu_count()} logical CPUs; {platform.platform()}; python {platform.python_version()}",
        "- work: ex01 (10 test cells, 5 hidden), N synthetic submissions of 8 kinds (6 honest or partial, 1 broken, "
        "1 hostile)",
        "",
        "| N | path | time | s / submission | submissions / min | against local | same totals as local | "
        "load average (5 min) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for path in ("local", "dask", "plain"):
            if path not in r:
                continue
            same = {"local": "—", "dask": "yes" if r.get("dask_same") else "NO",
                    "plain": f"{r.get('plain_differs', 0)} differ (unsandboxed)"}[path]
            lines.append(f"| {r['n']} | {path} | {r[path]:.1f} s | {r[path] / r['n']:.2f} | "
                         f"{60 * r['n'] / r[path]:.1f} | {r[path] / r['local']:.2f} | {same} | {r['load']:.1f} |")
    for r in results:
        if "client" in r:
            client = r["client"]
            lines.append(f"\nN = {r['n']}, Dask: a worker's time per submission that starts a kernel (its own "
                         f"timing, the mean) {client['worker']:.2f} s; the client's own work per submission (a sample "
                         f"of the students, each step again): intake, job and outcome {client['prepare']:.3f} s, "
                         f"nbgrader's record {client['record']:.3f} s, feedback page {client['feedback']:.3f} s.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[20, 100], help="numbers of submissions (default 20 100)")
    parser.add_argument("--output", help="also write the report (Markdown) to this file")
    parser.add_argument("--no-plain", action="store_true", help="leave plain nbgrader out")
    parser.add_argument("--no-dask", action="store_true", help="leave the Dask cluster out")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-autograde-") as folder:
        results = [bench(n, Path(folder), plain=not args.no_plain, dask=not args.no_dask) for n in args.n]
    text = report(results)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0 if all(r.get("dask_same", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
