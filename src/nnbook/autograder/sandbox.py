"""The sandbox in which a student's kernel runs: a throwaway folder, no network, no course files, limits in total.

A :class:`Sandbox` holds what one kernel may use, and takes it back at the end:

* its **scratch folder** on a filesystem of its own, a ``tmpfs`` of
  ``Limits.disk`` bytes and ``Limits.files`` files, mounted over the folder:
  the only place the kernel can write (``/dev/shm`` included: it is a folder
  of it), so everything the kernel writes counts against one budget;
* a **cgroup** (v1, or v2 where its controllers are delegated) that bounds the
  memory of all the kernel's processes together (``Limits.memory_total``:
  their memory, what they wrote into the scratch folder, kernel buffers),
  the number of its processes and threads (``Limits.processes``) and the CPU
  time they get together per second of wall clock (``Limits.cpus``): a
  kernel that starts 63 busy processes (a fork bomb stopped by the process
  limit) still gets one core's worth of CPU, so the kernels of the other
  students, on the other cores, run at their usual speed.

:meth:`Sandbox.wrap` turns a command (the kernel's) into one that runs it

* in the sandbox's cgroup, under ``prlimit``: for each process, address
  space (``Limits.memory``, a ``MemoryError`` beyond), CPU time, size of a file
  written, open files; no POSIX message queue, no core dump;
* under bubblewrap (``bwrap``), in new user, PID, network, IPC, UTS and cgroup
  namespaces: no network at all (not even the host's loopback), no other
  process visible, no capability, no further user namespace;
* on a read-only filesystem made of mounts of the system (``/usr``, the
  Python installation and the virtual environment) and the scratch folder:
  ``solutions/``, the gradebook, other submissions, the hidden tests and the
  instructor's home are simply not there;
* with only the course's libraries: every ``site-packages`` folder is
  replaced by one holding only what the kernel may import
  (:func:`importable`): the standard library, the course's list
  (``allowed_imports``, by default numpy), the package's helpers, and what the
  kernel itself runs on (ipykernel and its dependencies); scipy, scikit-learn
  and the rest of the environment are not there. A startup hook (second layer,
  for clear messages) makes an ``import`` of anything else in the student's
  code (IPython, the kernel's interface, excepted) fail with "scipy is not
  available to graded code in this course: …";
* with the package's reference implementation masked: the folder of
  ``nnbook`` is replaced by :func:`student_package`, which keeps only the
  modules a student's code may use (``grading``, ``gradcheck``,
  ``validation``, the plain-data bridge, and those the released notebook
  itself imports, such as ``data``) and turns every other module into one
  whose import fails with an explanation.

The totals need root (to mount the scratch filesystem and create the cgroup).
:func:`isolation_problem` says why the sandbox cannot run here (``None`` when it
can): ``bwrap`` missing, user namespaces disabled, not root, no usable cgroup.
Without it the kernel can still be run with the per-process limits only
(:func:`wrap` with ``isolate=False``), which the autograder allows only on an
explicit flag.
"""

import contextlib
import ctypes
import dataclasses
import functools
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nnbook

from .. import grading

#: The one list of the modules of ``nnbook`` a student's kernel may import; every other module of the package,
#: in any subfolder, is masked in the sandbox (:func:`student_package`). They are the helpers a student's code
#: may call (``grading.HELPER_MODULES``) and the kernel's end of a graded call.
KERNEL_MODULES = ("nnbook", *grading.HELPER_MODULES, "nnbook.autograder", "nnbook.autograder.kernel_call",
                  "nnbook.autograder.plaindata")
#: Their names under ``nnbook`` (``grading``, ``autograder``, …): a mention of one is not a use of the reference.
KERNEL_TOP_LEVEL = frozenset(name.split(".")[1] for name in KERNEL_MODULES if "." in name)
#: What graded code may import besides the standard library and ``nnbook``, unless the course says otherwise
#: (``c.SandboxedExecute.allowed_imports`` in ``nbgrader_config.py``).
DEFAULT_ALLOWED_IMPORTS = ("numpy",)
#: The distribution the kernel runs on: it and its dependencies are in the sandbox, whatever the course allows.
KERNEL_DISTRIBUTION = "ipykernel"
#: Of those, what graded code may import too: the kernel's own interface (``display``, magics), no computation.
KERNEL_INTERFACE = ("IPython",)

MiB, GiB = 2**20, 2**30


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one kernel may use. Per process: ``memory`` (address space), ``cpu_seconds``, ``file_size``,
    ``open_files``. In total, for all its processes together: ``disk`` bytes and ``files`` files written (the
    scratch folder, ``/dev/shm`` included), ``processes`` (processes and threads), ``memory_total`` bytes of memory
    (``memory`` + ``disk`` + ``memory_margin``: one process reaches its own limit first, with a ``MemoryError``),
    and ``cpus``, the cores' worth of CPU time per second of wall clock (CFS bandwidth: ``cpu.max`` or
    ``cpu.cfs_quota_us``)."""

    memory: int = 2 * GiB
    cpu_seconds: int = 600
    file_size: int = 64 * MiB
    open_files: int = 256
    disk: int = 256 * MiB
    files: int = 10_000
    processes: int = 64
    memory_margin: int = 512 * MiB
    cpus: float = 1.0

    @property
    def memory_total(self):
        return self.memory + self.disk + self.memory_margin


#: The cgroup controllers a kernel's cgroup uses: its memory, its processes and its CPU time, in total.
CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD = 100_000  # µs: the CFS period over which the CPU quota is counted


class SandboxError(RuntimeError):
    """The sandbox cannot be set up on this machine; the message says why."""


def bwrap_path():
    return shutil.which("bwrap")


def isolation_problem():
    """Why the sandbox, with all its limits, cannot run on this machine, or ``None`` when it can."""
    bwrap = bwrap_path()
    if bwrap is None:
        return (
            "bubblewrap (`bwrap`) is not installed, so student code would run with the instructor's rights, "
            "network and files; install it (Debian/Ubuntu: `apt-get install -y bubblewrap`)"
        )
    return _probe(bwrap)


@functools.lru_cache(maxsize=None)
def _probe(bwrap):
    """Set up a whole sandbox and run Python in it: the first thing that fails, or ``None``."""
    folder = Path(tempfile.mkdtemp(prefix="nnbg-probe-", dir="/tmp"))
    try:
        package = student_package(folder / "lib")
        box = Sandbox(folder / "run", Limits(disk=4 * MiB, files=100))
        try:
            box.open()
        except SandboxError as error:
            return str(error)
        try:
            command = box.wrap([sys.executable, "-I", "-c", "pass"], workdir=box.scratch, package=package)
            probe = subprocess.run(command, capture_output=True, text=True, timeout=60)
        finally:
            box.close()
        if probe.returncode != 0:
            return f"bubblewrap cannot create its namespaces here ({probe.stderr.strip()[:300]})"
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- the scratch filesystem and the cgroup ---------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MNT_DETACH = 2, 4, 8, 2
_names = itertools.count()


_SOURCE = "nnbook-scratch-"  # the mount's source names the grader's process: a dead grader's mounts are swept


def _mount_tmpfs(folder, size, files):
    options = f"size={size},nr_inodes={files},mode=0755".encode()
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    if _libc.mount(f"{_SOURCE}{os.getpid()}".encode(), os.fsencode(folder), b"tmpfs", flags, options) != 0:
        problem = os.strerror(ctypes.get_errno())
        raise SandboxError(
            f"cannot mount the scratch filesystem ({size // MiB} MiB tmpfs) on {folder}: {problem}; the totals of "
            "disk, memory and processes need root (run the autograder as root, e.g. in a container)")


def _unmount(folder):
    _libc.umount2(os.fsencode(folder), _MNT_DETACH)  # lazy: the grader may still hold a folder of it open


def _dead(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError):
        return False
    return False


def _sweep():
    """Remove the scratch filesystems and cgroups that a grader killed before it could (SIGKILL) left behind."""
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as file:
        for line in file:
            fields, _, rest = line.partition(" - ")
            fields, rest = fields.split(), rest.split()
            if len(rest) > 1 and rest[0] == "tmpfs" and rest[1].startswith(_SOURCE) and _dead(rest[1][len(_SOURCE):]):
                _unmount(fields[4].replace("\\040", " "))
    for parent in set(_cgroup_folders().values()):
        with contextlib.suppress(OSError):
            for entry in os.scandir(parent):
                parts = entry.name.split("-")
                if entry.name.startswith("nnbook-sandbox-") and len(parts) == 4 and _dead(parts[2]):
                    leftover = _Cgroup.__new__(_Cgroup)
                    leftover.folders = [entry.path]
                    leftover.remove()


def _cgroup_folders():
    """``{controller: folder}`` under which this process may create cgroups, for ``memory``, ``pids`` and ``cpu``."""
    memberships = {}
    with open("/proc/self/cgroup") as file:
        for line in file:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            memberships[controllers] = path
    folders, unified = {}, None
    with open("/proc/self/mountinfo") as file:
        for line in file:
            fields, _, rest = line.partition(" - ")
            fields, rest = fields.split(), rest.split()
            if len(fields) < 5 or len(rest) < 3:
                continue
            root, point = fields[3], fields[4].replace("\\040", " ")
            for controllers, path in memberships.items():
                if rest[0] == "cgroup2" and controllers == "":
                    folder = _inside(point, root, path)
                    unified = folder or unified
                elif rest[0] == "cgroup":
                    for controller in CONTROLLERS:
                        if controller in rest[2].split(",") and controller in controllers.split(","):
                            folders.setdefault(controller, _inside(point, root, path))
    if unified:
        with contextlib.suppress(OSError):
            delegated = Path(unified, "cgroup.subtree_control").read_text().split()
            for controller in CONTROLLERS:
                if controller in delegated:
                    folders.setdefault(controller, unified)
    return {controller: folder for controller, folder in folders.items() if folder}


def _inside(point, root, path):
    relative = os.path.relpath(path, root)
    return None if relative.startswith("..") else os.path.normpath(os.path.join(point, relative))


class _Cgroup:
    """A fresh cgroup (one folder per controller hierarchy) with the limits of memory, processes and CPU."""

    def __init__(self, limits):
        parents = _cgroup_folders()
        missing = [controller for controller in CONTROLLERS if controller not in parents]
        if missing:
            raise SandboxError(f"no usable cgroup for {' and '.join(missing)} (cgroup v1, or v2 with the controller "
                               "delegated): the memory, processes and CPU of a kernel could not be bounded in total")
        self.folders = []
        name = f"nnbook-sandbox-{os.getpid()}-{next(_names)}"
        try:
            for parent in dict.fromkeys(parents.values()):
                folder = os.path.join(parent, name)
                os.mkdir(folder)
                self.folders.append(folder)
                controllers = {controller for controller, where in parents.items() if where == parent}
                v2 = os.path.exists(os.path.join(folder, "cgroup.controllers"))
                if "memory" in controllers:
                    self._write(folder, "memory.max" if v2 else "memory.limit_in_bytes", limits.memory_total)
                    with contextlib.suppress(OSError):  # no swap either, where swap is accounted
                        self._write(folder, "memory.swap.max" if v2 else "memory.memsw.limit_in_bytes",
                                    0 if v2 else limits.memory_total)
                if "pids" in controllers:
                    self._write(folder, "pids.max", limits.processes)
                if "cpu" in controllers:
                    quota = max(1000, round(limits.cpus * CPU_PERIOD))
                    if v2:
                        self._write(folder, "cpu.max", f"{quota} {CPU_PERIOD}")
                    else:
                        self._write(folder, "cpu.cfs_period_us", CPU_PERIOD)
                        self._write(folder, "cpu.cfs_quota_us", quota)
        except OSError as error:
            self.remove()
            raise SandboxError(f"cannot create the kernel's cgroup ({error}): the totals of memory, processes and "
                               "CPU need root and a writable cgroup filesystem") from None

    @staticmethod
    def _write(folder, name, value):
        with open(os.path.join(folder, name), "w") as file:
            file.write(str(value))

    @property
    def procs(self):
        return [os.path.join(folder, "cgroup.procs") for folder in self.folders]

    def remove(self):
        """Kill whatever still runs in it, then remove it."""
        for _ in range(100):
            alive = False
            for folder in list(self.folders):
                with contextlib.suppress(OSError):
                    for pid in Path(folder, "cgroup.procs").read_text().split():
                        alive = True
                        with contextlib.suppress(OSError):
                            os.kill(int(pid), signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
                if not os.path.exists(folder):
                    self.folders.remove(folder)
            if not self.folders:
                return
            time.sleep(0.02 if alive else 0.05)


class Sandbox:
    """What one kernel may use, in total: its scratch folder on a bounded filesystem, and a cgroup (module doc).

    :meth:`open` mounts a ``tmpfs`` of ``limits.disk`` bytes over ``scratch``
    (the folders already in ``scratch`` are made again on it, empty, with
    ``shm`` for ``/dev/shm``) and creates the cgroup; :meth:`close` kills what
    is left, removes the cgroup and unmounts. Both need root; :meth:`open`
    raises :class:`SandboxError` with the reason when it cannot.
    """

    def __init__(self, scratch, limits=Limits()):
        self.scratch, self.limits = str(scratch), limits
        self.cgroup, self.mounted = None, False

    def open(self):
        _sweep()
        os.makedirs(self.scratch, exist_ok=True)
        folders = [entry.name for entry in os.scandir(self.scratch) if entry.is_dir(follow_symlinks=False)]
        _mount_tmpfs(self.scratch, self.limits.disk, self.limits.files)
        self.mounted = True
        try:
            os.chmod(self.scratch, 0o700)
            for name in [*folders, "shm"]:
                os.makedirs(os.path.join(self.scratch, name), exist_ok=True)
            os.chmod(os.path.join(self.scratch, "shm"), 0o1777)
            self.cgroup = _Cgroup(self.limits)
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        """Idempotent: the end of the kernel's resources."""
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self.mounted:
            _unmount(self.scratch)
            self.mounted = False

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc_info):
        self.close()

    def wrap(self, command, workdir, package, allowed_imports=DEFAULT_ALLOWED_IMPORTS):
        """``command`` run in this sandbox (see :func:`wrap`), in its cgroup."""
        if self.cgroup is None:
            raise SandboxError("the sandbox is not open")
        return wrap(command, self.scratch, workdir, package, self.limits, isolate=True,
                    allowed_imports=allowed_imports, cgroup_procs=self.cgroup.procs)


# -- what the kernel sees --------------------------------------------------------------------------------------------


def _namespaces():
    return ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--uid", "1000",
            "--gid", "1000", "--proc", "/proc", "--dev", "/dev"]


def _python_roots():
    """The folders the Python interpreter and its packages live in, as real paths."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent.parent}
    return sorted(root for root in roots if not _under_system(root))


def _under_system(path):
    return any(str(path) == top or str(path).startswith(top + "/") for top in ("/usr", "/lib", "/bin"))


def _site_folders():
    """The ``site-packages`` folders the kernel's Python reads (real paths), in ``sys.path`` order."""
    folders = [os.path.realpath(path) for path in sys.path
               if os.path.basename(path) in ("site-packages", "dist-packages")]
    return [folder for folder in dict.fromkeys(folders) if os.path.isdir(folder)]


def _package_folders():
    """Every folder of installed Python packages the mounts expose: each is masked or replaced by :func:`importable`."""
    patterns = ["lib/python3*/site-packages", "lib/python3*/dist-packages", "lib/python3/dist-packages",
                "local/lib/python3*/site-packages", "local/lib/python3*/dist-packages"]
    folders = set(_site_folders())
    for root in [Path("/usr"), *_python_roots()]:
        for pattern in patterns:
            folders.update(os.path.realpath(path) for path in root.glob(pattern) if path.is_dir())
    return sorted(folders)


def _system_mounts():
    mounts = []
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        path = Path(top)
        if path.is_symlink():
            mounts += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            mounts += ["--ro-bind", top, top]
    for file in ("/etc/ld.so.cache", "/etc/localtime"):
        if Path(file).exists():
            mounts += ["--ro-bind", file, file]
    for root in _python_roots():
        mounts += ["--ro-bind", str(root), str(root)]
    return mounts


def _canonical(name):
    return name.lower().replace("_", "-").replace(".", "-")


@functools.lru_cache(maxsize=None)
def _distributions():
    """``{canonical name: (distribution, site folder, [its top-level entries], {its top-level modules})}``."""
    import importlib.metadata

    found = {}
    for folder in _site_folders():
        for dist in importlib.metadata.distributions(path=[folder]):
            name = _canonical(dist.metadata["Name"] or "")
            if not name or name in found:
                continue
            tops = (dist.read_text("top_level.txt") or "").split()
            entries = {file.parts[0] for file in dist.files or []
                       if file.parts and file.parts[0] not in ("..", "__pycache__")}
            if not entries:
                entries = {f"{top}{suffix}" for top in tops for suffix in ("", ".py")}
            info = getattr(dist, "_path", None)
            if info is not None:
                entries.add(Path(info).name)
            entries = sorted(entry for entry in entries if os.path.lexists(os.path.join(folder, entry)))
            modules = {_module_name(entry) for entry in entries} | set(tops)
            found[name] = (dist, folder, entries, modules - {None})
    return found


def _module_name(entry):
    return entry.split(".")[0] if not entry.endswith((".dist-info", ".egg-info", ".pth")) else None


def _requirements(dist):
    from packaging.requirements import InvalidRequirement, Requirement

    names = []
    for text in dist.requires or []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.append(_canonical(requirement.name))
    return names


@functools.lru_cache(maxsize=None)
def importable(allowed_imports=DEFAULT_ALLOWED_IMPORTS):
    """``{site folder: [entries]}``: what of each ``site-packages`` folder the sandbox shows.

    The distributions that provide the modules of ``allowed_imports``, the
    kernel's (``ipykernel``), and their dependencies (without extras); and the
    installed files of ``nnbook`` itself (not its dependencies: scikit-learn is
    one). Every other entry of the folder is absent from the sandbox.
    """
    dists = _distributions()
    providers = {}
    for name, (_, _, _, modules) in dists.items():
        for module in modules:
            providers.setdefault(module, []).append(name)
    wanted, stack = set(), [KERNEL_DISTRIBUTION]
    for module in allowed_imports:
        stack += providers.get(module.split(".")[0], [])
    while stack:
        name = stack.pop()
        if name in wanted or name not in dists:
            continue
        wanted.add(name)
        stack += _requirements(dists[name][0])
    wanted.update(providers.get("nnbook", []))
    view = {folder: set() for folder in _site_folders()}
    for name in wanted:
        _, folder, entries, _ = dists[name]
        view[folder].update(entries)
    return {folder: sorted(entries) for folder, entries in view.items()}


_HOOK = '''"""Written by nnbook's sandbox: an import the course does not allow fails with a message that says so.

The filesystem of the sandbox holds only what may be imported (and what the
kernel runs on); this is the second layer, for a clear message. It is not a
barrier: the student's code could remove it, and would gain nothing.
"""
import builtins
import sys

ALLOWED = frozenset({allowed!r}) | {{"nnbook", "_nnbook_imports", "__main__", "__future__"}} | sys.stdlib_module_names
MESSAGE = {message!r}
INSTALLED = {installed!r}
_import = builtins.__import__


def _students(frame):
    """Whether the code of ``frame`` is the student's: not a file of the Python installation or of a package."""
    name = frame.f_code.co_filename
    return not name.startswith(INSTALLED) and not name.startswith("<frozen")


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    top = name.partition(".")[0]
    if level == 0 and top not in ALLOWED and _students(sys._getframe(1)):
        raise ModuleNotFoundError(MESSAGE.format(name=top), name=name)
    return _import(name, globals, locals, fromlist, level)


builtins.__import__ = _guarded_import
'''


def _hook_files(folder, allowed_imports):
    """Write the startup hook (a module and the ``.pth`` line that imports it) into ``folder``; their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    listed = ", ".join(sorted(allowed_imports))
    message = ("{name} is not available to graded code in this course: allowed are the standard library, "
               + (f"{listed} and " if listed else "") + "the course's helpers (nnbook), with IPython's display")
    installed = tuple(sorted({sys.prefix, sys.base_prefix, str(Path(nnbook.__file__).resolve().parent), "/usr/"}))
    module = folder / "_nnbook_imports.py"
    module.write_text(_HOOK.format(allowed=sorted({*allowed_imports, *KERNEL_INTERFACE}), message=message,
                                   installed=installed))
    pth = folder / "_nnbook_imports.pth"
    pth.write_text("import _nnbook_imports\n")
    return [module, pth]


def _site_mounts(allowed_imports, hooks):
    """Each folder of packages replaced by an empty read-only one, with only the importable entries bound in it."""
    view = importable(tuple(allowed_imports))
    mounts, sealed = [], []
    for folder in _package_folders():
        mounts += ["--tmpfs", folder]
        for entry in view.get(folder, []):
            mounts += ["--ro-bind", os.path.join(folder, entry), os.path.join(folder, entry)]
        if folder in view and hooks and folder == next(iter(view)):
            for path in hooks:
                mounts += ["--ro-bind", str(path), os.path.join(folder, path.name)]
        sealed += ["--remount-ro", folder]
    return mounts, sealed


def package_modules():
    """``(dotted name, path)`` of every module of the installed package ``nnbook``, in every subfolder."""
    real = Path(nnbook.__file__).resolve().parent
    for path in sorted(real.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(real).with_suffix("").parts
        yield ".".join(["nnbook", *(parts[:-1] if parts[-1] == "__init__" else parts)]), path


def student_package(folder, allowed=()):
    """Write into ``folder`` the package ``nnbook`` as a graded notebook sees it; return its path.

    The modules of :data:`KERNEL_MODULES` and the modules named in ``allowed``
    (names under ``nnbook``: those the released notebook itself imports, e.g.
    ``data`` for its data sets, with the package's data files) are copied; each
    other module of the real package, in any subfolder, becomes one line
    raising ``ImportError`` that explains why.
    """
    real = Path(nnbook.__file__).resolve().parent
    package = Path(folder) / "nnbook"
    package.mkdir(parents=True, exist_ok=True)
    if (real / "datasets").is_dir() and "data" in allowed:
        shutil.copytree(real / "datasets", package / "datasets", dirs_exist_ok=True)
    keep = {*KERNEL_MODULES, *(f"nnbook.{name}" for name in allowed)}
    for name, path in package_modules():
        target = package / path.relative_to(real)
        target.parent.mkdir(parents=True, exist_ok=True)
        if name in keep:
            shutil.copy(path, target)
        else:
            message = (
                f"{name} is the course's reference implementation: it is not available to graded code. "
                "Write the function yourself."
            )
            target.write_text(f"raise ImportError({message!r})\n")
    return package


def environment(scratch):
    """The whole environment of the kernel: nothing of the instructor's, one thread per BLAS."""
    home = str(Path(scratch) / "home")
    return {
        "HOME": home, "IPYTHONDIR": f"{home}/.ipython", "MPLCONFIGDIR": f"{home}/.matplotlib",
        "JUPYTER_CONFIG_DIR": f"{home}/.jupyter", "JUPYTER_DATA_DIR": f"{home}/.jupyter/data",
        "JUPYTER_RUNTIME_DIR": f"{home}/.jupyter/runtime", "TMPDIR": f"{scratch}/tmp", "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    }


#: Run by ``sh`` before the kernel: join the cgroups given before ``--``, then run the rest.
_JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


def wrap(command, scratch, workdir, package, limits=Limits(), isolate=True, allowed_imports=DEFAULT_ALLOWED_IMPORTS,
         cgroup_procs=()):
    """``command`` run in the sandbox: ``scratch`` the only writable folder, ``workdir`` its working directory.

    ``package`` is the folder :func:`student_package` wrote; it is mounted over
    the real ``nnbook``, and the import hook is written beside it. The totals
    hold only for a ``scratch`` that a :class:`Sandbox` mounted, with its
    ``cgroup_procs`` (use :meth:`Sandbox.wrap`); otherwise only the per-process
    limits do. With ``isolate=False`` only the per-process limits and the
    environment apply (the autograder's explicit unsandboxed mode).
    """
    prlimit = [
        "prlimit", f"--as={limits.memory}", f"--cpu={limits.cpu_seconds}", f"--fsize={limits.file_size}",
        f"--nofile={limits.open_files}", "--msgqueue=0", "--core=0", "--",
    ]
    join = ["/bin/sh", "-c", _JOIN_CGROUPS, "nnbook-sandbox", *cgroup_procs, "--"] if cgroup_procs else []
    scratch, workdir = str(scratch), str(workdir)
    env = environment(scratch)
    if not isolate:
        return [*join, *prlimit, "env", "-i", *(f"{key}={value}" for key, value in env.items()), *command]
    hooks = _hook_files(Path(package).parent / "_nnbook_site", allowed_imports)
    sites, sealed = _site_mounts(allowed_imports, hooks)
    real_package = str(Path(nnbook.__file__).resolve().parent)
    shm = os.path.join(scratch, "shm")
    sandbox = [bwrap_path(), *_namespaces(), *_system_mounts(), *sites, "--ro-bind", str(package), real_package,
               "--bind", scratch, scratch, *(["--bind", shm, "/dev/shm"] if os.path.isdir(shm) else []),
               *sealed, "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", workdir, "--clearenv"]
    for key, value in env.items():
        sandbox += ["--setenv", key, value]
    return [*join, *prlimit, *sandbox, "--", *command]
