"""The literal values of the visible tests are the package's reference, not numbers typed by hand.

The visible tests of ex03 give the backward passes a cache written out in the
setup cell, and compare each gradient with a literal array. Both must be what
the package's layers compute: the cache from the parameters of the setup cell,
the gradients from that cache. A test here recomputes them and compares.
"""

import ast

import nbformat
import numpy as np
import pytest
from nbgrader_course import ROOT, cells_by_id

from nnbook import layers
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
