"""The sandbox's limits (``nnbook/sandbox.py``), each shown to hold in total for one kernel.

Each test runs a command in a :class:`nnbook.autograder.sandbox.Sandbox`, or a notebook
through :class:`nnbook.autograder.trusted_execute.SandboxedExecute`, and attacks one limit
of book/guide_autograding.md ("Limits"): the notebook's time (cells and calls),
the disk (``/dev/shm`` included), the memory of all processes together, the
number of processes, the outputs kept, what may be imported. The same attacks,
on the whole command, are ``tests/adversarial/limits.py``.

They need bubblewrap and root (``require_sandbox``); each takes a few seconds.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from optional import require_sandbox

from nnbook.autograder import sandbox
from nnbook.autograder.trusted_execute import SandboxedExecute

MiB = 2**20


@pytest.fixture()
def folder():
    require_sandbox()
    path = Path(tempfile.mkdtemp(prefix="nnbg-", dir="/tmp"))  # short: the kernel's unix sockets live in it
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run(folder, code, limits=sandbox.Limits(), allowed_imports=sandbox.DEFAULT_ALLOWED_IMPORTS, timeout=60):
    """Run Python ``code`` in a fresh sandbox; its last line of output as JSON, the process, the cgroup's counters."""
    package = sandbox.student_package(folder / "lib")
    (folder / "run" / "work").mkdir(parents=True, exist_ok=True)
    with sandbox.Sandbox(folder / "run", limits) as box:
        command = box.wrap([sys.executable, "-I", "-c", textwrap.dedent(code)], workdir=folder / "run" / "work",
                           package=package, allowed_imports=allowed_imports)
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        counters = {}
        for cgroup in box.cgroup.folders:
            for name in ("pids.peak", "pids.events", "memory.max_usage_in_bytes", "memory.peak", "cpu.stat",
                         "cpu.max", "cpu.cfs_quota_us", "cpu.cfs_period_us"):
                if os.path.exists(os.path.join(cgroup, name)):
                    counters[name] = Path(cgroup, name).read_text().strip()
        cgroups = list(box.cgroup.folders)
    assert not os.path.ismount(folder / "run") and not any(os.path.exists(path) for path in cgroups)
    lines = result.stdout.strip().splitlines()
    return (json.loads(lines[-1]) if lines else None), result, counters


# ---- disk -----------------------------------------------------------------------------------------------------------


def test_the_disk_is_bounded_in_total_not_only_per_file(folder):
    report, result, _ = run(folder, """
        import json, os
        written, errors = 0, []
        for i in range(16):  # 1 GiB in files of 64 MiB, the limit of one file
            try:
                with open(f"big-{i}", "wb") as file:
                    for _ in range(64):
                        file.write(b"x" * 2**20)
                        written += 2**20
            except OSError as error:
                errors.append(error.strerror)
                break
        try:
            open("one-too-big", "wb").truncate(65 * 2**20)
        except OSError as error:
            errors.append(error.strerror)
        print(json.dumps({"written": written, "errors": errors}))
    """)
    assert report is not None, result.stderr
    assert report["written"] <= 256 * MiB
    assert report["errors"] == ["No space left on device", "File too large"]


def test_dev_shm_is_part_of_the_disk_budget_and_the_rest_is_read_only(folder):
    report, result, _ = run(folder, """
        import json, os
        written, places = {}, {}
        for place in ("/dev/shm", "."):  # 2.25 GiB in /dev/shm (a tmpfs outside the address space), then the folder
            written[place] = 0
            try:
                for i in range(36):
                    with open(os.path.join(place, f"fill-{i}"), "wb") as file:
                        for _ in range(64):
                            file.write(b"x" * 2**20)
                            written[place] += 2**20
            except OSError as error:
                written[place + " error"] = error.strerror
        for path in ("/dev/x", "/x", "/tmp/x", "/usr/x"):
            try:
                open(path, "w")
                places[path] = "writable"
            except OSError as error:
                places[path] = error.strerror
        print(json.dumps({"written": written, "places": places}))
    """, limits=sandbox.Limits(disk=64 * MiB))
    assert report is not None, result.stderr
    written = report["written"]
    assert written["/dev/shm"] + written["."] <= 64 * MiB
    assert written["/dev/shm error"] == written[". error"] == "No space left on device"
    assert set(report["places"].values()) == {"Read-only file system"}, report["places"]


# ---- memory ---------------------------------------------------------------------------------------------------------


def test_memory_is_bounded_for_all_the_processes_together(folder):
    limits = sandbox.Limits(memory=512 * MiB, disk=16 * MiB, memory_margin=64 * MiB)  # 592 MiB in all
    report, result, counters = run(folder, """
        import json, os, select, time
        read, write = os.pipe()
        children = []
        for _ in range(6):  # 6 processes of 300 MiB each, each under its own limit of 512 MiB
            pid = os.fork()
            if pid == 0:
                block = b"x" * (300 * 2**20)
                os.write(write, b"!")
                time.sleep(1)
                os._exit(0)
            children.append(pid)
        held, deadline = 0, time.monotonic() + 1.5
        while time.monotonic() < deadline and held < 6:
            if select.select([read], [], [], 0.1)[0]:
                held += len(os.read(read, 16))
        killed = 0
        for pid in children:
            _, status = os.waitpid(pid, 0)
            killed += os.WIFSIGNALED(status)
        try:
            alone = len(b"y" * (600 * 2**20))
        except MemoryError:
            alone = "MemoryError"
        print(json.dumps({"held": held, "killed": killed, "alone": alone}))
    """, limits=limits)
    assert report is not None, result.stderr
    survivors = 6 - report["killed"]  # a child killed (out of memory) may have held its block for a moment
    assert report["held"] < 6 and survivors * 300 * MiB <= limits.memory_total
    assert report["alone"] == "MemoryError"  # one process: its own limit, a MemoryError it can handle
    peak = int(counters.get("memory.max_usage_in_bytes") or counters["memory.peak"])
    assert peak <= limits.memory_total


# ---- processes ------------------------------------------------------------------------------------------------------


def test_a_fork_bomb_stops_at_the_process_limit_and_leaves_nothing_behind(folder):
    before = len([name for name in os.listdir("/proc") if name.isdigit()])
    started = time.monotonic()
    _, result, counters = run(folder, """
        import os, time
        start = time.monotonic()
        while time.monotonic() - start < 2:  # every process forks, and every child too, for 2 seconds
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
        os._exit(0)
    """, limits=sandbox.Limits(processes=32), timeout=30)
    assert time.monotonic() - started < 15, result.stderr
    assert int(counters["pids.peak"]) <= 32 and "max" in counters["pids.events"]
    after = len([name for name in os.listdir("/proc") if name.isdigit()])
    assert after - before < 10  # the sandbox's processes are gone with it


def test_busy_processes_get_one_core_in_total(folder):
    """Four processes busy for 2 s of wall clock get 2 s of CPU between them (one core), not 4 s on the host's two
    cores: the CFS quota of the kernel's cgroup throttles them, so a fork bomb cannot slow the other kernels."""
    report, result, counters = run(folder, """
        import json, os, time
        end = time.monotonic() + 2
        children = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                while time.monotonic() < end:
                    pass
                os._exit(0)
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)
        times = os.times()
        print(json.dumps({"cpu": times.children_user + times.children_system}))
    """)
    assert report is not None, result.stderr
    quota = counters.get("cpu.max") or f"{counters['cpu.cfs_quota_us']} {counters['cpu.cfs_period_us']}"
    assert quota == "100000 100000", "one core's worth per period"
    stats = dict(line.split() for line in counters["cpu.stat"].splitlines())
    assert int(stats["nr_throttled"]) > 0, "the busy processes were held back by the quota"
    assert report["cpu"] <= 2 * 1.1, f"{report['cpu']:.2f} s of CPU in 2 s of wall clock: more than one core"


# ---- imports --------------------------------------------------------------------------------------------------------


def test_only_the_courses_libraries_can_be_imported(folder):
    report, result, _ = run(folder, """
        import importlib, json, os, sys
        outcome = {}
        for name in ("numpy", "IPython", "json", "scipy", "sklearn", "matplotlib", "jedi"):
            try:
                __import__(name)
                outcome[name] = "imported"
            except ImportError as error:
                outcome[name] = str(error)
        outcome["jedi by importlib"] = importlib.import_module("jedi").__name__  # the kernel's own: harmless
        sys.path += [os.path.join(sys.base_prefix, "lib", "python3.%d" % sys.version_info[1], "site-packages"),
                     "/usr/lib/python3/dist-packages"]
        try:
            importlib.import_module("scipy")
            outcome["scipy by importlib"] = "imported"
        except ImportError as error:
            outcome["scipy by importlib"] = str(error)
        site = [path for path in sys.path if path.endswith("site-packages")][0]
        outcome["site"] = sorted(os.listdir(site))
        print(json.dumps(outcome))
    """)
    assert report is not None, result.stderr
    assert report["numpy"] == report["IPython"] == report["json"] == "imported"
    for name in ("scipy", "sklearn", "matplotlib", "jedi"):
        assert report[name].startswith(f"{name} is not available to graded code in this course: allowed are the "
                                       "standard library, numpy and the course's helpers (nnbook)"), report[name]
    assert report["jedi by importlib"] == "jedi"
    assert report["scipy by importlib"] == "No module named 'scipy'"
    assert not {"scipy", "sklearn", "matplotlib", "pandas", "torch", "nbgrader"} & set(report["site"])


def test_the_course_can_allow_more(folder):
    report, result, _ = run(folder, """
        import json
        import matplotlib.pyplot as plt
        plt.plot([1, 2], [3, 4])
        try:
            import scipy
            outcome = "imported"
        except ImportError as error:
            outcome = str(error)
        print(json.dumps({"scipy": outcome}))
    """, allowed_imports=("numpy", "matplotlib"))
    assert report is not None, result.stderr
    assert report["scipy"].startswith("scipy is not available to graded code in this course: allowed are the "
                                      "standard library, matplotlib, numpy and")


# ---- a whole notebook: time and outputs ------------------------------------------------------------------------------


def code(source, kind=None, grade_id=None):
    cell = nbformat.v4.new_code_cell(textwrap.dedent(source))
    if kind == "solution":
        cell.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False, "grade_id": grade_id,
                                     "schema_version": 3}
    elif kind == "test":
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1,
                                     "grade_id": grade_id, "schema_version": 3}
    return cell


def execute(folder, cells, names=(), **traits):
    package = sandbox.student_package(folder / "lib")
    executor = SandboxedExecute(scratch=str(folder / "run"), package=str(package), names=list(names), **traits)
    started = time.monotonic()
    notebook, _ = executor.preprocess(nbformat.v4.new_notebook(cells=cells), {})
    assert not os.path.ismount(folder / "run")  # the sandbox went with the kernel
    return executor, notebook, time.monotonic() - started


def printed(cell):
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def test_no_cell_starts_after_the_notebooks_time(folder):
    cells = [code(f"import time\ntime.sleep(0.5)\nprint('tick {i}')") for i in range(20)]  # each under any timeout
    executor, notebook, seconds = execute(folder, cells, notebook_timeout=4)
    ran = [i for i, cell in enumerate(notebook.cells) if "tick" in printed(cell)]
    assert executor.status == "timed out" and "ran out of time (4 s)" in executor.stopped
    assert len(ran) <= 8 and ran == list(range(len(ran)))
    assert seconds < 4 + 3  # the notebook's time, and the kernel's shutdown


def test_calls_from_the_test_cells_count_against_the_notebooks_time(folder):
    cells = [
        code("import time\n\ndef answer(x):\n    time.sleep(0.3)\n    return x", "solution", "answer"),
        code("for i in range(100):\n    assert answer(i) == i", "test", "test_answer"),
        code("assert answer(1) == 1", "test", "test_answer_again"),
    ]
    executor, notebook, seconds = execute(folder, cells, names=["answer"], notebook_timeout=4)
    assert executor.status == "timed out"
    for cell in notebook.cells[1:]:
        assert [output.ename for output in cell.outputs if output.output_type == "error"] == ["NotRun"]
        assert "ran out of time" in cell.outputs[-1].evalue
    assert seconds < 4 + 3


def test_outputs_are_cut_per_cell_and_per_notebook_and_errors_stay(folder):
    cells = [
        code("from IPython.display import display, update_display\n"  # an update would rewrite past the limits
             "display('small', display_id='d')\nupdate_display('u' * 1_000_000, display_id='d')"),
        code("print('a' * 300_000)"),
        *[code(f"print('{i}' * 90_000)") for i in range(15)],
        code("raise ValueError('e' * 8_000_000)"),
    ]
    _, notebook, _ = execute(folder, cells)
    display, first, error = notebook.cells[0], notebook.cells[1], notebook.cells[-1]
    assert "small" in json.dumps(display.outputs)
    assert 100_000 <= len(printed(first)) < 100_200
    assert "output cut: more than 100,000 bytes in this cell" in printed(first)
    kept = sum(len(printed(cell)) for cell in notebook.cells)
    assert kept < 1_000_000 + 20 * 200 and "bytes in the notebook" in printed(notebook.cells[-2])
    [failure] = [output for output in error.outputs if output.output_type == "error"]
    assert failure.ename == "ValueError" and len(failure.evalue) <= 201
    assert "uuu" not in nbformat.writes(notebook) and len(nbformat.writes(notebook)) < 1_200_000


def test_what_a_killed_grader_left_is_swept_by_the_next_sandbox(folder):
    leaver = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, signal
        from nnbook.autograder import sandbox
        box = sandbox.Sandbox({str(folder / "left")!r}).open()
        print(box.cgroup.folders[0], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no close: the mount and the cgroup stay behind
    """)], capture_output=True, text=True, timeout=60)
    cgroup = leaver.stdout.strip()
    assert os.path.ismount(folder / "left") and os.path.isdir(cgroup), leaver.stderr
    with sandbox.Sandbox(folder / "run"):
        assert not os.path.ismount(folder / "left") and not os.path.exists(cgroup)
