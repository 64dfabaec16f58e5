"""The pieces of the trusted autograder: plain data, the sandbox, the verdicts, the refusal to run unsandboxed,
the intake of submissions, student ids, the CSV, the hidden tests' seed, nbgrader's checksum warnings.

The whole command on the adversarial corpus is ``test_autograde_corpus.py``.
The sandbox tests need bubblewrap; they are skipped without it unless
``NNBOOK_REQUIRE_SANDBOX=1`` (CI), which turns the skip into a failure.
"""

import os
import socket
import subprocess
import sys
import textwrap
import threading

import nbformat
import numpy as np
import pytest

from nnbook import grading
from nnbook.autograder import autograde, plaindata, sandbox
from nnbook.autograder.trusted_execute import read_untrusted, redact, redact_student_message, student_signatures

# ---- plain data ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "uint8", "bool"])
def test_arrays_cross_exactly_as_fresh_ndarrays(dtype):
    array = (np.arange(12).reshape(3, 4) * 0.37).astype(dtype)
    back = plaindata.loads(plaindata.dumps(array))
    assert type(back) is np.ndarray and back.dtype == array.dtype and back.shape == (3, 4)
    assert np.array_equal(back, array)


def test_nested_values_numbers_and_non_finite_values_cross():
    value = {"dw": np.array([np.nan, np.inf, -1.5]), "pair": (1, 2.5, None, "x", True), "list": [np.float64(0.25)]}
    back = plaindata.loads(plaindata.dumps(value))
    assert np.isnan(back["dw"][0]) and back["dw"][1] == np.inf and back["dw"][2] == -1.5
    assert back["pair"] == (1, 2.5, None, "x", True) and type(back["pair"]) is tuple
    assert type(back["list"][0]) is np.float64 and back["list"][0] == 0.25
    assert plaindata.loads(plaindata.dumps(float("nan"))) != plaindata.loads(plaindata.dumps(float("nan")))


class Agreeable(np.ndarray):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize(
    "value, description",
    [
        (np.zeros(3).view(Agreeable), "ndarray subclass"),
        (np.array([1.0, 2.0], dtype=object), "dtype object"),
        (np.array([1 + 0j]), "dtype complex128"),
        (lambda: 0, "function"),
        ({1: 2.0}, "dict"),
    ],
)
def test_what_is_not_plain_data_comes_back_as_a_description_that_fails_every_check(value, description):
    back = plaindata.loads(plaindata.dumps(value))
    assert isinstance(back, plaindata.StudentObject) and description in back.description
    assert back != back and back != np.zeros(3)
    with pytest.raises(AssertionError, match=description):
        grading.check_array("dw", back, np.zeros(3))
    with pytest.raises(AssertionError):
        grading.check_scalar("J", back, 0.0)


@pytest.mark.parametrize(
    "text",
    [
        '{"__ndarray__": {"dtype": "float64", "shape": [3], "data": [1.0, 2.0]}}',  # fewer values than the shape
        '{"__ndarray__": {"dtype": "object", "shape": [1], "data": [1]}}',
        '{"__ndarray__": {"dtype": "float64", "shape": [1], "data": ["1"]}}',
        '{"__ndarray__": {"dtype": "float64", "shape": [-1], "data": []}}',
        '{"__pickle__": "gASV"}',
        '{"a": 1, "b": 2}',
        "[" * 50 + "]" * 50,
        "not json",
    ],
)
def test_decoding_refuses_anything_but_plain_data(text):
    with pytest.raises(plaindata.PlainDataError):
        plaindata.loads(text)


def test_checks_run_on_the_decoded_values_with_their_shape_dtype_and_nan():
    with pytest.raises(AssertionError, match=r"expected shape \(3,\), got shape \(1, 3\)"):
        grading.check_array("dw", plaindata.loads(plaindata.dumps(np.ones((1, 3)))), np.ones(3))
    with pytest.raises(AssertionError, match="NaN"):
        grading.check_array("a", plaindata.loads(plaindata.dumps(np.array([np.nan, 1.0]))), np.ones(2))
    grading.check_array("a", plaindata.loads(plaindata.dumps(np.ones(2, dtype=np.float32))), np.ones(2))


def test_hidden_messages_lose_the_reference_numbers_but_keep_the_diagnosis():
    message = ("dw for m = 5: relative error 0.3 exceeds 1e-06; largest difference at index (2,): got 0.5, "
               "expected -0.731. Likely mistake: It has the wrong sign")
    redacted = redact(message)
    assert "-0.731" not in redacted and "expected (hidden)" in redacted
    assert "got (hidden)" in redacted and "wrong sign" in redacted and "m = 5" in redacted
    assert redact("dw: expected shape (3,), got shape (1, 3).") == "dw: expected shape (3,), got shape (1, 3)."
    assert redact("a: contains 1 NaN value(s) (got nan, expected 0.25)") == (
        "a: contains 1 NaN value(s) (got (hidden), expected (hidden))")


def test_a_students_exception_message_loses_its_numbers_in_a_hidden_test():
    message = "operands could not be broadcast together with shapes (64,3) (5,) 0.7310585786 1e-3 123456"
    assert redact_student_message(message) == "operands could not be broadcast together with shapes (64,3) (5,) … … …"


def test_signatures_of_the_functions_a_student_writes():
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "def f(w, x, y=1):\n    pass\nLIMIT = 3", metadata={"nbgrader": {"solution": True, "grade": False}})])
    assert student_signatures(source) == {"f": ["w", "x", "y"], "LIMIT": []}


def test_answers_are_read_only_from_regular_files(tmp_path):
    (tmp_path / "answer").write_text("42")
    os.symlink("/etc/passwd", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert read_untrusted(folder, "answer") == "42"
        assert read_untrusted(folder, "link") is None
        assert read_untrusted(folder, "fifo") is None
        assert read_untrusted(folder, "missing") is None
        assert read_untrusted(folder, "answer", limit=1) is None
    finally:
        os.close(folder)


def test_the_student_names_are_what_the_solution_cells_define():
    from nbgrader_course import ROOT

    source = nbformat.read(ROOT / "solutions" / "ex01" / "perceptron_logistic.ipynb", as_version=4)
    assert list(student_signatures(source)) == [
        "perceptron_update", "sigmoid", "binary_cross_entropy", "bce_gradients", "gradient_descent_step"]


def test_static_flags_name_the_reference_modules_a_student_mentions():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from nnbook.perceptron import perceptron_update\nfrom nnbook import grading, losses"),
        nbformat.v4.new_code_cell("import nnbook.gradcheck"),
    ])
    assert autograde.reference_uses(notebook) == [
        "uses the package's reference implementation (nnbook.losses)",
        "uses the package's reference implementation (nnbook.perceptron)",
    ]


# ---- the sandbox ---------------------------------------------------------------------------------------------------


@pytest.fixture()
def isolated():
    problem = sandbox.isolation_problem()
    if problem:
        if os.environ.get("NNBOOK_REQUIRE_SANDBOX") == "1":
            pytest.fail(f"NNBOOK_REQUIRE_SANDBOX=1 but the sandbox cannot run: {problem}")
        pytest.skip(problem)


def run_sandboxed(tmp_path, code, limits=sandbox.Limits(), timeout=60):
    scratch = tmp_path / "scratch"
    (scratch / "work").mkdir(parents=True, exist_ok=True)
    package = sandbox.student_package(tmp_path / "lib")
    command = sandbox.wrap([sys.executable, "-I", "-c", textwrap.dedent(code)], scratch, scratch / "work", package, limits)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def test_the_sandbox_hides_the_course_and_the_home(isolated, tmp_path):
    secret = tmp_path / "solutions" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("hidden test")
    result = run_sandboxed(tmp_path, f"""
        import os
        for path in [{str(secret)!r}, {str(tmp_path / 'solutions')!r}, os.path.expanduser("~root"), "/root", "/home"]:
            print(path, os.path.exists(path) and bool(os.listdir(path) if os.path.isdir(path) else True))
        print("uid", os.getuid(), "pid", os.getpid())
    """)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(line.endswith("False") for line in lines[:2]), lines
    assert "uid 1000 pid 2" in result.stdout


def test_the_sandbox_writes_only_into_its_scratch_folder(isolated, tmp_path):
    outside = tmp_path / "outside.txt"
    result = run_sandboxed(tmp_path, f"""
        import os, sys
        open("inside.txt", "w").write("ok")
        for path in [{str(outside)!r}, sys.prefix + "/x", "/usr/x", "/etc/x"]:
            try:
                open(path, "w").write("pwned")
                print("WROTE", path)
            except OSError as error:
                print("blocked", path)
    """)
    assert result.returncode == 0, result.stderr
    assert "WROTE" not in result.stdout and not outside.exists()
    assert (tmp_path / "scratch" / "work" / "inside.txt").read_text() == "ok"


def test_the_sandbox_has_no_network_not_even_the_hosts_loopback(isolated, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept(), daemon=True).start()
    result = run_sandboxed(tmp_path, f"""
        import socket
        for address in [("127.0.0.1", {port}), ("pypi.org", 443), ("1.1.1.1", 53)]:
            try:
                socket.create_connection(address, timeout=3)
                print("CONNECTED", address)
            except OSError as error:
                print("no network", address)
    """)
    server.close()
    assert result.returncode == 0, result.stderr
    assert "CONNECTED" not in result.stdout and result.stdout.count("no network") == 3


def test_the_reference_implementation_is_masked_and_the_helpers_are_not(isolated, tmp_path):
    result = run_sandboxed(tmp_path, """
        from nnbook import grading, gradcheck
        print("helpers ok")
        try:
            from nnbook.perceptron import perceptron_update
        except ImportError as error:
            print("masked:", error)
    """)
    assert "helpers ok" in result.stdout, result.stderr
    assert "masked: nnbook.perceptron is the course's reference implementation" in result.stdout


def test_the_sandbox_limits_memory_cpu_and_file_size(isolated, tmp_path):
    limits = sandbox.Limits(memory=1 * 2**30, cpu_seconds=2, file_size=2**20)
    memory = run_sandboxed(tmp_path, """
        try:
            block = bytearray(3 * 2**30)
            print("ALLOCATED")
        except MemoryError:
            print("MemoryError")
    """, limits)
    assert "MemoryError" in memory.stdout, memory.stderr
    files = run_sandboxed(tmp_path, """
        try:
            open("big", "wb").write(b"x" * 2**21)
            print("WROTE")
        except OSError as error:
            print("too big", error.errno)
    """, limits)
    assert "too big" in files.stdout, files.stderr
    cpu = run_sandboxed(tmp_path, "while True:\n    pass\n", limits, timeout=30)
    assert cpu.returncode != 0  # killed by SIGXCPU after 2 CPU seconds


def test_the_command_refuses_to_grade_without_the_sandbox(tmp_path, monkeypatch, capsys):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    assert autograde.main(["ex01", "--course", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "refusing to grade" in error and "bubblewrap" in error and "--allow-unsandboxed" in error


# ---- intake: what a student handed in, read once ------------------------------------------------------------------

import shutil  # noqa: E402
import threading as _threading  # noqa: E402

from nbgrader_course import ROOT, make_course, nbgrader, nbgrader_env  # noqa: E402

NOTEBOOK = "perceptron_logistic.ipynb"


@pytest.fixture()
def course(tmp_path):
    """A course folder with ex01's source notebook: enough for the intake, which reads nothing else."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    (tmp_path / "solutions" / "ex01").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "ex01" / NOTEBOOK, tmp_path / "solutions" / "ex01")
    return tmp_path


def submitted_folder(course, student="ada"):
    folder = course / "submitted" / student / "ex01"
    folder.mkdir(parents=True)
    return folder


def take_in(course, student="ada", timeout=10):
    """``autograde.take_in``, which must return within ``timeout`` seconds whatever was handed in (a FIFO included)."""
    answer = []
    thread = _threading.Thread(target=lambda: answer.append(autograde.take_in(course, "ex01", student)), daemon=True)
    thread.start()
    thread.join(timeout)
    assert answer, f"the intake of {student} did not return within {timeout} s"
    return answer[0]


def test_the_intake_keeps_a_copy_and_everything_after_reads_the_copy(course):
    folder = submitted_folder(course)
    (folder / NOTEBOOK).write_text('{"cells": []}')
    intake = take_in(course)
    copy = course / autograde.WORK_FOLDER / "ex01" / "intake" / "ada" / NOTEBOOK
    assert intake["ok"] and intake["reason"] == "" and copy.read_text() == '{"cells": []}'
    assert set(intake["notebooks"]) == {NOTEBOOK}
    (folder / NOTEBOOK).write_text("changed after the intake")
    assert copy.read_text() == '{"cells": []}'
    key = autograde.run_key(course, "ex01", "ada", {"timeout": 1, "cell_timeout": 1, "memory": 1, "cpu": 1,
                                                      "isolate": True})
    (folder / NOTEBOOK).write_text("changed again")  # the run's key is the copy's, not the student's path's
    assert autograde.run_key(course, "ex01", "ada", {"timeout": 1, "cell_timeout": 1, "memory": 1, "cpu": 1,
                                                      "isolate": True}) == key


def _symlink_to_solution(course, folder):
    (folder / NOTEBOOK).symlink_to(course / "solutions" / "ex01" / NOTEBOOK)


def _symlink_to_other(course, folder):
    other = submitted_folder(course, "bob")
    (other / NOTEBOOK).write_text("{}")
    (folder / NOTEBOOK).symlink_to(other / NOTEBOOK)


def _hard_link(course, folder):
    os.link(course / "solutions" / "ex01" / NOTEBOOK, folder / NOTEBOOK)


def _directory(course, folder):
    (folder / NOTEBOOK).mkdir()


def _fifo(course, folder):
    os.mkfifo(folder / NOTEBOOK)


def _too_large(course, folder):
    (folder / NOTEBOOK).write_bytes(b" " * (autograde.MAX_NOTEBOOK_BYTES + 1))


def _renamed(course, folder):
    (folder / "Perceptron (1).ipynb").write_text("{}")


def _nothing(course, folder):
    (folder / "notes.txt").write_text("sorry")


@pytest.mark.parametrize("make, reason", [
    (_symlink_to_solution, f"{NOTEBOOK} is a symbolic link, not a file of your own"),
    (_symlink_to_other, f"{NOTEBOOK} is a symbolic link, not a file of your own"),
    (_hard_link, f"{NOTEBOOK} has 2 names (hard links)"),
    (_directory, f"{NOTEBOOK} is a folder, not a file of your own"),
    (_fifo, f"{NOTEBOOK} is a named pipe (FIFO), not a file of your own"),
    (_too_large, f"{NOTEBOOK} is larger than {autograde.MAX_NOTEBOOK_BYTES:,} bytes"),
    (_renamed, f"notebook not found: expected {NOTEBOOK}, got Perceptron (1).ipynb"),
    (_nothing, f"notebook not found: expected {NOTEBOOK}, got no notebook"),
], ids=lambda value: getattr(value, "__name__", "")[1:] or None)
def test_the_intake_refuses_anything_but_a_regular_file_of_the_students_own(course, make, reason):
    folder = submitted_folder(course)
    make(course, folder)
    intake = take_in(course)
    assert not intake["ok"] and reason in intake["reason"], intake
    assert not (course / autograde.WORK_FOLDER / "ex01" / "intake" / "ada" / NOTEBOOK).exists()


def test_the_intake_refuses_student_and_assignment_folders_that_are_links(course):
    honest = submitted_folder(course, "honest")
    (honest / NOTEBOOK).write_text("{}")
    (course / "submitted" / "mallory").symlink_to(course / "submitted" / "honest")
    (course / "submitted" / "eve").mkdir()
    (course / "submitted" / "eve" / "ex01").symlink_to(honest)
    assert "submitted/mallory is a symbolic link, not a folder of your own" in take_in(course, "mallory")["reason"]
    assert "submitted/eve/ex01 is a symbolic link, not a folder of your own" in take_in(course, "eve")["reason"]
    assert autograde.submitted_students(course, "ex01") == ["eve", "honest", "mallory"]


def test_only_folders_with_the_assignment_are_students_and_hidden_folders_are_not(course):
    submitted_folder(course, "ada")
    submitted_folder(course, ".ipynb_checkpoints")
    (course / "submitted" / "bob").mkdir()
    (course / "submitted" / "stray.txt").write_text("")
    assert autograde.submitted_students(course, "ex01") == ["ada"]


@pytest.mark.parametrize("text, expected, flag", [
    ("2026-03-01 12:30:00 UTC", "2026-03-01T12:30:00", None),
    ("2026-03-01T14:30:00+02:00", "2026-03-01T12:30:00", None),
    ("yesterday, around noon", None, "timestamp.txt ignored (ParserError"),
    ("", None, None),
])
def test_a_timestamp_is_read_as_a_date_or_ignored_with_a_flag(course, text, expected, flag):
    folder = submitted_folder(course)
    (folder / NOTEBOOK).write_text("{}")
    (folder / "timestamp.txt").write_text(text)
    intake = take_in(course)
    assert intake["ok"] and intake["timestamp"] == expected
    assert any(flag in item for item in intake["flags"]) if flag else intake["flags"] == []


def test_a_timestamp_that_is_a_link_is_ignored_with_a_flag(course):
    folder = submitted_folder(course)
    (folder / NOTEBOOK).write_text("{}")
    (folder / "timestamp.txt").symlink_to("/etc/hostname")
    intake = take_in(course)
    assert intake["ok"] and intake["timestamp"] is None
    assert intake["flags"] == ["timestamp.txt ignored (timestamp.txt is a symbolic link, not a file of your own): "
                               "graded as on time"]


@pytest.mark.parametrize("student", ["*", "[h]onest", "a?", "ada ", " ada", "ada\x1b[2J", "ada\n", ""])
def test_student_ids_nbgrader_would_misread_are_refused(student):
    assert autograde.refused_id(student)


@pytest.mark.parametrize("student", ["ada", "=1+1", "-2", "@sum", "o'brien", "jean-luc.picard", "élève_3"])
def test_other_student_ids_are_graded(student):
    assert autograde.refused_id(student) is None


# ---- the CSV, the summary ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, safe", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("ada", "ada"), ("a=b", "a=b"), ("", ""), (7.5, 7.5), (-1.0, -1.0),
])
def test_csv_cells_that_a_spreadsheet_would_run_are_written_as_text(value, safe):
    assert autograde.spreadsheet_safe(value) == safe


def test_the_summary_shows_control_characters_escaped():
    assert autograde.printable("ada\x1b[2J\n") == "ada\\x1b[2J\\x0a"


# ---- the hidden tests' seed ----------------------------------------------------------------------------------------


class RecordingExecute:
    """Stands for SandboxedExecute: records what it is given, runs nothing."""

    made = []
    hidden_seed = 0  # the trait exists

    def __init__(self, **kwargs):
        RecordingExecute.made.append(kwargs)
        self.status, self.stopped = "graded", None

    def preprocess(self, notebook, resources):
        return notebook, resources


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A course with ex01 generated and one untouched submission."""
    course = make_course(tmp_path_factory.mktemp("course"), ["ex01"])
    folder = course / "submitted" / "ada" / "ex01"
    folder.mkdir(parents=True)
    shutil.copy(course / "exercises" / "ex01" / NOTEBOOK, folder)
    return course


OPTIONS = {"timeout": 10, "cell_timeout": 5, "memory": 2**30, "cpu": 20, "isolate": True}


def test_each_run_passes_its_hidden_seed_and_records_it(generated, monkeypatch):
    monkeypatch.setenv("PATH", nbgrader_env()["PATH"])
    monkeypatch.setattr(autograde, "SandboxedExecute", RecordingExecute)
    RecordingExecute.made.clear()
    result = autograde.run_submission(generated, "ex01", "ada", {**OPTIONS, "hidden_seed": 1234})
    assert RecordingExecute.made[0]["hidden_seed"] == 1234 and result["hidden_seed"] == 1234
    saved = generated / autograde.WORK_FOLDER / "ex01" / "results" / "ada.json"
    assert '"hidden_seed": 1234' in saved.read_text()
    keys = {autograde.run_key(generated, "ex01", "ada", {**OPTIONS, "hidden_seed": seed}) for seed in (1, 2)}
    assert len(keys) == 1, "the seed must not make an unchanged submission run again"


def test_no_seed_is_passed_to_an_executor_without_the_trait(generated, monkeypatch):
    class Older(RecordingExecute):
        pass

    del RecordingExecute.hidden_seed
    try:
        monkeypatch.setenv("PATH", nbgrader_env()["PATH"])
        monkeypatch.setattr(autograde, "SandboxedExecute", Older)
        RecordingExecute.made.clear()
        autograde.run_submission(generated, "ex01", "ada", {**OPTIONS, "hidden_seed": 1234})
        assert "hidden_seed" not in RecordingExecute.made[0]
    finally:
        RecordingExecute.hidden_seed = 0


def test_every_grading_run_draws_a_fresh_secret_seed_unless_one_is_given(generated, monkeypatch, capsys):
    seeds = []

    def grade(course, assignment, students, options, *args, **kwargs):
        seeds.append(options["hidden_seed"])
        return {}, 0.0

    monkeypatch.setattr(autograde, "grade", grade)
    for argv in ([], [], ["--hidden-seed", "42"]):
        assert autograde.main(["ex01", "--course", str(generated), "--allow-unsandboxed", *argv]) == 0
    assert seeds[0] != seeds[1] and seeds[2] == 42
    assert all(0 <= seed < 2**63 for seed in seeds)


# ---- nbgrader's own autograde --------------------------------------------------------------------------------------


@pytest.mark.nbgrader
def test_plain_nbgrader_autograde_warns_about_changed_cells_only_when_a_student_changed_one(generated):
    """nbgrader's OverwriteCells warned "checksum ... has changed!" for every hidden-test cell of every submission."""
    untouched = nbgrader(generated, "autograde", "ex01", "--student", "ada", "--force")
    assert "has changed" not in untouched.stdout + untouched.stderr
    release = nbformat.read(generated / "exercises" / "ex01" / NOTEBOOK, as_version=4)
    for cell in release.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_sigmoid_hidden":
            cell.source += "\nprint('my own test')"
    folder = generated / "submitted" / "editor" / "ex01"
    folder.mkdir(parents=True)
    nbformat.write(release, folder / NOTEBOOK)
    edited = nbgrader(generated, "autograde", "ex01", "--student", "editor", "--force")
    changed = [line for line in (edited.stdout + edited.stderr).splitlines() if "has changed" in line]
    assert len(changed) == 1 and "test_sigmoid_hidden" in changed[0], changed
    graded = nbformat.read(generated / "autograded" / "editor" / "ex01" / NOTEBOOK, as_version=4)
    hidden = next(cell for cell in graded.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_sigmoid_hidden")
    assert "BEGIN HIDDEN TESTS" in hidden.source and "my own test" not in hidden.source
