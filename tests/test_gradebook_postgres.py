"""The gradebook on a real PostgreSQL server: the same grades as SQLite, the export, and two graders at once.

nbgrader keeps its gradebook through SQLAlchemy, so a course switches to
PostgreSQL with one line of ``nbgrader_config.py``,
``c.CourseDirectory.db_url = "postgresql+psycopg://…"``; ``nnbook-autograde``
reads it from there. These tests start a throwaway server
(:mod:`postgres_server`) and check, with the sandboxed grader and real
submissions of ex01:

* the whole round trip (generate, autograde, feedback, export), with two
  graders (two ``nnbook-autograde`` processes, as on two machines) writing
  different students into one gradebook at the same time, gives every student
  exactly the cell scores and totals that the default SQLite gradebook gives
  with the same hidden seed: no grade lost or changed;
* a second run changes nothing.

Skipped without PostgreSQL's binaries, unless ``NNBOOK_REQUIRE_POSTGRES=1``.
"""

import csv
import subprocess
import sys

import pytest
from nbgrader_course import make_course, nbgrader, nbgrader_env
from optional import require_sandbox
from postgres_server import PostgresServer, require_postgres
from test_autograde_exercises import students as hand_in

pytestmark = pytest.mark.autograde

ASSIGNMENT, NOTEBOOK = "ex01", "perceptron_logistic.ipynb"
FUNCTIONS = ("perceptron_update", "sigmoid", "binary_cross_entropy", "bce_gradients", "gradient_descent_step")
SEED = 20261129


@pytest.fixture(scope="module")
def server():
    binaries = require_postgres()
    running = PostgresServer(binaries).start()
    yield running
    running.stop()


def wrong_sigmoid(answers):
    """A student whose sigmoid is off by a sign (a mistake that costs exactly that function)."""
    return {**answers, "sigmoid": "def sigmoid(z):\n    import numpy as np\n    return 1 / (1 + np.exp(z))"}


def course_with_submissions(folder, db_url=None):
    """ex01 generated into ``db_url`` (SQLite in the folder by default), with five students' submissions."""
    folder.mkdir()
    make_course(folder, assignments=())
    if db_url:
        with open(folder / "nbgrader_config.py", "a") as config:
            config.write(f"\nc.CourseDirectory.db_url = {db_url!r}\n")
    nbgrader(folder, "generate_assignment", ASSIGNMENT)
    hand_in(folder, ASSIGNMENT, NOTEBOOK, FUNCTIONS,
            {"wrong_sigmoid": wrong_sigmoid, "honest_2": lambda answers: answers, "wrong_sigmoid_2": wrong_sigmoid})
    return folder


def autograde(course, *options, csv_name="grades.csv"):
    command = [sys.executable, "-m", "nnbook.autograder", ASSIGNMENT, "--course", str(course), "--hidden-seed",
               str(SEED), "--csv", str(course / csv_name), *options]
    return subprocess.Popen(command, env=nbgrader_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process):
    stdout, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, f"nnbook-autograde failed:\n{stdout[-3000:]}\n{stderr[-5000:]}"


def exported(course):
    """``{student: score}`` from ``nbgrader export``, which reads the gradebook the configuration names."""
    nbgrader(course, "export", "--to", str(course / "export.csv"))
    with open(course / "export.csv", newline="") as file:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(file) if row["assignment"] == ASSIGNMENT}


def scores_in(db_url):
    """``{student: {test cell: score}}`` read straight from the gradebook at ``db_url``."""
    from nbgrader.api import Gradebook

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", nbgrader_env()["PATH"])
        with Gradebook(db_url, course_id="nnbook") as gradebook:
            return {submission.student.id: {grade.name: grade.score for grade in submission.notebooks[0].grades}
                    for submission in gradebook.assignment_submissions(ASSIGNMENT)}


def test_two_graders_on_postgres_give_the_grades_of_sqlite_and_export_them(tmp_path, server):
    """The same submissions, the same hidden seed: one grader on the default SQLite gradebook, and two graders
    at the same time (different students) on one PostgreSQL gradebook, as on two machines."""
    require_sandbox()
    db_url = server.create_database()
    on_sqlite = course_with_submissions(tmp_path / "sqlite")
    on_postgres = course_with_submissions(tmp_path / "postgres", db_url)
    finished(autograde(on_sqlite))
    first = autograde(on_postgres, "--student", "honest", "--student", "wrong_sigmoid", "--student", "untouched",
                      "--workers", "1", csv_name="first.csv")
    second = autograde(on_postgres, "--student", "honest_2", "--student", "wrong_sigmoid_2", "--workers", "1",
                       csv_name="second.csv")
    finished(first)
    finished(second)

    expected = exported(on_sqlite)
    assert expected["honest"] == expected["honest_2"] == 10 and expected["untouched"] == 0
    assert 0 < expected["wrong_sigmoid"] == expected["wrong_sigmoid_2"] < 10
    assert exported(on_postgres) == expected
    scores = scores_in(db_url)
    assert sorted(scores) == ["honest", "honest_2", "untouched", "wrong_sigmoid", "wrong_sigmoid_2"]
    assert scores == scores_in(f"sqlite:///{on_sqlite / 'gradebook.db'}"), "no grade lost or changed"
    assert not (on_postgres / "gradebook.db").exists(), "the course on PostgreSQL writes no SQLite file"
    for student in expected:
        assert (on_postgres / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")).is_file()

    # a second pass of one grader over everyone changes nothing (its runs are reused, the grades rewritten equal)
    finished(autograde(on_postgres, "--workers", "1", csv_name="again.csv"))
    assert scores_in(db_url) == scores
