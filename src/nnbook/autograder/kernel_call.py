"""The kernel's end of a graded call: run one of the student's functions on arguments sent by the grader.

This module runs *inside* the student's sandboxed kernel, where the student's
code can replace anything, this module included. It is a convenience, not a
safeguard: what it writes back is only the student's answer, as plain data
(:mod:`nnbook.autograder.plaindata`), which the grader checks itself. The grader asks for
a call by executing ``__import__("nnbook.autograder.kernel_call").autograder.kernel_call.serve(folder, request, globals())``
in the kernel; the request file holds the function's name and its arguments,
and the answer goes to ``<request>.out``: the result and the arguments as they
are after the call (so the grader sees a function that changed its argument in
place), or the exception the function raised, with the line of the student's
code that raised it.
"""

import os
import sys
import traceback

from . import plaindata

_NOT_THE_STUDENTS = tuple({sys.prefix, sys.base_prefix, os.path.dirname(os.path.abspath(__file__))})


def student_line(error):
    """Where in the student's own code ``error`` was raised: ``{"function", "line", "code"}``, or ``None``.

    The innermost frame that is neither the standard library, an installed
    package (numpy, …) nor this package: a line of one of the student's cells.
    """
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if not frame.filename.startswith(_NOT_THE_STUDENTS) and not frame.filename.startswith("<frozen")]
    if not frames:
        return None
    frame = frames[-1]
    return {"function": frame.name, "line": frame.lineno, "code": (frame.line or "").strip()[:200]}


def serve(folder, request, namespace):
    """Answer the call described by ``folder/request``, looking the function up in ``namespace``."""
    with open(os.path.join(folder, request)) as file:
        name, args, kwargs = plaindata.loads(file.read())
    try:
        if name not in namespace:
            raise NameError(f"name {name!r} is not defined")
        answer = {"result": namespace[name](*args, **kwargs), "args": args, "kwargs": kwargs}
    except BaseException as error:  # noqa: BLE001 (SystemExit and KeyboardInterrupt are answers too)
        answer = {"error": [type(error).__name__, str(error)[:2000], student_line(error)]}
    text = plaindata.dumps(answer)
    partial = os.path.join(folder, request + ".partial")
    with open(partial, "w") as file:
        file.write(text)
    os.rename(partial, os.path.join(folder, request + ".out"))
