"""Tests of nnbook/train.py (training_loop, fit, evaluate, History) and of the in-place SGD of nnbook/optim.py
that fit drives."""

import warnings

import numpy as np
import pytest

from nnbook import layers, losses
from nnbook.layers import Linear, ReLU, Sequential, mlp
from nnbook.optim import SGD
from nnbook.train import History, evaluate, fit, training_loop

pytestmark = pytest.mark.ch06


def two_blobs(m_per_class=40, seed=0):
    """Two well-separated Gaussian blobs in 2-D, labels 0 and 1, shuffled."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal((-2.0, -2.0), 0.5, (m_per_class, 2)), rng.normal((2.0, 2.0), 0.5, (m_per_class, 2))])
    y = np.repeat([0, 1], m_per_class)
    order = rng.permutation(len(y))
    return X[order], y[order]


XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_y = np.array([0, 1, 1, 0])


class Spy(layers.Layer):
    """An identity layer that records the mode it ran in (``training``) at each forward."""

    def __init__(self):
        super().__init__()
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return x

    def backward(self, dout):
        return dout


def test_fit_separates_two_blobs():
    X, y = two_blobs()
    model = layers.mlp((2, 4, 2), "tanh", seed=0)
    history = fit(model, X, y, SGD(lr=0.3), epochs=15, batch_size=16, progress=False)
    assert history.loss[-1] < 0.2 * history.loss[0]
    assert history.accuracy[-1] == 1.0
    J, accuracy = evaluate(model, X, y)
    assert J == history.loss[-1] and accuracy == 1.0


def test_fit_learns_xor_with_a_hidden_layer():
    model = layers.mlp((2, 4, 2), "tanh", seed=0)
    history = fit(model, XOR_X, XOR_y, SGD(lr=0.5), epochs=1000, batch_size=4, progress=False)
    assert history.loss[0] > 0.5
    assert history.loss[-1] < 0.05
    assert history.accuracy[-1] == 1.0
    np.testing.assert_array_equal(np.argmax(model.forward(XOR_X), axis=1), XOR_y)


def test_same_seed_gives_the_same_history_and_another_seed_does_not():
    X, y = two_blobs()

    def run(seed):
        return fit(layers.mlp((2, 3, 2), "relu", seed=0), X, y, SGD(lr=0.1), epochs=3, batch_size=8, seed=seed,
                   progress=False)

    first, again, other = run(seed=1), run(seed=1), run(seed=2)
    assert first == again
    assert first.loss[0] == other.loss[0]  # same initial weights
    assert first.loss[1:] != other.loss[1:]  # the examples came in another order


def test_fit_accepts_lists():
    X, y = two_blobs(m_per_class=5)
    from_arrays = fit(layers.mlp((2, 3, 2), seed=0), X, y, SGD(), epochs=2, batch_size=4, progress=False)
    from_lists = fit(layers.mlp((2, 3, 2), seed=0), X.tolist(), y.tolist(), SGD(), epochs=2, batch_size=4,
                     progress=False)
    assert from_lists == from_arrays


def test_progress_false_prints_nothing_and_true_shows_a_bar(capsys):
    X, y = two_blobs(m_per_class=5)
    fit(layers.mlp((2, 3, 2)), X, y, SGD(), epochs=2, progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    fit(layers.mlp((2, 3, 2)), X, y, SGD(), epochs=2, progress=True)
    assert "epochs" in capsys.readouterr().err


def test_history_has_one_entry_before_training_and_one_per_epoch():
    X, y = two_blobs(m_per_class=10)
    X_val, y_val = two_blobs(m_per_class=4, seed=1)
    model = layers.mlp((2, 3, 2), seed=0)
    before = evaluate(model, X, y)
    history = fit(model, X, y, SGD(), epochs=3, batch_size=5, X_val=X_val, y_val=y_val, progress=False)
    assert isinstance(history, History)
    for records in (history.loss, history.accuracy, history.val_loss, history.val_accuracy):
        assert len(records) == 4
    assert (history.loss[0], history.accuracy[0]) == before
    assert (history.val_loss[-1], history.val_accuracy[-1]) == evaluate(model, X_val, y_val)

    without_validation = fit(layers.mlp((2, 3, 2)), X, y, SGD(), epochs=2, progress=False)
    assert len(without_validation.loss) == 3 and without_validation.val_loss == []
    assert len(fit(layers.mlp((2, 3, 2)), X, y, SGD(), epochs=0, progress=False).loss) == 1


def test_fit_trains_in_training_mode_and_records_in_inference_mode():
    X, y = two_blobs(m_per_class=4)
    spy = Spy()
    model = layers.Sequential(layers.Linear(2, 2, seed=0), spy)
    fit(model, X, y, SGD(), epochs=1, batch_size=8, progress=False)
    # record (1 batch), epoch (1 batch of 8), record (1 batch)
    assert spy.modes == [False, True, False]
    assert model.training and spy.training


def test_fit_rejects_bad_inputs():
    X, y = two_blobs(m_per_class=3)
    with pytest.raises(ValueError, match=r"X must have 2 or more dimensions, examples first .* got shape \(6,\)"):
        fit(layers.mlp((2, 2)), X[:, 0], y, SGD(), progress=False)
    with pytest.raises(ValueError, match="X has 6 examples .* but y has 5"):
        fit(layers.mlp((2, 2)), X, y[:5], SGD(), progress=False)
    with pytest.raises(ValueError, match="pass both X_val and y_val"):
        fit(layers.mlp((2, 2)), X, y, SGD(), X_val=X, progress=False)
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains 1 non-finite value\(s\).*index \(2, 1\)"):
        fit(layers.mlp((2, 2)), X, y, SGD(), progress=False)


def test_evaluate_averages_over_batches_of_any_size():
    X, y = two_blobs(m_per_class=5)
    model = layers.mlp((2, 3, 2), seed=4)
    Z = model.forward(X)
    J = layers.SoftmaxCrossEntropy().forward(Z, y)
    accuracy = np.mean(np.argmax(Z, axis=1) == y)
    for batch_size in (1, 3, 10, 1024):
        J_batched, accuracy_batched = evaluate(model, X, y, batch_size=batch_size)
        assert J_batched == pytest.approx(J, rel=1e-12)
        assert accuracy_batched == accuracy
    with pytest.raises(ValueError, match="zero examples"):
        evaluate(model, X[:0], y[:0])


def test_evaluate_runs_in_inference_mode_and_restores_the_mode():
    X, y = two_blobs(m_per_class=3)
    spy = Spy()
    model = layers.Sequential(layers.Linear(2, 2), spy)
    evaluate(model, X, y)
    assert spy.modes == [False]
    assert model.training and spy.training

    model.train(False)
    evaluate(model, X, y)
    assert not model.training and not spy.training  # it was in inference mode: it stays there

    model.train(True)
    with pytest.raises(ValueError):  # labels out of range: the loss fails half-way
        evaluate(model, X, y + 5)
    assert model.training and spy.training


def test_sgd_updates_the_layers_own_arrays_in_place():
    rng = np.random.default_rng(0)
    model = layers.mlp((3, 4, 2), "tanh", seed=0)
    first = model.layers[0]
    W = first.params["W"]
    W_before = W.copy()
    model.backward(rng.standard_normal(model.forward(rng.standard_normal((5, 3))).shape))
    expected = {name: param - 0.05 * grad for name, param, grad in model.params_and_grads()}
    SGD(lr=0.05).step(model)
    assert first.params["W"] is W  # the very same array, changed
    for name, param, _ in model.params_and_grads():
        np.testing.assert_allclose(param, expected[name], rtol=1e-15, err_msg=name)
    assert not np.array_equal(W, W_before)


def test_sgd_errors():
    model = layers.Sequential(layers.Linear(3, 2))
    model.layers[0].grads["W"] = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"gradient of 0.W has shape \(3, 2\), the parameter has \(2, 3\)"):
        SGD(lr=0.1).step(model)
    for bad in (0, -0.1, float("nan"), None):
        with pytest.raises(ValueError, match="lr must be a finite number > 0"):
            SGD(lr=bad)


def test_fit_checks_the_labels_once_before_training():
    X, y = two_blobs(m_per_class=3)
    model = layers.mlp((2, 2), seed=0)
    W = model.layers[0].params["W"].copy()
    with pytest.raises(ValueError, match="y must be a 1-D array of integer labels, got dtype float64"):
        fit(model, X, y.astype(float), SGD(), progress=False)
    with pytest.raises(ValueError, match="y must hold labels 0, 1, …, K−1, found -1"):
        fit(model, X, y - 1, SGD(), progress=False)
    with pytest.raises(ValueError, match="y holds the label 2 but the model scores 2 classes, 0 to 1"):
        fit(model, X, np.where(y == 1, 2, 0), SGD(), progress=False)
    with pytest.raises(ValueError, match="y holds the label 3 but the model scores 2 classes"):
        fit(model, X, y, SGD(), X_val=X, y_val=y + 2, progress=False)
    with pytest.raises(TypeError, match="X must be a numeric array"):
        fit(model, X.astype(object), y, SGD(), progress=False)
    np.testing.assert_array_equal(model.layers[0].params["W"], W)  # refused before the first step


def test_the_loss_inside_fit_does_not_check_each_mini_batch(monkeypatch):
    X, y = two_blobs(m_per_class=8)
    calls = []
    original = losses.softmax_cross_entropy
    monkeypatch.setattr(losses, "softmax_cross_entropy", lambda *a: calls.append(1) or original(*a))
    history = fit(layers.mlp((2, 3, 2), seed=0), X, y, SGD(), epochs=2, batch_size=4, progress=False)
    assert calls == [] and len(history.step_loss) == 8  # the checked function never ran


def test_fit_accepts_images_with_the_batch_first():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    images = rng.normal(size=(40, 1, 3, 3)) * 0.3 + y[:, None, None, None]  # (m, C, H, W): class 1 is brighter
    model = layers.Sequential(layers.Flatten(), layers.Linear(9, 2, seed=0))
    history = fit(model, images, y, SGD(lr=0.5), epochs=20, batch_size=8, X_val=images[:10], y_val=y[:10],
                  progress=False)
    assert history.accuracy[-1] == 1.0 and history.loss[-1] < history.loss[0]
    assert evaluate(model, images, y) == (history.loss[-1], history.accuracy[-1])


def test_fit_skips_the_gradient_of_the_data_and_restores_input_grad():
    X, y = two_blobs(m_per_class=4)
    before_first = Spy()
    model = layers.Sequential(before_first, layers.Linear(2, 3, seed=0), layers.Tanh(), layers.Linear(3, 2, seed=1))
    backward_calls = []
    before_first.backward = lambda dout: backward_calls.append(dout) or dout
    fit(model, X, y, SGD(), epochs=2, batch_size=4, progress=False)
    assert backward_calls == [], "the first layer with parameters returned no dx: nothing before it runs backward"
    assert model.input_grad and model.layers[1].input_grad  # as it was before fit
    model.forward(X)
    assert model.backward(np.ones((8, 2))).shape == X.shape  # a gradient check of the input still works

    lean = layers.mlp((2, 3, 2), seed=0, input_grad=False)
    fit(lean, X, y, SGD(), epochs=1, progress=False)
    assert not lean.input_grad


def test_fit_reports_divergence_in_its_history_instead_of_raising():
    X, y = two_blobs(m_per_class=20)
    X = X * 100
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning escapes either
        history = fit(layers.mlp((2, 16, 2), "identity", seed=0), X, y, SGD(lr=50.0), epochs=30, batch_size=8,
                      progress=False)
    assert history.diverged and 1 <= history.diverged_epoch < 30
    assert not np.isfinite(history.step_loss[-1]) or not np.isfinite(history.loss[-1])
    assert len(history.loss) <= history.diverged_epoch + 1  # stopped in the epoch it diverged
    calm = fit(layers.mlp((2, 3, 2), seed=0), X / 100, y, SGD(), epochs=2, progress=False)
    assert not calm.diverged and calm.diverged_epoch is None


def test_the_history_is_measured_on_a_bounded_sample():
    X, y = two_blobs(m_per_class=50)
    spy = Spy()
    rows = []
    spy.forward = lambda x: (rows.append((spy.training, len(x))), x)[1]
    model = layers.Sequential(layers.Linear(2, 2, seed=0), spy)
    history = fit(model, X, y, SGD(), epochs=2, batch_size=100, history_sample=30, progress=False)
    assert [n for training, n in rows if not training] == [30, 30, 30]  # before training and after each epoch
    assert [n for training, n in rows if training] == [100, 100]

    def run(sample):
        return fit(layers.mlp((2, 3, 2), seed=0), X, y, SGD(), epochs=1, history_sample=sample, progress=False)

    assert run(30) == run(30) and run(30).loss != run(None).loss  # the same 30 examples each time
    assert run(None) == run(1000) == run(100)  # the whole set when the sample would not be smaller
    assert run(None).loss[0] == evaluate(layers.mlp((2, 3, 2), seed=0), X, y)[0]
    assert run(30).step_loss == run(None).step_loss  # the sample does not change the training


def test_history_reads_like_a_dict_too():
    history = History(loss=[1.0, 0.5], step_loss=[0.9])
    assert history["loss"] is history.loss and history["step_loss"] == [0.9]
    assert "loss" in history and "params" not in history and "diverged" in history
    assert set(history.keys()) == {"loss", "accuracy", "val_loss", "val_accuracy", "step_loss", "diverged"}
    with pytest.raises(KeyError):
        history["params"]
    assert "params" in History(params=[{}])


def test_training_loop_steps_updates_records_and_stops_on_divergence():
    events = []
    costs = iter([3.0, 2.0, 1.0, 5e3, 7.0])

    def step(batch):
        events.append(("step", len(batch)))
        return next(costs)

    def record():
        events.append("record")
        return 1.0

    history = training_loop(step, lambda: events.append("update"), 5, epochs=3, batch_size=3,
                            rng=np.random.default_rng(0), record=record, history=History(), max_cost=1e3)
    assert events == ["record", ("step", 3), "update", ("step", 2), "update", "record", ("step", 3), "update",
                      ("step", 2)]  # the last step's cost is over max_cost: no update, no record
    assert history.step_loss == [3.0, 2.0, 1.0, 5e3]
    assert history.diverged and history.diverged_epoch == 2

    nan_record = training_loop(lambda batch: 1.0, lambda: None, 4, 5, 2, np.random.default_rng(0),
                               lambda: float("nan"), History())
    assert nan_record.diverged and nan_record.diverged_epoch == 0 and nan_record.step_loss == []


# ---- early stopping ---------------------------------------------------------------------------------


def test_early_stopping_counts_epochs_without_a_new_best():
    from nnbook.train import EarlyStopping

    model = mlp((2, 3, 2), "tanh", seed=0)
    stopper = EarlyStopping(model, patience=2)
    decisions = [stopper(epoch, J) for epoch, J in enumerate([1.0, 0.8, 0.9, 0.8, 0.7, 0.75, 0.71])]
    assert decisions == [False, False, False, True, False, False, True]
    assert stopper.best_epoch == 4 and stopper.best_loss == 0.7  # a tie (0.8 again) is not an improvement


def test_early_stopping_stops_after_patience_epochs_and_restores_the_best_weights():
    """A wide network on 40 noisy points overfits: the validation cost turns up, training stops `patience`
    epochs after its minimum, and the model ends with the weights of that minimum."""
    from nnbook.data import make_moons, train_test_split
    from nnbook.train import evaluate

    X, y = make_moons(80, noise=0.35, seed=1)
    X_train, y_train, X_val, y_val = train_test_split(X, y, test_fraction=0.5, seed=0)
    runs = {}
    for restore in (True, False):
        model = mlp((2, 64, 64, 2), "relu", seed=0)
        history = fit(model, X_train, y_train, SGD(0.3), epochs=400, batch_size=8, X_val=X_val, y_val=y_val,
                      patience=10, restore_best=restore, progress=False)
        runs[restore] = model, history
        assert history.stopped_epoch is not None and history.stopped_epoch < 400, "the validation cost turned up"
        assert len(history.val_loss) == history.stopped_epoch + 1
        assert history.best_epoch == int(np.argmin(history.val_loss))
        assert history.stopped_epoch - history.best_epoch == 10
    (best_model, history), (last_model, _) = runs[True], runs[False]
    assert evaluate(best_model, X_val, y_val)[0] == pytest.approx(history.val_loss[history.best_epoch], rel=1e-12)
    assert evaluate(last_model, X_val, y_val)[0] == pytest.approx(history.val_loss[-1], rel=1e-12)
    assert history.val_loss[-1] > history.val_loss[history.best_epoch]


def test_early_stopping_restores_buffers_too():
    from nnbook.normalization import BatchNorm
    from nnbook.train import load_model_state, model_state

    model = Sequential(Linear(2, 3, seed=0), BatchNorm(3), ReLU(), Linear(3, 2, seed=1))
    saved = model_state(model)
    model.forward(np.random.default_rng(0).standard_normal((8, 2)) + 5)  # moves the running statistics
    for _, param, _ in model.params_and_grads():
        param += 1.0
    load_model_state(model, saved)
    assert all(np.array_equal(p, saved[0][n]) for n, p, _ in model.params_and_grads())
    np.testing.assert_array_equal(model.layers[1].buffers["running_mean"], np.zeros(3))


def test_early_stopping_needs_a_validation_split_and_a_positive_patience():
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="early stopping .* watches the validation cost: pass X_val and y_val"):
        fit(mlp((2, 2), "relu"), X, y, SGD(0.1), patience=3, progress=False)
    with pytest.raises(ValueError, match="patience must be an integer ≥ 1"):
        fit(mlp((2, 2), "relu"), X, y, SGD(0.1), X_val=X, y_val=y, patience=0, progress=False)


def test_without_patience_all_epochs_run_and_nothing_is_restored():
    X, y = np.random.default_rng(0).standard_normal((20, 2)), np.arange(20) % 2
    history = fit(mlp((2, 4, 2), "tanh"), X, y, SGD(0.1), epochs=5, X_val=X, y_val=y, progress=False)
    assert history.stopped_epoch is None and history.best_epoch is None and len(history.val_loss) == 6
