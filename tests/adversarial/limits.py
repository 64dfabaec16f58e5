"""Attacks on the limits of ex01's sandbox: each limit must hold in total for a submission.

The same :class:`~adversarial.common.Case` as ``adversarial/ex01.py`` (answers
by grade id, the asserted points, status, reason and what the feedback or the
instructor's autograded copy shows); ``tests/test_autograde_corpus.py`` adds
these to ex01's corpus. The corpus runs with ``--timeout 20 --cell-timeout 3``
and the default limits of book/guide_autograding.md ("Limits"): 256 MiB of
disk (``/dev/shm`` included), 64 processes and threads, 100,000 values outside
arrays in an answer, 2,000 characters of a grader's message.

Each attacker prints a verdict the instructor's copy must show ("… WITHIN …"),
which a sandbox whose limit does not hold turns into "… BEYOND …"; the
attackers clean up after themselves, so that everything else of theirs is
graded as usual. (The feedback shows the tests' verdicts, not the outputs of
the student's cells.)
"""

from adversarial.ex01 import GRADE_CELLS, PERCEPTRON, SIGMOID_CELLS, Case, cells_of, depends_on, with_answers

MiB = 2**20
SLOW_PERCEPTRON = PERCEPTRON.replace("def perceptron_update(w, x, y, lr=1.0):",
                                     "def perceptron_update(w, x, y, lr=1.0):\n    time.sleep(0.9)", 1)

FILL = '''
import os

def fill(folder, files, size):
    """Write ``files`` files of ``size`` bytes into ``folder`` until the disk says no; the bytes written."""
    written, block, error = 0, b"x" * 2**20, None
    try:
        for i in range(files):
            with open(os.path.join(folder, f"filler-{i}"), "wb") as file:
                for _ in range(size // len(block)):
                    file.write(block)
                    written += len(block)
    except OSError as problem:
        error = problem.strerror
    for i in range(files):
        try:
            os.remove(os.path.join(folder, f"filler-{i}"))
        except OSError:
            pass
    return written, error
'''

CASES = [
    Case(
        "slow_calls", "perceptron_update takes 0.9 s a call, under any cell timeout: its 30 calls outlast the notebook",
        answers=with_answers(perceptron_update="import time\n" + SLOW_PERCEPTRON),
        status="timed out", lost=set(GRADE_CELLS) - {"test_perceptron_update"}, reason="ran out of time",
        feedback=("ran out of time",),
    ),
    Case(
        "ticking_cells", "60 cells of 0.9 s each after the tests: they must stop at the notebook's time",
        extra_cells=tuple(("code", f'import time\ntime.sleep(0.9)\nprint("TICK {i:03d}")', {}) for i in range(60)),
        status="timed out", reason="ran out of time", autograded=("TICK 000",),
    ),
    Case(
        "shm_filler", "writes 2.25 GiB into /dev/shm, a tmpfs outside the memory limit",
        answers=with_answers(perceptron_update=PERCEPTRON + FILL + f'''
written, error = fill("/dev/shm", 36, 64 * 2**20)
print("SHM", "WITHIN" if written <= {256 * MiB} else "BEYOND", "THE BUDGET:", written // 2**20, "MiB,", error)
'''),
        autograded=("SHM WITHIN THE BUDGET", "No space left on device"),
    ),
    Case(
        "disk_filler", "writes 1 GiB in 16 files of 64 MiB (the size limit of one file) in its folder",
        answers=with_answers(perceptron_update=PERCEPTRON + FILL + f'''
written, error = fill(".", 16, 64 * 2**20)
print("DISK", "WITHIN" if written <= {256 * MiB} else "BEYOND", "THE BUDGET:", written // 2**20, "MiB,", error)
'''),
        autograded=("DISK WITHIN THE BUDGET", "No space left on device"),
    ),
    Case(
        "process_spawner", "starts 300 processes that wait, as a fork bomb would",
        answers=with_answers(perceptron_update=PERCEPTRON + '''
import os, signal, time
children, error = [], None
try:
    for _ in range(300):
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
except OSError as problem:
    error = type(problem).__name__
for pid in children:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
print("PROCESSES", "WITHIN" if len(children) < 64 else "BEYOND", "THE LIMIT:", len(children), "started,", error)
'''),
        autograded=("PROCESSES WITHIN THE LIMIT", "BlockingIOError"),
    ),
    Case(
        "fork_bomb", "a real fork bomb in its first answer: every process forks for ever and ignores the errors",
        answers=with_answers(perceptron_update=PERCEPTRON + '''
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
'''),
        # the process limit stops the bomb at 64 processes, and the CPU quota keeps all of them to one core: the
        # student's own kernel crawls until the notebook's time is up, and no other student notices
        status="timed out", lost=set(GRADE_CELLS), reason="did not finish in time",
    ),
    Case(
        "huge_answer", "gradient_descent_step answers 24 MiB of nested lists (1.3 GiB once decoded)",
        answers=with_answers(gradient_descent_step='''
import nnbook.autograder.plaindata

_HUGE = '{"__dict__": {"result": [' + ", ".join(["[]"] * 6_300_000) + '], "args": [], "kwargs": {"__dict__": {}}}}'
_dumps = nnbook.autograder.plaindata.dumps

def _huge_dumps(value):
    if isinstance(value, dict) and value.get("result") == "HUGE":
        return _HUGE
    return _dumps(value)

nnbook.autograder.plaindata.dumps = _huge_dumps

def gradient_descent_step(w, b, dw, db, lr):
    return "HUGE"
'''),
        lost=cells_of("gradient_descent_step"), feedback=("too big to grade",),
    ),
    Case(
        "long_message", "sigmoid returns an 8 MB string in a list, which the check quotes; a cell raises an 8 MB error",
        answers=with_answers(sigmoid='def sigmoid(z):\n    return ["x" * 8_000_000]\n'),
        extra_cells=(("code", 'raise ValueError("y" * 8_000_000)', {}),),
        lost=SIGMOID_CELLS, feedback=("characters cut",), autograded=("characters cut", "output cut"),
    ),
    Case(
        "library_answers", "scipy's expit and scikit-learn's log_loss stand in for sigmoid and binary_cross_entropy",
        answers=with_answers(
            sigmoid="from scipy.special import expit as sigmoid\n",
            binary_cross_entropy="from sklearn.metrics import log_loss\n\ndef binary_cross_entropy(a, y):\n"
                                 "    return float(log_loss(y, a))\n",
        ),
        lost=depends_on("sigmoid", "binary_cross_entropy"),
        autograded=("scipy is not available to graded code in this course", "allowed are the standard library, numpy"),
    ),
    Case(
        "library_path", "adds the base Python's site-packages to sys.path and imports scipy through importlib",
        answers=with_answers(sigmoid='''
import importlib, os, sys
version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
sys.path += [os.path.join(sys.base_prefix, "lib", version, "site-packages"), "/usr/lib/python3/dist-packages"]
sigmoid = importlib.import_module("scipy.special").expit
'''),
        lost=SIGMOID_CELLS, autograded=("No module named 'scipy'",),
    ),
]
