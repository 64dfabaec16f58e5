"""The adversarial corpus for ex01: made-up students who attack the autograder, and what must happen to each.

Each :class:`Case` is a student: the solution cells they hand in (by grade id;
the others are the released stubs), extra files beside the notebook, edits to
the locked cells, and the asserted outcome: the test cells that earn nothing
(every other one earns its point), the status of the run, what the feedback
must say, and what the run must flag. ``COURSE`` in an answer is replaced by
the absolute path of the course being graded: the attacker is assumed to know
where everything is.

``tests/test_autograde_corpus.py`` grades them all in one run of
``nnbook-autograde``.
"""

import dataclasses

NOTEBOOK = "perceptron_logistic.ipynb"
FUNCTIONS = ("perceptron_update", "sigmoid", "binary_cross_entropy", "bce_gradients", "gradient_descent_step")
GRADE_CELLS = tuple(f"test_{name}{suffix}" for name in FUNCTIONS for suffix in ("", "_hidden"))

PERCEPTRON = '''
def perceptron_update(w, x, y, lr=1.0):
    if y * (w @ x) <= 0:
        return w + lr * y * x
    return w.copy()
'''
SIGMOID = '''
def sigmoid(z):
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
'''
BCE = '''
def binary_cross_entropy(a, y):
    return float(-np.mean(y * np.log(a) + (1 - y) * np.log(1 - a)))
'''
BCE_GRADIENTS = '''
def bce_gradients(X, y, w, b):
    a = np.exp(-np.logaddexp(0, -(X @ w + b)))  # its own sigmoid: independent of task 2
    dz = (a - y) / X.shape[0]
    return X.T @ dz, float(np.sum(dz))
'''
GRADIENT_STEP = '''
def gradient_descent_step(w, b, dw, db, lr):
    return w - lr * dw, b - lr * db
'''
CORRECT = dict(zip(FUNCTIONS, (PERCEPTRON, SIGMOID, BCE, BCE_GRADIENTS, GRADIENT_STEP)))

#: The tests that a wrong sigmoid fails: its own, and the visible test of bce_gradients, which differentiates
#: the student's own cost of the student's own sigmoid numerically.
SIGMOID_CELLS = {"test_sigmoid", "test_sigmoid_hidden", "test_bce_gradients"}


def cells_of(*names):
    return {f"test_{name}{suffix}" for name in names for suffix in ("", "_hidden")}


@dataclasses.dataclass
class Case:
    student: str
    what: str
    answers: dict = dataclasses.field(default_factory=lambda: dict(CORRECT))
    lost: set = dataclasses.field(default_factory=set)
    status: str = "graded"
    feedback: tuple = ()
    flags: tuple = ()
    files: dict = dataclasses.field(default_factory=dict)
    locked_edits: dict = dataclasses.field(default_factory=dict)  # grade id -> new source, or None to delete the cell
    strip_metadata: tuple = ()
    raw: str = None  # the whole file handed in, when it is not a notebook


def with_answers(**answers):
    return {**CORRECT, **answers}


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
        feedback=("site-packages/numpy",),
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
        feedback=("FOUND NOTHING", "WRITE BLOCKED"),
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
        lost=cells_of("gradient_descent_step"), feedback=("GRADEBOOK BLOCKED",),
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
        "memory_hog", "sigmoid allocates memory without end",
        answers=with_answers(sigmoid="def sigmoid(z):\n    hoard = []\n    while True:\n        hoard.append(np.ones(10**7))\n"),
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
        feedback=("output cut",),
    ),
    Case(
        "borrower", "imports the package's reference implementation instead of writing it",
        answers=with_answers(
            perceptron_update="from nnbook.perceptron import perceptron_update\n",
            binary_cross_entropy="import nnbook.losses\n\ndef binary_cross_entropy(a, y):\n"
                                 "    return nnbook.losses.binary_cross_entropy(a, y)[0]\n",
        ),
        lost=cells_of("perceptron_update", "binary_cross_entropy") | {"test_bce_gradients"},
        feedback=("reference implementation",),
        flags=("nnbook.perceptron", "nnbook.losses"),
    ),
    Case(
        "tamperer", "edits and deletes locked test cells and their nbgrader metadata, with a wrong sigmoid",
        answers=with_answers(sigmoid="def sigmoid(z):\n    return z\n"),
        locked_edits={"test_sigmoid": "pass", "test_bce_gradients_hidden": None},
        strip_metadata=("test_gradient_descent_step",),
        lost=SIGMOID_CELLS,
        flags=("edited the locked cell test_sigmoid", "deleted cell test_bce_gradients_hidden"),
    ),
    Case(
        "wrong_shape", "right values, wrong shape: dw as a row (1, n_x)",
        answers=with_answers(bce_gradients=BCE_GRADIENTS.replace("return X.T @ dz", "return (X.T @ dz)[None, :]")),
        lost=cells_of("bce_gradients"), feedback=("expected shape (3,), got shape (1, 3)",),
    ),
    Case(
        "wrong_dtype", "right values as a complex array and as an object array",
        answers=with_answers(
            sigmoid=SIGMOID.replace("return np.where(", "return (1 + 0j) * np.where("),
            gradient_descent_step="def gradient_descent_step(w, b, dw, db, lr):\n"
                                  "    return np.array(list(w - lr * dw), dtype=object), b - lr * db\n",
        ),
        lost=SIGMOID_CELLS | cells_of("gradient_descent_step"), feedback=("complex128", "dtype object"),
    ),
    Case(
        "nan", "a sigmoid that returns NaN for large z",
        answers=with_answers(sigmoid="def sigmoid(z):\n    return np.exp(z) / (1 + np.exp(z))\n"),
        lost=cells_of("sigmoid"), feedback=("NaN", "expected (hidden)"),
    ),
    Case(
        "unseeded", "a gradient step with unseeded random noise",
        answers=with_answers(gradient_descent_step="def gradient_descent_step(w, b, dw, db, lr):\n"
                                                   "    return w - lr * dw + np.random.normal(0, 1e-3, np.shape(w)), b - lr * db\n"),
        lost=cells_of("gradient_descent_step"),
    ),
    Case("not_a_notebook", "hands in a file that is not a notebook", status="failed", raw="{ this is not JSON",
         lost=set(GRADE_CELLS)),
]
