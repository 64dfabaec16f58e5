"""One backward pass written three ways: per neuron, in the book's matrices, and row-major with folded biases.

The lecture decks write the gradients of a multi-layer perceptron in three
notations (chapter *Backpropagation in matrix form*, ``book/backprop.md``):

* **per neuron**, one example at a time (Artières, Dehaqani): an *error term*
  ``δ_j = ∂L/∂z_j`` for every unit, ``δ_k = ŷ_k − y_k`` at a softmax output,
  ``δ_j = g′(z_j) Σ_k w_kj δ_k`` for a hidden unit, and ``∂L/∂w_jk = δ_j a_k``:
  :func:`neuron_by_neuron_gradients`, with loops that follow these formulas;
* **the book's**, a batch stored one example per row, ``W : (n_out, n_in)``, the mean
  cost, ``dW = dZᵀ A``: :func:`book_gradients`, with the layers of :mod:`nnbook.layers`;
* **row-major with folded biases** (the "T3" deck): a column of ones in front of
  each layer's input, weights ``W_row : (n_in + 1, n_out)`` whose first row is the bias,
  ``Z = A W_row``, the *summed* cost, error matrices ``δ`` and ``Δ = Aᵀ δ``:
  :func:`row_major_gradients`, and :func:`from_row_major` to read its ``Δ`` as ``(dW, db)``.

The network is the same in all three: ``x → Linear(n0, n1) → sigmoid → Linear(n1, n2)
→ softmax``, with the cross-entropy loss, given by ``params = {"W1": (n1, n0), "b1": (n1,),
"W2": (n2, n1), "b2": (n2,)}`` in the book's convention. The dictionaries of gradients
returned have the same keys, ``dW1, db1, dW2, db2``, and are gradients of the *mean* cost.
"""

import numpy as np

from .activations import sigmoid, softmax
from .layers import Linear, Sequential, Sigmoid
from .losses import SoftmaxCrossEntropy, one_hot


def book_gradients(params, X, y):
    """The book's batch formulas, run by :mod:`nnbook.layers`: ``X : (m, n0)``, integer labels ``y : (m,)``."""
    W1, W2 = params["W1"], params["W2"]
    first, second = Linear(W1.shape[1], W1.shape[0]), Linear(W2.shape[1], W2.shape[0])
    for layer, l in ((first, 1), (second, 2)):
        layer.params["W"][...], layer.params["b"][...] = params[f"W{l}"], params[f"b{l}"]
    network, loss = Sequential(first, Sigmoid(), second), SoftmaxCrossEntropy()
    loss.forward(network.forward(X), y)
    network.backward(loss.backward())
    return {"dW1": first.grads["W"], "db1": first.grads["b"], "dW2": second.grads["W"], "db2": second.grads["b"]}


def neuron_by_neuron_gradients(params, X, y):
    """Error terms unit by unit, example by example, with loops: the per-neuron form of two decks.

    For each example, with ``a_k`` the input of a weight ``w_jk`` (from unit ``k`` to unit ``j``):

    * output unit ``k``: ``δ_k = ŷ_k − y_k`` (softmax and cross-entropy);
    * hidden unit ``j``: ``δ_j = g′(z_j) Σ_k w_kj δ_k``, with ``g′(z) = a (1 − a)`` for the sigmoid;
    * every weight: ``∂L/∂w_jk = δ_j a_k``, and every bias ``∂L/∂b_j = δ_j``.

    The gradients of the mean cost are the averages over the ``m`` examples.
    """
    W1, b1, W2, b2 = (params[name] for name in ("W1", "b1", "W2", "b2"))
    (n1, n0), n2, m = W1.shape, W2.shape[0], X.shape[0]
    grads = {"dW1": np.zeros((n1, n0)), "db1": np.zeros(n1), "dW2": np.zeros((n2, n1)), "db2": np.zeros(n2)}
    for i in range(m):
        x = X[i]
        a1 = [sigmoid(sum(W1[j, k] * x[k] for k in range(n0)) + b1[j]) for j in range(n1)]
        z2 = np.array([sum(W2[k, j] * a1[j] for j in range(n1)) + b2[k] for k in range(n2)])
        y_hat = softmax(z2)
        delta2 = [y_hat[k] - (1.0 if k == y[i] else 0.0) for k in range(n2)]
        delta1 = [a1[j] * (1 - a1[j]) * sum(W2[k, j] * delta2[k] for k in range(n2)) for j in range(n1)]
        for k in range(n2):
            grads["db2"][k] += delta2[k] / m
            for j in range(n1):
                grads["dW2"][k, j] += delta2[k] * a1[j] / m
        for j in range(n1):
            grads["db1"][j] += delta1[j] / m
            for k in range(n0):
                grads["dW1"][j, k] += delta1[j] * x[k] / m
    return grads


def to_row_major(W, b):
    """The row-major weights with the bias folded in: ``W_row = [b; Wᵀ]``, shape ``(n_in + 1, n_out)``."""
    return np.vstack([b[None, :], W.T])


def from_row_major(Delta, m):
    """Read a row-major ``Δ : (n_in + 1, n_out)`` of the summed cost as the book's ``(dW : (n_out, n_in), db : (n_out,))``.

    ``Δ = Aᵀ δ`` with ``δ = m dZ`` (the summed cost has no ``1/m``) and ``A`` holding a
    column of ones first, so ``Δ[0] = m db`` and ``Δ[1:] = (m dW)ᵀ``.
    """
    return Delta[1:].T / m, Delta[0] / m


def row_major_gradients(params, X, y):
    """The row-major form: ``Z = A W_row`` with a column of ones in ``A``, the summed cost, ``Δ = Aᵀ δ``.

    ``A_in = [1, X] : (m, n0 + 1)``, ``W_h = [b1; W1ᵀ] : (n0 + 1, n1)``, ``A_h = σ(A_in W_h)``,
    ``W_out = [b2; W2ᵀ] : (n1 + 1, n2)``, ``A_out = softmax([1, A_h] W_out)``. Backward:

    * ``δ_out = A_out − Y : (m, n2)`` (one row per example, no ``1/m``);
    * ``δ_h = (δ_out W_outᵀ without its bias column) ⊙ A_h ⊙ (1 − A_h) : (m, n1)``;
    * ``Δ_out = [1, A_h]ᵀ δ_out : (n1 + 1, n2)`` and ``Δ_h = A_inᵀ δ_h : (n0 + 1, n1)``.

    Returns ``(Delta_h, Delta_out)``, gradients of the summed cost in this layout.
    """
    ones = np.ones((X.shape[0], 1))
    W_h, W_out = to_row_major(params["W1"], params["b1"]), to_row_major(params["W2"], params["b2"])
    A_in = np.hstack([ones, X])                            # (m, n0 + 1)
    A_h = sigmoid(A_in @ W_h)                              # (m, n1)
    A_h1 = np.hstack([ones, A_h])                          # (m, n1 + 1)
    A_out = softmax(A_h1 @ W_out, axis=1)                  # (m, n2)
    delta_out = A_out - one_hot(np.asarray(y), W_out.shape[1])
    delta_h = (delta_out @ W_out[1:].T) * A_h * (1 - A_h)  # the bias row of W_out feeds no hidden unit
    return A_in.T @ delta_h, A_h1.T @ delta_out
