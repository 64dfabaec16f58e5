"""The adversarial corpus for ex01: made-up students who attack the autograder, and what must happen to each.

Each :class:`Case` (``adversarial/common.py``) is a student: the solution cells
they hand in (by grade id; the others are the released stubs), extra files
beside the notebook, edits to the locked cells, and the asserted outcome: the
test cells that earn nothing (every other one earns its point), the status of
the run, what the feedback must say, and what the run must flag. ``COURSE`` in
an answer is replaced by the absolute path of the course being graded: the
attacker is assumed to know where everything is.

The right answers are the solution cells' code, read from
``solutions/ex01/``; a wrong answer is written as a change to a right one
(:func:`wrapped`), so that the cases do not depend on how a solution is
written. After the attacks on the kernel and the verdicts come those on the
file handed in, the same for every exercise (:func:`adversarial.common.file_attacks`).

``tests/test_autograde_corpus.py`` grades them all in one run of
``nnbook-autograde``.
"""

from adversarial.common import Case, file_attacks, read_exercise, tests_of, written_answer  # noqa: F401 (Case: shared)

ASSIGNMENT = "ex01"
NOTEBOOK = "perceptron_logistic.ipynb"
#: The source notebook, its functions, its test cells, and the right answers: the solution cells' code.
SOURCE, FUNCTIONS, GRADE_CELLS, CORRECT = read_exercise(ASSIGNMENT, NOTEBOOK)
PERCEPTRON, SIGMOID, BCE, BCE_GRADIENTS, GRADIENT_STEP = (CORRECT[name] for name in FUNCTIONS)


def cells_of(*names):
    return {f"test_{name}{suffix}" for name in names for suffix in ("", "_hidden")}


def depends_on(*names):
    """The test cells a wrong ``names`` fails: their own, and any other test that calls them."""
    return cells_of(*names) | set().union(*(tests_of(SOURCE, name) for name in names))


#: The tests that a wrong sigmoid fails: its own, and any other that calls the student's sigmoid.
SIGMOID_CELLS = depends_on("sigmoid")


def with_answers(**answers):
    return {**CORRECT, **answers}


def wrapped(function, change):
    """The right ``function`` wrapped so that ``change`` (an expression of its ``result``) is what it returns."""
    return f"""{CORRECT[function]}

_right_{function} = {function}

def {function}(*args, **kwargs):
    result = _right_{function}(*args, **kwargs)
    return {change}
"""


CASES = [
    Case("honest", "every answer right: full marks, no flag"),
    Case("untouched", "the released notebook, stubs only", answers={}, lost=set(GRADE_CELLS),
         feedback=("NotImplementedError", "ex01: sigmoid")),
    Case(
        "patched_checks", "replaces numpy's and nnbook's comparison functions in the kernel, then a wrong step",
        answers=with_answers(gradient_descent_step='''
import nnbook.gradcheck, nnbook.grading
np.testing.assert_allclose = lambda *args, **kwargs: None
np.allclose = np.array_equal = lambda *args, **kwargs: True
nnbook.gradcheck.assert_close = lambda *args, **kwargs: None
grading.check_array = grading.check_scalar = grading.check_unchanged = lambda *args, **kwargs: None

def gradient_descent_step(w, b, dw, db, lr):
    return w + lr * dw, b + lr * db  # along the gradient: wrong
'''),
        lost=cells_of("gradient_descent_step"), feedback=("you moved along the gradient",),
    ),
    Case(
        "input_transformer", "an IPython input transformer turns every later cell into `pass`",
        answers=with_answers(gradient_descent_step='''
def gradient_descent_step(w, b, dw, db, lr):
    return w, b  # wrong
get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])
'''),
        lost=cells_of("gradient_descent_step"), feedback=("did not come back",),
    ),
    Case(
        "agreeable_array", "an ndarray subclass whose ==, __array_function__ and ufuncs always agree",
        answers=with_answers(sigmoid='''
class Agreeable(np.ndarray):
    def __eq__(self, other):
        return True
    def __array_function__(self, func, types, args, kwargs):
        return True
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(()).view(Agreeable)

def sigmoid(z):
    return np.zeros(np.shape(z)).view(Agreeable)
'''),
        lost=SIGMOID_CELLS, feedback=("ndarray subclass",),
    ),
    Case(
        "shadow_modules", "hands in numpy.py and ipykernel_launcher.py beside the notebook",
        answers={"sigmoid": 'import numpy\nprint("numpy comes from", numpy.__file__)\n' + SIGMOID},
        lost=set(GRADE_CELLS) - cells_of("sigmoid"),
        files={
            "numpy.py": 'print("SHADOW NUMPY")\nallclose = array_equal = lambda *args, **kwargs: True\n',
            "ipykernel_launcher.py": 'print("SHADOW LAUNCHER")\n',
        },
        autograded=("site-packages/numpy",), absent=("SHADOW",),
    ),
    Case(
        "reader", "reads solutions/, the gradebook, other submissions; tries to write into the course",
        answers=with_answers(perceptron_update=PERCEPTRON + '''
import glob, os
targets = ["COURSE/solutions/ex01/perceptron_logistic.ipynb", "COURSE/gradebook.db", "COURSE/nbgrader_config.py"]
targets += glob.glob("COURSE/submitted/*/ex01/*.ipynb") + glob.glob("COURSE/autograded/*/ex01/*.ipynb")
targets += [os.path.join("../" * depth, "solutions/ex01/perceptron_logistic.ipynb") for depth in range(8)]
found = []
for path in targets:
    try:
        found.append((path, open(path, "rb").read(200)))
    except OSError:
        pass
print("FOUND", found if found else "NOTHING")
try:
    open("COURSE/pwned.txt", "w").write("pwned")
    print("WRITE SUCCEEDED")
except OSError as error:
    print("WRITE BLOCKED", type(error).__name__)
'''),
        autograded=("FOUND NOTHING", "WRITE BLOCKED"),
    ),
    Case(
        "gradebook_writer", "opens the SQLite gradebook and sets every score to 100",
        answers=with_answers(sigmoid=SIGMOID + '''
import sqlite3
try:
    database = sqlite3.connect("file:COURSE/gradebook.db?mode=rw", uri=True)
    database.execute("UPDATE grade SET auto_score = 100")
    database.commit()
    print("GRADEBOOK CHANGED")
except Exception as error:
    print("GRADEBOOK BLOCKED", type(error).__name__)
''', gradient_descent_step=None),
        lost=cells_of("gradient_descent_step"), autograded=("GRADEBOOK BLOCKED",),
    ),
    Case(
        "os_exit", "os._exit in sigmoid kills the kernel", status="kernel died",
        answers=with_answers(sigmoid="import os\n\ndef sigmoid(z):\n    os._exit(0)\n"),
        lost=set(GRADE_CELLS) - cells_of("perceptron_update"), feedback=("the kernel died",),
    ),
    Case(
        "endless_loop", "sigmoid never returns",
        answers=with_answers(sigmoid="def sigmoid(z):\n    while True:\n        pass\n"),
        lost=SIGMOID_CELLS, feedback=("did not return within",),
    ),
    Case(
        "stubborn_loop", "an endless loop at the top of a cell that ignores interrupts", status="timed out",
        answers=with_answers(gradient_descent_step=GRADIENT_STEP + '''
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
'''),
        lost=cells_of("gradient_descent_step"), feedback=("the kernel ignored the interrupt",),
    ),
    Case(
        # np.empty reserves without writing: the 2 GiB limit is met at once, whatever the machine's load (writing
        # 2 GiB takes long enough on a busy machine to meet the 3 s call limit first; tests/test_sandbox.py writes)
        "memory_hog", "sigmoid allocates memory without end",
        answers=with_answers(sigmoid="def sigmoid(z):\n    hoard = []\n    while True:\n        hoard.append(np.empty(10**8))\n"),
        lost=SIGMOID_CELLS, feedback=("MemoryError",),
    ),
    Case(
        "exits", "sys.exit at the top of a cell and inside sigmoid",
        answers=with_answers(perceptron_update=PERCEPTRON + '\nimport sys\nsys.exit("bye")\n',
                             sigmoid='import sys\n\ndef sigmoid(z):\n    sys.exit(1)\n'),
        lost=SIGMOID_CELLS, feedback=("SystemExit",),
    ),
    Case(
        "loud", "prints 100 MB", answers=with_answers(binary_cross_entropy=BCE + '\nprint("x" * 100_000_000)\n'),
        autograded=("output cut",),
    ),
    Case(
        "borrower", "imports the package's reference implementation instead of writing it",
        answers=with_answers(
            perceptron_update="from nnbook.perceptron import perceptron_update\n",
            binary_cross_entropy="import nnbook.losses\n\ndef binary_cross_entropy(a, y):\n"
                                 "    return nnbook.losses.binary_cross_entropy(a, y)[0]\n",
        ),
        lost=depends_on("perceptron_update", "binary_cross_entropy"),
        flags=("nnbook.perceptron", "nnbook.losses"),
    ),
    Case(
        "tamperer", "edits and deletes locked test cells and their nbgrader metadata, with a wrong sigmoid",
        answers=with_answers(sigmoid="def sigmoid(z):\n    return z\n"),
        locked_edits={"test_sigmoid": "pass", "test_bce_gradients_hidden": None},
        strip_metadata=("test_gradient_descent_step",),
        metadata_edits={"test_sigmoid": {"points": 100}},
        lost=SIGMOID_CELLS,
        flags=("edited the locked cell test_sigmoid", "deleted cell test_bce_gradients_hidden"),
    ),
    Case(
        "wrong_shape", "right values, wrong shape: dw as a row (1, n_x)",
        answers=with_answers(bce_gradients=wrapped("bce_gradients", "(result[0][None, :], result[1])")),
        lost=cells_of("bce_gradients"), feedback=("got shape (1, ",),
    ),
    Case(
        "wrong_dtype", "right values as a complex array and as an object array",
        answers=with_answers(
            sigmoid=wrapped("sigmoid", "(1 + 0j) * result"),
            gradient_descent_step=wrapped("gradient_descent_step", "(np.array(list(result[0]), dtype=object), result[1])"),
        ),
        lost=SIGMOID_CELLS | cells_of("gradient_descent_step"), feedback=("complex128", "dtype object"),
    ),
    Case(
        "nan", "a sigmoid that returns NaN for large z",
        answers=with_answers(sigmoid="def sigmoid(z):\n    return np.exp(z) / (1 + np.exp(z))\n"),
        lost=cells_of("sigmoid"), feedback=("NaN",),
    ),
    Case(
        "unseeded", "a gradient step with unseeded random noise",
        answers=with_answers(gradient_descent_step="def gradient_descent_step(w, b, dw, db, lr):\n"
                                                   "    return w - lr * dw + np.random.normal(0, 1e-3, np.shape(w)), b - lr * db\n"),
        lost=cells_of("gradient_descent_step"),
    ),
    Case("not_a_notebook", "hands in a file that is not a notebook", status="failed", raw="{ this is not JSON",
         lost=set(GRADE_CELLS), reason="cannot be read as a notebook", feedback=("cannot be read as a notebook",)),
    Case("on_time", "a timestamp.txt nbgrader can read, which it keeps beside the graded notebook",
         timestamp="2026-01-15 09:30:00 UTC"),
    Case("[h]onest", "a student id that is a glob pattern matching another student's", status="failed",
         lost=set(GRADE_CELLS), reason="glob character"),
    *file_attacks(ASSIGNMENT, NOTEBOOK, FUNCTIONS, GRADE_CELLS, CORRECT),
]
