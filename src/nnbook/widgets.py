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
* :class:`Playground`, MLP chapter: data set, hidden units, activation, learning rate → boundary and cost.

Everything they compute comes from the rest of ``nnbook``.
"""

import base64
import html
import io

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from .activations import ACTIVATIONS, get_activation, network_activations, softmax
from .data import make_blobs, make_circles, make_moons, make_spirals, make_xor
from .gradcheck import numerical_gradient
from .layers import mlp
from .linear_models import Adaline, adaline_gradients, critical_learning_rate
from .optim import SGD
from .perceptron import add_bias_column, convergence_bound, labels_to_signs, perceptron_update, threshold_unit
from .plots import plot_decision_boundary, plot_loss_curves
from .train import fit
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
        bundle["image/png"] = png
        bundle["text/html"] = (
            f'<figure class="nnbook-explorer"><img src="data:image/png;base64,{png}" alt="{alt}" style="max-width: 100%">'
            f'<figcaption class="nnbook-explorer-note">{LIVE_NOTE}</figcaption></figure>'
        )
        return bundle


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


#: The data sets of the playground: name → function (m, seed) → (X, y).
PLAYGROUND_DATA = {
    "moons": lambda m, seed: make_moons(m, noise=0.15, seed=seed),
    "circles": lambda m, seed: make_circles(m, noise=0.08, seed=seed),
    "XOR": lambda m, seed: make_xor(m, noise=0.15, seed=seed),
    "spirals": lambda m, seed: make_spirals(m, noise=0.05, seed=seed),
    "blobs": lambda m, seed: make_blobs(m, margin=0.3, seed=seed),
}

#: The hidden activations the playground offers: those of the registry that a network can use
#: (:func:`nnbook.activations.network_activations`, the ones :func:`nnbook.layers.mlp` accepts).
PLAYGROUND_ACTIVATIONS = network_activations()


class Playground(Explorer):
    """Train a network ``2 → hidden → 2`` on a 2-D data set and watch its decision boundary and cost.

    The network is ``mlp((2, hidden_units, 2), activation)`` trained by
    :func:`nnbook.train.fit` with plain SGD, mini-batches of ``batch_size``, on
    ``m`` points. After each update ``model`` and ``history`` are the trained
    network and its :class:`~nnbook.train.History`, and ``diverged`` tells if the
    cost became infinite or NaN (a learning rate much too large), as the history reports it.
    """

    def __init__(self, dataset="moons", hidden_units=8, activation="tanh", lr=0.3, epochs=100, m=200,
                 batch_size=32, seed=0):
        self.m, self.batch_size, self.seed = m, batch_size, seed
        super().__init__({
            "dataset": widgets.Dropdown(options=list(PLAYGROUND_DATA), value=dataset, description="data"),
            "hidden_units": _slider(widgets.IntSlider, "hidden units", hidden_units, min=1, max=32),
            "activation": widgets.Dropdown(options=PLAYGROUND_ACTIVATIONS, value=activation, description="activation"),
            "lr": _slider(widgets.FloatLogSlider, "learning rate", lr, base=10, min=-3, max=1, step=0.1),
            "epochs": _slider(widgets.IntSlider, "epochs", epochs, min=1, max=300),
        }, figsize=(10, 4))

    def train(self):
        """Train a fresh network with the current settings; sets ``X``, ``y``, ``model``, ``history``, ``diverged``.

        A learning rate much too large makes the cost overflow: :func:`~nnbook.train.fit`
        stops and says so in ``history.diverged``, which ``diverged`` copies.
        """
        self.X, self.y = PLAYGROUND_DATA[self.value("dataset")](self.m, self.seed)
        self.model = mlp((2, self.value("hidden_units"), 2), self.value("activation"), seed=self.seed)
        self.history = fit(self.model, self.X, self.y, SGD(self.value("lr")), epochs=self.value("epochs"),
                           batch_size=self.batch_size, seed=self.seed, progress=False)
        self.diverged = self.history.diverged

    def predict_proba(self, G):
        """``P(class 1 | x)`` for the points ``G : (k, 2)``."""
        self.model.train(False)
        return softmax(self.model.forward(G), axis=1)[:, 1]

    def draw(self):
        self.train()
        ax_boundary, ax_cost = self.figure.subplots(1, 2)
        if self.diverged:
            ax_boundary.scatter(self.X[:, 0], self.X[:, 1], c=self.y, cmap="RdBu", edgecolors="k", s=18)
            ax_boundary.set_title("no boundary: training diverged")
        else:
            plot_decision_boundary(self.predict_proba, self.X, self.y, ax=ax_boundary, resolution=120,
                                   title="P(class 1 | x) after training")
        if self.diverged:
            ax_cost.text(0.5, 0.5, f"the cost overflowed in epoch {self.history.diverged_epoch}:\n"
                         "try a smaller learning rate", ha="center", va="center")
            ax_cost.set_axis_off()
        else:
            plot_loss_curves({"training cost": self.history.loss}, ax=ax_cost, ylabel="softmax cross-entropy",
                             log_scale=True, title="cost per epoch")
        verdict = "training diverged" if self.diverged else f"training accuracy {self.history.accuracy[-1]:.0%}"
        self.figure.suptitle(f"{self.value('dataset')}: 2 → {self.value('hidden_units')} "
                             f"{self.value('activation')} → 2, lr = {self.value('lr'):.3g}, "
                             f"{self.value('epochs')} epochs: {verdict}")
