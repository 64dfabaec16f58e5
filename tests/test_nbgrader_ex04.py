"""ex04, optimizer updates, survives nbgrader's round trip, and its tests name the usual mistakes.

The notebook has 12 test cells of one point each, a visible and a hidden test
per graded quantity: ``momentum_step`` (2), ``rmsprop_step`` (2), ``adam_step``
(its update, 2, and its bias correction, run with ``eps = 0``, 2),
``warmup_cosine_lr`` (2) and ``decoupled_weight_decay`` (2).

Fast, without nbgrader: every known mistake of :data:`MISTAKES` (a whole
function written with that mistake) is run through the test cells of its
function, visible and hidden, in this process. It must lose exactly the cells
listed and the message must name it ("Likely mistake: ..."), the hidden one with
no number of the reference. (The hidden tests' reference,
``nnbook.autograder.references.optimizer_steps`` and ``warmup_cosine_lr``, is
checked against ``nnbook.optim`` in ``tests/test_references.py``.)

Then one ``autograde`` run, on a copy of the course, grades these made-up students:

====================  ===============================================================  =======
student               submission                                                       score
====================  ===============================================================  =======
``solution``          the source notebook itself                                       12 / 12
``untouched``         the student version as released                                   0 / 12
``torch_momentum``    momentum with PyTorch's ``v = beta v + dw``                      10 / 12
``no_correction``     Adam without its bias correction                                  8 / 12
``t_from_zero``       Adam's bias correction with ``t - 1``: a division by 0 at t = 1    8 / 12
``eps_inside``        RMSProp and Adam with ``sqrt(s + eps)``: the bias-correction      8 / 12
                      cells (``eps = 0``) keep their points
``partial``           RMSProp stepping uphill, the warm-up without its ``+ 1``, the     6 / 12
                      weight decay subtracted
``stateless``         momentum returning the ``v`` it was given, Adam restarting its    6 / 12
                      running means from 0 at every step
``reference``         ``momentum_step`` imported from ``nnbook.optim``,                 8 / 12
                      ``warmup_cosine_lr`` built on its schedules
``in_place``          RMSProp updating ``s`` in place                                  10 / 12
====================  ===============================================================  =======

The checks every graded exercise passes are in ``tests/graded_exercise.py``;
``tests/test_autograde_exercises.py`` grades the same students with ``nnbook-autograde``.
"""

import pytest
from graded_exercise import Exercise, GradedExerciseChecks
from nbgrader_course import cells_by_id

pytestmark = pytest.mark.nbgrader

EXERCISE = Exercise("ex04", "optimizers.ipynb", {  # the quantities each function's test cells check
    "momentum_step": ["momentum_step"],
    "rmsprop_step": ["rmsprop_step"],
    "adam_step": ["adam_step", "adam_bias_correction"],
    "warmup_cosine_lr": ["warmup_cosine_lr"],
    "decoupled_weight_decay": ["decoupled_weight_decay"],
})
ASSIGNMENT, NOTEBOOK, FUNCTIONS = EXERCISE.assignment, EXERCISE.notebook, EXERCISE.functions
lost_cells = EXERCISE.lost_cells
ADAM_UPDATE = ("test_adam_step", "test_adam_step_hidden")

# ---- the usual mistakes, each a whole function -------------------------------------------------------------------


def momentum(v_new="beta * v + (1 - beta) * dw", result="w - lr * v_new, v_new"):
    return f'''
def momentum_step(w, dw, v, lr, beta=0.9):
    v_new = {v_new}
    return {result}
'''


def rmsprop(s_new="rho * s + (1 - rho) * dw**2", result="w - lr * dw / (np.sqrt(s_new) + eps), s_new"):
    return f'''
def rmsprop_step(w, dw, s, lr, rho=0.9, eps=1e-8):
    s_new = {s_new}
    return {result}
'''


def adam(m_new="beta1 * m + (1 - beta1) * dw", v_new="beta2 * v + (1 - beta2) * dw**2", m_hat="m_new / (1 - beta1**t)",
         v_hat="v_new / (1 - beta2**t)", result="w - lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_new"):
    return f'''
def adam_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m_new = {m_new}
    v_new = {v_new}
    m_hat = {m_hat}
    v_hat = {v_hat}
    return {result}
'''


def schedule(warm="lr_max * (t + 1) / warmup_steps", progress="min(t - warmup_steps, decay_steps) / decay_steps",
             result="lr_min + (lr_max - lr_min) * (1 + np.cos(np.pi * progress)) / 2"):
    return f'''
def warmup_cosine_lr(t, lr_max, warmup_steps, total_steps, lr_min=0.0):
    if t < warmup_steps:
        return {warm}
    decay_steps = total_steps - warmup_steps
    progress = {progress}
    return {result}
'''


def decay(result):
    return f'''
def decoupled_weight_decay(w, lr, weight_decay):
    return {result}
'''


#: key: (function, its source with the mistake, the start of the description the tests give, the cells whose message
#: must name it). Every cell of the function is lost but those of ``KEPT``.
MISTAKES = {
    "momentum_torch": ("momentum_step", momentum(v_new="beta * v + dw"), "v was updated as beta v + dw", None),
    "momentum_sign": ("momentum_step", momentum(result="w + lr * v_new, v_new"), "w moved along v instead", None),
    "momentum_ignored": ("momentum_step", momentum(v_new="(1 - beta) * dw"), "v_new ignores the v it was given", None),
    "momentum_given": ("momentum_step", momentum(result="w - lr * v_new, v"),
                       "v_new is the v it was given, unchanged: return the new running mean, which", None),
    "momentum_old": ("momentum_step", momentum(result="w - lr * v, v_new"), "w moved with the old v", None),
    "rmsprop_eps": ("rmsprop_step", rmsprop(result="w - lr * dw / np.sqrt(s_new + eps), s_new"),
                    "eps is inside the square root: it is added to the root, dw", None),
    "rmsprop_sign": ("rmsprop_step", rmsprop(result="w + lr * dw / (np.sqrt(s_new) + eps), s_new"),
                     "w moved along the gradient instead", None),
    "rmsprop_no_sqrt": ("rmsprop_step", rmsprop(result="w - lr * dw / (s_new + eps), s_new"),
                        "the square root is missing", None),
    "rmsprop_ignored": ("rmsprop_step", rmsprop(s_new="(1 - rho) * dw**2"), "s_new ignores the s it was given", None),
    "rmsprop_given": ("rmsprop_step", rmsprop(result="w - lr * dw / (np.sqrt(s_new) + eps), s"),
                      "s_new is the s it was given", None),
    "rmsprop_old": ("rmsprop_step", rmsprop(result="w - lr * dw / (np.sqrt(s) + eps), s_new"),
                    "w was divided by the old s", None),
    "rmsprop_not_squared": ("rmsprop_step", rmsprop(s_new="rho * s + (1 - rho) * dw"), "s_new averages dw", None),
    "adam_no_correction": ("adam_step", adam(m_hat="m_new", v_hat="v_new"), "the bias correction is missing", None),
    "adam_t_minus_1": ("adam_step", adam(m_hat="m_new / (1 - beta1**(t - 1))", v_hat="v_new / (1 - beta2**(t - 1))"),
                       "the bias correction uses t - 1", None),
    "adam_t_plus_1": ("adam_step", adam(m_hat="m_new / (1 - beta1**(t + 1))", v_hat="v_new / (1 - beta2**(t + 1))"),
                      "the bias correction uses t + 1", None),
    "adam_eps": ("adam_step", adam(result="w - lr * m_hat / np.sqrt(v_hat + eps), m_new, v_new"),
                 "eps is inside the square root: it is added to the root, m_hat", ADAM_UPDATE),
    "adam_efficient": ("adam_step", adam(
        result="w - lr * np.sqrt(1 - beta2**t) / (1 - beta1**t) * m_new / (np.sqrt(v_new) + eps), m_new, v_new"),
        "the bias corrections were folded into the learning rate", ADAM_UPDATE),
    "adam_sign": ("adam_step", adam(result="w + lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_new"),
                  "w moved along m_hat instead", ADAM_UPDATE),
    "adam_ignored": ("adam_step", adam(m_new="(1 - beta1) * dw", v_new="(1 - beta2) * dw**2"),
                     "the running means ignore the m and v", ADAM_UPDATE),
    "adam_old": ("adam_step", adam(m_hat="m / (1 - beta1**t)", v_hat="v / (1 - beta2**t)"),
                 "w moved with the old m and v", ADAM_UPDATE),
    "adam_given_m": ("adam_step", adam(result="w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v_new"),
                     "m_new is the m it was given", ADAM_UPDATE),
    "adam_given_v": ("adam_step", adam(result="w - lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v"),
                     "v_new is the v it was given, unchanged: return the new running mean of", ADAM_UPDATE),
    "adam_hat_m": ("adam_step", adam(result="w - lr * m_hat / (np.sqrt(v_hat) + eps), m_hat, v_new"),
                   "m_new is the bias-corrected m_hat", ADAM_UPDATE),
    "adam_hat_v": ("adam_step", adam(result="w - lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_hat"),
                   "v_new is the bias-corrected v_hat", ADAM_UPDATE),
    "adam_not_squared": ("adam_step", adam(v_new="beta2 * v + (1 - beta2) * dw"), "v_new averages dw", ADAM_UPDATE),
    "schedule_no_plus_1": ("warmup_cosine_lr", schedule(warm="lr_max * t / warmup_steps"), "the warm-up starts at 0",
                           None),
    "schedule_unshifted": ("warmup_cosine_lr", schedule(progress="min(t, decay_steps) / decay_steps"),
                           "the cosine starts at t = 0", None),
    "schedule_over_total": ("warmup_cosine_lr", schedule(progress="min(t - warmup_steps, total_steps) / total_steps"),
                            "the cosine runs over total_steps steps", None),
    "schedule_no_clamp": ("warmup_cosine_lr", schedule(progress="(t - warmup_steps) / decay_steps"),
                          "the rate goes up again after total_steps", None),
    "schedule_no_min": ("warmup_cosine_lr", schedule(result="lr_max * (1 + np.cos(np.pi * progress)) / 2"),
                        "lr_min is missing", None),
    "decay_subtract": ("decoupled_weight_decay", decay("w - lr * weight_decay"), "lr weight_decay was subtracted", None),
    "decay_no_lr": ("decoupled_weight_decay", decay("w * (1 - weight_decay)"), "the learning rate is missing", None),
    "decay_amount": ("decoupled_weight_decay", decay("lr * weight_decay * w"), "this is the decay itself", None),
    "decay_sign": ("decoupled_weight_decay", decay("w * (1 + lr * weight_decay)"), "the weights grew", None),
}
MOMENTUM_GIVEN = MISTAKES["momentum_given"][2]
#: the cells a mistake does not reach: with eps = 0, where eps goes does not matter
KEPT = {"adam_eps": {"test_adam_bias_correction", "test_adam_bias_correction_hidden"},
        "adam_efficient": {"test_adam_bias_correction", "test_adam_bias_correction_hidden"}}

REFERENCE_MOMENTUM = '''
from nnbook.optim import momentum_step  # the package's answer, not the student's
'''
REFERENCE_SCHEDULE = '''
from nnbook import optim

def warmup_cosine_lr(t, lr_max, warmup_steps, total_steps, lr_min=0.0):
    return optim.Warmup(optim.CosineDecay(lr_max, total_steps - warmup_steps, lr_min), warmup_steps)(t)
'''
IN_PLACE_RMSPROP = '''
def rmsprop_step(w, dw, s, lr, rho=0.9, eps=1e-8):
    s *= rho  # changes the caller's array
    s += (1 - rho) * dw**2
    return w - lr * dw / (np.sqrt(s) + eps), s
'''


#: student: ({function: source} in place of the right answer, the cells lost); every other answer is right
STUDENTS = {
    "torch_momentum": ({"momentum_step": MISTAKES["momentum_torch"][1]}, lost_cells("momentum_step")),
    "no_correction": ({"adam_step": MISTAKES["adam_no_correction"][1]}, lost_cells("adam_step")),
    "t_from_zero": ({"adam_step": MISTAKES["adam_t_minus_1"][1]}, lost_cells("adam_step")),
    "eps_inside": ({"rmsprop_step": MISTAKES["rmsprop_eps"][1], "adam_step": MISTAKES["adam_eps"][1]},
                   lost_cells("rmsprop_step", "adam_step", keep=KEPT["adam_eps"])),
    "partial": ({"rmsprop_step": MISTAKES["rmsprop_sign"][1], "warmup_cosine_lr": MISTAKES["schedule_no_plus_1"][1],
                 "decoupled_weight_decay": MISTAKES["decay_subtract"][1]},
                lost_cells("rmsprop_step", "warmup_cosine_lr", "decoupled_weight_decay")),
    "stateless": ({"momentum_step": MISTAKES["momentum_given"][1], "adam_step": MISTAKES["adam_ignored"][1]},
                  lost_cells("momentum_step", "adam_step")),
    "reference": ({"momentum_step": REFERENCE_MOMENTUM, "warmup_cosine_lr": REFERENCE_SCHEDULE},
                  lost_cells("momentum_step", "warmup_cosine_lr")),
    "in_place": ({"rmsprop_step": IN_PLACE_RMSPROP}, lost_cells("rmsprop_step")),
}
#: what each student must get in total, out of 12
TOTALS = EXERCISE.totals(STUDENTS)


#: (student, cell, the start of the message, the start of the mistake's description) that the feedback must show
FEEDBACK = [
    ("torch_momentum", "test_momentum_step", r"v_new: relative error 0\.9 exceeds 1e-10; largest difference at index "
     r"\(2,\): got -4, expected -0\.4\. ", "v was updated as beta v + dw"),
    ("torch_momentum", "test_momentum_step_hidden", r"v_new at step 1 of 4, for w of shape \(3,\) and beta = 0\.9: wrong "
     r"values, the largest difference at index \(\d,\)\.", "v was updated as beta v + dw"),
    ("no_correction", "test_adam_step", r"w_new: relative error", "the bias correction is missing"),
    ("no_correction", "test_adam_bias_correction_hidden", r"w_new at step t = 1 with eps = 0, for w of shape \(5, 2\), "
     r"beta1 = 0\.9 and beta2 = 0\.999: wrong values", "the bias correction is missing"),
    ("t_from_zero", "test_adam_step", r"w_new: relative error", "the bias correction uses t - 1"),
    ("t_from_zero", "test_adam_bias_correction", r"w_new at the first step, t = 1, with eps = 0: w - lr sign\(dw\): "
     r"contains 4 NaN or inf value\(s\), the first at index \(0,\) \(got nan, expected 0\.99\)\.",
     "the bias correction uses t - 1"),
    ("t_from_zero", "test_adam_step_hidden", r"w_new at step t = 1, for w of shape \(4, 6\), beta1 = 0\.9, beta2 = 0\.999 "
     r"and eps = 1e-08: contains 24 NaN or inf value\(s\), the first at index \(0, 0\)\. An exp",
     "the bias correction uses t - 1"),
    ("eps_inside", "test_rmsprop_step", r"w_new: relative error", "eps is inside the square root: it is added to the root, dw"),
    ("eps_inside", "test_rmsprop_step_hidden", r"w_new at step 1 of 4, for w of shape \(5, 3\), rho = 0\.9 and eps = "
     r"1e-08: wrong values", "eps is inside the square root: it is added to the root, dw"),
    ("eps_inside", "test_adam_step_hidden", r"w_new at step t = 1, for w of shape \(4, 6\)",
     "eps is inside the square root: it is added to the root, m_hat"),
    ("partial", "test_rmsprop_step", r"w_new: relative error", "w moved along the gradient instead"),
    ("partial", "test_warmup_cosine_lr", r"the rates of the steps t = 0, \.\.\., 14 \(index t\): relative error \S+ "
     r"exceeds 1e-10; largest difference at index \(\d,\)", "the warm-up starts at 0"),
    ("partial", "test_warmup_cosine_lr_hidden", r"warmup_cosine_lr at t = 0, for warmup_steps = 1 and total_steps = 2: "
     r"wrong values", "the warm-up starts at 0"),
    ("partial", "test_decoupled_weight_decay_hidden", r"w_new for w of shape \(3,\) and weight_decay = 0\.01: wrong values",
     "lr weight_decay was subtracted"),
    ("stateless", "test_momentum_step", r"v_new: relative error", MOMENTUM_GIVEN),
    ("stateless", "test_momentum_step_hidden", r"v_new at step 1 of 4", MOMENTUM_GIVEN),
    ("stateless", "test_adam_step_hidden", r"m_new at step t = 2, for w of shape \(4, 6\)",
     "the running means ignore the m and v"),
]


class TestOptimizers(GradedExerciseChecks):
    exercise, mistakes, kept, students, feedback = EXERCISE, MISTAKES, KEPT, STUDENTS, FEEDBACK
    untouched_failure = ("test_adam_bias_correction_hidden", "adam_step")
    borrowed = {"momentum_step": "nnbook.optim", "warmup_cosine_lr": "nnbook.optim"}
    in_place = ("rmsprop_step", "s")

    def test_the_totals(self):
        assert TOTALS == {"solution": 12.0, "untouched": 0.0, "torch_momentum": 10.0, "no_correction": 8.0,
                          "t_from_zero": 8.0, "eps_inside": 8.0, "partial": 6.0, "stateless": 6.0, "reference": 8.0,
                          "in_place": 10.0}

    def test_every_hidden_test_has_a_large_case(self, source):
        cells = cells_by_id(source)
        for grade_id in EXERCISE.grade_cells:
            if grade_id.endswith("_hidden") and grade_id != "test_warmup_cosine_lr_hidden":
                assert "(200, 300)" in cells[grade_id].source, grade_id
        assert "(1000, 99000, True)" in cells["test_warmup_cosine_lr_hidden"].source  # 100000 steps
