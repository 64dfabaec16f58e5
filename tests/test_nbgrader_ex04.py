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


pytestmark = pytest.mark.nbgrader

ASSIGNMENT = "ex04"
NOTEBOOK = "optimizers.ipynb"
FUNCTIONS = ("momentum_step", "rmsprop_step", "adam_step", "warmup_cosine_lr", "decoupled_weight_decay")
QUANTITIES = {  # the test cells of each function, each a visible test followed by its hidden test
    "momentum_step": ["momentum_step"],
    "rmsprop_step": ["rmsprop_step"],
    "adam_step": ["adam_step", "adam_bias_correction"],
    "warmup_cosine_lr": ["warmup_cosine_lr"],
    "decoupled_weight_decay": ["decoupled_weight_decay"],
}
CELLS_OF = {name: [f"test_{q}{suffix}" for q in quantities for suffix in ("", "_hidden")]
            for name, quantities in QUANTITIES.items()}
GRADE_CELLS = [cell for name in FUNCTIONS for cell in CELLS_OF[name]]
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


def lost_cells(*functions, keep=()):
    return {cell for function in functions for cell in CELLS_OF[function]} - set(keep)


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
    assert TOTALS == {"solution": 12.0, "untouched": 0.0, "torch_momentum": 10.0, "no_correction": 8.0,
                      "t_from_zero": 8.0, "eps_inside": 8.0, "partial": 6.0, "stateless": 6.0, "reference": 8.0,
                      "in_place": 10.0}


def test_every_stub_names_its_task():
    release = cells_by_id(nbformat.read(ROOT / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4))
    for name in FUNCTIONS:
        (function,) = ast.parse(release[name].source).body
        docstring, stub = function.body
        assert function.name == name and isinstance(docstring.value, ast.Constant), name
        assert ast.unparse(stub) == f"raise NotImplementedError('{ASSIGNMENT}: {name}')", name


def test_every_test_cell_calls_the_graded_function_through_grading_call(source):
    """As in ex03: only `grading.call("<name>", <name>, ...)`, never a direct call; a hidden test inside `grading.hidden`."""
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
        if grade_id.endswith("_hidden") and grade_id != "test_warmup_cosine_lr_hidden":
            assert "(200, 300)" in cells_by_id(source)[grade_id].source, grade_id
    assert "(1000, 99000, True)" in cells_by_id(source)["test_warmup_cosine_lr_hidden"].source  # 100000 steps


# ---- every known mistake is named, in this process -----------------------------------------------------------------


@pytest.fixture(scope="module")
def descriptions(source):
    """Every description of a known mistake in the visible tests (the keys of their `mistakes` dicts)."""
    found = set()
    for grade_id in GRADE_CELLS:
        for node in ast.walk(ast.parse(cells_by_id(source)[grade_id].source)):
            if isinstance(node, ast.Dict):
                found.update(key.value for key in node.keys if isinstance(key, ast.Constant) and isinstance(key.value, str))
    return found


def run_cells(source, answer, cells):
    """Run the setup cell, ``answer`` (a student's code) and the test ``cells`` here; ``{cell: its error or None}``."""
    namespace = {"__name__": "ex04_student"}
    exec(compile(cells_by_id(source)["setup"].source, "<setup>", "exec"), namespace)  # noqa: S102 (our notebook)
    exec(compile(answer, "<student>", "exec"), namespace)  # noqa: S102 (the test's own made-up answers)
    outcome = {}
    for grade_id in cells:
        try:
            with contextlib.redirect_stdout(None), np.errstate(all="ignore"):  # 0 / 0 and sqrt(-1) of the mistakes
                exec(compile(cells_by_id(source)[grade_id].source, grade_id, "exec"), namespace)  # noqa: S102
            outcome[grade_id] = None
        except AssertionError as error:
            outcome[grade_id] = str(error)
    return outcome


def test_the_right_answers_pass_every_test_here(source):
    answers = "\n".join(written_answer(cells_by_id(source)[name].source) for name in FUNCTIONS)
    assert run_cells(source, answers, GRADE_CELLS) == dict.fromkeys(GRADE_CELLS)


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_known_mistake_loses_its_cells_and_is_named(source, descriptions, mistake):
    function, answer, start, named = MISTAKES[mistake]
    (description,) = [text for text in descriptions if text.startswith(start)]
    outcome = run_cells(source, answer, CELLS_OF[function])
    kept = KEPT.get(mistake, set())
    assert {cell for cell, error in outcome.items() if error} == set(CELLS_OF[function]) - kept, outcome
    for cell in named or CELLS_OF[function]:
        assert outcome[cell].endswith(f"Likely mistake: {description}"), (cell, outcome[cell])
        if cell.endswith("_hidden"):  # only what is wrong and where: no number of the reference
            assert "wrong values, the largest difference at index" in outcome[cell] or "NaN or inf" in outcome[cell]
            assert not re.search(r"(got|expected|relative error) -?\d", outcome[cell]), outcome[cell]


def test_each_description_of_the_visible_tests_has_its_mistake(descriptions):
    starts = [start for _, _, start, _ in MISTAKES.values()]
    assert sorted(text for text in descriptions if not any(text.startswith(start) for start in starts)) == []


# ---- autograde ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graded(tmp_path_factory, source):
    """A copy of the course with ex04 generated, the students of the module docstring autograded, feedback, export."""
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
    assert failed["test_adam_bias_correction_hidden"][1] == "ex04: adam_step"


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
])
def test_the_feedback_names_the_mistake(graded, source, student, cell, message, hint):
    course, _ = graded
    ename, evalue = failures(course, ASSIGNMENT, student, NOTEBOOK)[cell]
    assert ename == "AssertionError"
    assert re.match(message, evalue), evalue
    assert evalue.endswith(f"Likely mistake: {description(source, hint)}"), evalue
    page = page_text((course / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")).read_text())
    assert description(source, hint) in page, (student, cell)


def test_the_package_reference_in_place_of_an_answer_earns_nothing(graded):
    course, _ = graded
    failed = failures(course, ASSIGNMENT, "reference", NOTEBOOK)
    for name in ("momentum_step", "warmup_cosine_lr"):
        for grade_id in CELLS_OF[name]:
            ename, evalue = failed[grade_id]
            assert ename == "AssertionError", grade_id
            assert evalue.startswith(f"{name} calls nnbook.optim.") and "the package's own implementation" in evalue, evalue


def test_an_argument_changed_in_place_is_named(graded):
    course, _ = graded
    failed = failures(course, ASSIGNMENT, "in_place", NOTEBOOK)
    for grade_id in CELLS_OF["rmsprop_step"]:
        assert failed[grade_id][1].startswith("rmsprop_step changed its argument s in place"), failed[grade_id]


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
        assert f"optimizers (Score: {sum(cells.values()):.1f} / 14.0)" in text, student
        leaked = sorted(line for line in hidden if line in text)
        assert not leaked, (student, leaked[:3])


def test_export_writes_the_scores_of_every_student(graded):
    course, _ = graded
    with open(course / "grades.csv", newline="") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file)}
    assert {student: float(row["score"]) for student, row in rows.items()} == TOTALS
    assert {row["assignment"] for row in rows.values()} == {ASSIGNMENT}
    assert {float(row["max_score"]) for row in rows.values()} == {14.0}  # 12 automatic, 2 by hand
