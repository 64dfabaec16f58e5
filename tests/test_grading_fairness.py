"""Each function is judged alone, and a derivative is told from an estimate of one, by ``nnbook-autograde``.

For every exercise, one sandboxed grading run of these made-up students:

* ``broken_<f>``: every answer right but ``f``, whose cell has a syntax error, so
  ``f`` is not even defined. The README promises that "a notebook gets exactly
  the points of the functions it gets right": the student must lose exactly the
  points of ``f``'s test cells, whatever other functions call or depend on.
* ``in_place_<f>``: every answer right, but ``f`` changes one of its arguments
  in place (and still returns the right values): it loses ``f``'s points,
  and the message names the argument; the grader's own values never change.
* ``constant_model`` (ex03): a forward pass that ignores its parameters and
  the exact gradients of that constant model (all zero): each function is
  judged on the reference's inputs, so neither earns a point, visible tests
  included (they once compared the backward pass with the student's own forward).
* ``numerical_<f>``: every answer right but the backward pass ``f``, computed
  by central differences (the usual step ``h = 1e-5``) instead of the
  derivative. It must earn none of ``f``'s points: the tolerances
  (``nnbook.grading.TOLERANCES``) reject the estimate, and the hidden tests'
  large inputs would make it too slow anyway. The optimizer updates of ex04
  have no derivative to estimate; their estimate is ``adam_step`` computed in
  single precision (float32), right to about 1e-7 as a central difference is
  to about 1e-10: the tolerance of a value (1e-10) rejects it too.
  ex05's is ``batchnorm_backward`` by central differences of the batch-normalization
  forward pass, rebuilt from the cache; ``in_place_batchnorm_forward`` updates
  its running mean in place, as PyTorch's layer does, and loses all four cells
  of ``batchnorm_forward``. ex06's is ``conv_backward_naive`` by central
  differences of a convolution rebuilt from the cache; a broken ``im2col``
  leaves ``conv_forward_im2col``, which the tests give the reference's columns,
  its points; ``in_place_avgpool_backward`` divides ``dout`` in place.

It needs bubblewrap (``apt-get install -y bubblewrap``) and is skipped without
it, unless ``NNBOOK_REQUIRE_SANDBOX=1``.
"""

import subprocess
import sys

import nbformat
import pytest
from nbgrader_course import (
    autograded,
    cell_scores,
    cells_by_id,
    errors,
    grade_cells,
    make_course,
    nbgrader_env,
    submission,
    submit,
    written_answer,
)
from optional import require_sandbox

pytestmark = pytest.mark.autograde

NOTEBOOKS = {"ex01": "perceptron_logistic.ipynb", "ex02": "computation_graphs.ipynb", "ex03": "backprop_by_hand.ipynb",
             "ex04": "optimizers.ipynb", "ex05": "batchnorm_dropout.ipynb", "ex06": "conv_pool.ipynb"}
FUNCTIONS = {
    "ex01": ("perceptron_update", "sigmoid", "binary_cross_entropy", "bce_gradients", "gradient_descent_step"),
    "ex02": ("mul_backward", "add_backward", "matmul_backward", "exp_backward", "log_backward", "sum_backward",
             "sigmoid_backward", "backprop"),
    "ex03": ("one_hidden_forward", "one_hidden_backward", "deep_forward", "deep_backward"),
    "ex04": ("momentum_step", "rmsprop_step", "adam_step", "warmup_cosine_lr", "decoupled_weight_decay"),
    "ex05": ("dropout_forward", "dropout_backward", "batchnorm_forward", "batchnorm_backward",
             "batchnorm_backward_simplified"),
    "ex06": ("conv_forward_naive", "conv_backward_naive", "maxpool_forward", "maxpool_backward", "avgpool_backward",
             "im2col", "conv_forward_im2col"),
}
# the test cells of a function whose name is not in their grade id
EXTRA_CELLS = {
    "one_hidden_backward": ("one_hidden_dW2", "one_hidden_db2", "one_hidden_dW1", "one_hidden_db1", "one_hidden_dX"),
    "deep_backward": ("deep_output_layer", "deep_hidden_layers", "deep_dX"),
    "adam_step": ("adam_bias_correction",),
    "batchnorm_forward": ("batchnorm_running_statistics",),
    "conv_backward_naive": ("conv_backward_dx", "conv_backward_dW_db"),
}

CENTRAL_DIFFERENCE = '''
def central_difference(f, x, h=1e-5):
    """The numerical gradient of the scalar f() with respect to the array x, perturbed in place."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        plus = f()
        x[index] = saved - h
        minus = f()
        x[index] = saved
        grad[index] = (plus - minus) / (2 * h)
    return grad
'''
NUMERICAL = {
    "bce_gradients": '''
def bce_gradients(X, y, a, h=1e-5):
    z = np.log(a) - np.log1p(-a)  # back to the scores, then the loss of each example differentiated numerically

    def loss(z):
        s = 1 / (1 + np.exp(-z))
        return -(y * np.log(s) + (1 - y) * np.log(1 - s))

    dz = (loss(z + h) - loss(z - h)) / (2 * h) / X.shape[0]
    return X.T @ dz, float(np.sum(dz))
''',
    "mul_backward": '''
def mul_backward(dout, a, b, h=1e-5):
    return dout * ((a + h) * b - (a - h) * b) / (2 * h), dout * (a * (b + h) - a * (b - h)) / (2 * h)
''',
    "exp_backward": '''
def exp_backward(dout, x, h=1e-5):
    return dout * (np.exp(x + h) - np.exp(x - h)) / (2 * h)
''',
    "log_backward": '''
def log_backward(dout, x, h=1e-5):
    return dout * (np.log(x + h) - np.log(x - h)) / (2 * h)
''',
    "sigmoid_backward": '''
def sigmoid_backward(dout, x, h=1e-5):
    return dout * (1 / (1 + np.exp(-x - h)) - 1 / (1 + np.exp(-x + h))) / (2 * h)
''',
    "matmul_backward": CENTRAL_DIFFERENCE + '''
def matmul_backward(dout, A, B):
    A, B = A.copy(), B.copy()
    return (central_difference(lambda: np.sum((A @ B) * dout), A),
            central_difference(lambda: np.sum((A @ B) * dout), B))
''',
    "one_hidden_backward": CENTRAL_DIFFERENCE + '''
def one_hidden_backward(y, cache, params):
    P, X, Y = {k: v.copy() for k, v in params.items()}, cache["A0"].copy(), y[:, None]

    def cost():
        A2 = 1 / (1 + np.exp(-(np.tanh(X @ P["W1"].T + P["b1"]) @ P["W2"].T + P["b2"])))
        return -np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))

    return {**{"d" + name: central_difference(cost, P[name]) for name in P}, "dX": central_difference(cost, X)}
''',
    "deep_backward": CENTRAL_DIFFERENCE + '''
def deep_backward(y, cache, params):
    P, X, L = {k: v.copy() for k, v in params.items()}, cache["A0"].copy(), len(params) // 2

    def cost():
        A = X
        for l in range(1, L + 1):
            Z = A @ P[f"W{l}"].T + P[f"b{l}"]
            A = np.maximum(Z, 0)
        Z = Z - Z.max(axis=1, keepdims=True)
        return -np.mean(Z[np.arange(len(y)), y] - np.log(np.exp(Z).sum(axis=1)))

    return {**{"d" + name: central_difference(cost, P[name]) for name in P}, "dX": central_difference(cost, X)}
''',
    "batchnorm_backward": CENTRAL_DIFFERENCE + '''
def batchnorm_backward(dout, cache):
    x_hat, gamma = cache["x_hat"], cache["gamma"]
    x = cache["x_centered"] + cache["mean"]  # the batch, and eps, from the cache
    eps = float(np.mean(cache["std"] ** 2 - cache["var"]))

    def cost():
        centered = x - x.mean(axis=0)
        return np.sum(dout * (gamma * centered / np.sqrt(np.mean(centered**2, axis=0) + eps)))

    return central_difference(cost, x), np.sum(dout * x_hat, axis=0), dout.sum(axis=0)
''',
    "conv_backward_naive": CENTRAL_DIFFERENCE + '''
def conv_backward_naive(dout, cache):
    x, W, b, stride, padding = cache
    x, W, b = x.copy(), W.copy(), b.copy()
    k_h, k_w = W.shape[2:]

    def cost():  # the convolution, vectorized: every window at once, every stride-th one kept
        x_p = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        windows = np.lib.stride_tricks.sliding_window_view(x_p, (k_h, k_w), axis=(2, 3))[:, :, ::stride, ::stride]
        return np.sum(dout * (np.einsum("ncijuv,fcuv->nfij", windows, W) + b[None, :, None, None]))

    return central_difference(cost, x), central_difference(cost, W), central_difference(cost, b)
''',
    "adam_step": '''
def adam_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    w, dw, m, v = (np.asarray(x, dtype=np.float32) for x in (w, dw, m, v))  # single precision: about 7 digits
    m_new = beta1 * m + (1 - beta1) * dw
    v_new = beta2 * v + (1 - beta2) * dw**2
    m_hat = m_new / (1 - beta1**t)
    v_hat = v_new / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_new
''',
}
IN_PLACE = {  # exercise: (function, the argument it changes, an answer that changes it and is otherwise right)
    "ex01": ("sigmoid", "z", '''
def sigmoid(z):
    np.negative(z, out=z)  # z is now -z: the caller's array changed
    np.exp(z, out=z)
    return 1 / (1 + z)
'''),
    "ex02": ("exp_backward", "dout", '''
def exp_backward(dout, x):
    dout *= np.exp(x)
    return dout
'''),
    "ex03": ("deep_backward", "params['W1']", '''
def deep_backward(y, cache, params):
    L = len(params) // 2
    ZL = cache[f"Z{L}"]
    m = ZL.shape[0]
    E = np.exp(ZL - ZL.max(axis=1, keepdims=True))
    dZ = E / E.sum(axis=1, keepdims=True)
    dZ[np.arange(m), y] -= 1
    dZ /= m
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = dZ.T @ cache[f"A{l - 1}"]
        grads[f"db{l}"] = dZ.sum(axis=0)
        dA = dZ @ params[f"W{l}"]
        if l > 1:
            dZ = dA * (cache[f"Z{l - 1}"] > 0)
    grads["dX"] = dA
    params["W1"] -= 0.1 * grads["dW1"]  # a gradient step, in place: not the backward pass's job
    return grads
'''),
    "ex04": ("momentum_step", "v", '''
def momentum_step(w, dw, v, lr, beta=0.9):
    v *= beta  # the caller's running mean changes too
    v += (1 - beta) * dw
    return w - lr * v, v
'''),
    "ex05": ("batchnorm_forward", "running_mean", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    m = x.shape[0]
    if m < 2:
        raise ValueError("expected more than one value per feature in training mode")
    mean, var = x.mean(axis=0), x.var(axis=0)
    std = np.sqrt(var + eps)
    x_hat = (x - mean) / std
    running_mean *= 1 - momentum  # as PyTorch's layer does, in place: the caller's array changes too
    running_mean += momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var * m / (m - 1)
    cache = {"x_centered": x - mean, "std": std, "x_hat": x_hat, "gamma": gamma, "mean": mean, "var": var}
    return gamma * x_hat + beta, cache, running_mean, new_var
'''),
    "ex06": ("avgpool_backward", "dout", '''
def avgpool_backward(dout, cache):
    k, s = cache["kernel"], cache["stride"]
    dout /= k**2  # the caller's gradient changes too
    dx = np.zeros(cache["x_shape"])
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, s * i:s * i + k, s * j:s * j + k] += dout[:, :, i, j, None, None]
    return dx
'''),
}
CRASH = {  # exercise: (function, an answer whose numpy call fails, the line that raises)
    "ex01": ("bce_gradients", '''
def bce_gradients(X, y, a):
    m = X.shape[0]
    dz = (a - y) / m
    return np.dot(X, dz), float(np.sum(dz))  # X where X.T belongs: (m, n_x) times (m,) does not fit
''', "return np.dot(X, dz), float(np.sum(dz))"),
    "ex02": ("matmul_backward", '''
def matmul_backward(dout, A, B):
    dA = dout @ B.T
    dB = A.T @ dout
    return dout @ B, dB  # B where B.T belongs: (m, p) times (n, p) does not fit
''', "return dout @ B, dB"),
    "ex03": ("one_hidden_backward", '''
def one_hidden_backward(y, cache, params):
    m = y.shape[0]
    dZ2 = (cache["A2"] - y[:, None]) / m
    dZ1 = (dZ2 @ params["W1"]) * (1 - cache["A1"] ** 2)  # W1 where W2 belongs: the shapes do not match
    return {"dW1": dZ1.T @ cache["A0"], "db1": dZ1.sum(axis=0), "dW2": dZ2.T @ cache["A1"], "db2": dZ2.sum(axis=0),
            "dX": dZ1 @ params["W1"]}
''', 'dZ1 = (dZ2 @ params["W1"]) * (1 - cache["A1"] ** 2)'),
    "ex04": ("rmsprop_step", '''
def rmsprop_step(w, dw, s, lr, rho=0.9, eps=1e-8):
    s_new = rho * s + (1 - rho) * np.dot(dw, dw)  # dw squared as a matrix product: (n, k) times (n, k) does not fit
    return w - lr * dw / (np.sqrt(s_new) + eps), s_new
''', "s_new = rho * s + (1 - rho) * np.dot(dw, dw)"),
    "ex05": ("batchnorm_backward_simplified", '''
def batchnorm_backward_simplified(dout, cache):
    x_hat, std, gamma = cache["x_hat"], cache["std"], cache["gamma"]
    m = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.dot(dout, x_hat)  # a matrix product where an entrywise one is summed: (m, n) times (m, n) does not fit
    return gamma / (m * std) * (m * dout - dbeta - x_hat * dgamma), dgamma, dbeta
''', "dgamma = np.dot(dout, x_hat)"),
    "ex06": ("conv_forward_im2col", '''
def conv_forward_im2col(cols, W, b, m, H_out, W_out):
    F = W.shape[0]
    product = cols @ W.reshape(F, -1) + b  # the filters as rows where columns belong: (rows, K) times (F, K) does not fit
    return product.reshape(m, H_out, W_out, F).transpose(0, 3, 1, 2)
''', "product = cols @ W.reshape(F, -1) + b"),
}
CONSTANT_MODEL = {  # ex03: a constant network, and the exact gradients of that constant network
    "one_hidden_forward": '''
def one_hidden_forward(X, params):
    m, n_h = X.shape[0], params["W1"].shape[0]
    A2 = np.full((m, 1), 0.5)
    return A2, {"A0": X, "Z1": np.zeros((m, n_h)), "A1": np.zeros((m, n_h)), "Z2": np.zeros((m, 1)), "A2": A2}
''',
    "one_hidden_backward": '''
def one_hidden_backward(y, cache, params):  # nothing of the constant model depends on the parameters or the input
    return {**{"d" + name: np.zeros_like(value) for name, value in params.items()}, "dX": np.zeros_like(cache["A0"])}
''',
}
NUMERICAL_OF = {"ex01": ("bce_gradients",), "ex02": ("mul_backward", "exp_backward", "log_backward", "sigmoid_backward", "matmul_backward"),
                "ex03": ("one_hidden_backward", "deep_backward"), "ex04": ("adam_step",),
                "ex05": ("batchnorm_backward",), "ex06": ("conv_backward_naive",)}


def cells_of(function, cells):
    names = (function, *EXTRA_CELLS.get(function, ()))
    return {cell for cell in cells if cell.removeprefix("test_").removesuffix("_hidden") in names}


@pytest.fixture(scope="module", params=sorted(NOTEBOOKS))
def graded(request, tmp_path_factory):
    require_sandbox()
    assignment, notebook = request.param, NOTEBOOKS[request.param]
    course = make_course(tmp_path_factory.mktemp(assignment), [assignment])
    source = nbformat.read(course / "solutions" / assignment / notebook, as_version=4)
    release = nbformat.read(course / "exercises" / assignment / notebook, as_version=4)
    answers = {name: written_answer(cells_by_id(source)[name].source) for name in FUNCTIONS[assignment]}
    students = {}
    for function in FUNCTIONS[assignment]:
        broken = answers[function].replace("):", "):)", 1)  # a syntax error in the def line
        students[f"broken_{function}"] = (function, {**answers, function: broken})
    function, _, answer = IN_PLACE[assignment]
    students[f"in_place_{function}"] = (function, {**answers, function: answer})
    if assignment == "ex03":
        students["constant_model"] = ("one_hidden_forward", {**answers, **CONSTANT_MODEL})
    if assignment in CRASH:
        function, answer, _ = CRASH[assignment]
        students[f"crash_{function}"] = (function, {**answers, function: answer})
    for function in NUMERICAL_OF[assignment]:
        students[f"numerical_{function}"] = (function, {**answers, function: NUMERICAL[function]})
    for student, (_, edits) in students.items():
        submit(course, assignment, student, notebook, submission(release, edits))
    command = [sys.executable, "-m", "nnbook.autograder", assignment, "--course", str(course), "--timeout", "240",
               "--cell-timeout", "20", "--no-feedback"]
    result = subprocess.run(command, env=nbgrader_env(), capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"nnbook-autograde failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    scores = cell_scores(course, assignment, list(students))
    return course, assignment, grade_cells(source), students, scores


def test_a_broken_function_costs_exactly_its_own_points(graded):
    course, assignment, cells, students, scores = graded
    if "constant_model" in students:  # ex03: a constant model with its own exact gradients earns nothing either
        lost = cells_of("one_hidden_forward", cells) | cells_of("one_hidden_backward", cells)
        assert scores["constant_model"] == {cell: float(cell not in lost) for cell in cells}
    for student, (function, _) in students.items():
        if student.startswith("broken_"):
            lost = cells_of(function, cells)
            assert lost, f"{assignment}: no test cell found for {function}"
            assert scores[student] == {cell: float(cell not in lost) for cell in cells}, student


def test_a_numerical_gradient_in_place_of_the_backward_pass_earns_nothing(graded):
    course, assignment, cells, students, scores = graded
    numerical = {student: function for student, (function, _) in students.items() if student.startswith("numerical_")}
    assert numerical, assignment
    for student, function in numerical.items():
        lost = cells_of(function, cells)
        assert scores[student] == {cell: float(cell not in lost) for cell in cells}, student


def test_an_argument_changed_in_place_costs_the_points_and_is_named(graded):
    course, assignment, cells, students, scores = graded
    function, argument, _ = IN_PLACE[assignment]
    student = f"in_place_{function}"
    lost = cells_of(function, cells)
    assert scores[student] == {cell: float(cell not in lost) for cell in cells}, student
    notebook = cells_by_id(autograded(course, assignment, student, NOTEBOOKS[assignment]))
    for cell in sorted(lost):
        (error,) = errors(notebook[cell])
        assert error.evalue.startswith(f"{function} changed its argument {argument} in place"), (cell, error.evalue)


def test_a_crash_in_the_students_function_shows_the_line_that_raised(graded):
    course, assignment, cells, students, scores = graded
    function, _, line = CRASH[assignment]
    notebook = cells_by_id(autograded(course, assignment, f"crash_{function}", NOTEBOOKS[assignment]))
    for cell in sorted(cells_of(function, cells)):
        (error,) = errors(notebook[cell])
        number = CRASH[assignment][1].strip("\n").splitlines().index(next(
            text for text in CRASH[assignment][1].strip("\n").splitlines() if text.strip().startswith(line))) + 1
        assert error.ename == "ValueError", (cell, error.ename)
        assert f"(at line {number} of your {function}: `{line}" in error.evalue, (cell, error.evalue)
        if not cell.endswith("_hidden"):
            assert "align" in error.evalue or "matmul" in error.evalue, error.evalue  # numpy's words, when visible
