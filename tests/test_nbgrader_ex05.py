"""ex05, batch normalization and dropout, survives nbgrader's round trip, and its tests name the usual mistakes.

The notebook has 12 test cells of one point each, a visible and a hidden test
per graded quantity: ``dropout_forward`` (2), ``dropout_backward`` (2),
``batchnorm_forward`` (its normalization with the batch of one refused, 2, and
its running averages, 2), ``batchnorm_backward`` (2) and
``batchnorm_backward_simplified`` (2). The backward tests give the function the
reference's cache, never the student's forward pass.

Fast, without nbgrader: every known mistake of :data:`MISTAKES` (a whole
function written with that mistake) is run through the test cells of its
function, visible and hidden, in this process. It must lose exactly the cells
listed and the message must name it ("Likely mistake: ..."), the hidden one with
no number of the reference. (The hidden tests' reference for the running
averages, ``nnbook.autograder.references.batchnorm_training_steps``, is checked
here against ``torch.nn.functional.batch_norm``.)

Then one ``autograde`` run, on a copy of the course, grades these made-up students:

====================  ===============================================================  =======
student               submission                                                       score
====================  ===============================================================  =======
``solution``          the source notebook itself                                       12 / 12
``untouched``         the student version as released                                   0 / 12
``swapped``           dropout keeping the entries where ``u < p``                      10 / 12
``inference_scaled``  dropout multiplying by ``1 - p`` at inference, and its backward    8 / 12
                      forgetting the mask's scale
``eps_outside``       batch norm with ``sqrt(var) + eps``: its running averages keep    10 / 12
                      their points
``no_refusal``        batch norm that normalizes a batch of one                         10 / 12
``momentum_reversed`` the running averages with 0.9 on the new batch                    10 / 12
``missing_paths``     the graph's backward without the mean's path, the closed form     8 / 12
                      without the variance's term
``not_summed``        ``dgamma`` not summed over the batch, in both backward passes      8 / 12
``reference``         ``dropout_forward`` and ``batchnorm_backward`` imported from        8 / 12
                      the package
``in_place``          ``dropout_backward`` multiplying ``dout`` in place                10 / 12
====================  ===============================================================  =======

``tests/test_autograde_exercises.py`` grades the same students with ``nnbook-autograde``.
"""

import ast
import contextlib
import csv
import re

import nbformat
import numpy as np
import pytest
from nbgrader_course import (
    ROOT,
    assert_ran_cleanly,
    assert_untouched_fails_only_with_its_stubs,
    autograded,
    cell_scores,
    cells_by_id,
    failures,
    grade_cells,
    make_course,
    nbgrader,
    page_text,
    secret_lines,
    submission,
    submit,
    written_answer,
)
from optional import import_torch

from nnbook import normalization
from nnbook.autograder import references

pytestmark = pytest.mark.nbgrader

ASSIGNMENT = "ex05"
NOTEBOOK = "batchnorm_dropout.ipynb"
FUNCTIONS = ("dropout_forward", "dropout_backward", "batchnorm_forward", "batchnorm_backward",
             "batchnorm_backward_simplified")
QUANTITIES = {  # the test cells of each function, each a visible test followed by its hidden test
    "dropout_forward": ["dropout_forward"],
    "dropout_backward": ["dropout_backward"],
    "batchnorm_forward": ["batchnorm_forward", "batchnorm_running_statistics"],
    "batchnorm_backward": ["batchnorm_backward"],
    "batchnorm_backward_simplified": ["batchnorm_backward_simplified"],
}
CELLS_OF = {name: [f"test_{q}{suffix}" for q in quantities for suffix in ("", "_hidden")]
            for name, quantities in QUANTITIES.items()}
GRADE_CELLS = [cell for name in FUNCTIONS for cell in CELLS_OF[name]]
NORMALIZATION = ("test_batchnorm_forward", "test_batchnorm_forward_hidden")
RUNNING = ("test_batchnorm_running_statistics", "test_batchnorm_running_statistics_hidden")

# ---- the usual mistakes, each a whole function -------------------------------------------------------------------


def dropout_forward(keep="np.random.default_rng(seed).random(x.shape) >= p", mask="keep / (1 - p)", inference="x"):
    return f'''
def dropout_forward(x, p, training, seed):
    if not training:
        return {inference}, {{"mask": None}}
    keep = {keep}
    mask = {mask}
    return x * mask, {{"mask": mask}}
'''


def dropout_backward(result):
    return f'''
def dropout_backward(dout, cache):
    mask = cache["mask"]
    if mask is None:
        return dout
    return {result}
'''


REFUSE = 'raise ValueError("expected more than one value per feature in training mode")'


def batchnorm_forward(var="np.mean(x_centered**2, axis=0)", std="np.sqrt(var + eps)", out="gamma * x_hat + beta",
                      new_mean="(1 - momentum) * running_mean + momentum * mean",
                      new_var="(1 - momentum) * running_var + momentum * var * m / (m - 1)", refuse=REFUSE):
    return f'''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    m = x.shape[0]
    if m < 2:
        {refuse}
    mean = x.mean(axis=0)
    x_centered = x - mean
    var = {var}
    std = {std}
    x_hat = x_centered / std
    out = {out}
    cache = {{"x_centered": x_centered, "std": std, "x_hat": x_hat, "gamma": gamma, "mean": mean, "var": var}}
    return out, cache, {new_mean}, {new_var}
'''


SUM_DOUT, SUM_DOUT_XHAT = "dout.sum(axis=0)", "np.sum(dout * x_hat, axis=0)"


def backward(name, dx=f"gamma / (m * std) * (m * dout - {SUM_DOUT} - x_hat * {SUM_DOUT_XHAT})", dgamma=SUM_DOUT_XHAT,
             dbeta=SUM_DOUT):
    return f'''
def {name}(dout, cache):
    x_hat, std, gamma, x_centered = cache["x_hat"], cache["std"], cache["gamma"], cache["x_centered"]
    m = dout.shape[0]
    dx = {dx}
    return dx, {dgamma}, {dbeta}
'''


BACKWARD_MISTAKES = {  # key: (the change to the right answer, the start of the description)
    "not_summed_beta": ({"dbeta": "dout"}, "dbeta holds one row per example"),
    "mean_beta": ({"dbeta": "dout.mean(axis=0)"}, "dbeta is the mean of dout"),
    "not_summed_gamma": ({"dgamma": "dout * x_hat"}, "dgamma holds one row per example"),
    "gamma_centered": ({"dgamma": "np.sum(dout * x_centered, axis=0)"}, "dgamma sums dout * x_centered"),
    "no_mean_path": ({"dx": f"gamma / (m * std) * (m * dout - x_hat * {SUM_DOUT_XHAT})"},
                     "dx misses the path through the mean"),
    "no_variance_path": ({"dx": f"gamma / (m * std) * (m * dout - {SUM_DOUT})"},
                         "dx misses the path through the variance"),
    "constant_statistics": ({"dx": "gamma / std * dout"},
                            "dx treats the mean and the variance of the batch as constants"),
    "no_gamma": ({"dx": f"1 / (m * std) * (m * dout - {SUM_DOUT} - x_hat * {SUM_DOUT_XHAT})"},
                 "gamma is missing from dx"),
}

#: key: (function, its source with the mistake, the start of the description the tests give, the cells whose message
#: must name it). Every cell of the function is lost but those of ``KEPT``.
MISTAKES = {
    "drop_swapped": ("dropout_forward", dropout_forward(keep="np.random.default_rng(seed).random(x.shape) < p"),
                     "keep and drop are swapped", None),
    "drop_over_p": ("dropout_forward", dropout_forward(mask="keep / p"), "the kept entries are scaled by 1 / p", None),
    "drop_unscaled": ("dropout_forward", dropout_forward(mask="keep * 1.0"), "the kept entries are not scaled", None),
    "inference_scaled_up": ("dropout_forward", dropout_forward(inference="x / (1 - p)"), "out was scaled at inference",
                            None),
    "inference_scaled_down": ("dropout_forward", dropout_forward(inference="x * (1 - p)"),
                              "out was multiplied by 1 - p at inference", None),
    "back_unscaled": ("dropout_backward", dropout_backward("dout * (mask > 0)"), "dx is dout where the mask is not 0",
                      None),
    "back_identity": ("dropout_backward", dropout_backward("dout"), "dx is dout, as if nothing had been dropped", None),
    "eps_outside": ("batchnorm_forward", batchnorm_forward(std="np.sqrt(var) + eps"), "eps is outside the square root",
                    NORMALIZATION),
    "ddof": ("batchnorm_forward", batchnorm_forward(var="x_centered.var(axis=0, ddof=1)",
                                                    new_var="(1 - momentum) * running_var + momentum * var"),
             "the variance divides by m - 1", NORMALIZATION),
    "running_used": ("batchnorm_forward",
                     batchnorm_forward(out="gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta"),
                     "x was normalized with the running statistics", NORMALIZATION),
    "no_affine": ("batchnorm_forward", batchnorm_forward(out="x_hat"), "out is x_hat", NORMALIZATION),
    "no_sqrt": ("batchnorm_forward", batchnorm_forward(std="var + eps"), "std is var + eps", NORMALIZATION),
    "momentum_reversed": ("batchnorm_forward", batchnorm_forward(
        new_mean="momentum * running_mean + (1 - momentum) * mean",
        new_var="momentum * running_var + (1 - momentum) * var * m / (m - 1)"), "the momentum is the wrong way round",
        RUNNING),
    "running_biased": ("batchnorm_forward", batchnorm_forward(new_var="(1 - momentum) * running_var + momentum * var"),
                       "the running variance averages the biased variance", RUNNING),
    "running_ignored": ("batchnorm_forward", batchnorm_forward(new_mean="momentum * mean",
                                                               new_var="momentum * var * m / (m - 1)"),
                        "the running average ignores the running statistic", RUNNING),
    **{f"{key}_{short}": (name, backward(name, **change), start, None)
       for name, short in (("batchnorm_backward", "graph"), ("batchnorm_backward_simplified", "closed"))
       for key, (change, start) in BACKWARD_MISTAKES.items()},
    "no_m_closed": ("batchnorm_backward_simplified", backward(
        "batchnorm_backward_simplified", dx=f"gamma / std * (m * dout - {SUM_DOUT} - x_hat * {SUM_DOUT_XHAT})"),
        "the factor 1/m in front is missing", None),
}
#: the cells a mistake does not reach: a mistake in the normalization leaves the running averages right, and the
#: converse
KEPT = {key: set(RUNNING) for key, (_, _, _, named) in MISTAKES.items() if named == NORMALIZATION}
KEPT.update({key: set(NORMALIZATION) for key, (_, _, _, named) in MISTAKES.items() if named == RUNNING})

#: a batch of one: normalized (x_hat = 0) instead of refused, refused with another exception, or without saying why
REFUSALS = {
    "no_refusal": ("pass", "returned for x of shape (1, 3), one example, in training mode, where it should raise "
                           "ValueError"),
    "assertion": ('raise AssertionError("a batch of one example")', "raised AssertionError (a batch of one example) "
                                                                     "for x of shape (1, 3)"),
    "terse": ('raise ValueError("batch too small")', "raised ValueError for x of shape (1, 3), one example, in training "
                                                     "mode, as it should, but its message does not say why"),
}

REFERENCE_DROPOUT = '''
from nnbook.regularization import dropout_forward  # the package's answer, not the student's
'''
REFERENCE_BACKWARD = '''
from nnbook import normalization

def batchnorm_backward(dout, cache):
    return normalization.batchnorm_backward(dout, cache)
'''
IN_PLACE_DROPOUT = '''
def dropout_backward(dout, cache):
    if cache["mask"] is not None:
        dout *= cache["mask"]  # changes the caller's array
    return dout
'''


def lost_cells(*functions, keep=()):
    return {cell for function in functions for cell in CELLS_OF[function]} - set(keep)


#: student: ({function: source} in place of the right answer, the cells lost); every other answer is right
STUDENTS = {
    "swapped": ({"dropout_forward": MISTAKES["drop_swapped"][1]}, lost_cells("dropout_forward")),
    "inference_scaled": ({"dropout_forward": MISTAKES["inference_scaled_down"][1],
                          "dropout_backward": MISTAKES["back_unscaled"][1]},
                         lost_cells("dropout_forward", "dropout_backward")),
    "eps_outside": ({"batchnorm_forward": MISTAKES["eps_outside"][1]}, lost_cells("batchnorm_forward", keep=RUNNING)),
    "no_refusal": ({"batchnorm_forward": batchnorm_forward(refuse="pass")},
                   lost_cells("batchnorm_forward", keep=RUNNING)),
    "momentum_reversed": ({"batchnorm_forward": MISTAKES["momentum_reversed"][1]},
                          lost_cells("batchnorm_forward", keep=NORMALIZATION)),
    "missing_paths": ({"batchnorm_backward": MISTAKES["no_mean_path_graph"][1],
                       "batchnorm_backward_simplified": MISTAKES["no_variance_path_closed"][1]},
                      lost_cells("batchnorm_backward", "batchnorm_backward_simplified")),
    "not_summed": ({"batchnorm_backward": MISTAKES["not_summed_gamma_graph"][1],
                    "batchnorm_backward_simplified": MISTAKES["not_summed_gamma_closed"][1]},
                   lost_cells("batchnorm_backward", "batchnorm_backward_simplified")),
    "reference": ({"dropout_forward": REFERENCE_DROPOUT, "batchnorm_backward": REFERENCE_BACKWARD},
                  lost_cells("dropout_forward", "batchnorm_backward")),
    "in_place": ({"dropout_backward": IN_PLACE_DROPOUT}, lost_cells("dropout_backward")),
}
#: what each student must get in total, out of 12
TOTALS = {"solution": 12.0, "untouched": 0.0,
          **{student: 12.0 - len(lost) for student, (_, lost) in STUDENTS.items()}}


def student_answers(answers, student):
    """The solution cells that ``student`` hands in, from the right ``answers`` and the student's own."""
    return {**answers, **STUDENTS[student][0]}


@pytest.fixture(scope="module")
def source():
    return nbformat.read(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)


# ---- the notebook itself -------------------------------------------------------------------------------------------


def test_the_grade_cells_and_their_points(source):
    assert grade_cells(source) == GRADE_CELLS
    points = [cells_by_id(source)[grade_id].metadata.nbgrader["points"] for grade_id in GRADE_CELLS]
    assert points == [1] * len(GRADE_CELLS)
    assert TOTALS == {"solution": 12.0, "untouched": 0.0, "swapped": 10.0, "inference_scaled": 8.0,
                      "eps_outside": 10.0, "no_refusal": 10.0, "momentum_reversed": 10.0, "missing_paths": 8.0,
                      "not_summed": 8.0, "reference": 8.0, "in_place": 10.0}


def test_every_stub_names_its_task():
    release = cells_by_id(nbformat.read(ROOT / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4))
    for name in FUNCTIONS:
        (function,) = ast.parse(release[name].source).body
        docstring, stub = function.body
        assert function.name == name and isinstance(docstring.value, ast.Constant), name
        assert ast.unparse(stub) == f"raise NotImplementedError('{ASSIGNMENT}: {name}')", name


def test_every_test_cell_calls_the_graded_function_through_grading_call(source):
    """Only `grading.call("<name>", <name>, ...)`, never a direct call; a hidden test inside `grading.hidden`."""
    for function, cells in CELLS_OF.items():
        for grade_id in cells:
            tree = ast.parse(cells_by_id(source)[grade_id].source)
            called = [call for call in ast.walk(tree) if isinstance(call, ast.Call) and ast.unparse(call.func) == "grading.call"]
            assert called and {(call.args[0].value, ast.unparse(call.args[1])) for call in called} == {(function, function)}, grade_id
            direct = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "id", None) in FUNCTIONS]
            assert not direct, f"{grade_id} calls a student's function directly"
            hidden = [node for node in ast.walk(tree) if isinstance(node, ast.With)
                      and any(ast.unparse(item.context_expr.func) == "grading.hidden" for item in node.items)]
            assert bool(hidden) == grade_id.endswith("_hidden"), grade_id


def test_every_hidden_test_has_a_large_case(source):
    for grade_id in GRADE_CELLS:
        if grade_id.endswith("_hidden"):
            assert "(200, 300)" in cells_by_id(source)[grade_id].source, grade_id


def test_the_backward_tests_start_from_the_references_cache_never_from_the_students_forward(source):
    cells = cells_by_id(source)
    for function in ("dropout_backward", "batchnorm_backward", "batchnorm_backward_simplified"):
        for grade_id in CELLS_OF[function]:
            text = cells[grade_id].source
            forward = function.split("_backward")[0] + "_forward"
            assert f"grading.call(\"{forward}\"" not in text, grade_id
            assert ("CACHE_SMALL" in text or "reference_cache" in text or "cache = {\"mask\"" in text), grade_id


def test_the_batch_of_one_is_checked_in_both_normalization_cells(source):
    for grade_id in NORMALIZATION:
        text = cells_by_id(source)[grade_id].source
        assert 'grading.raises("batchnorm_forward", ValueError,' in text and 'mentioning="more than one"' in text


def test_the_references_running_averages_are_torchs():
    """``references.batchnorm_training_steps`` (the hidden tests' answers) against ``torch.nn.functional.batch_norm``."""
    torch = import_torch()
    rng = np.random.default_rng(0)
    batches = [rng.normal(2.0, 3.0, size=(7, 4)) for _ in range(3)]
    gamma, beta = rng.uniform(0.5, 2, size=4), rng.standard_normal(4)
    trajectory = references.batchnorm_training_steps(batches, gamma, beta, np.zeros(4), np.ones(4), momentum=0.3)
    mean_t, var_t = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    for batch, (out, cache, running_mean, running_var) in zip(batches, trajectory):
        out_t = torch.nn.functional.batch_norm(torch.tensor(batch), mean_t, var_t, torch.tensor(gamma),
                                               torch.tensor(beta), training=True, momentum=0.3, eps=1e-5)
        np.testing.assert_allclose(out, out_t.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(running_mean, mean_t.numpy(), rtol=1e-14)
        np.testing.assert_allclose(running_var, var_t.numpy(), rtol=1e-14)
        np.testing.assert_allclose(out, normalization.batchnorm_forward(batch, gamma, beta)[0], rtol=0, atol=0)


# ---- every known mistake is named, in this process -----------------------------------------------------------------


@pytest.fixture(scope="module")
def descriptions(source):
    """Every description of a known mistake in the visible tests (the keys of their `mistakes` dicts)."""
    found = set()
    for grade_id in GRADE_CELLS:
        for node in ast.walk(ast.parse(cells_by_id(source)[grade_id].source)):
            if isinstance(node, ast.Dict):
                found.update(key.value for key in node.keys
                             if isinstance(key, ast.Constant) and isinstance(key.value, str) and len(key.value) > 20)
    return found


def run_cells(source, answer, cells):
    """Run the setup cell, ``answer`` (a student's code) and the test ``cells`` here; ``{cell: its error or None}``."""
    namespace = {"__name__": "ex05_student"}
    exec(compile(cells_by_id(source)["setup"].source, "<setup>", "exec"), namespace)  # noqa: S102 (our notebook)
    exec(compile(answer, "<student>", "exec"), namespace)  # noqa: S102 (the test's own made-up answers)
    outcome = {}
    for grade_id in cells:
        try:
            with contextlib.redirect_stdout(None), np.errstate(all="ignore"):
                exec(compile(cells_by_id(source)[grade_id].source, grade_id, "exec"), namespace)  # noqa: S102
            outcome[grade_id] = None
        except AssertionError as error:
            outcome[grade_id] = str(error)
    return outcome


def test_the_right_answers_pass_every_test_here(source):
    answers = "\n".join(written_answer(cells_by_id(source)[name].source) for name in FUNCTIONS)
    assert run_cells(source, answers, GRADE_CELLS) == dict.fromkeys(GRADE_CELLS)


def test_the_answers_of_the_mistakes_are_right_without_the_mistake(source):
    """The templates of :data:`MISTAKES`, with nothing changed, pass every test: each mistake is only its change."""
    answers = "\n".join([dropout_forward(), dropout_backward("dout * mask"), batchnorm_forward(),
                         backward("batchnorm_backward"), backward("batchnorm_backward_simplified")])
    assert run_cells(source, answers, GRADE_CELLS) == dict.fromkeys(GRADE_CELLS)


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_known_mistake_loses_its_cells_and_is_named(source, descriptions, mistake):
    function, answer, start, named = MISTAKES[mistake]
    (description,) = [text for text in descriptions if text.startswith(start)]
    outcome = run_cells(source, answer, CELLS_OF[function])
    kept = KEPT.get(mistake, set())
    assert {cell for cell, error in outcome.items() if error} == set(CELLS_OF[function]) - kept, outcome
    for cell in named or CELLS_OF[function]:
        # "Likely mistake: " before the description, or right after a wrong shape
        assert re.search(r"(Likely mistake: |, got shape \(\d+, \d+\)\. )" + re.escape(description) + "$", outcome[cell]), (
            cell, outcome[cell])
        if cell.endswith("_hidden"):  # only what is wrong and where: no number of the reference
            assert "wrong values, the largest difference at index" in outcome[cell] or "expected shape" in outcome[cell]
            assert not re.search(r"(got|expected|relative error) -?\d", outcome[cell]), outcome[cell]


def test_each_description_of_the_visible_tests_has_its_mistake(descriptions):
    starts = [start for _, _, start, _ in MISTAKES.values()]
    assert sorted(text for text in descriptions if not any(text.startswith(start) for start in starts)) == []


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_a_batch_of_one_must_be_refused_with_a_value_error_that_says_why(source, refusal):
    statement, message = REFUSALS[refusal]
    outcome = run_cells(source, batchnorm_forward(refuse=statement), CELLS_OF["batchnorm_forward"])
    assert {cell for cell, error in outcome.items() if error} == set(NORMALIZATION), outcome
    assert outcome["test_batchnorm_forward"].startswith(f"batchnorm_forward {message}"), outcome
    hidden = outcome["test_batchnorm_forward_hidden"]
    assert hidden.startswith("batchnorm_forward ") and "for x of shape (1, 4), a single example" in hidden, hidden


# ---- autograde ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graded(tmp_path_factory, source):
    """A copy of the course with ex05 generated, the students of the module docstring autograded, feedback, export."""
    course = make_course(tmp_path_factory.mktemp("course"), [ASSIGNMENT])
    release = nbformat.read(course / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4)
    answers = {name: written_answer(cells_by_id(source)[name].source) for name in FUNCTIONS}
    submit(course, ASSIGNMENT, "solution", NOTEBOOK, source)
    submit(course, ASSIGNMENT, "untouched", NOTEBOOK, release)
    for student in STUDENTS:
        submit(course, ASSIGNMENT, student, NOTEBOOK, submission(release, student_answers(answers, student)))
    nbgrader(course, "autograde", ASSIGNMENT)
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    nbgrader(course, "export", "--to=grades.csv")
    return course, cell_scores(course, ASSIGNMENT, list(TOTALS))


def test_the_solution_gets_full_marks(graded):
    course, scores = graded
    assert scores["solution"] == dict.fromkeys(GRADE_CELLS, 1.0)
    assert_ran_cleanly(autograded(course, ASSIGNMENT, "solution", NOTEBOOK))


def test_the_untouched_student_version_gets_zero_and_fails_only_with_not_implemented(graded):
    course, scores = graded
    failed = assert_untouched_fails_only_with_its_stubs(course, ASSIGNMENT, NOTEBOOK, scores["untouched"], GRADE_CELLS)
    assert failed["test_batchnorm_running_statistics_hidden"][1] == "ex05: batchnorm_forward"


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_each_student_gets_exactly_the_points_of_the_functions_right(graded, student):
    _, scores = graded
    lost = STUDENTS[student][1]
    assert scores[student] == {cell: float(cell not in lost) for cell in GRADE_CELLS}


def description(source, start):
    texts = set()
    for cell in source.cells:
        texts.update(re.findall(r'^\s*"(' + re.escape(start) + r'[^"]*)":$', cell.source, flags=re.M))
    (text,) = texts
    return text


@pytest.mark.parametrize("student, cell, message, hint", [
    ("swapped", "test_dropout_forward", r"cache\['mask'\], the scaled mask M: relative error \S+ exceeds 1e-10",
     "keep and drop are swapped"),
    ("swapped", "test_dropout_forward_hidden", r"cache\['mask'\] for x of shape \(3, 4\) in training mode: wrong "
     r"values, the largest difference at index \(\d, \d\)\.", "keep and drop are swapped"),
    ("inference_scaled", "test_dropout_forward", r"out in inference mode \(training=False\), x itself: relative error",
     "out was multiplied by 1 - p at inference"),
    ("inference_scaled", "test_dropout_backward_hidden", r"dx for x of shape \(3, 4\) in training mode: wrong values",
     "dx is dout where the mask is not 0"),
    ("eps_outside", "test_batchnorm_forward", r"out: relative error", "eps is outside the square root"),
    ("eps_outside", "test_batchnorm_forward_hidden", r"out for x of shape \(3, 4\): wrong values",
     "eps is outside the square root"),
    ("momentum_reversed", "test_batchnorm_running_statistics", r"new_running_mean: relative error",
     "the momentum is the wrong way round"),
    ("momentum_reversed", "test_batchnorm_running_statistics_hidden", r"new_running_mean after batch 1 of 3, for "
     r"batches of shape \(3, 4\) and momentum = 0\.1: wrong values", "the momentum is the wrong way round"),
    ("missing_paths", "test_batchnorm_backward", r"dx: relative error", "dx misses the path through the mean"),
    ("missing_paths", "test_batchnorm_backward_hidden", r"dx for x of shape \(3, 5\): wrong values",
     "dx misses the path through the mean"),
    ("missing_paths", "test_batchnorm_backward_simplified_hidden", r"dx for x of shape \(3, 5\): wrong values",
     "dx misses the path through the variance"),
    ("not_summed", "test_batchnorm_backward", r"dgamma: expected shape \(3,\), got shape \(4, 3\)\.",
     "dgamma holds one row per example"),
    ("not_summed", "test_batchnorm_backward_simplified_hidden", r"dgamma for x of shape \(3, 5\): expected shape \(5,\), "
     r"got shape \(3, 5\)\.", "dgamma holds one row per example"),
])
def test_the_feedback_names_the_mistake(graded, source, student, cell, message, hint):
    course, _ = graded
    ename, evalue = failures(course, ASSIGNMENT, student, NOTEBOOK)[cell]
    assert ename == "AssertionError"
    assert re.match(message, evalue), evalue
    assert evalue.endswith(description(source, hint)), evalue
    page = page_text((course / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")).read_text())
    assert description(source, hint) in page, (student, cell)


def test_a_batch_of_one_normalized_instead_of_refused_is_named(graded):
    course, _ = graded
    failed = failures(course, ASSIGNMENT, "no_refusal", NOTEBOOK)
    assert failed["test_batchnorm_forward"] == ("AssertionError", "batchnorm_forward " + REFUSALS["no_refusal"][1]
                                                + ': `raise ValueError("...")` before computing anything.')
    assert failed["test_batchnorm_forward_hidden"][1].startswith("batchnorm_forward returned for x of shape (1, 4)")


def test_the_package_reference_in_place_of_an_answer_earns_nothing(graded):
    course, _ = graded
    failed = failures(course, ASSIGNMENT, "reference", NOTEBOOK)
    for name, module in (("dropout_forward", "nnbook.regularization."), ("batchnorm_backward", "nnbook.normalization.")):
        for grade_id in CELLS_OF[name]:
            ename, evalue = failed[grade_id]
            assert ename == "AssertionError", grade_id
            assert evalue.startswith(f"{name} calls {module}") and "the package's own implementation" in evalue, evalue


def test_an_argument_changed_in_place_is_named(graded):
    course, _ = graded
    failed = failures(course, ASSIGNMENT, "in_place", NOTEBOOK)
    for grade_id in CELLS_OF["dropout_backward"]:
        assert failed[grade_id][1].startswith("dropout_backward changed its argument dout in place"), failed[grade_id]


def test_no_hidden_message_gives_a_number_of_the_reference(graded):
    course, _ = graded
    for student in STUDENTS:
        for grade_id, (ename, evalue) in failures(course, ASSIGNMENT, student, NOTEBOOK).items():
            if grade_id.endswith("_hidden") and ename == "AssertionError":
                assert not re.search(r"(got|expected|relative error) -?\d", evalue), (student, grade_id, evalue)


def test_feedback_is_generated_for_every_student_without_hidden_code(graded, source):
    course, scores = graded
    hidden = secret_lines(source, regions=("HIDDEN TESTS",))
    for student, cells in scores.items():
        html = course / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")
        text = html.read_text()
        assert f"batchnorm_dropout (Score: {sum(cells.values()):.1f} / 14.0)" in text, student
        leaked = sorted(line for line in hidden if line in text)
        assert not leaked, (student, leaked[:3])


def test_no_line_of_a_hidden_test_is_in_the_student_version(source):
    """The leak tests look for each line of the hidden tests in the pages: none may be part of what students see."""
    hidden = secret_lines(source, regions=("HIDDEN TESTS",))
    assert len(hidden) > 50
    release = nbformat.read(ROOT / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4)
    shown = "\n".join(cell.source for cell in release.cells)
    assert sorted(line for line in hidden if line in shown) == []


def test_export_writes_the_scores_of_every_student(graded):
    course, _ = graded
    with open(course / "grades.csv", newline="") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file)}
    assert {student: float(row["score"]) for student, row in rows.items()} == TOTALS
    assert {row["assignment"] for row in rows.values()} == {ASSIGNMENT}
    assert {float(row["max_score"]) for row in rows.values()} == {14.0}  # 12 automatic, 2 by hand
