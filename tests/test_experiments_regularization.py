"""The numbers and claims of the chapter *Regularization and evaluation* (``book/regularization.md``), checked again.

The chapter and these tests call the same functions of
:mod:`nnbook.experiments_regularization` with the same settings, so every number
the page prints is recomputed here. The penalties and dropout have their own unit
tests (``test_regularization.py``), the metrics theirs (``test_metrics.py``, against
scikit-learn), the splits theirs (``test_data.py``), early stopping its own
(``test_train.py``); this file covers what the chapter measures with them. Values
the page prints as rounded text are compared as the same rounded text.
"""

import math

import numpy as np
import pytest

from nnbook.data import carve_dev_split, class_proportions, load_mnist_subset
from nnbook.experiments_regularization import (
    DROPOUT_SETTINGS,
    EARLY_STOPPING_SETTINGS,
    MOONS_SETTINGS,
    PENALTY_SETTINGS,
    POLYNOMIAL_SETTINGS,
    RARE_DIGIT_SETTINGS,
    SANITY_SETTINGS,
    SHUFFLED_SETTINGS,
    SPLIT_SETTINGS,
    dropout_network,
    dropout_runs,
    early_stopping_run,
    initial_losses,
    memorize_shuffled_labels,
    moons_boundaries,
    overfit_tiny_subset,
    penalty_runs,
    polynomial_data,
    polynomial_fit,
    polynomial_fits,
    rare_digit_data,
    rare_digit_scores,
    small_mnist,
    split_proportions,
    update_ratios,
)
from nnbook.gradcheck import check_gradient
from nnbook.layers import Linear, mlp
from nnbook.metrics import accuracy, f1_score
from nnbook.regularization import (
    Dropout,
    dropout_backward,
    dropout_forward,
    l2_penalty,
    l2_penalty_gradient,
    weight_decay_step,
)
from nnbook.train import evaluate

pytestmark = pytest.mark.ch09


def first_epoch_at(values, target=1.0):
    return next(epoch for epoch, value in enumerate(values) if value == target)


def n_weights(sizes):
    return sum(n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


# ---------------------------------------------------------------------------
# Train / dev / test
# ---------------------------------------------------------------------------


def test_stratified_splits_keep_the_rare_class_and_shuffled_ones_do_not():
    stratified = split_proportions(SPLIT_SETTINGS, stratify=True)
    shuffled = split_proportions(SPLIT_SETTINGS, stratify=False)
    assert stratified.shape == shuffled.shape == (SPLIT_SETTINGS["n_seeds"], 3)
    np.testing.assert_allclose(stratified, 1 / SPLIT_SETTINGS["rare_every"])  # "exactly the 5%"
    # the page: "the dev set of 100 examples holds anywhere from 0% to 11% of the rare class"
    assert (f"{shuffled[:, 1].min():.0%}", f"{shuffled[:, 1].max():.0%}") == ("0%", "11%")
    assert (f"{shuffled[:, 2].min():.1%}", f"{shuffled[:, 2].max():.1%}") == ("1.0%", "9.0%")


def test_the_mnist_dev_split_keeps_a_tenth_of_each_digit_everywhere():
    split = carve_dev_split(load_mnist_subset(), dev_fraction=0.125, seed=0)
    for labels in split[1::2]:
        np.testing.assert_allclose(class_proportions(labels), 0.1)


def test_small_mnist_cuts_from_the_training_images_only():
    X, y, X_dev, y_dev = small_mnist(1000, 500)
    assert X.shape == (1000, 784) and X_dev.shape == (500, 784)
    test_rows = {row.tobytes() for row in load_mnist_subset().X_test}
    assert not any(row.tobytes() in test_rows for row in np.vstack([X, X_dev]))
    assert min(np.bincount(y)) >= 80  # about a tenth of each digit
    assert small_mnist(10, 5, dtype=np.float32)[0].dtype == np.float32


# ---------------------------------------------------------------------------
# Metrics: a rare digit against the rest
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rare():
    return rare_digit_scores(RARE_DIGIT_SETTINGS)


def test_the_rare_digit_data_as_the_page_counts_them():
    X_train, y_train, X_test, y_test = rare_digit_data(RARE_DIGIT_SETTINGS)
    assert (int(y_train.sum()), len(y_train), int(y_test.sum()), len(y_test)) == (80, 3680, 20, 920)
    assert X_train.shape == (3680, 784) and set(np.unique(y_train)) == {0, 1}


def test_always_the_majority_scores_high_accuracy_and_zero_f1(rare):
    lazy = rare["always 0"]
    assert lazy.accuracy == 900 / 920 and f"{lazy.accuracy:.1%}" == "97.8%"
    assert lazy.precision == lazy.recall == lazy.f1 == 0.0
    assert lazy.macro_f1 == pytest.approx((2 * 900 / (2 * 900 + 20)) / 2) and f"{lazy.macro_f1:.2f}" == "0.49"
    np.testing.assert_array_equal(lazy.confusion, [[900, 0], [20, 0]])


def test_logistic_regression_finds_the_rare_digit(rare):
    logistic, lazy = rare["logistic regression"], rare["always 0"]
    printed = (f"{logistic.accuracy:.1%}", f"{logistic.precision:.2f}", f"{logistic.recall:.2f}", f"{logistic.f1:.2f}",
               f"{logistic.macro_f1:.2f}")
    assert printed == ("98.9%", "1.00", "0.50", "0.67", "0.83")
    # "gains only about one point of accuracy", but F1 goes from 0 to 0.67
    assert 0 < logistic.accuracy - lazy.accuracy < 0.02 and logistic.f1 > 0.6
    # the scores are those of the confusion matrix it shows
    (tn, fp), (fn, tp) = logistic.confusion
    assert logistic.accuracy == (tp + tn) / 920 and logistic.f1 == pytest.approx(2 * tp / (2 * tp + fp + fn))


# ---------------------------------------------------------------------------
# Under- and over-fitting
# ---------------------------------------------------------------------------


def test_polynomials_show_the_three_regimes():
    train, dev = polynomial_fits(POLYNOMIAL_SETTINGS)
    degrees = list(POLYNOMIAL_SETTINGS["degrees"])
    best = degrees[int(np.argmin(dev))]
    assert best == 3 and f"{dev[best]:.3f}" == "0.080"
    assert POLYNOMIAL_SETTINGS["noise"] ** 2 < dev[best] < 1.5 * POLYNOMIAL_SETTINGS["noise"] ** 2  # "close to"
    assert np.all(np.diff(train) <= 1e-12)  # nested models: the training error never rises
    assert train[-1] < 1e-12  # degree 14 through all 15 points
    assert dev[1] > 5 * dev[best] and train[1] > 3 * train[best]  # degree 1 under-fits
    assert dev[-1] > 1e6 and dev[12] > 100 * dev[best]  # over-fitting, by orders of magnitude
    assert POLYNOMIAL_SETTINGS["shown"] == (1, best, 12)
    printed = {d: (f"{train[d]:.3f}", f"{dev[d]:.3g}") for d in (1, 3, 12)}
    assert printed == {1: ("0.156", "0.493"), 3: ("0.040", "0.0805"), 12: ("0.010", "99.6")}


def test_polynomial_fit_is_least_squares():
    x, t, _, _ = polynomial_data(POLYNOMIAL_SETTINGS)
    p = polynomial_fit(x, t, 4)
    np.testing.assert_allclose(p(x), np.polyval(np.polyfit(x, t, 4), x), atol=1e-9)


@pytest.fixture(scope="module")
def memorized():
    return memorize_shuffled_labels(SHUFFLED_SETTINGS)


def test_a_network_memorizes_shuffled_labels_and_stays_at_chance(memorized):
    shuffled, true = memorized["shuffled"], memorized["true"]
    assert shuffled.accuracy[-1] == 1.0 and first_epoch_at(shuffled.accuracy) == 24
    assert abs(shuffled.val_accuracy[-1] - 0.1) < 0.05 and f"{shuffled.val_accuracy[-1]:.1%}" == "12.6%"
    assert true.accuracy[-1] == 1.0 and f"{true.val_accuracy[-1]:.1%}" == "88.0%"
    # the shuffled labels are a permutation of the true ones: the same count of each digit
    _, y, _, _ = small_mnist(SHUFFLED_SETTINGS["m_train"], SHUFFLED_SETTINGS["m_dev"])
    shuffled_labels = np.random.default_rng(SHUFFLED_SETTINGS["seed"]).permutation(y)
    np.testing.assert_array_equal(np.bincount(shuffled_labels), np.bincount(y))
    assert accuracy(y, shuffled_labels) < 0.2
    # "its 200,000 parameters"
    assert round(n_weights(SHUFFLED_SETTINGS["sizes"]), -4) == 200_000


# ---------------------------------------------------------------------------
# Penalties
# ---------------------------------------------------------------------------


def test_the_pages_weight_decay_cell():
    rng = np.random.default_rng(0)
    W, dW = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    lr, lam, m = 0.1, 5.0, 100
    np.testing.assert_allclose(weight_decay_step(W, dW, lr, lam, m), W - lr * (dW + l2_penalty_gradient(W, lam, m)))
    assert 1 - lr * lam / m == 0.995
    assert check_gradient(lambda: l2_penalty([W], lam, m), W, l2_penalty_gradient(W, lam, m), "(λ/m) W") < 1e-8


def test_the_self_check_answers():
    # precision question: TP 30, FP 10, FN 20, TN 940
    y = np.r_[np.ones(50, int), np.zeros(950, int)]
    y_hat = np.r_[np.ones(30, int), np.zeros(20, int), np.ones(10, int), np.zeros(940, int)]
    assert accuracy(y, y_hat) == 0.97 and f1_score(y, y_hat) == pytest.approx(2 / 3)
    # weight-decay question: 0.999 per step, 20 steps per epoch
    assert 1 - 0.1 * 10 / 1000 == pytest.approx(0.999) and f"{0.999 ** 20:.3f}" == "0.980"
    # initial-loss question
    assert f"{math.log(100):.1f}" == "4.6"


@pytest.fixture(scope="module")
def penalties():
    return penalty_runs(PENALTY_SETTINGS)


def test_l1_makes_weights_zero_and_l2_makes_them_small(penalties):
    tiny = PENALTY_SETTINGS["near_zero"]
    near_zero = {name: np.mean(np.abs(run.W1) < tiny) for name, run in penalties.items()}
    mean_abs = {name: np.abs(run.W1).mean() for name, run in penalties.items()}
    assert penalties["L1"].W1.shape == (64, 784) and penalties["L1"].W1.size == 50_176
    assert f"{near_zero['L1']:.0%}" == "84%" and f"{near_zero['none']:.1%}" == "1.4%"
    assert f"{mean_abs['L2'] / mean_abs['none']:.2f}" == "0.60"
    assert near_zero["L2"] < 0.05 < 0.5 < near_zero["L1"]
    assert mean_abs["L1"] < mean_abs["L2"] < mean_abs["none"]
    printed = {name: (f"{run.history.accuracy[-1]:.1%}", f"{run.history.val_accuracy[-1]:.1%}")
               for name, run in penalties.items()}
    assert printed == {"none": ("99.5%", "87.2%"), "L2": ("98.2%", "88.2%"), "L1": ("94.5%", "87.4%")}


def test_the_history_records_the_data_cost_not_the_penalty(penalties):
    # with the penalty, the recorded training cost is the data cost: it is measured again here, without it
    X, y, _, _ = small_mnist(PENALTY_SETTINGS["m_train"], PENALTY_SETTINGS["m_dev"])
    model = mlp(PENALTY_SETTINGS["sizes"], "relu", seed=0)
    assert penalties["L2"].history.loss[0] == pytest.approx(evaluate(model, X, y)[0])


@pytest.fixture(scope="module")
def moons():
    return moons_boundaries(MOONS_SETTINGS)


def test_the_penalty_trades_training_accuracy_for_dev_accuracy_on_the_moons(moons):
    lams = MOONS_SETTINGS["lams"]
    best = max(lams, key=lambda lam: moons.dev_accuracy[lam])
    assert best == 1.0
    assert (f"{moons.dev_accuracy[best]:.1%}", f"{moons.dev_accuracy[0.0]:.1%}") == ("89.7%", "87.8%")
    assert moons.train_accuracy[0.0] == 1.0  # no penalty: every training point classified
    train = [moons.train_accuracy[lam] for lam in lams]
    assert all(later <= earlier for earlier, later in zip(train, train[1:]))  # a larger λ fits the training set less
    assert moons.dev_accuracy[10.0] < moons.dev_accuracy[best] and moons.train_accuracy[10.0] < 0.9  # under-fits
    printed = {lam: (f"{moons.train_accuracy[lam]:.1%}", f"{moons.dev_accuracy[lam]:.1%}") for lam in lams}
    assert printed == {0.0: ("100.0%", "87.8%"), 0.1: ("100.0%", "86.9%"), 1.0: ("93.3%", "89.7%"),
                       10.0: ("83.3%", "81.6%")}


# ---------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------


def test_the_pages_dropout_cell():
    a = np.array([[0.5, 1.0, 2.0, 4.0]])
    A = np.repeat(a, 100_000, axis=0)
    out, cache = dropout_forward(A, p=0.5, rng=0)
    np.testing.assert_allclose(out.mean(axis=0), a[0], rtol=0.01)  # E[ã] = a
    assert f"{np.mean(out == 0):.4f}" == "0.5008"
    assert set(np.unique(out / A)) == {0.0, 2.0}  # dropped, or scaled by 1/(1 − p)
    np.testing.assert_array_equal(dropout_forward(a, 0.5, training=False)[0], a)
    dA = dropout_backward(np.ones_like(A), cache)
    assert np.array_equal(dA == 0, out == 0)
    # each example has its own mask: the rows differ
    assert len(np.unique(out[:100], axis=0)) > 1


def test_dropout_network_layers_and_shared_initial_weights():
    sizes = (784, *DROPOUT_SETTINGS["hidden"], 10)
    with_dropout, without = dropout_network(sizes, 0.5), dropout_network(sizes, 0.0)
    kinds = [type(layer).__name__ for layer in with_dropout.layers]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert [layer.p for layer in with_dropout.layers if isinstance(layer, Dropout)] == [0.5, 0.5]
    for a, b in zip(with_dropout.params_and_grads(), without.params_and_grads()):
        np.testing.assert_array_equal(a[1], b[1])
    # "about 670,000 weights" and 2^1024 ≈ 10^308 subnetworks
    assert round(n_weights(sizes), -4) == 670_000
    assert f"{sum(DROPOUT_SETTINGS['hidden']) * math.log10(2):.0f}" == "308"
    # at inference the network is deterministic: dropout is the identity
    X = np.random.default_rng(0).random((4, 784))
    with_dropout.train(False)
    np.testing.assert_array_equal(with_dropout.forward(X), with_dropout.forward(X))
    assert dropout_network(sizes, 0.5, dtype=np.float32).layers[0].params["W"].dtype == np.float32
    assert isinstance(with_dropout.layers[-1], Linear)


@pytest.fixture(scope="module")
def dropped():
    return dropout_runs(DROPOUT_SETTINGS)


def test_dropout_narrows_the_gap_on_the_mnist_subset(dropped):
    ps = DROPOUT_SETTINGS["ps"]
    assert all(dropped[p].accuracy[-1] >= 0.995 for p in ps)  # all fit their training images almost perfectly
    dev = [dropped[p].val_accuracy[-1] for p in ps]
    cost = [dropped[p].val_loss[-1] for p in ps]
    assert dev == sorted(dev) and cost == sorted(cost, reverse=True)
    printed = {p: (f"{dropped[p].accuracy[-1]:6.1%}", f"{dropped[p].val_accuracy[-1]:.1%}", f"{dropped[p].val_loss[-1]:.3f}")
               for p in ps}
    assert printed == {0.0: ("100.0%", "89.6%", "0.358"), 0.25: ("100.0%", "90.8%", "0.335"),
                       0.5: (" 99.9%", "91.0%", "0.322")}
    acc = dropped[0.0].val_accuracy[-1]
    assert f"{100 * math.sqrt(acc * (1 - acc) / DROPOUT_SETTINGS['m_dev']):.1f}" == "1.4"


# ---------------------------------------------------------------------------
# Early stopping
# ---------------------------------------------------------------------------


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    model, history = early_stopping_run(EARLY_STOPPING_SETTINGS)
    best, stop = history.best_epoch, history.stopped_epoch
    assert (best, stop) == (10, 15) and stop == best + EARLY_STOPPING_SETTINGS["patience"]
    assert len(history.val_loss) == stop + 1 < EARLY_STOPPING_SETTINGS["epochs"] + 1
    assert history.val_loss[best] == min(history.val_loss)
    assert (f"{history.val_loss[best]:.3f}", f"{history.val_accuracy[best]:.1%}", f"{history.val_loss[stop]:.3f}") == (
        "0.315", "91.0%", "0.335")
    assert history.loss[stop] < history.loss[best]  # the training cost kept falling
    s = EARLY_STOPPING_SETTINGS
    _, _, X_dev, y_dev = small_mnist(s["m_train"], s["m_dev"], s["seed"], s["dtype"])
    J, acc = evaluate(model, X_dev, y_dev)
    assert J == pytest.approx(history.val_loss[best], rel=1e-5) and acc == history.val_accuracy[best]


# ---------------------------------------------------------------------------
# Sanity checks
# ---------------------------------------------------------------------------


def test_the_initial_cost_is_close_to_log_k():
    costs = initial_losses(SANITY_SETTINGS)
    assert len(costs) == len(SANITY_SETTINGS["init_seeds"])
    assert np.all(np.abs(costs - math.log(10)) < 0.15) and np.all(costs > math.log(10))  # "a little above"
    assert f"{costs.mean():.3f}" == "2.378"


def test_the_network_learns_fifty_images_by_heart():
    history = overfit_tiny_subset(SANITY_SETTINGS)
    assert history.accuracy[-1] == 1.0 and first_epoch_at(history.accuracy) == 10
    assert history.accuracy[0] < 0.3


def test_update_to_weight_ratios_are_about_one_in_a_thousand_and_scale_with_the_rate():
    ratios = {lr: update_ratios(SANITY_SETTINGS, lr=lr) for lr in (0.001, SANITY_SETTINGS["ratio_lr"], 0.1, 1.0)}
    sensible = ratios[SANITY_SETTINGS["ratio_lr"]]
    assert sensible.shape == (3,) and np.all((1e-4 < sensible) & (sensible < 1e-2))
    assert (f"{sensible.min():.0e}", f"{sensible.max():.0e}") == ("4e-04", "2e-03")
    np.testing.assert_allclose(ratios[0.001] * 10, sensible, rtol=0.1)  # small rates: the ratio is proportional
    assert np.all(ratios[1.0] > 0.1)  # "several tenths": far too large
