"""The training loop: mini-batches, forward, backward, update, and a history of the run.

:func:`training_loop` is the one loop of the package: for each epoch it cuts the
shuffled examples into mini-batches (with a seeded generator, so runs are
reproducible), and for each mini-batch computes the cost and the gradients,
records the cost, stops if it diverged, and updates the parameters; after each
epoch it records what the model wants recorded. Every model trains through it:

* :func:`fit`, for networks built from :mod:`nnbook.layers` (forward pass, loss,
  backward pass, an optimizer's step);
* the linear models of :mod:`nnbook.linear_models` (a ``*_gradients`` function and
  a gradient-descent step).

Both fill the same :class:`History`. ``fit`` checks its data once, where they
enter; the mini-batch steps do not check them again.
"""

import math
from dataclasses import dataclass, field, fields
from typing import Optional

import numpy as np
from tqdm.auto import tqdm

from .losses import SoftmaxCrossEntropy
from .optim import minibatch_indices
from .validation import check_finite, check_rows_match


@dataclass
class History:
    """What a training run recorded; in the per-epoch lists, index 0 is before the first epoch.

    * ``loss``, ``accuracy``: on the training set (or a sample of it, see :func:`fit`), after each epoch;
    * ``val_loss``, ``val_accuracy``: on the held-out split, when one was given;
    * ``step_loss``: the cost of the mini-batch at every step, before its update;
    * ``params``: copies of the parameters before the first step and after every
      step, when the model was asked to keep them (``None`` otherwise);
    * ``diverged``: whether training stopped because the cost became non-finite
      (or too large for the model), and ``diverged_epoch`` the epoch (from 1) where it did;
    * ``best_epoch``, ``stopped_epoch``: with early stopping (see :func:`fit`), the
      epoch of the lowest validation cost, whose weights the model ends with, and
      the epoch after which training stopped (``None`` if it ran all its epochs).

    A field can also be read by name, ``history["loss"]``, as from a dict;
    ``"params" in history`` is false when no parameters were kept.
    """

    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    step_loss: list = field(default_factory=list)
    params: Optional[list] = None
    diverged: bool = False
    diverged_epoch: Optional[int] = None
    best_epoch: Optional[int] = None
    stopped_epoch: Optional[int] = None

    def keys(self):
        """The names of the fields that hold a record (``params`` only when kept)."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def __getitem__(self, name):
        if name not in self.keys():
            raise KeyError(name)
        return getattr(self, name)

    def __contains__(self, name):
        return name in self.keys()


def training_loop(step, update, m, epochs, batch_size, rng, record, history, max_cost=math.inf, progress=False,
                  stop_early=None):
    """Run ``epochs`` epochs of mini-batch training; fills and returns ``history`` (a :class:`History`).

    ``step(batch)`` computes the cost ``J`` of the mini-batch ``batch`` (an array
    of example indices) and the gradients at the current parameters, and returns
    ``J``; ``update()`` then moves the parameters. ``record()`` is called before
    the first epoch and after each one; it appends to ``history`` what the model
    records and returns the training cost it measured. ``rng`` shuffles the
    ``m`` examples of each epoch (:func:`~nnbook.optim.minibatch_indices`).

    Divergence stops training: a mini-batch cost that is not finite or exceeds
    ``max_cost`` (the update is then skipped), or a recorded cost that is not
    finite. ``history.diverged`` and ``history.diverged_epoch`` say so.
    ``stop_early(epoch)``, if given, is asked after each epoch's record whether to stop there.
    """

    def stop(epoch):
        history.diverged, history.diverged_epoch = True, epoch
        return history

    if not math.isfinite(record()):
        return stop(0)
    for epoch in tqdm(range(1, epochs + 1), desc="epochs", disable=not progress, leave=False):
        for batch in minibatch_indices(m, batch_size, rng):
            J = float(step(batch))
            history.step_loss.append(J)
            if not (math.isfinite(J) and J <= max_cost):
                return stop(epoch)
            update()
        if not math.isfinite(record()):
            return stop(epoch)
        if stop_early is not None and stop_early(epoch):
            break
    return history


def check_examples(X, y, name_X="X", name_y="y"):
    """Check a data set for a classifier once, where it enters: returns ``(X, y)`` as arrays.

    ``X : (m, …)`` numeric with the examples along the first axis, any rank
    (rows ``(m, n_x)``, images ``(m, C, H, W)``), no NaN or infinity; it keeps
    its dtype (float32 data train a float32 model in float32). ``y : (m,)``
    integer labels ``≥ 0``.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{name_X} must be a numeric array, got dtype {X.dtype}")
    if X.ndim < 2:
        raise ValueError(f"{name_X} must have 2 or more dimensions, examples first (m, n_x) or (m, C, H, W), "
                         f"got shape {X.shape}")
    check_finite(X, name_X)
    check_rows_match(X, y, name_X, name_y)
    if y.ndim != 1 or y.dtype.kind not in "iub":
        raise ValueError(f"{name_y} must be a 1-D array of integer labels, got dtype {y.dtype} and shape {y.shape}")
    if y.size and y.min() < 0:
        raise ValueError(f"{name_y} must hold labels 0, 1, …, K−1, found {y.min()}")
    return X, y


def check_label_range(y, Z, name_y="y"):
    """Raise ``ValueError`` unless every label of ``y`` is a class of the scores ``Z : (m, K)``."""
    if y.size and y.max() >= Z.shape[1]:
        raise ValueError(f"{name_y} holds the label {y.max()} but the model scores {Z.shape[1]} classes, "
                         f"0 to {Z.shape[1] - 1}")


def _evaluate(model, X, y, loss, batch_size, labels=None):
    """:func:`evaluate` without its checks; ``labels``, if given, are checked against the first batch's scores."""
    was_training = getattr(model, "training", True)
    model.train(False)
    try:
        total, correct = 0.0, 0
        for start in range(0, len(X), batch_size):
            Z = model.forward(X[start : start + batch_size])
            if labels is not None and start == 0:
                check_label_range(labels, Z)
            total += loss.forward(Z, y[start : start + batch_size]) * len(Z)
            correct += int(np.count_nonzero(np.argmax(Z, axis=1) == y[start : start + batch_size]))
    finally:
        model.train(was_training)
    return total / len(X), correct / len(X)


def evaluate(model, X, y, loss=None, batch_size=1024):
    """Mean cost and accuracy of ``model`` on ``X : (m, …)``, labels ``y : (m,)``, in inference mode, batch by batch.

    The data are checked once (:func:`check_examples`, and the labels against
    the model's number of classes). The model is switched to inference mode for
    the evaluation and then back to the mode it was in before, even if the
    evaluation fails.
    """
    X, y = check_examples(X, y)
    if len(X) == 0:
        raise ValueError(f"cannot evaluate on zero examples, got X of shape {X.shape}")
    return _evaluate(model, X, y, loss or SoftmaxCrossEntropy(check=False), batch_size, labels=y)


def _all_layers(model):
    """``model``'s layers, nested chains included (a single layer is a chain of one)."""
    for layer in getattr(model, "layers", [model]):
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
        else:
            yield layer


def model_state(model):
    """A copy of everything ``model`` learned: its parameters and its buffers (running statistics)."""
    params = {name: param.copy() for name, param, _ in model.params_and_grads()}
    buffers = [{name: value.copy() for name, value in layer.buffers.items()} for layer in _all_layers(model)]
    return params, buffers


def load_model_state(model, state):
    """Put back into ``model``, in place, a state taken by :func:`model_state` from the same model."""
    params, buffers = state
    for name, param, _ in model.params_and_grads():
        param[...] = params[name]
    for layer, saved in zip(_all_layers(model), buffers):
        for name, value in saved.items():
            layer.buffers[name][...] = value


class EarlyStopping:
    """Stop when the validation cost has not gone down for ``patience`` epochs in a row; remember the best weights.

    Called after each epoch with the epoch and its validation cost, it returns
    whether to stop. It keeps a copy of the model's state (:func:`model_state`)
    at the epoch with the lowest validation cost so far (the first one on ties),
    and :meth:`restore` puts it back.
    """

    def __init__(self, model, patience):
        if not (isinstance(patience, (int, np.integer)) and patience >= 1):
            raise ValueError(f"patience must be an integer ≥ 1 (epochs without improvement), got {patience!r}")
        self.model, self.patience = model, int(patience)
        self.best_loss, self.best_epoch, self.best_state = math.inf, None, None

    def __call__(self, epoch, val_loss):
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch, self.best_state = val_loss, epoch, model_state(self.model)
        return epoch - self.best_epoch >= self.patience

    def restore(self):
        load_model_state(self.model, self.best_state)


def _history_sample(m, size, seed):
    """Indices of the training examples that :func:`fit` records on: all of them, or ``size`` drawn once."""
    if size is None or m <= size:
        return slice(None)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])  # not the generator of the mini-batches
    return np.sort(rng.choice(m, size, replace=False))


def fit(model, X, y, optimizer, epochs=10, batch_size=64, loss=None, X_val=None, y_val=None, seed=0, progress=True,
        history_sample=512, penalty=None, patience=None, restore_best=True):
    """Train ``model`` on ``X : (m, …)`` (rows ``(m, n_x)`` or images ``(m, C, H, W)``), labels ``y : (m,)``.

    Each epoch shuffles the examples (seeded by ``seed``) and, for each mini-batch
    of ``batch_size``, runs the forward pass, the loss (softmax cross-entropy by
    default), the backward pass and ``optimizer.step(model)``. Returns a :class:`History`.

    The data are checked once, here (:func:`check_examples`); the mini-batch
    steps do not check them again. While it trains, the model's first layer with
    parameters skips the gradient with respect to the data, which no update needs
    (``model.input_grad = False``; restored at the end).

    The history costs a small fraction of an epoch: the training cost and
    accuracy are measured, in inference mode, on at most ``history_sample``
    training examples drawn once before training (the same ones at every epoch;
    all of them when there are no more, or with ``history_sample=None``), and the
    validation split, when given, is measured whole. ``history.step_loss`` holds
    every mini-batch cost, which costs nothing to keep.

    A run that diverges (a mini-batch cost or a recorded cost that is NaN or
    infinite: the learning rate is too large) stops and is reported in the
    history, ``history.diverged`` and ``history.diverged_epoch``; it raises no
    error, and numpy's overflow warnings are silenced while it trains.

    ``penalty`` (an :class:`~nnbook.regularization.L2` or
    :class:`~nnbook.regularization.L1`) is added to every mini-batch's cost, with
    ``m = len(X)`` the number of training examples, and its gradient to the
    weights' gradients; ``history.step_loss`` holds that total, while
    ``history.loss`` and ``history.val_loss`` stay the data cost, comparable
    across penalties.

    Early stopping: with ``patience`` (needs ``X_val``), training stops after
    ``patience`` epochs in a row without a new lowest validation cost, and with
    ``restore_best`` (the default) the model ends with the weights and buffers of
    its best epoch; ``history.best_epoch`` and ``history.stopped_epoch`` say which.

    ``progress`` shows a tqdm bar (in notebooks and terminals); pass ``False`` to turn it off.
    """
    X, y = check_examples(X, y)
    if (X_val is None) != (y_val is None):
        raise ValueError("pass both X_val and y_val for a held-out evaluation, or neither")
    if X_val is not None:
        X_val, y_val = check_examples(X_val, y_val, "X_val", "y_val")
    if not (isinstance(epochs, (int, np.integer)) and epochs >= 0):
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if len(X) == 0:
        raise ValueError(f"cannot train on zero examples, got X of shape {X.shape}")
    if patience is not None and X_val is None:
        raise ValueError("early stopping (patience) watches the validation cost: pass X_val and y_val")
    early_stopping = None if patience is None else EarlyStopping(model, patience)
    loss = loss or SoftmaxCrossEntropy(check=False)
    sample = _history_sample(len(X), history_sample, seed)
    X_record, y_record = X[sample], y[sample]
    history = History()

    def record():
        first = not history.loss  # the labels are checked once, against the number of classes the model scores
        J, accuracy = _evaluate(model, X_record, y_record, loss, 1024, labels=y if first else None)
        history.loss.append(J)
        history.accuracy.append(accuracy)
        if X_val is not None:
            J_val, accuracy_val = _evaluate(model, X_val, y_val, loss, 1024, labels=y_val if first else None)
            history.val_loss.append(J_val)
            history.val_accuracy.append(accuracy_val)
            if first and early_stopping is not None:
                early_stopping(0, J_val)  # the weights before training are a candidate too
        return J

    def step(batch):
        J = loss.forward(model.forward(X[batch]), y[batch])
        model.backward(loss.backward())
        if penalty is not None:
            J += penalty.cost(model, len(X))
            penalty.add_gradients(model, len(X))
        return J

    def stop_early(epoch):
        # record() has just measured this epoch's validation cost (and epoch 0's, before training)
        if not early_stopping(epoch, history.val_loss[-1]):
            return False
        history.stopped_epoch = epoch
        return True

    def update():
        optimizer.step(model)

    input_grad = getattr(model, "input_grad", None)
    if input_grad is not None:
        model.input_grad = False
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            training_loop(step, update, len(X), epochs, batch_size, np.random.default_rng(seed), record, history,
                          progress=progress, stop_early=stop_early if early_stopping else None)
        if early_stopping is not None and early_stopping.best_epoch is not None:
            history.best_epoch = early_stopping.best_epoch
            if restore_best:
                early_stopping.restore()
    finally:
        if input_grad is not None:
            model.input_grad = input_grad
    return history
