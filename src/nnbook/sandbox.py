"""The sandbox in which a student's kernel runs: a throwaway folder, no network, no course files, limits.

:func:`wrap` turns a command (the kernel's) into one that runs it

* under bubblewrap (``bwrap``), in new user, PID, network, IPC and UTS
  namespaces: no network at all (not even the host's loopback), no other
  process visible, no capability;
* on a read-only filesystem made of mounts of the system (``/usr``, the
  Python installation and the virtual environment) and one writable folder,
  the scratch folder, which holds the submitted notebook and nothing else:
  ``solutions/``, the gradebook, other submissions, the hidden tests and the
  instructor's home are simply not there;
* with the package's reference implementation masked: the folder of
  ``nnbook`` is replaced by :func:`student_package`, which keeps only the
  modules a student's code may use (``grading``, ``gradcheck``,
  ``validation``, the plain-data bridge, and those the released notebook
  itself imports, such as ``data``) and turns every other module into one
  whose import fails with an explanation;
* under ``prlimit``: address space (memory), CPU time, size of any file
  written, number of open files.

:func:`isolation_problem` says why the sandbox cannot run here (``None`` when
it can): ``bwrap`` missing, or user namespaces disabled. Without bubblewrap the
kernel can still be run with the limits only (``isolate=False``), which the
autograder allows only on an explicit flag.
"""

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nnbook

#: Modules of ``nnbook`` a graded notebook may import inside the sandbox; every other one is masked.
STUDENT_MODULES = ("__init__", "grading", "gradcheck", "validation", "plaindata", "bridge")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one kernel: bytes of address space, seconds of CPU, bytes per file written."""

    memory: int = 2 * 2**30
    cpu_seconds: int = 600
    file_size: int = 64 * 2**20
    open_files: int = 256


def bwrap_path():
    return shutil.which("bwrap")


def isolation_problem():
    """Why the sandbox cannot run on this machine, or ``None`` when it can."""
    bwrap = bwrap_path()
    if bwrap is None:
        return (
            "bubblewrap (`bwrap`) is not installed, so student code would run with the instructor's rights, "
            "network and files; install it (Debian/Ubuntu: `apt-get install -y bubblewrap`)"
        )
    probe = subprocess.run(
        [bwrap, *_namespaces(), *_system_mounts(), "--remount-ro", "/", "--", sys.executable, "-c", "pass"],
        capture_output=True, text=True, timeout=60,
    )
    if probe.returncode != 0:
        return f"bubblewrap cannot create its namespaces here ({probe.stderr.strip()[:300]})"
    return None


def _namespaces():
    return ["--unshare-all", "--die-with-parent", "--uid", "1000", "--gid", "1000",
            "--proc", "/proc", "--dev", "/dev"]


def _python_roots():
    """The folders the Python interpreter and its packages live in, as real paths."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent.parent}
    for path in sys.path:
        if "site-packages" in path or "dist-packages" in path:
            roots.add(Path(path).resolve())
    return sorted(roots)


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
        if not any(str(root).startswith(system + "/") for system in ("/usr", "/lib", "/bin")):
            mounts += ["--ro-bind", str(root), str(root)]
    return mounts


def student_package(folder, allowed=()):
    """Write into ``folder`` the package ``nnbook`` as a graded notebook sees it; return its path.

    The helper modules and the modules named in ``allowed`` (those the
    released notebook itself imports, e.g. ``data`` for its data sets, with
    the package's data files) are copied; each other module of the real
    package becomes one line raising ``ImportError`` that explains why.
    """
    real = Path(nnbook.__file__).resolve().parent
    package = Path(folder) / "nnbook"
    package.mkdir(parents=True, exist_ok=True)
    if (real / "datasets").is_dir() and "data" in allowed:
        shutil.copytree(real / "datasets", package / "datasets", dirs_exist_ok=True)
    for path in real.glob("*.py"):
        if path.stem in STUDENT_MODULES or path.stem in allowed:
            shutil.copy(path, package / path.name)
        else:
            message = (
                f"nnbook.{path.stem} is the course's reference implementation: it is not available to graded code. "
                "Write the function yourself."
            )
            (package / path.name).write_text(f"raise ImportError({message!r})\n")
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


def wrap(command, scratch, workdir, package, limits=Limits(), isolate=True):
    """``command`` run in the sandbox: ``scratch`` the only writable folder, ``workdir`` its working directory.

    ``package`` is the folder :func:`student_package` wrote; it is mounted over
    the real ``nnbook``. With ``isolate=False`` only the limits and the
    environment apply (the autograder's explicit unsandboxed mode).
    """
    prlimit = [
        "prlimit", f"--as={limits.memory}", f"--cpu={limits.cpu_seconds}", f"--fsize={limits.file_size}",
        f"--nofile={limits.open_files}", "--core=0", "--",
    ]
    scratch, workdir = str(scratch), str(workdir)
    env = environment(scratch)
    if not isolate:
        return [*prlimit, "env", "-i", *(f"{key}={value}" for key, value in env.items()), *command]
    real_package = str(Path(nnbook.__file__).resolve().parent)
    sandbox = [bwrap_path(), *_namespaces(), *_system_mounts(), "--ro-bind", str(package), real_package,
               "--bind", scratch, scratch, "--remount-ro", "/", "--chdir", workdir, "--clearenv"]
    for key, value in env.items():
        sandbox += ["--setenv", key, value]
    return [*prlimit, *sandbox, "--", *command]
