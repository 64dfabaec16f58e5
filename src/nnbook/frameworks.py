"""From nnbook to PyTorch and Keras: the same network, the same weights, the same gradients.

Chapter 10 writes one network three times, with the book's layers, with
PyTorch and with Keras 3 (on its PyTorch backend), and checks that the three
compute the same thing. This module holds the bridges:

* :func:`to_torch` and :func:`to_keras` build the framework's version of an
  :class:`nnbook.layers.Sequential` with a copy of its weights, in its dtype;
* :func:`gradients_torch` and :func:`gradients_keras` compute the gradients of
  the mean softmax cross-entropy on a batch, keyed as nnbook keys them
  (``"0.W"``, ``"0.b"``, ``"2.W"``, …: layer index, then parameter name);
* :func:`train_torch` and :func:`train_keras` run plain SGD on given
  mini-batches, and :func:`fit_batches` gives the mini-batches that
  :func:`nnbook.train.fit` draws, so that all three see the same batches in the same order;
* :func:`grad_fn_tree` walks the graph that ``torch.autograd`` records.

Weight shapes: a ``Linear`` layer's ``W`` is ``(n_out, n_in)``, exactly as
``torch.nn.Linear.weight``; a Keras ``Dense`` layer's kernel is its transpose,
``(n_in, n_out)``, because Keras computes ``Z = X K + b``.

The package does not depend on PyTorch or Keras: they are imported inside the
functions that need them, and a missing one raises an ``ImportError`` that says
how to install it.
"""

import contextlib
import os
import sys

import numpy as np

from .gradcheck import relative_error
from .layers import Flatten, Identity, Linear, ReLU, Sequential, Sigmoid, Tanh
from .optim import minibatch_indices

#: How to install the two frameworks (the CPU build of torch that the book's machines use).
INSTALL_HINT = "pip install torch==2.13.0 keras"

#: nnbook layers without parameters → the name of the torch.nn module that computes the same.
TORCH_LAYERS = {ReLU: "ReLU", Tanh: "Tanh", Sigmoid: "Sigmoid", Identity: "Identity", Flatten: "Flatten"}

#: nnbook activation layers → the name of the same activation in Keras (``keras.layers.Activation(name)``).
KERAS_ACTIVATIONS = {ReLU: "relu", Tanh: "tanh", Sigmoid: "sigmoid", Identity: "linear"}


# ---------------------------------------------------------------------------
# Importing the frameworks only when they are used
# ---------------------------------------------------------------------------


def import_torch():
    """``torch``, or an ``ImportError`` that says how to install it."""
    try:
        import torch
    except ImportError as error:
        raise ImportError(f"nnbook.frameworks needs PyTorch, which is not installed: {INSTALL_HINT}") from error
    return torch


def import_keras():
    """``keras`` on its PyTorch backend, or an error that says what is missing.

    Keras reads its backend once, when it is first imported, from the
    environment variable ``KERAS_BACKEND``: it is set to ``"torch"`` here unless
    it was set already. A Keras already running on another backend is refused,
    since the gradients below are read from PyTorch's autograd.
    """
    import_torch()
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError as error:
        raise ImportError(f"nnbook.frameworks needs Keras 3, which is not installed: {INSTALL_HINT}") from error
    if keras.backend.backend() != "torch":
        raise RuntimeError(f"Keras runs on its {keras.backend.backend()!r} backend; nnbook.frameworks needs the "
                           "PyTorch one: set os.environ['KERAS_BACKEND'] = 'torch' before the first import of keras")
    return keras


@contextlib.contextmanager
def keras_floatx(dtype):
    """Keras's default float type set to ``dtype`` inside the block, and restored after it.

    Keras creates some tensors in its default type ``keras.config.floatx()``
    (``"float32"`` unless changed): the optimizer's learning rate, and the data
    ``fit`` receives. A float64 network trains in float64 only inside this block.
    """
    keras = import_keras()
    before = keras.config.floatx()
    keras.config.set_floatx(np.dtype(dtype).name)
    try:
        yield
    finally:
        keras.config.set_floatx(before)


@contextlib.contextmanager
def torch_threads(n=1):
    """PyTorch limited to ``n`` threads inside the block (the book runs numpy on one, with threadpoolctl)."""
    torch = import_torch()
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------------------
# The same network in PyTorch and in Keras
# ---------------------------------------------------------------------------


def _layers_of(model, where):
    if not isinstance(model, Sequential):
        raise TypeError(f"{where} converts an nnbook.layers.Sequential (as mlp builds), got {type(model).__name__}")
    return model.layers


def _unsupported(where, index, layer, supported):
    names = ", ".join(sorted(["Linear", *(cls.__name__ for cls in supported)]))
    return ValueError(f"{where}: layer {index}, {layer!r}, has no counterpart here; supported layers: {names}")


def to_torch(model):
    """A ``torch.nn.Sequential`` that computes what the nnbook ``model`` computes, with a copy of its weights.

    Layer ``i`` of the result is layer ``i`` of ``model``: a ``Linear(n_in, n_out)``
    becomes ``torch.nn.Linear(n_in, n_out)`` whose ``weight : (n_out, n_in)`` is a
    copy of ``W`` (same shape, no transpose) and ``bias : (n_out,)`` of ``b``, in
    the dtype of ``W``; an activation becomes the torch module of the same name.
    """
    torch = import_torch()
    modules = []
    for index, layer in enumerate(_layers_of(model, "to_torch")):
        if isinstance(layer, Linear):
            W, b = torch.from_numpy(layer.params["W"]), torch.from_numpy(layer.params["b"])
            linear = torch.nn.Linear(layer.n_in, layer.n_out, dtype=W.dtype)
            with torch.no_grad():  # copying weights is not part of any computation to differentiate
                linear.weight.copy_(W)
                linear.bias.copy_(b)
            modules.append(linear)
        elif type(layer) in TORCH_LAYERS:
            modules.append(getattr(torch.nn, TORCH_LAYERS[type(layer)])())
        else:
            raise _unsupported("to_torch", index, layer, TORCH_LAYERS)
    return torch.nn.Sequential(*modules)


def _first_linear(layers):
    return next((layer for layer in layers if isinstance(layer, Linear)), None)


def to_keras(model, input_shape=None):
    """A ``keras.Sequential`` that computes what the nnbook ``model`` computes, with a copy of its weights.

    Layer ``i`` of ``keras_model.layers`` is layer ``i`` of ``model``: a
    ``Linear(n_in, n_out)`` becomes ``Dense(n_out)`` whose kernel ``(n_in, n_out)``
    is ``Wᵀ`` and bias ``(n_out,)`` is ``b``; an activation becomes
    ``Activation(name)``. Every layer computes in the dtype of the first ``W``.
    ``input_shape`` (one example's shape) defaults to ``(n_in,)`` of the first
    layer when it is a ``Linear``.
    """
    keras = import_keras()
    layers = _layers_of(model, "to_keras")
    first = _first_linear(layers)
    if first is None:
        raise ValueError("to_keras: the model has no Linear layer")
    dtype = first.params["W"].dtype.name
    if input_shape is None:
        if not isinstance(layers[0], Linear):
            raise ValueError(f"to_keras: the model starts with {layers[0]!r}: pass input_shape, the shape of one example")
        input_shape = (first.n_in,)
    keras_layers = [keras.Input(shape=tuple(input_shape), dtype=dtype)]
    for index, layer in enumerate(layers):
        if isinstance(layer, Linear):
            keras_layers.append(keras.layers.Dense(layer.n_out, dtype=dtype))
        elif type(layer) in KERAS_ACTIVATIONS:
            keras_layers.append(keras.layers.Activation(KERAS_ACTIVATIONS[type(layer)], dtype=dtype))
        elif isinstance(layer, Flatten):
            keras_layers.append(keras.layers.Flatten(dtype=dtype))
        else:
            raise _unsupported("to_keras", index, layer, {*KERAS_ACTIVATIONS, Flatten})
    keras_model = keras.Sequential(keras_layers)
    for layer, keras_layer in zip(layers, keras_model.layers):
        if isinstance(layer, Linear):
            keras_layer.set_weights([layer.params["W"].T, layer.params["b"]])  # kernel (n_in, n_out) = Wᵀ
    return keras_model


# ---------------------------------------------------------------------------
# Gradients on one batch, keyed as nnbook keys them
# ---------------------------------------------------------------------------

#: torch's parameter names → nnbook's.
TORCH_NAMES = {"weight": "W", "bias": "b"}


def gradients_torch(torch_model, X, y):
    """Mean softmax cross-entropy of ``torch_model`` on ``X : (m, n_x)``, ``y : (m,)`` and its gradients.

    Returns ``(J, grads)``: the cost as a float and a dict of numpy arrays keyed
    like nnbook's parameters, ``"0.W" : (n_out, n_in)`` (torch's ``"0.weight"``),
    ``"0.b" : (n_out,)`` (``"0.bias"``), … The loss is ``torch.nn.CrossEntropyLoss()``,
    whose default ``reduction="mean"`` divides by ``m`` as nnbook's cost does.
    """
    torch = import_torch()
    torch_model.zero_grad()
    loss = torch.nn.CrossEntropyLoss()(torch_model(torch.as_tensor(X)), torch.as_tensor(y))
    loss.backward()
    grads = {}
    for name, param in torch_model.named_parameters():
        index, kind = name.rsplit(".", 1)
        grads[f"{index}.{TORCH_NAMES[kind]}"] = param.grad.detach().numpy().copy()
    return loss.item(), grads


def keras_loss():
    """The loss the book gives Keras: ``SparseCategoricalCrossentropy(from_logits=True)``, integer labels, mean.

    ``from_logits=True`` because the network's last layer is a ``Dense`` with no
    activation, as in nnbook: the loss applies the softmax itself, stably.
    """
    return import_keras().losses.SparseCategoricalCrossentropy(from_logits=True)


def gradients_keras(keras_model, X, y):
    """Mean softmax cross-entropy of ``keras_model`` (on the PyTorch backend) on ``X``, ``y`` and its gradients.

    Returns ``(J, grads)`` keyed like nnbook's parameters: the ``Dense`` layer
    ``i`` gives ``"i.W" : (n_out, n_in)``, the transpose of the gradient of its
    kernel, and ``"i.b" : (n_out,)``. The gradients come from ``torch.autograd``,
    which Keras's PyTorch backend records on.

    Keras 3 divides the sum of the losses by ``m`` in float32 (its type rules turn
    float64 results into float32), so ``J`` is a float32 number, and the gradients
    are float64-exact only when ``1/m`` is exact in float32, i.e. ``m`` a power of
    two; otherwise they carry a relative error of about 1e-8.
    """
    torch, keras = import_torch(), import_keras()
    weights = keras_model.trainable_weights
    for weight in weights:
        weight.value.grad = None
    with keras_floatx(weights[0].dtype):
        loss = keras_loss()(torch.as_tensor(y), keras_model(torch.as_tensor(X)))
    loss.backward()
    grads = {}
    for index, layer in enumerate(keras_model.layers):
        if isinstance(layer, keras.layers.Dense):
            grads[f"{index}.W"] = layer.kernel.value.grad.detach().numpy().T.copy()
            grads[f"{index}.b"] = layer.bias.value.grad.detach().numpy().copy()
    return loss.item(), grads


def relative_differences(grads, reference):
    """``{name: relative_error(grads[name], reference[name])}`` for two dicts with the same names and shapes."""
    if set(grads) != set(reference):
        raise ValueError(f"the gradients are named {sorted(grads)}, the reference {sorted(reference)}")
    return {name: relative_error(grads[name], reference[name]) for name in reference}


def max_relative_difference(grads, reference):
    """The largest of :func:`relative_differences`: 0 when the two sets of gradients are equal."""
    return max(relative_differences(grads, reference).values())


def weights_as_nnbook(framework_model):
    """The weights of a model built by :func:`to_torch` or :func:`to_keras`, as a dict keyed like nnbook's params."""
    if not hasattr(framework_model, "trainable_weights"):  # a torch.nn.Module (a Keras model has trainable_weights)
        weights = {}
        for name, param in framework_model.named_parameters():
            index, kind = name.rsplit(".", 1)
            weights[f"{index}.{TORCH_NAMES[kind]}"] = param.detach().numpy().copy()
        return weights
    keras = import_keras()
    weights = {}
    for index, layer in enumerate(framework_model.layers):
        if isinstance(layer, keras.layers.Dense):
            kernel, bias = layer.get_weights()
            weights[f"{index}.W"], weights[f"{index}.b"] = kernel.T, bias
    return weights


# ---------------------------------------------------------------------------
# Training on the same mini-batches
# ---------------------------------------------------------------------------


def fit_batches(m, epochs, batch_size, seed=0):
    """The mini-batches :func:`nnbook.train.fit` uses with these settings: one list of index arrays per epoch.

    ``fit`` shuffles the ``m`` examples at each epoch with one generator,
    ``numpy.random.default_rng(seed)``, and cuts each permutation into
    consecutive batches of ``batch_size`` (:func:`nnbook.optim.minibatch_indices`).
    """
    rng = np.random.default_rng(seed)
    return [minibatch_indices(m, batch_size, rng) for _ in range(epochs)]


def train_torch(torch_model, X, y, epoch_batches, lr):
    """Plain SGD on ``torch_model``, one step per mini-batch of ``epoch_batches`` (as :func:`fit_batches` gives).

    Returns ``{"loss": [...], "step_loss": [...]}``: the mean cost on all of
    ``(X, y)`` before training and after each epoch, and the cost of each
    mini-batch before its update, as :class:`nnbook.train.History` records them.
    """
    torch = import_torch()
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    loss_fn = torch.nn.CrossEntropyLoss()  # softmax + cross-entropy, mean over the batch
    optimizer = torch.optim.SGD(torch_model.parameters(), lr=lr)

    def cost():
        with torch.no_grad():  # no graph: this cost is only recorded
            return loss_fn(torch_model(X), y).item()

    history = {"loss": [cost()], "step_loss": []}
    for batches in epoch_batches:
        for batch in batches:
            batch = torch.as_tensor(batch)
            loss = loss_fn(torch_model(X[batch]), y[batch])  # forward: builds the graph
            optimizer.zero_grad()  # gradients add up in .grad: clear the last step's
            loss.backward()  # backward: fills .grad of every parameter
            optimizer.step()  # θ ← θ − lr · dθ
            history["step_loss"].append(loss.item())
        history["loss"].append(cost())
    return history


def keras_cost(keras_model, X, y):
    """Mean softmax cross-entropy of ``keras_model`` on ``X``, ``y``: per-example losses in the model's dtype, averaged by numpy."""
    torch, keras = import_torch(), import_keras()
    logits = keras_model(torch.as_tensor(X))
    losses = keras.losses.sparse_categorical_crossentropy(torch.as_tensor(y), logits, from_logits=True)
    return float(np.mean(keras.ops.convert_to_numpy(losses)))


def train_keras(keras_model, X, y, epoch_batches, lr):
    """Plain SGD on ``keras_model`` with ``compile`` and ``fit``, on the mini-batches of ``epoch_batches``.

    ``fit`` would shuffle with its own generator: each epoch instead gets the
    examples already in the order of that epoch's batches, with
    ``shuffle=False``, so its ``k``-th batch is the ``k``-th of ``epoch_batches``.
    Every batch but the last of an epoch must have the size of the first.
    Returns ``{"loss": [...]}``, the mean cost on all of ``(X, y)`` before training and after each epoch.
    """
    keras = import_keras()
    history = {"loss": [keras_cost(keras_model, X, y)]}
    with keras_floatx(keras_model.trainable_weights[0].dtype):  # a float64 learning rate and data
        keras_model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss=keras_loss())
        for batches in epoch_batches:
            batch_size = len(batches[0])
            if any(len(batch) != batch_size for batch in batches[:-1]):
                raise ValueError(f"train_keras: the batches of an epoch must all have {batch_size} examples but the last")
            order = np.concatenate(batches)
            keras_model.fit(X[order], y[order], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
            history["loss"].append(keras_cost(keras_model, X, y))
    return history


# ---------------------------------------------------------------------------
# The graph torch.autograd records
# ---------------------------------------------------------------------------


def grad_fn_tree(output, names=None):
    """The graph behind ``output``, read from its ``grad_fn``: a list of ``(depth, label)``, depth-first.

    Each operation on tensors that require gradients records a node, ``t.grad_fn``
    (``MulBackward0`` for a product, …), whose ``next_functions`` point to the
    nodes of its inputs; a leaf tensor's node is an ``AccumulateGrad``, which adds
    the gradient into ``leaf.grad``. ``names`` maps leaf tensors to the labels to
    show (``{w: "w"}``); an input that needs no gradient (a constant) has no node.
    """
    names = {id(tensor): name for tensor, name in (names or {}).items()}
    rows = []

    def visit(node, depth):
        label = type(node).__name__
        if hasattr(node, "variable"):  # AccumulateGrad: the end of a path, at a leaf
            label += f" → {names.get(id(node.variable), 'leaf')}.grad"
        rows.append((depth, label))
        for child, _ in node.next_functions:
            if child is not None:
                visit(child, depth + 1)

    visit(output.grad_fn, 0)
    return rows
