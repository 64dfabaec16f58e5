"""The worked examples and experiments of the chapters on backpropagation, with their settings in one place.

The chapters *Chain rule and computation graphs*, *Backpropagation in matrix
form* and *Multi-layer perceptrons* report numbers that ``tests/test_chapters_backprop.py``
checks again. Both call the functions below with the settings below, so the
book and its tests cannot drift apart: change a setting here and both follow.

* :func:`logistic_least_squares` and :func:`two_paths_example`: the two small
  examples of the chain rule, with their gradients derived by hand;
* :func:`matmul_flops`: the operation count behind "the backward pass costs
  about twice the forward pass";
* :func:`train_xor` (:data:`XOR_SETTINGS`): a network with one hidden layer that solves XOR;
* :class:`ReLUSum`, :func:`relu_sum_fit`, :func:`max_error`
  (:data:`RELU_SUM_SETTINGS`): sums of ReLUs approximating a function of one variable;
* :func:`mnist_mlp_vs_softmax` (:data:`MNIST_SETTINGS`): an MLP against softmax
  regression on the MNIST subset shipped with the package.
"""

from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from .activations import sigmoid
from .data import carve_dev_split, load_mnist_subset, make_xor
from .layers import Sequential, mlp
from .linear_models import SoftmaxRegression
from .optim import SGD
from .train import History, evaluate, fit

# ---------------------------------------------------------------------------
# Chapter "Chain rule and computation graphs"
# ---------------------------------------------------------------------------

#: The point where the chapter works out the logistic least-squares example by hand.
LOGISTIC_LEAST_SQUARES_POINT = {"w": 2.0, "x": -1.0, "b": 1.0, "y": 1.0}


def logistic_least_squares(w, b, x, y):
    """``L(w, b) = ½ (σ(w x + b) − y)²`` and its gradient derived by calculus.

    All arguments are numbers. Returns ``(L, dL/dw, dL/db)`` with
    ``dL/dw = (σ(z) − y) σ(z) (1 − σ(z)) x`` and ``dL/db = (σ(z) − y) σ(z) (1 − σ(z))``,
    where ``z = w x + b``.
    """
    a = float(sigmoid(w * x + b))
    loss = 0.5 * (a - y) ** 2
    dL_dz = (a - y) * a * (1.0 - a)
    return loss, dL_dz * x, dL_dz


def two_paths_example(x1, x2):
    """``p = z₁ z₂`` with ``z₁ = x₁ x₂`` and ``z₂ = x₁ + x₂²``, and its gradient by the multi-path chain rule.

    Each input reaches ``p`` along two paths, through ``z₁`` and through ``z₂``:
    ``∂p/∂x₁ = (∂p/∂z₁)(∂z₁/∂x₁) + (∂p/∂z₂)(∂z₂/∂x₁) = z₂ x₂ + z₁``,
    ``∂p/∂x₂ = (∂p/∂z₁)(∂z₁/∂x₂) + (∂p/∂z₂)(∂z₂/∂x₂) = z₂ x₁ + z₁ · 2x₂``.
    Returns ``(p, ∂p/∂x₁, ∂p/∂x₂)``.
    """
    z1, z2 = x1 * x2, x1 + x2**2
    return z1 * z2, z2 * x2 + z1 * 1.0, z2 * x1 + z1 * 2.0 * x2


# ---------------------------------------------------------------------------
# Chapter "Backpropagation in matrix form"
# ---------------------------------------------------------------------------


def matmul_flops(sizes, m, input_grad=True):
    """Floating-point operations of the matrix products of one forward and one backward pass of an MLP.

    ``sizes = (n_x, n^[1], …, n^[L])`` are the layer widths, ``m`` the batch size.
    A product ``(p, q) @ (q, r)`` costs ``2 p q r`` operations (a multiplication
    and an addition per term). Layer ``l`` costs, with ``n_in = n^[l-1]`` and ``n_out = n^[l]``:

    * forward, one product ``Z = A Wᵀ``: ``2 m n_in n_out``;
    * backward, two products of the same size, ``dW = dZᵀ A`` and ``dA = dZ W``:
      ``4 m n_in n_out``, except that with ``input_grad=False`` the first layer
      skips ``dA`` (the gradient with respect to the data).

    Element-wise work (biases, activations, the loss) is ``O(m n)`` per layer and is
    not counted. Returns ``(forward, backward)``.
    """
    per_layer = [2 * m * n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    forward = sum(per_layer)
    backward = 2 * forward - (0 if input_grad else per_layer[0])
    return forward, backward


# ---------------------------------------------------------------------------
# Chapter "Multi-layer perceptrons": XOR
# ---------------------------------------------------------------------------

#: The XOR network of the chapter: 2 inputs, one hidden layer of 4 tanh units, 2 outputs.
XOR_SETTINGS = {
    "sizes": (2, 4, 2),
    "activation": "tanh",
    "lr": 0.3,
    "epochs": 50,
    "batch_size": 16,
    "seed": 0,
    "m_train": 200,
    "m_dev": 200,
    "m_test": 200,
    "noise": 0.1,
}


class XorRun(NamedTuple):
    """What :func:`train_xor` returns: the trained model, its history, the data it saw and its test accuracy."""

    model: Sequential
    history: History
    X_train: np.ndarray
    y_train: np.ndarray
    X_dev: np.ndarray
    y_dev: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    test_accuracy: float


def train_xor(settings=XOR_SETTINGS):
    """Train ``mlp(settings["sizes"], settings["activation"])`` on :func:`~nnbook.data.make_xor` data.

    The training set is drawn with ``seed``, the test set with ``seed + 1`` and a
    dev set with ``seed + 2``; the network starts from the weights of ``seed`` and
    :func:`~nnbook.train.fit` runs plain SGD. The history records the training and
    dev cost and accuracy after every epoch; the test set is scored once, at the end.
    """
    s = settings
    X_train, y_train = make_xor(s["m_train"], noise=s["noise"], seed=s["seed"])
    X_test, y_test = make_xor(s["m_test"], noise=s["noise"], seed=s["seed"] + 1)
    X_dev, y_dev = make_xor(s["m_dev"], noise=s["noise"], seed=s["seed"] + 2)
    model = mlp(s["sizes"], s["activation"], seed=s["seed"])
    history = fit(model, X_train, y_train, SGD(lr=s["lr"]), epochs=s["epochs"], batch_size=s["batch_size"],
                  X_val=X_dev, y_val=y_dev, seed=s["seed"], progress=False)
    test_accuracy = evaluate(model, X_test, y_test)[1]
    return XorRun(model, history, X_train, y_train, X_dev, y_dev, X_test, y_test, test_accuracy)


# ---------------------------------------------------------------------------
# Chapter "Multi-layer perceptrons": sums of ReLUs
# ---------------------------------------------------------------------------


def bumpy(x):
    """The continuous function the chapter approximates: ``sin x + ½ sin 3x + ¼ cos 7x``."""
    return np.sin(x) + 0.5 * np.sin(3 * x) + 0.25 * np.cos(7 * x)


#: The sums-of-ReLUs experiment: the function, the interval, the numbers of units, and the
#: largest error the chapter states for the largest number of units.
RELU_SUM_SETTINGS = {
    "function": bumpy,
    "interval": (-np.pi, np.pi),
    "units": (2, 4, 8, 16, 32, 64, 128, 256),
    "n_fit_points": 2001,
    "n_test_points": 20001,
    "claimed_max_error": 1e-3,
}


class ReLUSum(NamedTuple):
    """``F(x) = c + Σₙ αₙ max(0, x − tₙ)``: a network with one hidden layer of ReLU units and one linear output.

    Hidden unit ``n`` has weight 1 and bias ``−tₙ``, so its kink is at ``x = tₙ``;
    ``weights`` are the output weights ``αₙ`` and ``bias`` the output bias ``c``.
    """

    knots: np.ndarray  # (N,)
    weights: np.ndarray  # (N,)
    bias: float

    def hidden(self, x):
        """The hidden activations ``max(0, x − tₙ)``, shape ``(len(x), N)``."""
        return np.maximum(0.0, np.asarray(x, dtype=np.float64)[:, None] - self.knots[None, :])

    def __call__(self, x):
        """``F(x)`` for a 1-D array ``x``, shape ``(len(x),)``."""
        return self.bias + self.hidden(x) @ self.weights


def relu_sum_fit(f, n_units, interval=(-np.pi, np.pi), n_points=2001):
    """Fit ``F = c + Σ αₙ max(0, x − tₙ)`` to ``f`` on ``interval`` by least squares on the output layer.

    The ``n_units`` kinks are fixed and evenly spaced, ``tₙ = a + n (b − a) / N`` for
    ``n = 0, …, N − 1`` (the first one at the left end, where its unit is the linear
    function ``x − a``). With the hidden layer fixed, ``F`` is linear in ``(c, α)``,
    so the best fit on ``n_points`` evenly spaced points is one linear least-squares
    solve (``np.linalg.lstsq``): fast and deterministic. Returns a :class:`ReLUSum`.
    """
    a, b = interval
    knots = a + (b - a) * np.arange(n_units) / n_units
    x = np.linspace(a, b, n_points)
    design = np.column_stack([np.ones_like(x), ReLUSum(knots, np.zeros(n_units), 0.0).hidden(x)])  # (n_points, N + 1)
    coefficients, *_ = np.linalg.lstsq(design, f(x), rcond=None)
    return ReLUSum(knots, coefficients[1:], float(coefficients[0]))


def max_error(F, f, interval=(-np.pi, np.pi), n_points=20001):
    """``max |F(x) − f(x)|`` over ``n_points`` evenly spaced points of ``interval`` (a finer grid than the fit's)."""
    x = np.linspace(*interval, n_points)
    return float(np.max(np.abs(F(x) - f(x))))


def relu_sum_errors(settings=RELU_SUM_SETTINGS):
    """Fit every number of units of ``settings["units"]``; returns ``(fits, max_errors)``, two lists."""
    s = settings
    fits = [relu_sum_fit(s["function"], n, s["interval"], s["n_fit_points"]) for n in s["units"]]
    errors = [max_error(F, s["function"], s["interval"], s["n_test_points"]) for F in fits]
    return fits, errors


# ---------------------------------------------------------------------------
# Chapter "Multi-layer perceptrons": MNIST
# ---------------------------------------------------------------------------

#: The MNIST comparison: one hidden layer of 128 ReLU units against softmax regression,
#: both trained by mini-batch SGD with the same learning rate, batch size and number of epochs,
#: on the training images less a stratified dev set of ``dev_fraction`` of them.
MNIST_SETTINGS = {
    "dev_fraction": 0.125,
    "hidden": 128,
    "activation": "relu",
    "lr": 0.1,
    "epochs": 10,
    "batch_size": 32,
    "seed": 0,
}


class MnistComparison(NamedTuple):
    """What :func:`mnist_mlp_vs_softmax` returns."""

    mlp: Sequential
    mlp_history: History
    softmax: SoftmaxRegression
    mlp_test_accuracy: float
    softmax_test_accuracy: float
    m_train: int
    m_dev: int


def mnist_mlp_vs_softmax(settings=MNIST_SETTINGS):
    """Train an MLP ``784 → hidden → 10`` and softmax regression on :func:`~nnbook.data.load_mnist_subset`.

    A stratified dev set of ``dev_fraction`` of the 4,000 training images is set
    aside (:func:`~nnbook.data.carve_dev_split`: 500 images, leaving 3,500). Both
    models see the same 3,500 training images with the same learning rate,
    mini-batch size, number of epochs and shuffling seed. Both record a
    :class:`~nnbook.train.History` with the dev set in ``val_loss``/``val_accuracy``,
    after every epoch: the MLP's is returned, the softmax model keeps its own in
    ``softmax.history``; both measure the training cost and accuracy on all the
    training images (``history_sample=None``). The 1,000 test images are scored
    once, after training.

    numpy's matrix library (BLAS) runs on one thread here: products with mini-batches
    of 32 rows gain little from threads, and on a busy machine with few cores,
    spinning BLAS threads can make the run tens of times slower. The results do
    not depend on it.
    """
    s = settings
    data = carve_dev_split(load_mnist_subset(), dev_fraction=s["dev_fraction"], seed=s["seed"])
    n_x, n_classes = data.X_train.shape[1], 10
    with threadpool_limits(limits=1, user_api="blas"):
        network = mlp((n_x, s["hidden"], n_classes), s["activation"], seed=s["seed"])
        history = fit(network, data.X_train, data.y_train, SGD(lr=s["lr"]), epochs=s["epochs"],
                      batch_size=s["batch_size"], X_val=data.X_dev, y_val=data.y_dev, seed=s["seed"], progress=False,
                      history_sample=None)
        softmax = SoftmaxRegression(n_classes=n_classes, lr=s["lr"], epochs=s["epochs"], batch_size=s["batch_size"],
                                    seed=s["seed"]).fit(data.X_train, data.y_train, data.X_dev, data.y_dev)
        mlp_test_accuracy = evaluate(network, data.X_test, data.y_test)[1]
        softmax_test_accuracy = softmax.accuracy(data.X_test, data.y_test)
    return MnistComparison(network, history, softmax, mlp_test_accuracy, softmax_test_accuracy, len(data.y_train),
                           len(data.y_dev))
