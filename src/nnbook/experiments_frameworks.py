"""The experiments of the chapter *From numpy to frameworks*, with their settings in one place.

The page (``book/frameworks.md``) and its tests
(``tests/test_experiments_frameworks.py``) call the functions below with the
settings below, so the numbers the page prints are the numbers the tests check.

* :func:`frameworks_data` and :func:`three_models` (:data:`FRAMEWORKS_SETTINGS`):
  a slice of the MNIST subset and one network ``784 → 64 → ReLU → 10`` in
  float64, built by nnbook and copied into PyTorch and Keras;
* :func:`three_gradients`: the gradients of the three on the first mini-batch;
* :func:`three_trainings`: the three trained with plain SGD on the same
  mini-batches, in the same order, from the same weights;
* :func:`two_engines`: the logistic least-squares example of chapter 5,
  differentiated by :mod:`nnbook.autodiff` and by ``torch.autograd``;
* :func:`keras_losses_versus_nnbook` (:data:`KERAS_LOSSES_EXAMPLE`): Keras's three
  classification losses against nnbook's on a tiny batch.

numpy's matrix library and PyTorch run on one thread, as in the other chapters'
experiments: these products are small, and the machines that build the book have few cores.
"""

import numpy as np
from threadpoolctl import threadpool_limits

from .activations import sigmoid, softmax
from .autodiff import Tensor
from .data import load_mnist_subset
from .experiments import LOGISTIC_LEAST_SQUARES_POINT
from .experiments_optim import model_gradients
from .frameworks import (
    fit_batches,
    gradients_keras,
    gradients_torch,
    import_keras,
    import_torch,
    to_keras,
    to_torch,
    torch_threads,
    train_keras,
    train_torch,
    weights_as_nnbook,
)
from .layers import mlp
from .losses import binary_cross_entropy, one_hot, softmax_cross_entropy, softmax_cross_entropy_onehot
from .optim import SGD
from .train import fit

#: The network, the data and the training of the three-way comparison.
#: 1,024 training images (the first of the shipped subset) and mini-batches of 64:
#: sixteen full batches per epoch, and ``1/64`` is exact in every float type.
FRAMEWORKS_SETTINGS = {
    "sizes": (784, 64, 10),
    "activation": "relu",
    "n_train": 1024,
    "batch_size": 64,
    "epochs": 5,
    "lr": 0.1,
    "seed": 0,
}


def frameworks_data(settings=FRAMEWORKS_SETTINGS):
    """The first ``n_train`` training images of the MNIST subset: ``X : (n_train, 784)`` float64 in [0, 1], ``y : (n_train,)``."""
    data = load_mnist_subset()
    n = settings["n_train"]
    return data.X_train[:n], data.y_train[:n]


def three_models(settings=FRAMEWORKS_SETTINGS):
    """``(model, torch_model, keras_model)``: one nnbook MLP and its copies, the same float64 weights in all three."""
    model = mlp(settings["sizes"], settings["activation"], seed=settings["seed"])
    return model, to_torch(model), to_keras(model)


def three_gradients(settings=FRAMEWORKS_SETTINGS):
    """Cost and gradients of the three models on the first mini-batch that training will use.

    Returns ``{"nnbook": (J, grads), "torch": (J, grads), "keras": (J, grads)}``,
    every ``grads`` a dict keyed like nnbook's parameters (``"0.W"``, ``"0.b"``, ``"2.W"``, ``"2.b"``).
    """
    X, y = frameworks_data(settings)
    batch = fit_batches(len(X), 1, settings["batch_size"], settings["seed"])[0][0]
    model, torch_model, keras_model = three_models(settings)
    with threadpool_limits(limits=1, user_api="blas"), torch_threads(1):
        return {
            "nnbook": model_gradients(model, X[batch], y[batch]),
            "torch": gradients_torch(torch_model, X[batch], y[batch]),
            "keras": gradients_keras(keras_model, X[batch], y[batch]),
        }


def three_trainings(settings=FRAMEWORKS_SETTINGS):
    """Train the three models with plain SGD on the same mini-batches, in the same order.

    nnbook trains with :func:`nnbook.train.fit`; PyTorch and Keras get the
    batches ``fit`` draws (:func:`nnbook.frameworks.fit_batches`). Returns a dict:

    * ``"loss"``: ``{framework: [cost on the n_train images before training and after each epoch]}``;
    * ``"step_loss"``: the cost of every mini-batch before its update, for nnbook and PyTorch;
    * ``"weights"``: ``{framework: trained weights keyed like nnbook's parameters}``.
    """
    X, y = frameworks_data(settings)
    lr, epochs, batch_size, seed = (settings[k] for k in ("lr", "epochs", "batch_size", "seed"))
    model, torch_model, keras_model = three_models(settings)
    batches = fit_batches(len(X), epochs, batch_size, seed)
    with threadpool_limits(limits=1, user_api="blas"), torch_threads(1):
        history = fit(model, X, y, SGD(lr), epochs=epochs, batch_size=batch_size, seed=seed, progress=False,
                      history_sample=None)
        torch_history = train_torch(torch_model, X, y, batches, lr)
        keras_history = train_keras(keras_model, X, y, batches, lr)
    return {
        "loss": {"nnbook": history.loss, "PyTorch": torch_history["loss"], "Keras": keras_history["loss"]},
        "step_loss": {"nnbook": history.step_loss, "PyTorch": torch_history["step_loss"]},
        "weights": {
            "nnbook": {name: np.array(param) for name, param, _ in model.params_and_grads()},
            "PyTorch": weights_as_nnbook(torch_model),
            "Keras": weights_as_nnbook(keras_model),
        },
    }


def two_engines(point=LOGISTIC_LEAST_SQUARES_POINT):
    """The logistic least-squares loss ``L = ½(σ(w x + b) − y)²`` of chapter 5, by two reverse-mode engines.

    Returns ``{"nnbook": (L, dL/dw, dL/db), "torch": (L, dL/dw, dL/db), "torch_graph": (L_tensor, w, b)}``;
    the last entry keeps PyTorch's output and leaves, for walking the graph it recorded.
    """
    torch = import_torch()
    w, x, b, y = (point[k] for k in ("w", "x", "b", "y"))

    w_n, b_n = Tensor(w), Tensor(b)
    L_n = 0.5 * ((w_n * x + b_n).sigmoid() - y) ** 2
    L_n.backward()

    w_t = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    b_t = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    L_t = 0.5 * (torch.sigmoid(w_t * x + b_t) - y) ** 2
    L_t.backward()
    return {
        "nnbook": (float(L_n.data), float(w_n.grad), float(b_n.grad)),
        "torch": (L_t.item(), w_t.grad.item(), b_t.grad.item()),
        "torch_graph": (L_t, w_t, b_t),
    }


#: A batch of four examples for the three losses: logits of one sigmoid unit and of three classes, and labels.
KERAS_LOSSES_EXAMPLE = {
    "z": np.array([2.0, -1.0, 0.5, -3.0]),  # one sigmoid unit: P(y = 1 | x) = σ(z)
    "y01": np.array([1, 0, 0, 0]),
    "Z": np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-1.0, 3.0, 0.0], [1.5, -0.5, 1.0]]),  # (4, 3)
    "y": np.array([0, 2, 1, 2]),
}


def keras_losses_versus_nnbook(example=KERAS_LOSSES_EXAMPLE):
    """The decks' three Keras losses and the nnbook functions they equal, on the same predictions.

    Keras receives probabilities (a sigmoid or a softmax output layer, as in the
    decks); nnbook's softmax losses take the logits. Returns a list of
    ``(Keras loss, label format, labels passed, Keras value, nnbook function, nnbook value)``.
    """
    keras = import_keras()
    z, y01, Z, y = (example[k] for k in ("z", "y01", "Z", "y"))
    a, P, Y = sigmoid(z)[:, None], softmax(Z, axis=1), one_hot(y, Z.shape[1])
    as_float = lambda values: float(np.mean(keras.ops.convert_to_numpy(values)))  # noqa: E731
    return [
        ("binary_crossentropy", "0/1, one sigmoid output", y01[:, None],
         as_float(keras.losses.binary_crossentropy(y01[:, None].astype(float), a)),
         "binary_cross_entropy", binary_cross_entropy(a, y01[:, None])[0]),
        ("categorical_crossentropy", "one-hot rows", Y,
         as_float(keras.losses.categorical_crossentropy(Y, P)),
         "softmax_cross_entropy_onehot", softmax_cross_entropy_onehot(Z, Y)[0]),
        ("sparse_categorical_crossentropy", "integer labels", y,
         as_float(keras.losses.sparse_categorical_crossentropy(y, P)),
         "softmax_cross_entropy", softmax_cross_entropy(Z, y)[0]),
    ]


def old_api_messages():
    """Run the decks' obsolete PyTorch and Keras calls on today's versions; what each one answers.

    Returns a list of ``(old code, what happens)``: the warning or the error that
    the library raises, which names the modern replacement.
    """
    import warnings

    torch, keras = import_torch(), import_keras()
    x = torch.ones(2, 3, dtype=torch.float64)
    calls = {
        "Variable(x, requires_grad=True)": lambda: torch.autograd.Variable(x, requires_grad=True),
        "MSELoss(size_average=False)": lambda: torch.nn.MSELoss(size_average=False),
        "Variable(x, volatile=True)": lambda: torch.autograd.Variable(x, volatile=True),
        "loss.data[0]": lambda: (x**2).sum().data[0],
        "Dense(64, input_dim=784)": lambda: keras.layers.Dense(64, input_dim=784),
        "keras.optimizers.SGD(lr=0.1)": lambda: keras.optimizers.SGD(lr=0.1),
    }
    answers = []
    for code, call in calls.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = call()
                said = f"runs, returns a {type(result).__module__}.{type(result).__name__}"
            except Exception as error:  # the error is the answer we show
                said = f"{type(error).__name__}: {error}"
        said += "".join(f"; {w.category.__name__}: {w.message}" for w in caught)
        answers.append((code, said))
    return answers
