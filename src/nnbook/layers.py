"""Layers with hand-written forward and backward passes.

Every layer follows one contract:

* ``forward(x)`` computes the output and keeps in ``self.cache`` only what
  ``backward`` will need;
* ``backward(dout)`` takes ``dout = ∂J/∂out`` (the *upstream* gradient, shaped
  like the output), fills ``self.grads[name]`` for every ``self.params[name]``
  and returns ``dx = ∂J/∂x`` (the *downstream* gradient, shaped like the input);
* ``params_and_grads()`` yields ``(name, param, grad)`` triples for optimizers.

Arrays are batch-first: ``x`` has shape ``(m, n_in)``. A :class:`Linear` layer
stores ``W`` with shape ``(n_out, n_in)`` as in the book's notation and in
``torch.nn.Linear``, and computes ``Z = x Wᵀ + b``.
"""

import numpy as np

from .activations import get_activation
from .losses import softmax_cross_entropy


class Layer:
    """Base class: bookkeeping shared by all layers (parameters, gradients, cache)."""

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.cache = None
        self.training = True

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def params_and_grads(self):
        """Yield ``(name, parameter, gradient)`` for each parameter of the layer."""
        for name, param in self.params.items():
            yield name, param, self.grads[name]

    def zero_grad(self):
        for name, param in self.params.items():
            self.grads[name] = np.zeros_like(param)

    def train(self, mode=True):
        """Switch between training and inference behaviour (matters for dropout and batch norm)."""
        self.training = mode
        return self

    def _cached(self):
        if self.cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward: there is no cache to use")
        return self.cache

    def _check_dout(self, dout, shape):
        if np.shape(dout) != shape:
            raise ValueError(
                f"{type(self).__name__}.backward: dout has shape {np.shape(dout)} but the layer's output had shape {shape}"
            )


def init_weights(n_out, n_in, method="he", rng=None, dtype=np.float64):
    """A random ``(n_out, n_in)`` weight matrix.

    ``"xavier"`` (Glorot and Bengio 2010): variance ``2 / (n_in + n_out)``, for tanh and sigmoid;
    ``"he"`` (He et al. 2015): variance ``2 / n_in``, for ReLU;
    ``"normal"``: standard deviation 0.01, the classic "small random weights".
    """
    rng = np.random.default_rng(0) if rng is None else rng
    scales = {"xavier": np.sqrt(2.0 / (n_in + n_out)), "he": np.sqrt(2.0 / n_in), "normal": 0.01}
    if method not in scales:
        raise ValueError(f"unknown initialization {method!r}; choose one of {sorted(scales)}")
    return (scales[method] * rng.standard_normal((n_out, n_in))).astype(dtype)


def linear_forward(x, W, b):
    """``Z = x Wᵀ + b``: ``x : (m, n_in)``, ``W : (n_out, n_in)``, ``b : (n_out,)`` → ``Z : (m, n_out)``."""
    return x @ W.T + b


def linear_backward(dZ, x, W, input_grad=True):
    """From ``dZ : (m, n_out)`` to ``dx = dZ W : (m, n_in)``, ``dW = dZᵀ x : (n_out, n_in)``, ``db = Σ_i dZ⁽ⁱ⁾ : (n_out,)``.

    With ``input_grad=False``, ``dx`` is ``None``: a first layer's ``dx`` is the
    gradient with respect to the data, which training never uses, and it costs
    as many operations as ``dW``.
    """
    dx = dZ @ W if input_grad else None
    return dx, dZ.T @ x, dZ.sum(axis=0)


class Linear(Layer):
    """Fully connected layer ``Z = x Wᵀ + b`` with ``W : (n_out, n_in)`` and ``b : (n_out,)``; caches ``x``.

    ``input_grad=False`` is for a network's first layer: ``backward`` then fills
    ``dW`` and ``db`` but skips ``dx`` and returns ``None`` (PyTorch skips it too).
    """

    def __init__(self, n_in, n_out, init="he", seed=0, dtype=np.float64, input_grad=True):
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        self.input_grad = input_grad
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.params = {"W": init_weights(n_out, n_in, init, rng, dtype), "b": np.zeros(n_out, dtype=dtype)}
        self.zero_grad()

    def __repr__(self):
        return f"Linear({self.n_in}, {self.n_out}" + ("" if self.input_grad else ", input_grad=False") + ")"

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"Linear({self.n_in}, {self.n_out}) expects input of shape (m, {self.n_in}), got {x.shape}")
        self.cache = x
        return linear_forward(x, self.params["W"], self.params["b"])

    def backward(self, dout):
        x = self._cached()
        self._check_dout(dout, (x.shape[0], self.n_out))
        dx, self.grads["W"], self.grads["b"] = linear_backward(dout, x, self.params["W"], self.input_grad)
        return dx


class ActivationLayer(Layer):
    """Applies an activation ``a = g(z)`` elementwise; caches ``z``; ``dz = dout · g'(z)``."""

    def __init__(self, name):
        super().__init__()
        self.activation = get_activation(name)

    def __repr__(self):
        return f"{type(self).__name__}()"

    def forward(self, z):
        self.cache = z
        return self.activation.function(z).astype(z.dtype, copy=False)

    def backward(self, dout):
        z = self._cached()
        self._check_dout(dout, z.shape)
        return dout * self.activation.derivative(z).astype(z.dtype, copy=False)


class Sigmoid(ActivationLayer):
    def __init__(self):
        super().__init__("sigmoid")


class Tanh(ActivationLayer):
    def __init__(self):
        super().__init__("tanh")


class ReLU(ActivationLayer):
    """ReLU with a cheaper backward: the mask ``z > 0`` is all it needs."""

    def __init__(self):
        super().__init__("relu")

    def forward(self, z):
        self.cache = z > 0
        return np.maximum(z, 0)

    def backward(self, dout):
        positive = self._cached()
        self._check_dout(dout, positive.shape)
        return dout * positive


class LeakyReLU(ActivationLayer):
    def __init__(self):
        super().__init__("leaky_relu")


class ELU(ActivationLayer):
    def __init__(self):
        super().__init__("elu")


class Softplus(ActivationLayer):
    def __init__(self):
        super().__init__("softplus")


class Identity(ActivationLayer):
    def __init__(self):
        super().__init__("identity")


class SoftmaxCrossEntropy:
    """The output layer of a classifier: softmax then cross-entropy, ``J = −1/m Σ log softmax(Z)[i, y_i]``.

    ``forward(Z, y)`` with ``Z : (m, K)`` and ``y : (m,)`` returns the scalar
    cost; ``backward()`` returns ``dZ = (softmax(Z) − Y)/m : (m, K)``.
    """

    def __init__(self):
        self.cache = None

    def forward(self, Z, y):
        J, dZ = softmax_cross_entropy(Z, y)
        self.cache = dZ.astype(Z.dtype, copy=False)
        return J

    __call__ = forward

    def backward(self, dout=1.0):
        if self.cache is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward: there is no cache to use")
        return self.cache * dout


class Sequential(Layer):
    """A chain of layers: ``forward`` runs them in order, ``backward`` in reverse."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)

    def __repr__(self):
        return "Sequential(" + ", ".join(repr(layer) for layer in self.layers) + ")"

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def params_and_grads(self):
        for index, layer in enumerate(self.layers):
            for name, param, grad in layer.params_and_grads():
                yield f"{index}.{name}", param, grad

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()

    def train(self, mode=True):
        for layer in self.layers:
            layer.train(mode)
        self.training = mode
        return self


def mlp(sizes, activation="relu", init=None, seed=0, dtype=np.float64, input_grad=True):
    """A multi-layer perceptron ``Linear → g → … → Linear`` with layer widths ``sizes = (n_x, n^[1], …, n^[L])``.

    The last layer has no activation: pair it with :class:`SoftmaxCrossEntropy`.
    ``init`` defaults to He for ReLU-like activations and Xavier otherwise.
    ``input_grad=False`` makes the first layer skip ``dx``, which training does not
    need, so ``backward`` returns ``None`` (see :class:`Linear`).
    """
    activation_layers = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "leaky_relu": LeakyReLU, "elu": ELU,
                         "softplus": Softplus, "identity": Identity}
    if activation not in activation_layers:
        raise ValueError(f"unknown activation {activation!r} for an MLP; choose one of {sorted(activation_layers)}")
    init = init or ("he" if activation in ("relu", "leaky_relu", "elu") else "xavier")
    rng = np.random.default_rng(seed)
    layers = []
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = Linear(n_in, n_out, init, rng, dtype, input_grad=input_grad or index > 0)
        layers += [linear, activation_layers[activation]()]
    return Sequential(*layers[:-1])
