"""Measuring a classifier: accuracy, error rate and the confusion matrix."""

import numpy as np

from .validation import check_rows_match


def accuracy(y_true, y_pred):
    """Fraction of examples with ``y_pred == y_true``."""
    check_rows_match(y_true, y_pred, "y_true", "y_pred")
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def error_rate(y_true, y_pred):
    """Fraction of misclassified examples, ``1 − accuracy``."""
    return 1.0 - accuracy(y_true, y_pred)


def confusion_matrix(y_true, y_pred, n_classes=None):
    """``C[i, j]`` counts the examples of true class ``i`` predicted as class ``j``; shape ``(K, K)``.

    The diagonal holds the correct predictions; row ``i`` sums to the number of examples of class ``i``.
    """
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    check_rows_match(y_true, y_pred, "y_true", "y_pred")
    K = n_classes or int(max(y_true.max(), y_pred.max())) + 1
    C = np.zeros((K, K), dtype=int)
    np.add.at(C, (y_true, y_pred), 1)
    return C
