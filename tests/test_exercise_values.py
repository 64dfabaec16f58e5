"""The literal values of the visible tests are the package's reference, not numbers typed by hand.

The visible tests of ex03 give the backward passes a cache written out in the
setup cell, and compare each gradient with a literal array. Both must be what
the package's layers compute: the cache from the parameters of the setup cell,
the gradients from that cache. A test here recomputes them and compares.

The visible tests of ex04 run the optimizer steps once and over several steps,
feeding each step what the one before returned. Here they run with
``nnbook.optim``'s own steps and schedules in place of the student's functions,
and every value they compare with must be what the package returns, to 1e-14;
each known mistake they name must be a value clearly apart from it. (That each
such value is what the mistake gives is checked in ``test_nbgrader_ex04.py``,
which runs an implementation of every mistake through these tests.)

The visible tests of ex05 run the same way, with the package's dropout
(``nnbook.regularization``) and batch normalization (``nnbook.normalization``)
in place of the student's functions; the cache they give the two backward passes
is the package's forward pass of their batch, and the gradients they expect are
those of central differences of that forward pass too.

The visible tests of ex06 run with the package's convolution and pooling
(``nnbook.conv``) in place of the student's functions, the stride and padding
of the exercise's caches (ints) made the package's pairs; the gradients they
expect for the convolution and the two poolings are those of central
differences of the package's forward passes.
"""

import ast
import contextlib

import nbformat
import numpy as np
import pytest
from nbgrader_course import ROOT, cells_by_id

from nnbook import conv, grading, layers, normalization, optim, regularization
from nnbook.gradcheck import numerical_gradient_of_output, relative_error
from nnbook.losses import SoftmaxCrossEntropy

NOTEBOOK = ROOT / "solutions" / "ex03" / "backprop_by_hand.ipynb"


@pytest.fixture(scope="module")
def setup():
    """The names the setup cell of ex03 defines (its constants and helpers), and the notebook's cells by id."""
    cells = cells_by_id(nbformat.read(NOTEBOOK, as_version=4))
    namespace = {}
    exec(compile(cells["setup"].source, "<setup of ex03>", "exec"), namespace)  # noqa: S102 (our own notebook)
    return namespace, cells


def literal_checks(source):
    """``{quantity: the literal expected array}`` of the ``grading.check_array("q", grads["q"], [...])`` calls."""
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "grading.check_array":
            try:
                found[ast.literal_eval(node.args[0])] = np.array(ast.literal_eval(node.args[2]))
            except ValueError:  # not a literal: not one of these checks
                continue
    return found


def network(linears, params, activation_layers):
    """The package's layers with the given parameters: Linear, activation, Linear, … ."""
    chain = []
    for l, (n_out, n_in) in enumerate(linears, 1):
        linear = layers.Linear(n_in, n_out)
        linear.params["W"][...], linear.params["b"][...] = params[f"W{l}"], params[f"b{l}"]
        chain += [linear, *activation_layers[l - 1: l]]
    return layers.Sequential(*chain)


def forward_recording(net, X):
    arrays = [X]
    for layer in net.layers:
        arrays.append(layer.forward(arrays[-1]))
    return arrays


def test_the_one_hidden_cache_and_gradients_are_the_references(setup):
    namespace, cells = setup
    params, cache, y = namespace["ONE_HIDDEN_PARAMS"], namespace["ONE_HIDDEN_CACHE_VALUES"], namespace["ONE_HIDDEN_Y"]
    net = network([params["W1"].shape, params["W2"].shape], params, [layers.Tanh(), layers.Sigmoid()])
    arrays = forward_recording(net, cache["A0"])
    for key, value in zip(("A0", "Z1", "A1", "Z2", "A2"), arrays):
        np.testing.assert_allclose(cache[key], value, rtol=1e-15, atol=0, err_msg=key)
    gradient = (arrays[-1] - y[:, None]) / len(y)  # dZ2 from the logits
    for layer in reversed(net.layers[:-1]):
        gradient = layer.backward(gradient)
    expected = {"dW1": net.layers[0].grads["W"], "db1": net.layers[0].grads["b"], "dW2": net.layers[2].grads["W"],
                "db2": net.layers[2].grads["b"], "dX": gradient}
    for quantity, value in expected.items():
        literal = literal_checks(cells[f"test_one_hidden_{quantity}"].source)[quantity]
        np.testing.assert_allclose(literal, value, rtol=1e-14, atol=1e-17, err_msg=quantity)


def test_the_deep_cache_and_gradients_are_the_references(setup):
    namespace, cells = setup
    params, cache, y = namespace["DEEP_PARAMS"], namespace["DEEP_CACHE_VALUES"], namespace["DEEP_Y"]
    shapes = [params[f"W{l}"].shape for l in (1, 2, 3)]
    net = network(shapes, params, [layers.ReLU(), layers.ReLU()])
    arrays = forward_recording(net, cache["A0"])
    for key, value in zip(("A0", "Z1", "A1", "Z2", "A2", "Z3"), arrays):
        np.testing.assert_allclose(cache[key], value, rtol=1e-15, atol=0, err_msg=key)
    for key in ("Z1", "Z2"):
        assert np.all(cache[key] != 0), f"{key} has an entry at the ReLU's kink, where conventions differ"
    loss = SoftmaxCrossEntropy()
    loss.forward(arrays[-1], y)
    dX = net.backward(loss.backward())
    expected = {f"d{name}{l}": linear.grads[name] for l, linear in enumerate(net.layers[::2], 1) for name in "Wb"}
    expected["dX"] = dX
    literals = {}
    for grade_id in ("test_deep_output_layer", "test_deep_hidden_layers", "test_deep_dX"):
        literals.update(literal_checks(cells[grade_id].source))
    assert set(literals) == set(expected)
    for quantity, value in expected.items():
        np.testing.assert_allclose(literals[quantity], value, rtol=1e-14, atol=1e-17, err_msg=quantity)


EX04 = ROOT / "solutions" / "ex04" / "optimizers.ipynb"
EX04_VISIBLE = ("test_momentum_step", "test_rmsprop_step", "test_adam_step", "test_adam_bias_correction",
                "test_warmup_cosine_lr", "test_decoupled_weight_decay")


def package_schedule(t, lr_max, warmup_steps, total_steps, lr_min=0.0):
    """``warmup_cosine_lr`` of ex04, from the package's schedules."""
    return optim.Warmup(optim.CosineDecay(lr_max, total_steps - warmup_steps, lr_min), warmup_steps)(t)


def test_the_values_of_the_optimizer_tests_are_the_packages(monkeypatch):
    cells = cells_by_id(nbformat.read(EX04, as_version=4))
    compared = []

    def compare(name, actual, expected, batch_size=None, kind="gradient", mistakes=None):
        """In place of grading.check_array: ``actual`` is the package's answer, ``expected`` the test's value."""
        actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
        np.testing.assert_allclose(expected, actual, rtol=1e-14, atol=0, err_msg=name)
        for description, wrong in (mistakes or {}).items():
            wrong = np.asarray(wrong, dtype=np.float64)
            apart = wrong.shape != expected.shape or np.isnan(wrong).any() or relative_error(wrong, expected) > 1e-6
            assert apart, f"{name}: the mistake {description!r} is the right value"
        compared.append(name)

    monkeypatch.setattr(grading, "check_array", compare)
    monkeypatch.setattr(grading, "own_work", lambda function_name, allowed=None: contextlib.nullcontext())
    namespace = {"momentum_step": optim.momentum_step, "rmsprop_step": optim.rmsprop_step, "adam_step": optim.adam_step,
                 "warmup_cosine_lr": package_schedule, "decoupled_weight_decay": optim.decoupled_weight_decay}
    exec(compile(cells["setup"].source, "<setup of ex04>", "exec"), namespace)  # noqa: S102 (our own notebook)
    for grade_id in EX04_VISIBLE:
        before = len(compared)
        exec(compile(cells[grade_id].source, grade_id, "exec"), namespace)  # noqa: S102
        assert len(compared) > before, grade_id
    # one step and three steps of each update, each with its state; the bias correction's three steps; two schedules;
    # three weight decays
    assert len(compared) == (2 + 2 + 6) + (2 + 6) + (3 + 9) + 3 + 2 + 3


EX05 = ROOT / "solutions" / "ex05" / "batchnorm_dropout.ipynb"
EX05_VISIBLE = ("test_dropout_forward", "test_dropout_backward", "test_batchnorm_forward",
                "test_batchnorm_running_statistics", "test_batchnorm_backward", "test_batchnorm_backward_simplified")


def package_dropout_forward(x, p, training, seed):
    """``dropout_forward`` of ex05, from the package's."""
    return regularization.dropout_forward(x, p, training, rng=seed)


def package_batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    """``batchnorm_forward`` of ex05, from the package's pure pair and its running statistics."""
    out, cache = normalization.batchnorm_forward(x, gamma, beta, eps)
    running = normalization.update_running_statistics(running_mean, running_var, cache["mean"], cache["var"],
                                                      x.shape[0], momentum)
    return (out, cache, *running)


def test_the_values_of_the_batchnorm_and_dropout_tests_are_the_packages(monkeypatch):
    cells = cells_by_id(nbformat.read(EX05, as_version=4))
    compared = []

    def compare(name, actual, expected, batch_size=None, kind="gradient", mistakes=None):
        """In place of grading.check_array: ``actual`` is the package's answer, ``expected`` the test's value."""
        actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
        assert actual.shape == expected.shape, name
        assert relative_error(actual, expected) <= (1e-12 if kind != "numerical" else grading.TOLERANCES[kind]), name
        for description, wrong in (mistakes or {}).items():
            wrong = np.asarray(wrong, dtype=np.float64)
            apart = wrong.shape != expected.shape or np.isnan(wrong).any() or relative_error(wrong, expected) > 1e-6
            assert apart, f"{name}: the mistake {description!r} is the right value"
        compared.append(name)

    monkeypatch.setattr(grading, "check_array", compare)
    monkeypatch.setattr(grading, "own_work", lambda function_name, allowed=None: contextlib.nullcontext())
    namespace = {"dropout_forward": package_dropout_forward, "dropout_backward": regularization.dropout_backward,
                 "batchnorm_forward": package_batchnorm_forward, "batchnorm_backward": normalization.batchnorm_backward,
                 "batchnorm_backward_simplified": normalization.batchnorm_backward_simplified}
    exec(compile(cells["setup"].source, "<setup of ex05>", "exec"), namespace)  # noqa: S102 (our own notebook)
    for grade_id in EX05_VISIBLE:
        before = len(compared)
        with contextlib.redirect_stdout(None):
            exec(compile(cells[grade_id].source, grade_id, "exec"), namespace)  # noqa: S102
        assert len(compared) > before, grade_id
    # dropout: the mask, out, out at inference; dx, against central differences, at inference; batch norm: out and
    # the six entries of the cache, the mean and the standard deviation of a normalized batch; the running averages,
    # once and over three batches; the three gradients of each backward pass
    assert len(compared) == 3 + 3 + (7 + 2) + (2 + 6) + 3 + 3


def test_the_cache_of_the_backward_tests_is_the_packages_and_their_gradients_are_the_derivatives():
    cells = cells_by_id(nbformat.read(EX05, as_version=4))
    namespace = {}
    exec(compile(cells["setup"].source, "<setup of ex05>", "exec"), namespace)  # noqa: S102 (our own notebook)
    x, gamma, beta = namespace["X_SMALL"], namespace["GAMMA_SMALL"], namespace["BETA_SMALL"]
    _, cache = normalization.batchnorm_forward(x, gamma, beta)
    assert set(namespace["CACHE_SMALL"]) == set(cache)
    for key, value in cache.items():
        np.testing.assert_array_equal(namespace["CACHE_SMALL"][key], value, err_msg=key)
    dout = namespace["DOUT_SMALL"]
    numerical = {
        "dx": numerical_gradient_of_output(lambda: normalization.batchnorm_forward(x, gamma, beta)[0], x, dout),
        "dgamma": numerical_gradient_of_output(lambda: normalization.batchnorm_forward(x, gamma, beta)[0], gamma, dout),
        "dbeta": numerical_gradient_of_output(lambda: normalization.batchnorm_forward(x, gamma, beta)[0], beta, dout),
    }
    for grade_id in ("test_batchnorm_backward", "test_batchnorm_backward_simplified"):
        literals = literal_checks(cells[grade_id].source)
        assert set(literals) == set(numerical), grade_id
        for quantity, value in numerical.items():
            assert relative_error(literals[quantity], value) < 1e-8, (grade_id, quantity)


EX06 = ROOT / "solutions" / "ex06" / "conv_pool.ipynb"
EX06_VISIBLE = ("test_conv_forward_naive", "test_conv_backward_dx", "test_conv_backward_dW_db", "test_maxpool_forward",
                "test_maxpool_backward", "test_avgpool_backward", "test_im2col", "test_conv_forward_im2col")


def package_conv_forward(x, W, b, stride=1, padding=0):
    """``conv_forward_naive`` of ex06, from the package's: the cache with the ints it was given."""
    return conv.conv_forward_naive(x, W, b, stride, padding)[0], (x, W, b, stride, padding)


def package_conv_backward(dout, cache):
    x, W, b, stride, padding = cache
    return conv.conv_backward_naive(dout, (x, W, b, (stride, stride), (padding, padding)))


def package_maxpool_forward(x, k, stride=None):
    out, _ = conv.maxpool_forward(x, k, stride)
    return out, {"x": x, "out": out, "kernel": k, "stride": k if stride is None else stride}


def package_maxpool_backward(dout, cache):
    pairs = {"kernel": (cache["kernel"],) * 2, "stride": (cache["stride"],) * 2}
    return conv.maxpool_backward(dout, {**cache, **pairs})


def package_avgpool_backward(dout, cache):
    pairs = {"kernel": (cache["kernel"],) * 2, "stride": (cache["stride"],) * 2}
    return conv.avgpool_backward(dout, {**cache, **pairs})


def package_conv_forward_im2col(cols, W, b, m, H_out, W_out):
    """``conv_forward_im2col`` of ex06, from the package's own pieces: the product of conv_forward."""
    return (cols @ conv.filters_to_columns(W) + b).reshape(m, H_out, W_out, W.shape[0]).transpose(0, 3, 1, 2)


def test_the_values_of_the_convolution_and_pooling_tests_are_the_packages(monkeypatch):
    cells = cells_by_id(nbformat.read(EX06, as_version=4))
    compared = []

    def compare(name, actual, expected, batch_size=None, kind="gradient", mistakes=None):
        """In place of grading.check_array: ``actual`` is the package's answer, ``expected`` the test's value."""
        actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
        assert actual.shape == expected.shape, name
        assert relative_error(actual, expected) <= (1e-12 if kind != "numerical" else grading.TOLERANCES[kind]), name
        for description, wrong in (mistakes or {}).items():
            wrong = np.asarray(wrong, dtype=np.float64)
            apart = wrong.shape != expected.shape or relative_error(wrong, expected) > 1e-6
            assert apart, f"{name}: the mistake {description!r} is the right value"
        compared.append(name)

    monkeypatch.setattr(grading, "check_array", compare)
    monkeypatch.setattr(grading, "own_work", lambda function_name, allowed=None: contextlib.nullcontext())
    namespace = {"conv_forward_naive": package_conv_forward, "conv_backward_naive": package_conv_backward,
                 "maxpool_forward": package_maxpool_forward, "maxpool_backward": package_maxpool_backward,
                 "avgpool_backward": package_avgpool_backward, "im2col": conv.im2col,
                 "conv_forward_im2col": package_conv_forward_im2col}
    exec(compile(cells["setup"].source, "<setup of ex06>", "exec"), namespace)  # noqa: S102 (our own notebook)
    for grade_id in EX06_VISIBLE:
        before = len(compared)
        with contextlib.redirect_stdout(None):
            exec(compile(cells[grade_id].source, grade_id, "exec"), namespace)  # noqa: S102
        assert len(compared) > before, grade_id
    # the convolution on two cases and the chapter's example; dx; db and dW; max pooling's out and cache on four
    # cases; the two poolings' dx on two cases each; im2col on two; the product on two
    assert len(compared) == 3 + 1 + 2 + 4 * 3 + 2 + 2 + 2 + 2


def test_the_chapters_example_gives_the_differences_of_neighbours():
    x = np.array([0.0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4]).reshape(1, 1, 1, 11)
    out, _ = conv.conv_forward_naive(x, np.array([-1.0, 1.0]).reshape(1, 1, 1, 2), np.zeros(1))
    assert out.ravel().tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0]


def test_the_gradients_of_the_convolution_and_pooling_tests_are_the_derivatives():
    """The literal gradients of the visible tests against central differences of the package's forward passes."""
    cells = cells_by_id(nbformat.read(EX06, as_version=4))
    namespace = {}
    exec(compile(cells["setup"].source, "<setup of ex06>", "exec"), namespace)  # noqa: S102 (our own notebook)
    x, W, b = (namespace[name].astype(float) for name in ("X_BACK", "W_BACK", "B_BACK"))
    stride, padding, dout = namespace["STRIDE_BACK"], namespace["PADDING_BACK"], namespace["DOUT_BACK"]
    assert namespace["CACHE_BACK"][3:] == (stride, padding) == (2, 1)

    def forward():
        return conv.conv_forward_naive(x, W, b, stride, padding)[0]

    assert forward().shape == dout.shape
    literals = {**literal_checks(cells["test_conv_backward_dx"].source),
                **literal_checks(cells["test_conv_backward_dW_db"].source)}
    assert set(literals) == {"dx", "dW", "db"}
    for name, value in (("dx", x), ("dW", W), ("db", b)):
        numerical = numerical_gradient_of_output(forward, value, dout)
        assert relative_error(literals[name], numerical) < 1e-8, name
    # the pooling tests: each case's x (or shape), k, stride and dout, executed from the test's own lines
    for grade_id, pooled in (("test_maxpool_backward", conv.maxpool_forward), ("test_avgpool_backward",
                                                                              conv.avgpool_forward)):
        source = cells[grade_id].source
        cases = source.split("\n\n")
        expected = list(literal_checks(source).values())
        assert len(cases) == len(expected) == 2, grade_id
        for case, literal in zip(cases, expected):
            lines = [line for line in case.splitlines() if line.startswith(("x = ", "cache = ", "dout = "))]
            local = {"np": np}
            exec("\n".join(lines), local)  # noqa: S102 (our own notebook)
            cache = local["cache"]
            image = local["x"] if "x" in local else np.random.default_rng(0).standard_normal(cache["x_shape"])
            numerical = numerical_gradient_of_output(lambda: pooled(image, cache["kernel"], cache["stride"])[0], image,
                                                     local["dout"])
            assert relative_error(literal, numerical) < 1e-8, grade_id
