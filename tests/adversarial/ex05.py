"""The adversarial corpus for ex05 (batch normalization and dropout): an honest student, then the file-level attacks.

The right answers are the solution cells' code, read from
``solutions/ex05/``; every attack of :func:`adversarial.common.file_attacks`
hands them in, so that each earns full marks or, refused, nothing. The attacks
on the kernel and on the verdicts, which do not depend on the exercise, are in
``ex01.py``; ``tests/test_autograde_exercises.py`` grades partly right answers
of this exercise.
"""

from adversarial.common import exercise_cases

ASSIGNMENT = "ex05"
NOTEBOOK = "batchnorm_dropout.ipynb"
SOURCE, FUNCTIONS, GRADE_CELLS, CORRECT, CASES = exercise_cases(ASSIGNMENT, NOTEBOOK)
