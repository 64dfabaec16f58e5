"""A small reverse-mode automatic differentiation engine on numpy arrays.

A :class:`Tensor` holds an array (``data``), the gradient of the final
scalar with respect to it (``grad``), the tensors it was computed from
(its *parents*) and a local rule, ``_backward``, that adds its share of the
gradient to each parent. Calling :meth:`Tensor.backward` on the output

1. orders the graph topologically (every node after all of its parents),
2. seeds the output's gradient with 1,
3. visits the nodes in *reverse* order, each running its local rule.

Because a node is visited only after every node that uses it, its gradient
is complete when its own rule runs. Gradients are *accumulated* with ``+=``:
a tensor used twice receives a contribution from each use (the multi-path
chain rule).

Broadcasting: when ``a`` of shape ``(n,)`` is added to ``B`` of shape
``(m, n)``, ``a`` was implicitly copied along a new first axis, so its
gradient is the upstream gradient *summed* over that axis (:func:`unbroadcast`).

:func:`trace` lists the nodes and edges of a graph, which
:func:`nnbook.plots.plot_graph` draws.
"""

import numpy as np

from .activations import sigmoid, sigmoid_derivative
from .losses import softmax_cross_entropy


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape``."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def as_tensor(x):
    """Wrap a number or an array as a constant :class:`Tensor`; leave a Tensor as it is."""
    return x if isinstance(x, Tensor) else Tensor(x, requires_grad=False)


class Tensor:
    """A node of the computation graph: a value, its gradient, its parents and a local backward rule."""

    # Make numpy defer to Tensor: ``np.ones(3) - t`` calls ``t.__rsub__`` instead
    # of building an object array of Tensors element by element.
    __array_ufunc__ = None

    def __init__(self, data, parents=(), op="", requires_grad=True):
        self.data = np.asarray(data, dtype=np.float64)
        self.grad = np.zeros_like(self.data)
        self.requires_grad = requires_grad
        self._parents = parents
        self._backward = lambda: None
        self.op = op

    def __repr__(self):
        return f"Tensor(shape={self.shape}, op={self.op or 'leaf'!r})"

    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    # ---- the graph ---------------------------------------------------------

    def _child(self, data, parents, op, backward):
        """Create the result of an operation and attach its local backward rule."""
        out = Tensor(data, parents, op)
        out._backward = backward
        return out

    def topological_order(self):
        """All nodes this one depends on, each after its parents (iterative depth-first search)."""
        order, visited, stack = [], set(), [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))
                stack.extend((parent, False) for parent in node._parents if id(parent) not in visited)
        return order

    def backward(self, grad=None):
        """Fill ``.grad`` of every node of the graph with ``∂(self)/∂node``.

        ``self`` must be a scalar unless ``grad`` (the upstream gradient, same
        shape as ``self``) is given. Gradients add up over repeated calls; use
        :meth:`zero_grad` between them.
        """
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward() without a gradient needs a scalar output, this one has shape {self.shape}")
            grad = np.ones_like(self.data)
        grad = np.asarray(grad, dtype=np.float64)
        if grad.shape != self.shape:
            raise ValueError(f"upstream gradient has shape {grad.shape}, the tensor has shape {self.shape}")
        order = self.topological_order()
        # Each local rule must pass on only *this* call's gradient: run the pass
        # on zeroed gradients, then add what the nodes held before.
        earlier = [node.grad for node in order]
        for node in order:
            node.grad = np.zeros_like(node.data)
        self.grad = self.grad + grad
        for node in reversed(order):
            node._backward()
        for node, before in zip(order, earlier):
            node.grad = node.grad + before

    def zero_grad(self):
        """Reset the gradient of every node of the graph to zero."""
        for node in self.topological_order():
            node.grad = np.zeros_like(node.data)

    # ---- elementwise arithmetic, with broadcasting ------------------------

    def __add__(self, other):
        other = as_tensor(other)

        def backward():
            self.grad += unbroadcast(out.grad, self.shape)
            other.grad += unbroadcast(out.grad, other.shape)

        out = self._child(self.data + other.data, (self, other), "+", backward)
        return out

    def __mul__(self, other):
        other = as_tensor(other)

        def backward():
            self.grad += unbroadcast(out.grad * other.data, self.shape)
            other.grad += unbroadcast(out.grad * self.data, other.shape)

        out = self._child(self.data * other.data, (self, other), "*", backward)
        return out

    def __pow__(self, exponent):
        if not np.isscalar(exponent):
            raise TypeError(f"only a constant scalar exponent is supported, got {type(exponent).__name__}")

        def backward():
            # d(x^p)/dx = p x^(p−1), computed directly; for p = 0 the output is the
            # constant 1, whose derivative is 0 even at x = 0 (where 0 · 0^(−1) is NaN)
            local = np.zeros_like(self.data) if exponent == 0 else exponent * self.data ** (exponent - 1)
            self.grad += out.grad * local

        out = self._child(self.data**exponent, (self,), f"**{exponent}", backward)
        return out

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-as_tensor(other))

    def __truediv__(self, other):
        return self * as_tensor(other) ** -1.0

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return as_tensor(other) - self

    def __rtruediv__(self, other):
        return as_tensor(other) / self

    # ---- matrix product and shapes ---------------------------------------

    def __matmul__(self, other):
        """Matrix product of 2-D tensors: ``(m, n) @ (n, p) → (m, p)``."""
        other = as_tensor(other)
        if self.ndim != 2 or other.ndim != 2 or self.shape[1] != other.shape[0]:
            raise ValueError(f"matmul needs (m, n) @ (n, p), got {self.shape} @ {other.shape}")

        def backward():
            self.grad += out.grad @ other.data.T
            other.grad += self.data.T @ out.grad

        out = self._child(self.data @ other.data, (self, other), "@", backward)
        return out

    def reshape(self, *shape):
        def backward():
            self.grad += out.grad.reshape(self.shape)

        out = self._child(self.data.reshape(*shape), (self,), "reshape", backward)
        return out

    @property
    def T(self):
        """Transpose (reverse the axes)."""

        def backward():
            self.grad += out.grad.T

        out = self._child(self.data.T, (self,), "T", backward)
        return out

    # ---- reductions --------------------------------------------------------

    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (all axes by default); its backward copies the gradient back along them."""

        def backward():
            grad = out.grad if keepdims or axis is None else np.expand_dims(out.grad, axis)
            self.grad += np.broadcast_to(grad, self.shape)

        out = self._child(self.data.sum(axis=axis, keepdims=keepdims), (self,), "sum", backward)
        return out

    def mean(self, axis=None, keepdims=False):
        count = self.data.size if axis is None else np.prod([self.shape[a] for a in np.atleast_1d(axis)])
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / count)

    # ---- elementwise functions ----------------------------------------------

    def exp(self):
        def backward():
            self.grad += out.grad * out.data

        out = self._child(np.exp(self.data), (self,), "exp", backward)
        return out

    def log(self):
        def backward():
            self.grad += out.grad / self.data

        out = self._child(np.log(self.data), (self,), "log", backward)
        return out

    def sigmoid(self):
        def backward():
            self.grad += out.grad * sigmoid_derivative(self.data)

        out = self._child(sigmoid(self.data), (self,), "sigmoid", backward)
        return out

    def tanh(self):
        def backward():
            self.grad += out.grad * (1.0 - out.data**2)

        out = self._child(np.tanh(self.data), (self,), "tanh", backward)
        return out

    def relu(self):
        def backward():
            self.grad += out.grad * (self.data > 0)

        out = self._child(np.maximum(self.data, 0.0), (self,), "relu", backward)
        return out

    def maximum(self, other):
        """Element-wise ``max(self, other)``, with broadcasting; its backward *routes* the gradient.

        Each entry of the output is one of its two inputs, so the upstream gradient
        goes, whole, to the input that won, and the other gets nothing. On a tie it
        goes to ``other``, as ``relu`` (``max(x, 0)``) gives ``x`` no gradient at 0.
        """
        other = as_tensor(other)

        def backward():
            wins = self.data > other.data
            self.grad += unbroadcast(out.grad * wins, self.shape)
            other.grad += unbroadcast(out.grad * ~wins, other.shape)

        out = self._child(np.maximum(self.data, other.data), (self, other), "max", backward)
        return out

    def softmax_cross_entropy(self, y):
        """Mean softmax cross-entropy of logits ``(m, K)`` against integer labels ``y : (m,)``; a scalar.

        One fused node: the cost and its local gradient ``dZ = (softmax(Z) − Y)/m``
        both come from :func:`nnbook.losses.softmax_cross_entropy` in the forward
        pass (exact even for a confident right answer); backward scales ``dZ``.
        """
        if self.ndim != 2:
            raise ValueError(f"softmax_cross_entropy needs logits of shape (m, K), got {self.shape}")
        loss, dZ = softmax_cross_entropy(self.data, np.asarray(y))

        def backward():
            self.grad += out.grad * dZ

        out = self._child(loss, (self,), "softmax_cross_entropy", backward)
        return out


def trace(output):
    """The graph that ``output`` was computed from: ``(nodes, edges)``, for drawing it (:func:`nnbook.plots.plot_graph`).

    ``nodes`` lists every tensor ``output`` depends on, each after its parents (the
    order of :meth:`Tensor.topological_order`, ``output`` last); ``edges`` lists a
    pair ``(parent, child)`` for every operand of every operation, so a node used
    twice by one operation (``b * b``) gives two edges, one per path of the chain rule.
    """
    nodes = output.topological_order()
    edges = [(parent, node) for node in nodes for parent in node._parents]
    return nodes, edges
