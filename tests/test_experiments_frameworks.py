"""The numbers and claims of the chapter *From numpy to frameworks*, checked again.

``book/frameworks.md`` and these tests call the same functions of
:mod:`nnbook.experiments_frameworks` with the same settings. The trainings run
once per module (a fixture): a few seconds.
"""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from nnbook.experiments import LOGISTIC_LEAST_SQUARES_POINT, logistic_least_squares
from nnbook.experiments_frameworks import (
    FRAMEWORKS_SETTINGS,
    KERAS_LOSSES_EXAMPLE,
    frameworks_data,
    keras_losses_versus_nnbook,
    old_api_messages,
    three_gradients,
    three_models,
    three_trainings,
    two_engines,
)
from nnbook.frameworks import max_relative_difference
from optional import import_torch

pytestmark = pytest.mark.ch10

torch = import_torch()
try:
    from nnbook.frameworks import import_keras

    keras = import_keras()
except ImportError:
    if os.environ.get("NNBOOK_REQUIRE_TORCH"):
        raise
    pytest.skip("keras is not installed", allow_module_level=True)

PAGE = Path(__file__).resolve().parents[1] / "book" / "frameworks.md"


@pytest.fixture(scope="module")
def runs():
    return three_trainings(FRAMEWORKS_SETTINGS)


def test_the_settings_are_those_the_page_states():
    s = FRAMEWORKS_SETTINGS
    assert s["sizes"] == (784, 64, 10) and s["activation"] == "relu"
    assert (s["n_train"], s["batch_size"], s["epochs"], s["lr"]) == (1024, 64, 5, 0.1)
    assert s["n_train"] % s["batch_size"] == 0  # sixteen full batches per epoch, as the page says
    text = PAGE.read_text()
    for phrase in ("first 1,024", "5 epochs", "mini-batches of 64", "learning\nrate of 0.1", "16 mini-batches"):
        assert phrase in text, phrase
    X, y = frameworks_data()
    assert X.shape == (1024, 784) and X.dtype == np.float64 and y.shape == (1024,)


def test_the_three_models_start_from_the_same_weights():
    model, torch_model, keras_model = three_models()
    W = model.layers[0].params["W"]
    np.testing.assert_array_equal(torch_model[0].weight.detach().numpy(), W)
    np.testing.assert_array_equal(keras_model.layers[0].get_weights()[0], W.T)


def test_the_gradients_agree_to_float64_for_torch_and_float32_for_keras():
    gradients = three_gradients()
    reference = gradients["nnbook"][1]
    torch_error = max_relative_difference(gradients["torch"][1], reference)
    keras_error = max_relative_difference(gradients["keras"][1], reference)
    assert torch_error <= 1e-14, torch_error  # "of order 1e-16"
    assert 1e-9 < keras_error <= 1e-6, keras_error  # "about 1e-7, the precision of float32"
    J = gradients["nnbook"][0]
    assert abs(gradients["torch"][0] - J) <= 1e-15 * J
    assert 1e-10 < abs(gradients["keras"][0] - J) / J <= 1e-6  # "only about 8 correct digits"


def test_the_three_trainings_follow_the_same_curve(runs):
    losses = runs["loss"]
    nnbook = np.array(losses["nnbook"])
    assert len(nnbook) == FRAMEWORKS_SETTINGS["epochs"] + 1
    assert nnbook[-1] < 0.25 * nnbook[0]  # it trains
    torch_gap = np.abs(np.array(losses["PyTorch"]) - nnbook) / nnbook
    keras_gap = np.abs(np.array(losses["Keras"]) - nnbook) / nnbook
    assert torch_gap.max() <= 20 * np.finfo(np.float64).eps  # "within a few float64 roundings"
    assert keras_gap.max() <= np.finfo(np.float32).eps  # "near 1e-8", below float32's rounding
    assert keras_gap.max() > 1e-11  # and not float64's


def test_the_trained_weights_and_the_batch_costs_agree(runs):
    weights = runs["weights"]
    assert max_relative_difference(weights["PyTorch"], weights["nnbook"]) <= 1e-13
    assert max_relative_difference(weights["Keras"], weights["nnbook"]) <= 1e-6
    steps = runs["step_loss"]
    assert len(steps["nnbook"]) == len(steps["PyTorch"]) == 16 * FRAMEWORKS_SETTINGS["epochs"]
    assert np.max(np.abs(np.array(steps["PyTorch"]) - steps["nnbook"])) <= 1e-14


def test_two_engines_and_calculus_agree_on_the_chapter_5_example():
    engines = two_engines()
    p = LOGISTIC_LEAST_SQUARES_POINT
    calculus = logistic_least_squares(p["w"], p["b"], p["x"], p["y"])
    np.testing.assert_allclose(engines["nnbook"], calculus, rtol=1e-15, atol=0)
    np.testing.assert_allclose(engines["torch"], calculus, rtol=1e-15, atol=0)
    L_t, w_t, b_t = engines["torch_graph"]
    assert type(L_t.grad_fn).__name__ == "MulBackward0" and w_t.grad.item() == engines["torch"][1]


def test_keras_losses_equal_nnbooks_for_the_label_format_each_expects():
    rows = keras_losses_versus_nnbook()
    assert [row[0] for row in rows] == ["binary_crossentropy", "categorical_crossentropy",
                                        "sparse_categorical_crossentropy"]
    assert [row[4] for row in rows] == ["binary_cross_entropy", "softmax_cross_entropy_onehot",
                                        "softmax_cross_entropy"]
    formats = [np.asarray(row[2]) for row in rows]
    assert formats[0].shape == (4, 1) and set(np.unique(formats[0])) <= {0, 1}
    assert formats[1].shape == (4, 3) and np.all(formats[1].sum(axis=1) == 1)
    assert formats[2].shape == (4,) and formats[2].dtype.kind == "i"
    binary, categorical, sparse = rows
    assert abs(binary[3] - binary[5]) <= 1e-7 * binary[5]  # "about 1e-9": a float32 mean
    assert categorical[3] == pytest.approx(categorical[5], rel=1e-14)
    assert sparse[3] == pytest.approx(sparse[5], rel=1e-14)
    assert sparse[5] == categorical[5]  # two formats of the same labels, one number
    assert KERAS_LOSSES_EXAMPLE["Z"].shape == (4, 3)


def test_the_old_calls_answer_with_the_modern_replacement():
    answers = dict(old_api_messages())
    assert "reduction='sum'" in answers["MSELoss(size_average=False)"]
    assert "torch.no_grad()" in answers["Variable(x, volatile=True)"]
    assert "tensor.item()" in answers["loss.data[0]"]
    assert answers["Variable(x, requires_grad=True)"] == "runs, returns a torch.Tensor"
    assert "Input(shape)" in answers["Dense(64, input_dim=784)"]
    assert answers["keras.optimizers.SGD(lr=0.1)"].startswith("ValueError")


def test_the_page_has_the_playground_cell_and_the_graded_pointer():
    text = PAGE.read_text()
    assert ('from nnbook.widgets import Playground\n\nPlayground(dataset="spirals", hidden_layers=(8, 8), '
            'activation="tanh", lr=0.03, epochs=200)') in text
    assert re.search(r"^## A playground$", text, flags=re.M)
    assert "{graded-exercise}`ex05`" in text and "not available to\ngraded code" in text
