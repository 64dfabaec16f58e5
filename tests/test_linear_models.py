"""Tests of nnbook/linear_models.py and of every result of the chapters on Adaline (book/adaline.md)
and on logistic and softmax regression (book/logistic.md).

The chapters' numbers come from the same calls with the same seeds as the tests
below (the data helpers build each chapter's data exactly as the chapter does,
and the tests train with the chapter's settings): if one changes, the other
must change with it. Numbers that the text prints are asserted at the
precision the text prints them. Tests are marked ``ch03`` (Adaline) or
``ch04`` (logistic and softmax regression): ``pytest -m ch04`` checks one chapter.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnbook.activations import log_sum_exp, sigmoid, sigmoid_derivative, softmax
from nnbook.data import carve_dev_split, load_digits, make_blobs, make_circles, make_moons, make_xor
from nnbook.gradcheck import check_gradient, numerical_gradient
from nnbook.linear_models import (
    Adaline,
    LogisticRegression,
    SoftmaxRegression,
    adaline_gradients,
    adaline_hessian,
    critical_learning_rate,
    linear_gradients,
    linear_scores,
    logistic_gradients,
    logistic_hessian,
    softmax_gradients,
)
from nnbook.losses import binary_cross_entropy, binary_cross_entropy_with_logits, mse, one_hot
from nnbook.metrics import confusion_matrix
from nnbook.optim import gradient_descent_step
from strategies import binary_problems, logit_matrices, multiclass_problems, regression_problems, seeds

ch03 = pytest.mark.ch03
ch04 = pytest.mark.ch04

# The data sets of the chapters, built exactly as the chapters build them.


def adaline_1d_data():
    """book/adaline.md: the first coordinate of the blobs, moved by 1.5; returns (X (100, 1), labels 0/1, targets ±1)."""
    X_blobs, y_blobs = make_blobs(100, margin=0.5, seed=0)
    return X_blobs[:, :1] + 1.5, y_blobs, 2.0 * y_blobs - 1.0


def adaline_2d_data():
    """book/adaline.md, section on mini-batches: 200 points of the blobs."""
    return make_blobs(200, margin=0.5, seed=0)


def least_squares(X, targets):
    """The exact minimum (w, b) of the Adaline cost, by numpy's least-squares solver."""
    X_tilde = np.hstack([X, np.ones((len(X), 1))])
    theta = np.linalg.lstsq(X_tilde, targets, rcond=None)[0]
    return theta[:-1], theta[-1]


def logistic_moons_data():
    """book/logistic.md, section on gradient descent: overlapping half-moons."""
    return make_moons(200, noise=0.2, seed=0)


#: book/logistic.md, section "Why not the squared error?": six points on a line, no bias.
LINE_X = np.array([[-2.0], [-1.0], [-0.5], [0.5], [1.0], [2.0]])
LINE_Y = np.array([0.0, 0.0, 1.0, 0.0, 1.0, 1.0])


# ---------------------------------------------------------------------------
# Chapter 3: linear scores, Adaline gradients, the delta rule
# ---------------------------------------------------------------------------


@ch03
def test_linear_scores_shapes_and_values():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])            # (3, 2)
    assert np.allclose(linear_scores(X, np.array([1.0, -1.0]), 0.5), [-0.5, -0.5, -0.5])
    W, b = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([0.0, 1.0, -1.0])   # (K, n_x) = (3, 2)
    Z = linear_scores(X, W, b)
    assert Z.shape == (3, 3)
    assert np.allclose(Z[1], W @ X[1] + b)


@ch03
def test_linear_gradients_by_hand():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    dw, db = linear_gradients(X, np.array([0.5, -1.0]))
    assert np.allclose(dw, [0.5 - 3.0, 1.0 - 4.0]) and db == pytest.approx(-0.5)
    dW, db = linear_gradients(X, np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]]))      # dZ: (m, K) = (2, 3)
    assert dW.shape == (3, 2) and db.shape == (3,)
    assert np.allclose(dW, [[1.0, 2.0], [3.0, 4.0], [2.0 - 3.0, 4.0 - 4.0]])
    assert np.allclose(db, [1.0, 1.0, 1.0])


@ch03
def test_adaline_gradients_by_hand():
    X, y = np.array([[1.0], [2.0]]), np.array([1.0, -1.0])
    J, dw, db = adaline_gradients(X, y, np.array([1.0]), 0.0)     # z = (1, 2), errors z − y = (0, 3)
    assert J == pytest.approx(9 / 4)
    assert np.allclose(dw, [3.0 * 2 / 2]) and db == pytest.approx(3 / 2)


@ch03
@given(regression_problems())
@settings(max_examples=40, deadline=None)
def test_adaline_gradients_match_numerical_gradients(problem):
    X, y, w, b = problem
    b = np.array(b)
    J, dw, db = adaline_gradients(X, y, w, b)
    assert dw.shape == w.shape and np.shape(db) == ()
    cost = lambda: adaline_gradients(X, y, w, b)[0]
    check_gradient(cost, w, dw, "dw")
    check_gradient(cost, b, db, "db")
    z = X @ w + b
    assert J == pytest.approx(np.mean((z - y) ** 2) / 2)
    assert np.allclose(dw, X.T @ (z - y) / len(y))


@ch03
@given(regression_problems(), st.sampled_from([0.01, 0.1, 1.0]))
@settings(max_examples=30, deadline=None)
def test_delta_rule_is_a_gradient_step_on_the_half_squared_error(problem, lr):
    X, y, w, b = problem
    x, t = X[0], y[0]
    z = x @ w + b
    _, dw, db = adaline_gradients(X[:1], y[:1], w, b)
    step = gradient_descent_step({"w": w, "b": b}, {"w": dw, "b": db}, lr)
    assert np.allclose(step["w"], w + lr * (t - z) * x)            # the delta rule, w ← w + α (y − z) x
    assert step["b"] == pytest.approx(b + lr * (t - z))
    # on a batch, the step is the mean of the per-example delta-rule corrections
    _, dw, db = adaline_gradients(X, y, w, b)
    corrections = [(t_i - (x_i @ w + b)) * x_i for x_i, t_i in zip(X, y)]
    assert np.allclose(-dw, np.mean(corrections, axis=0))


@ch03
@given(regression_problems(), st.integers(1, 5), seeds)
@settings(max_examples=30, deadline=None)
def test_minibatch_gradients_average_to_the_full_gradient(problem, batch_size, seed):
    """The full gradient is the size-weighted mean of the mini-batch gradients of any partition."""
    X, y, w, b = problem
    _, dw_full, db_full = adaline_gradients(X, y, w, b)
    batches = np.array_split(np.random.default_rng(seed).permutation(len(y)), max(1, len(y) // batch_size))
    dw_sum, db_sum = np.zeros_like(w), 0.0
    for batch in batches:
        _, dw, db = adaline_gradients(X[batch], y[batch], w, b)
        dw_sum += len(batch) / len(y) * dw
        db_sum += len(batch) / len(y) * db
    assert np.allclose(dw_sum, dw_full) and db_sum == pytest.approx(db_full)


# ---------------------------------------------------------------------------
# Chapter 3: gradient descent as the minimum of a local quadratic model
# ---------------------------------------------------------------------------


def _cost_and_gradient(X, y):
    def cost(theta):
        return adaline_gradients(X, y, theta[:-1], theta[-1])[0]

    def gradient(theta):
        _, dw, db = adaline_gradients(X, y, theta[:-1], theta[-1])
        return np.append(dw, db)

    return cost, gradient


@ch03
@given(regression_problems(), st.sampled_from([0.01, 0.2, 1.0, 5.0]), seeds)
@settings(max_examples=30, deadline=None)
def test_the_local_quadratic_model_is_minimal_at_the_gradient_step(problem, eta, seed):
    X, y, w, b = problem
    cost, gradient = _cost_and_gradient(X, y)
    theta0 = np.append(w, b)
    g0 = gradient(theta0)

    def model(theta):
        return cost(theta0) + g0 @ (theta - theta0) + (theta - theta0) @ (theta - theta0) / (2 * eta)

    theta1 = theta0 - eta * g0
    assert np.allclose(numerical_gradient(lambda: model(theta1), theta1), 0, atol=1e-6 * (1 + np.abs(g0).max()))
    # the model is a bowl: it exceeds its minimum by exactly ‖d‖² / (2η) at theta1 + d
    d = np.random.default_rng(seed).normal(size=theta0.shape)
    assert model(theta1 + d) - model(theta1) == pytest.approx(d @ d / (2 * eta), rel=1e-6, abs=1e-9)
    # and its minimum value is J(θ0) − η‖∇J(θ0)‖²/2 (self-check question of the chapter)
    assert model(theta1) == pytest.approx(cost(theta0) - eta * g0 @ g0 / 2, rel=1e-9, abs=1e-12)


@ch03
def test_local_quadratic_model_on_the_chapter_data():
    X, _, t = adaline_1d_data()
    cost, gradient = _cost_and_gradient(X, t)
    theta0, eta = np.zeros(2), 0.2
    theta1 = theta0 - eta * gradient(theta0)
    assert np.allclose(theta1, [0.1539, 0.0], atol=5e-5)           # printed by the chapter
    # with η = 1/h along w (b at its optimum), one step lands on the minimum
    w_best, b_best = least_squares(X, t)
    h = np.mean(X[:, 0] ** 2)
    w0 = -0.5
    slope = adaline_gradients(X, t, np.array([w0]), b_best)[1][0]
    assert w0 - slope / h == pytest.approx(w_best[0])


# ---------------------------------------------------------------------------
# Chapter 3: the learning rate and the divergence threshold 2/λ_max
# ---------------------------------------------------------------------------


@ch03
@given(regression_problems())
@settings(max_examples=25, deadline=None)
def test_adaline_hessian_is_the_derivative_of_the_gradient(problem):
    X, y, w, b = problem
    cost, gradient = _cost_and_gradient(X, y)
    theta = np.append(w, b)
    H = adaline_hessian(X)
    assert H.shape == (X.shape[1] + 1,) * 2
    numeric = np.array([numerical_gradient(lambda: gradient(theta)[k], theta) for k in range(len(theta))])
    assert np.allclose(H, numeric, atol=1e-6)
    assert np.allclose(H, H.T) and np.linalg.eigvalsh(H)[0] > -1e-12


@ch03
def test_the_chapter_learning_rates_and_threshold():
    X, labels, t = adaline_1d_data()
    eigenvalues = np.linalg.eigvalsh(adaline_hessian(X))
    eta_critical = critical_learning_rate(X)
    assert eta_critical == pytest.approx(2 / eigenvalues[-1])
    # the values the chapter prints (rounded to 3 decimals)
    assert f"{eigenvalues[-1]:.3f}" == "3.785" and f"{eigenvalues[0]:.3f}" == "0.213"
    assert f"{eta_critical:.3f}" == "0.528"
    # "too small", "right", "too large"
    runs = {lr: Adaline(lr=lr, epochs=25).fit(X, labels) for lr in (0.02, 0.4, 0.6)}
    J_min = adaline_gradients(X, t, *least_squares(X, t))[0]
    assert runs[0.02].history["loss"][-1] > 0.35                    # still far from J_min ≈ 0.133
    assert runs[0.4].history["loss"][-1] < J_min + 0.01
    assert np.all(np.diff(runs[0.02].history["loss"]) < 0) and np.all(np.diff(runs[0.4].history["loss"]) < 0)
    assert runs[0.6].history["loss"][-1] > 1e3 > runs[0.6].history["loss"][0]
    assert 0.4 < eta_critical < 0.6


@ch03
def test_just_below_the_threshold_converges_and_just_above_diverges():
    X, labels, t = adaline_1d_data()
    eta_critical = critical_learning_rate(X)
    below = Adaline(lr=0.98 * eta_critical, epochs=1000).fit(X, labels)
    above = Adaline(lr=1.02 * eta_critical, epochs=1000).fit(X, labels)
    w_star, b_star = least_squares(X, t)
    assert not below.diverged
    assert np.allclose(below.params["w"], w_star) and below.params["b"] == pytest.approx(b_star)
    assert above.diverged
    assert above.history["step_loss"][-1] > Adaline.DIVERGENCE_COST
    assert len(above.history["step_loss"]) < 1000                  # stopped early
    # the cost grows geometrically, by (1 − η λ_max)² per step in the end
    growth = above.history["step_loss"][-1] / above.history["step_loss"][-2]
    lam = np.linalg.eigvalsh(adaline_hessian(X))[-1]
    assert growth == pytest.approx((1 - 1.02 * eta_critical * lam) ** 2, rel=1e-3)


@ch03
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_divergence_threshold_on_random_data(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=rng.normal(size=3), scale=rng.uniform(0.5, 2.0, size=3), size=(50, 3))
    y = rng.integers(0, 2, size=50)
    eta_critical = critical_learning_rate(X)
    below = Adaline(lr=0.9 * eta_critical, epochs=2000).fit(X, y)
    above = Adaline(lr=1.1 * eta_critical, epochs=2000).fit(X, y)
    assert not below.diverged and above.diverged
    w_star, b_star = least_squares(X, 2.0 * y - 1)
    assert np.allclose(below.params["w"], w_star, atol=1e-6)


@ch03
def test_record_params_keeps_the_path():
    X, labels, _ = adaline_1d_data()
    run = Adaline(lr=0.4, epochs=5, batch_size=50, record_params=True).fit(X, labels)
    path = run.history["params"]
    assert len(path) == 1 + 5 * 2 == 1 + len(run.history["step_loss"])
    assert np.all(path[0]["w"] == 0) and path[0]["b"] == 0
    assert np.allclose(path[-1]["w"], run.params["w"]) and path[-1]["b"] == run.params["b"]
    assert "params" not in Adaline(lr=0.4, epochs=1).fit(X, labels).history


@ch03
def test_linear_models_train_through_the_one_training_loop(monkeypatch):
    from nnbook import linear_models, train

    calls = []
    original = train.training_loop
    monkeypatch.setattr(linear_models, "training_loop", lambda *a, **k: calls.append(k) or original(*a, **k))
    X, labels, _ = adaline_1d_data()
    for model in (Adaline(lr=0.1, epochs=3), LogisticRegression(lr=0.1, epochs=3), SoftmaxRegression(lr=0.1, epochs=3)):
        model.fit(X, labels)
        assert isinstance(model.history, train.History)  # the record fit keeps too
        assert model.history["loss"] is model.history.loss and len(model.history.loss) == 4
        assert model.history.diverged is model.diverged is False and model.history.params is None
    assert [k["max_cost"] for k in calls] == [Adaline.DIVERGENCE_COST] * 3
    above = Adaline(lr=1.02 * critical_learning_rate(X), epochs=1000).fit(X, labels)
    assert above.history.diverged and above.history.diverged_epoch == len(above.history["step_loss"])


# ---------------------------------------------------------------------------
# Chapter 3: batch, mini-batch and stochastic gradient descent
# ---------------------------------------------------------------------------


@ch03
def test_batch_minibatch_and_sgd_as_in_the_chapter():
    X, y = adaline_2d_data()
    runs = {B: Adaline(lr=0.05, epochs=20, batch_size=B, seed=0).fit(X, y) for B in (None, 20, 1)}
    assert [len(runs[B].history["step_loss"]) for B in (None, 20, 1)] == [20, 200, 4000]
    assert all(len(run.history["loss"]) == 21 for run in runs.values())
    t = 2.0 * y - 1
    J_min = adaline_gradients(X, t, *least_squares(X, t))[0]
    excess = {B: np.array(run.history["loss"]) - J_min for B, run in runs.items()}
    # after one epoch: more steps, further down
    assert excess[1][1] < excess[20][1] < excess[None][1]
    # after 20 epochs: the mini-batches are closest; SGD jitters above the minimum
    assert excess[20][-1] < excess[1][-1] < excess[None][-1]
    assert np.any(np.diff(excess[1]) > 0) and np.all(np.diff(excess[None]) < 0)
    assert all(run.history["accuracy"][-1] == 1.0 for run in runs.values())


@ch03
@pytest.mark.parametrize("batch_size", [None, 7, 1])
def test_training_is_reproducible_under_a_seed(batch_size):
    X, y = adaline_2d_data()
    first = Adaline(lr=0.05, epochs=3, batch_size=batch_size, seed=3).fit(X, y)
    second = Adaline(lr=0.05, epochs=3, batch_size=batch_size, seed=3).fit(X, y)
    other = Adaline(lr=0.05, epochs=3, batch_size=batch_size, seed=4).fit(X, y)
    assert first.history["step_loss"] == second.history["step_loss"]
    assert np.array_equal(first.params["w"], second.params["w"])
    if batch_size is None:       # one batch of all the examples: the order does not matter
        assert np.allclose(first.params["w"], other.params["w"])
    else:
        assert first.history["step_loss"] != other.history["step_loss"]


@ch03
def test_adaline_predicts_in_the_label_convention_of_fit():
    X, y = adaline_2d_data()
    assert set(Adaline(lr=0.1, epochs=20).fit(X, y).predict(X)) == {0, 1}
    signs = 2 * y - 1
    model = Adaline(lr=0.1, epochs=20).fit(X, signs)
    assert set(model.predict(X)) == {-1, 1} and model.accuracy(X, signs) == 1.0


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("model_class", [Adaline, LogisticRegression, SoftmaxRegression])
class TestErrors:
    pytestmark = [ch03, ch04]

    def test_fit_rejects_nan_inputs(self, model_class):
        X, y = np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 0.0]]), np.array([0, 1, 1])
        with pytest.raises(ValueError, match="non-finite"):
            model_class(epochs=1).fit(X, y)

    def test_fit_rejects_nan_labels(self, model_class):
        X, y = np.eye(3), np.array([0.0, np.nan, 1.0])
        with pytest.raises(ValueError):
            model_class(epochs=1).fit(X, y)

    def test_fit_rejects_mismatched_rows(self, model_class):
        with pytest.raises(ValueError, match="examples"):
            model_class(epochs=1).fit(np.zeros((4, 2)), np.array([0, 1, 1]))

    def test_predict_before_fit(self, model_class):
        with pytest.raises(RuntimeError, match="fit"):
            model_class().predict(np.zeros((2, 2)))

    @pytest.mark.parametrize("lr", [0.0, -0.1, np.nan, np.inf])
    def test_learning_rate_must_be_positive(self, model_class, lr):
        with pytest.raises(ValueError, match="lr"):
            model_class(lr=lr)

    @pytest.mark.parametrize("kwargs", [{"epochs": -1}, {"epochs": 1.5}, {"batch_size": 0}, {"batch_size": 2.5}])
    def test_bad_epochs_or_batch_size(self, model_class, kwargs):
        with pytest.raises(ValueError):
            model_class(**kwargs)

    def test_predict_with_the_wrong_number_of_features(self, model_class):
        model = model_class(epochs=1).fit(np.eye(3), np.array([0, 1, 1]))
        with pytest.raises(ValueError, match="features"):
            model.predict(np.zeros((2, 4)))

    def test_validation_needs_both_arrays(self, model_class):
        with pytest.raises(ValueError, match="both"):
            model_class(epochs=1).fit(np.eye(3), np.array([0, 1, 1]), X_val=np.eye(3))


@ch04
def test_logistic_regression_rejects_signed_labels():
    with pytest.raises(ValueError, match="y must only contain"):
        LogisticRegression(epochs=1).fit(np.eye(3), np.array([-1, 1, 1]))


# ---------------------------------------------------------------------------
# Chapter 4: the sigmoid, log-odds, cross-entropy and maximum likelihood
# ---------------------------------------------------------------------------


@ch04
def test_sigmoid_derivative_peaks_at_one_quarter():
    z = np.linspace(-8, 8, 1601)
    ds = sigmoid_derivative(z)
    assert ds.max() == 0.25 and z[ds.argmax()] == 0.0
    assert np.allclose(sigmoid(-z), 1 - sigmoid(z))
    assert np.all(np.isfinite(sigmoid(np.array([-1e4, 1e4]))))


@ch04
@given(binary_problems())
@settings(max_examples=40, deadline=None)
def test_log_odds_are_the_linear_score(problem):
    X, _, w, b = problem
    z = linear_scores(X, w, b)
    p = sigmoid(z)
    ok = (p > 1e-12) & (p < 1 - 1e-12)                  # where p / (1 − p) is representable
    assert np.allclose(np.log(p[ok] / (1 - p[ok])), z[ok], atol=1e-6)
    # one more unit of feature j multiplies the odds by e^{w_j}
    x_plus = X[0] + np.eye(len(w))[0]
    z0, z1 = X[0] @ w + b, x_plus @ w + b
    if abs(z0) < 20 and abs(z1) < 20:
        odds = lambda z: sigmoid(z) / (1 - sigmoid(z))
        assert odds(z1) / odds(z0) == pytest.approx(np.exp(w[0]), rel=1e-8)


@ch04
@given(binary_problems())
@settings(max_examples=40, deadline=None)
def test_bce_is_the_negative_mean_log_likelihood(problem):
    X, y, w, b = problem
    z = linear_scores(X, w, b)
    # P(y | x) = a^y (1 − a)^(1 − y), with 1 − a = σ(−z) computed without cancellation
    probability_of_label = np.where(y == 1, sigmoid(z), sigmoid(-z))
    J, _ = binary_cross_entropy_with_logits(z, y)
    if np.all(probability_of_label > 0):                                     # no underflow to 0
        log_likelihood = np.sum(np.log(probability_of_label))
        assert J == pytest.approx(-log_likelihood / len(y), rel=1e-9, abs=1e-12)
    # the stable form softplus(z) − y z is finite even where log a is not
    assert np.isfinite(J)


@ch04
def test_bce_equals_likelihood_on_the_chapter_example():
    rng = np.random.default_rng(0)
    X, w, b = rng.normal(size=(6, 3)), rng.normal(size=3), 0.4
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    p = sigmoid(X @ w + b)
    likelihood = np.prod(p**y * (1 - p) ** (1 - y))
    J, _ = binary_cross_entropy_with_logits(X @ w + b, y)
    assert J == pytest.approx(-np.log(likelihood) / 6) and J == pytest.approx(1.008232, abs=1e-6)


# ---------------------------------------------------------------------------
# Chapter 4: why not the squared error (convexity in 1-D)
# ---------------------------------------------------------------------------


def _second_differences(cost, ws):
    J = np.array([cost(w) for w in ws])
    h = ws[1] - ws[0]
    return (J[2:] - 2 * J[1:-1] + J[:-2]) / h**2


@ch04
def test_squared_error_of_a_sigmoid_is_not_convex_but_cross_entropy_is():
    ws = np.linspace(-8, 8, 1601)
    mse_cost = lambda w: mse(sigmoid(LINE_X[:, 0] * w), LINE_Y)[0]
    bce_cost = lambda w: binary_cross_entropy_with_logits(LINE_X[:, 0] * w, LINE_Y)[0]
    second_mse, second_bce = _second_differences(mse_cost, ws), _second_differences(bce_cost, ws)
    assert second_mse.min() < -0.05                        # concave somewhere: not convex
    assert second_bce.min() > 0                            # convex everywhere
    # the chapter's numbers: the MSE is convex only on [-0.40, 2.44]
    convex = ws[1:-1][second_mse >= 0]
    assert f"{convex.min():.2f}" == "-0.40" and f"{convex.max():.2f}" == "2.44"
    assert f"{second_mse.min():.3f}" == "-0.082"
    # the exact second derivative of the BCE is the (w, w) entry of the logistic Hessian
    exact = [logistic_hessian(LINE_X, np.array([w]), 0.0)[0, 0] for w in ws[1:-1:40]]
    assert np.allclose(second_bce[::40], exact, atol=1e-5)
    # on the shoulder w = −6 the squared error is flat, the cross-entropy is not
    slope = lambda cost, w: (cost(w + 1e-6) - cost(w - 1e-6)) / 2e-6
    assert abs(slope(mse_cost, -6.0)) < 1e-3 and slope(bce_cost, -6.0) == pytest.approx(-1.0, abs=0.01)


@ch04
def test_logistic_hessian_keeps_its_digits_where_the_examples_are_confidently_classified():
    """Far from the boundary each example weighs ``σ'(z) ≈ e^{-|z|}`` in the Hessian, not the 0 of ``a (1 − a)``."""
    import mpmath

    X = np.array([[40.0], [50.0], [-45.0]])  # z = x: every example deep in the flat part of the sigmoid
    with mpmath.workdps(50):
        slopes = [mpmath.exp(-abs(x)) / (1 + mpmath.exp(-abs(x))) ** 2 for x in X[:, 0]]
        expected = [[float(sum(s * x * x for s, x in zip(slopes, X[:, 0])) / 3),
                     float(sum(s * x for s, x in zip(slopes, X[:, 0])) / 3)],
                    [float(sum(s * x for s, x in zip(slopes, X[:, 0])) / 3), float(sum(slopes) / 3)]]
    np.testing.assert_allclose(logistic_hessian(X, np.array([1.0]), 0.0), expected, rtol=1e-13, atol=0)


@ch04
@given(binary_problems())
@settings(max_examples=30, deadline=None)
def test_logistic_hessian_is_positive_semidefinite_and_below_adaline_over_four(problem):
    X, y, w, b = problem
    H = logistic_hessian(X, w, b)
    assert H.shape == (X.shape[1] + 1,) * 2
    assert np.linalg.eigvalsh(H)[0] > -1e-12
    assert np.linalg.eigvalsh(adaline_hessian(X) / 4 - H)[0] > -1e-12
    theta = np.append(w, b)

    def gradient_entry(k):
        _, dw, db = logistic_gradients(X, y, theta[:-1], theta[-1])
        return np.append(dw, db)[k]

    numeric = np.array([numerical_gradient(lambda: gradient_entry(k), theta) for k in range(len(theta))])
    assert np.allclose(H, numeric, atol=1e-6)


# ---------------------------------------------------------------------------
# Chapter 4: the gradient dz = a − y
# ---------------------------------------------------------------------------


@ch04
@given(binary_problems())
@settings(max_examples=40, deadline=None)
def test_logistic_gradients_match_numerical_gradients(problem):
    X, y, w, b = problem
    b = np.array(b)
    J, dw, db = logistic_gradients(X, y, w, b)
    assert dw.shape == w.shape and np.shape(db) == ()
    cost = lambda: logistic_gradients(X, y, w, b)[0]
    check_gradient(cost, w, dw, "dw")
    check_gradient(cost, b, db, "db")
    a = sigmoid(X @ w + b)
    assert np.allclose(dw, X.T @ (a - y) / len(y)) and db == pytest.approx(np.sum(a - y) / len(y))


@ch04
@given(binary_problems())
@settings(max_examples=40, deadline=None)
def test_dz_is_da_times_sigma_prime_which_is_a_minus_y(problem):
    X, y, w, b = problem
    z = X @ w + b
    a = sigmoid(z)
    ok = (a > 1e-6) & (a < 1 - 1e-6)                    # where binary_cross_entropy does not clip a
    _, dz = binary_cross_entropy_with_logits(z, y)
    _, da = binary_cross_entropy(a, y)
    assert np.allclose(dz, (a - y) / len(y), atol=1e-15)
    assert np.allclose(dz[ok], (da * sigmoid_derivative(z))[ok], rtol=1e-6, atol=1e-12)


# ---------------------------------------------------------------------------
# Chapter 4: gradient descent with η = 0.125, 0.5 and 16
# ---------------------------------------------------------------------------


@ch04
def test_learning_rates_on_logistic_regression_as_in_the_chapter():
    X, y = logistic_moons_data()
    fits = {lr: LogisticRegression(lr=lr, epochs=100).fit(X, y) for lr in (0.125, 0.5, 16.0)}
    minimum = LogisticRegression(lr=4.0, epochs=2000).fit(X, y)
    J_min = minimum.history["loss"][-1]
    assert f"{J_min:.3f}" == "0.299"
    # small rates: monotone decrease, four times longer steps need four times fewer epochs
    for lr in (0.125, 0.5):
        assert np.all(np.diff(fits[lr].history["loss"]) < 0)
    assert fits[0.125].history["loss"][-1] > fits[0.5].history["loss"][-1] > J_min
    assert fits[0.5].history["loss"][25] == pytest.approx(fits[0.125].history["loss"][100], rel=0.01)
    # the threshold 2/λ_max of the Hessian at the minimum, printed as 14.1
    H = logistic_hessian(X, minimum.params["w"], minimum.params["b"])
    eta_critical = 2 / np.linalg.eigvalsh(H)[-1]
    assert f"{eta_critical:.1f}" == "14.1" and 0.5 < eta_critical < 16.0
    # η = 16 oscillates with period 2 above the minimum, without diverging
    last = fits[16.0].history["loss"]
    assert not fits[16.0].diverged
    assert last[-1] == pytest.approx(last[-3]) and last[-2] == pytest.approx(last[-4])
    assert abs(last[-1] - last[-2]) > 1e-3 and min(last[-2:]) > J_min + 0.01


@ch04
def test_logistic_learning_rate_just_below_the_threshold_converges():
    X, y = logistic_moons_data()
    J_min = LogisticRegression(lr=4.0, epochs=2000).fit(X, y).history["loss"][-1]
    below = LogisticRegression(lr=13.0, epochs=600).fit(X, y)
    assert below.history["loss"][-1] == pytest.approx(J_min, abs=1e-7)


@ch04
def test_logistic_regression_predictions():
    X, y = logistic_moons_data()
    model = LogisticRegression(lr=0.5, epochs=50).fit(X, y)
    p = model.predict_proba(X)
    assert p.shape == (200,) and np.all((p > 0) & (p < 1))
    assert np.array_equal(model.predict(X), (p >= 0.5).astype(int))
    assert model.accuracy(X, y) == model.history["accuracy"][-1]


# ---------------------------------------------------------------------------
# Chapter 4: softmax, log-sum-exp, softmax cross-entropy, multi-label
# ---------------------------------------------------------------------------


@ch04
@given(logit_matrices())
@settings(max_examples=50, deadline=None)
def test_softmax_rows_sum_to_one_even_for_huge_logits(Z):
    S = softmax(Z, axis=1)
    assert np.all(np.isfinite(S)) and np.all(S >= 0)
    assert np.allclose(S.sum(axis=1), 1.0)
    assert np.allclose(softmax(Z - Z.max(axis=1, keepdims=True), axis=1), S)
    lse = log_sum_exp(Z, axis=1)
    K = Z.shape[1]
    assert np.all(lse >= Z.max(axis=1) - 1e-9) and np.all(lse <= Z.max(axis=1) + np.log(K) + 1e-9)


@ch04
def test_naive_softmax_overflows_and_log_sum_exp_does_not():
    big = np.array([[1000.0, 1001.0, 999.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(big) / np.exp(big).sum(axis=1, keepdims=True)
    assert np.all(np.isnan(naive))
    assert log_sum_exp(big, axis=1)[0] == pytest.approx(1000.0 + np.log(np.exp([0.0, 1.0, -1.0]).sum()))
    assert np.allclose(softmax(big, axis=1), softmax(np.array([[0.0, 1.0, -1.0]]), axis=1))


@ch04
@given(logit_matrices(max_scale=10.0))
@settings(max_examples=30, deadline=None)
def test_softmax_of_two_classes_is_the_sigmoid_of_the_difference(Z):
    two = Z[:, :2]
    assert np.allclose(softmax(two, axis=1)[:, 1], sigmoid(two[:, 1] - two[:, 0]))


@ch04
@given(multiclass_problems())
@settings(max_examples=40, deadline=None)
def test_softmax_gradients_match_numerical_gradients(problem):
    X, y, W, b = problem
    J, dW, db = softmax_gradients(X, y, W, b)
    assert dW.shape == W.shape and db.shape == b.shape
    cost = lambda: softmax_gradients(X, y, W, b)[0]
    check_gradient(cost, W, dW, "dW")
    check_gradient(cost, b, db, "db")
    Z = X @ W.T + b
    Y = one_hot(y, W.shape[0])
    dZ = (softmax(Z, axis=1) - Y) / len(y)
    assert np.allclose(dW, dZ.T @ X) and np.allclose(db, dZ.sum(axis=0))
    # the cost is the negative mean log-likelihood of the labels
    assert J == pytest.approx(-np.mean(np.log(softmax(Z, axis=1)[np.arange(len(y)), y])), rel=1e-9)


@ch04
@given(logit_matrices(max_scale=5.0), seeds)
@settings(max_examples=30, deadline=None)
def test_multilabel_cross_entropy_gradient(Z, seed):
    Y = np.random.default_rng(seed).integers(0, 2, size=Z.shape).astype(float)
    J, dZ = binary_cross_entropy_with_logits(Z, Y)
    assert np.allclose(dZ, (sigmoid(Z) - Y) / len(Z))
    check_gradient(lambda: binary_cross_entropy_with_logits(Z, Y)[0], Z, dZ, "dZ")
    # the sum of K binary cross-entropies, averaged over the examples
    per_label = sum(binary_cross_entropy_with_logits(Z[:, k], Y[:, k])[0] for k in range(Z.shape[1]))
    assert J == pytest.approx(per_label)


# ---------------------------------------------------------------------------
# Chapter 4: softmax regression on the digits, and the limits of linear classifiers
# ---------------------------------------------------------------------------

#: The chapter states that the test accuracy on the 8×8 digits is above this value.
DIGITS_TEST_ACCURACY = 0.95


@ch04
def test_softmax_regression_on_digits_as_in_the_chapter():
    # the per-epoch curves are drawn on a dev set carved from the training images; the test set is scored once
    X_train, y_train, X_dev, y_dev, X_test, y_test = carve_dev_split(load_digits(seed=0), dev_fraction=0.15, seed=0)
    assert (len(y_train), len(y_dev), len(y_test)) == (1144, 203, 450)
    model = SoftmaxRegression(lr=0.5, epochs=30, batch_size=32, seed=0).fit(X_train, y_train, X_dev, y_dev)
    assert model.params["w"].shape == (10, 64) and model.params["b"].shape == (10,)
    test_accuracy = model.accuracy(X_test, y_test)
    train_accuracy = model.accuracy(X_train, y_train)
    assert test_accuracy > DIGITS_TEST_ACCURACY
    assert train_accuracy >= test_accuracy
    assert model.history["val_accuracy"][-1] == model.accuracy(X_dev, y_dev)
    assert len(model.history["loss"]) == 31 and model.history["loss"][-1] < model.history["loss"][0] / 10
    C = confusion_matrix(y_test, model.predict(X_test), n_classes=10)
    assert C.sum() == len(y_test) and np.trace(C) == round(test_accuracy * len(y_test))
    P = model.predict_proba(X_test)
    assert P.shape == (450, 10) and np.allclose(P.sum(axis=1), 1)


@ch04
def test_linear_classifiers_cannot_separate_circles_or_xor():
    problems = {"moons": make_moons(200, noise=0.1, seed=0), "circles": make_circles(200, seed=0),
                "XOR": make_xor(200, seed=0)}
    fits = {name: LogisticRegression(lr=1.0, epochs=500).fit(X, y) for name, (X, y) in problems.items()}
    assert 0.8 < fits["moons"].history["accuracy"][-1] < 0.95
    for name in ("circles", "XOR"):
        assert fits[name].history["accuracy"][-1] < 0.7
        assert fits[name].history["loss"][-1] == pytest.approx(np.log(2), abs=1e-2)


@ch04
def test_softmax_regression_number_of_classes():
    X, y = np.eye(4), np.array([0, 1, 1, 0])
    assert SoftmaxRegression(epochs=1).fit(X, y).params["w"].shape == (2, 4)
    assert SoftmaxRegression(n_classes=5, epochs=1).fit(X, y).params["w"].shape == (5, 4)
