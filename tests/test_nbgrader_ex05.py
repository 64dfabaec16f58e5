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

The checks every graded exercise passes are in ``tests/graded_exercise.py``;
``tests/test_autograde_exercises.py`` grades the same students with ``nnbook-autograde``.
"""

import numpy as np
import pytest
from graded_exercise import Exercise, GradedExerciseChecks
from nbgrader_course import cells_by_id
from optional import import_torch

from nnbook import normalization
from nnbook.autograder import references

pytestmark = pytest.mark.nbgrader

EXERCISE = Exercise("ex05", "batchnorm_dropout.ipynb", {  # the quantities each function's test cells check
    "dropout_forward": ["dropout_forward"],
    "dropout_backward": ["dropout_backward"],
    "batchnorm_forward": ["batchnorm_forward", "batchnorm_running_statistics"],
    "batchnorm_backward": ["batchnorm_backward"],
    "batchnorm_backward_simplified": ["batchnorm_backward_simplified"],
})
ASSIGNMENT, NOTEBOOK, FUNCTIONS = EXERCISE.assignment, EXERCISE.notebook, EXERCISE.functions
lost_cells = EXERCISE.lost_cells
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
TOTALS = EXERCISE.totals(STUDENTS)


#: (student, cell, the start of the message, the start of the mistake's description) that the feedback must show
FEEDBACK = [
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
]


class TestBatchnormDropout(GradedExerciseChecks):
    exercise, mistakes, kept, students, feedback = EXERCISE, MISTAKES, KEPT, STUDENTS, FEEDBACK
    untouched_failure = ("test_batchnorm_running_statistics_hidden", "batchnorm_forward")
    borrowed = {"dropout_forward": "nnbook.regularization", "batchnorm_backward": "nnbook.normalization"}
    in_place = ("dropout_backward", "dout")
    min_hidden_lines = 51

    def test_the_totals(self):
        assert TOTALS == {"solution": 12.0, "untouched": 0.0, "swapped": 10.0, "inference_scaled": 8.0,
                          "eps_outside": 10.0, "no_refusal": 10.0, "momentum_reversed": 10.0, "missing_paths": 8.0,
                          "not_summed": 8.0, "reference": 8.0, "in_place": 10.0}

    def test_every_hidden_test_has_a_large_case(self, source):
        for grade_id in EXERCISE.grade_cells:
            if grade_id.endswith("_hidden"):
                assert "(200, 300)" in cells_by_id(source)[grade_id].source, grade_id

    def test_the_backward_tests_start_from_the_references_cache_never_from_the_students_forward(self, source):
        cells = cells_by_id(source)
        for function in ("dropout_backward", "batchnorm_backward", "batchnorm_backward_simplified"):
            for grade_id in EXERCISE.cells_of[function]:
                text = cells[grade_id].source
                forward = function.split("_backward")[0] + "_forward"
                assert f"grading.call(\"{forward}\"" not in text, grade_id
                assert ("CACHE_SMALL" in text or "reference_cache" in text or "cache = {\"mask\"" in text), grade_id

    def test_the_batch_of_one_is_checked_in_both_normalization_cells(self, source):
        for grade_id in NORMALIZATION:
            text = cells_by_id(source)[grade_id].source
            assert 'grading.raises("batchnorm_forward", ValueError,' in text and 'mentioning="more than one"' in text

    def test_the_references_running_averages_are_torchs(self):
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

    def test_the_answers_of_the_mistakes_are_right_without_the_mistake(self, source):
        """The templates of :data:`MISTAKES`, with nothing changed, pass every test: each mistake is only its change."""
        answers = "\n".join([dropout_forward(), dropout_backward("dout * mask"), batchnorm_forward(),
                             backward("batchnorm_backward"), backward("batchnorm_backward_simplified")])
        assert EXERCISE.run_cells(source, answers, EXERCISE.grade_cells) == dict.fromkeys(EXERCISE.grade_cells)

    @pytest.mark.parametrize("refusal", sorted(REFUSALS))
    def test_a_batch_of_one_must_be_refused_with_a_value_error_that_says_why(self, source, refusal):
        statement, message = REFUSALS[refusal]
        outcome = EXERCISE.run_cells(source, batchnorm_forward(refuse=statement), EXERCISE.cells_of["batchnorm_forward"])
        assert {cell for cell, error in outcome.items() if error} == set(NORMALIZATION), outcome
        assert outcome["test_batchnorm_forward"].startswith(f"batchnorm_forward {message}"), outcome
        hidden = outcome["test_batchnorm_forward_hidden"]
        assert hidden.startswith("batchnorm_forward ") and "for x of shape (1, 4), a single example" in hidden, hidden

    def test_a_batch_of_one_normalized_instead_of_refused_is_named(self, graded):
        course, _ = graded
        failed = self.failures(course, "no_refusal")
        assert failed["test_batchnorm_forward"] == ("AssertionError", "batchnorm_forward " + REFUSALS["no_refusal"][1]
                                                    + ': `raise ValueError("...")` before computing anything.')
        assert failed["test_batchnorm_forward_hidden"][1].startswith("batchnorm_forward returned for x of shape (1, 4)")
