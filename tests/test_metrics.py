"""Tests of nnbook/metrics.py."""

import numpy as np
import pytest

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
