"""The training loop: mini-batches, forward, backward, update, and a history of the run.

``fit`` is the loop every chapter uses for networks built from
:mod:`nnbook.layers`: for each epoch it shuffles the examples (with a seeded
generator, so runs are reproducible), and for each mini-batch runs the forward
pass, the loss, the backward pass and an optimizer step. After each epoch it
records the training cost and accuracy, and those on a held-out split if one
is given.
"""

from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .layers import SoftmaxCrossEntropy
from .optim import minibatch_indices
from .validation import check_finite, check_ndim, check_rows_match


@dataclass
class History:
    """Per-epoch records of a training run; index 0 is before the first epoch."""

    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)


def evaluate(model, X, y, loss=None, batch_size=1024):
    """Mean cost and accuracy of ``model`` on ``(X, y)``, in inference mode, batch by batch.

    The model is switched to inference mode for the evaluation and then back to
    the mode it was in before, even if the evaluation fails.
    """
    X, y = np.asarray(X), np.asarray(y)
    check_rows_match(X, y)
    if len(X) == 0:
        raise ValueError(f"cannot evaluate on zero examples, got X of shape {X.shape}")
    loss = loss or SoftmaxCrossEntropy()
    was_training = getattr(model, "training", True)
    model.train(False)
    try:
        total, correct = 0.0, 0
        for start in range(0, len(X), batch_size):
            Z = model.forward(X[start : start + batch_size])
            total += loss.forward(Z, y[start : start + batch_size]) * len(Z)
            correct += int(np.sum(np.argmax(Z, axis=1) == y[start : start + batch_size]))
    finally:
        model.train(was_training)
    return total / len(X), correct / len(X)


def fit(model, X, y, optimizer, epochs=10, batch_size=64, loss=None, X_val=None, y_val=None, seed=0, progress=True):
    """Train ``model`` on ``X : (m, n_x)``, integer labels ``y : (m,)``; returns a :class:`History`.

    ``progress`` shows a tqdm bar (in notebooks and terminals); pass ``False`` to turn it off.
    """
    X = check_finite(check_ndim(np.asarray(X), "X", 2), "X")
    y = np.asarray(y)
    check_rows_match(X, y)
    if (X_val is None) != (y_val is None):
        raise ValueError("pass both X_val and y_val for a held-out evaluation, or neither")
    loss = loss or SoftmaxCrossEntropy()
    rng = np.random.default_rng(seed)
    history = History()

    def record():
        J, acc = evaluate(model, X, y, loss)
        history.loss.append(J)
        history.accuracy.append(acc)
        if X_val is not None:
            J_val, acc_val = evaluate(model, X_val, y_val, loss)
            history.val_loss.append(J_val)
            history.val_accuracy.append(acc_val)

    record()
    for _ in tqdm(range(epochs), desc="epochs", disable=not progress, leave=False):
        for batch in minibatch_indices(len(X), batch_size, rng):
            loss.forward(model.forward(X[batch]), y[batch])
            model.backward(loss.backward())
            optimizer.step(model)
        record()
    return history
