"""The numbers and claims of the page *Input standardization and batch normalization*, checked again.

``book/normalization.md`` and these tests call the same functions of
:mod:`nnbook.experiments_normalization` with the same settings. Each claim the
page makes in words (an ordering, a bound, "within the spread between seeds")
is asserted here on the very numbers the page prints. The experiments that
train networks run once per module (fixtures): about half a minute in all.
"""

import math

import numpy as np
import pytest

from nnbook.experiments_normalization import (
    BATCH_DEPENDENCE_SETTINGS,
    BATCH_SIZE_SETTINGS,
    CONDITIONING_SETTINGS,
    LEAKAGE_SETTINGS,
    NOISE_SETTINGS,
    TWO_SCALES,
    WEIGHT_SCALE_SETTINGS,
    batch_dependence,
    batch_size_experiment,
    batchnorm_mlp,
    batchnorm_noise,
    conditioning,
    iterations_to_tolerance,
    leakage,
    mean_over_seeds,
    prediction_changes,
    standardized_mnist,
    train_on_mnist,
    two_scales_data,
    two_scales_split,
    weight_scale_invariance,
    weight_scale_sweep,
)
from nnbook.layers import Linear, ReLU
from nnbook.linear_models import adaline_hessian
from nnbook.normalization import BatchNorm, MinMaxScaler, Standardizer
from nnbook.perceptron import labels_to_signs
from nnbook.train import evaluate

pytestmark = pytest.mark.ch08


# ---- the data on two scales ----------------------------------------------------------------------


def test_two_scales_data_has_the_stated_classes_drift_and_proportions():
    X, y = two_scales_data(1000, seed=3)
    assert X.shape == (1000, 2) and y.shape == (1000,) and y.sum() == 500
    for label in (0, 1):
        error = np.abs(X[y == label].mean(axis=0) - TWO_SCALES["means"][label])
        assert np.all(error < 4 * np.array(TWO_SCALES["stds"]) / np.sqrt(500))  # four standard errors
    shifted, y_shifted = two_scales_data(1000, seed=3, shift=(6.0, 0.0))
    np.testing.assert_array_equal(y_shifted, y)
    np.testing.assert_allclose(shifted - X, np.tile([6.0, 0.0], (1000, 1)), rtol=0, atol=1e-12)
    assert two_scales_data(400, seed=1, class1_fraction=0.9)[1].sum() == 360


def test_the_first_printout_test_set_is_not_exactly_standardized_and_minmax_leaves_the_unit_interval():
    data = two_scales_split()
    scaler = Standardizer().fit(data.X_train)
    Z_train, Z_test = scaler.transform(data.X_train), scaler.transform(data.X_test)
    np.testing.assert_allclose(Z_train.mean(axis=0), 0.0, atol=1e-12)
    assert np.all(np.abs(Z_test.mean(axis=0)) > 1e-3) and np.all(np.abs(Z_test.mean(axis=0)) < 0.1)
    M_test = MinMaxScaler().fit(data.X_train).transform(data.X_test)
    assert M_test.min() < 0.0 or M_test.max() > 1.0


# ---- conditioning ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cond():
    return conditioning(CONDITIONING_SETTINGS)


def test_standardization_leaves_only_the_correlation_in_the_hessian(cond):
    X = two_scales_split().X_train
    rho = np.corrcoef(X.T)[0, 1]
    H = adaline_hessian(Standardizer().fit_transform(X))
    np.testing.assert_allclose(H, [[1, rho, 0], [rho, 1, 0], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(cond["standardized"].eigenvalues, [1 - abs(rho), 1, 1 + abs(rho)], rtol=1e-12)
    assert cond["standardized"].condition_number == pytest.approx((1 + abs(rho)) / (1 - abs(rho)), rel=1e-10)


def test_the_condition_numbers_and_step_counts_the_page_states(cond):
    raw, minmax, standardized = cond["raw"], cond["min-max"], cond["standardized"]
    assert raw.condition_number > 1000 > minmax.condition_number > 10 > 3 > standardized.condition_number
    assert raw.iterations > 1000 * standardized.iterations and minmax.iterations > 10 * standardized.iterations
    for name, result in cond.items():
        # below the bound of the slowest direction, and close to it: the slowest direction decides
        assert 0.7 * result.bound <= result.iterations <= result.bound, name
        assert result.lr == pytest.approx(1.0 / result.eigenvalues[-1])
        errors = result.relative_cost_error
        assert len(errors) == result.iterations + 1 and errors[0] == 1.0
        assert errors[-1] <= CONDITIONING_SETTINGS["tol"] < errors[-2]
        assert np.all(np.diff(errors) <= 1e-15), f"{name}: the cost of gradient descent with lr = 1/λ_max never rises"


def test_iterations_to_tolerance_follows_the_eigen_decomposition():
    # the relative excess cost after t steps is Σ_k λ_k (1 − η λ_k)^{2t} c_k² / Σ_k λ_k c_k²,
    # with c the components of θ₀ − θ* along the eigenvectors
    X, y = two_scales_data(200, seed=5)
    X = MinMaxScaler().fit_transform(X)
    targets = labels_to_signs(y).astype(float)
    H = adaline_hessian(X)
    eigenvalues, vectors = np.linalg.eigh(H)
    lr = 1.0 / eigenvalues[-1]
    X1 = np.hstack([X, np.ones((len(X), 1))])
    theta_star = np.linalg.lstsq(X1, targets, rcond=None)[0]
    c = vectors.T @ (np.zeros(3) - theta_star)
    t = np.arange(60)[:, None]
    predicted = (eigenvalues * (1 - lr * eigenvalues) ** (2 * t) * c**2).sum(axis=1)
    _, errors = iterations_to_tolerance(X, targets, lr, tol=1e-300, max_iterations=59)
    np.testing.assert_allclose(errors, predicted / predicted[0], rtol=1e-8)
    iterations, _ = iterations_to_tolerance(X, targets, lr, tol=1e-6, max_iterations=10)
    assert iterations is None  # not reached within the budget: said, not hidden


def test_self_check_condition_number_of_correlated_and_decorrelated_features():
    rho, tol = 0.8, 1e-6
    kappa = (1 + rho) / (1 - rho)
    assert kappa == pytest.approx(9.0)
    assert math.ceil(math.log(tol) / (2 * math.log(1 - 1 / kappa))) == 59
    assert kappa / 2 * math.log(1 / tol) == pytest.approx(62.2, abs=0.05)
    # decorrelated (whitened) features: H = I and one step of η = 1 lands on the minimum
    X, y = two_scales_data(300, seed=6)
    Z = Standardizer().fit_transform(X)
    values, vectors = np.linalg.eigh(Z.T @ Z / len(Z))
    white = Z @ vectors / np.sqrt(values)
    np.testing.assert_allclose(adaline_hessian(white), np.eye(3), atol=1e-12)
    iterations, errors = iterations_to_tolerance(white, labels_to_signs(y).astype(float), 1.0, 1e-12, 5)
    assert iterations == 1 and errors[1] < 1e-25


# ---- leakage ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def leak():
    return leakage(LEAKAGE_SETTINGS)


def test_the_statistics_come_from_the_training_set_only(leak):
    X_train, _ = two_scales_data(TWO_SCALES["m_train"], TWO_SCALES["seed"])
    np.testing.assert_array_equal(leak.scaler.mean, X_train.mean(axis=0))
    np.testing.assert_array_equal(leak.scaler.std, X_train.std(axis=0))


def test_the_leakage_claims_of_the_page(leak):
    same, drifted, mixed = leak.accuracy["same distribution"], leak.accuracy["drifted"], leak.accuracy["90% class 1"]
    honest, pooled, own = "training statistics", "train + test statistics", "test's own statistics"
    # on data like the training data, nothing visible happens
    assert max(same.values()) - min(same.values()) < 0.03
    # a drift: the honest score drops, the leaky ones hide it (inflated)
    assert drifted[own] > drifted[pooled] > drifted[honest] and drifted[own] > drifted[honest] + 0.1
    assert abs(drifted[own] - same[own]) < 0.01  # "as if nothing had happened"
    # the drift is visible with the training statistics: the exact shift in units of the training std
    shift = LEAKAGE_SETTINGS["drift"][0] / leak.scaler.std[0]
    assert leak.test_means["drifted"][0] == pytest.approx(leak.test_means["same distribution"][0] + shift, rel=1e-12)
    assert 1.0 < leak.test_means["drifted"][0] < 2.0 and abs(leak.test_means["same distribution"][0]) < 0.1
    # other class proportions: standardizing with the test set's own mean costs accuracy
    assert mixed[own] < mixed[pooled] < mixed[honest] and mixed[own] < mixed[honest] - 0.1
    assert 0.85 <= leak.train_accuracy <= 0.95


# ---- batch normalization on MNIST -------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist():
    return standardized_mnist()


def test_standardized_mnist_uses_the_training_statistics_and_zeros_the_blank_pixels(mnist):
    blank = np.ptp(mnist.X_train, axis=0) == 0
    assert blank.sum() == 129 and np.all(mnist.X_train[:, blank] == 0)
    np.testing.assert_allclose(mnist.X_train[:, ~blank].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(mnist.X_train[:, ~blank].std(axis=0), 1, rtol=1e-12)
    assert mnist.X_test.shape == (1000, 784)


def test_batchnorm_mlp_places_batch_norm_between_linear_and_relu_with_the_same_weights():
    with_bn, without = batchnorm_mlp((6, 5, 4, 3), True, seed=2), batchnorm_mlp((6, 5, 4, 3), False, seed=2)
    assert [type(layer) for layer in with_bn.layers] == [Linear, BatchNorm, ReLU, Linear, BatchNorm, ReLU, Linear]
    assert [type(layer) for layer in without.layers] == [Linear, ReLU, Linear, ReLU, Linear]
    for a, b in zip([layer for layer in with_bn.layers if isinstance(layer, Linear)], without.layers[::2]):
        np.testing.assert_array_equal(a.params["W"], b.params["W"])
    scaled = batchnorm_mlp((6, 5, 3), True, weight_std=0.01, seed=2)
    assert scaled.layers[0].params["W"].std() == pytest.approx(0.01, rel=0.5)


@pytest.fixture(scope="module")
def bn_model(mnist):
    return train_on_mnist(True, 64, 0, BATCH_SIZE_SETTINGS, mnist)


def test_train_mode_outputs_depend_on_the_batch_eval_mode_outputs_do_not(bn_model, mnist):
    model, run = bn_model
    assert run.test_accuracy > 0.9 and run.epochs == 5
    s = BATCH_DEPENDENCE_SETTINGS
    buffers = {id(layer): {k: v.copy() for k, v in layer.buffers.items()} for layer in model.layers}
    changed = {B: prediction_changes(model, mnist.X_test, s["n_examples"], B, s["n_batches"], s["seed"])
               for B in s["batch_sizes"]}
    # the page: some predictions change in train mode, more with batches of 8 than of 64; none in eval mode
    assert all(in_eval == [] for _, in_eval in changed.values())
    assert len(changed[8][0]) > len(changed[64][0]) > 0
    example = changed[8][0][0]
    demo = batch_dependence(model, mnist.X_test, example, 8, s["n_batches"], s["seed"] + example)
    assert len(set(demo.train_predictions.tolist())) > 1 and len(set(demo.eval_predictions.tolist())) == 1
    assert np.ptp(demo.eval_outputs, axis=0).max() == 0.0 and np.ptp(demo.train_outputs, axis=0).max() > 0.1
    # the model itself was not moved: its running statistics are the ones training left
    for layer in model.layers:
        for key, value in layer.buffers.items():
            np.testing.assert_array_equal(value, buffers[id(layer)][key])
    assert not model.training


def test_batch_noise_shrinks_like_one_over_the_square_root_of_the_batch_size():
    spread = batchnorm_noise(NOISE_SETTINGS)
    small, large = NOISE_SETTINGS["batch_sizes"]
    assert spread[small] > spread[large] > 0
    assert spread[small] / spread[large] == pytest.approx(np.sqrt(large / small), rel=0.1)


@pytest.fixture(scope="module")
def batch_size_runs():
    return batch_size_experiment(BATCH_SIZE_SETTINGS)


def test_the_batch_size_experiment_makes_about_the_same_number_of_updates(batch_size_runs):
    runs, _ = batch_size_runs
    updates = {run.batch_size: run.epochs * math.ceil(4000 / run.batch_size) for run in runs}
    assert updates == {64: 315, 512: 320}
    assert len(runs) == 2 * len(BATCH_SIZE_SETTINGS["batch_sizes"]) * len(BATCH_SIZE_SETTINGS["seeds"])


def test_the_reported_test_accuracy_is_the_models(batch_size_runs, mnist):
    runs, models = batch_size_runs
    run = next(r for r in runs if r.batchnorm and r.batch_size == 512 and r.seed == 1)
    loss, accuracy = evaluate(models[True, 512, 1], mnist.X_test, mnist.y_test)
    assert accuracy == run.test_accuracy and loss == pytest.approx(run.test_loss, rel=1e-12)


def test_the_page_claims_about_the_regularizing_noise(batch_size_runs):
    runs, _ = batch_size_runs
    train_loss, gap, accuracy = (mean_over_seeds(runs, field) for field in ("train_loss", "gap", "test_accuracy"))
    seed_range = max(
        np.ptp([r.test_accuracy for r in runs if (r.batchnorm, r.batch_size) == key]) for key in accuracy
    )
    # the noise shows in training: with BN, a looser fit with batches of 64 than of 512; without BN, close
    assert train_loss[True, 64] > train_loss[True, 512] + 0.01
    assert abs(train_loss[False, 64] - train_loss[False, 512]) < 0.5 * (train_loss[True, 64] - train_loss[True, 512])
    assert train_loss[True, 64] > train_loss[False, 64] and train_loss[True, 512] > train_loss[False, 512]
    # the gap moves the way the deck says, by less than the spread between seeds
    gap_effect = {B: gap[True, B] - gap[False, B] for B in (64, 512)}
    assert gap_effect[64] < gap_effect[512]
    assert all(abs(effect) < seed_range for effect in gap_effect.values())
    # the test accuracy does not improve with BN, within the spread between seeds
    accuracy_effect = {B: accuracy[True, B] - accuracy[False, B] for B in (64, 512)}
    assert all(effect < 0.005 and abs(effect) < seed_range for effect in accuracy_effect.values())
    assert 0.005 < seed_range < 0.05


# ---- the weight-scale sweep -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep():
    return weight_scale_sweep(WEIGHT_SCALE_SETTINGS)


def test_batch_norm_trains_over_a_much_wider_range_of_initial_weights(sweep):
    val = {(run.weight_std, run.batchnorm): run.val_accuracy for run in sweep}
    train = {(run.weight_std, run.batchnorm): run.train_accuracy for run in sweep}
    stds = WEIGHT_SCALE_SETTINGS["weight_stds"]
    assert len(sweep) == 2 * len(stds) == 18 and not any(run.diverged for run in sweep)
    working = {bn: [std for std in stds if val[std, bn] >= 0.5] for bn in (False, True)}
    assert working[False] == [pytest.approx(0.1)]
    assert len(working[True]) == 8 and working[True][0] == pytest.approx(1e-4)
    # without BN, the smallest scales do not train at all: chance level
    assert all(train[std, False] < 0.15 for std in stds if std < 3e-3)
    assert max(val[std, True] for std in stds) > max(val[std, False] for std in stds)
    # He's scale for 50 inputs lies between the grid points where the network without BN works and fails
    assert 0.1 < np.sqrt(2 / 50) < 0.32


def test_a_layer_followed_by_batch_norm_ignores_the_scale_of_its_weights():
    change = weight_scale_invariance(factor=1000.0)
    assert change[False] == pytest.approx(999.0, rel=1e-9)  # ReLU and zero biases: the output scales by 1000
    assert 1e-7 < change[True] < 1e-4  # only ε is not scaled


def test_self_check_folding_eval_batch_norm_into_the_linear_layer():
    rng = np.random.default_rng(11)
    linear, bn = Linear(5, 4, seed=3), BatchNorm(4)
    for _ in range(5):
        bn.forward(linear.forward(rng.standard_normal((16, 5))))
    bn.params["gamma"][...], bn.params["beta"][...] = rng.uniform(0.5, 2, 4), rng.standard_normal(4)
    bn.eval()
    s = np.sqrt(bn.buffers["running_var"] + bn.eps)
    scale = bn.params["gamma"] / s
    folded = Linear(5, 4)
    folded.params["W"][...] = scale[:, None] * linear.params["W"]
    folded.params["b"][...] = scale * (linear.params["b"] - bn.buffers["running_mean"]) + bn.params["beta"]
    x = rng.standard_normal((7, 5))
    np.testing.assert_allclose(folded.forward(x), bn.forward(linear.forward(x)), rtol=1e-12, atol=1e-12)


def test_the_bias_before_a_batch_norm_has_a_zero_gradient():
    rng = np.random.default_rng(12)
    linear, bn = Linear(3, 4, seed=1), BatchNorm(4)
    linear.params["b"][...] = rng.standard_normal(4)
    x, dout = rng.standard_normal((6, 3)), rng.standard_normal((6, 4))
    bn.forward(linear.forward(x))
    linear.backward(bn.backward(dout))
    np.testing.assert_allclose(linear.grads["b"], 0.0, atol=1e-14)
    assert np.abs(linear.grads["W"]).max() > 0.01
