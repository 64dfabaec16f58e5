"""Width and depth: how much a network of ReLU units can represent for its number of units.

A function computed by ReLU units is piecewise linear. On a line, a network with
one hidden layer of ``N`` units has at most ``N + 1`` linear pieces: each unit
adds at most one kink. A deep network composes its layers, and compositions
multiply pieces: the *tent map* ``t(x) = 2 ReLU(x) − 4 ReLU(x − ½)`` folds
``[0, 1]`` onto itself, and composed ``L`` times it is a sawtooth with ``2^L``
pieces, computed with 2 units per layer, ``2L`` units in all (Telgarsky 2016;
chapter *Multi-layer perceptrons*, ``book/mlp.md``). One hidden layer needs
``2^L − 1`` units for as many pieces.

* :func:`tent` and :func:`sawtooth`: the functions, by their formulas;
* :func:`sawtooth_network`: the same sawtooth as an MLP of :mod:`nnbook.layers`;
* :func:`count_linear_pieces`: the pieces of a piecewise-linear function, counted on a grid;
* :func:`train_widths` (:data:`WIDTH_SETTINGS`): networks ``2 → N → 2`` of several widths
  trained on a data set of the playground, for their decision boundaries.
"""

from typing import NamedTuple

import numpy as np

from .layers import Linear, ReLU, Sequential, mlp
from .optim import SGD
from .train import fit


def tent(x):
    """The tent map ``t(x) = 2 ReLU(x) − 4 ReLU(x − ½)``: ``2x`` on ``[0, ½]``, ``2 − 2x`` on ``[½, 1]``."""
    x = np.asarray(x, dtype=np.float64)
    return 2.0 * np.maximum(0.0, x) - 4.0 * np.maximum(0.0, x - 0.5)


def sawtooth(x, L):
    """The tent map composed ``L`` times, ``t(t(⋯ t(x)))``: ``2^{L−1}`` teeth, ``2^L`` linear pieces on ``[0, 1]``."""
    x = np.asarray(x, dtype=np.float64)
    for _ in range(L):
        x = tent(x)
    return x


def sawtooth_network(L):
    """An MLP ``1 → 2 → 2 → ⋯ → 2 → 1`` with ``L`` hidden layers of 2 ReLU units that computes :func:`sawtooth`.

    Hidden layer 1 computes ``(ReLU(x), ReLU(x − ½))``. The tent is ``2 h_1 − 4 h_2``,
    and the next layer needs ``(ReLU(t), ReLU(t − ½))``: the two affine maps merge into one,
    ``W = [[2, −4], [2, −4]]``, ``b = (0, −½)``. The output layer is ``(2, −4)``.
    Returns a :class:`~nnbook.layers.Sequential` with ``2L`` hidden units, for inputs ``(m, 1)``.
    """
    if L < 1:
        raise ValueError(f"the sawtooth network needs L ≥ 1 hidden layers, got {L}")
    weights = [(np.array([[1.0], [1.0]]), np.array([0.0, -0.5]))]
    weights += [(np.array([[2.0, -4.0], [2.0, -4.0]]), np.array([0.0, -0.5]))] * (L - 1)
    layers = []
    for W, b in weights:
        linear = Linear(W.shape[1], W.shape[0])
        linear.params["W"][...], linear.params["b"][...] = W, b
        layers += [linear, ReLU()]
    output = Linear(2, 1)
    output.params["W"][...], output.params["b"][...] = np.array([[2.0, -4.0]]), np.array([0.0])
    return Sequential(*layers, output)


def count_linear_pieces(x, values, tol=1e-9):
    """The number of linear pieces of a continuous piecewise-linear function sampled at ``x : (n,)`` (increasing).

    The slope between neighbouring samples changes at each kink. A kink on a grid
    point changes the slope once; a kink strictly between two grid points gives
    that interval an in-between slope, two changes in a row: so each *run* of
    consecutive slope changes counts as one kink. The count is exact when
    kinks are at least two grid steps apart. ``tol`` is relative to the largest slope.
    """
    x, values = np.asarray(x, dtype=np.float64), np.asarray(values, dtype=np.float64)
    slopes = np.diff(values) / np.diff(x)
    scale = max(1.0, np.abs(slopes).max())
    changes = np.abs(np.diff(slopes)) > tol * scale          # (n − 2,)
    runs = np.count_nonzero(changes[1:] & ~changes[:-1]) + int(changes[0]) if len(changes) else 0
    return runs + 1


def shallow_units_needed(pieces):
    """The fewest ReLU units one hidden layer needs for ``pieces`` linear pieces on a line: ``pieces − 1``."""
    return pieces - 1


# ---------------------------------------------------------------------------
# Decision boundaries against width
# ---------------------------------------------------------------------------

#: Networks ``2 → N → 2`` of the widths ``widths``, trained like the playground's on one of its data sets.
WIDTH_SETTINGS = {
    "dataset": "spirals",
    "widths": (1, 2, 4, 8, 32),
    "activation": "relu",
    "lr": 0.3,
    "epochs": 300,
    "batch_size": 32,
    "m": 200,
    "seed": 0,
}


class WidthRun(NamedTuple):
    """What :func:`train_widths` returns: the data, and for each width its network and its history."""

    X: np.ndarray
    y: np.ndarray
    models: dict
    histories: dict


def train_widths(settings=WIDTH_SETTINGS):
    """Train ``mlp((2, N, 2), activation)`` for each ``N`` of ``widths`` on the playground's ``dataset``.

    The data are those of :data:`nnbook.widgets.PLAYGROUND_DATA` (``m`` points, ``seed``),
    and each network is trained as the playground trains it: plain SGD, the same
    learning rate, mini-batch size, number of epochs and seeds for every width.
    """
    from .widgets import PLAYGROUND_DATA  # not at the top: the widgets module loads ipywidgets

    s = settings
    X, y = PLAYGROUND_DATA[s["dataset"]](s["m"], s["seed"])
    models, histories = {}, {}
    for width in s["widths"]:
        model = mlp((2, width, 2), s["activation"], seed=s["seed"])
        histories[width] = fit(model, X, y, SGD(lr=s["lr"]), epochs=s["epochs"], batch_size=s["batch_size"],
                               seed=s["seed"], progress=False)
        models[width] = model
    return WidthRun(X, y, models, histories)

