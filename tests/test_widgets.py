"""Tests of nnbook/widgets.py: the explorers, driven through their controls as a reader would, without a browser.

Setting ``explorer.controls[name].value`` runs the same callback as moving the
slider; ``button.click()`` the same as pressing the button. Each test checks
the state the explorer computed (with nnbook's own functions) and that the
figure it shows changed.
"""

import base64

import numpy as np
import pytest

from nnbook.activations import network_activations
from nnbook.data import blobs_true_hyperplane, make_blobs
from nnbook.linear_models import Adaline, critical_learning_rate
from nnbook.perceptron import Perceptron
from nnbook.widgets import (
    LIVE_NOTE,
    PLAYGROUND_ACTIVATIONS,
    PLAYGROUND_DATA,
    ActivationExplorer,
    LearningRateExplorer,
    PerceptronStepper,
    Playground,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def blobs_1d():
    X, y = make_blobs(60, margin=0.5, seed=0)
    return X[:, :1] + 1.5, y


@pytest.fixture(scope="module")
def blobs_2d():
    return make_blobs(40, margin=0.05, seed=0)


def test_learning_rate_explorer_runs_adaline_with_the_slider_value(blobs_1d):
    X, y = blobs_1d
    explorer = LearningRateExplorer(X, y, lr=0.05, epochs=10)
    first = explorer.image.value
    assert bytes(first).startswith(PNG_SIGNATURE)
    assert np.isclose(explorer.critical_lr, critical_learning_rate(X))

    explorer.controls["lr"].value = 0.2
    reference = Adaline(lr=0.2, epochs=10, record_params=True).fit(X, y)
    assert explorer.run.lr == 0.2 and not explorer.run.diverged
    assert np.allclose(explorer.run.history["step_loss"], reference.history["step_loss"])
    assert len(explorer.run.history["params"]) == 11
    assert explorer.image.value != first
    assert "converges" in explorer.figure.get_suptitle()


def test_learning_rate_explorer_shows_divergence_above_the_critical_rate(blobs_1d):
    X, y = blobs_1d
    explorer = LearningRateExplorer(X, y, lr=0.05, epochs=100)
    explorer.controls["lr"].value = 1.5 * explorer.critical_lr
    assert explorer.run.diverged
    assert "diverges" in explorer.figure.get_suptitle()


def test_learning_rate_explorer_needs_one_feature(blobs_2d):
    with pytest.raises(ValueError, match="one feature"):
        LearningRateExplorer(*blobs_2d)


def test_perceptron_stepper_ends_where_the_perceptron_class_does(blobs_2d):
    X, y = blobs_2d
    stepper = PerceptronStepper(X, y, seed=3)
    epochs = 0
    while not stepper.converged:
        stepper.controls["epoch"].click()
        epochs += 1
        assert epochs < 200, "the stepper should converge on separable data"
    fitted = Perceptron(seed=3).fit(X, y)
    assert np.array_equal(stepper.w, fitted.w)
    assert stepper.updates == fitted.total_updates
    assert stepper.epoch == len(fitted.log)
    assert "converged" in stepper.figure.get_suptitle()
    assert not stepper.step(), "after convergence a step changes nothing"


def test_perceptron_stepper_buttons_step_update_and_reset(blobs_2d):
    X, y = blobs_2d
    stepper = PerceptronStepper(X, y, separator=np.r_[blobs_true_hyperplane()[1], blobs_true_hyperplane()[0]])
    still = stepper.image.value
    stepper.controls["step"].click()
    assert stepper.position == 1 and stepper.last[0] == stepper.order[0]
    assert stepper.image.value != still

    stepper.controls["update"].click()
    updates = stepper.updates
    assert stepper.last[1] and updates >= 1, "next update stops on an example that changed w"
    assert len(stepper.counts) == stepper.position + 1

    stepper.controls["reset"].click()
    assert stepper.updates == 0 and stepper.last is None and not np.any(stepper.w)
    assert stepper.bound > 0


def test_activation_explorer_slope_matches_a_central_difference():
    explorer = ActivationExplorer("sigmoid", z0=0.0)
    assert np.isclose(explorer.slopes["analytic"], 0.25)
    assert np.isclose(explorer.slopes["numerical"], 0.25, atol=1e-8)
    for name in ("tanh", "softplus", "elu"):
        explorer.controls["name"].value = name
        explorer.controls["z0"].value = -1.3
        assert np.isclose(explorer.slopes["analytic"], explorer.slopes["numerical"], atol=1e-6), name
        assert name in explorer.figure.get_suptitle()


def test_playground_trains_the_network_of_its_controls():
    playground = Playground(dataset="XOR", hidden_units=4, activation="tanh", lr=0.3, epochs=40, m=120)
    assert not playground.diverged and len(playground.history.loss) == 41
    assert playground.history.accuracy[-1] >= 0.95, "a 2-4-2 tanh network solves XOR"
    assert playground.model.layers[0].params["W"].shape == (4, 2)

    still = playground.image.value
    playground.controls["activation"].value = "identity"
    assert playground.history.accuracy[-1] < 0.8, "a linear network cannot solve XOR"
    assert playground.image.value != still

    playground.controls["hidden_units"].value = 7
    assert playground.model.layers[0].params["W"].shape == (7, 2)
    probabilities = playground.predict_proba(playground.X)
    assert probabilities.shape == (120,) and np.all((probabilities >= 0) & (probabilities <= 1))


def test_playground_reports_divergence_instead_of_raising():
    playground = Playground(dataset="spirals", activation="identity", lr=10.0, epochs=30, m=200)
    assert playground.diverged and playground.history.diverged  # fit reported it; nothing was raised
    assert 1 <= playground.history.diverged_epoch <= 30
    assert "diverged" in playground.figure.get_suptitle()


def test_playground_offers_every_data_set_and_activation():
    assert set(PLAYGROUND_DATA) == {"moons", "circles", "XOR", "spirals", "blobs"}
    assert PLAYGROUND_ACTIVATIONS == network_activations()  # from the one activation registry
    for name, make in PLAYGROUND_DATA.items():
        X, y = make(50, 0)
        assert X.shape == (50, 2) and set(np.unique(y)) == {0, 1}, name
    playground = Playground(epochs=2, m=40)
    for activation in PLAYGROUND_ACTIVATIONS:
        playground.controls["activation"].value = activation
        assert len(playground.history.loss) == 3, activation


def test_the_static_view_is_the_figure_and_a_note_on_running_it_live():
    explorer = ActivationExplorer()
    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    assert base64.b64decode(bundle["image/png"]) == explorer.image.value
    assert bundle["image/png"] in bundle["text/html"]
    assert LIVE_NOTE in bundle["text/html"]
    assert bundle["text/plain"]
