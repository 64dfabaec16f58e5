"""nbgrader configuration: this repository is the course folder.

``solutions/`` is nbgrader's source folder (solutions and hidden tests, for
instructors), ``exercises/`` its release folder (the student versions,
generated, never edited by hand). ``submitted/``, ``autograded/``,
``feedback/`` and ``gradebook.db`` keep their default places and are
gitignored. Run nbgrader from the repository root, where it finds this file:

    nbgrader generate_assignment ex01 --force   # solutions/ex01 -> exercises/ex01
    nbgrader autograde ex01                     # submitted/<student>/ex01/*.ipynb
    nbgrader generate_feedback ex01             # feedback/<student>/ex01/*.html
    nbgrader export --to grades.csv

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
