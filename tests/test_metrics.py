"""Tests of nnbook/metrics.py."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnbook import metrics


def test_accuracy_and_error_rate():
    y, y_hat = np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2])
    assert metrics.accuracy(y, y_hat) == 0.75
    assert metrics.error_rate(y, y_hat) == 0.25
    with pytest.raises(ValueError, match="y_true has 4 examples"):
        metrics.accuracy(y, y_hat[:3])


def test_confusion_matrix_counts():
    C = metrics.confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]))
    np.testing.assert_array_equal(C, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert C.trace() == 4 and C.sum() == 6
    assert metrics.confusion_matrix(np.array([0]), np.array([0]), n_classes=3).shape == (3, 3)


# ---------------------------------------------------------------------------
# Precision, recall and F1, cross-checked with scikit-learn
# ---------------------------------------------------------------------------

OURS_AND_SKLEARN = [("precision", "precision_score"), ("recall", "recall_score"), ("f1_score", "f1_score")]


def test_precision_recall_f1_by_hand():
    # TP = 2 (rows 0, 1), FP = 1 (row 2), FN = 1 (row 3), TN = 1 (row 4)
    y, y_hat = np.array([1, 1, 0, 1, 0]), np.array([1, 1, 1, 0, 0])
    assert metrics.precision(y, y_hat) == pytest.approx(2 / 3)
    assert metrics.recall(y, y_hat) == pytest.approx(2 / 3)
    assert metrics.f1_score(y, y_hat) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    # class 0 as the positive one: TP = 1, FP = 1, FN = 1
    assert metrics.precision(y, y_hat, positive=0) == metrics.recall(y, y_hat, positive=0) == 0.5
    # macro: the mean of the two classes' scores
    assert metrics.f1_score(y, y_hat, average="macro") == pytest.approx((2 / 3 + 0.5) / 2)


def test_f1_is_the_harmonic_mean_of_precision_and_recall():
    P, R, F = metrics.scores_from_counts(np.array([3, 5, 1]), np.array([1, 0, 4]), np.array([2, 5, 0]))
    np.testing.assert_allclose(F, 2 * P * R / (P + R))
    np.testing.assert_allclose(P, [3 / 4, 1, 1 / 5])
    np.testing.assert_allclose(R, [3 / 5, 1 / 2, 1])


def test_zero_division_returns_0_by_default_and_1_on_request():
    y = np.array([0, 0, 1, 1])
    never = np.zeros(4, dtype=int)  # class 1 never predicted: precision 0/0, recall 0/2
    assert metrics.precision(y, never) == 0.0 and metrics.recall(y, never) == 0.0 and metrics.f1_score(y, never) == 0.0
    assert metrics.precision(y, never, zero_division=1) == 1.0
    assert metrics.f1_score(y, never, zero_division=1) == 0.0  # TP = 0 with FN = 2: F1 = 0/2, no 0/0
    absent = np.zeros(4, dtype=int)  # class 1 neither present nor predicted: everything is 0/0
    assert metrics.f1_score(absent, absent) == 0.0 and metrics.f1_score(absent, absent, zero_division=1) == 1.0
    with pytest.raises(ValueError, match="zero_division"):
        metrics.precision(y, never, zero_division=0.5)


def test_always_the_majority_has_high_accuracy_and_f1_zero():
    y = np.r_[np.zeros(95, dtype=int), np.ones(5, dtype=int)]
    lazy = np.zeros(100, dtype=int)
    assert metrics.accuracy(y, lazy) == 0.95
    assert metrics.f1_score(y, lazy) == 0.0
    assert metrics.f1_score(y, lazy, average="macro") == pytest.approx((2 * 95 / (2 * 95 + 5)) / 2)


@pytest.mark.parametrize("zero_division", [0, 1])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_precision_recall_f1_agree_with_scikit_learn(data, zero_division):
    from sklearn import metrics as sk

    K = data.draw(st.integers(2, 5), label="K")
    m = data.draw(st.integers(1, 40), label="m")
    labels = st.lists(st.integers(0, K - 1), min_size=m, max_size=m)
    y, y_hat = np.array(data.draw(labels, label="y")), np.array(data.draw(labels, label="y_hat"))
    positive = data.draw(st.integers(0, K - 1), label="positive")
    for ours, theirs in OURS_AND_SKLEARN:
        ours, theirs = getattr(metrics, ours), getattr(sk, theirs)
        # binary: the positive class against the others
        assert ours(y, y_hat, positive=positive, zero_division=zero_division) == pytest.approx(
            theirs(y == positive, y_hat == positive, zero_division=zero_division))
        # macro over the classes that occur, and over 0 … K−1
        assert ours(y, y_hat, average="macro", zero_division=zero_division) == pytest.approx(
            theirs(y, y_hat, average="macro", zero_division=zero_division))
        assert ours(y, y_hat, average="macro", n_classes=K, zero_division=zero_division) == pytest.approx(
            theirs(y, y_hat, average="macro", labels=list(range(K)), zero_division=zero_division))
    P, R, F = metrics.per_class_scores(y, y_hat, n_classes=K, zero_division=zero_division)
    sk_P, sk_R, sk_F, _ = sk.precision_recall_fscore_support(y, y_hat, labels=list(range(K)), zero_division=zero_division)
    np.testing.assert_allclose(np.c_[P, R, F], np.c_[sk_P, sk_R, sk_F])


def test_precision_rejects_bad_arguments():
    y = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="average must be 'binary'"):
        metrics.precision(y, y, average="micro")
    with pytest.raises(ValueError, match="y_true has 3 examples"):
        metrics.recall(y, y[:2])
    with pytest.raises(ValueError, match="integer labels"):
        metrics.f1_score(np.array([0.5, 1.0, 1.0]), y)
    with pytest.raises(ValueError, match="labels 0, 1"):
        metrics.f1_score(np.array([-1, 1, 1]), y)
