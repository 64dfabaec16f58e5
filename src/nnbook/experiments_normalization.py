"""The experiments of the section *Input standardization and batch normalization*, with their settings in one place.

The page (``book/normalization.md``) and its tests
(``tests/test_experiments_normalization.py``) call the functions below with the
settings below, so the numbers the page prints are the numbers the tests check.

* :func:`two_scales_data` (:data:`TWO_SCALES`): two measurements on very
  different scales, the data of the first two experiments;
* :func:`conditioning` (:data:`CONDITIONING_SETTINGS`): the condition number of
  Adaline's Hessian and the iterations of gradient descent, for raw, min–max
  scaled and standardized inputs;
* :func:`leakage` (:data:`LEAKAGE_SETTINGS`): a test set standardized with the
  training statistics, with train + test statistics, or with its own;
* :func:`standardized_mnist` and :func:`batchnorm_mlp`: the MNIST subset standardized
  with its training statistics, and ``Linear → BatchNorm → ReLU`` blocks (or the
  same network without batch normalization);
* :func:`train_on_mnist`, :func:`batch_dependence` and :func:`prediction_changes`
  (:data:`BATCH_DEPENDENCE_SETTINGS`): one example's output in train and eval mode, in several batches;
* :func:`batchnorm_noise` (:data:`NOISE_SETTINGS`): how much the batch moves an
  example's normalized value, for small and large batches;
* :func:`batch_size_experiment` (:data:`BATCH_SIZE_SETTINGS`): the deck's claim that
  batch normalization regularizes more with mini-batches of 64 than of 512;
* :func:`weight_scale_sweep` (:data:`WEIGHT_SCALE_SETTINGS`): CS231n's sweep of the
  initial weight scale of a deep network, with and without batch normalization,
  and :func:`weight_scale_invariance`, the reason it works.

numpy's matrix library runs on one thread in the trainings (``threadpool_limits``),
as in :mod:`nnbook.experiments`: small products gain nothing from threads, and a
busy machine with few cores runs them much slower.
"""

import copy
import math
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from .data import Split, load_mnist_subset
from .layers import Linear, ReLU, Sequential
from .linear_models import LogisticRegression, adaline_gradients, adaline_hessian
from .normalization import BatchNorm, MinMaxScaler, Standardizer, batchnorm_forward
from .optim import SGD, Adam
from .perceptron import labels_to_signs
from .train import evaluate, fit

# ---------------------------------------------------------------------------
# Two measurements on very different scales
# ---------------------------------------------------------------------------

#: Two classes, two features: a mass of about 10–14 (grams, say) and a length of about 0.2–0.5 (metres).
#: ``means[k]`` is the mean of class ``k``, ``stds`` the standard deviation of each feature within a class.
TWO_SCALES = {
    "means": ((10.0, 0.2), (14.0, 0.5)),
    "stds": (3.0, 0.15),
    "m_train": 400,
    "m_test": 400,
    "seed": 0,
}


def two_scales_data(m, seed, class1_fraction=0.5, shift=(0.0, 0.0), settings=TWO_SCALES):
    """``m`` examples ``X : (m, 2)``, labels ``y : (m,)`` in {0, 1}, drawn from the Gaussians of ``settings``.

    ``round(class1_fraction · m)`` examples are of class 1, the others of class 0;
    ``shift : (2,)`` is added to every example (a drift of the measurements, a
    recalibrated instrument). The rows are shuffled; ``seed`` makes it reproducible.
    """
    rng = np.random.default_rng(seed)
    n1 = int(round(class1_fraction * m))
    y = np.repeat(np.array([0, 1]), [m - n1, n1])
    X = np.asarray(settings["means"])[y] + np.asarray(settings["stds"]) * rng.standard_normal((m, 2))
    order = rng.permutation(m)
    return X[order] + np.asarray(shift, dtype=np.float64), y[order]


def two_scales_split(settings=TWO_SCALES):
    """The training set (``seed``) and a test set drawn alike (``seed + 1``), as a :class:`~nnbook.data.Split`."""
    s = settings
    return Split(*two_scales_data(s["m_train"], s["seed"], settings=s),
                 *two_scales_data(s["m_test"], s["seed"] + 1, settings=s))


# ---------------------------------------------------------------------------
# Conditioning: the Hessian of the least-squares cost before and after scaling
# ---------------------------------------------------------------------------

#: Gradient descent on Adaline's cost runs until ``J − J* ≤ tol · (J₀ − J*)``, for ``max_iterations`` at most.
CONDITIONING_SETTINGS = {"tol": 1e-6, "max_iterations": 100_000}


class Conditioning(NamedTuple):
    """What :func:`conditioning` measures for one scaling of the inputs."""

    eigenvalues: np.ndarray  # (n_x + 1,) of the Hessian X̃ᵀX̃/m, ascending
    condition_number: float  # λ_max / λ_min
    lr: float  # 1/λ_max, half the critical learning rate 2/λ_max
    iterations: int  # steps until J − J* ≤ tol (J₀ − J*), or None if not within max_iterations
    bound: int  # the steps the slowest direction needs: ⌈ln tol / (2 ln(1 − 1/κ))⌉
    relative_cost_error: np.ndarray  # (iterations + 1,): (J_t − J*) / (J₀ − J*) along the run


def iterations_to_tolerance(X, y, lr, tol, max_iterations):
    """Batch gradient descent on Adaline's cost ``J = ‖X w + b − y‖² / (2m)`` from ``w = 0, b = 0``.

    ``X : (m, n_x)``, ``y : (m,)`` targets ``±1``. Each step is ``θ ← θ − lr ∇J``,
    with the gradient of :func:`~nnbook.linear_models.adaline_gradients`. Returns
    ``(t, errors)``: the first ``t`` with ``J_t − J* ≤ tol (J₀ − J*)`` (``None`` if
    it takes more than ``max_iterations`` steps) and the relative errors
    ``(J_t − J*) / (J₀ − J*)`` up to there; ``J*`` is the least-squares minimum.
    """
    X1 = np.hstack([X, np.ones((len(X), 1))])
    theta_star = np.linalg.lstsq(X1, y, rcond=None)[0]
    J_star = 0.5 * np.mean((X1 @ theta_star - y) ** 2)
    w, b = np.zeros(X.shape[1]), 0.0
    errors = []
    for t in range(max_iterations + 1):
        J, dw, db = adaline_gradients(X, y, w, b)
        errors.append(J - J_star)
        if J - J_star <= tol * errors[0]:
            return t, np.array(errors) / errors[0]
        w, b = w - lr * dw, b - lr * db
    return None, np.array(errors) / errors[0]


def conditioning(settings=CONDITIONING_SETTINGS, data=TWO_SCALES):
    """The Hessian's spectrum and gradient descent's iterations for raw, min–max scaled and standardized inputs.

    The inputs are the training set of :func:`two_scales_split`, scaled with
    statistics of that training set; the targets are the labels as ``±1``, as
    Adaline uses them. For each scaling, the Hessian of the cost is
    ``H = X̃ᵀ X̃ / m`` (:func:`~nnbook.linear_models.adaline_hessian`, with the
    bias column), and gradient descent runs with ``lr = 1/λ_max``, the same
    fraction of each problem's own critical rate ``2/λ_max``. On a quadratic cost
    every component of the error then shrinks at least by ``1 − λ_min/λ_max`` per
    step, so the cost's error by its square: ``bound`` steps always suffice.
    Returns ``{"raw": Conditioning, "min-max": …, "standardized": …}``.
    """
    X, y = two_scales_split(data)[:2]
    targets = labels_to_signs(y).astype(np.float64)
    inputs = {"raw": X, "min-max": MinMaxScaler().fit_transform(X), "standardized": Standardizer().fit_transform(X)}
    results = {}
    for name, Z in inputs.items():
        eigenvalues = np.linalg.eigvalsh(adaline_hessian(Z))
        kappa = float(eigenvalues[-1] / eigenvalues[0])
        lr = 1.0 / float(eigenvalues[-1])
        iterations, errors = iterations_to_tolerance(Z, targets, lr, settings["tol"], settings["max_iterations"])
        bound = math.ceil(math.log(settings["tol"]) / (2.0 * math.log1p(-1.0 / kappa)))
        results[name] = Conditioning(eigenvalues, kappa, lr, iterations, bound, errors)
    return results


# ---------------------------------------------------------------------------
# Leakage: which statistics standardize the test set
# ---------------------------------------------------------------------------

#: A logistic regression trained on the standardized training set, then tested on three test sets:
#: one like the training set, one whose first feature drifted by ``drift``, and one with ``class1_fraction``
#: of class 1 instead of half.
LEAKAGE_SETTINGS = {"lr": 0.5, "epochs": 200, "drift": (6.0, 0.0), "class1_fraction": 0.9}

#: The three ways of standardizing a test set, in the order the page shows them.
STANDARDIZATIONS = ("training statistics", "train + test statistics", "test's own statistics")


class Leakage(NamedTuple):
    """What :func:`leakage` returns."""

    model: LogisticRegression
    scaler: Standardizer  # fitted on the training set
    train_accuracy: float
    accuracy: dict  # {test set: {standardization: accuracy}}
    test_means: dict  # {test set: (2,) mean of the test set standardized with the training statistics}


def leakage(settings=LEAKAGE_SETTINGS, data=TWO_SCALES):
    """Train on the standardized training set, then score three test sets standardized in three ways.

    The test sets (``m_test`` examples each, drawn with ``seed + 1``): ``"same
    distribution"``, ``"drifted"`` (``drift`` added to every example) and
    ``"90% class 1"`` (the class proportions changed). Each is standardized with
    the training set's statistics (what a deployed model does, one example at a
    time), with statistics of the training and test sets pooled, and with its
    own statistics. The model and the training set are the same in all nine scores.
    """
    s, d = settings, data
    X_train, y_train = two_scales_data(d["m_train"], d["seed"], settings=d)
    scaler = Standardizer().fit(X_train)
    model = LogisticRegression(lr=s["lr"], epochs=s["epochs"]).fit(scaler.transform(X_train), y_train)
    test_sets = {
        "same distribution": two_scales_data(d["m_test"], d["seed"] + 1, settings=d),
        "drifted": two_scales_data(d["m_test"], d["seed"] + 1, shift=s["drift"], settings=d),
        f"{s['class1_fraction']:.0%} class 1": two_scales_data(d["m_test"], d["seed"] + 1, s["class1_fraction"],
                                                                settings=d),
    }
    accuracy, test_means = {}, {}
    for name, (X_test, y_test) in test_sets.items():
        scalers = dict(zip(STANDARDIZATIONS, (scaler, Standardizer().fit(np.vstack([X_train, X_test])),
                                              Standardizer().fit(X_test))))
        accuracy[name] = {how: model.accuracy(sc.transform(X_test), y_test) for how, sc in scalers.items()}
        test_means[name] = scaler.transform(X_test).mean(axis=0)
    return Leakage(model, scaler, model.accuracy(scaler.transform(X_train), y_train), accuracy, test_means)


# ---------------------------------------------------------------------------
# Networks with batch normalization, on the MNIST subset
# ---------------------------------------------------------------------------


def standardized_mnist():
    """:func:`~nnbook.data.load_mnist_subset` with every pixel standardized by a :class:`Standardizer` fitted on the
    4,000 training images (the blank pixels of the training set stay 0)."""
    data = load_mnist_subset()
    scaler = Standardizer().fit(data.X_train)
    return Split(scaler.transform(data.X_train), data.y_train, scaler.transform(data.X_test), data.y_test)


def batchnorm_mlp(sizes, batchnorm=True, weight_std=None, seed=0):
    """An MLP with widths ``sizes = (n_x, n^[1], …, n^[L])``: each hidden layer is ``Linear → BatchNorm → ReLU``.

    With ``batchnorm=False`` the same network without the ``BatchNorm`` layers
    (``Linear → ReLU``), with the same initial weights. The weights are He's
    (:mod:`nnbook.initialization`), or, with ``weight_std``, drawn from
    ``N(0, weight_std²)`` in every layer, as in CS231n's experiment. The last
    layer is ``Linear`` alone: pair it with the softmax cross-entropy.
    """
    rng = np.random.default_rng(seed)
    layers = []
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = Linear(n_in, n_out, seed=rng)
        if weight_std is not None:
            linear.params["W"][...] = weight_std * rng.standard_normal((n_out, n_in))
        layers.append(linear)
        if index < len(sizes) - 2:
            layers += [BatchNorm(n_out), ReLU()] if batchnorm else [ReLU()]
    return Sequential(*layers)


#: Train mode against eval mode: the network of :data:`BATCH_SIZE_SETTINGS` with batch normalization, trained with
#: mini-batches of 64 (seed 0), then each of the first ``n_examples`` test images put in ``n_batches`` random
#: batches of each size in ``batch_sizes`` with other test images.
BATCH_DEPENDENCE_SETTINGS = {"batch_sizes": (8, 64), "n_examples": 200, "n_batches": 6, "seed": 0}


class BatchDependence(NamedTuple):
    """One example's outputs ``(n_batches, K)`` when it sits in ``n_batches`` different batches."""

    train_outputs: np.ndarray
    eval_outputs: np.ndarray
    train_predictions: np.ndarray  # (n_batches,) the predicted classes in train mode
    eval_predictions: np.ndarray


def batch_dependence(model, X, index, batch_size=8, n_batches=6, seed=0):
    """Run example ``X[index]`` through ``model`` in ``n_batches`` batches of ``batch_size`` with other random examples.

    In train mode a :class:`~nnbook.normalization.BatchNorm` layer normalizes
    with the batch's statistics, so the example's output depends on its
    companions; in eval mode it uses the running statistics and does not. The
    train-mode passes run on a copy of ``model``, whose running statistics they
    move; ``model`` itself is left as it was, in eval mode afterwards.
    """
    rng = np.random.default_rng(seed)
    others = np.delete(np.arange(len(X)), index)
    batches = [np.r_[index, rng.choice(others, batch_size - 1, replace=False)] for _ in range(n_batches)]
    trained = copy.deepcopy(model).train()
    model.eval()
    with threadpool_limits(limits=1, user_api="blas"):
        train_outputs = np.array([trained.forward(X[batch])[0] for batch in batches])
        eval_outputs = np.array([model.forward(X[batch])[0] for batch in batches])
    return BatchDependence(train_outputs, eval_outputs, train_outputs.argmax(axis=1), eval_outputs.argmax(axis=1))


def prediction_changes(model, X, n_examples=200, batch_size=8, n_batches=6, seed=0):
    """Which of the examples ``X[:n_examples]`` get different predicted classes in different batches.

    Each example goes through :func:`batch_dependence` (``n_batches`` batches of
    ``batch_size``, drawn with ``seed + index``). Returns two lists of indices,
    ``(in train mode, in eval mode)``: the examples whose predicted class is not
    the same in all their batches.
    """
    changed = {"train": [], "eval": []}
    for index in range(n_examples):
        result = batch_dependence(model, X, index, batch_size, n_batches, seed + index)
        for mode, predictions in (("train", result.train_predictions), ("eval", result.eval_predictions)):
            if len(set(predictions.tolist())) > 1:
                changed[mode].append(index)
    return changed["train"], changed["eval"]


#: The noise that the batch statistics add: one example's normalized pre-activations, in ``draws`` random
#: batches of each size, after the first layer ``Linear(784, hidden)`` of He's initialization.
NOISE_SETTINGS = {"batch_sizes": (64, 512), "draws": 200, "hidden": 100, "example": 0, "seed": 0}


def batchnorm_noise(settings=NOISE_SETTINGS):
    """How much an example's normalized value ``x̂`` moves with the batch it is in.

    The example ``X[example]`` of the standardized MNIST training set is put in
    ``draws`` batches of each size with other random training images, and
    :func:`~nnbook.normalization.batchnorm_forward` normalizes the pre-activations
    ``z = x Wᵀ + b`` of a first layer with ``hidden`` units. Returns
    ``{batch size: spread}``, the standard deviation of the example's ``x̂`` over
    the draws, averaged over the units: the noise that training mode adds to it,
    which shrinks like ``1/√(batch size)``.
    """
    s = settings
    X = standardized_mnist().X_train
    layer = Linear(X.shape[1], s["hidden"], seed=s["seed"])
    rng = np.random.default_rng(s["seed"])
    others = np.delete(np.arange(len(X)), s["example"])
    gamma, beta = np.ones(s["hidden"]), np.zeros(s["hidden"])
    spread = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for B in s["batch_sizes"]:
            values = []
            for _ in range(s["draws"]):
                batch = np.r_[s["example"], rng.choice(others, B - 1, replace=False)]
                out, _ = batchnorm_forward(layer.forward(X[batch]), gamma, beta)
                values.append(out[0])
            spread[B] = float(np.mean(np.std(np.array(values), axis=0)))
    return spread


#: The deck's claim: batch normalization regularizes more with mini-batches of 64 than of 512.
#: The same network with and without batch normalization, trained by SGD with each batch size for about the
#: same number of updates (``epochs_at_64`` epochs at 64, 8 times as many at 512), from several seeds.
BATCH_SIZE_SETTINGS = {
    "sizes": (784, 100, 100, 10),
    "lr": 0.1,
    "batch_sizes": (64, 512),
    "epochs_at_64": 5,
    "seeds": (0, 1, 2),
}


class BatchSizeRun(NamedTuple):
    """One training of :func:`batch_size_experiment`: the final accuracies and costs."""

    batchnorm: bool
    batch_size: int
    seed: int
    epochs: int
    train_accuracy: float
    test_accuracy: float
    train_loss: float
    test_loss: float

    @property
    def gap(self):
        """Training accuracy minus test accuracy."""
        return self.train_accuracy - self.test_accuracy


def train_on_mnist(batchnorm, batch_size, seed, settings=BATCH_SIZE_SETTINGS, data=None):
    """Train :func:`batchnorm_mlp` (``settings["sizes"]``) on the standardized MNIST subset; returns ``(model, run)``.

    Plain SGD with ``settings["lr"]``, ``epochs_at_64 · batch_size / 64`` epochs
    (about the same number of updates for every batch size), the weights and the
    shuffling seeded by ``seed``. ``run`` is a :class:`BatchSizeRun`: the final
    cost and accuracy on all 4,000 training images and on the 1,000 test images,
    measured once after training, in eval mode (:func:`~nnbook.train.evaluate`).
    ``data`` is :func:`standardized_mnist`, loaded when not given.
    """
    s = settings
    data = standardized_mnist() if data is None else data
    epochs = s["epochs_at_64"] * batch_size // 64
    model = batchnorm_mlp(s["sizes"], batchnorm, seed=seed)
    with threadpool_limits(limits=1, user_api="blas"):
        fit(model, data.X_train, data.y_train, SGD(lr=s["lr"]), epochs=epochs, batch_size=batch_size, seed=seed,
            progress=False)
        train_loss, train_accuracy = evaluate(model, data.X_train, data.y_train)
        test_loss, test_accuracy = evaluate(model, data.X_test, data.y_test)
    return model, BatchSizeRun(batchnorm, batch_size, seed, epochs, train_accuracy, test_accuracy, train_loss,
                               test_loss)


def batch_size_experiment(settings=BATCH_SIZE_SETTINGS):
    """:func:`train_on_mnist` with and without batch normalization, for each batch size and seed of ``settings``.

    Every run makes about the same number of updates (4,000 training images: 63
    updates per epoch at 64, 8 at 512, so 8 times as many epochs at 512: 315 and
    320 updates with ``epochs_at_64 = 5``). The network, its initial weights and
    plain SGD are the same with and without batch normalization, so the
    difference between the two isolates what it adds at each batch size. Returns
    a list of :class:`BatchSizeRun`, and the trained models as
    ``{(batchnorm, batch size, seed): model}``.
    """
    s = settings
    data = standardized_mnist()
    runs, models = [], {}
    for B in s["batch_sizes"]:
        for batchnorm in (False, True):
            for seed in s["seeds"]:
                model, run = train_on_mnist(batchnorm, B, seed, s, data)
                runs.append(run)
                models[batchnorm, B, seed] = model
    return runs, models


def mean_over_seeds(runs, field):
    """``{(batchnorm, batch size): mean of field over the seeds}`` for a list of :class:`BatchSizeRun`."""
    groups = {}
    for run in runs:
        groups.setdefault((run.batchnorm, run.batch_size), []).append(getattr(run, field))
    return {key: float(np.mean(values)) for key, values in groups.items()}


#: CS231n's experiment (assignment 2): a deep network of 7 hidden layers of 50 units, its weights drawn from
#: N(0, σ²) with σ on a log grid, trained on 1,000 images with Adam, with and without batch normalization;
#: validated on 1,000 other training images (the test images are not used).
WEIGHT_SCALE_SETTINGS = {
    "sizes": (784,) + (50,) * 7 + (10,),
    "weight_stds": tuple(float(x) for x in np.logspace(-4, 0, 9)),
    "m_train": 1000,
    "m_val": 1000,
    "epochs": 10,
    "batch_size": 50,
    "lr": 1e-3,
    "seed": 0,
}


class WeightScaleRun(NamedTuple):
    """One point of :func:`weight_scale_sweep`."""

    weight_std: float
    batchnorm: bool
    train_accuracy: float
    val_accuracy: float
    train_loss: float
    diverged: bool


def weight_scale_sweep(settings=WEIGHT_SCALE_SETTINGS):
    """Final training and validation accuracy of :func:`batchnorm_mlp` for each initial weight scale, with and without.

    The first ``m_train`` training images of the MNIST subset train, the next
    ``m_val`` validate, all standardized with the statistics of the ``m_train``
    images; every network starts from the same seed and
    trains with Adam for ``epochs`` epochs. Returns a list of :class:`WeightScaleRun`.
    """
    s = settings
    data = load_mnist_subset()
    train, val = slice(0, s["m_train"]), slice(s["m_train"], s["m_train"] + s["m_val"])
    scaler = Standardizer().fit(data.X_train[train])  # the statistics of the images it trains on, and only those
    X_train, y_train = scaler.transform(data.X_train[train]), data.y_train[train]
    X_val, y_val = scaler.transform(data.X_train[val]), data.y_train[val]
    runs = []
    with threadpool_limits(limits=1, user_api="blas"):
        for std in s["weight_stds"]:
            for batchnorm in (False, True):
                model = batchnorm_mlp(s["sizes"], batchnorm, weight_std=std, seed=s["seed"])
                history = fit(model, X_train, y_train, Adam(lr=s["lr"]), epochs=s["epochs"],
                              batch_size=s["batch_size"], X_val=X_val, y_val=y_val, seed=s["seed"], progress=False,
                              history_sample=None)
                runs.append(WeightScaleRun(std, batchnorm, history.accuracy[-1], history.val_accuracy[-1],
                                           history.loss[-1], history.diverged))
    return runs


def weight_scale_invariance(factor=1000.0, sizes=(784, 100, 100, 10), m=64, seed=0):
    """How much the output of :func:`batchnorm_mlp` changes when its first layer's weights are multiplied by ``factor``.

    The network runs in train mode on the first ``m`` standardized MNIST training
    images, before and after ``W^[1] ← factor · W^[1]``. Returns
    ``{batchnorm: relative error between the two outputs}`` for the network with
    and without batch normalization. With it, the layer's pre-activations ``z``
    and their batch statistics scale together, so ``x̂`` changes only through
    ``ε``: by about ``ε / (2 σ²)`` relative.
    """
    X = standardized_mnist().X_train[:m]
    change = {}
    for batchnorm in (False, True):
        model = batchnorm_mlp(sizes, batchnorm, seed=seed)
        before = model.forward(X)
        model.layers[0].params["W"] *= factor
        after = model.forward(X)
        change[batchnorm] = float(np.max(np.abs(after - before)) / np.max(np.abs(before)))
    return change
