"""ex06, convolution and pooling, survives nbgrader's round trip, and its tests name the usual mistakes.

The notebook has 16 test cells of one point each, a visible and a hidden test
per graded quantity: ``conv_forward_naive`` (2), ``conv_backward_naive`` (its
``dx``, 2, and its ``dW`` and ``db``, 2), ``maxpool_forward`` (2),
``maxpool_backward`` (2), ``avgpool_backward`` (2), ``im2col`` (2) and
``conv_forward_im2col`` (2). The backward tests give the function the
reference's cache, never the student's forward pass, and
``conv_forward_im2col`` gets the reference's columns, never the student's
``im2col``: each function is graded alone.

Fast, without nbgrader: every known mistake of :data:`MISTAKES` (a whole
function written with that mistake) is run through the test cells of its
function, visible and hidden, in this process. It must lose exactly the cells
listed and the message must name it ("Likely mistake: ..." or, after a wrong
shape, the description itself), the hidden one with no number of the reference.
A loop implementation of every function, the slowest a student would write
(six nested loops for the convolution), passes every test here too.

Then one ``autograde`` run, on a copy of the course, grades these made-up students:

====================  ===============================================================  =======
student               submission                                                       score
====================  ===============================================================  =======
``solution``          the source notebook itself                                       16 / 16
``untouched``         the student version as released                                   0 / 16
``loops``             six nested loops for the convolution, forward and backward       16 / 16
``flipped``           a forward convolution that flips the kernel                      14 / 16
``unflipped_dx``      ``dx`` with the filters rotated by 180 degrees                   14 / 16
``padded_dx``         ``dx`` with the padding left on                                  14 / 16
``stride_forgotten``  the backward pass reading the windows at ``(i, j)``              12 / 16
``not_summed``        ``dW`` with one gradient per example                             14 / 16
``short_output``      the output one row and one column short (``// s`` without + 1)   14 / 16
``max_everywhere``    max pooling's gradient sent to every pixel of the window         14 / 16
``not_divided``       average pooling's gradient not divided by ``k**2``               14 / 16
``channels_first``    ``im2col`` with the values of a row ordered ``(c, u, v)``        14 / 16
``reshape_only``      ``conv_forward_im2col`` reshaping without the transpose          14 / 16
``reference``         ``conv_backward_naive`` and ``maxpool_forward`` from the         10 / 16
                      package
``in_place``          ``avgpool_backward`` dividing ``dout`` in place                  14 / 16
====================  ===============================================================  =======

The checks every graded exercise passes are in ``tests/graded_exercise.py``;
``tests/test_autograde_exercises.py`` grades the same students with
``nnbook-autograde``; ``tests/adversarial/ex06.py`` adds a student whose
``conv_forward_naive`` never returns in time.
"""

import numpy as np
import pytest
from graded_exercise import Exercise, GradedExerciseChecks
from nbgrader_course import ROOT, cells_by_id, written_answer

from nnbook import conv, gradcheck

pytestmark = pytest.mark.nbgrader

EXERCISE = Exercise("ex06", "conv_pool.ipynb", {  # the quantities each function's test cells check
    "conv_forward_naive": ["conv_forward_naive"],
    "conv_backward_naive": ["conv_backward_dx", "conv_backward_dW_db"],
    "maxpool_forward": ["maxpool_forward"],
    "maxpool_backward": ["maxpool_backward"],
    "avgpool_backward": ["avgpool_backward"],
    "im2col": ["im2col"],
    "conv_forward_im2col": ["conv_forward_im2col"],
})
ASSIGNMENT, NOTEBOOK, FUNCTIONS = EXERCISE.assignment, EXERCISE.notebook, EXERCISE.functions
lost_cells = EXERCISE.lost_cells
DX = ("test_conv_backward_dx", "test_conv_backward_dx_hidden")
PARAMS = ("test_conv_backward_dW_db", "test_conv_backward_dW_db_hidden")

# ---- the usual mistakes, each a whole function -------------------------------------------------------------------

RIGHT_SIZE = "(H + 2 * padding - k_h) // stride + 1", "(W_in + 2 * padding - k_w) // stride + 1"


def conv_forward(kernel="W[f]", bias=" + b[f]", pad="padding", size=RIGHT_SIZE, start="stride * i, stride * j"):
    return f'''
def conv_forward_naive(x, W, b, stride=1, padding=0):
    m, _, H, W_in = x.shape
    F, _, k_h, k_w = W.shape
    H_out = {size[0]}
    W_out = {size[1]}
    x_p = np.pad(x, ((0, 0), (0, 0), ({pad}, {pad}), ({pad}, {pad})))
    out = np.zeros((m, F, H_out, W_out))
    for n in range(m):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = {start}
                    window = x_p[n, :, top:top + k_h, left:left + k_w]
                    out[n, f, i, j] = np.sum(window * {kernel}){bias}
    return out, (x, W, b, stride, padding)
'''


def conv_backward(kernel="W[f]", step="stride", dx="dx_p[:, :, padding:padding + H, padding:padding + W_in]",
                  dW="dW_each.sum(axis=0)", db="dout.sum(axis=(0, 2, 3))"):
    return f'''
def conv_backward_naive(dout, cache):
    x, W, b, stride, padding = cache
    _, _, H, W_in = x.shape
    m, F, H_out, W_out = dout.shape
    k_h, k_w = W.shape[2:]
    x_p = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dx_p, dW_each = np.zeros_like(x_p), np.zeros((m, *W.shape))
    for n in range(m):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = {step} * i, {step} * j
                    dW_each[n, f] += dout[n, f, i, j] * x_p[n, :, top:top + k_h, left:left + k_w]
                    dx_p[n, :, top:top + k_h, left:left + k_w] += dout[n, f, i, j] * {kernel}
    return {dx}, {dW}, {db}
'''


def maxpool_forward(reduce="max", default="k", size=("(H - k) // s + 1", "(W - k) // s + 1")):
    return f'''
def maxpool_forward(x, k, stride=None):
    s = {default} if stride is None else stride
    m, C, H, W = x.shape
    H_out, W_out = {size[0]}, {size[1]}
    out = np.zeros((m, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = x[:, :, s * i:s * i + k, s * j:s * j + k].{reduce}(axis=(2, 3))
    return out, {{"x": x, "out": out, "kernel": k, "stride": s}}
'''


ROUTE = ("u, v = np.unravel_index(np.argmax(window), window.shape)\n"
         "                    dx[n, c, s * i + u, s * j + v] += dout[n, c, i, j]")


def maxpool_backward(route=ROUTE):
    return f'''
def maxpool_backward(dout, cache):
    x, k, s = cache["x"], cache["kernel"], cache["stride"]
    m, C, H_out, W_out = dout.shape
    dx = np.zeros(x.shape)
    for n in range(m):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, s * i:s * i + k, s * j:s * j + k]
                    {route}
    return dx
'''


def avgpool_backward(share="dout[:, :, i, j, None, None] / k**2"):
    return f'''
def avgpool_backward(dout, cache):
    k, s = cache["kernel"], cache["stride"]
    _, _, H_out, W_out = dout.shape
    dx = np.zeros(cache["x_shape"])
    for i in range(H_out):
        for j in range(W_out):
            dx[:, :, s * i:s * i + k, s * j:s * j + k] += {share}
    return dx
'''


def im2col(order="window.transpose(1, 2, 0).ravel()", row="(n * H_out + i) * W_out + j", pad="padding",
           step="stride"):
    return f'''
def im2col(x, k_h, k_w, stride=1, padding=0):
    m, C, H, W = x.shape
    H_out = (H + 2 * {pad} - k_h) // {step} + 1
    W_out = (W + 2 * {pad} - k_w) // {step} + 1
    x_p = np.pad(x, ((0, 0), (0, 0), ({pad}, {pad}), ({pad}, {pad})))
    cols = np.zeros((m * H_out * W_out, k_h * k_w * C))
    for n in range(m):
        for i in range(H_out):
            for j in range(W_out):
                window = x_p[n, :, {step} * i:{step} * i + k_h, {step} * j:{step} * j + k_w]
                cols[{row}] = {order}
    return cols
'''


def im2col_conv(W_col="W.transpose(2, 3, 1, 0).reshape(k_h * k_w * C, F)", bias=" + b",
                out="product.reshape(m, H_out, W_out, F).transpose(0, 3, 1, 2)"):
    return f'''
def conv_forward_im2col(cols, W, b, m, H_out, W_out):
    F, C, k_h, k_w = W.shape
    product = cols @ {W_col}{bias}
    return {out}
'''


SHORT = "(H + 2 * padding - k_h) // stride", "(W_in + 2 * padding - k_w) // stride"

#: key: (function, its source with the mistake, the start of the description the tests give, the cells whose message
#: must name it, None for all of the function's). Every cell of the function is lost but those of ``KEPT``.
MISTAKES = {
    "flipped": ("conv_forward_naive", conv_forward(kernel="W[f, :, ::-1, ::-1]"), "the kernel is flipped", None),
    "no_bias": ("conv_forward_naive", conv_forward(bias=""), "the bias is missing: add b[f]", None),
    "no_padding": ("conv_forward_naive", conv_forward(pad="0", size=("(H - k_h) // stride + 1", "(W_in - k_w) // stride + 1")),
                   "the padding is ignored: pad x with p rows and columns of zeros on each side first", None),
    "no_stride": ("conv_forward_naive", conv_forward(size=("H + 2 * padding - k_h + 1", "W_in + 2 * padding - k_w + 1"),
                                                     start="i, j"), "the stride is ignored: the windows start every s pixels, at (s*i, s*j), and", None),
    "windows_unstrided": ("conv_forward_naive", conv_forward(start="i, j"), "the output has the right size", None),
    "short": ("conv_forward_naive", conv_forward(size=SHORT), "the output is one row and one column short: a kernel",
              None),
    "dx_flipped": ("conv_backward_naive", conv_backward(kernel="W[f, :, ::-1, ::-1]"),
                   "dx uses the filters rotated by 180 degrees", DX),
    "dx_padded": ("conv_backward_naive", conv_backward(dx="dx_p"), "dx still holds the padding", DX),
    "stride_forgotten": ("conv_backward_naive", conv_backward(step="1"), "the stride is forgotten in the backward pass",
                         DX),
    "stride_forgotten_dW": ("conv_backward_naive", conv_backward(step="1"), "the stride is forgotten in dW", PARAMS),
    "dW_flipped": ("conv_backward_naive", conv_backward(dW="dW_each.sum(axis=0)[:, :, ::-1, ::-1]"), "dW is flipped",
                   PARAMS),
    "dW_per_example": ("conv_backward_naive", conv_backward(dW="dW_each"), "dW holds one gradient per example", PARAMS),
    "dW_mean": ("conv_backward_naive", conv_backward(dW="dW_each.mean(axis=0)"), "dW is the mean over the examples",
                PARAMS),
    "db_per_example": ("conv_backward_naive", conv_backward(db="dout.sum(axis=(2, 3))"),
                       "db holds one value per example", PARAMS),
    "db_per_position": ("conv_backward_naive", conv_backward(db="dout.sum(axis=0)"),
                        "db holds one value per output position", PARAMS),
    "db_mean": ("conv_backward_naive", conv_backward(db="dout.mean(axis=(0, 2, 3))"), "db is a mean of dout", PARAMS),
    "average": ("maxpool_forward", maxpool_forward(reduce="mean"), "out is the mean of each window", None),
    "stride_one": ("maxpool_forward", maxpool_forward(default="1"), "the stride defaults to 1", None),
    "pool_short": ("maxpool_forward", maxpool_forward(size=("(H - k) // s", "(W - k) // s")),
                   "the output is one row and one column short: a window", None),
    "everywhere": ("maxpool_backward", maxpool_backward("dx[n, c, s * i:s * i + k, s * j:s * j + k] += dout[n, c, i, j]"),
                   "dout reaches every pixel of the window", None),
    "shared": ("maxpool_backward", maxpool_backward(
        "dx[n, c, s * i:s * i + k, s * j:s * j + k] += dout[n, c, i, j] / k**2"), "dout is shared evenly", None),
    "not_divided": ("avgpool_backward", avgpool_backward("dout[:, :, i, j, None, None]"), "dx is not divided by k*k",
                    None),
    "divided_by_k": ("avgpool_backward", avgpool_backward("dout[:, :, i, j, None, None] / k"),
                     "dx is divided by k, not by k*k", None),
    "channels_first": ("im2col", im2col(order="window.ravel()"), "the entries of a row are ordered by channel", None),
    "rows_by_position": ("im2col", im2col(row="(i * W_out + j) * m + n"), "the rows are ordered by position", None),
    "col_no_padding": ("im2col", im2col(pad="0"), "the padding is ignored: pad x with p rows and columns of zeros on "
                                                  "each side before", None),
    "col_no_stride": ("im2col", im2col(step="1"), "the stride is ignored: the windows start every s pixels, at (s*i, s*j) of", None),
    "reshape_only": ("conv_forward_im2col", im2col_conv(out="product.reshape(m, F, H_out, W_out)"),
                     "out is cols @ W_col + b reshaped straight", None),
    "filter_order": ("conv_forward_im2col", im2col_conv(W_col="W.reshape(F, -1).T"),
                     "the filters are flattened in the order (c, u, v)", None),
    "im2col_no_bias": ("conv_forward_im2col", im2col_conv(bias=""), "the bias is missing: add b, one value", None),
}
#: the cells a mistake does not reach: a mistake in dx leaves dW and db right, and the converse
BOTH = ("stride_forgotten", "stride_forgotten_dW")  # the windows at (i, j): dx, dW and db all wrong
KEPT = {key: set(PARAMS) for key, (_, _, _, named) in MISTAKES.items() if named == DX and key not in BOTH}
KEPT.update({key: set(DX) for key, (_, _, _, named) in MISTAKES.items() if named == PARAMS and key not in BOTH})

#: six nested loops, the slowest convolution a student would write: it must pass every test in time
LOOPS = {
    "conv_forward_naive": '''
def conv_forward_naive(x, W, b, stride=1, padding=0):
    m, C, H, W_in = x.shape
    F, _, k_h, k_w = W.shape
    x_p = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    H_out, W_out = (H + 2 * padding - k_h) // stride + 1, (W_in + 2 * padding - k_w) // stride + 1
    out = np.zeros((m, F, H_out, W_out))
    for n in range(m):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    total = b[f]
                    for c in range(C):
                        for u in range(k_h):
                            for v in range(k_w):
                                total += W[f, c, u, v] * x_p[n, c, stride * i + u, stride * j + v]
                    out[n, f, i, j] = total
    return out, (x, W, b, stride, padding)
''',
    "conv_backward_naive": '''
def conv_backward_naive(dout, cache):
    x, W, b, stride, padding = cache
    m, C, H, W_in = x.shape
    F, _, k_h, k_w = W.shape
    x_p = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dx_p, dW, db = np.zeros_like(x_p), np.zeros_like(W), np.zeros_like(b)
    for n in range(m):
        for f in range(F):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    d = dout[n, f, i, j]
                    db[f] += d
                    for c in range(C):
                        for u in range(k_h):
                            for v in range(k_w):
                                dW[f, c, u, v] += d * x_p[n, c, stride * i + u, stride * j + v]
                                dx_p[n, c, stride * i + u, stride * j + v] += d * W[f, c, u, v]
    return dx_p[:, :, padding:padding + H, padding:padding + W_in], dW, db
''',
}

REFERENCE_BACKWARD = '''
from nnbook import conv

def conv_backward_naive(dout, cache):
    x, W, b, stride, padding = cache
    return conv.conv_backward_naive(dout, (x, W, b, (stride, stride), (padding, padding)))
'''
REFERENCE_POOL = '''
from nnbook.conv import maxpool_forward as pooled  # the package's answer, not the student's

def maxpool_forward(x, k, stride=None):
    out, _ = pooled(x, k, stride)
    return out, {"x": x, "out": out, "kernel": k, "stride": k if stride is None else stride}
'''
IN_PLACE_AVERAGE = '''
def avgpool_backward(dout, cache):
    k, s = cache["kernel"], cache["stride"]
    dout /= k**2  # changes the caller's array
    dx = np.zeros(cache["x_shape"])
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, s * i:s * i + k, s * j:s * j + k] += dout[:, :, i, j, None, None]
    return dx
'''


#: student: ({function: source} in place of the right answer, the cells lost); every other answer is right
STUDENTS = {
    "loops": (dict(LOOPS), set()),
    "flipped": ({"conv_forward_naive": MISTAKES["flipped"][1]}, lost_cells("conv_forward_naive")),
    "unflipped_dx": ({"conv_backward_naive": MISTAKES["dx_flipped"][1]}, set(DX)),
    "padded_dx": ({"conv_backward_naive": MISTAKES["dx_padded"][1]}, set(DX)),
    "stride_forgotten": ({"conv_backward_naive": MISTAKES["stride_forgotten"][1]}, lost_cells("conv_backward_naive")),
    "not_summed": ({"conv_backward_naive": MISTAKES["dW_per_example"][1]}, set(PARAMS)),
    "short_output": ({"conv_forward_naive": MISTAKES["short"][1]}, lost_cells("conv_forward_naive")),
    "max_everywhere": ({"maxpool_backward": MISTAKES["everywhere"][1]}, lost_cells("maxpool_backward")),
    "not_divided": ({"avgpool_backward": MISTAKES["not_divided"][1]}, lost_cells("avgpool_backward")),
    "channels_first": ({"im2col": MISTAKES["channels_first"][1]}, lost_cells("im2col")),
    "reshape_only": ({"conv_forward_im2col": MISTAKES["reshape_only"][1]}, lost_cells("conv_forward_im2col")),
    "reference": ({"conv_backward_naive": REFERENCE_BACKWARD, "maxpool_forward": REFERENCE_POOL},
                  lost_cells("conv_backward_naive", "maxpool_forward")),
    "in_place": ({"avgpool_backward": IN_PLACE_AVERAGE}, lost_cells("avgpool_backward")),
}
#: what each student must get in total, out of 16
TOTALS = EXERCISE.totals(STUDENTS)


#: (student, cell, the start of the message, the start of the mistake's description) that the feedback must show
FEEDBACK = [
    ("flipped", "test_conv_forward_naive", r"out for stride 1 and padding 1: relative error \S+ exceeds 1e-10",
     "the kernel is flipped"),
    ("flipped", "test_conv_forward_naive_hidden", r"out for x of shape \(2, 3, 7, 6\), W of shape \(4, 3, 3, 2\), "
     r"stride 1 and padding 1: wrong values, the largest difference at index \(\d, \d, \d, \d\)\.", "the kernel is flipped"),
    ("unflipped_dx", "test_conv_backward_dx", r"dx: relative error", "dx uses the filters rotated by 180 degrees"),
    ("unflipped_dx", "test_conv_backward_dx_hidden", r"dx for x of shape \(2, 3, 7, 6\).*: wrong values",
     "dx uses the filters rotated by 180 degrees"),
    ("padded_dx", "test_conv_backward_dx", r"dx: expected shape \(2, 2, 4, 3\), got shape \(2, 2, 6, 5\)\.",
     "dx still holds the padding"),
    ("stride_forgotten", "test_conv_backward_dx_hidden", r"dx for x of shape \(3, 2, 9, 8\), W of shape \(5, 2, 3, 3\), "
     r"stride 2 and padding 1: wrong values", "the stride is forgotten in the backward pass"),
    ("stride_forgotten", "test_conv_backward_dW_db", r"dW: relative error", "the stride is forgotten in dW"),
    ("not_summed", "test_conv_backward_dW_db", r"dW: expected shape \(3, 2, 3, 2\), got shape \(2, 3, 2, 3, 2\)\.",
     "dW holds one gradient per example"),
    ("short_output", "test_conv_forward_naive", r"out for stride 1 and padding 1: expected shape \(1, 2, 4, 5\), got "
     r"shape \(1, 2, 3, 4\)\.", "the output is one row and one column short: a kernel"),
    ("max_everywhere", "test_maxpool_backward_hidden", r"dx for x of shape \(2, 3, 8, 8\), k = 2 and stride 2: wrong "
     r"values", "dout reaches every pixel of the window"),
    ("not_divided", "test_avgpool_backward", r"dx for x of shape \(1, 2, 4, 4\), k = 2 and stride 2: relative error",
     "dx is not divided by k*k"),
    ("channels_first", "test_im2col", r"cols for k_h = 2, k_w = 2, stride 1 and padding 0: relative error",
     "the entries of a row are ordered by channel"),
    ("reshape_only", "test_conv_forward_im2col_hidden", r"out for x of shape \(2, 3, 7, 6\).*: wrong values",
     "out is cols @ W_col + b reshaped straight"),
]


class TestConvPool(GradedExerciseChecks):
    exercise, mistakes, kept, students, feedback = EXERCISE, MISTAKES, KEPT, STUDENTS, FEEDBACK
    untouched_failure = ("test_conv_backward_dW_db_hidden", "conv_backward_naive")
    borrowed = {"conv_backward_naive": "nnbook.conv", "maxpool_forward": "nnbook.conv"}
    in_place = ("avgpool_backward", "dout")
    min_hidden_lines = 81

    def test_the_totals(self):
        assert TOTALS == {"solution": 16.0, "untouched": 0.0, "loops": 16.0, "flipped": 14.0, "unflipped_dx": 14.0,
                          "padded_dx": 14.0, "stride_forgotten": 12.0, "not_summed": 14.0, "short_output": 14.0,
                          "max_everywhere": 14.0, "not_divided": 14.0, "channels_first": 14.0, "reshape_only": 14.0,
                          "reference": 10.0, "in_place": 14.0}

    def test_the_hidden_tests_have_several_channels_non_square_kernels_a_stride_and_a_padding(self, source):
        cells = cells_by_id(source)
        for function in ("conv_forward_naive", "conv_backward_naive", "im2col", "conv_forward_im2col"):
            for grade_id in EXERCISE.cells_of[function]:
                if grade_id.endswith("_hidden"):
                    text = cells[grade_id].source
                    # C > 1, F > 1, a 3 x 2 kernel, stride 2 with padding 1
                    assert "((2, 3, 7, 6), (4, 3, 3, 2), 1, 1)" in text or "((2, 3, 7, 6), 3, 2, 1, 1)" in text, grade_id
                    assert "((3, 2, 9, 8), (5, 2, 3, 3), 2, 1)" in text or "((3, 2, 9, 8), 3, 3, 2, 1)" in text, grade_id

    def test_the_backward_tests_start_from_the_references_cache_never_from_the_students_forward(self, source):
        cells = cells_by_id(source)
        for function, forward in (("conv_backward_naive", "conv_forward_naive"), ("maxpool_backward", "maxpool_forward"),
                                  ("conv_forward_im2col", "im2col")):
            for grade_id in EXERCISE.cells_of[function]:
                text = cells[grade_id].source
                assert f"grading.call(\"{forward}\"" not in text, grade_id
                if grade_id.endswith("_hidden"):
                    assert "reference_conv." in text, grade_id

    def test_the_chapters_example_is_a_visible_test(self, source):
        text = cells_by_id(source)["test_conv_forward_naive"].source
        assert "x = np.array([0.0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4]).reshape(1, 1, 1, 11)" in text
        assert "[[[[0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]]]]" in text

    def test_the_notebook_links_the_chapter(self, source):
        assert "the chapter *Convolutional networks*" in source.cells[0].source
        assert (ROOT / "book" / "cnn.md").exists()

    def test_the_answers_of_the_mistakes_are_right_without_the_mistake(self, source):
        """The templates of :data:`MISTAKES`, with nothing changed, pass every test: each mistake is only its change."""
        answers = "\n".join([conv_forward(), conv_backward(), maxpool_forward(), maxpool_backward(), avgpool_backward(),
                             im2col(), im2col_conv()])
        assert EXERCISE.run_cells(source, answers, EXERCISE.grade_cells) == dict.fromkeys(EXERCISE.grade_cells)

    def test_six_nested_loops_pass_every_test(self, source):
        """The slowest loops a student would write pass (the hidden inputs are small; their time is in the corpus)."""
        answers = "\n".join(LOOPS.get(name, written_answer(cells_by_id(source)[name].source)) for name in FUNCTIONS)
        assert EXERCISE.run_cells(source, answers, EXERCISE.grade_cells) == dict.fromkeys(EXERCISE.grade_cells)

    def test_the_functions_put_together_are_the_convolution_and_its_gradients(self, source):
        """The solution's functions against each other, as the last cell of the notebook checks them: the backward pass
        against central differences of the forward pass, im2col and one product against the loops."""
        namespace = {}
        for name in FUNCTIONS:
            exec(compile(cells_by_id(source)[name].source, name, "exec"), {"np": np} | namespace, namespace)  # noqa: S102
        rng = np.random.default_rng(1)
        x, W, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
        out, cache = namespace["conv_forward_naive"](x, W, b, 2, 1)
        dout = rng.standard_normal(out.shape)
        grads = namespace["conv_backward_naive"](dout, cache)
        for value, grad in zip((x, W, b), grads):
            numerical = gradcheck.numerical_gradient_of_output(lambda: namespace["conv_forward_naive"](x, W, b, 2, 1)[0],
                                                               value, dout)
            assert gradcheck.relative_error(grad, numerical) < 1e-8
        cols = namespace["im2col"](x, 3, 2, 2, 1)
        np.testing.assert_allclose(namespace["conv_forward_im2col"](cols, W, b, *out.shape[:1], *out.shape[2:]), out,
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(cols, conv.im2col(x, 3, 2, 2, 1))

    def test_the_student_version_does_not_name_the_hidden_reference(self):
        assert "reference_conv" not in "\n".join(cell.source for cell in EXERCISE.release().cells)
