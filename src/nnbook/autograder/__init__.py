"""The instructor's side of the course: grading students' notebooks, safely, at class scale.

``nnbook-autograde`` (:mod:`.autograde`) drives nbgrader: it takes in each
submission (:mod:`.autograde`), runs the student's code in a sandboxed kernel
(:mod:`.sandbox`) while the tests run in the grader (:mod:`.trusted_execute`),
calls the student's functions across a plain-data channel (:mod:`.plaindata`,
whose kernel end is :mod:`.kernel_call`), computes the hidden tests' answers
with the package's reference (:mod:`.references`) and writes sanitized feedback
(:mod:`.feedback`) and, on request, the class report (:mod:`.report`). The
notebooks run in local worker processes or on the workers of a Dask cluster
(``--scheduler``): a job (:func:`.autograde.prepare_submission`) is plain data,
and the grades are recorded by the one process that started the run.

The teaching library never imports this subpackage (a test checks it). A
student's kernel imports only :mod:`.kernel_call` and :mod:`.plaindata` from it,
when the grader calls one of the student's functions; this file imports nothing,
so that doing so loads nothing else.
"""
