"""The adversarial corpus for ex06 (convolution and pooling): an honest student, the file-level attacks, a slow one.

The right answers are the solution cells' code, read from
``solutions/ex06/``; every attack of :func:`adversarial.common.file_attacks`
hands them in, so that each earns full marks or, refused, nothing. The attacks
on the kernel and on the verdicts, which do not depend on the exercise, are in
``ex01.py``; ``tests/test_autograde_exercises.py`` grades partly right answers
of this exercise.

ex06's own student, ``slow_convolution``, writes a right ``conv_forward_naive``
that takes 5 s a call: the corpus runs with ``--cell-timeout 3``, so each call
of its two test cells is stopped, and the feedback must name the function and
say that it did not return in time ("TimeoutError: conv_forward_naive did not
return within 3 s"); the rest of the notebook is graded as usual, so the run's
status is ``graded``, with no reason (the instructor's report counts the two
cells as "ran out of time", ``nnbook.autograder.report.mistake_classes``).
"""

from adversarial.common import Case, exercise_cases

ASSIGNMENT = "ex06"
NOTEBOOK = "conv_pool.ipynb"
SOURCE, FUNCTIONS, GRADE_CELLS, CORRECT, CASES = exercise_cases(ASSIGNMENT, NOTEBOOK)

SLOW_CONVOLUTION = "import time\n\n" + CORRECT["conv_forward_naive"].replace(
    "def conv_forward_naive(x, W, b, stride=1, padding=0):\n",
    "def conv_forward_naive(x, W, b, stride=1, padding=0):\n    time.sleep(5)  # far slower than any loop\n", 1)
assert "time.sleep(5)" in SLOW_CONVOLUTION

CASES.append(Case(
    "slow_convolution", "conv_forward_naive takes 5 s a call, past the cell timeout (3 s): its two cells are lost, "
                        "with a message that names it and says it ran out of time",
    answers={**CORRECT, "conv_forward_naive": SLOW_CONVOLUTION},
    lost={"test_conv_forward_naive", "test_conv_forward_naive_hidden"},
    feedback=("TimeoutError: conv_forward_naive did not return within 3 s: it ran out of time",),
))
