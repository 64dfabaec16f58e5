"""``nnbook-autograde --scheduler``: the notebooks run on the workers of a Dask cluster, the grades stay here.

A ``distributed.LocalCluster`` of two worker processes stands in for the
machines of a real cluster (the same code runs there: the workers receive plain
jobs and need only the package and the sandbox). With ex01's round-trip
students (honest, untouched, one mistake), these tests check that

* the cluster grades every student exactly as local grading does (status,
  cell scores, flags, feedback pages), with the same hidden seed;
* a worker killed while it runs a notebook loses nothing: its job goes to
  another worker, and every student ends graded, none half-written;
* a second run is idempotent: nothing runs again, nothing changes.

The adversarial corpus graded on the cluster is in ``test_autograde_corpus.py``.
"""

import csv
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
from nbgrader_course import make_course, nbgrader, nbgrader_env
from optional import require_sandbox
from test_autograde_exercises import students as hand_in

pytestmark = pytest.mark.autograde

ASSIGNMENT, NOTEBOOK = "ex01", "perceptron_logistic.ipynb"
FUNCTIONS = ("perceptron_update", "sigmoid", "binary_cross_entropy", "bce_gradients", "gradient_descent_step")
SEED = 4242


def wrong_sigmoid(answers):
    return {**answers, "sigmoid": "def sigmoid(z):\n    import numpy as np\n    return 1 / (1 + np.exp(z))"}


def slow(answers):
    """Right answers, and 6 s of sleep in the first cell: long enough to kill its worker in the middle."""
    return {**answers, "perceptron_update": "import time\ntime.sleep(6)\n" + answers["perceptron_update"]}


STUDENTS = {"wrong_sigmoid": wrong_sigmoid, "slow": slow}


@pytest.fixture(scope="module")
def cluster():
    require_sandbox()
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as running, distributed.Client(running) as client:
        yield running, client


def course(folder):
    folder.mkdir()
    make_course(folder, assignments=())
    nbgrader(folder, "generate_assignment", ASSIGNMENT)
    hand_in(folder, ASSIGNMENT, NOTEBOOK, FUNCTIONS, STUDENTS)
    return folder


def autograde(folder, *options):
    command = [sys.executable, "-m", "nnbook.autograder", ASSIGNMENT, "--course", str(folder), "--hidden-seed",
               str(SEED), *options]
    return subprocess.Popen(command, env=nbgrader_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process):
    stdout, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, f"nnbook-autograde failed:\n{stdout[-3000:]}\n{stderr[-5000:]}"
    return stdout


def rows(folder):
    with open(folder / f"grades_{ASSIGNMENT}.csv", newline="") as file:
        return {row["student_id"]: {key: row[key] for key in ("score", "status", "reason", "flags")}
                for row in csv.DictReader(file)}


def feedback_pages(folder):
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted((folder / "feedback").rglob("*.html"))}


def executed_runs(folder):
    return {path: path.stat().st_mtime_ns
            for path in (folder / ".nnbook-autograde" / ASSIGNMENT / "executed").rglob("*.ipynb")}


def test_the_cluster_grades_like_local_grading_survives_a_killed_worker_and_runs_again_idempotently(
        tmp_path, cluster):
    running, client = cluster
    local, remote = course(tmp_path / "local"), course(tmp_path / "remote")
    finished(autograde(local))

    process = autograde(remote, "--scheduler", running.scheduler_address)
    pids = client.run(os.getpid)
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and time.monotonic() < deadline and process.poll() is None:
        busy = [worker for worker, keys in client.processing().items() if any("-slow-" in key for key in keys)]
        if busy:
            time.sleep(2)  # the slow student's kernel is now sleeping in its first cell
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed = busy[0]
        time.sleep(0.1)
    finished(process)
    assert killed is not None, "the slow student's job was never seen running"

    expected = rows(local)
    assert expected["honest"]["score"] == expected["slow"]["score"] == "10.0"
    assert expected["untouched"]["score"] == "0.0" and 0 < float(expected["wrong_sigmoid"]["score"]) < 10
    assert rows(remote) == expected
    assert feedback_pages(remote) == feedback_pages(local)

    before, pages = executed_runs(remote), feedback_pages(remote)
    output = finished(autograde(remote, "--scheduler", running.scheduler_address))
    assert executed_runs(remote) == before, "an unchanged submission ran again"
    assert rows(remote) == expected and feedback_pages(remote) == pages, output


def test_a_worker_with_another_package_refuses_to_grade():
    """A job carries the digest of the instructor's package: a worker with another one says so, grades nothing."""
    from nnbook.autograder import autograde

    job = {"student": "ada", "options": {}, "notebooks": [{"name": "x"}], "package": "0" * 64,
           "result": {"student": "ada", "status": "graded", "reason": "", "flags": [], "cells": {},
                      "grader_error": False}}
    result, executed = autograde.execute_job(job)
    assert result["status"] == "failed" and result["grader_error"] and executed == {}
    assert "differs from the instructor's: install the course's package on every worker" in result["reason"]


def test_the_client_keeps_a_bounded_number_of_jobs_in_flight_and_writes_each_outcome_as_it_arrives(
        tmp_path, cluster, monkeypatch):
    """Nine students on two workers: at most ``jobs_in_flight`` (here 4) jobs are prepared and not yet written at
    any time, and the first outcome is written before the last job is prepared (a run stopped half-way keeps what
    came back)."""
    from nnbook.autograder import autograde

    running, client = cluster
    folder = tmp_path / "course"
    folder.mkdir()
    make_course(folder, assignments=())
    nbgrader(folder, "generate_assignment", ASSIGNMENT)
    hand_in(folder, ASSIGNMENT, NOTEBOOK, FUNCTIONS, {f"copy{i}": (lambda answers: answers) for i in range(7)})
    students = autograde.submitted_students(folder, ASSIGNMENT)
    assert len(students) == 9 and autograde.jobs_in_flight(client) == 4

    monkeypatch.setenv("PATH", nbgrader_env()["PATH"])  # nbgrader's preprocessors open the gradebook (alembic)
    events, prepare = [], autograde.prepare_submission
    monkeypatch.setattr(autograde, "prepare_submission",
                        lambda *args: events.append(("prepared", args[2])) or prepare(*args))
    intakes = {student: autograde.take_in(folder, ASSIGNMENT, student) for student in students}
    options = {"timeout": 120.0, "cell_timeout": None, "memory": 2**31, "cpu": 240, "isolate": True,
               "hidden_seed": SEED, "disk": None, "processes": None}
    autograde.run_on_cluster(folder, ASSIGNMENT, students, options, intakes, client,
                             lambda result: events.append(("written", result["student"])))

    assert sorted(student for kind, student in events if kind == "written") == sorted(students)
    in_flight = [sum(+1 if kind == "prepared" else -1 for kind, _ in events[:i + 1]) for i in range(len(events))]
    assert max(in_flight) == 4, events
    last_prepared = max(i for i, (kind, _) in enumerate(events) if kind == "prepared")
    assert events.index(("written", next(s for kind, s in events if kind == "written"))) < last_prepared, events
    for student in students:
        result = json.loads((folder / ".nnbook-autograde" / ASSIGNMENT / "results" / f"{student}.json").read_text())
        assert result["status"] == "graded", result


@pytest.fixture
def waiting_course(tmp_path, monkeypatch):
    """A course with one submission, and ``nnbook-autograde`` waiting 3 s (not 60) for a scheduler and a worker."""
    from nnbook.autograder import autograde

    require_sandbox()
    monkeypatch.setattr(autograde, "CLUSTER_WAIT_SECONDS", 3)
    monkeypatch.setenv("PATH", nbgrader_env()["PATH"])
    folder = tmp_path / "course"
    folder.mkdir()
    make_course(folder, assignments=())
    nbgrader(folder, "generate_assignment", ASSIGNMENT)
    hand_in(folder, ASSIGNMENT, NOTEBOOK, FUNCTIONS)
    return folder


def graded_without_a_cluster(folder, scheduler, capsys):
    """Run ``nnbook-autograde --scheduler`` in this process; its exit code and what it printed on stderr."""
    from nnbook.autograder import autograde

    code = autograde.main([ASSIGNMENT, "--course", str(folder), "--scheduler", scheduler, "--hidden-seed", "1"])
    assert not (folder / f"grades_{ASSIGNMENT}.csv").exists() and not (folder / "autograded").exists()
    assert not (folder / ".nnbook-autograde" / ASSIGNMENT / "results").exists()
    return code, capsys.readouterr().err


def test_a_scheduler_that_does_not_answer_is_named_and_nothing_is_graded(waiting_course, capsys):
    import socket

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    code, err = graded_without_a_cluster(waiting_course, address, capsys)
    assert code == 2
    assert f"nnbook-autograde: no Dask scheduler answers at {address}" in err, err
    assert "start one with `dask scheduler`, or check the address. Nothing was graded." in err, err


def test_a_scheduler_without_workers_is_named_and_nothing_is_graded(waiting_course, capsys):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=0, dashboard_address=":0", silence_logs=logging.ERROR) as empty:
        code, err = graded_without_a_cluster(waiting_course, empty.scheduler_address, capsys)
    assert code == 2
    assert (f"nnbook-autograde: no Dask worker joined the scheduler at {empty.scheduler_address} within 3 s: start "
            f"them on the grading machines with `dask worker {empty.scheduler_address} --nthreads 1`. Nothing was "
            "graded.") in err, err
