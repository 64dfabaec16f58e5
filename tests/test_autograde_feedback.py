"""The feedback released to students: what grading says and nothing live, named tests, wrapped hints, offline math.

* the name of each test (``nnbook.autograder.feedback.test_label``), for every released
  exercise;
* a feedback page made from an attack notebook (HTML, JavaScript, markdown with
  raw HTML and ``javascript:`` links, raw cells, cell tags that break out of
  their attribute, hidden inputs stashed and printed, tracebacks quoting the
  hidden tests) is parsed: nothing live in it, nothing stashed, no hidden test;
* the same page in headless Chromium, offline: the mathematics typeset by the
  inlined MathJax, every hint inside the page, no dialog, no console error
  (marker ``browser``; needs chromium, as ``test_browser.py``);
* both documented ways to grade, ``nnbook-autograde`` and nbgrader's own
  ``autograde`` and ``generate_feedback --force`` (what an instructor may run
  after it), put no line of any hidden test into any feedback file (marker
  ``autograde``; needs bubblewrap).
"""

import copy
import os
import time
from html.parser import HTMLParser

import nbformat
import pytest
from adversarial.common import INJECTED_TAG, MARKDOWN_ATTACK, RAW_ATTACK, SCRIPT
from nbgrader_course import (
    ROOT,
    assert_inert_html,
    cells_by_id,
    feedback_scripts,
    make_course,
    nbgrader,
    nbgrader_env,
    page_text,
    secret_lines,
    submission,
    submit,
    written_answer,
)
from optional import require_sandbox

from nnbook.autograder import autograde, feedback

EXERCISES = {"ex01": "perceptron_logistic.ipynb", "ex02": "computation_graphs.ipynb", "ex03": "backprop_by_hand.ipynb",
             "ex04": "optimizers.ipynb", "ex05": "batchnorm_dropout.ipynb",
             "ex06": "conv_pool.ipynb"}
HINT = ("Likely mistake: you multiplied by sigma'(z) = a (1 - a): with the cross-entropy, dz = a - y already includes "
        "it, so the gradient is (a - y) / m times X, and the hint goes on and on without a break ") + "x" * 400


# ---- the names of the tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("grade_id, function, hidden, label", [
    ("test_one_hidden_dW2_hidden", "one_hidden_backward", True, "dW2 of one_hidden_backward (hidden)"),
    ("test_one_hidden_dW2", "one_hidden_backward", False, "dW2 of one_hidden_backward (visible)"),
    ("test_deep_output_layer", "deep_backward", False, "output layer of deep_backward (visible)"),
    ("test_sigmoid_hidden", "sigmoid", True, "sigmoid (hidden)"),
    ("test_sigmoid", "sigmoid", False, "sigmoid (visible)"),
    ("check_shapes", None, False, "check_shapes (visible)"),
])
def test_a_test_is_named_after_the_function_and_the_quantity_it_grades(grade_id, function, hidden, label):
    assert feedback.test_label(grade_id, function, hidden) == label


@pytest.mark.parametrize("assignment", EXERCISES)
def test_every_released_test_has_a_name_of_its_own_that_names_its_function(assignment):
    release = nbformat.read(ROOT / "exercises" / assignment / EXERCISES[assignment], as_version=4)
    labels = feedback.test_labels(release)
    tests = [cell.metadata["nbgrader"]["grade_id"] for cell in release.cells  # not the written answer: no test
             if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code"]
    assert sorted(labels) == sorted(tests) and len(set(labels.values())) == len(labels), labels
    functions = [cell.metadata["nbgrader"]["grade_id"] for cell in release.cells
                 if cell.metadata.get("nbgrader", {}).get("solution")]
    for grade_id, label in labels.items():
        assert any(function in label for function in functions), (grade_id, label)
        assert label.endswith(" (hidden)") == grade_id.endswith("_hidden"), (grade_id, label)


# ---- a page made from an attack ------------------------------------------------------------------------------------


def error(ename, evalue, traceback=()):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=list(traceback))


def attack_notebook(source):
    """ex01 as nbgrader's autograde leaves it (hidden tests back in their cells), after a hostile submission ran."""
    notebook = copy.deepcopy(source)
    cells = cells_by_id(notebook)
    hidden = cells["test_sigmoid_hidden"]
    hidden.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="STASHED hidden inputs printed during a hidden test\n"),
        error("AssertionError", "sigmoid(z) for z of shape (4, 7): largest difference at index (2,): got 0.5, "
                                "expected -0.731. " + HINT,
              ["\x1b[0;31mAssertionError\x1b[0m Traceback", *hidden.source.splitlines()]),
    ]
    visible = cells["test_bce_gradients"]
    visible.outputs = [error("ValueError", f"dw: got '{SCRIPT}' " + HINT)]
    answer = cells["sigmoid"]
    answer.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="STASHED [[0.1, 0.2]]\n"),
        nbformat.v4.new_output("display_data", data={"text/html": SCRIPT, "application/javascript": "alert(1)",
                                                     "text/plain": "<Page>"}),
        error("RuntimeError", "STASHED in an error"),
    ]
    answer.metadata["tags"] = [INJECTED_TAG]
    answer.metadata["magics_language"] = "html"
    notebook.cells.append(nbformat.v4.new_markdown_cell(MARKDOWN_ATTACK, attachments={"x.png": {"image/png": "AA=="}}))
    notebook.cells.append(nbformat.v4.new_raw_cell(RAW_ATTACK, metadata={"raw_mimetype": "text/html"}))
    notebook.cells.append(nbformat.v4.new_code_cell("print(_stash)", outputs=[
        nbformat.v4.new_output("execute_result", data={"text/html": "<iframe src='javascript:alert(2)'></iframe>"},
                               execution_count=3)]))
    notebook.metadata["title"] = SCRIPT
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2,
                                                                                  "version_minor": 0}}
    return notebook


@pytest.fixture(scope="module")
def source():
    return nbformat.read(ROOT / "solutions" / "ex01" / EXERCISES["ex01"], as_version=4)


@pytest.fixture(scope="module")
def attack_page(source, tmp_path_factory):
    """The feedback page of the attack notebook (the repository is the course: the released notebook is read)."""
    exporter = feedback.FeedbackExporter(config=copy.deepcopy(autograde.course_config(ROOT)))
    resources = {"nbgrader": {"student": "ada", "assignment": "ex01", "notebook": "perceptron_logistic",
                              "score": 3.0, "max_score": 10.0, "late_penalty": 0}}
    page, _ = exporter.from_notebook_node(attack_notebook(source), resources)
    path = tmp_path_factory.mktemp("feedback") / "perceptron_logistic.html"
    path.write_text(page)
    return path


def test_nothing_a_submission_wrote_is_live_in_the_feedback(attack_page):
    page = attack_page.read_text()
    assert_inert_html(page, feedback_scripts())
    assert "STASHED" not in page, "an output of the student's code reached the feedback"
    text = page_text(page)
    assert "My notes" in text and "javascript:alert('link')" in text  # the student's markdown, as text


def test_the_feedback_keeps_the_verdicts_without_hidden_tests_or_reference_values(attack_page, source):
    text = page_text(attack_page.read_text())
    hidden = secret_lines(source, regions=("HIDDEN TESTS",))
    assert not [line for line in hidden if line in text]
    assert "HIDDEN TESTS" not in text and "Traceback" not in text
    assert "-0.731" not in text and "got 0.5" not in text and "Likely mistake" in text
    assert "sigmoid (hidden)" in text and "bce_gradients (visible)" in text and "Test cell" not in text


def test_the_feedback_loads_nothing_from_elsewhere_and_inlines_mathjax(attack_page):
    page = attack_page.read_text()
    assert feedback.mathjax_script() in page and "$$" in page

    class Addresses(HTMLParser):
        found = []

        def handle_starttag(self, tag, attrs):
            self.found += [(tag, value) for name, value in attrs if name in ("src", "href") and "://" in (value or "")]

    parser = Addresses()
    parser.feed(page)
    assert parser.found == [], "the page loads or links to files elsewhere"
    assert "MathJax.js" not in page.replace(feedback.mathjax_script(), "")  # nbconvert's default: MathJax 2, from a CDN


def test_a_refused_submission_gets_a_page_with_its_reason_escaped():
    page = feedback.refusal_page("perceptron_logistic", "ex01", f"notebook not found: expected a, got {SCRIPT}", 10)
    assert_inert_html(page)
    assert "notebook not found" in page_text(page) and "(Score: 0.0 / 10.0)" in page


@pytest.mark.browser
def test_in_a_browser_the_math_is_typeset_and_every_hint_is_inside_the_page(attack_page):
    from test_browser import ARTIFACTS, TIMEOUT, chromium, wait_for

    driver = chromium(attack_page.parent / "chromium", logs=("browser",))
    from selenium.common.exceptions import NoAlertPresentException

    try:
        driver.get(attack_page.as_uri())
        wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete", "the page load")
        driver.set_script_timeout(TIMEOUT)
        settled = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const wait = () => window.MathJax && MathJax.startup && MathJax.startup.promise
                ? MathJax.startup.promise.then(() => done(true), e => done(String(e))) : setTimeout(wait, 50);
            wait();""")
        assert settled is True, f"MathJax failed: {settled}"
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018 (no script of the submission ran)
        assert driver.title == "perceptron_logistic"
        assert driver.execute_script("return document.querySelectorAll('mjx-container').length") > 10
        prose = driver.execute_script("""
            const copy = document.body.cloneNode(true);
            copy.querySelectorAll('pre, code, script, style, mjx-container').forEach(node => node.remove());
            return copy.textContent;""")
        for raw in ("$$", "\\frac", "\\begin{"):
            assert raw not in prose, f"raw TeX {raw!r} visible: MathJax did not typeset it"
        hints = driver.execute_script("""
            const found = [];
            const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
                const node = walker.currentNode, at = node.data.indexOf('Likely mistake');
                if (at < 0 || node.parentElement.closest('script')) continue;
                const range = document.createRange();
                range.setStart(node, at);
                range.setEnd(node, node.data.length);
                const box = range.getBoundingClientRect(), pre = node.parentElement;
                found.push({left: box.left, right: box.right, scroll: pre.scrollWidth, client: pre.clientWidth});
            }
            return {hints: found, width: window.innerWidth, page: document.documentElement.scrollWidth};""")
        assert len(hints["hints"]) == 2, hints
        for hint in hints["hints"]:
            assert 0 <= hint["left"] and hint["right"] <= hints["width"], hints
            assert hint["scroll"] <= hint["client"] + 1, f"the hint is clipped: {hint}"
        assert hints["page"] <= hints["width"], "the page scrolls sideways"
        errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, errors
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "feedback.png"))
    finally:
        driver.quit()


# ---- both documented ways to grade ---------------------------------------------------------------------------------

LEAKER = '''
def sigmoid(z):
    shell = get_ipython()  # in nbgrader's own autograde, the test that calls this runs in this kernel
    history = shell.user_ns.get("In", [""]) if shell is not None else [""]
    raise ValueError("LEAK " + "\\n".join(history[-2:]))
'''


@pytest.mark.autograde
def test_neither_documented_way_to_grade_puts_a_hidden_test_into_any_feedback(tmp_path):
    require_sandbox()
    course = make_course(tmp_path, list(EXERCISES))
    sources = {}
    for assignment, notebook in EXERCISES.items():
        sources[assignment] = nbformat.read(course / "solutions" / assignment / notebook, as_version=4)
        release = nbformat.read(course / "exercises" / assignment / notebook, as_version=4)
        answers = {cell.metadata["nbgrader"]["grade_id"]: written_answer(cell.source) for cell in sources[assignment].cells
                   if cell.metadata.get("nbgrader", {}).get("solution")}
        submit(course, assignment, "honest", notebook, submission(release, answers))
        submit(course, assignment, "untouched", notebook, release)
        if assignment == "ex01":  # quotes, in its error, the test cell that called it: the hidden tests' code
            submit(course, assignment, "leaker", notebook, submission(release, {**answers, "sigmoid": LEAKER}))

    def check(how):
        for assignment, source in sources.items():
            hidden = secret_lines(source, regions=("HIDDEN TESTS",))
            students = {"honest", "untouched", "leaker"} if assignment == "ex01" else {"honest", "untouched"}
            files = [path for path in (course / "feedback").rglob("*") if path.is_file() and path.parts[-2] == assignment]
            assert {path.parts[-3] for path in files} == students, (how, files)
            for path in files:
                text = path.read_text(errors="replace")
                leaked = [line for line in hidden if line in text or line in page_text(text)]
                assert not leaked, f"{how}: {path.relative_to(course)} shows hidden test code: {leaked[:3]}"
                assert_inert_html(text, feedback_scripts())
        leaker = page_text((course / "feedback" / "leaker" / "ex01" / "perceptron_logistic.html").read_text())
        assert "LEAK" in leaker, how  # the error is shown, without the hidden tests it quotes

    started = time.monotonic()
    for assignment in EXERCISES:
        autograde_command = ["nnbook.autograder", assignment, "--course", str(course)]
        result = _run(course, autograde_command)
        assert result.returncode == 0, result.stderr[-3000:]
    check("nnbook-autograde")
    for assignment in EXERCISES:
        nbgrader(course, "generate_feedback", assignment, "--force")
    check("nbgrader generate_feedback --force after nnbook-autograde")
    for assignment in EXERCISES:
        nbgrader(course, "autograde", assignment, "--force")
        nbgrader(course, "generate_feedback", assignment, "--force")
    check("nbgrader autograde, then generate_feedback --force")
    print(f"\nboth ways to grade, three exercises: {time.monotonic() - started:.1f} s")


def _run(course, arguments):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", *arguments], cwd=course, env=nbgrader_env(), capture_output=True,
                          text=True, timeout=900)


def test_the_course_configuration_gives_nbgrader_the_same_feedback_and_sanitizing():
    config = autograde.course_config(ROOT)
    assert config.GenerateFeedback.exporter_class is feedback.FeedbackExporter
    assert feedback.SanitizeFeedback in config.GenerateFeedback.preprocessors
    assert feedback.ClearHiddenTests in config.GenerateFeedback.preprocessors
    assert autograde.RestoreLockedCells in config.Autograde.sanitize_preprocessors
    assert os.path.exists(feedback.mathjax_folder() / "tex-svg-full.js")
