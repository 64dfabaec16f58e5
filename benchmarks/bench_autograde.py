"""Benchmark: autograding N synthetic ex01 submissions, plain sequential nbgrader against ``nnbook-autograde``.

For each N (20 and 100 by default), two identical copies of the course are
made (``nbgrader_config.py``, ``solutions/``, ``nbgrader generate_assignment
ex01``) with the same N submissions: student ``i`` has the first ``i mod 6``
functions right and the stubs after them, so scores run over 0, 2, …, 10. Then,
in the same run:

* **plain**: ``nbgrader autograde ex01``, ``nbgrader generate_feedback ex01`` and
  ``nbgrader export``, one submission after the other, as the README says;
* **nnbook**: ``nnbook-autograde ex01``: the sandboxed kernels in parallel (one
  worker per core), the gradebook written by nbgrader's converter, feedback and
  CSV.

Each is timed end to end (the autograde step of plain nbgrader is also reported
alone); the report gives submissions per minute and the ratio of the times,
and checks that both give every student the same total. The load average at the
end of each size tells whether other processes shared the machine: above the
number of cores, the times are not to be trusted.

Run ``python benchmarks/bench_autograde.py`` (about ten minutes on 2 cores),
``--n 4`` for a smoke run, ``--output report.md`` to save the table.
"""

import argparse
import csv
import datetime
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


def make_course(folder, n):
    """A copy of the course with ex01 generated and ``n`` synthetic submissions."""
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
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in FUNCTIONS[: i % 6]:
                cell.source = answers[grade_id]
        target = folder / "submitted" / f"student{i:03d}" / "ex01"
        target.mkdir(parents=True)
        nbformat.write(notebook, target / NOTEBOOK)
    return folder


def totals_from_csv(path, score="score"):
    with open(path, newline="") as file:
        return {row["student_id"]: float(row[score]) for row in csv.DictReader(file) if row[score] != ""}


def bench(n, workdir):
    plain_course = make_course(workdir / f"plain-{n}", n)
    nnbook_course = make_course(workdir / f"nnbook-{n}", n)
    started = time.perf_counter()
    nbgrader(plain_course, "autograde", "ex01")
    autograde_only = time.perf_counter() - started
    nbgrader(plain_course, "generate_feedback", "ex01")
    nbgrader(plain_course, "export", "--to=grades.csv")
    plain = time.perf_counter() - started
    started = time.perf_counter()
    run(nnbook_course, sys.executable, "-m", "nnbook.autograder", "ex01")
    ours = time.perf_counter() - started
    same = totals_from_csv(plain_course / "grades.csv") == totals_from_csv(nnbook_course / "grades_ex01.csv")
    return {"n": n, "plain": plain, "plain_autograde": autograde_only, "nnbook": ours, "same_scores": same,
            "load": os.getloadavg()[1]}


def report(results):
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    lines = [
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        f"- machine: {cpu}, {os.cpu_count()} logical CPUs; {platform.platform()}; python {platform.python_version()}",
        "- work: ex01 (10 test cells, 5 hidden), N synthetic submissions, student i with the first i mod 6 functions right",
        "",
        "| N | plain nbgrader (autograde + feedback + export) | of which autograde | nnbook-autograde "
        "| plain / nnbook | submissions/min plain | submissions/min nnbook | same scores | load average (5 min) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['n']} | {r['plain']:.1f} s | {r['plain_autograde']:.1f} s | {r['nnbook']:.1f} s "
            f"| {r['plain'] / r['nnbook']:.2f} | {60 * r['n'] / r['plain']:.1f} | {60 * r['n'] / r['nnbook']:.1f} "
            f"| {'yes' if r['same_scores'] else 'NO'} | {r['load']:.1f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[20, 100], help="numbers of submissions (default 20 100)")
    parser.add_argument("--output", help="also write the report (Markdown) to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-autograde-") as folder:
        results = [bench(n, Path(folder)) for n in args.n]
    text = report(results)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0 if all(r["same_scores"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
