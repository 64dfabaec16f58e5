"""The package's two sides: the teaching library never imports the grader, and the grader masks every reference.

* ``nnbook.autograder`` (the instructor's side) may import the teaching
  library; no teaching module imports ``nnbook.autograder``, at any depth.
* ``nnbook.grading``, which a student's notebook imports, imports nothing of
  the package but ``gradcheck`` and ``validation``, at the top of the file.
* The sandbox's copy of the package (``sandbox.student_package``) has every
  module of the real package, in every subfolder: those of
  ``sandbox.KERNEL_MODULES`` as they are, every other one masked; and the
  autograder's cache key (``run_key``) changes with any module, in any subfolder.
"""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nnbook
from nnbook.autograder import autograde, sandbox

PACKAGE = Path(nnbook.__file__).resolve().parent


def imported_modules(path, module):
    """``[(dotted name, line, at the top level?)]`` of the modules a file imports, relative imports resolved."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names = [f"{base}.{alias.name}" for alias in node.names]
            found += [(name, node.lineno, id(node) in top_level) for name in [base, *names]]
    return found


def teaching_modules():
    return [(name, path) for name, path in sandbox.package_modules() if not name.startswith("nnbook.autograder")]


def test_the_teaching_library_never_imports_the_autograder():
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line} imports {name}"
        for module, path in teaching_modules()
        for name, line, _ in imported_modules(path, module)
        if name == "nnbook.autograder" or name.startswith("nnbook.autograder.")
    ]
    assert not offenders, offenders
    assert len(teaching_modules()) > 20  # the walk found the package


def test_grading_imports_only_gradcheck_and_validation_at_the_top():
    path = PACKAGE / "grading.py"
    package_imports = [(name, line, top) for name, line, top in imported_modules(path, "nnbook.grading")
                       if name.split(".")[0] == "nnbook"]
    assert package_imports, "grading imports nothing of the package: the walk is broken"
    for name, line, top in package_imports:
        assert name.split(".")[1] in {"gradcheck", "validation"}, f"grading.py:{line} imports {name}"
        assert top, f"grading.py:{line} imports {name} inside a function"


def test_the_kernel_modules_exist_and_are_the_helpers_and_the_kernel_end():
    names = {name for name, _ in sandbox.package_modules()}
    assert set(sandbox.KERNEL_MODULES) <= names
    assert {"nnbook.grading", "nnbook.gradcheck", "nnbook.validation"} <= set(sandbox.KERNEL_MODULES)
    assert "nnbook.autograder.references" not in sandbox.KERNEL_MODULES


def test_the_sandboxs_package_masks_every_other_module_in_every_subfolder(tmp_path):
    copy = sandbox.student_package(tmp_path / "lib", allowed=("data",))
    for name, path in sandbox.package_modules():
        target = copy / path.relative_to(PACKAGE)
        assert target.exists(), f"{name} vanished from the sandbox's package"
        kept = name in sandbox.KERNEL_MODULES or name == "nnbook.data"
        assert (target.read_text() == path.read_text()) == kept, name
        if not kept:
            assert target.read_text().startswith("raise ImportError("), name


def test_a_masked_module_in_a_subfolder_fails_to_import_with_the_reason(tmp_path):
    copy = sandbox.student_package(tmp_path / "lib")
    probe = ("import nnbook.autograder.kernel_call, nnbook.grading\n"
             "try:\n    import nnbook.autograder.references\nexcept ImportError as error:\n    print(error)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(copy.parent), "PATH": "/usr/bin:/bin"}, check=True)
    assert result.stdout.startswith("nnbook.autograder.references is the course's reference implementation")


def test_the_run_key_changes_with_a_module_in_a_subfolder(tmp_path, monkeypatch):
    fake = tmp_path / "nnbook"
    shutil.copytree(PACKAGE, fake, ignore=shutil.ignore_patterns("__pycache__", "*.npz"))
    (fake / "autograder" / "newer").mkdir()
    deep = fake / "autograder" / "newer" / "module.py"
    deep.write_text("A = 1\n")
    monkeypatch.setattr(nnbook, "__file__", str(fake / "__init__.py"))
    assert "nnbook.autograder.newer.module" in {name for name, _ in sandbox.package_modules()}
    course = tmp_path / "course"
    (course / "solutions" / "ex01").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    options = {"timeout": 1, "cell_timeout": 1, "memory": 1, "cpu": 1, "isolate": True}
    before = autograde.run_key(course, "ex01", "ada", options)
    deep.write_text("A = 2\n")
    assert autograde.run_key(course, "ex01", "ada", options) != before


@pytest.mark.parametrize("module", ["nnbook.autograder.autograde", "nnbook.autograder.references"])
def test_the_grader_is_a_subpackage(module):
    assert module in {name for name, _ in sandbox.package_modules()}
    assert not (PACKAGE / "autograde.py").exists() and not (PACKAGE / "trusted_execute.py").exists()


def test_the_package_imports_without_the_frameworks():
    """torch and keras are dependencies of the book (chapter 10), not of the package: every teaching module
    imports with both made unimportable, and no module imports them at its top level."""
    top_level = [
        f"{path.relative_to(PACKAGE)}:{line} imports {name}"
        for module, path in teaching_modules()
        for name, line, at_top in imported_modules(path, module)
        if at_top and name.split(".")[0] in {"torch", "keras", "tensorflow"}
    ]
    assert not top_level, top_level
    names = [module for module, _ in teaching_modules()]
    script = ("import importlib, sys\n"
              "sys.modules.update(torch=None, keras=None, tensorflow=None)\n"
              f"for name in {names!r}:\n"
              "    importlib.import_module(name)\n"
              f"print('imported', set({names!r}) <= set(sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported True"
