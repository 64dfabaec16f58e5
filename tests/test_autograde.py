"""The pieces of the trusted autograder: plain data, the sandbox, the verdicts, the refusal to run unsandboxed.

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

from nnbook import autograde, grading, plaindata, sandbox
from nnbook.trusted_execute import read_untrusted, redact, student_names, write_back

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
    assert "got 0.5" in redacted and "wrong sign" in redacted and "m = 5" in redacted
    assert redact("dw: expected shape (3,), got shape (1, 3).") == "dw: expected shape (3,), got shape (1, 3)."
    assert "nan" not in redact("a: contains 1 NaN value(s) (got nan, expected nan)").split("got nan")[1]


def test_changes_the_student_made_to_arguments_are_copied_back():
    w, params = np.zeros(3), {"W": np.zeros((2, 2))}
    write_back([w, params], [np.ones(3), {"W": np.full((2, 2), 2.0), "extra": 1}])
    assert np.array_equal(w, np.ones(3)) and np.array_equal(params["W"], np.full((2, 2), 2.0))
    write_back([w], [np.ones(4)])  # a different shape is not an in-place change: ignored
    assert w.shape == (3,)


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
    assert student_names(source) == [
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
