"""Tests of nnbook/normalization.py: input scaling (statistics from the training set only) and batch normalization.

The scalers are checked against their closed forms (and scikit-learn's, which
the package depends on). Batch normalization: both backward passes against
numerical gradients and against each other, the identity that ``γ = σ, β = μ``
gives back, the running statistics, train and eval modes, and everything against
``torch.nn.functional.batch_norm`` (skipped without torch; a failure with
``NNBOOK_REQUIRE_TORCH=1``) in float64, to a relative error of 1e-7 or less.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optional import import_torch
from strategies import seeds

from nnbook.data import standardize
from nnbook.gradcheck import assert_close, numerical_gradient_of_output, relative_error
from nnbook.layers import Linear, ReLU, Sequential
from nnbook.normalization import (
    BatchNorm,
    MinMaxScaler,
    Standardizer,
    batchnorm_backward,
    batchnorm_backward_simplified,
    batchnorm_forward,
    batchnorm_inference,
    update_running_statistics,
)
from nnbook.optim import SGD
from nnbook.train import fit

pytestmark = pytest.mark.ch08

TORCH_TOL = 1e-7


def features_on_different_scales(m=50, seed=0):
    """``X : (m, 4)`` with means and standard deviations that differ by orders of magnitude."""
    rng = np.random.default_rng(seed)
    return np.array([1000.0, -3.0, 0.0, 0.02]) + np.array([300.0, 0.1, 1.0, 0.005]) * rng.standard_normal((m, 4))


# ---- input scaling --------------------------------------------------------------------------------


def test_standardizer_is_the_closed_form_and_reuses_the_training_statistics():
    X_train, X_test = features_on_different_scales(60, 0), features_on_different_scales(30, 1) + 5.0
    scaler = Standardizer().fit(X_train)
    np.testing.assert_allclose(scaler.mean, X_train.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(scaler.std, np.sqrt(np.mean((X_train - X_train.mean(axis=0)) ** 2, axis=0)), rtol=1e-14)
    Z_train = scaler.transform(X_train)
    np.testing.assert_allclose(Z_train.mean(axis=0), 0.0, atol=1e-13)
    np.testing.assert_allclose(Z_train.std(axis=0), 1.0, rtol=1e-13)
    # the test set is moved by the training statistics: its mean is not 0, it is where it lies relative to them
    Z_test = scaler.transform(X_test)
    np.testing.assert_allclose(Z_test, (X_test - X_train.mean(axis=0)) / X_train.std(axis=0), rtol=1e-13)
    np.testing.assert_allclose(Z_test.mean(axis=0), (X_test.mean(axis=0) - scaler.mean) / scaler.std, rtol=1e-12)
    assert np.all(np.abs(Z_test.mean(axis=0)) > 0.01)


def test_transforming_the_test_set_never_changes_the_statistics_and_each_example_is_transformed_alone():
    X_train, X_test = features_on_different_scales(40, 2), features_on_different_scales(20, 3)
    scaler = Standardizer().fit(X_train)
    mean, std = scaler.mean.copy(), scaler.std.copy()
    whole = scaler.transform(X_test)
    one_at_a_time = np.vstack([scaler.transform(X_test[i : i + 1]) for i in range(len(X_test))])
    np.testing.assert_array_equal(whole, one_at_a_time)
    np.testing.assert_array_equal(scaler.mean, mean)
    np.testing.assert_array_equal(scaler.std, std)
    # fitting on the test set would give other statistics, hence other inputs for the same examples
    assert not np.allclose(Standardizer().fit(X_test).transform(X_test), whole)


def test_standardizer_is_the_data_modules_standardize_and_handles_constant_features():
    X_train = features_on_different_scales(30, 4)
    X_train[:, 2] = 7.0  # constant on the training set
    X_test = features_on_different_scales(10, 5)
    scaler = Standardizer().fit(X_train)
    assert scaler.std[2] == 1.0 and scaler.mean[2] == 7.0
    Z_train, Z_test = scaler.transform(X_train), scaler.transform(X_test)
    assert np.all(Z_train[:, 2] == 0.0) and np.all(np.isfinite(Z_test))
    expected_train, expected_test = standardize(X_train, X_test)
    np.testing.assert_array_equal(Z_train, expected_train)
    np.testing.assert_array_equal(Z_test, expected_test)


def test_minmax_scaler_maps_the_training_set_onto_the_unit_interval_only():
    X_train, X_test = features_on_different_scales(50, 6), features_on_different_scales(50, 7)
    scaler = MinMaxScaler().fit(X_train)
    np.testing.assert_array_equal(scaler.minimum, X_train.min(axis=0))
    np.testing.assert_array_equal(scaler.range, X_train.max(axis=0) - X_train.min(axis=0))
    Z = scaler.transform(X_train)
    np.testing.assert_allclose(Z.min(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(Z.max(axis=0), 1.0, rtol=1e-14)
    # new data are scaled with the training min and max: some values fall outside [0, 1]
    Z_test = scaler.transform(X_test)
    np.testing.assert_allclose(Z_test, (X_test - X_train.min(axis=0)) / np.ptp(X_train, axis=0), rtol=1e-13)
    assert Z_test.min() < 0.0 or Z_test.max() > 1.0
    constant = np.column_stack([X_train[:, 0], np.full(len(X_train), -2.0)])
    assert np.all(MinMaxScaler().fit_transform(constant)[:, 1] == 0.0)


@pytest.mark.parametrize("cls", [Standardizer, MinMaxScaler])
@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 12), n=st.integers(1, 5), seed=seeds)
def test_inverse_transform_undoes_transform(cls, m, n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n)) * 10.0 ** rng.integers(-3, 4, size=n)
    scaler = cls().fit(X)
    assert np.all(scaler.scale > 0)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(X)), X, rtol=1e-12,
                               atol=1e-12 * np.abs(X).max())


@pytest.mark.parametrize("ours, theirs", [(Standardizer, "StandardScaler"), (MinMaxScaler, "MinMaxScaler")])
def test_scalers_agree_with_scikit_learn(ours, theirs):
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    X_train, X_test = features_on_different_scales(80, 8), features_on_different_scales(20, 9)
    reference = getattr(preprocessing, theirs)().fit(X_train)
    scaler = ours().fit(X_train)
    np.testing.assert_allclose(scaler.transform(X_test), reference.transform(X_test), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(X_test), reference.inverse_transform(X_test), rtol=1e-12)


@pytest.mark.parametrize("cls", [Standardizer, MinMaxScaler])
def test_scaler_errors_say_what_is_wrong(cls):
    name = cls.__name__
    with pytest.raises(RuntimeError, match=rf"{name}.transform called before fit: fit the scaler on the training set"):
        cls().transform(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=rf"{name}.inverse_transform called before fit"):
        cls().inverse_transform(np.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"{name}.fit: X must have shape \(m, n_x\), one example per row, "
                                         r"got shape \(5,\)"):
        cls().fit(np.ones(5))
    with pytest.raises(ValueError, match=rf"{name}.fit needs at least one example, got X of shape \(0, 3\)"):
        cls().fit(np.ones((0, 3)))
    X = np.arange(12.0).reshape(4, 3)
    X[1, 2] = np.nan
    with pytest.raises(ValueError, match=rf"{name}.fit: X contains 1 non-finite value\(s\) .* index \(1, 2\)"):
        cls().fit(X)
    scaler = cls().fit(np.arange(12.0).reshape(4, 3))
    with pytest.raises(ValueError, match=rf"{name}.transform: X has 2 features \(shape \(4, 2\)\) but the scaler "
                                         r"was fitted on 3"):
        scaler.transform(np.ones((4, 2)))
    with pytest.raises(ValueError, match=rf"{name}.transform: X contains 1 non-finite"):
        scaler.transform(X)
    with pytest.raises(TypeError, match="X must be numeric array-like"):
        scaler.transform([["a", "b", "c"]])
    assert repr(scaler) == f"{name}(n_x=3)" and repr(cls()) == f"{name}()"


# ---- batch normalization: forward -------------------------------------------------------------------


def batch(m=6, n=4, seed=0, scale=3.0, offset=2.0):
    """``x : (m, n)``, ``gamma, beta : (n,)`` and ``dout : (m, n)``, random; gamma away from 0."""
    rng = np.random.default_rng(seed)
    x = offset + scale * rng.standard_normal((m, n))
    gamma = rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n)
    return x, gamma, rng.standard_normal(n), rng.standard_normal((m, n))


def test_forward_normalizes_each_feature_with_the_batch_mean_and_biased_variance():
    x, gamma, beta, _ = batch(m=8, n=3)
    eps = 1e-5
    out, cache = batchnorm_forward(x, gamma, beta, eps)
    mean, var = x.mean(axis=0), x.var(axis=0)  # numpy's var is the biased one, ddof=0
    x_hat = (x - mean) / np.sqrt(var + eps)
    np.testing.assert_allclose(out, gamma * x_hat + beta, rtol=1e-13)
    np.testing.assert_allclose(cache["x_hat"].mean(axis=0), 0.0, atol=1e-14)
    # ε inside the root: a variance just below 1
    np.testing.assert_allclose(cache["x_hat"].var(axis=0), var / (var + eps), rtol=1e-13)
    assert set(cache) == {"x_centered", "std", "x_hat", "gamma", "mean", "var"}
    np.testing.assert_allclose(cache["std"], np.sqrt(var + eps), rtol=1e-15)
    np.testing.assert_allclose(cache["mean"], mean, rtol=1e-15)
    np.testing.assert_allclose(cache["var"], var, rtol=1e-13)
    assert all(isinstance(value, np.ndarray) for value in cache.values()), "the cache holds plain arrays"


def test_gamma_sigma_and_beta_mu_give_back_the_identity():
    x, _, _, _ = batch(m=10, n=5, scale=0.7, offset=-1.0)
    eps = 1e-5
    mean, var = x.mean(axis=0), x.var(axis=0)
    # exactly, when γ includes ε: γ = √(σ² + ε)
    out, _ = batchnorm_forward(x, np.sqrt(var + eps), mean, eps)
    assert relative_error(out, x) < 1e-14
    # up to ε with γ = σ: out − μ = (x − μ) σ / √(σ² + ε), a relative change of at most ε / (2σ²)
    out, _ = batchnorm_forward(x, np.sqrt(var), mean, eps)
    change = np.abs(out - x) / np.abs(x - mean)
    assert np.all(change <= eps / (2 * var) * (1 + 1e-6))
    assert np.all(change >= eps / (2 * var) * (1 - 1e-4))  # and it is that large: the identity holds up to ε
    assert relative_error(out, x) < 1e-4


def test_a_feature_constant_in_the_batch_becomes_beta_and_stays_finite():
    x, gamma, beta, dout = batch(m=5, n=3)
    x[:, 1] = 4.2
    out, cache = batchnorm_forward(x, gamma, beta)
    np.testing.assert_allclose(out[:, 1], beta[1], rtol=1e-15)
    dx, _, _ = batchnorm_backward(dout, cache)
    assert np.all(np.isfinite(dx))


# ---- batch normalization: both backward passes -------------------------------------------------------


@pytest.mark.parametrize("m, n, scale", [(3, 1, 1.0), (3, 4, 0.01), (6, 4, 3.0), (16, 3, 100.0)])
@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_simplified])
def test_backward_matches_numerical_gradients(backward, m, n, scale):
    x, gamma, beta, dout = batch(m, n, seed=m + n, scale=scale)
    out, cache = batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = backward(dout, cache)
    assert dx.shape == x.shape and dgamma.shape == dbeta.shape == (n,)
    h = 1e-5 * scale  # the step follows the scale of x: what matters is x̂
    assert_close(dx, numerical_gradient_of_output(lambda: batchnorm_forward(x, gamma, beta)[0], x, dout, h), "dx")
    assert_close(dgamma, numerical_gradient_of_output(lambda: batchnorm_forward(x, gamma, beta)[0], gamma, dout),
                 "dgamma")
    assert_close(dbeta, numerical_gradient_of_output(lambda: batchnorm_forward(x, gamma, beta)[0], beta, dout), "dbeta")


@settings(max_examples=100, deadline=None)
@given(m=st.integers(2, 20), n=st.integers(1, 6), seed=seeds, scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_the_step_by_step_and_the_simplified_backward_are_equal(m, n, seed, scale):
    x, gamma, beta, dout = batch(m, n, seed=seed, scale=scale)
    _, cache = batchnorm_forward(x, gamma, beta)
    step_by_step, simplified = batchnorm_backward(dout, cache), batchnorm_backward_simplified(dout, cache)
    # relative to the size of the terms that cancel in dx (with m = 2, dx is about ε/σ² times them)
    scales = (np.max(np.abs(dout * gamma / cache["std"])), m * np.max(np.abs(dout)), m * np.max(np.abs(dout)))
    for name, a, b, scale in zip(("dx", "dgamma", "dbeta"), step_by_step, simplified, scales):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * scale, err_msg=name)


def test_the_input_gradient_sums_to_zero_over_the_batch_and_is_orthogonal_to_x_hat():
    # x ↦ x + c (per feature) and, up to ε, x ↦ a x leave x̂ unchanged: dx has no component along them
    x, gamma, beta, dout = batch(m=9, n=3, scale=2.0)
    _, cache = batchnorm_forward(x, gamma, beta, eps=0.0 + 1e-12)
    dx, _, _ = batchnorm_backward_simplified(dout, cache)
    np.testing.assert_allclose(dx.sum(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.sum(dx * cache["x_hat"], axis=0), 0.0, atol=1e-9)


def test_backward_matches_torch_autograd():
    torch = import_torch()
    x, gamma, beta, dout = batch(m=7, n=5, seed=3)
    out, cache = batchnorm_forward(x, gamma, beta, eps=1e-5)
    tx, tg, tb = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, gamma, beta))
    reference = torch.nn.functional.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-5)
    reference.backward(torch.from_numpy(dout))
    assert relative_error(out, reference.detach().numpy()) <= TORCH_TOL
    for backward in (batchnorm_backward, batchnorm_backward_simplified):
        for name, ours, theirs in zip(("dx", "dgamma", "dbeta"), backward(dout, cache), (tx.grad, tg.grad, tb.grad)):
            assert relative_error(ours, theirs.numpy()) <= TORCH_TOL, (backward.__name__, name)


# ---- inference and the running statistics ---------------------------------------------------------


def test_inference_is_the_training_formula_with_fixed_statistics():
    x, gamma, beta, _ = batch(m=6, n=3)
    out, cache = batchnorm_forward(x, gamma, beta)
    np.testing.assert_allclose(batchnorm_inference(x, gamma, beta, cache["mean"], cache["var"]), out, rtol=1e-13)
    running_mean, running_var = np.array([1.0, -2.0, 0.5]), np.array([4.0, 0.25, 1.0])
    single = batchnorm_inference(x[:1], gamma, beta, running_mean, running_var)  # any m, even 1
    np.testing.assert_allclose(single, gamma * (x[:1] - running_mean) / np.sqrt(running_var + 1e-5) + beta, rtol=1e-14)
    rows = batchnorm_inference(x, gamma, beta, running_mean, running_var)
    np.testing.assert_array_equal(rows[:1], single)  # each row depends on itself alone


def test_running_statistics_are_an_exponential_average_with_the_unbiased_variance():
    mean, var = np.array([1.0, 2.0]), np.array([0.5, 3.0])
    new_mean, new_var = update_running_statistics(np.zeros(2), np.ones(2), mean, var, m=5, momentum=0.1)
    np.testing.assert_allclose(new_mean, 0.1 * mean, rtol=1e-15)
    np.testing.assert_allclose(new_var, 0.9 + 0.1 * var * 5 / 4, rtol=1e-15)
    # many batches with the same statistics: the running values converge to them (variance unbiased)
    running = (np.zeros(2), np.ones(2))
    for _ in range(400):
        running = update_running_statistics(*running, mean, var, m=5)
    np.testing.assert_allclose(running[0], mean, rtol=1e-12)
    np.testing.assert_allclose(running[1], var * 5 / 4, rtol=1e-12)


def test_running_statistics_and_eval_mode_match_torch_after_several_steps():
    torch = import_torch()
    F = torch.nn.functional
    n, momentum, eps = 4, 0.1, 1e-5
    layer = BatchNorm(n, momentum=momentum, eps=eps)
    running_mean, running_var = torch.zeros(n, dtype=torch.float64), torch.ones(n, dtype=torch.float64)
    rng = np.random.default_rng(5)
    gamma, beta = rng.uniform(0.5, 2.0, n), rng.standard_normal(n)
    layer.params["gamma"][...], layer.params["beta"][...] = gamma, beta
    tg, tb = torch.from_numpy(gamma), torch.from_numpy(beta)
    for step, m in enumerate([8, 5, 16, 2, 9, 32]):
        x = 3.0 + 2.0 * rng.standard_normal((m, n))
        out = layer.forward(x)
        reference = F.batch_norm(torch.from_numpy(x), running_mean, running_var, tg, tb, training=True,
                                 momentum=momentum, eps=eps)
        assert relative_error(out, reference.numpy()) <= TORCH_TOL, step
        assert relative_error(layer.buffers["running_mean"], running_mean.numpy()) <= TORCH_TOL, step
        assert relative_error(layer.buffers["running_var"], running_var.numpy()) <= TORCH_TOL, step
    x = rng.standard_normal((3, n))
    layer.eval()
    reference = F.batch_norm(torch.from_numpy(x), running_mean, running_var, tg, tb, training=False, eps=eps)
    assert relative_error(layer.forward(x), reference.numpy()) <= TORCH_TOL
    assert relative_error(batchnorm_inference(x, gamma, beta, running_mean.numpy(), running_var.numpy(), eps),
                          reference.numpy()) <= TORCH_TOL


def test_the_layer_backward_matches_torch_in_train_and_eval_mode():
    torch = import_torch()
    n = 3
    torch_layer = torch.nn.BatchNorm1d(n, dtype=torch.float64)
    layer = BatchNorm(n)
    rng = np.random.default_rng(6)
    for mode in (True, False):
        x, dout = rng.standard_normal((6, n)), rng.standard_normal((6, n))
        layer.train(mode), torch_layer.train(mode)
        tx = torch.tensor(x, requires_grad=True)
        torch_layer.zero_grad()
        out = torch_layer(tx)
        out.backward(torch.from_numpy(dout))
        assert relative_error(layer.forward(x), out.detach().numpy()) <= TORCH_TOL, mode
        dx = layer.backward(dout)
        assert relative_error(dx, tx.grad.numpy()) <= TORCH_TOL, mode
        assert relative_error(layer.grads["gamma"], torch_layer.weight.grad.numpy()) <= TORCH_TOL, mode
        assert relative_error(layer.grads["beta"], torch_layer.bias.grad.numpy()) <= TORCH_TOL, mode


def test_images_reuse_the_pair_by_a_reshape_to_rows_as_torch_normalizes_channels():
    # (m, C, H, W) → (m·H·W, C): statistics per channel over m, H and W, what torch's batch norm on images does
    torch = import_torch()
    rng = np.random.default_rng(7)
    images = 1.0 + rng.standard_normal((4, 3, 5, 2))
    gamma, beta = rng.uniform(0.5, 2.0, 3), rng.standard_normal(3)
    rows = images.transpose(0, 2, 3, 1).reshape(-1, 3)
    out_rows, _ = batchnorm_forward(rows, gamma, beta)
    out = out_rows.reshape(4, 5, 2, 3).transpose(0, 3, 1, 2)
    reference = torch.nn.functional.batch_norm(torch.from_numpy(images), None, None, torch.from_numpy(gamma),
                                               torch.from_numpy(beta), training=True)
    assert relative_error(out, reference.numpy()) <= TORCH_TOL


# ---- the layer ---------------------------------------------------------------------------------------


def test_layer_parameters_buffers_and_representation():
    layer = BatchNorm(3)
    assert repr(layer) == "BatchNorm(3)" and layer.training
    np.testing.assert_array_equal(layer.params["gamma"], np.ones(3))
    np.testing.assert_array_equal(layer.params["beta"], np.zeros(3))
    np.testing.assert_array_equal(layer.buffers["running_mean"], np.zeros(3))
    np.testing.assert_array_equal(layer.buffers["running_var"], np.ones(3))
    assert {name for name, _, _ in layer.params_and_grads()} == {"gamma", "beta"}
    assert layer.momentum == 0.1 and layer.eps == 1e-5


def test_in_train_mode_an_output_depends_on_the_batch_in_eval_mode_it_does_not():
    rng = np.random.default_rng(8)
    x0, others = rng.standard_normal((1, 4)), rng.standard_normal((20, 4))
    layer = BatchNorm(4)
    in_one = layer.forward(np.vstack([x0, others[:5]]))[0]
    in_another = layer.forward(np.vstack([x0, others[5:15]]))[0]
    assert np.max(np.abs(in_one - in_another)) > 0.1
    layer.eval()
    alone = layer.forward(x0)[0]
    np.testing.assert_array_equal(layer.forward(np.vstack([x0, others[:5]]))[0], alone)
    np.testing.assert_array_equal(layer.forward(np.vstack([x0, others[5:15]]))[0], alone)


def test_eval_mode_does_not_move_the_running_statistics_train_mode_does():
    layer = BatchNorm(2)
    x = np.array([[1.0, 10.0], [3.0, 14.0]])
    layer.eval().forward(x)
    np.testing.assert_array_equal(layer.buffers["running_mean"], [0.0, 0.0])
    layer.train().forward(x)
    np.testing.assert_allclose(layer.buffers["running_mean"], [0.2, 1.2])
    # the unbiased batch variance, divided by m − 1 = 1
    np.testing.assert_allclose(layer.buffers["running_var"], [0.9 + 0.1 * 2.0, 0.9 + 0.1 * 8.0])


def test_a_batch_of_one_is_refused_in_training_mode_and_accepted_in_eval_mode():
    layer = BatchNorm(3)
    with pytest.raises(ValueError, match=r"BatchNorm\(3\): expected more than one value per feature in training mode, "
                                         r"got input of shape \(1, 3\); the variance of one example is 0"):
        layer.forward(np.ones((1, 3)))
    assert layer.eval().forward(np.ones((1, 3))).shape == (1, 3)
    with pytest.raises(ValueError, match=r"batchnorm_forward: expected more than one value per feature"):
        batchnorm_forward(np.ones((1, 3)), np.ones(3), np.zeros(3))


def test_layer_and_function_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"BatchNorm\(3\) expects input of shape \(m, 3\), got \(4, 2\)"):
        BatchNorm(3).forward(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"BatchNorm\(3\) expects input of shape \(m, 3\), got \(4, 3, 2\)"):
        BatchNorm(3).forward(np.ones((4, 3, 2)))
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="BatchNorm needs a positive integer number of features"):
            BatchNorm(bad)
    with pytest.raises(ValueError, match=r"momentum must be a number in \[0, 1\], got 1.5"):
        BatchNorm(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        BatchNorm(3, eps=0.0)
    x, gamma, beta, _ = batch(m=4, n=3)
    with pytest.raises(ValueError, match=r"batchnorm_forward: gamma must have shape \(3,\), one value per feature of x "
                                         r"\(4, 3\), got \(1, 3\)"):
        batchnorm_forward(x, gamma[None, :], beta)
    with pytest.raises(ValueError, match=r"batchnorm_forward: beta must have shape \(3,\)"):
        batchnorm_forward(x, gamma, np.zeros(4))
    with pytest.raises(ValueError, match=r"batchnorm_forward: x must have shape \(m, n\), one example per row, got "
                                         r"shape \(3,\)"):
        batchnorm_forward(x[0], gamma, beta)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"batchnorm_forward: x contains 1 non-finite value\(s\) .* index \(2, 1\)"):
        batchnorm_forward(x, gamma, beta)
    with pytest.raises(ValueError, match=r"batchnorm_inference: x contains 1 non-finite"):
        batchnorm_inference(x, gamma, beta, np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"batchnorm_forward: gamma contains 1 non-finite"):
        batchnorm_forward(np.ones((4, 3)), np.array([1.0, np.inf, 1.0]), beta)
    with pytest.raises(ValueError, match=r"batchnorm_inference: running_var must have shape \(3,\), like gamma, "
                                         r"got \(2,\)"):
        batchnorm_inference(np.ones((2, 3)), gamma, beta, np.zeros(3), np.ones(2))
    with pytest.raises(ValueError, match="batchnorm_inference: running_var must be >= 0"):
        batchnorm_inference(np.ones((2, 3)), gamma, beta, np.zeros(3), -np.ones(3))
    with pytest.raises(RuntimeError, match=r"BatchNorm.backward called before forward"):
        BatchNorm(3).backward(np.ones((2, 3)))


def test_eval_mode_backward_is_the_gradient_of_the_affine_map():
    rng = np.random.default_rng(9)
    layer = BatchNorm(3)
    for _ in range(3):
        layer.forward(rng.standard_normal((5, 3)))
    layer.params["gamma"][...] = [0.5, -1.5, 2.0]
    layer.eval()
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    layer.forward(x)
    dx = layer.backward(dout)
    assert_close(dx, numerical_gradient_of_output(lambda: layer.forward(x), x, dout), "dx in eval mode")
    for name, param, grad in layer.params_and_grads():
        assert_close(grad, numerical_gradient_of_output(lambda: layer.forward(x), param, dout), f"d{name} in eval mode")


def test_float32_layer_stays_float32():
    layer = BatchNorm(3, dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    out = layer.forward(x)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.float32
    assert all(value.dtype == np.float32 for value in (*layer.params.values(), *layer.grads.values(),
                                                        *layer.buffers.values()))


def test_a_network_with_batch_norm_trains_with_fit_and_its_divergence_is_reported_not_raised():
    rng = np.random.default_rng(10)
    X = rng.standard_normal((64, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)

    def network():
        return Sequential(Linear(5, 8, seed=1), BatchNorm(8), ReLU(), Linear(8, 2, seed=2))

    history = fit(network(), X, y, SGD(lr=0.1), epochs=20, batch_size=16, progress=False)
    assert history.loss[-1] < 0.5 * history.loss[0] and history.accuracy[-1] > 0.9
    diverging = fit(network(), X * 1e150, y, SGD(lr=1e150), epochs=5, batch_size=16, progress=False)
    assert diverging.diverged


# ---- spatial batch normalization, for images (chapter 11) --------------------------------------------


def test_spatial_batch_norm_matches_torch_batchnorm2d_in_train_and_eval_mode():
    from nnbook.normalization import BatchNorm2D

    torch = import_torch()
    rng = np.random.default_rng(11)
    layer, torch_layer = BatchNorm2D(3, momentum=0.2), torch.nn.BatchNorm2d(3, momentum=0.2, dtype=torch.float64)
    for step in range(3):  # a few training steps move the running statistics identically
        images = 2.0 + 3.0 * rng.standard_normal((4, 3, 5, 2))
        out = layer.forward(images)
        reference = torch_layer(torch.from_numpy(images))
        assert relative_error(out, reference.detach().numpy()) <= TORCH_TOL, step
    for name, theirs in (("running_mean", torch_layer.running_mean), ("running_var", torch_layer.running_var)):
        assert relative_error(layer.buffers[name], theirs.numpy()) <= TORCH_TOL, name
    layer.params["gamma"][...], layer.params["beta"][...] = [0.5, 2.0, -1.0], [0.1, -0.2, 0.3]
    with torch.no_grad():
        torch_layer.weight.copy_(torch.from_numpy(layer.params["gamma"]))
        torch_layer.bias.copy_(torch.from_numpy(layer.params["beta"]))
    images, dout = rng.standard_normal((3, 3, 4, 4)), rng.standard_normal((3, 3, 4, 4))
    for mode in (True, False):
        layer.train(mode), torch_layer.train(mode)
        tx = torch.tensor(images, requires_grad=True)
        torch_layer.zero_grad()
        reference = torch_layer(tx)
        reference.backward(torch.from_numpy(dout))
        out = layer.forward(images)
        dx = layer.backward(dout)
        assert relative_error(out, reference.detach().numpy()) <= TORCH_TOL, mode
        assert relative_error(dx, tx.grad.numpy()) <= TORCH_TOL, mode
        assert relative_error(layer.grads["gamma"], torch_layer.weight.grad.numpy()) <= TORCH_TOL, mode
        assert relative_error(layer.grads["beta"], torch_layer.bias.grad.numpy()) <= TORCH_TOL, mode


def test_spatial_batch_norm_is_batchnorm_on_the_rows_of_pixels_and_its_gradients_are_right():
    from nnbook.normalization import BatchNorm2D

    rng = np.random.default_rng(12)
    images = rng.standard_normal((2, 3, 3, 2))
    layer = BatchNorm2D(3)
    layer.params["gamma"][...], layer.params["beta"][...] = [1.5, -0.5, 2.0], [0.0, 1.0, -1.0]
    out = layer.forward(images)
    rows = images.transpose(0, 2, 3, 1).reshape(-1, 3)  # (m·H·W, C): one row per pixel of each image
    expected, _ = batchnorm_forward(rows, layer.params["gamma"], layer.params["beta"])
    np.testing.assert_allclose(out, expected.reshape(2, 3, 2, 3).transpose(0, 3, 1, 2), rtol=1e-13)
    # per channel, over m, H and W: mean β_c and standard deviation |γ_c| (up to ε)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), layer.params["beta"], atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), np.abs(layer.params["gamma"]), rtol=1e-3)
    np.testing.assert_allclose(layer.buffers["running_mean"], 0.1 * images.mean(axis=(0, 2, 3)), rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    assert_close(dx, numerical_gradient_of_output(lambda: layer.forward(images), images, dout), "dx")
    for name, param, grad in layer.params_and_grads():
        assert_close(grad, numerical_gradient_of_output(lambda: layer.forward(images), param, dout), f"d{name}")


def test_spatial_batch_norm_reads_channels_last_images_without_a_copy_and_checks_its_input():
    from nnbook.normalization import BatchNorm2D

    channels_last = np.random.default_rng(13).standard_normal((2, 4, 4, 3)).astype(np.float32)
    images = channels_last.transpose(0, 3, 1, 2)  # (m, C, H, W) as the convolution layers return them
    layer = BatchNorm2D(3, dtype=np.float32)
    assert np.shares_memory(layer.to_rows(images), channels_last)
    out = layer.forward(images)
    assert out.shape == images.shape and out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    assert repr(layer) == "BatchNorm2D(3)"
    assert layer.forward(images[:1]).shape == (1, 3, 4, 4)  # one image has 16 values per channel: enough
    with pytest.raises(ValueError, match=r"BatchNorm2D\(3\) expects images of shape \(m, 3, H, W\), got \(2, 4, 4, "):
        layer.forward(channels_last)
    with pytest.raises(ValueError, match=r"BatchNorm2D\(3\): expected more than one value per feature"):
        layer.forward(np.ones((1, 3, 1, 1), np.float32))
