"""nbgrader's Execute step with trusted verdicts: student code in a sandboxed kernel, the tests in the grader.

:class:`SandboxedExecute` is a subclass of nbgrader's ``Execute`` preprocessor
(itself nbclient's ``NotebookClient``) that the autograder puts in nbgrader's
pipeline in place of ``Execute``. It starts the kernel in the sandbox of
:mod:`nnbook.autograder.sandbox`, talking to it over unix sockets in the scratch folder
(``transport="ipc"``: the kernel has no network), and walks the notebook:

* a student's cell (solutions, free cells) runs in the kernel, as usual;
* a locked instructor cell that is not a test (the setup cell) runs in the
  kernel *and* in the grader, which keeps its own namespace;
* a test cell (visible or hidden) never reaches the kernel: it runs in the
  grader's namespace, where each function the student was asked to write
  (each name a solution cell of the source notebook defines) is a
  :class:`StudentFunction`. Calling it sends the arguments to the kernel as
  plain data (:mod:`nnbook.autograder.plaindata`), runs the student's function there
  (:mod:`nnbook.autograder.kernel_call`), and brings back its result and its arguments as
  plain data, refusing anything else. The arguments the kernel reports are
  only compared with what was sent, so that a function that changed one in
  place fails, naming it; they never flow back into the grader's values. The
  comparisons then run here, in ``nnbook.grading``, on real ``numpy.ndarray``
  values, against expected values the grader computes itself; nothing the
  kernel does can change them.

So the hidden tests' code and the reference values never enter the kernel, and
a test's outcome is written into the notebook by the grader: a pass, or an
error whose message is the check's own diagnostic. A hidden test draws its inputs
from the run's secret seed (``hidden_seed``, :func:`nnbook.grading.hidden`),
its checks give no number of the reference, and what it prints is dropped; as a
second layer, numbers after "expected" and every decimal number a student's
exception carries are cut out of its message (:func:`redact`). nbgrader's
``SaveAutoGrades`` then reads these outputs as it always does.

``grading.own_work`` becomes a no-op here: the reference modules are not
importable in the sandbox at all, so a submission that imports one fails
where it imports it, with a message saying why.
"""

import ast
import contextlib
import io
import json
import os
import re
import secrets
import subprocess
import sys
import time
import warnings
from functools import partial

import nbformat
import numpy as np
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Any, Bool, Float, Integer, List, Unicode

from .. import grading
from . import plaindata, sandbox

HIDDEN_MARK = "BEGIN HIDDEN TESTS"
MAX_ANSWER_BYTES = 64 * 2**20


class NotRun(Exception):
    """The kernel died or the notebook ran out of time: the test could not run."""


class StudentError(Exception):
    """The student's function raised ``kind`` (or did not answer); ``str()`` is its message."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class StudentFunction:
    """Stands, in the grader, for the student's function ``name``: each call runs it in the sandboxed kernel.

    ``parameters`` are the names of its parameters in the (trusted) source
    notebook, so that a message can say which argument the function changed.
    """

    def __init__(self, executor, name, parameters=()):
        self._executor, self._name, self._parameters = executor, name, list(parameters)

    def __call__(self, *args, **kwargs):
        return self._executor.call_student(self._name, args, kwargs, self._parameters)

    def __repr__(self):
        return f"<the submitted {self._name}>"


class TrustedGrading:
    """``nnbook.grading`` as the grader runs it: the same checks, with ``own_work`` a no-op (see the module doc)."""

    def __getattr__(self, name):
        return getattr(grading, name)

    @staticmethod
    def own_work(function_name, allowed=None):
        return contextlib.nullcontext()

    @staticmethod
    def call(function_name, function, *args, **kwargs):
        return function(*args, **kwargs)  # the StudentFunction itself reports an argument changed in place


def student_signatures(source_notebook):
    """``{name: [parameter names]}`` of what the solution cells of the source notebook define (``[]`` for a value)."""
    names = {}
    for cell in source_notebook.cells:
        if cell.cell_type != "code" or not utils.is_solution(cell) or utils.is_grade(cell):
            continue
        try:
            body = ast.parse(cell.source).body
        except SyntaxError:  # IPython syntax (magics): its names cannot be known
            continue
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.setdefault(node.name, [arg.arg for arg in [*node.args.posonlyargs, *node.args.args]])
            elif isinstance(node, ast.ClassDef):
                names.setdefault(node.name, [])
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        names.setdefault(target.id, [])
    return names


_NUMBER = r"-?(?:nan|inf|\d[\d_]*\.?\d*(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?)"


def redact(message):
    """A hidden test's message without the reference's numbers: ``expected 0.731`` becomes ``expected (hidden)``.

    The checks of :mod:`nnbook.grading` already give no number inside a hidden
    test; this is the second layer, for any other message.
    """
    message = re.sub(rf"(expected:?\s*){_NUMBER}", r"\1(hidden)", message, flags=re.IGNORECASE)
    message = re.sub(rf"((?:got|relative error|error)\s*){_NUMBER}", r"\1(hidden)", message, flags=re.IGNORECASE)
    return re.sub(r"(expected \S+ of |expected array\s*)\[[^\]]*\]", r"\1[…]", message)


_DECIMAL = r"-?(?:\d+\.\d*|\.\d+|\d+(?=[eE]))(?:[eE][-+]?\d+)?|\b\d{5,}\b"


def redact_student_message(message):
    """A student's exception message as a hidden test may show it: every decimal number, and every integer of five
    digits or more, cut out (a function may raise with its hidden inputs in the message); shapes stay."""
    return re.sub(_DECIMAL, "…", message)


def describe_location(location, name):
    """`` at line 4 of your one_hidden_backward: dZ1 = dZ2 @ W2``, from the bridge's ``student_line``, or ``""``."""
    if not isinstance(location, dict):
        return ""
    line, function, code = location.get("line"), location.get("function"), location.get("code")
    if not isinstance(line, int) or not isinstance(function, str) or not isinstance(code, str):
        return ""
    where = f"your {function}" if function.isidentifier() and function != "<module>" else f"the cell of {name}"
    return f" (at line {line} of {where}: `{code[:200]}`)"


def read_untrusted(folder_fd, name, limit=MAX_ANSWER_BYTES):
    """The text of the regular file ``name`` in an open folder the kernel can write to, or ``None``.

    Symbolic links, FIFOs and files over ``limit`` bytes are refused: the
    grader only ever reads what the kernel wrote, never what it points to.
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        status = os.fstat(file.fileno())
        if not (status.st_mode & 0o170000 == 0o100000) or status.st_size > limit:
            return None
        return file.read(limit + 1)[:limit].decode("utf-8", errors="replace")


def error_output(ename, evalue):
    """An nbformat error output whose traceback is only the message (never the grader's own stack)."""
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command runs in the sandbox (``command_wrapper`` wraps it)."""

    command_wrapper = Any(None)

    def format_kernel_cmd(self, extra_arguments=None):
        # An interrupt is a message, which the kernel turns into SIGINT to itself: a signal to the process group
        # would reach bubblewrap first, which dies of it and takes the kernel with it.
        self.kernel_spec.interrupt_mode = "message"
        command = [sys.executable, "-I", "-m", "ipykernel_launcher", "-f", self.connection_file, *(extra_arguments or [])]
        return self.command_wrapper(command)


class SandboxedExecute(Execute):
    """nbgrader's ``Execute``, with the kernel sandboxed and the test cells run by the grader (module docstring)."""

    scratch = Unicode(help="The throwaway folder of this notebook: the only one the kernel may write to.").tag(config=True)
    package = Unicode(help="The folder of the package as graded code sees it (sandbox.student_package).").tag(config=True)
    names = List(Unicode(), help="The names the student was asked to define (student_signatures).").tag(config=True)
    signatures = Any({}, help="{name: [parameter names]} of those names (student_signatures).")
    isolate = Bool(True, help="Run the kernel under bubblewrap (False: limits only).").tag(config=True)
    # -- the limits (book/guide_autograding.md, "Limits"): per process, in total per notebook -------------------------
    memory = Integer(2 * 2**30, help="Bytes of address space of each process of the kernel (beyond: MemoryError); "
                                     "all of them together get memory + disk + 512 MiB (a cgroup).").tag(config=True)
    cpu_seconds = Integer(600, help="Seconds of CPU time of each process of the kernel.").tag(config=True)
    notebook_timeout = Float(300.0, help="Seconds for the whole notebook, wall clock, the calls of the student's "
                                         "functions included; past it nothing starts and the kernel is "
                                         "stopped.").tag(config=True)
    output_limit = Integer(100_000, help="Bytes of the kernel's output kept per cell; the rest is cut.").tag(
        config=True)
    notebook_output_limit = Integer(1_000_000, help="Bytes of the kernel's output kept in the whole notebook.").tag(
        config=True)
    message_limit = Integer(2_000, help="Characters of a message the grader writes into the notebook (a test's "
                                        "failure, the student's exception).").tag(config=True)
    disk = Integer(256 * 2**20, help="Bytes the kernel may write in all (its scratch folder, /dev/shm included); "
                                     "they count toward its memory too.").tag(config=True)
    processes = Integer(64, help="Processes and threads of the kernel, together (the kernel itself uses about "
                                 "13).").tag(config=True)
    cpus = Float(1.0, help="Cores' worth of CPU time the kernel's processes get together, per second of wall "
                           "clock: a kernel that starts many busy processes cannot slow the others.").tag(config=True)
    allowed_imports = List(Unicode(), default_value=list(sandbox.DEFAULT_ALLOWED_IMPORTS), help=(
        "What graded code may import besides the standard library and nnbook's helpers: top-level module names "
        "(e.g. numpy, matplotlib). Only these, their dependencies and the kernel's own are in the sandbox.")).tag(
        config=True)
    store_widget_state = Bool(False, help="Widget state is not kept in the notebook: its size is not bounded.")
    hidden_seed = Integer(0, help="The grading run's secret, mixed into the hidden tests' inputs.").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        folders = {name: os.path.join(self.scratch, name) for name in ("work", "io", "home", "tmp", "ipc")}
        for folder in folders.values():
            os.makedirs(folder, exist_ok=True)
        self.io_folder = folders["io"]
        self.io_fd = os.open(self.io_folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        resources.setdefault("metadata", {})["path"] = folders["work"]
        self.namespace = {"__name__": "__grader__"}
        self.namespace.update({name: StudentFunction(self, name, self.signatures.get(name, ()))
                               for name in self.names})
        grading.set_hidden_seed(self.hidden_seed)
        self.stopped, self.status, self.current_index, self._current_cell = None, "graded", 0, None
        self.output_bytes = {}
        self.deadline = time.monotonic() + self.notebook_timeout
        try:
            return super().preprocess(nb, resources, km)
        finally:
            os.close(self.io_fd)

    # -- the kernel ----------------------------------------------------------------------------------------------------

    def create_kernel_manager(self):
        """The kernel's manager, and with ``isolate`` the kernel's :class:`nnbook.autograder.sandbox.Sandbox`.

        The sandbox remounts the scratch folder on a filesystem of ``disk``
        bytes (the io folder, already open, is reopened there) and creates the
        cgroup that bounds memory, processes and CPU in total; it is closed with the
        kernel (the kernel manager's cleanup), or at the latest when this
        object goes.
        """
        import weakref

        limits = sandbox.Limits(memory=self.memory, cpu_seconds=self.cpu_seconds, disk=self.disk,
                                processes=self.processes, cpus=self.cpus)
        workdir = os.path.join(self.scratch, "work")
        self.comm_open_handlers = {}  # no output widget: what it captures would bypass the output limits
        box = None
        if self.isolate:
            box = sandbox.Sandbox(self.scratch, limits).open()
            weakref.finalize(self, box.close)
            if getattr(self, "io_fd", None) is not None:  # opened by preprocess on the folder the tmpfs now covers
                fresh = os.open(self.io_folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
                os.dup2(fresh, self.io_fd, inheritable=False)
                os.close(fresh)
            wrapper = partial(box.wrap, workdir=workdir, package=self.package,
                              allowed_imports=tuple(self.allowed_imports))
        else:
            wrapper = partial(sandbox.wrap, scratch=self.scratch, workdir=workdir, package=self.package, limits=limits,
                              isolate=False)
        self.km = SandboxedKernelManager(
            kernel_name="python3", transport="ipc", ip=os.path.join(self.scratch, "ipc", "kernel"),
            connection_file=os.path.join(self.scratch, "ipc", "kernel.json"), config=self.config,
            command_wrapper=wrapper,
        )
        if box is not None:
            cleanup = self.km.cleanup_resources

            async def cleanup_and_close(restart=False):
                await cleanup(restart=restart)
                if not restart:
                    box.close()

            self.km.cleanup_resources = cleanup_and_close
        return self.km

    async def async_start_new_kernel(self, **kwargs):
        kwargs.setdefault("stdout", subprocess.DEVNULL)  # the kernel's own streams go nowhere
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        return await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    def _get_timeout(self, cell):
        """Seconds this execution may run: the cell's timeout (``Execute.timeout``), never past the deadline."""
        remaining = self.deadline - time.monotonic()
        limit = min(self.timeout, remaining) if self.timeout and self.timeout > 0 else remaining
        return max(limit, 0.01)  # run_in_kernel starts nothing past the deadline

    def output(self, outs, msg, display_id, cell_index):
        """Keep the kernel's output within ``output_limit`` bytes per cell and ``notebook_output_limit`` in all.

        Beyond, a stream is cut where the room ends and other outputs are
        dropped, with one notice per cell; an error is kept (a failed cell
        stays failed), its message cut to 200 characters. Display ids are not
        kept: an update of a display would rewrite outputs past the limits.
        """
        content = msg.get("content") or {}
        kind = msg.get("msg_type")
        text = content.get("text") if kind == "stream" else None
        size = len(text) if isinstance(text, str) else len(json.dumps(content, default=str))
        used, total = self.output_bytes.get(id(outs), 0), self.output_bytes.get("notebook", 0)
        room = min(self.output_limit - used, self.notebook_output_limit - total)
        if size <= room:
            self.output_bytes[id(outs)], self.output_bytes["notebook"] = used + size, total + size
            return super().output(outs, msg, None, cell_index)
        if kind == "error" and not any(out.get("output_type") == "error" for out in outs):
            evalue = str(content.get("evalue", ""))
            outs.append(error_output(str(content.get("ename", "Error"))[:100],
                                     evalue[:200] + ("…" if len(evalue) > 200 else "")))
        elif isinstance(text, str) and room > 0:
            outs.append(nbformat.v4.new_output("stream", name="stderr" if content.get("name") == "stderr" else "stdout",
                                               text=text[:room]))
            self.output_bytes[id(outs)], self.output_bytes["notebook"] = used + room, total + room
        if ("cut", id(outs)) not in self.output_bytes:
            self.output_bytes["cut", id(outs)] = True
            cell_first = self.output_limit - used <= self.notebook_output_limit - total
            limit = (f"{self.output_limit:,} bytes in this cell" if cell_first
                     else f"{self.notebook_output_limit:,} bytes in the notebook")
            outs.append(nbformat.v4.new_output("stream", name="stdout",
                                               text=f"\n[… output cut: more than {limit} …]\n"))
        return None

    def stop(self, status, reason):
        """No more kernel: the remaining tests fail with ``reason``."""
        if self.stopped is None:
            self.stopped, self.status = reason, status
            self.shutdown_kernel = "immediate"

    def run_in_kernel(self, cell, index, store_history):
        """Execute ``cell`` in the kernel; ``False`` if the kernel died or the notebook ran out of time.

        The notebook's time (``notebook_timeout``, counted from before the
        kernel's start) covers every cell and every call of the student's
        functions: past it nothing starts, and the kernel is stopped at once.
        """

        def halt(reason):
            self.stop("timed out", reason)
            process = getattr(getattr(self.km, "provisioner", None), "process", None)
            if process is not None and process.poll() is None:
                process.kill()  # bubblewrap: with it, every process of the sandbox
            return False

        if time.monotonic() >= self.deadline:
            return halt(f"the notebook ran out of time ({self.notebook_timeout:g} s) before cell {index}")
        self.output_bytes = {"notebook": self.output_bytes.get("notebook", 0)}  # a fresh budget for this cell
        try:
            self.execute_cell(cell, index, store_history=store_history)
        except DeadKernelError:
            self.stop("kernel died", f"the kernel died{self._exit_status()} while running cell {index}")
            return False
        except CellTimeoutError:
            cell.outputs = [*cell.get("outputs", []), error_output("CellTimeoutError", "the cell timed out")]
        for position, output in enumerate(cell.get("outputs", [])):  # nbgrader adds the reply's error, uncounted
            if output.get("output_type") == "error" and len(json.dumps(output, default=str)) > self.output_limit:
                evalue = str(output.get("evalue", ""))
                cell.outputs[position] = error_output(str(output.get("ename", "Error"))[:100],
                                                      evalue[:200] + ("…" if len(evalue) > 200 else ""))
        if not any(output.get("ename") == "CellTimeoutError" for output in cell.get("outputs", [])):
            return True
        if time.monotonic() >= self.deadline - 0.5:
            return halt(f"the notebook ran out of time ({self.notebook_timeout:g} s) in cell {index}")
        if not self._responsive():
            return halt(f"cell {index} did not finish in time, and the kernel ignored the interrupt")
        return True

    def _responsive(self):
        """Whether the kernel, interrupted after a timeout, answers again (a loop that ignores interrupts does not)."""
        probe = nbformat.v4.new_code_cell("pass")
        timeout, self.timeout = self.timeout, min(self.timeout or 10, 10)
        try:
            self.execute_cell(probe, self.current_index, store_history=False)
        except (DeadKernelError, CellTimeoutError):
            return False
        finally:
            self.timeout = timeout
            self.nb.cells[self.current_index] = self._current_cell
        return not any(output.get("ename") == "CellTimeoutError" for output in probe.outputs)

    def _exit_status(self):
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return ""
        if code in (137, -9):
            total = (self.memory + self.disk) / 2**30 + 0.5
            return f" (killed, e.g. out of memory: {total:.3g} GiB for all its processes together)"
        if code in (152, -24):
            return f" (CPU time limit of {self.cpu_seconds} s)"
        return f" (exit status {code})"

    # -- the cells -----------------------------------------------------------------------------------------------------

    def preprocess_cell(self, cell, resources, index):
        self.current_index, self._current_cell = index, cell
        if cell.cell_type != "code":
            return cell, resources
        if utils.is_grade(cell) and not utils.is_solution(cell):
            cell.outputs = self.run_test(cell)
            cell.execution_count = None
            return cell, self.resources
        if self.stopped:
            cell.outputs = []
            return cell, self.resources
        if utils.is_locked(cell) and not utils.is_solution(cell):  # instructor code: the grader runs it too
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell.source, f"<cell {index}>", "exec"), self.namespace)  # noqa: S102 (trusted source)
            self._trust_grading()
        self.run_in_kernel(cell, index, store_history=True)
        return cell, self.resources

    def _trust_grading(self):
        for name, value in list(self.namespace.items()):
            if value is grading:
                self.namespace[name] = TrustedGrading()

    def run_test(self, cell):
        """Run a test cell in the grader; its outputs: what it printed (visible tests), then an error if it failed."""
        hidden = HIDDEN_MARK in cell.source
        if self.stopped:
            return [error_output("NotRun", f"This test could not run: {self.stopped}.")]
        printed = io.StringIO()
        error = None
        try:
            with contextlib.redirect_stdout(printed), warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                exec(compile(cell.source, "<test>", "exec"), self.namespace)  # noqa: S102 (the instructor's test)
        except NotRun:
            error = error_output("NotRun", f"This test could not run: {self.stopped}.")
        except StudentError as failure:
            error = error_output(failure.kind, redact_student_message(str(failure)) if hidden else str(failure))
        except AssertionError as failure:
            error = error_output("AssertionError", redact(str(failure)) if hidden else str(failure))
        except Exception as failure:  # noqa: BLE001 (whatever goes wrong, the test fails with its reason)
            message = f"{type(failure).__name__}: {failure}"[:1000]
            error = error_output(type(failure).__name__, redact(message) if hidden else message)
        if error is not None and len(error.evalue) > self.message_limit:  # a check may quote a huge answer
            cut = len(error.evalue) - self.message_limit
            error = error_output(error.ename, f"{error.evalue[:self.message_limit]} [… {cut:,} characters cut …]")
        self._trust_grading()
        outputs = []
        text = printed.getvalue()[:10_000]
        if text and not hidden:
            outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
        if error is not None:
            outputs.append(error)
        return outputs

    # -- a call of the student's function ------------------------------------------------------------------------------

    def call_student(self, name, args, kwargs, parameters=()):
        """Run the student's ``name(*args, **kwargs)`` in the kernel; its result, as plain data checked here.

        The arguments as the kernel reports them after the call are compared
        with those sent (an ``AssertionError`` names one the function changed in
        place), and are otherwise dropped: the grader's own values never change.
        """
        if self.stopped:
            raise NotRun(self.stopped)
        request = f"call-{secrets.token_hex(8)}.json"
        text = plaindata.dumps([name, list(args), dict(kwargs)])
        fd = os.open(request, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=self.io_fd)
        with os.fdopen(fd, "w") as file:
            file.write(text)
        code = f"__import__('nnbook.autograder.kernel_call').autograder.kernel_call.serve({self.io_folder!r}, {request!r}, globals())"
        probe = nbformat.v4.new_code_cell(code)
        try:
            ran = self.run_in_kernel(probe, self.current_index, store_history=False)
        finally:
            self.nb.cells[self.current_index] = self._current_cell  # nbclient puts the cell it ran at its index
        if not ran:
            raise NotRun(self.stopped)
        if any(output.get("ename") == "CellTimeoutError" for output in probe.outputs):
            raise StudentError("TimeoutError", f"{name} did not return within {self.timeout:g} s: it ran out of time "
                                               "(an endless loop, or far more work than the task needs?)")
        answer = read_untrusted(self.io_fd, request + ".out")
        for leftover in (request, request + ".out"):
            with contextlib.suppress(OSError):
                os.unlink(leftover, dir_fd=self.io_fd)
        if answer is None:
            errors = [f"{output.ename}: {output.evalue}" for output in probe.outputs if output.output_type == "error"]
            raise StudentError("NoAnswer", f"the call of {name} did not come back from the notebook's kernel"
                                           + (f" ({errors[0][:300]})" if errors else ""))
        try:
            answer = plaindata.loads(answer)
            if not isinstance(answer, dict) or not ({"result", "args", "kwargs"} <= answer.keys() or "error" in answer):
                raise plaindata.PlainDataError("not an answer")
        except plaindata.PlainDataError as problem:
            raise StudentError("NoAnswer", f"the answer of {name} is not plain data ({problem})") from None
        if "error" in answer:
            kind, message, location = (list(answer["error"]) + ["", "", None])[:3]
            kind = kind if isinstance(kind, str) and kind.isidentifier() else "Error"
            hint = " (the kernel is limited to {:.3g} GiB of memory)".format(self.memory / 2**30) if kind == "MemoryError" else ""
            raise StudentError(kind[:60], f"{str(message)[:1000]}{hint}{describe_location(location, name)}")
        names = [*parameters, *(f"argument {i + 1}" for i in range(len(parameters), len(args)))]
        after_args = answer["args"] if isinstance(answer["args"], (list, tuple)) else []
        after_kwargs = answer["kwargs"] if isinstance(answer["kwargs"], dict) else {}
        changed = [grading.changed_entry(before, after, where)
                   for where, before, after in zip(names, args, list(after_args) + [None] * len(args))]
        changed += [grading.changed_entry(kwargs[key], after_kwargs.get(key), key) for key in kwargs]
        changed = [where for where in changed if where]
        if changed:
            raise AssertionError(grading.in_place_message(name, changed[0]))
        return answer["result"]
