"""Interactive explorers for the chapters: move a control, see the algorithm's answer.

Each explorer is a row of ipywidgets controls above a matplotlib figure. A
change of any control calls :meth:`Explorer.update`, which redraws the figure
and puts it, as a PNG, in an ``ipywidgets.Image``. The callbacks are plain
methods, so the tests drive an explorer without a browser: set
``explorer.controls["lr"].value`` (or call ``step()``) and look at the state
and the figure.

In JupyterLab (or Binder, JupyterHub, Colab) an explorer displays as live
widgets. The static HTML book cannot run Python, so an explorer also carries a
static view: the figure for its current settings and a note on how to run it
live (see :meth:`Explorer._repr_mimebundle_`; the book's configuration renders
that view instead of the widgets).

* :class:`LearningRateExplorer`, Adaline chapter: gradient descent with a learning rate of your choice;
* :class:`PerceptronStepper`, perceptron chapter: Rosenblatt's rule one example at a time;
* :class:`ActivationExplorer`, MLP chapter: an activation, its derivative and a tangent;
* :class:`Playground`, MLP chapter: a TensorFlow-Playground-like bench (data, features, layers, activation,
  learning rate, penalty, noise, split, batch size) → the network, its units, its output and its costs.

Everything they compute comes from the rest of ``nnbook``.
"""

import base64
import html
import io
import math

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from .activations import ACTIVATIONS, get_activation, network_activations, softmax
from .data import make_blobs, make_circles, make_moons, make_spirals, make_xor, train_test_split
from .gradcheck import numerical_gradient
from .layers import ActivationLayer, mlp
from .linear_models import Adaline, adaline_gradients, critical_learning_rate
from .optim import SGD
from .perceptron import add_bias_column, convergence_bound, labels_to_signs, perceptron_update, threshold_unit
from .losses import mse
from .plots import plot_decision_boundary, plot_loss_curves, plot_network
from .regularization import L1, L2
from .train import History, fit, training_loop
from .validation import as_float_array, check_ndim, check_rows_match

#: What the static book shows under each explorer's figure.
LIVE_NOTE = (
    "A still image of an interactive explorer, for the settings shown. To move its controls, run the "
    "chapter as a notebook: use the launch button at the top of the page (Binder, JupyterHub or Colab), "
    "or download the <code>.ipynb</code> and open it in JupyterLab, then run the cells."
)

#: Dots per inch of the PNG an explorer shows.
DPI = 80


class Explorer:
    """Controls (a dict name → ipywidgets control) above a figure that :meth:`draw` fills.

    Subclasses implement :meth:`draw`; :meth:`update` clears the figure, calls
    ``draw`` and refreshes ``image``. ``widget`` is the box to display.
    """

    def __init__(self, controls, figsize=(10, 3.8)):
        self.controls = dict(controls)
        self.figure = Figure(figsize=figsize, layout="constrained")
        self.image = widgets.Image(format="png")
        for control in self.controls.values():
            if isinstance(control, widgets.ValueWidget):
                control.observe(self._on_change, names="value")
        row = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([row, self.image])
        self.update()

    def value(self, name):
        """The current value of the control ``name``."""
        return self.controls[name].value

    def _on_change(self, change):
        self.update()

    def update(self):
        """Redraw the figure for the current controls and show it."""
        self.figure.clear()
        self.draw()
        self.image.value = self.png()

    def draw(self):
        raise NotImplementedError(f"{type(self).__name__}.draw")

    def png(self):
        """The figure as PNG bytes."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None):
        """Live widgets for a Jupyter front end, and a static view (PNG, HTML with a note) for everything else."""
        bundle = self.widget._repr_mimebundle_()
        png = base64.b64encode(self.image.value).decode("ascii")
        alt = html.escape(f"{type(self).__name__}: {self.figure.get_suptitle()}")
        caption = html.escape(self.caption()) + " " if self.caption() else ""
        bundle["image/png"] = png
        bundle["text/html"] = (
            f'<figure class="nnbook-explorer"><img src="data:image/png;base64,{png}" alt="{alt}" style="max-width: 100%">'
            f'<figcaption class="nnbook-explorer-note">{caption}{LIVE_NOTE}</figcaption></figure>'
        )
        return bundle

    def caption(self):
        """What the static view says of the figure, before :data:`LIVE_NOTE` (nothing by default)."""
        return ""


def _slider(kind, description, value, **kwargs):
    """A slider that reports its value when released, not while dragged (each update may train a model)."""
    return kind(value=value, description=description, continuous_update=False,
                style={"description_width": "initial"}, **kwargs)


def _one_feature(X, y):
    X = check_ndim(as_float_array(X, "X"), "X", 2)
    check_rows_match(X, y)
    if X.shape[1] != 1:
        raise ValueError(f"the learning-rate explorer draws the cost over (w, b): X must have one feature, got shape {X.shape}")
    return X


class LearningRateExplorer(Explorer):
    """Batch gradient descent on Adaline's cost with the learning rate of the slider.

    ``X : (m, 1)`` (one feature, so that the parameters ``(w, b)`` form a plane),
    ``y : (m,)`` in ``{0, 1}`` or ``{−1, +1}``. Left, the cost per epoch; right,
    the path of ``(w, b)`` on the contours of the cost. The title compares the
    learning rate with the critical one, ``2/λ_max``, above which the path diverges.
    After each update, ``run`` is the fitted :class:`~nnbook.linear_models.Adaline`.
    """

    def __init__(self, X, y, lr=0.1, epochs=25, grid_size=80):
        self.X = _one_feature(X, y)
        self.targets = labels_to_signs(y)
        self.critical_lr = critical_learning_rate(self.X)
        (self.b_min, self.w_min), *_ = np.linalg.lstsq(add_bias_column(self.X), self.targets, rcond=None)
        corners = np.array([[0.0, 0.0], [self.w_min, self.b_min]])
        centre, half = corners.mean(axis=0), np.maximum(np.ptp(corners, axis=0), 0.5)
        self.w_grid, self.b_grid = np.meshgrid(np.linspace(centre[0] - half[0], centre[0] + half[0], grid_size),
                                               np.linspace(centre[1] - half[1], centre[1] + half[1], grid_size))
        cost = np.vectorize(lambda w, b: adaline_gradients(self.X, self.targets, np.array([w]), b)[0])
        self.cost_grid = cost(self.w_grid, self.b_grid)
        super().__init__({
            "lr": _slider(widgets.FloatLogSlider, "learning rate", lr, base=10, min=-3, max=0.5, step=0.05),
            "epochs": _slider(widgets.IntSlider, "epochs", epochs, min=1, max=100),
        })

    def draw(self):
        lr, epochs = self.value("lr"), self.value("epochs")
        self.run = Adaline(lr=lr, epochs=epochs, record_params=True).fit(self.X, self.targets)
        ax_cost, ax_path = self.figure.subplots(1, 2)
        plot_loss_curves({f"lr = {lr:.3g}": self.run.history["step_loss"]}, ax=ax_cost, xlabel="step",
                         log_scale=True, title="cost of each step")
        levels = self.cost_grid.min() + np.geomspace(1e-3, 1, 12) * np.ptp(self.cost_grid)
        ax_path.contour(self.w_grid, self.b_grid, self.cost_grid, levels=levels, colors="0.6", linewidths=0.7)
        path = np.array([[p["w"][0], p["b"]] for p in self.run.history["params"]])
        ax_path.plot(path[:, 0], path[:, 1], "o-", ms=3, lw=1, color="C0", label="gradient descent")
        ax_path.plot(self.w_min, self.b_min, "k*", ms=12, label="minimum")
        ax_path.set(xlim=(self.w_grid.min(), self.w_grid.max()), ylim=(self.b_grid.min(), self.b_grid.max()),
                    xlabel="$w$", ylabel="$b$", title="path of $(w, b)$")
        ax_path.legend(loc="lower left", fontsize=8)
        verdict = "diverges" if lr > self.critical_lr else "converges"
        self.figure.suptitle(f"lr = {lr:.3g}, critical 2/λmax = {self.critical_lr:.3g}: gradient descent {verdict}"
                             + (" (stopped: the cost blew up)" if self.run.diverged else ""))


class PerceptronStepper(Explorer):
    """Rosenblatt's rule, one example at a time, on 2-D data ``X : (m, 2)`` with labels ``y`` in ``{0, 1}`` or ``{−1, +1}``.

    The examples are visited epoch after epoch in the order ``Perceptron(seed=seed)``
    draws, so running the stepper to the end gives the weights of
    ``Perceptron(lr, seed=seed).fit(X, y)``. Buttons: one example, on to the next
    update, to the end of the epoch, reset. ``separator`` (optional, ``(n_x + 1,)``
    with the bias first) is a known separating ``w*``: the right panel then shows
    the convergence bound ``4R²/γ²`` next to the count of updates.

    State: ``w`` (bias first), ``epoch``, ``position`` (examples seen in this
    epoch), ``updates`` (total), ``last`` (index of the last example seen and
    whether it caused an update), ``converged`` (an epoch passed with no update).
    """

    def __init__(self, X, y, lr=1.0, seed=0, separator=None):
        X = check_ndim(as_float_array(X, "X"), "X", 2)
        check_rows_match(X, y)
        if X.shape[1] != 2:
            raise ValueError(f"the perceptron stepper draws the plane: X must have 2 features, got shape {X.shape}")
        self.X, self.y, self.lr, self.seed = X, np.asarray(y), lr, seed
        self.X1, self.signs = add_bias_column(X), labels_to_signs(y)
        self.bound = None if separator is None else convergence_bound(self.X1, self.signs, separator)
        buttons = {
            "step": widgets.Button(description="next example"),
            "update": widgets.Button(description="next update"),
            "epoch": widgets.Button(description="end of epoch"),
            "reset": widgets.Button(description="reset"),
        }
        actions = {"step": self.step, "update": self.next_update, "epoch": self.run_epoch, "reset": self.reset}
        for name, button in buttons.items():
            button.on_click(self._redraw_after(actions[name]))
        self._restart()
        super().__init__(buttons, figsize=(10, 4))

    def _redraw_after(self, action):
        """A button's callback: run ``action``, then redraw."""
        def on_click(_button):
            action()
            self.update()
        return on_click

    def _restart(self):
        self.rng = np.random.default_rng(self.seed)
        self.w = np.zeros(self.X1.shape[1])
        self.epoch, self.position, self.updates = 1, 0, 0
        self.updates_in_epoch, self.converged, self.last = 0, False, None
        self.order = self.rng.permutation(len(self.X1))
        self.counts = [0]

    def reset(self):
        """Back to ``w = 0`` before the first example."""
        self._restart()

    def step(self):
        """Apply the rule to the next example; returns True if it changed ``w``."""
        if self.converged:
            return False
        i = self.order[self.position]
        new_w = perceptron_update(self.w, self.X1[i], self.signs[i], self.lr)
        updated = not np.array_equal(new_w, self.w)
        self.w, self.last = new_w, (int(i), updated)
        self.updates += updated
        self.updates_in_epoch += updated
        self.counts.append(self.updates)
        self.position += 1
        if self.position == len(self.order):
            self.converged = self.updates_in_epoch == 0
            if not self.converged:
                self.epoch, self.position, self.updates_in_epoch = self.epoch + 1, 0, 0
                self.order = self.rng.permutation(len(self.X1))
        return updated

    def next_update(self):
        """Step until an example causes an update, or until the rule has converged."""
        while not self.converged and not self.step():
            pass

    def run_epoch(self):
        """Step to the end of the current epoch."""
        epoch = self.epoch
        while not self.converged and self.epoch == epoch:
            self.step()

    def draw(self):
        ax_data, ax_count = self.figure.subplots(1, 2, width_ratios=(1.1, 1))
        if np.any(self.w[1:]):
            plot_decision_boundary(lambda G: threshold_unit(G, self.w[1:], self.w[0]), self.X, self.y, ax=ax_data)
        else:
            plot_decision_boundary(lambda G: np.zeros(len(G)), self.X, self.y, ax=ax_data)
        if self.last is not None:
            i, updated = self.last
            ax_data.scatter(*self.X[i], s=220, facecolors="none", linewidths=2.5,
                            edgecolors="gold" if updated else "0.4")
        w = ", ".join(f"{v:.2f}" for v in self.w)
        ax_data.set_title(f"w = ({w})  (bias first)", fontsize=9)
        ax_count.plot(self.counts, color="C0", label="updates so far")
        top = 1.3 * self.updates + 1
        if self.bound is not None and self.bound <= 3 * top:
            ax_count.axhline(self.bound, color="C3", ls="--", label=f"bound 4R²/γ² = {self.bound:.0f}")
            top = 1.1 * self.bound
        elif self.bound is not None:
            ax_count.text(0.03, 0.95, f"the bound 4R²/γ² = {self.bound:.0f} is off the chart", fontsize=8,
                          transform=ax_count.transAxes, va="top")
        ax_count.set(xlabel="examples seen", ylabel="updates", ylim=(0, top), xlim=(0, max(len(self.counts) - 1, 1)),
                     title="updates made by the rule")
        ax_count.legend(loc="lower right", fontsize=8)
        ax_count.grid(alpha=0.3)
        if self.last is None:
            status = "w = 0: press a button to show the rule an example"
        elif self.converged:
            status = f"converged: epoch {self.epoch} made no update; {self.updates} updates in all"
        else:
            i, updated = self.last
            verdict = "misclassified → update" if updated else "classified correctly → no change"
            status = f"epoch {self.epoch}, example {i}: {verdict}; {self.updates} updates so far"
        self.figure.suptitle(status)


class ActivationExplorer(Explorer):
    """An activation ``g`` of :data:`nnbook.activations.ACTIVATIONS`, its derivative ``g'``, and the tangent at ``z0``.

    The title compares ``g'(z0)`` with a central-difference slope of ``g`` at
    ``z0``; ``slopes`` holds both after each update.
    """

    def __init__(self, name="sigmoid", z0=1.0, z_range=(-5.0, 5.0)):
        self.z = np.linspace(*z_range, 1001)
        super().__init__({
            "name": widgets.Dropdown(options=sorted(ACTIVATIONS), value=name, description="activation"),
            "z0": _slider(widgets.FloatSlider, "z0", z0, min=z_range[0], max=z_range[1], step=0.1),
        })

    def draw(self):
        activation, z0 = get_activation(self.value("name")), self.value("z0")
        at = np.array([z0])
        numeric = numerical_gradient(lambda: float(activation.function(at)[0]), at)[0]
        analytic = float(activation.derivative(at)[0])
        self.slopes = {"analytic": analytic, "numerical": numeric}
        g, dg = activation.function(self.z), activation.derivative(self.z)
        ax_g, ax_dg = self.figure.subplots(1, 2)
        ax_g.plot(self.z, g, color="C0", label=f"$g(z)$ = {activation.name}")
        ax_g.plot(self.z, activation.function(at)[0] + analytic * (self.z - z0), color="C3", lw=1, ls="--",
                  label=f"tangent at $z_0$, slope {analytic:.3g}")
        ax_g.plot(z0, activation.function(at)[0], "o", color="C3")
        ax_g.set_ylim(g.min() - 0.5 - 0.1 * np.ptp(g), g.max() + 0.5 + 0.1 * np.ptp(g))
        ax_dg.plot(self.z, dg, color="C1", label="$g'(z)$")
        ax_dg.plot(z0, analytic, "o", color="C3")
        ax_dg.axhline(dg.max(), color="0.5", lw=0.8, ls=":", label=f"max $g'$ = {dg.max():.3g}")
        for ax, title in ((ax_g, "the activation"), (ax_dg, "its derivative")):
            ax.set(xlabel="$z$", title=title)
            ax.grid(alpha=0.3)
            ax.legend(loc="upper left", fontsize=8)
        self.figure.suptitle(f"{activation.name} at z0 = {z0:.2f}: g'(z0) = {analytic:.4f}, "
                             f"central difference {numeric:.4f}")


# ---------------------------------------------------------------------------
# The playground
# ---------------------------------------------------------------------------


def _jitter(X, noise, seed):
    """``X`` plus Gaussian noise of standard deviation ``noise`` (a generator of its own, seeded by ``seed``)."""
    if noise == 0:
        return X
    return X + noise * np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1]).normal(size=X.shape)


def make_plane(m=200, noise=0.1, seed=0):
    """A regression set: ``X : (m, 2)`` uniform on ``[−2, 2]²``, ``y = (x₁ + 2 x₂)/3 + noise · N(0, 1)``, ``(m,)``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(m, 2))
    return X, (X[:, 0] + 2 * X[:, 1]) / 3 + noise * rng.normal(size=m)


def make_bumps(m=200, noise=0.05, seed=0):
    """A regression set: ``X : (m, 2)`` uniform on ``[−2, 2]²`` and two Gaussian bumps of opposite signs,

    ``y = exp(−‖x − a‖²) − exp(−‖x + a‖²) + noise · N(0, 1)`` with ``a = (1, 1)``, ``(m,)``.
    """
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(m, 2))
    a = np.array([1.0, 1.0])
    f = np.exp(-np.sum((X - a) ** 2, axis=1)) - np.exp(-np.sum((X + a) ** 2, axis=1))
    return X, f + noise * rng.normal(size=m)


#: The playground's data sets: name → (problem, function (m, noise, seed) → (X, y), default noise).
#: Classification labels are 0 and 1; regression targets are real numbers.
PLAYGROUND_DATASETS = {
    "moons": ("classification", lambda m, noise, seed: make_moons(m, noise=noise, seed=seed), 0.15),
    "circles": ("classification", lambda m, noise, seed: make_circles(m, noise=noise, seed=seed), 0.08),
    "XOR": ("classification", lambda m, noise, seed: make_xor(m, noise=noise, seed=seed), 0.15),
    "spirals": ("classification", lambda m, noise, seed: make_spirals(m, noise=noise, seed=seed), 0.05),
    "blobs": ("classification",
              lambda m, noise, seed: (lambda X, y: (_jitter(X, noise, seed), y))(*make_blobs(m, margin=0.3, seed=seed)),
              0.0),
    "plane": ("regression", make_plane, 0.1),
    "bumps": ("regression", make_bumps, 0.05),
}

#: The classification sets with their default noise: name → function (m, seed) → (X, y).
PLAYGROUND_DATA = {name: (lambda m, seed, make=make, noise=noise: make(m, noise, seed))
                   for name, (problem, make, noise) in PLAYGROUND_DATASETS.items() if problem == "classification"}

#: The problems the playground solves, each with its data sets.
PLAYGROUND_PROBLEMS = {problem: [name for name, (kind, _, _) in PLAYGROUND_DATASETS.items() if kind == problem]
                       for problem in ("classification", "regression")}

#: The hidden activations the playground offers: those of the registry that a network can use
#: (:func:`nnbook.activations.network_activations`, the ones :func:`nnbook.layers.mlp` accepts).
PLAYGROUND_ACTIVATIONS = network_activations()

#: The input features: name → (label, function of ``X : (m, 2)`` giving a column ``(m,)``).
PLAYGROUND_FEATURES = {
    "x1": ("x₁", lambda X: X[:, 0]),
    "x2": ("x₂", lambda X: X[:, 1]),
    "x1^2": ("x₁²", lambda X: X[:, 0] ** 2),
    "x2^2": ("x₂²", lambda X: X[:, 1] ** 2),
    "x1x2": ("x₁x₂", lambda X: X[:, 0] * X[:, 1]),
    "sin x1": ("sin x₁", lambda X: np.sin(X[:, 0])),
    "sin x2": ("sin x₂", lambda X: np.sin(X[:, 1])),
}

#: The penalties on the weights the playground offers (:mod:`nnbook.regularization`).
PLAYGROUND_PENALTIES = {"none": None, "L1": L1, "L2": L2}

#: At most this many hidden layers, of at most this many units each.
MAX_HIDDEN_LAYERS, MAX_UNITS = 6, 8


def _feature_name(name):
    """The key of :data:`PLAYGROUND_FEATURES` for a key or a label (``"x1^2"`` or ``"x₁²"``)."""
    for key, (label, _) in PLAYGROUND_FEATURES.items():
        if name in (key, label):
            return key
    raise ValueError(f"unknown input feature {name!r}; choose among {list(PLAYGROUND_FEATURES)}")


def playground_features(X, names):
    """The columns the playground's network reads: ``X : (m, 2)`` → ``(m, k)``, one per name, in the order given.

    ``names`` are keys (or labels) of :data:`PLAYGROUND_FEATURES`: ``x1``, ``x2``,
    ``x1^2``, ``x2^2``, ``x1x2``, ``sin x1``, ``sin x2``; at least one.
    """
    X = check_ndim(as_float_array(X, "X"), "X", 2)
    if X.shape[1] != 2:
        raise ValueError(f"the playground's points are in the plane: X must have shape (m, 2), got {X.shape}")
    names = [_feature_name(name) for name in names]
    if not names:
        raise ValueError("the network needs at least one input feature: choose one or more of "
                         + ", ".join(label for label, _ in PLAYGROUND_FEATURES.values()))
    return np.column_stack([PLAYGROUND_FEATURES[name][1](X) for name in names])


def _check_hidden_layers(hidden_layers):
    layers = tuple(hidden_layers)
    if len(layers) > MAX_HIDDEN_LAYERS or not all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) and 1 <= n <= MAX_UNITS for n in layers):
        raise ValueError(f"hidden_layers must be a tuple of at most {MAX_HIDDEN_LAYERS} widths, each an integer "
                         f"from 1 to {MAX_UNITS} (e.g. (8, 8)), got {hidden_layers!r}")
    return layers


def _check_in_range(controls, requested):
    """Raise ``ValueError`` if a slider clipped the value asked for (ipywidgets clips silently)."""
    for name, value in requested.items():
        control = controls[name]
        if value is None:
            continue
        low, high = control.min, control.max
        if isinstance(control, widgets.FloatLogSlider):
            low, high = control.base**low, control.base**high
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not low - 1e-12 <= value <= high + 1e-12:
            raise ValueError(f"{name} must be a number from {low:g} to {high:g} (the range of its slider), "
                             f"got {value!r}")


def _minmax(values):
    """``values`` mapped linearly onto ``[−1, 1]`` (0 where they are constant): the scale of a node's heatmap."""
    low, high = values.min(), values.max()
    return np.zeros_like(values) if high - low < 1e-12 else 2 * (values - low) / (high - low) - 1


class Playground(Explorer):
    """A network ``features → hidden layers → output`` trained on a set of the plane, drawn as it learns.

    In the manner of the TensorFlow Playground: a data set (classification: moons,
    circles, XOR, spirals, blobs; regression: plane, bumps) with its ``noise``,
    split into training and test points (``train_fraction``); input features
    among :data:`PLAYGROUND_FEATURES`; up to six hidden layers of up to eight
    units (``hidden_layers``, e.g. ``(8, 8)``; ``hidden_units=N`` is ``(N,)``);
    an activation; a learning rate; a penalty ``regularization`` (``"none"``,
    ``"L1"``, ``"L2"`` of :mod:`nnbook.regularization`, with rate ``reg_rate`` = λ
    and ``m`` the number of training points); a mini-batch size and a number of epochs.

    Classification trains ``mlp((k, …, 2))`` with softmax cross-entropy through
    :func:`nnbook.train.fit`; regression trains ``mlp((k, …, 1))`` on the cost
    ``1/(2m) Σ (ŷ − y)²`` of :func:`nnbook.losses.mse` through
    :func:`nnbook.train.training_loop`, with plain SGD in both. The epochs run in
    ``frames`` chunks; when a control moves, the picture is redrawn after each
    chunk, so the curves and surfaces grow while it trains.

    The figure: the network, its edges as wide as ``|w|`` (blue ``w > 0``, orange
    ``w < 0``) and in each node a heatmap of what the unit computes over the
    plane; the output over the plane (``P(class 1 | x)`` or the predicted value)
    with the training points (circles) and test points (triangles); the training
    and test cost per epoch. After each update: ``X``, ``y`` (all the points),
    ``split``, ``model``, ``history`` (with ``val_loss`` the test cost),
    ``diverged``, and ``message`` (why nothing was trained, or ``None``).
    """

    def __init__(self, dataset="moons", hidden_layers=None, activation="tanh", lr=0.03, epochs=100, *,
                 features=("x1", "x2"), regularization="none", reg_rate=0.001, noise=None, train_fraction=0.5,
                 batch_size=10, problem=None, m=200, seed=0, frames=3, hidden_units=None):
        if dataset not in PLAYGROUND_DATASETS:
            raise ValueError(f"unknown data set {dataset!r}; choose one of {list(PLAYGROUND_DATASETS)}")
        kind, _, default_noise = PLAYGROUND_DATASETS[dataset]
        if problem is not None and problem != kind:
            raise ValueError(f"{dataset!r} is a {kind} data set, not {problem}; its problem type is {kind!r}")
        if hidden_units is not None and hidden_layers is not None:
            raise ValueError("give hidden_layers (the widths of the hidden layers) or hidden_units (one layer), not both")
        if hidden_units is not None:
            hidden_layers = (hidden_units,)
        hidden = _check_hidden_layers((4, 2) if hidden_layers is None else hidden_layers)
        chosen = [_feature_name(name) for name in features]
        playground_features(np.zeros((1, 2)), chosen)  # at least one feature
        if activation not in PLAYGROUND_ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {PLAYGROUND_ACTIVATIONS}")
        if regularization not in PLAYGROUND_PENALTIES:
            raise ValueError(f"regularization must be one of {list(PLAYGROUND_PENALTIES)}, got {regularization!r}")
        if not (isinstance(frames, (int, np.integer)) and frames >= 1):
            raise ValueError(f"frames must be an integer ≥ 1, got {frames!r}")
        self.m, self.seed, self.frames = m, seed, int(frames)
        self.message, self._live, self._holding = None, False, False
        slider = {"style": {"description_width": "initial"}, "continuous_update": False}
        controls = {
            "problem": widgets.Dropdown(options=list(PLAYGROUND_PROBLEMS), value=kind, description="problem"),
            "dataset": widgets.Dropdown(options=PLAYGROUND_PROBLEMS[kind], value=dataset, description="data"),
            "noise": widgets.FloatSlider(value=default_noise if noise is None else noise, min=0, max=0.5, step=0.01,
                                         description="noise", **slider),
            "train_fraction": widgets.FloatSlider(value=train_fraction, min=0.1, max=0.9, step=0.1,
                                                  description="training share", readout_format=".0%", **slider),
            "batch_size": widgets.IntSlider(value=batch_size, min=1, max=100, description="batch size", **slider),
        }
        for name, (label, _) in PLAYGROUND_FEATURES.items():
            controls[f"feature {name}"] = widgets.Checkbox(value=name in chosen, description=label, indent=False,
                                                           layout=widgets.Layout(width="auto"))
        controls["layers"] = widgets.IntSlider(value=len(hidden), min=0, max=MAX_HIDDEN_LAYERS,
                                               description="hidden layers", **slider)
        for i in range(1, MAX_HIDDEN_LAYERS + 1):
            controls[f"units {i}"] = widgets.IntSlider(value=hidden[i - 1] if i <= len(hidden) else 4, min=1,
                                                       max=MAX_UNITS, description=f"units in layer {i}",
                                                       layout=widgets.Layout(width="220px"), **slider)
        controls.update({
            "activation": widgets.Dropdown(options=PLAYGROUND_ACTIVATIONS, value=activation, description="activation"),
            "lr": widgets.FloatLogSlider(value=lr, base=10, min=-3, max=1, step=0.1, description="learning rate",
                                         readout_format=".3g", **slider),
            "regularization": widgets.Dropdown(options=list(PLAYGROUND_PENALTIES), value=regularization,
                                               description="regularization"),
            "reg_rate": widgets.FloatLogSlider(value=reg_rate, base=10, min=-4, max=1, step=0.1, description="λ",
                                               readout_format=".3g", **slider),
            "epochs": widgets.IntSlider(value=epochs, min=1, max=500, description="epochs", **slider),
        })
        _check_in_range(controls, {"noise": noise, "train_fraction": train_fraction, "batch_size": batch_size,
                                   "lr": lr, "reg_rate": reg_rate, "epochs": epochs})
        super().__init__(controls, figsize=(12.5, 4.6))
        self._show_layer_controls()
        wrap = widgets.Layout(flex_flow="row wrap", align_items="center")
        rows = [
            ["problem", "dataset", "noise", "train_fraction", "batch_size"],
            [name for name in self.controls if name.startswith("feature ")],
            ["layers"] + [f"units {i}" for i in range(1, MAX_HIDDEN_LAYERS + 1)],
            ["activation", "lr", "regularization", "reg_rate", "epochs"],
        ]
        boxes = [widgets.HBox([self.controls[name] for name in row], layout=wrap) for row in rows]
        boxes[1].children = (widgets.Label("input features:"),) + boxes[1].children
        self.widget = widgets.VBox(boxes + [self.image])

    # -- the settings --------------------------------------------------------

    @property
    def features(self):
        """The names of the checked input features, in the order of :data:`PLAYGROUND_FEATURES`."""
        return [name for name in PLAYGROUND_FEATURES if self.value(f"feature {name}")]

    @property
    def hidden_layers(self):
        """The widths of the hidden layers, ``()`` for none."""
        return tuple(self.value(f"units {i}") for i in range(1, self.value("layers") + 1))

    @property
    def problem(self):
        return self.value("problem")

    def _show_layer_controls(self):
        for i in range(1, MAX_HIDDEN_LAYERS + 1):
            self.controls[f"units {i}"].layout.display = None if i <= self.value("layers") else "none"

    def _on_change(self, change):
        if self._holding:
            return
        if change["owner"] is self.controls["problem"]:
            self._holding = True  # one redraw for the new problem, not one per control it changes
            try:
                self.controls["dataset"].options = PLAYGROUND_PROBLEMS[change["new"]]
                self.controls["dataset"].value = PLAYGROUND_PROBLEMS[change["new"]][0]
            finally:
                self._holding = False
        self._show_layer_controls()
        self._live = True
        try:
            self.update()
        finally:
            self._live = False

    # -- training ------------------------------------------------------------

    def data(self):
        """The points of the current data set and noise, ``X : (m, 2)`` and ``y : (m,)``, and their split."""
        _, make, _ = PLAYGROUND_DATASETS[self.value("dataset")]
        X, y = make(self.m, self.value("noise"), self.seed)
        split = train_test_split(X, y, test_fraction=round(1 - self.value("train_fraction"), 6), seed=self.seed,
                                 stratify=self.problem == "classification")
        return X, y, split

    def penalty(self):
        """The penalty of the controls, an :class:`~nnbook.regularization.L1` or ``L2`` of rate λ, or ``None``."""
        kind = PLAYGROUND_PENALTIES[self.value("regularization")]
        return None if kind is None else kind(self.value("reg_rate"))

    def _chunks(self):
        """The numbers of epochs trained between two pictures: ``epochs`` cut into ``frames`` near-equal parts."""
        return [len(part) for part in np.array_split(np.arange(self.value("epochs")), self.frames) if len(part)]

    def train(self, on_frame=None):
        """Train a fresh network with the current settings; ``on_frame()`` is called between chunks of epochs.

        Sets ``X``, ``y``, ``split``, ``inputs`` (the features of the training and
        test points), ``model``, ``history``, ``diverged``.
        """
        self.X, self.y, self.split = self.data()
        features = self.features
        self.inputs = (playground_features(self.split.X_train, features), playground_features(self.split.X_test, features))
        n_out = 2 if self.problem == "classification" else 1
        self.model = mlp((len(features), *self.hidden_layers, n_out), self.value("activation"), seed=self.seed)
        self.history = History()
        if self.problem == "classification":
            self._train_classifier(on_frame)
        else:
            self._train_regression(on_frame)
        self.diverged = self.history.diverged

    def _train_classifier(self, on_frame):
        """Softmax cross-entropy through :func:`nnbook.train.fit`, chunk after chunk, on the same network."""
        (F_train, F_test), split, done = self.inputs, self.split, 0
        chunks = self._chunks()
        for k, epochs in enumerate(chunks):
            part = fit(self.model, F_train, split.y_train, SGD(self.value("lr")), epochs=epochs,
                       batch_size=self.value("batch_size"), X_val=F_test, y_val=split.y_test, seed=self.seed + k,
                       progress=False, penalty=self.penalty())
            for name in ("loss", "accuracy", "val_loss", "val_accuracy"):  # index 0 of a chunk repeats the last epoch
                getattr(self.history, name).extend(getattr(part, name)[0 if k == 0 else 1:])
            self.history.step_loss.extend(part.step_loss)
            if part.diverged:
                self.history.diverged, self.history.diverged_epoch = True, done + part.diverged_epoch
                return
            done += epochs
            if on_frame is not None and k < len(chunks) - 1:
                on_frame()

    def _train_regression(self, on_frame):
        """The cost ``1/(2m) Σ (ŷ − y)²`` (:func:`nnbook.losses.mse`) through :func:`nnbook.train.training_loop`."""
        (F_train, F_test), split, model = self.inputs, self.split, self.model
        Y_train, Y_test = split.y_train[:, None], split.y_test[:, None]
        m_train, penalty, optimizer = len(F_train), self.penalty(), SGD(self.value("lr"))
        frame_epochs = set(np.cumsum(self._chunks())[:-1].tolist())

        def cost(F, Y):
            Y_hat = model.forward(F)
            return mse(Y_hat, Y) if np.all(np.isfinite(Y_hat)) else (math.inf, None)

        def step(batch):
            model.train(True)
            J, dY_hat = cost(F_train[batch], Y_train[batch])
            if not math.isfinite(J):
                return J  # the loop stops before any update
            model.backward(dY_hat)
            if penalty is not None:
                J += penalty.cost(model, m_train)
                penalty.add_gradients(model, m_train)
            return J

        def record():
            model.train(False)
            J, _ = cost(F_train, Y_train)
            self.history.loss.append(J)
            self.history.val_loss.append(cost(F_test, Y_test)[0])
            if on_frame is not None and len(self.history.loss) - 1 in frame_epochs:
                on_frame()
            return J

        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            training_loop(step, lambda: optimizer.step(model), m_train, self.value("epochs"),
                          self.value("batch_size"), np.random.default_rng(self.seed), record, self.history)

    # -- what the network computes -------------------------------------------

    def output(self, G):
        """The network's answer at the points ``G : (k, 2)``: ``P(class 1 | x)`` or the predicted value, ``(k,)``."""
        return self.unit_outputs(G)[-1][:, -1]

    def predict_proba(self, G):
        """``P(class 1 | x)`` for the points ``G : (k, 2)`` (classification)."""
        return self.output(G)

    def unit_outputs(self, G):
        """What every unit computes at the points ``G : (k, 2)``: one array per layer, inputs first.

        ``(k, n_features)`` for the input features, ``(k, n^[l])`` for each hidden
        layer (after its activation), and for the output ``(k, 2)``, the
        probabilities of classes 0 and 1 (softmax of the scores), or ``(k, 1)``, the predicted value.
        """
        a = playground_features(G, self.features)
        outputs = [a]
        self.model.train(False)
        for index, layer in enumerate(self.model.layers):
            a = layer.forward(a)
            if isinstance(layer, ActivationLayer):
                outputs.append(a)
        outputs.append(softmax(a, axis=1) if self.problem == "classification" else a)
        return outputs

    # -- the figure ----------------------------------------------------------

    def _grid(self, resolution):
        """A ``resolution × resolution`` grid over the points (with a margin): ``(G : (r², 2), extent)``."""
        low, high = self.X.min(axis=0) - 0.5, self.X.max(axis=0) + 0.5
        xx, yy = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
        return np.column_stack([xx.ravel(), yy.ravel()]), (low[0], high[0], low[1], high[1])

    def _show_frame(self):
        self.figure.clear()
        self._draw_figure()
        self.image.value = self.png()

    def draw(self):
        self.message = None
        if not self.features:
            self.message = ("no input feature: the network needs at least one; tick x₁, x₂, x₁², x₂², x₁x₂, "
                            "sin x₁ or sin x₂")
            self.model = self.history = None
            self.figure.text(0.5, 0.5, self.message, ha="center", va="center", fontsize=12, color="C3")
            self.figure.suptitle("choose at least one input feature")
            return
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            self.train(on_frame=self._show_frame if self._live else None)
            self._draw_figure()

    def _draw_figure(self):
        ax_net, ax_out, ax_cost = self.figure.subplots(1, 3, width_ratios=(1.5, 1, 1))
        classification = self.problem == "classification"
        weights = [W for name, W, _ in self.model.params_and_grads() if name.endswith(".W")]
        labels = [PLAYGROUND_FEATURES[name][0] for name in self.features]
        ok = not self.history.diverged
        if ok:
            G, extent = self._grid(24)
            node_images = [[_minmax(a[:, j]).reshape(24, 24) for j in range(a.shape[1])] for a in self.unit_outputs(G)]
        else:
            weights, node_images = [np.nan_to_num(W, nan=0.0, posinf=0.0, neginf=0.0) for W in weights], None
        plot_network(weights, node_images=node_images, labels=labels, ax=ax_net, max_width=3.5,
                     title="the network: |w| as width, blue w > 0, orange w < 0")
        ax_net.title.set_fontsize(9)
        split = self.split
        G, extent = self._grid(90)
        if classification:
            norm = {"vmin": 0.0, "vmax": 1.0}
        else:
            top = np.max(np.abs(self.y)) or 1.0
            norm = {"vmin": -top, "vmax": top}
        if ok:
            surface = self.output(G).reshape(90, 90)
            ax_out.imshow(surface, extent=extent, origin="lower", cmap="RdBu", alpha=0.55, aspect="auto", **norm)
            if classification:
                ax_out.contour(surface, levels=[0.5], extent=extent, colors="k", linewidths=1)
        for X, y, marker, label in ((split.X_train, split.y_train, "o", "training"), (split.X_test, split.y_test, "^", "test")):
            ax_out.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu", marker=marker, edgecolors="k" if marker == "o" else "0.5",
                           s=18, linewidths=0.6, label=f"{label} ({len(X)})", **norm)
        ax_out.set(xlim=extent[:2], ylim=extent[2:], xlabel="$x_1$", ylabel="$x_2$")
        what = "P(class 1 | x)" if classification else "predicted value"
        ax_out.set_title(what if ok else f"no {what}: training diverged", fontsize=9)
        ax_out.legend(loc="lower left", fontsize=7, framealpha=0.7)
        cost_name = "softmax cross-entropy" if classification else "½ mean squared error"
        if ok:
            plot_loss_curves({"training": self.history.loss, "test": self.history.val_loss}, ax=ax_cost,
                             ylabel=cost_name, log_scale=True)
            ax_cost.set_xlim(0, self.value("epochs"))
            ax_cost.yaxis.set_minor_formatter(NullFormatter())
            ax_cost.set_title("cost per epoch (without the penalty)", fontsize=9)
        else:
            ax_cost.text(0.5, 0.5, f"the cost overflowed in epoch {self.history.diverged_epoch}:\n"
                         "try a smaller learning rate", ha="center", va="center")
            ax_cost.set_axis_off()
        self.figure.suptitle(self.summary(), fontsize=10)

    def summary(self):
        """One line: the data, the network, the training, and where it got to."""
        hidden = " → ".join(str(n) for n in self.hidden_layers)
        network = (f"{len(self.features)} → {hidden} {self.value('activation')} → " if hidden
                   else f"{len(self.features)} → ") + ("2" if self.problem == "classification" else "1")
        penalty = "" if self.value("regularization") == "none" else \
            f", {self.value('regularization')} λ = {self.value('reg_rate'):.3g}"
        epochs = len(self.history.loss) - 1
        head = f"{self.value('dataset')}: {network}, lr = {self.value('lr'):.3g}{penalty}"
        if self.history.diverged:
            return f"{head}: training diverged in epoch {self.history.diverged_epoch}"
        result = f"test cost {self.history.val_loss[-1]:.3f}"
        if self.problem == "classification":
            result += f", test accuracy {self.history.val_accuracy[-1]:.0%}"
        return f"{head}, epoch {epochs}: training cost {self.history.loss[-1]:.3f}, {result}"

    def caption(self):
        features = ", ".join(PLAYGROUND_FEATURES[name][0] for name in self.features) or "none"
        return (f"The playground on the {self.value('dataset')} data ({self.problem}, noise "
                f"{self.value('noise'):.2f}, {self.value('train_fraction'):.0%} of the points for training), "
                f"input features {features}. Left, the network: each node's heatmap is what the unit computes "
                "over the plane, each edge as wide as its weight. Middle, the output with the training points "
                "(circles) and the test points (triangles). Right, the training and test costs per epoch.")
