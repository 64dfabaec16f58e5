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
from nnbook.layers import mlp
from nnbook.losses import mse
from nnbook.optim import SGD
from nnbook.regularization import L2
from nnbook.train import fit
from nnbook.widgets import (
    LIVE_NOTE,
    PLAYGROUND_ACTIVATIONS,
    PLAYGROUND_DATA,
    PLAYGROUND_DATASETS,
    PLAYGROUND_FEATURES,
    PLAYGROUND_PROBLEMS,
    ActivationExplorer,
    LearningRateExplorer,
    PerceptronStepper,
    Playground,
    make_bumps,
    make_plane,
    playground_features,
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
    playground = Playground(dataset="XOR", hidden_units=4, activation="tanh", lr=0.3, epochs=40, m=120,
                            batch_size=8, train_fraction=0.7, frames=1)
    assert not playground.diverged and len(playground.history.loss) == 41 == len(playground.history.val_loss)
    assert playground.history.accuracy[-1] >= 0.95, "a 2-4-2 tanh network solves XOR"
    assert playground.history.val_accuracy[-1] >= 0.95, "and generalizes to the test points"
    assert playground.model.layers[0].params["W"].shape == (4, 2)
    assert len(playground.split.X_train) == 84 and len(playground.split.X_test) == 36

    still = playground.image.value
    playground.controls["activation"].value = "identity"
    assert playground.history.accuracy[-1] < 0.8, "a linear network cannot solve XOR"
    assert playground.image.value != still

    playground.controls["feature x1x2"].value = True
    assert playground.features == ["x1", "x2", "x1x2"]
    assert playground.model.layers[0].params["W"].shape == (4, 3)
    assert playground.history.val_accuracy[-1] >= 0.95, "with x1·x2 as an input, a linear network solves XOR"

    playground.controls["units 1"].value = 7
    assert playground.model.layers[0].params["W"].shape == (7, 3)
    probabilities = playground.predict_proba(playground.X)
    assert probabilities.shape == (120,) and np.all((probabilities >= 0) & (probabilities <= 1))


def test_playground_layer_controls_add_and_remove_hidden_layers():
    playground = Playground(hidden_layers=(3,), epochs=2, m=40, frames=1)
    assert playground.hidden_layers == (3,)
    assert [playground.controls[f"units {i}"].layout.display for i in (1, 2)] == [None, "none"]
    playground.controls["layers"].value = 3
    assert playground.hidden_layers == (3, 4, 4)
    assert playground.controls["units 3"].layout.display is None and playground.controls["units 4"].layout.display == "none"
    shapes = [W.shape for name, W, _ in playground.model.params_and_grads() if name.endswith(".W")]
    assert shapes == [(3, 2), (4, 3), (4, 4), (2, 4)]
    playground.controls["layers"].value = 0
    assert playground.hidden_layers == () and len(playground.model.layers) == 1, "no hidden layer: a linear model"


def test_playground_takes_the_keywords_of_the_frameworks_chapter():
    playground = Playground(dataset="spirals", hidden_layers=(8, 8), activation="tanh", lr=0.03, epochs=200)
    shapes = [W.shape for name, W, _ in playground.model.params_and_grads() if name.endswith(".W")]
    assert shapes == [(8, 2), (8, 8), (2, 8)]
    assert len(playground.history.loss) == 201 and playground.history.loss[-1] < playground.history.loss[0]
    assert Playground(hidden_units=5, epochs=1, m=40).hidden_layers == (5,)


@pytest.mark.parametrize("kwargs, message", [
    ({"hidden_layers": (9,)}, "at most 6 widths, each an integer from 1 to 8"),
    ({"hidden_layers": (2,) * 7}, "at most 6 widths"),
    ({"hidden_layers": (2,), "hidden_units": 2}, "not both"),
    ({"features": ()}, "at least one input feature"),
    ({"features": ("x3",)}, "unknown input feature 'x3'"),
    ({"dataset": "plane", "problem": "classification"}, "regression data set"),
    ({"regularization": "L3"}, "regularization must be one of"),
    ({"activation": "softmax"}, "unknown activation"),
    ({"reg_rate": 30.0}, "reg_rate must be a number from 0.0001 to 10"),
    ({"epochs": 0}, "epochs must be a number from 1 to 500"),
])
def test_playground_rejects_impossible_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Playground(**kwargs)


def test_playground_features_are_the_columns_asked_for_in_order():
    X = np.array([[1.0, 2.0], [-0.5, 0.0], [3.0, -1.0]])
    F = playground_features(X, ["x1", "x2", "x1^2", "x2^2", "x1x2", "sin x1", "sin x2"])
    assert F.shape == (3, 7)
    expected = np.column_stack([X[:, 0], X[:, 1], X[:, 0] ** 2, X[:, 1] ** 2, X[:, 0] * X[:, 1],
                                np.sin(X[:, 0]), np.sin(X[:, 1])])
    np.testing.assert_allclose(F, expected)
    np.testing.assert_allclose(playground_features(X, ["sin x₂", "x₁"]), np.column_stack([np.sin(X[:, 1]), X[:, 0]]))
    assert set(PLAYGROUND_FEATURES) == {"x1", "x2", "x1^2", "x2^2", "x1x2", "sin x1", "sin x2"}
    with pytest.raises(ValueError, match="at least one input feature"):
        playground_features(X, [])
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        playground_features(np.zeros((3, 3)), ["x1"])


def test_playground_without_features_says_so_instead_of_raising():
    playground = Playground(epochs=2, m=40, frames=1)
    for name in ("x1", "x2"):
        playground.controls[f"feature {name}"].value = False
    assert playground.features == [] and playground.model is None
    assert "at least one" in playground.message and "input feature" in playground.figure.get_suptitle()
    playground.controls["feature sin x1"].value = True
    assert playground.message is None and playground.model.layers[0].params["W"].shape == (4, 1)


def test_playground_classification_is_nnbook_fit_with_the_penalty_and_the_test_curve():
    playground = Playground("moons", hidden_layers=(5,), activation="relu", lr=0.1, epochs=12, m=80, batch_size=8,
                            regularization="L2", reg_rate=0.5, train_fraction=0.6, features=("x1", "x2", "x1x2"),
                            frames=1)
    split = playground.split
    features = ["x1", "x2", "x1x2"]
    model = mlp((3, 5, 2), "relu", seed=0)
    reference = fit(model, playground_features(split.X_train, features), split.y_train, SGD(0.1), epochs=12,
                    batch_size=8, X_val=playground_features(split.X_test, features), y_val=split.y_test, seed=0,
                    progress=False, penalty=L2(0.5))
    np.testing.assert_allclose(playground.history.loss, reference.loss)
    np.testing.assert_allclose(playground.history.val_loss, reference.val_loss)
    np.testing.assert_allclose(playground.history.step_loss, reference.step_loss)
    np.testing.assert_allclose(playground.model.layers[0].params["W"], model.layers[0].params["W"])


def test_playground_trains_in_chunks_and_redraws_between_them_when_live():
    playground = Playground("moons", epochs=9, m=60, frames=3)
    assert len(playground.history.loss) == 10 == len(playground.history.val_accuracy)
    frames = []
    playground.image.observe(lambda change: frames.append(change["new"]), names="value")
    playground.controls["lr"].value = 0.1
    assert len(frames) == 3, "two pictures during training, one at the end"
    assert len(set(frames)) == 3


def test_playground_regression_with_l2_ends_at_the_ridge_solution():
    """No hidden layer and the identity: a linear model, trained to the minimum of ``J + λ/(2m) ‖w‖²``.

    With the bias unpenalized that minimum is ridge regression on centred data,
    ``w = (X̃ᵀX̃ + λI)⁻¹ X̃ᵀỹ`` (``X̃``, ``ỹ`` centred), ``b = ȳ − x̄ · w``.
    """
    norms = []
    for lam in (1e-4, 10.0):
        playground = Playground("plane", hidden_layers=(), activation="identity", lr=0.1, epochs=300,
                                batch_size=100, regularization="L2", reg_rate=lam, frames=1)
        X, y = playground.split.X_train, playground.split.y_train
        Xc, yc = X - X.mean(axis=0), y - y.mean()
        w = np.linalg.solve(Xc.T @ Xc + lam * np.eye(2), Xc.T @ yc)
        layer = playground.model.layers[0]
        np.testing.assert_allclose(layer.params["W"][0], w, atol=1e-6)
        np.testing.assert_allclose(layer.params["b"][0], y.mean() - X.mean(axis=0) @ w, atol=1e-6)
        J, _ = mse(playground.model.forward(X), y[:, None])
        assert np.isclose(playground.history.loss[-1], J)
        norms.append(np.linalg.norm(layer.params["W"]))
    assert norms[1] < norms[0] - 0.03, "a large λ shrinks the weights"


def test_playground_l1_drives_useless_weights_to_zero():
    """The target is ``(x1 + 2 x2)/3``: x1², x2², x1x2 explain only noise, and L1 pins their weights at 0.

    Subgradient descent then oscillates around 0 by about ``lr · λ/m`` a step (m = 100 training points).
    """
    lr, lam, m = 0.05, 3.0, 100
    kwargs = {"hidden_layers": (), "activation": "identity", "lr": lr, "epochs": 200, "batch_size": 100,
              "features": ("x1", "x2", "x1^2", "x2^2", "x1x2"), "frames": 1}
    plain = Playground("plane", regularization="L1", reg_rate=1e-4, **kwargs)
    sparse = Playground("plane", regularization="L1", reg_rate=lam, **kwargs)
    W_plain, W_sparse = plain.model.layers[0].params["W"][0], sparse.model.layers[0].params["W"][0]
    assert np.abs(W_sparse[2:]).max() < 2 * lr * lam / m < np.abs(W_plain[2:]).max()
    assert np.sum(np.abs(W_sparse)) < np.sum(np.abs(W_plain))


def test_playground_switches_to_regression_and_draws_the_predicted_value():
    playground = Playground(epochs=30, m=80, frames=1)
    playground.controls["problem"].value = "regression"
    assert list(playground.controls["dataset"].options) == PLAYGROUND_PROBLEMS["regression"] == ["plane", "bumps"]
    assert playground.value("dataset") == "plane" and playground.y.dtype.kind == "f"
    assert playground.model.layers[-1].params["W"].shape[0] == 1
    assert playground.history.accuracy == [] and playground.history.loss[-1] < playground.history.loss[0]
    G = np.array([[0.0, 0.0], [1.0, -1.0]])
    np.testing.assert_allclose(playground.output(G), playground.model.forward(G)[:, 0])
    assert "test cost" in playground.figure.get_suptitle() and "accuracy" not in playground.figure.get_suptitle()
    playground.controls["dataset"].value = "bumps"
    assert playground.value("problem") == "regression"


def test_playground_unit_outputs_are_the_layers_of_the_network():
    playground = Playground("circles", hidden_layers=(3, 2), activation="tanh", epochs=5, m=60,
                            features=("x1", "x2", "x1^2"))
    G = np.array([[0.1, 0.2], [-1.0, 0.5], [0.3, -0.7], [2.0, 2.0]])
    outputs = playground.unit_outputs(G)
    assert [a.shape for a in outputs] == [(4, 3), (4, 3), (4, 2), (4, 2)]
    first = playground.model.layers[0].params
    np.testing.assert_allclose(outputs[1], np.tanh(outputs[0] @ first["W"].T + first["b"]))
    np.testing.assert_allclose(outputs[-1].sum(axis=1), 1.0)
    np.testing.assert_allclose(playground.predict_proba(G), outputs[-1][:, 1])
    images = playground.figure.axes[0].get_images()
    assert len(images) == 3 + 3 + 2 + 2, "one heatmap per input feature, hidden unit and output"


def test_playground_reports_divergence_instead_of_raising():
    playground = Playground(dataset="spirals", activation="identity", lr=10.0, epochs=30, m=200)
    assert playground.diverged and playground.history.diverged  # fit reported it; nothing was raised
    assert 1 <= playground.history.diverged_epoch <= 30
    assert "diverged" in playground.figure.get_suptitle()
    regression = Playground(dataset="bumps", activation="relu", hidden_layers=(8, 8), lr=10.0, epochs=30)
    assert regression.diverged and "diverged" in regression.figure.get_suptitle()


def test_playground_offers_every_data_set_and_activation():
    assert set(PLAYGROUND_DATA) == {"moons", "circles", "XOR", "spirals", "blobs"}
    assert PLAYGROUND_ACTIVATIONS == network_activations()  # from the one activation registry
    for name, make in PLAYGROUND_DATA.items():
        X, y = make(50, 0)
        assert X.shape == (50, 2) and set(np.unique(y)) == {0, 1}, name
        problem, make_noisy, noise = PLAYGROUND_DATASETS[name]
        assert problem == "classification"
        np.testing.assert_array_equal(make_noisy(50, noise, 0)[0], X)
    for name in PLAYGROUND_PROBLEMS["regression"]:
        X, y = PLAYGROUND_DATASETS[name][1](50, 0.0, 0)
        assert X.shape == (50, 2) and y.shape == (50,) and y.dtype.kind == "f" and np.all(np.abs(X) <= 2), name
    X, y = make_plane(50, noise=0.0)
    np.testing.assert_allclose(y, (X[:, 0] + 2 * X[:, 1]) / 3)
    X, y = make_bumps(50, noise=0.0)
    np.testing.assert_allclose(y, np.exp(-((X - 1) ** 2).sum(axis=1)) - np.exp(-((X + 1) ** 2).sum(axis=1)))
    playground = Playground(epochs=2, m=40, frames=1)
    for activation in PLAYGROUND_ACTIVATIONS:
        playground.controls["activation"].value = activation
        assert len(playground.history.loss) == 3, activation


def test_playground_static_view_has_a_caption():
    playground = Playground(dataset="spirals", hidden_layers=(8, 8), epochs=5)
    text = playground._repr_mimebundle_()["text/html"]
    assert "The playground on the spirals data (classification" in text and LIVE_NOTE in text
    assert base64.b64encode(playground.image.value).decode() in text


def test_the_static_view_is_the_figure_and_a_note_on_running_it_live():
    explorer = ActivationExplorer()
    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    assert base64.b64decode(bundle["image/png"]) == explorer.image.value
    assert bundle["image/png"] in bundle["text/html"]
    assert LIVE_NOTE in bundle["text/html"]
    assert bundle["text/plain"]
