"""The experiments of the chapter *Regularization and evaluation* (``book/regularization.md``), settings in one place.

The chapter and ``tests/test_experiments_regularization.py`` call the functions
below with the settings below, so the numbers the chapter prints are the numbers
the tests check. The regularizers live in :mod:`nnbook.regularization`, the
metrics in :mod:`nnbook.metrics`, the training loop (with its penalty and early
stopping) in :mod:`nnbook.train`; this module only runs them.

* Splits: :func:`split_proportions` (:data:`SPLIT_SETTINGS`), the proportion of a
  rare class in the three sets of stratified and of plain shuffled splits.
* Metrics: :func:`rare_digit_data` and :func:`rare_digit_scores`
  (:data:`RARE_DIGIT_SETTINGS`), a rare digit against the rest, where accuracy misleads.
* Under- and over-fitting: :func:`polynomial_fits` (:data:`POLYNOMIAL_SETTINGS`),
  the error against the degree; :func:`memorize_shuffled_labels`
  (:data:`SHUFFLED_SETTINGS`), a network that learns labels drawn at random.
* Penalties: :func:`penalty_runs` (:data:`PENALTY_SETTINGS`), the weights after
  training with L1, L2 or neither; :func:`moons_boundaries` (:data:`MOONS_SETTINGS`),
  the decision boundary against λ.
* Dropout: :func:`dropout_network` and :func:`dropout_runs` (:data:`DROPOUT_SETTINGS`).
* Early stopping: :func:`early_stopping_run` (:data:`EARLY_STOPPING_SETTINGS`).
* Sanity checks: :func:`initial_losses`, :func:`overfit_tiny_subset` and
  :func:`update_ratios` (:data:`SANITY_SETTINGS`).

numpy's matrix library runs on one thread in the MNIST experiments, as in
:mod:`nnbook.experiments`: the products are small, and a busy machine stays fast.
"""

from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from .data import carve_dev_split, class_proportions, load_mnist_subset, make_moons, train_dev_test_split
from .layers import Linear, ReLU, Sequential, mlp
from .linear_models import LogisticRegression
from .metrics import accuracy, confusion_matrix, f1_score, precision, recall
from .optim import SGD, Adam
from .regularization import L1, L2, Dropout, is_penalized
from .train import History, evaluate, fit

# ---------------------------------------------------------------------------
# The MNIST subset, cut for this chapter
# ---------------------------------------------------------------------------


def small_mnist(m_train, m_dev, seed=0, dtype=np.float64):
    """``m_train`` training and ``m_dev`` dev images of the MNIST subset, stratified, both from its training set.

    The dev images are :func:`~nnbook.data.carve_dev_split`'s 500 (``m_dev ≤ 500``,
    the first ``m_dev`` of them); the training images are the first ``m_train`` of
    the 3,500 others (shuffled, so each digit gets about a tenth). Returns
    ``(X_train, y_train, X_dev, y_dev)``, ``X : (m, 784)`` of ``dtype``.
    """
    data = carve_dev_split(load_mnist_subset(), dev_fraction=0.125, seed=seed)
    return (data.X_train[:m_train].astype(dtype), data.y_train[:m_train], data.X_dev[:m_dev].astype(dtype),
            data.y_dev[:m_dev])


# ---------------------------------------------------------------------------
# Train / dev / test: stratified splits
# ---------------------------------------------------------------------------

#: A two-class set with a rare class (one example in ``1 / rare_every``), cut into training, dev
#: and test sets by ``n_seeds`` different seeds, stratified or not.
SPLIT_SETTINGS = {"m": 1000, "rare_every": 20, "dev_fraction": 0.1, "test_fraction": 0.1, "n_seeds": 30}


def split_proportions(settings=SPLIT_SETTINGS, stratify=True):
    """The fraction of the rare class in the training, dev and test sets, for each seed: ``(n_seeds, 3)``.

    The data are ``m`` examples, one in ``rare_every`` of class 1 (the features do
    not matter: they are the example's index). A stratified split keeps the
    fraction in each set; a plain shuffle lets it wander, more in the small sets.
    """
    s = settings
    y = (np.arange(s["m"]) % s["rare_every"] == 0).astype(np.int64)
    X = np.arange(s["m"], dtype=np.float64)[:, None]
    rows = []
    for seed in range(s["n_seeds"]):
        split = train_dev_test_split(X, y, s["dev_fraction"], s["test_fraction"], seed=seed, stratify=stratify)
        rows.append([class_proportions(labels, 2)[1] for labels in (split.y_train, split.y_dev, split.y_test)])
    return np.array(rows)


# ---------------------------------------------------------------------------
# Metrics: a rare digit against the rest
# ---------------------------------------------------------------------------

#: Is this image the digit ``digit``? Its images are thinned out to one in ``keep_every`` of
#: those of the subset, in the training and the test set, so that it is rare; a logistic
#: regression is trained on the training set.
RARE_DIGIT_SETTINGS = {"digit": 5, "keep_every": 5, "lr": 0.5, "epochs": 20, "batch_size": 64, "seed": 0}


def rare_digit_data(settings=RARE_DIGIT_SETTINGS):
    """The MNIST subset relabelled ``1`` for ``digit`` and ``0`` for the others, with ``digit`` made rare.

    Of the images of ``digit``, only one in ``keep_every`` is kept (the first in
    each group of ``keep_every``, in the stored order), in both sets; the other
    digits are all kept. Returns ``(X_train, y_train, X_test, y_test)`` with
    ``y ∈ {0, 1}``: 80 positives of 3,680 training images, 20 of 920 test images.
    """
    s = settings
    data = load_mnist_subset()
    arrays = []
    for X, y in ((data.X_train, data.y_train), (data.X_test, data.y_test)):
        positive = np.flatnonzero(y == s["digit"])
        keep = np.sort(np.r_[np.flatnonzero(y != s["digit"]), positive[:: s["keep_every"]]])
        arrays += [X[keep], (y[keep] == s["digit"]).astype(np.int64)]
    return tuple(arrays)


class Scores(NamedTuple):
    """A classifier's scores on a two-class test set (class 1 the positive one) and its confusion matrix."""

    accuracy: float
    precision: float
    recall: float
    f1: float
    macro_f1: float
    confusion: np.ndarray  # (2, 2)


def scores(y_true, y_pred):
    """The :class:`Scores` of predictions ``y_pred`` against ``y_true`` (two classes, 1 positive)."""
    return Scores(accuracy(y_true, y_pred), precision(y_true, y_pred), recall(y_true, y_pred),
                  f1_score(y_true, y_pred), f1_score(y_true, y_pred, average="macro", n_classes=2),
                  confusion_matrix(y_true, y_pred, n_classes=2))


def rare_digit_scores(settings=RARE_DIGIT_SETTINGS):
    """Scores of "always predict the majority" and of a logistic regression on the rare-digit test set.

    Returns ``{"always 0": Scores, "logistic regression": Scores}``.
    """
    s = settings
    X_train, y_train, X_test, y_test = rare_digit_data(s)
    majority = int(np.argmax(np.bincount(y_train)))
    with threadpool_limits(limits=1, user_api="blas"):
        model = LogisticRegression(lr=s["lr"], epochs=s["epochs"], batch_size=s["batch_size"],
                                   seed=s["seed"]).fit(X_train, y_train)
        predicted = model.predict(X_test)
    return {f"always {majority}": scores(y_test, np.full_like(y_test, majority)),
            "logistic regression": scores(y_test, predicted)}


# ---------------------------------------------------------------------------
# Under- and over-fitting: polynomials of growing degree
# ---------------------------------------------------------------------------


def wavy(x):
    """The function the polynomials try to learn: ``sin(πx) + ½ x``, on ``[−1, 1]``."""
    return np.sin(np.pi * x) + 0.5 * x


#: ``m_train`` noisy points of :func:`wavy` on [−1, 1], fitted by least squares with polynomials
#: of every degree of ``degrees``; the error is measured on ``m_dev`` fresh noisy points.
POLYNOMIAL_SETTINGS = {"m_train": 15, "m_dev": 500, "noise": 0.25, "degrees": tuple(range(0, 15)),
                       "shown": (1, 3, 12), "seed": 0}


def polynomial_data(settings=POLYNOMIAL_SETTINGS):
    """``(x_train, t_train, x_dev, t_dev)``: ``x`` uniform on [−1, 1], ``t = wavy(x) + N(0, noise²)``."""
    s = settings
    rng = np.random.default_rng(s["seed"])
    x_train, x_dev = rng.uniform(-1, 1, s["m_train"]), rng.uniform(-1, 1, s["m_dev"])
    return (x_train, wavy(x_train) + rng.normal(0, s["noise"], s["m_train"]),
            x_dev, wavy(x_dev) + rng.normal(0, s["noise"], s["m_dev"]))


def polynomial_fit(x, t, degree):
    """The least-squares polynomial of ``degree`` through ``(x, t)``, as a function of an array.

    The features are Legendre polynomials ``P_0 … P_degree`` of ``x`` (as good as
    the powers ``1, x, …, x^degree`` for what they can fit, but far better
    conditioned on [−1, 1]); one ``np.linalg.lstsq`` solve.
    """
    coefficients, *_ = np.linalg.lstsq(np.polynomial.legendre.legvander(x, degree), t, rcond=None)
    return lambda z: np.polynomial.legendre.legvander(np.asarray(z), degree) @ coefficients


def polynomial_fits(settings=POLYNOMIAL_SETTINGS):
    """The training and dev mean squared errors of the polynomial fit of each degree: two arrays ``(n_degrees,)``."""
    x_train, t_train, x_dev, t_dev = polynomial_data(settings)
    train, dev = [], []
    for degree in settings["degrees"]:
        p = polynomial_fit(x_train, t_train, degree)
        train.append(np.mean((p(x_train) - t_train) ** 2))
        dev.append(np.mean((p(x_dev) - t_dev) ** 2))
    return np.array(train), np.array(dev)


# ---------------------------------------------------------------------------
# Memorizing labels drawn at random
# ---------------------------------------------------------------------------

#: An MLP ``784 → 256 → 10`` trained with Adam on ``m_train`` MNIST images whose labels were
#: shuffled (and, for comparison, on their true labels); ``m_dev`` dev images keep theirs.
SHUFFLED_SETTINGS = {"m_train": 500, "m_dev": 500, "sizes": (784, 256, 10), "lr": 0.002, "epochs": 40,
                     "batch_size": 50, "seed": 0}


def memorize_shuffled_labels(settings=SHUFFLED_SETTINGS):
    """Train the same network on shuffled and on true labels; returns ``{"shuffled": History, "true": History}``.

    The shuffled labels are a random permutation of the true ones (so each digit
    keeps its count), drawn with ``seed``: no rule links an image to its label,
    and whatever the network gets right on the training set, it memorized.
    """
    s = settings
    X, y, X_dev, y_dev = small_mnist(s["m_train"], s["m_dev"], s["seed"])
    shuffled = np.random.default_rng(s["seed"]).permutation(y)
    histories = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name, labels in (("shuffled", shuffled), ("true", y)):
            model = mlp(s["sizes"], "relu", seed=s["seed"])
            histories[name] = fit(model, X, labels, Adam(s["lr"]), epochs=s["epochs"], batch_size=s["batch_size"],
                                  X_val=X_dev, y_val=y_dev, seed=s["seed"], progress=False, history_sample=None)
    return histories


# ---------------------------------------------------------------------------
# L2 and L1 penalties
# ---------------------------------------------------------------------------

#: An MLP ``784 → 64 → 10`` trained by SGD on ``m_train`` MNIST images without a penalty,
#: with L2 and with L1, each at its strength λ.
PENALTY_SETTINGS = {"m_train": 1000, "m_dev": 500, "sizes": (784, 64, 10), "lr": 0.1, "epochs": 30,
                    "batch_size": 50, "lam_l2": 10.0, "lam_l1": 2.0, "seed": 0, "near_zero": 1e-3}


class PenaltyRun(NamedTuple):
    """What :func:`penalty_runs` returns for one penalty: the first layer's weights and the history."""

    W1: np.ndarray  # (64, 784)
    history: History


def penalty_runs(settings=PENALTY_SETTINGS):
    """Train the same network with no penalty, ``L2(lam_l2)`` and ``L1(lam_l1)``; returns ``{name: PenaltyRun}``."""
    s = settings
    X, y, X_dev, y_dev = small_mnist(s["m_train"], s["m_dev"], s["seed"])
    runs = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name, penalty in (("none", None), ("L2", L2(s["lam_l2"])), ("L1", L1(s["lam_l1"]))):
            model = mlp(s["sizes"], "relu", seed=s["seed"])
            history = fit(model, X, y, SGD(s["lr"]), epochs=s["epochs"], batch_size=s["batch_size"], X_val=X_dev,
                          y_val=y_dev, seed=s["seed"], progress=False, history_sample=None, penalty=penalty)
            runs[name] = PenaltyRun(model.layers[0].params["W"].copy(), history)
    return runs


#: A network ``2 → 100 → 100 → 2`` trained with Adam, full batch, on ``m`` noisy moons, with the
#: L2 penalty at each λ of ``lams``; the accuracy is measured on ``m_dev`` fresh moons.
MOONS_SETTINGS = {"m": 60, "m_dev": 1000, "noise": 0.3, "sizes": (2, 100, 100, 2), "lr": 0.02, "epochs": 300,
                  "lams": (0.0, 0.1, 1.0, 10.0), "seed": 0}


class MoonsRun(NamedTuple):
    """What :func:`moons_boundaries` returns: the models by λ, their training and dev accuracies, the data."""

    models: dict
    train_accuracy: dict
    dev_accuracy: dict
    X: np.ndarray
    y: np.ndarray


def moons_boundaries(settings=MOONS_SETTINGS):
    """Train the network on the moons with each λ of ``lams``; returns a :class:`MoonsRun`."""
    s = settings
    X, y = make_moons(s["m"], noise=s["noise"], seed=s["seed"])
    X_dev, y_dev = make_moons(s["m_dev"], noise=s["noise"], seed=s["seed"] + 1)
    models, train_accuracy, dev_accuracy = {}, {}, {}
    for lam in s["lams"]:
        model = mlp(s["sizes"], "relu", seed=s["seed"])
        fit(model, X, y, Adam(s["lr"]), epochs=s["epochs"], batch_size=s["m"], seed=s["seed"], progress=False,
            penalty=L2(lam) if lam else None)
        models[lam] = model
        train_accuracy[lam] = evaluate(model, X, y)[1]
        dev_accuracy[lam] = evaluate(model, X_dev, y_dev)[1]
    return MoonsRun(models, train_accuracy, dev_accuracy, X, y)


# ---------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------

#: A network ``784 → 512 → 512 → 10``, big enough to overfit ``m_train`` images, trained by SGD
#: with dropout of probability ``p`` after each hidden layer, for each ``p`` of ``ps``; float32.
DROPOUT_SETTINGS = {"m_train": 1000, "m_dev": 500, "hidden": (512, 512), "ps": (0.0, 0.25, 0.5), "lr": 0.1,
                    "epochs": 30, "batch_size": 50, "seed": 0, "dtype": np.float32}


def dropout_network(sizes, p, seed=0, dtype=np.float64):
    """``Linear → ReLU → Dropout(p)`` for each hidden layer, then a last ``Linear``; ``sizes = (n_x, …, K)``.

    Each dropout layer gets its own seed (``seed + l`` for hidden layer ``l``);
    the weights are those of ``mlp(sizes, "relu", seed=seed)``, so networks that
    differ only by ``p`` start from the same weights (of ``dtype``).
    """
    linear = [layer for layer in mlp(sizes, "relu", seed=seed, dtype=dtype).layers if isinstance(layer, Linear)]
    layers = []
    for l, layer in enumerate(linear[:-1], start=1):
        layers += [layer, ReLU(), Dropout(p, seed=seed + l)]
    return Sequential(*layers, linear[-1])


def dropout_runs(settings=DROPOUT_SETTINGS):
    """Train :func:`dropout_network` with each ``p`` of ``ps``; returns ``{p: History}``.

    The history measures the training and dev accuracy in inference mode
    (nothing dropped), so the two compare.
    """
    s = settings
    X, y, X_dev, y_dev = small_mnist(s["m_train"], s["m_dev"], s["seed"], s["dtype"])
    sizes = (X.shape[1], *s["hidden"], 10)
    histories = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for p in s["ps"]:
            model = dropout_network(sizes, p, seed=s["seed"], dtype=s["dtype"])
            histories[p] = fit(model, X, y, SGD(s["lr"]), epochs=s["epochs"], batch_size=s["batch_size"],
                               X_val=X_dev, y_val=y_dev, seed=s["seed"], progress=False, history_sample=None)
    return histories


# ---------------------------------------------------------------------------
# Early stopping
# ---------------------------------------------------------------------------

#: An MLP ``784 → 256 → 256 → 10`` trained with Adam on ``m_train`` images for at most ``epochs``
#: epochs, stopped after ``patience`` epochs without a new lowest dev cost; float32.
EARLY_STOPPING_SETTINGS = {"m_train": 1000, "m_dev": 500, "sizes": (784, 256, 256, 10), "lr": 0.001, "epochs": 40,
                           "batch_size": 50, "patience": 5, "seed": 0, "dtype": np.float32}


def early_stopping_run(settings=EARLY_STOPPING_SETTINGS):
    """Train with early stopping (``fit(..., patience=…)``, best weights restored); returns ``(model, history)``."""
    s = settings
    X, y, X_dev, y_dev = small_mnist(s["m_train"], s["m_dev"], s["seed"], s["dtype"])
    with threadpool_limits(limits=1, user_api="blas"):
        model = mlp(s["sizes"], "relu", seed=s["seed"], dtype=s["dtype"])
        history = fit(model, X, y, Adam(s["lr"]), epochs=s["epochs"], batch_size=s["batch_size"], X_val=X_dev,
                      y_val=y_dev, seed=s["seed"], progress=False, history_sample=None, patience=s["patience"])
    return model, history


# ---------------------------------------------------------------------------
# Sanity checks
# ---------------------------------------------------------------------------

#: The checks run before a long training: the cost at initialization, a tiny subset learned
#: by heart, the size of the first updates.
SANITY_SETTINGS = {"sizes": (784, 256, 256, 10), "init_seeds": (0, 1, 2, 3, 4), "m_tiny": 50, "tiny_lr": 0.001,
                   "tiny_epochs": 30, "ratio_lr": 0.01, "ratio_steps": 5, "ratio_batch_size": 64, "seed": 0}


def initial_losses(settings=SANITY_SETTINGS):
    """The training cost of freshly initialized networks, one per seed of ``init_seeds``: an array.

    With small random output scores, softmax gives every class about ``1/K`` and
    the cost is about ``log K``; much more means the initial scores are too large.
    """
    s = settings
    X, y, _, _ = small_mnist(3500, 0)
    with threadpool_limits(limits=1, user_api="blas"):
        return np.array([evaluate(mlp(s["sizes"], "relu", seed=seed), X, y)[0] for seed in s["init_seeds"]])


def overfit_tiny_subset(settings=SANITY_SETTINGS):
    """Train on the first ``m_tiny`` training images alone; returns the :class:`~nnbook.train.History`.

    A network that cannot learn 50 images by heart has a bug (or a learning rate
    far off): its training accuracy should reach 100 %.
    """
    s = settings
    X, y, _, _ = small_mnist(s["m_tiny"], 0)
    with threadpool_limits(limits=1, user_api="blas"):
        model = mlp(s["sizes"], "relu", seed=s["seed"])
        return fit(model, X, y, Adam(s["tiny_lr"]), epochs=s["tiny_epochs"], batch_size=s["m_tiny"], seed=s["seed"],
                   progress=False)


def update_ratios(settings=SANITY_SETTINGS, lr=None):
    """``‖ΔW‖ / ‖W‖`` of each layer's weights at the last of ``ratio_steps`` SGD steps of rate ``lr``.

    ``ΔW = −lr · dW`` is the step's update; Frobenius norms. Returns an array
    ``(n_layers,)``, the first layer first. ``lr`` defaults to ``ratio_lr``.
    """
    s = settings
    lr = s["ratio_lr"] if lr is None else lr
    X, y, _, _ = small_mnist(s["ratio_steps"] * s["ratio_batch_size"], 0)
    with threadpool_limits(limits=1, user_api="blas"):
        model = mlp(s["sizes"], "relu", seed=s["seed"])

        class Recorder(SGD):
            def step(self, model):
                self.ratios = [np.linalg.norm(lr * dW) / np.linalg.norm(W)
                               for name, W, dW in model.params_and_grads() if is_penalized(name)]
                super().step(model)

        optimizer = Recorder(lr)
        fit(model, X, y, optimizer, epochs=1, batch_size=s["ratio_batch_size"], seed=s["seed"], progress=False)
    return np.array(optimizer.ratios)
