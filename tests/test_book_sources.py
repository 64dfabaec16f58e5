"""The chapters' sources, checked without building the book (fast).

Each chapter notebook is a MyST Markdown file paired by jupytext with an
``.ipynb`` (the notebook that the launch buttons open), starts with a hidden
cell that checks the ``nnbook`` version it was written for, and ends with
self-check questions whose answers are hidden, then a pointer to its graded
exercise.
"""

import ast
import re

import jupytext
import nbformat
import numpy as np
import pytest
import yaml

import nnbook
from book_pages import ROOT, chapters, exercise_notebooks, toc_pages
from nnbook.experiments import RELU_SUM_SETTINGS, max_error, relu_sum_fit
from nnbook.linear_models import adaline_gradients, adaline_hessian, critical_learning_rate

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


# ---- what the chapters state, checked against the package ---------------------------------------

BOOK = ROOT / "book"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CHAPTER_NUMBERS = CONFIG["sphinx"]["config"].get("nnbook_chapter_numbers", {})


def rms_on_fit_points(F, f, interval, n_points):
    x = np.linspace(*interval, n_points)
    return float(np.sqrt(np.mean((F(x) - f(x)) ** 2)))


def test_nested_kinks_bound_the_least_squares_error_not_the_largest_error():
    """mlp.md: doubling N nests the kinks, so the error that least squares minimizes cannot rise; the max error can."""
    settings = RELU_SUM_SETTINGS
    for f in (settings["function"], lambda x: np.sin(5 * x)):
        rms = [rms_on_fit_points(relu_sum_fit(f, n, settings["interval"], settings["n_fit_points"]), f,
                                 settings["interval"], settings["n_fit_points"]) for n in settings["units"]]
        assert all(later <= earlier * (1 + 1e-9) for earlier, later in zip(rms, rms[1:])), rms
    sin5 = lambda x: np.sin(5 * x)  # noqa: E731
    worst = {n: max_error(relu_sum_fit(sin5, n), sin5) for n in (4, 8)}
    assert worst[8] > worst[4] + 0.1, f"the largest error on sin 5x should rise from 4 to 8 units: {worst}"
    text = (BOOK / "mlp.md").read_text()
    assert not re.search(r"error decreases at every step because", text), "mlp.md: nested kinks do not make the max error fall"
    assert "cannot rise" in text and "can rise" in text and "sin5_max_8" in text


def test_the_sum_of_relus_for_the_sine_keeps_its_constant_term():
    """mlp.md: the 1-D approximant of the sine has the proposition's constant f(t0), carried by the output bias."""
    text = (BOOK / "mlp.md").read_text()
    section = text[text.index("### $D$ dimensions"):text.index("The theorem is an existence result")]
    approximant = re.search(r"R\(u\) = (.+)", section)
    assert approximant and r"\beta" in approximant.group(1) and r"\max(0,\, u - t_n)" in approximant.group(1)
    assert r"\beta = \sin(-T)" in section and "output bias" in section
    # the code represents the constant the same way: F = c + Σ αₙ max(0, x − tₙ), c the output bias
    fit = relu_sum_fit(np.cos, 4, (0.0, np.pi))
    assert np.isclose(fit(np.array([0.0]))[0], fit.bias)


def test_the_perceptron_chapter_quotes_the_decks_final_test_error():
    text = (BOOK / "perceptron.md").read_text()
    assert "final test error of 0.14%" in text and "about 0.1%" not in text


def test_adaline_says_what_gradient_descent_does_along_a_zero_eigenvalue():
    text = (BOOK / "adaline.md").read_text()
    start = text.index("## When does gradient descent diverge?")
    section = text[start:text.index(":pyobject: adaline_hessian", start)]
    assert r"When $\lambda_k = 0$" in section and "neither shrinks nor grows" in section
    assert r"when $\lambda_{\min} > 0$, all directions shrink" in section
    # and it is so: with two identical features the Hessian is singular, and gradient descent below
    # 2/λ_max leaves the component along the zero eigenvector where it started
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 1))
    X = np.hstack([x, x])
    y = 2 * x[:, 0] + 0.1 * rng.normal(size=50)
    eigenvalues, vectors = np.linalg.eigh(adaline_hessian(X))
    assert np.isclose(eigenvalues[0], 0, atol=1e-12) and eigenvalues[1] > 0
    flat = vectors[:, 0]
    w, b = np.array([1.0, -3.0]), 0.5
    start = flat @ np.append(w, b)
    lr = 0.9 * critical_learning_rate(X)
    for _ in range(500):
        _, dw, db = adaline_gradients(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
    assert np.isclose(flat @ np.append(w, b), start)
    assert np.linalg.norm(adaline_gradients(X, y, w, b)[1]) < 1e-8  # the other components converged


FLOAT_RETURNING = {"check_gradient", "assert_close", "relative_error", "max_error"}


@pytest.mark.parametrize("page", CHAPTERS, ids=ids)
def test_no_code_cell_ends_with_a_call_whose_number_would_be_printed_bare(page):
    """A cell whose last line is ``check_gradient(...)`` shows its float with no word of what it is: print it with its meaning."""
    for cell in jupytext.read(ROOT / page).cells:
        if cell.cell_type != "code":
            continue
        # IPython's magics (%pip) are not Python: read them as `pass`
        source = re.sub(r"^(\s*)[%!].*$", r"\1pass", cell.source, flags=re.M)
        tree = ast.parse(source)
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call):
            function = last.value.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            assert name not in FLOAT_RETURNING, f"{page}: a cell ends with {name}(...), whose number is shown bare"


@pytest.mark.parametrize("page", CHAPTERS, ids=ids)
def test_no_escaped_underscore_in_texttt(page):
    r"""MathJax shows ``\texttt{A\_prev}`` with its backslash: code goes in backquotes, outside the mathematics."""
    assert not re.search(r"\\texttt\{[^}]*\\_", (ROOT / page).read_text()), f"{page}: \\_ inside \\texttt"


def test_the_reading_order_puts_the_chapters_before_the_instructors_material():
    order = [page.as_posix() for page in toc_pages()]
    chapter_pages = [page.as_posix() for page in CHAPTERS if page.stem not in {"intro", "notation"}]
    exercises = [page.as_posix() for page in exercise_notebooks()]
    assert order[:3] == ["book/intro.md", "book/notation.md", "book/guide_students.md"], order[:3]
    assert order[3:3 + len(chapter_pages)] == chapter_pages, "the chapters come right after the student guide"
    assert order.index("book/exercises.md") > max(order.index(page) for page in chapter_pages)
    instructors = [order.index("book/guide_instructors.md"), order.index("book/guide_autograding.md")]
    assert min(instructors) > max(order.index(page) for page in exercises + ["book/exercises.md"]), order


def intro_chapter_list():
    """The numbered list of chapters of the introduction: {number: text of the item}."""
    text = (BOOK / "intro.md").read_text()
    section = text[text.index("## What the book covers"):text.index("## Prerequisites")]
    items = re.findall(r"^(\d+)\. (.*?)(?=^\d+\. |\Z)", section, flags=re.M | re.S)
    return {int(number): " ".join(body.split()) for number, body in items}


def test_the_introduction_links_every_chapter_and_marks_the_others_as_coming():
    items = intro_chapter_list()
    assert sorted(items) == list(range(1, 12)), "the introduction lists the eleven chapters of the syllabus"
    linked = {target for body in items.values() for target in re.findall(r"\{doc\}`[^`<]*<([^>]+)>`", body)}
    for page in CHAPTERS:
        if page.stem != "intro":
            assert page.stem in linked, f"the introduction does not link {page}"
    for number, body in items.items():
        assert ("{doc}`" in body) != ("*(coming)*" in body) or number == 1, f"chapter {number}: a link or *(coming)*"
    # a page's self-checks are numbered with the chapter whose item links it
    for number, body in items.items():
        for target in re.findall(r"\{doc\}`[^`<]*<([^>]+)>`", body):
            if number > 1 or target != "notation":
                assert CHAPTER_NUMBERS.get(f"book/{target}") == number, f"{target}: chapter {number} in the introduction"


def test_every_page_with_self_checks_has_a_chapter_number():
    for page in CHAPTERS:
        if "```{exercise}" in (ROOT / page).read_text():
            assert page.with_suffix("").as_posix() in CHAPTER_NUMBERS, f"{page}: add it to nnbook_chapter_numbers"
    assert CHAPTER_NUMBERS["book/notation"] == CHAPTER_NUMBERS["book/intro"] == 1


def test_the_student_guide_says_what_a_passing_and_a_failing_test_cell_show():
    text = (BOOK / "guide_students.md").read_text()
    assert "silent" not in text.lower(), "a passing test cell is not silent: it prints a line"
    assert "passes the visible tests." in text and "AssertionError" in text
    # as the notebooks do: every visible test cell ends by printing what passed
    for path in exercise_notebooks():
        for cell in nbformat.read(ROOT / path, as_version=4).cells:
            grading = cell.metadata.get("nbgrader", {})
            if grading.get("grade") and not grading.get("solution") and "Hidden tests" not in cell.source:
                assert cell.source.strip().splitlines()[-1].startswith("print("), f"{path}: {grading['grade_id']}"


def test_no_chapter_squeezes_a_confusion_matrix_into_a_panel():
    """plot_confusion_matrix draws its own 6-inch figure, shown at full size: legible counts."""
    for page in CHAPTERS:
        for call in re.findall(r"plot_confusion_matrix\(([^)]*)\)", (ROOT / page).read_text()):
            assert "ax=" not in call, f"{page}: plot_confusion_matrix({call}) draws in a panel of a larger figure"
