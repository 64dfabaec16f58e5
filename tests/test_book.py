"""The book builds from a clean state: every chapter executed, no warning, no leak of graded material.

This is the README's first command (`jupyter-book build -W --keep-going .`),
run into a temporary folder so the developer's own `_build/` is untouched.
"""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.book

# jupyter_client's own notice when a kernel listens on localhost TCP; not a problem in the book.
HARMLESS = re.compile(r"\[IPKernelApp\] WARNING \| Kernel is running over TCP")

# The region markers of solution cells, and nbgrader's cell metadata (`"nbgrader": {"grade": ...}`);
# the bare word "nbgrader" is fine: the chapters talk about it.
NBGRADER_MARKERS = re.compile(r'BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS|"nbgrader":\s*\{')


def toc_files():
    """Every page listed in _toc.yml, as paths relative to the root without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part["chapters"]:
            files.append(chapter["file"])
            files.extend(section["file"] for section in chapter.get("sections", []))
    return files


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", "-W", "--keep-going", "--path-output", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    return result, out / "_build" / "html"


def test_build_succeeds_without_warnings(built_book):
    result, html = built_book
    log = result.stdout + result.stderr
    warnings = [
        line
        for line in log.splitlines()
        if re.search(r"WARNING|ERROR|CellExecutionError", line) and not HARMLESS.search(line)
    ]
    assert result.returncode == 0, f"jupyter-book build failed:\n{log[-6000:]}"
    assert not warnings, "the build printed warnings:\n" + "\n".join(warnings)
    assert (html / "index.html").exists()


def test_every_toc_page_is_built_and_every_code_cell_executed(built_book):
    _, html = built_book
    for page in toc_files():
        page_html = html / f"{page}.html"
        assert page_html.exists(), f"{page} listed in _toc.yml but not built"
        source = ROOT / f"{page}.md"
        text = source.read_text()
        if "```{code-cell}" in text:
            notebook = html.parent / "jupyter_execute" / f"{page}.ipynb"
            nb = nbformat.read(notebook, as_version=4) if notebook.exists() else None
            code_cells = [c for c in nb.cells if c.cell_type == "code"] if nb else []
            assert code_cells, f"{page}: no executed notebook found in the build"
            assert all(c.execution_count for c in code_cells if c.source.strip()), f"{page}: a code cell was not run"
            assert not any(o.output_type == "error" for c in code_cells for o in c.get("outputs", []))


def hidden_test_lines():
    """Distinctive lines of every solution and hidden-test region of the nbgrader source notebooks."""
    lines = set()
    for path in (ROOT / "solutions").rglob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if "BEGIN HIDDEN TESTS" in line or "BEGIN SOLUTION" in line:
                    inside = True
                elif "END HIDDEN TESTS" in line or "END SOLUTION" in line:
                    inside = False
                elif inside and len(line.strip()) >= 30:
                    lines.add(line.strip())
    return lines


def test_no_grading_material_in_the_built_book(built_book):
    _, html = built_book
    hidden = hidden_test_lines()
    assert hidden, "expected hidden tests in solutions/; did the layout change?"
    for path in html.rglob("*"):
        if path.suffix not in {".html", ".ipynb", ".md", ".txt", ".js", ".json", ".py"} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        marker = NBGRADER_MARKERS.search(text)
        assert not marker, f"nbgrader marker {marker.group()!r} found in {path.relative_to(html)}"
        for line in hidden:
            assert line not in text, f"solution or hidden test code found in {path.relative_to(html)}: {line!r}"
