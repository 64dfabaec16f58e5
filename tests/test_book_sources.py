"""The chapters' sources, checked without building the book (fast).

Each chapter notebook is a MyST Markdown file paired by jupytext with an
``.ipynb`` (the notebook that the launch buttons open), starts with a hidden
cell that checks the ``nnbook`` version it was written for, and ends with
self-check questions whose answers are hidden, then a pointer to its graded
exercise.
"""

import re

import jupytext
import nbformat
import pytest

import nnbook
from book_pages import ROOT, chapters

CHAPTERS = chapters()
ids = [page.stem for page in CHAPTERS]


@pytest.mark.parametrize("page", CHAPTERS, ids=ids)
def test_the_paired_notebook_has_the_cells_of_the_chapter(page):
    """Run ``jupytext --sync book/<chapter>.md`` after editing a chapter."""
    text = jupytext.read(ROOT / page)
    paired = nbformat.read(ROOT / page.with_suffix(".ipynb"), as_version=4)
    as_cells = lambda nb: [(cell.cell_type, cell.source, cell.metadata.get("tags", [])) for cell in nb.cells]
    assert as_cells(paired) == as_cells(text), f"{page.with_suffix('.ipynb')} is out of date: jupytext --sync {page}"
    assert not any(cell.get("outputs") for cell in paired.cells if cell.cell_type == "code")


@pytest.mark.parametrize("page", CHAPTERS, ids=ids)
def test_the_first_cell_checks_the_installed_nnbook_is_the_one_of_the_book(page):
    first = jupytext.read(ROOT / page).cells
    code = next(cell for cell in first if cell.cell_type == "code")
    assert "remove-cell" in code.metadata.get("tags", [])
    stated = re.findall(r'check_version\("([^"]+)"\)', code.source)
    assert stated == [nnbook.__version__], (
        f"{page} states nnbook {stated}, the package is {nnbook.__version__}: update the string and re-sync the pair")


@pytest.mark.parametrize("page", CHAPTERS, ids=ids)
def test_a_chapter_ends_with_self_check_questions_with_hidden_answers(page):
    text = (ROOT / page).read_text()
    assert "## Self-check questions" in text
    questions = text[text.index("## Self-check questions"):]
    labels = re.findall(r"```\{exercise\}\n:label: (\S+)", questions)
    answers = re.findall(r"```\{solution\} (\S+)\n:class: dropdown", questions)
    assert len(labels) >= 2 and labels == answers, f"{page}: every question needs a hidden answer (a dropdown solution)"
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    if page.stem not in {"intro", "notation"}:
        assert headings[-2:] == ["Self-check questions", "Graded exercise"], f"{page}: {headings[-2:]}"
        assert "{graded-exercise}`ex" in text[text.index("## Graded exercise"):]
    else:
        assert headings[-1] == "Self-check questions"
