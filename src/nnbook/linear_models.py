"""Linear models trained by gradient descent: Adaline, logistic and softmax regression.

All three compute a linear score of the input and differ only in what follows
it and in the loss:

=====================  ==========================  ===============================
model                  prediction from ``z``       cost ``J`` (mean over the batch)
=====================  ==========================  ===============================
Adaline (delta rule)   ``z`` itself, then sign     ½ squared error on ``±1`` targets
logistic regression    ``a = σ(z)``                binary cross-entropy
softmax regression     ``softmax(z)`` over K       softmax cross-entropy
=====================  ==========================  ===============================

Each comes as a pure function ``*_gradients(X, y, w, b) → (J, dw, db)``, the
formula the book derives and tests numerically, and a small class that runs
batch, mini-batch or stochastic gradient descent with it.

Adaline's cost is quadratic in ``(w, b)``, so its Hessian is a constant matrix:
:func:`adaline_hessian` computes it and :func:`critical_learning_rate` the
learning rate ``2/λ_max`` above which batch gradient descent diverges (the
Adaline chapter derives it).
"""

import numpy as np

from .activations import sigmoid, sigmoid_derivative, softmax
from .layers import linear_backward, linear_forward
from .losses import binary_cross_entropy_with_logits, mse, softmax_cross_entropy
from .optim import gradient_descent_step
from .perceptron import labels_to_signs
from .train import History, training_loop
from .validation import (
    as_float_array,
    check_binary_labels,
    check_finite,
    check_ndim,
    check_positive,
    check_rows_match,
)


def linear_scores(X, W, b):
    """``z = X @ w + b`` for a weight vector ``w`` of shape ``(n_x,)`` (output ``(m,)``),
    or ``Z = X @ W.T + b`` for a weight matrix ``W`` of shape ``(K, n_x)`` (output ``(m, K)``): the forward pass of
    a layer, :func:`nnbook.layers.linear_forward`, of which one unit with its weights as a vector is the special case."""
    return X @ W + b if np.ndim(W) == 1 else linear_forward(X, W, b)


def linear_gradients(X, dZ):
    """Backward of :func:`linear_scores`: from ``dZ = ∂J/∂Z`` to ``(dW, db)``.

    ``dw = Xᵀ dz`` (shape ``(n_x,)``) and ``db = Σ_i dz⁽ⁱ⁾`` for a vector;
    ``dW = dZᵀ X`` (shape ``(K, n_x)``) and ``db = Σ_i dZ⁽ⁱ⁾`` (shape ``(K,)``) for a matrix.
    The ``1/m`` of the mean is already inside ``dZ``.
    """
    if dZ.ndim == 1:
        return X.T @ dZ, dZ.sum(axis=0)
    _, dW, db = linear_backward(dZ, X, None, input_grad=False)  # a layer's backward pass, without dx
    return dW, db


def adaline_gradients(X, y, w, b):
    """Cost and gradients of Adaline: ``J = 1/(2m) Σ (z − y)²`` with ``z = X w + b``.

    ``X : (m, n_x)``, ``y : (m,)`` targets (``±1`` for classification), ``w : (n_x,)``, ``b`` scalar.
    Returns ``(J, dw, db)`` with ``dw = Xᵀ (z − y) / m`` and ``db = Σ (z − y) / m``:
    the delta rule ``w ← w + α/m Σ (y − z) x`` is gradient descent on ``J``.
    """
    J, dz = mse(linear_scores(X, w, b), y)
    return (J, *linear_gradients(X, dz))


def adaline_hessian(X):
    """Hessian of the Adaline cost ``J(w, b) = 1/(2m) Σ (w · x + b − y)²`` with respect to ``(w, b)``.

    With the bias folded in, ``X̃ = [X, 1]`` of shape ``(m, n_x + 1)``, the cost is
    ``‖X̃ θ − y‖² / (2m)`` for ``θ = (w, b)``, and its Hessian is the constant
    matrix ``X̃ᵀ X̃ / m`` of shape ``(n_x + 1, n_x + 1)``, whatever ``y``, ``w``, ``b``.
    The last row and column belong to ``b``.
    """
    X = check_finite(check_ndim(as_float_array(X, "X"), "X", 2), "X")
    X1 = np.hstack([X, np.ones((X.shape[0], 1))])
    return X1.T @ X1 / X.shape[0]


def critical_learning_rate(X):
    """``2 / λ_max`` of :func:`adaline_hessian`: batch gradient descent on the Adaline cost
    converges for every learning rate below it and diverges (from almost any start) above it."""
    return 2.0 / float(np.linalg.eigvalsh(adaline_hessian(X))[-1])


def logistic_hessian(X, w, b):
    """Hessian of the logistic-regression cost (mean binary cross-entropy) with respect to ``(w, b)``.

    ``X : (m, n_x)``, ``w : (n_x,)``, ``b`` scalar. With ``X̃ = [X, 1]`` and
    ``s⁽ⁱ⁾ = σ'(z⁽ⁱ⁾) = a⁽ⁱ⁾ (1 − a⁽ⁱ⁾)``, it is ``X̃ᵀ diag(s) X̃ / m``, of shape
    ``(n_x + 1, n_x + 1)`` (last row and column: ``b``). It does not depend on
    the labels, is positive semi-definite (the cost is convex), and is at most
    ``adaline_hessian(X) / 4`` since ``σ' ≤ 1/4``.
    """
    X = check_finite(check_ndim(as_float_array(X, "X"), "X", 2), "X")
    X1 = np.hstack([X, np.ones((X.shape[0], 1))])
    s = sigmoid_derivative(linear_scores(X, np.asarray(w, dtype=np.float64), b))
    return X1.T @ (X1 * s[:, None]) / X.shape[0]


def logistic_gradients(X, y, w, b):
    """Cost and gradients of logistic regression, ``a = σ(X w + b)`` with binary cross-entropy.

    ``X : (m, n_x)``, ``y : (m,)`` in ``{0, 1}``, ``w : (n_x,)``, ``b`` scalar.
    Returns ``(J, dw, db)`` with ``dz = (a − y)/m``, ``dw = Xᵀ dz``, ``db = Σ dz``.
    """
    J, dz = binary_cross_entropy_with_logits(linear_scores(X, w, b), y)
    return (J, *linear_gradients(X, dz))


def softmax_gradients(X, y, W, b):
    """Cost and gradients of softmax regression, ``Z = X Wᵀ + b`` with softmax cross-entropy.

    ``X : (m, n_x)``, ``y : (m,)`` in ``{0, …, K−1}``, ``W : (K, n_x)``, ``b : (K,)``.
    Returns ``(J, dW, db)`` with ``dZ = (softmax(Z) − Y)/m``, ``dW = dZᵀ X : (K, n_x)``, ``db = Σ_i dZ⁽ⁱ⁾ : (K,)``.
    """
    J, dZ = softmax_cross_entropy(linear_scores(X, W, b), y)
    return (J, *linear_gradients(X, dZ))


class GradientDescentModel:
    """Gradient descent on ``(w, b)`` with a model's ``gradients`` function, run by the package's one training loop.

    Parameters
    ----------
    lr : learning rate ``α > 0``.
    epochs : number of passes over the training set.
    batch_size : ``None`` for batch gradient descent (all ``m`` examples per step),
        ``1`` for stochastic gradient descent, anything between for mini-batches.
    seed : seeds the shuffling of the examples, so a run is reproducible.
    record_params : if True, ``history["params"]`` keeps a copy of the
        parameters before the first step and after every step (the path of
        gradient descent; only for small models, it holds one copy per step).

    After :meth:`fit`, ``history`` is a :class:`nnbook.train.History`, the
    record :func:`nnbook.train.fit` keeps too (its fields also read by name,
    ``history["loss"]``): per-epoch lists ``loss`` and ``accuracy`` (on the
    whole training set, after the epoch; index 0 is before training),
    ``val_loss`` and ``val_accuracy`` when validation data were given,
    ``step_loss``, the mini-batch cost at every step, and ``params`` with
    ``record_params``. ``diverged`` tells whether training stopped because the
    cost blew up (became non-finite or exceeded ``DIVERGENCE_COST``).
    """

    #: a cost above this counts as divergence and stops training
    DIVERGENCE_COST = 1e12

    #: the function ``(X, y, w, b) → (J, dw, db)`` of the model
    gradients = None

    def __init__(self, lr=0.1, epochs=100, batch_size=None, seed=0, record_params=False):
        self.lr = check_positive(lr, "lr")
        if not (isinstance(epochs, (int, np.integer)) and epochs >= 0):
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        if batch_size is not None and not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
            raise ValueError(f"batch_size must be None (batch gradient descent) or a positive integer, got {batch_size!r}")
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed
        self.record_params = record_params
        self.params = None
        self.diverged = False

    def _targets(self, y):
        return np.asarray(y)

    def _init_params(self, n_x, y):
        return {"w": np.zeros(n_x), "b": 0.0}

    def _check_fitted(self):
        if self.params is None:
            raise RuntimeError(f"{type(self).__name__} must be fit before it can predict")

    def _check_X(self, X, name="X"):
        X = check_ndim(as_float_array(X, name), name, 2)
        n_x = self.params["w"].shape[-1]
        if X.shape[1] != n_x:
            raise ValueError(f"{name} has {X.shape[1]} features (shape {X.shape}) but the model was fit on {n_x}")
        return X

    def cost(self, X, y):
        """The cost ``J`` of the current parameters on ``(X, y)``."""
        self._check_fitted()
        X = self._check_X(X)
        return float(type(self).gradients(X, self._targets(y), self.params["w"], self.params["b"])[0])

    def fit(self, X, y, X_val=None, y_val=None):
        """Train from zero weights; returns ``self``.

        ``X : (m, n_x)`` without NaN, ``y : (m,)``; the optional validation
        split ``(X_val, y_val)`` is scored after every epoch. The epochs run in
        :func:`nnbook.train.training_loop`, the loop every model of the package
        trains with: a step computes the mini-batch cost and gradients with the
        model's ``gradients`` function, an update is one gradient-descent step.
        """
        X = check_finite(check_ndim(as_float_array(X, "X"), "X", 2), "X")
        check_rows_match(X, y)
        if (X_val is None) != (y_val is None):
            raise ValueError("pass both X_val and y_val, or neither")
        if X_val is not None:
            X_val = check_finite(check_ndim(as_float_array(X_val, "X_val"), "X_val", 2), "X_val")
            check_rows_match(X_val, y_val, "X_val", "y_val")
        targets = self._targets(y)
        self.params = self._init_params(X.shape[1], y)
        batch_size = X.shape[0] if self.batch_size is None else self.batch_size
        self.history = History(params=[self._copy_params()] if self.record_params else None)
        gradients, grads = type(self).gradients, {}

        def step(batch):
            J, grads["w"], grads["b"] = gradients(X[batch], targets[batch], self.params["w"], self.params["b"])
            return J

        def update():
            self.params = gradient_descent_step(self.params, grads, self.lr)
            if self.record_params:
                self.history.params.append(self._copy_params())

        with np.errstate(over="ignore", invalid="ignore"):
            training_loop(step, update, X.shape[0], self.epochs, batch_size, np.random.default_rng(self.seed),
                          lambda: self._record(X, y, X_val, y_val), self.history, max_cost=self.DIVERGENCE_COST)
        self.diverged = self.history.diverged
        return self

    def _copy_params(self):
        return {name: np.array(value, dtype=np.float64) for name, value in self.params.items()}

    def _record(self, X, y, X_val, y_val):
        """Append the cost and accuracy on the training (and validation) set to the history; returns the cost."""
        J = self.cost(X, y)
        self.history.loss.append(J)
        self.history.accuracy.append(self.accuracy(X, y))
        if X_val is not None:
            self.history.val_loss.append(self.cost(X_val, y_val))
            self.history.val_accuracy.append(self.accuracy(X_val, y_val))
        return J

    def decision_function(self, X):
        """The linear scores ``X @ w + b``, shape ``(m,)`` (or ``X @ W.T + b``, shape ``(m, K)``)."""
        self._check_fitted()
        return linear_scores(self._check_X(X), self.params["w"], self.params["b"])

    def accuracy(self, X, y):
        """Fraction of examples whose predicted label equals ``y``."""
        return float(np.mean(self.predict(X) == np.asarray(y)))


class Adaline(GradientDescentModel):
    """Widrow and Hoff's adaptive linear neuron: the delta rule on ``±1`` targets, prediction by sign.

    Labels may be ``{0, 1}`` or ``{−1, +1}``; predictions use the convention of the labels seen in :meth:`fit`.
    """

    gradients = staticmethod(adaline_gradients)

    def _targets(self, y):
        return labels_to_signs(y)

    def fit(self, X, y, X_val=None, y_val=None):
        self._negative_label = 0 if np.any(np.asarray(y) == 0) else -1
        return super().fit(X, y, X_val, y_val)

    def predict(self, X):
        return np.where(self.decision_function(X) >= 0, 1, self._negative_label)


class LogisticRegression(GradientDescentModel):
    """Binary logistic regression: ``P(y = 1 | x) = σ(w · x + b)``, labels in ``{0, 1}``."""

    gradients = staticmethod(logistic_gradients)

    def _targets(self, y):
        y = np.asarray(y)
        check_binary_labels(y, "y", (0, 1))
        return y.astype(np.float64)

    def predict_proba(self, X):
        """``σ(X w + b)``, shape ``(m,)``."""
        return sigmoid(self.decision_function(X))

    def predict(self, X):
        """``1`` where ``P(y = 1 | x) ≥ 1/2``, i.e. where ``z ≥ 0``."""
        return (self.decision_function(X) >= 0).astype(int)


class SoftmaxRegression(GradientDescentModel):
    """K-class softmax regression: ``P(y = k | x) = softmax(W x + b)_k``, ``W : (K, n_x)``, labels in ``{0, …, K−1}``."""

    gradients = staticmethod(softmax_gradients)

    def __init__(self, n_classes=None, **kwargs):
        super().__init__(**kwargs)
        self.n_classes = n_classes

    def _init_params(self, n_x, y):
        K = self.n_classes or int(np.max(y)) + 1
        return {"w": np.zeros((K, n_x)), "b": np.zeros(K)}

    def predict_proba(self, X):
        """Class probabilities, shape ``(m, K)``, rows summing to 1."""
        return softmax(self.decision_function(X), axis=1)

    def predict(self, X):
        """The most probable class, shape ``(m,)``."""
        return np.argmax(self.decision_function(X), axis=1)
