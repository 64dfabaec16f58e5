"""Measuring a classifier: accuracy, error rate, the confusion matrix, precision, recall and F1.

Precision, recall and F1 are defined for one *positive* class against the others
(``average="binary"``) or averaged over the classes (``average="macro"``). A ratio
whose denominator is 0, such as the precision of a class that is never predicted,
is worth :data:`ZERO_DIVISION` (0, scikit-learn's ``zero_division=0``) unless
``zero_division=1`` is asked for.
"""

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


# ---------------------------------------------------------------------------
# Precision, recall and F1
# ---------------------------------------------------------------------------

#: What a ratio is worth when its denominator is 0 (a class never predicted, or never present):
#: 0, scikit-learn's ``zero_division=0``.
ZERO_DIVISION = 0.0


def _labels(y, name):
    y = np.asarray(y)
    if y.ndim != 1 or (y.size and y.dtype.kind not in "iub"):
        raise ValueError(f"{name} must be a 1-D array of integer labels, got dtype {y.dtype} and shape {y.shape}")
    if y.size and y.min() < 0:
        raise ValueError(f"{name} must hold labels 0, 1, …, K−1, found {y.min()}")
    return y.astype(int)


def _check_zero_division(zero_division):
    if zero_division not in (0, 1):
        raise ValueError(f"zero_division, the value of a ratio 0/0, must be 0 or 1, got {zero_division!r}")
    return float(zero_division)


def _ratio(numerator, denominator, zero_division):
    """``numerator / denominator`` element by element, ``zero_division`` where the denominator is 0."""
    numerator, denominator = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    out = np.full(np.broadcast(numerator, denominator).shape, zero_division)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def scores_from_counts(tp, fp, fn, zero_division=ZERO_DIVISION):
    """Precision, recall and F1 from the counts of true positives, false positives and false negatives.

    ``precision = TP / (TP + FP)`` (of the examples predicted positive, the
    fraction that are), ``recall = TP / (TP + FN)`` (of the positive examples,
    the fraction found), and their harmonic mean
    ``F1 = 2 P R / (P + R) = 2 TP / (2 TP + FP + FN)``. A ratio ``0/0`` (nothing
    predicted positive; no positive example) is worth ``zero_division``; F1 uses
    the count form, so it is ``0/0`` only when ``TP = FP = FN = 0``, as in
    scikit-learn. The counts may be numbers or arrays of the same shape.
    """
    zero_division = _check_zero_division(zero_division)
    tp, fp, fn = (np.asarray(c, dtype=float) for c in (tp, fp, fn))
    return (_ratio(tp, tp + fp, zero_division), _ratio(tp, tp + fn, zero_division),
            _ratio(2 * tp, 2 * tp + fp + fn, zero_division))


def per_class_scores(y_true, y_pred, n_classes=None, zero_division=ZERO_DIVISION):
    """Precision, recall and F1 of every class ``k``, each class in turn the positive one; three arrays ``(K,)``.

    From the confusion matrix ``C : (K, K)``: ``TP_k = C[k, k]``, ``FP_k`` the rest
    of column ``k`` (predicted ``k``, wrongly), ``FN_k`` the rest of row ``k``
    (``k`` missed). See :func:`scores_from_counts` for ``zero_division``.
    """
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    C = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(C)
    return scores_from_counts(tp, C.sum(axis=0) - tp, C.sum(axis=1) - tp, zero_division)


def _score(index, y_true, y_pred, positive, average, n_classes, zero_division):
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    check_rows_match(y_true, y_pred, "y_true", "y_pred")
    if average == "binary":
        true, predicted = y_true == positive, y_pred == positive
        tp = np.count_nonzero(true & predicted)
        fp, fn = np.count_nonzero(~true & predicted), np.count_nonzero(true & ~predicted)
        return float(scores_from_counts(tp, fp, fn, zero_division)[index])
    if average == "macro":
        if len(y_true) == 0 and n_classes is None:
            raise ValueError("macro-averaging needs at least one example, or n_classes")
        scores = per_class_scores(y_true, y_pred, n_classes, zero_division)[index]
        if n_classes is None:  # the classes that occur, as scikit-learn does by default
            scores = scores[np.union1d(y_true, y_pred)]
        return float(np.mean(scores))
    raise ValueError(f"average must be 'binary' (one positive class) or 'macro' (mean over the classes), got {average!r}")


def precision(y_true, y_pred, positive=1, average="binary", n_classes=None, zero_division=ZERO_DIVISION):
    """Of the examples predicted ``positive``, the fraction that are: ``TP / (TP + FP)``.

    ``y_true``, ``y_pred : (m,)`` integer labels. ``average="binary"``: class
    ``positive`` against all the others. ``average="macro"``: the mean of the
    precisions of the classes, each class counting the same whatever its size;
    the classes are those that occur in ``y_true`` or ``y_pred``, or ``0 … K−1``
    with ``n_classes=K``. A class never predicted has precision ``0/0``, worth
    ``zero_division`` (0 by default, scikit-learn's ``zero_division=0``).
    """
    return _score(0, y_true, y_pred, positive, average, n_classes, zero_division)


def recall(y_true, y_pred, positive=1, average="binary", n_classes=None, zero_division=ZERO_DIVISION):
    """Of the examples of class ``positive``, the fraction predicted so: ``TP / (TP + FN)``.

    Arguments as in :func:`precision`; a class absent from ``y_true`` has recall
    ``0/0``, worth ``zero_division``.
    """
    return _score(1, y_true, y_pred, positive, average, n_classes, zero_division)


def f1_score(y_true, y_pred, positive=1, average="binary", n_classes=None, zero_division=ZERO_DIVISION):
    """The harmonic mean of precision and recall, ``2 P R / (P + R) = 2 TP / (2 TP + FP + FN)``.

    Arguments as in :func:`precision`. Macro-averaging takes the mean of the
    classes' F1 scores (not the F1 of the mean precision and recall), as
    scikit-learn does. F1 is ``0/0`` only for a class that is neither present nor
    predicted; a class never predicted but present has ``TP = 0``: F1 = 0.
    """
    return _score(2, y_true, y_pred, positive, average, n_classes, zero_division)
