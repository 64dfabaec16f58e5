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
``torch.nn.Linear``, and computes ``Z = x Wᵀ + b``. Images are ``(m, C, H, W)``:
:class:`Flatten` turns them into rows ``(m, C·H·W)`` for a ``Linear`` layer.

Where a layer keeps its state:

* trained parameters in ``params`` (with their gradients in ``grads``);
* state that is not trained (a running mean, say) in ``buffers``, a dict, empty by default;
* randomness in a ``numpy.random.Generator`` of its own, seeded when the layer is built;
* the mode in ``training``, switched by ``train(mode)`` and ``eval()``.

Weights are drawn by :mod:`nnbook.initialization`; the activation layers are
listed, with their functions, in the registry :data:`nnbook.activations.ACTIVATIONS`.
"""

import math

import numpy as np

from .activations import ACTIVATIONS, get_activation, network_activations
from .initialization import as_generator, initialize, zeros

# The loss of a classifier, a loss and not a layer, lives in nnbook.losses; it is
# re-exported here so that ``from nnbook.layers import SoftmaxCrossEntropy`` keeps working.
from .losses import SoftmaxCrossEntropy  # noqa: F401


class Layer:
    """Base class: bookkeeping shared by all layers (parameters, gradients, buffers, cache, mode).

    ``input_grad`` says whether ``backward`` must return ``dx``. A network's
    first layer does not need it (``dx`` is then the gradient with respect to
    the data): :func:`nnbook.train.fit` turns it off for the first layer that
    has parameters while it trains, and a layer that honours it (``Linear``)
    returns ``None`` instead.
    """

    input_grad = True

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}
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
        """Switch between training (``mode=True``) and inference behaviour (matters for dropout and batch norm)."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Inference mode, ``train(False)``."""
        return self.train(False)

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
    """A random ``(n_out, n_in)`` weight matrix drawn by :func:`nnbook.initialization.initialize`."""
    return initialize(method, (n_out, n_in), rng, dtype)


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

    ``W`` is drawn by the initializer ``init`` of :mod:`nnbook.initialization`
    from ``seed`` (an integer or a ``numpy.random.Generator``), ``b`` starts at zero.
    ``input_grad=False`` is for a network's first layer: ``backward`` then fills
    ``dW`` and ``db`` but skips ``dx`` and returns ``None`` (PyTorch skips it too).
    """

    def __init__(self, n_in, n_out, init="he", seed=0, dtype=np.float64, input_grad=True):
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        self.input_grad = input_grad
        rng = as_generator(seed)
        self.params = {"W": initialize(init, (n_out, n_in), rng, dtype), "b": zeros(n_out, dtype=dtype)}
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

    @classmethod
    def of_width(cls, n, dtype=np.float64):
        """The layer as :func:`mlp` builds it after a ``Linear`` layer of ``n`` outputs in ``dtype``.

        An activation without parameters needs neither: this is ``cls()``. One with
        parameters (:class:`PReLU`) uses them to give each feature its own.
        """
        return cls()

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


class Arctan(ActivationLayer):
    def __init__(self):
        super().__init__("arctan")


def _slopes_like(alpha, z):
    """``alpha : (k,)`` shaped ``(1, k, 1, …)`` to act along axis 1 of ``z`` (features, or channels of images)."""
    if z.ndim < 2 or alpha.size not in (1, z.shape[1]):
        raise ValueError(f"PReLU with {alpha.size} slopes expects input of shape (m, {alpha.size}, …) or, with one "
                         f"slope, any (m, n, …), got {z.shape}")
    return alpha.reshape((1, -1) + (1,) * (z.ndim - 2))


def prelu_forward(z, alpha):
    """``out = z`` where ``z > 0`` and ``α_j z`` elsewhere: a ReLU whose negative slope ``α_j`` is trained.

    ``z : (m, n)``, or images ``(m, C, H, W)``; ``alpha : (k,)`` with ``k = n``
    (``k = C`` for images: one slope per channel) or ``k = 1`` (one slope shared by
    all). Returns ``(out, cache)`` with ``out`` shaped like ``z`` and ``cache = (z, alpha)``.
    """
    return np.where(z > 0, z, _slopes_like(alpha, z) * z), (z, alpha)


def prelu_backward(dout, cache):
    """From ``dout`` (shaped like ``z``) to ``dz`` and ``dα : (k,)``.

    ``dz = dout`` where ``z > 0`` and ``α_j dout`` elsewhere, as for a leaky ReLU;
    ``dα_j = Σ dout · z · [z < 0]``, summed over every entry that slope ``j`` acts on
    (the batch, the pixels of its channel; everything when ``k = 1``), since
    ``∂out/∂α_j = z`` there and ``0`` where ``z > 0``.
    """
    z, alpha = cache
    dz = np.where(z > 0, dout, _slopes_like(alpha, z) * dout)
    negative_part = dout * np.minimum(z, 0)  # dout · z · [z < 0]
    if alpha.size == 1:
        dalpha = np.array([negative_part.sum()])
    else:
        dalpha = negative_part.sum(axis=(0, *range(2, z.ndim)))
    return dz, dalpha.astype(alpha.dtype, copy=False)


class PReLU(ActivationLayer):
    """Parametric ReLU (He et al., 2015): a leaky ReLU whose slopes ``params["alpha"] : (num_parameters,)`` are trained.

    ``num_parameters = n`` gives each of the ``n`` features (each channel, for
    images ``(m, C, H, W)``) its own slope, as ``torch.nn.PReLU(num_parameters=n)``;
    ``num_parameters = 1`` shares one slope among all of them (PyTorch's default).
    :func:`mlp` builds one slope per feature. The slopes start at ``init`` (0.25, as
    in He et al. and PyTorch). ``forward`` caches ``z`` and the slopes; ``backward``
    returns ``dz`` and fills ``grads["alpha"]`` (:func:`prelu_forward`, :func:`prelu_backward`).
    """

    def __init__(self, num_parameters=1, init=0.25, dtype=np.float64):
        super().__init__("prelu")
        if not (isinstance(num_parameters, (int, np.integer)) and num_parameters >= 1):
            raise ValueError(f"PReLU needs a positive number of slopes, got num_parameters={num_parameters!r}")
        self.params = {"alpha": np.full(int(num_parameters), init, dtype=dtype)}
        self.zero_grad()

    def __repr__(self):
        return f"PReLU({self.params['alpha'].size})"

    @classmethod
    def of_width(cls, n, dtype=np.float64):
        """One slope per feature: ``PReLU(n, dtype=dtype)``."""
        return cls(n, dtype=dtype)

    def forward(self, z):
        out, self.cache = prelu_forward(z, self.params["alpha"])
        return out.astype(z.dtype, copy=False)

    def backward(self, dout):
        z, _ = self._cached()
        self._check_dout(dout, z.shape)
        dz, self.grads["alpha"] = prelu_backward(dout, self.cache)
        return dz.astype(z.dtype, copy=False)


class Flatten(Layer):
    """``(m, d₁, d₂, …) → (m, d₁ · d₂ · …)``: images ``(m, C, H, W)`` become rows ``(m, C·H·W)``.

    No parameters and no arithmetic: ``forward`` reshapes, ``backward`` reshapes
    ``dout : (m, C·H·W)`` back to the input's shape, which is all the cache holds.
    """

    def __repr__(self):
        return "Flatten()"

    def forward(self, x):
        self.cache = x.shape
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))

    def backward(self, dout):
        shape = self._cached()
        self._check_dout(dout, (shape[0], math.prod(shape[1:])))
        return dout.reshape(shape)


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
            if dout is None:  # a layer skipped its dx (input_grad=False): the layers before it need none
                break
            dout = layer.backward(dout)
        return dout

    def _first_trained_layer(self):
        """The first layer that has parameters (the one whose ``dx`` is the gradient with respect to the data)."""
        return next((layer for layer in self.layers if any(True for _ in layer.params_and_grads())), None)

    @property
    def input_grad(self):
        """Whether ``backward`` returns ``dx``: set it and the first layer with parameters follows.

        With ``False``, that layer skips its ``dx`` and ``backward`` returns ``None``;
        the layers before it (a ``Flatten``, say) are not run backward at all.
        """
        first = self._first_trained_layer()
        return True if first is None else first.input_grad

    @input_grad.setter
    def input_grad(self, value):
        first = self._first_trained_layer()
        if first is not None:
            first.input_grad = bool(value)

    def params_and_grads(self):
        for index, layer in enumerate(self.layers):
            for name, param, grad in layer.params_and_grads():
                yield f"{index}.{name}", param, grad

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()

    def train(self, mode=True):
        """Switch every layer, and the chain itself, to training (``True``) or inference (``False``) mode."""
        for layer in self.layers:
            layer.train(mode)
        self.training = bool(mode)
        return self


def mlp(sizes, activation="relu", init=None, seed=0, dtype=np.float64, input_grad=True):
    """A multi-layer perceptron ``Linear → g → … → Linear`` with layer widths ``sizes = (n_x, n^[1], …, n^[L])``.

    The last layer has no activation: pair it with :class:`~nnbook.losses.SoftmaxCrossEntropy`.
    ``activation`` is a name of :data:`nnbook.activations.ACTIVATIONS`, which
    gives its layer class and the initialization ``init`` defaults to (He for
    ReLU-like activations, Xavier otherwise); each activation layer is built by
    ``of_width`` for the width of the layer before it (a :class:`PReLU` gets one slope per unit).
    ``input_grad=False`` makes the first layer skip ``dx``, which training does not
    need, so ``backward`` returns ``None`` (see :class:`Linear`).
    """
    if activation not in ACTIVATIONS or ACTIVATIONS[activation].layer_name is None:
        raise ValueError(f"unknown activation {activation!r} for an MLP; choose one of {sorted(network_activations())}")
    chosen = get_activation(activation)
    init = init or chosen.init
    rng = as_generator(seed)
    layers = []
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = Linear(n_in, n_out, init, rng, dtype, input_grad=input_grad or index > 0)
        layers += [linear, chosen.layer.of_width(n_out, dtype)]
    return Sequential(*layers[:-1])
