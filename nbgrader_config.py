"""nbgrader configuration: this repository is the course folder.

``solutions/`` is nbgrader's source folder (solutions and hidden tests, for
instructors), ``exercises/`` its release folder (the student versions,
generated, never edited by hand). ``submitted/``, ``autograded/``,
``feedback/`` and ``gradebook.db`` keep their default places and are
gitignored. Run nbgrader from the repository root, where it finds this file:

    nbgrader generate_assignment ex01 --force   # solutions/ex01 -> exercises/ex01
    nnbook-autograde ex01                       # grade submitted/<student>/ex01/*.ipynb, sandboxed,
                                                # and write feedback/<student>/ex01/*.html
    nbgrader export --to grades.csv

Grade with ``nnbook-autograde`` (book/guide_autograding.md): ``nbgrader
autograde`` runs each student's code with your rights. The last settings below
make nbgrader's own ``autograde`` and ``generate_feedback`` no worse than they
must be when they are run anyway: no false "checksum has changed" warning for
every hidden test, and feedback pages that show no hidden test, no output of the
student's code and no HTML or JavaScript a submission wrote.

Assignments need no declaration here: ``generate_assignment`` records each one
(``ex01``, …) and its notebooks, test cells and points in ``gradebook.db``,
which ``autograde`` then reads.
"""

import os

c = get_config()  # noqa: F821 (traitlets defines get_config when it loads this file)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "nnbook"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.GenerateAssignment.create_assignment = True

# A solution region becomes an empty line. The line after it, `raise
# NotImplementedError("ex01: sigmoid")`, written in the source notebook (where
# it is never reached), is what the student sees: a one-line stub naming the task.
c.ClearSolutions.code_stub = {"python": ""}

# Seconds per cell before autograde stops it (a student's endless loop).
c.Execute.timeout = 60

# nbgrader gives 0 to a test cell with any output on stderr. A Python warning
# (e.g. "<file>:3: RuntimeWarning: overflow encountered in exp" from a naive
# but correct sigmoid) must not cost points: only a wrong value does. Errors
# are not stderr streams, so a failing test still fails.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?m)^.*:\d+: \w*Warning: "

# nbgrader's OverwriteCells warns "Attribute 'checksum' for cell ... has changed!" for
# every cell with hidden tests of every submission, untouched ones included: the
# gradebook records the cell with its hidden tests, the students get it without.
# RestoreLockedCells puts them back silently when the cell is exactly as released,
# and reports any other change as nbgrader does.
from nnbook.autograder.autograde import SANITIZE  # noqa: E402
from nnbook.autograder.feedback import PREPROCESSORS, FeedbackExporter  # noqa: E402

c.Autograde.sanitize_preprocessors = SANITIZE

# Feedback pages (`nbgrader generate_feedback` writes the same as nnbook-autograde):
# the test cells' verdicts and the student's code, no hidden test, no output of the
# student's cells, the student's markdown as escaped text, each test named after the
# function and quantity it grades, MathJax inlined (offline). See nnbook/feedback.py.
c.GenerateFeedback.preprocessors = PREPROCESSORS
c.GenerateFeedback.exporter_class = FeedbackExporter

# The formgrader (manual grading of the written answers) shows the instructor each submission as HTML, in a
# browser logged in to the instructor's Jupyter server: the student's markdown as escaped text and no HTML,
# SVG or JavaScript output, so nothing a student wrote runs there. See nnbook/autograder/formgrade.py.
c.HTMLExporter.preprocessors = ["nnbook.autograder.formgrade.InertStudentMarkup"]

# -- nnbook-autograde's sandbox: what graded code may import, and its limits in total ---------------------------------
# (book/guide_autograding.md, "Limits"; nnbook/sandbox.py). The kernel's filesystem holds only the standard library,
# the top-level modules listed here (with their dependencies), nnbook's helpers and what the kernel runs on, so that
# scipy.special.expit or sklearn.metrics.log_loss cannot answer for a student's sigmoid or cost; an import of anything
# else fails with "scipy is not available to graded code in this course: allowed are ...". The released notebooks
# import numpy only (add "matplotlib" for an exercise that plots in a cell the kernel runs).
c.SandboxedExecute.allowed_imports = ["numpy"]
# Per notebook, for all the kernel's processes together: bytes written (its folder and /dev/shm; they count toward its
# memory too), processes and threads; bytes of the kernel's output kept per cell and in the notebook; characters of a
# message the grader writes. The notebook's time, the memory and CPU time of each process: nnbook-autograde's options.
c.SandboxedExecute.disk = 256 * 2**20
c.SandboxedExecute.processes = 64
c.SandboxedExecute.output_limit = 100_000
c.SandboxedExecute.notebook_output_limit = 1_000_000
c.SandboxedExecute.message_limit = 2_000
