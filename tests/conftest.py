"""Fixtures shared by several test files.

``built_book``: the book built once per test session, with the README's first
command (``jupyter-book build -W --keep-going``), into a temporary folder so
that the developer's own ``_build/`` is untouched. ``tests/test_book.py``
checks the build and the HTML files; ``tests/test_browser.py`` opens the same
pages in headless Chromium.
"""

import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]


class BookBuild(NamedTuple):
    """The finished ``jupyter-book build`` process and the folder of the HTML site."""

    result: subprocess.CompletedProcess
    html: Path


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", "-W", "--keep-going", "--path-output", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    return BookBuild(result, out / "_build" / "html")


@pytest.fixture(scope="session")
def built_html(built_book):
    """The HTML folder of a build that succeeded (the build's own test reports a failure in detail)."""
    if built_book.result.returncode != 0:
        pytest.fail("the book did not build; see test_build_succeeds_without_warnings")
    return built_book.html
