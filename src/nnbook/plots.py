"""The figures the chapters draw: decision boundaries, loss curves, digit grids, confusion matrices,
weight images, histograms of oriented gradients, computation graphs and network diagrams.

Each function draws on a matplotlib ``Axes`` (a new one when ``ax`` is None)
and returns it, so chapters can combine them in subplots and tests can inspect
what was drawn.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .validation import as_float_array, check_ndim


def _axes(ax, figsize=(4.5, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_decision_boundary(predict, X, y, ax=None, resolution=200, padding=0.5, title=None):
    """Colour the plane by ``predict`` and scatter the 2-D points ``X : (m, 2)`` coloured by ``y``.

    ``predict`` maps an ``(k, 2)`` array to ``k`` labels or scores; the boundary
    is where the predicted label changes.
    """
    X = check_ndim(as_float_array(X, "X"), "X", 2)
    if X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D inputs, X has shape {X.shape}")
    ax = _axes(ax)
    (x_min, y_min), (x_max, y_max) = X.min(axis=0) - padding, X.max(axis=0) + padding
    xx, yy = np.meshgrid(np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution))
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    zz = np.asarray(predict(grid), dtype=float).reshape(xx.shape)
    ax.contourf(xx, yy, zz, levels=20 if len(np.unique(zz)) > 10 else None, cmap="RdBu", alpha=0.35)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu", edgecolors="k", s=18)
    ax.set(xlim=(x_min, x_max), ylim=(y_min, y_max), xlabel="$x_1$", ylabel="$x_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_loss_curves(curves, ax=None, xlabel="epoch", ylabel="cost $J$", log_scale=False, title=None):
    """Plot several named curves, ``{"label": values}``, against their index."""
    ax = _axes(ax, (5.5, 3.5))
    for label, values in curves.items():
        ax.plot(np.arange(len(values)), values, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if log_scale:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def _image_grid(k, n_columns, axes_size):
    """A figure with a grid of ``⌈k / n_columns⌉ × n_columns`` axes of ``axes_size`` inches, axes off; ``(fig, axes)``."""
    n_rows = int(np.ceil(k / n_columns))
    fig, axes = plt.subplots(n_rows, n_columns, figsize=(axes_size * n_columns, axes_size * n_rows + 0.2 * n_rows))
    axes = np.atleast_1d(axes).ravel()
    for ax in axes:
        ax.axis("off")
    return fig, axes


def plot_digits(images, labels=None, n_columns=10, image_shape=None, axes_size=0.9):
    """Show images ``(k, h, w)`` or flattened ``(k, h·w)`` (square) in a grid, with their labels as titles.

    Returns the figure.
    """
    images = as_float_array(images, "images")
    if images.ndim == 2:
        side = image_shape or (int(round(np.sqrt(images.shape[1]))),) * 2
        images = images.reshape(-1, *side)
    k = len(images)
    fig, axes = _image_grid(k, n_columns, axes_size)
    for i, ax in enumerate(axes):
        if i < k:
            ax.imshow(images[i], cmap="gray_r")
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=9)
    fig.tight_layout()
    return fig


def count_fontsize(ax, K, fraction=0.4, smallest=8.0, largest=14.0):
    """A font size (points) for the counts of a ``K × K`` matrix drawn on ``ax``: ``fraction`` of a cell's side, clipped."""
    box = ax.get_position()
    width, height = ax.figure.get_size_inches()
    cell = 72.0 * min(box.width * width, box.height * height) / K  # the side of a cell, in points
    return float(np.clip(fraction * cell, smallest, largest))


def plot_confusion_matrix(C, ax=None, class_names=None, title=None, fontsize=None):
    """Draw the confusion matrix ``C : (K, K)`` (rows: true class, columns: predicted) with its counts.

    On its own figure (``ax`` None) of 6 × 6 inches, which the book shows at full size; the
    counts are written at ``fontsize`` points, by default as large as a cell allows
    (:func:`count_fontsize`), so that they stay legible in a figure of several panels too.
    """
    C = np.asarray(C)
    ax = _axes(ax, (6, 6))
    ax.imshow(C, cmap="Blues")
    K = C.shape[0]
    names = class_names if class_names is not None else [str(k) for k in range(K)]
    ax.set(xticks=range(K), yticks=range(K), xticklabels=names, yticklabels=names,
           xlabel="predicted class", ylabel="true class")
    size = fontsize if fontsize is not None else count_fontsize(ax, K)
    threshold = C.max() / 2
    for i in range(K):
        for j in range(K):
            ax.text(j, i, str(C[i, j]), ha="center", va="center", fontsize=size,
                    color="white" if C[i, j] > threshold else "black")
    if title:
        ax.set_title(title)
    return ax


def plot_weight_images(W, image_shape=(28, 28), n_columns=8, labels=None, axes_size=1.0):
    """Draw each row of ``W : (k, h·w)`` as an ``h × w`` image, with a colour scale centred on 0. Returns the figure.

    A unit computes ``w · x + b``: where its weight is positive (blue) ink raises
    its score, where it is negative (red) ink lowers it. Each image has its own
    scale, symmetric about zero, so that white is always a weight of 0.
    """
    W = check_ndim(as_float_array(W, "W"), "W", 2)
    if W.shape[1] != int(np.prod(image_shape)):
        raise ValueError(f"rows of W have {W.shape[1]} entries, images of shape {image_shape} need {int(np.prod(image_shape))}")
    k = len(W)
    fig, axes = _image_grid(k, n_columns, axes_size)
    for i, ax in enumerate(axes):
        if i < k:
            limit = np.abs(W[i]).max() or 1.0
            ax.imshow(W[i].reshape(image_shape), cmap="RdBu", vmin=-limit, vmax=limit)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=8)
    fig.tight_layout()
    return fig


def plot_hog(image, histograms, ax=None, title=None):
    """Draw ``image : (H, W)`` with its histograms of oriented gradients ``histograms : (rows, cols, bins)`` on top.

    In each cell, bin ``k`` (gradients at angles ``[k, k + 1) · 180°/bins``) is drawn as a
    segment through the cell's centre, as long as the bin's share of the largest bin of
    the image, and oriented *across* its gradients, along the edge that produced them.
    ``histograms`` is what :func:`nnbook.features.hog_features` returns for one image;
    cells of ``H // rows`` pixels. One segment per bin with a non-zero count.
    """
    image = check_ndim(as_float_array(image, "image"), "image", 2)
    histograms = check_ndim(as_float_array(histograms, "histograms"), "histograms", 3)
    rows, cols, bins = histograms.shape
    cell = image.shape[0] // rows
    ax = _axes(ax, (4, 4))
    ax.imshow(image, cmap="gray_r", alpha=0.45)
    largest = histograms.max() or 1.0
    centres = (np.arange(bins) + 0.5) * np.pi / bins                 # the angle of each bin's centre
    for r in range(rows):
        for c in range(cols):
            y0, x0 = (r + 0.5) * cell - 0.5, (c + 0.5) * cell - 0.5
            for k in np.flatnonzero(histograms[r, c]):
                half = 0.48 * cell * histograms[r, c, k] / largest
                # an edge runs perpendicular to its gradient (angle + 90°); rows grow downwards, like gy
                dx, dy = half * np.cos(centres[k] + np.pi / 2), half * np.sin(centres[k] + np.pi / 2)
                ax.plot([x0 - dx, x0 + dx], [y0 - dy, y0 + dy], color="crimson", lw=1.5, solid_capstyle="round")
    for position in np.arange(1, rows) * cell - 0.5:
        ax.axhline(position, color="0.6", lw=0.5)
    for position in np.arange(1, cols) * cell - 0.5:
        ax.axvline(position, color="0.6", lw=0.5)
    ax.set(xticks=[], yticks=[], xlim=(-0.5, image.shape[1] - 0.5), ylim=(image.shape[0] - 0.5, -0.5))
    if title:
        ax.set_title(title)
    return ax


#: Symbols for the operations of :class:`nnbook.autodiff.Tensor` in :func:`plot_graph`.
OPERATION_SYMBOLS = {"+": "+", "*": "×", "@": "@", "max": "max", "T": "transpose"}


def graph_layout(nodes, edges):
    """Positions ``{id(node): (column, row)}`` for drawing a computation graph from left (inputs) to right (output).

    The output (the last of ``nodes``, a topological order) sits in the column of its
    longest path from an input; every other node sits one column left of the first
    node that uses it, as close to its use as it can be. Within a column, nodes start
    in the order of a breadth-first walk from the output (left operands first), then
    are ordered by the mean row of their neighbours, a few sweeps back and forth,
    which keeps most edges short and uncrossed.
    """
    children = {id(node): [] for node in nodes}
    for parent, child in edges:
        children[id(parent)].append(child)
    longest = {}
    for node in nodes:                                   # topological order: parents first
        longest[id(node)] = 1 + max((longest[id(parent)] for parent in node._parents), default=-1)
    column = {}
    for node in reversed(nodes):                         # users first
        users = [column[id(child)] for child in children[id(node)]]
        column[id(node)] = min(users) - 1 if users else longest[id(node)]
    shift = min(column.values())
    # a first order within each column: breadth first from the output, left operand first, so
    # that ``(a + b) * c`` puts a above b above c
    rank, queue = {id(nodes[-1]): 0}, [nodes[-1]]
    for node in queue:
        for parent in node._parents:
            if id(parent) not in rank:
                rank[id(parent)] = len(rank)
                queue.append(parent)
    columns = {}
    for node in sorted(nodes, key=lambda node: rank[id(node)]):
        columns.setdefault(column[id(node)] - shift, []).append(node)
    row = {}
    for members in columns.values():
        for k, node in enumerate(members):
            row[id(node)] = k - (len(members) - 1) / 2
    neighbours = {id(node): [] for node in nodes}
    for parent, child in edges:
        neighbours[id(parent)].append(child)
        neighbours[id(child)].append(parent)
    order = sorted(columns)
    for sweep in range(4):
        for c in (order if sweep % 2 == 0 else order[::-1]):
            members = columns[c]
            key = {id(node): np.mean([row[id(n)] for n in neighbours[id(node)]]) if neighbours[id(node)] else 0.0
                   for node in members}
            members.sort(key=lambda node: key[id(node)])
            for k, node in enumerate(members):
                row[id(node)] = k - (len(members) - 1) / 2
    return {id(node): (column[id(node)] - shift, row[id(node)]) for node in nodes}


def _node_label(node, names):
    name = names.get(node)
    operation = OPERATION_SYMBOLS.get(node.op, node.op)
    if name and operation:
        head = f"{name} ({operation})"
    else:
        head = name or operation or ("input" if node.requires_grad else "constant")
    value = f"{float(node.data):.4g}" if node.data.size == 1 else f"shape {node.shape}"
    return f"{head}\n{value}"


def plot_graph(output, names=None, ax=None, show_grad=True, title=None):
    """Draw the computation graph of the :class:`~nnbook.autodiff.Tensor` ``output``: one box per node, one arrow per edge.

    The graph is read from the engine (:func:`nnbook.autodiff.trace`), as micrograd
    draws its own; nothing is typed by hand. Each box shows the node's name (from
    ``names``, a dict ``{tensor: "w"}``) or its operation, and its value (its shape
    for an array); with ``show_grad``, the gradient ``∂output/∂node`` held in ``grad``
    after ``output.backward()`` is written in red under the box. Inputs are blue,
    constants grey, operations orange. An operation that uses the same node twice
    (``b * b``) gets two curved arrows from it, one per path of the chain rule.
    """
    from .autodiff import trace

    names = names or {}
    nodes, edges = trace(output)
    where = graph_layout(nodes, edges)
    n_columns = 1 + max(c for c, _ in where.values())
    n_rows = 1 + max(r for _, r in where.values()) - min(r for _, r in where.values())
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 1.55 * n_columns), max(2.0, 1.0 * n_rows + 0.6)))
    width, height, dx, dy = 1.05, 0.55, 1.55, 1.0       # box size and spacing, in data units
    centre = {key: (dx * c, -dy * r) for key, (c, r) in where.items()}
    for node in nodes:
        x, y = centre[id(node)]
        if node._parents:
            colour = "#fde9c9"
        else:
            colour = "#dbe9f6" if node.requires_grad else "#e6e6e6"
        ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    fc=colour, ec="k", lw=0.8))
        ax.text(x, y, _node_label(node, names), ha="center", va="center", fontsize=8.5)
        if show_grad and node.requires_grad:
            gradient = f"{float(node.grad):.4g}" if node.grad.size == 1 else f"shape {node.grad.shape}"
            ax.text(x, y - height / 2 - 0.06, gradient, ha="center", va="top", fontsize=8, color="crimson")
    seen = {}
    for parent, child in edges:
        pair = (id(parent), id(child))
        copies = sum(1 for p, c in edges if (id(p), id(c)) == pair)
        k = seen[pair] = seen.get(pair, -1) + 1
        bend = 0.0 if copies == 1 else 0.7 * (k - (copies - 1) / 2)
        (x0, y0), (x1, y1) = centre[id(parent)], centre[id(child)]
        ax.add_patch(FancyArrowPatch((x0 + width / 2, y0), (x1 - width / 2, y1), arrowstyle="-|>", mutation_scale=10,
                                     connectionstyle=f"arc3,rad={bend}", color="0.35", lw=1.0))
    xs = [x for x, _ in centre.values()]
    ys = [y for _, y in centre.values()]
    ax.set(xlim=(min(xs) - width / 2 - 0.1, max(xs) + width / 2 + 0.1), ylim=(min(ys) - height / 2 - 0.45, max(ys) + height / 2 + 0.15))
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_paths_on_contours(f, paths, xlim, ylim, ax=None, levels=20, resolution=200, minimum=None, title=None,
                           marker_size=2.0):
    """Draw the contour lines of ``f`` on the rectangle ``xlim × ylim`` and, on top, the paths of optimizers.

    ``f`` maps points ``(k, 2)`` to values ``(k,)``; ``levels`` is a number of
    contour lines or their values (geometric values suit a function that spans
    several orders of magnitude). ``paths`` is a dict ``{"label": array (T + 1, 2)}``,
    row ``t`` the point after ``t`` steps: each path is a line through its points
    (dots of ``marker_size`` points; 0 for none), ending in a cross; the starting
    points are black dots and ``minimum``, if given, a star.
    """
    checked = {}
    for label, path in paths.items():
        path = check_ndim(as_float_array(path, f"paths[{label!r}]"), f"paths[{label!r}]", 2)
        if path.shape[1] != 2:
            raise ValueError(f"paths[{label!r}] must have shape (T + 1, 2), got {path.shape}")
        checked[label] = path
    ax = _axes(ax, (5.5, 4.5))
    xx, yy = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    zz = np.asarray(f(np.column_stack([xx.ravel(), yy.ravel()])), dtype=float).reshape(xx.shape)
    ax.contour(xx, yy, zz, levels=levels, colors="0.6", linewidths=0.6)
    for k, (label, path) in enumerate(checked.items()):
        colour = f"C{k}"
        ax.plot(path[:, 0], path[:, 1], "-o" if marker_size else "-", color=colour, lw=1.0, ms=marker_size, label=label)
        ax.plot(path[-1, 0], path[-1, 1], "x", color=colour, ms=8, mew=2)
    starts = np.unique(np.array([path[0] for path in checked.values()]), axis=0) if checked else np.empty((0, 2))
    ax.plot(starts[:, 0], starts[:, 1], "o", color="k", ms=6, label="start")
    if minimum is not None:
        ax.plot(*np.asarray(minimum, dtype=float), "*", color="gold", mec="k", ms=14, label="minimum")
    ax.set(xlim=xlim, ylim=ylim, xlabel="$x_1$", ylabel="$x_2$")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_activation_grid(names, z=None, n_columns=5, axes_size=(2.7, 2.2)):
    """One panel per activation of :data:`nnbook.activations.ACTIVATIONS`: ``g(z)`` (solid) and ``g'(z)`` (dashed).

    ``names`` lists registry names; ``z`` the points to draw (401 points on ``[−4, 4]``
    by default). Returns the figure.
    """
    from .activations import get_activation

    z = np.linspace(-4, 4, 401) if z is None else as_float_array(z, "z")
    n_rows = int(np.ceil(len(names) / n_columns))
    fig, axes = plt.subplots(n_rows, n_columns, figsize=(axes_size[0] * n_columns, axes_size[1] * n_rows),
                             squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        activation = get_activation(name)
        ax.axhline(0, color="0.8", lw=0.8)
        ax.axvline(0, color="0.8", lw=0.8)
        ax.plot(z, activation.function(z), color="C0", label="$g(z)$")
        ax.plot(z, activation.derivative(z), color="C3", ls="--", label="$g'(z)$")
        ax.set_title(name, fontsize=10)
        ax.tick_params(labelsize=8)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_layer_histograms(samples, ax=None, bins=60, value_range=None, title=None, xlabel=None, drop_zeros=False):
    """Histograms of one set of values per layer, stacked upwards (layer 1 at the bottom), on a shared axis.

    ``samples`` is a list of 1-D arrays, one per layer. Each histogram is scaled to
    the same height, so the shapes compare and not the counts. ``value_range`` is
    ``(low, high)``; by default it reaches out to the largest ``|value|`` of all
    layers' 99.9th percentiles, on both sides of 0 or, when no value is negative,
    on the positive side only. Values outside the range are counted in the end bins.
    ``drop_zeros=True`` leaves out the values that are exactly 0 (the half of a ReLU
    layer's outputs that would dwarf the rest). Returns the axes.
    """
    ax = _axes(ax, (4, 4.5))
    samples = [np.asarray(values, dtype=float).ravel() for values in samples]
    if drop_zeros:
        samples = [values[values != 0] for values in samples]
    if value_range is None:
        nonempty = [values for values in samples if values.size]
        largest = max((float(np.percentile(np.abs(values), 99.9)) for values in nonempty), default=0.0) or 1.0
        negative = any(values.min() < 0 for values in nonempty)
        value_range = (-largest if negative else 0.0, largest)
    edges = np.linspace(*value_range, bins + 1)
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(samples)))
    for layer, (values, colour) in enumerate(zip(samples, colours)):
        counts, _ = np.histogram(np.clip(values, *value_range), bins=edges)
        height = 0.9 * counts / max(counts.max(), 1)
        ax.fill_between(edges, layer, layer + np.append(height, height[-1]), step="post", color=colour, alpha=0.8, lw=0)
    ax.set(xlim=value_range, ylim=(0, len(samples)), yticks=np.arange(len(samples)) + 0.4,
           yticklabels=[str(layer + 1) for layer in range(len(samples))], ylabel="layer")
    if xlabel:
        ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_std_per_layer(measured, predicted=None, ax=None, ylabel="standard deviation", title=None):
    """Standard deviations against the layer, log scale: ``measured`` as dots, ``predicted`` as lines of the same colour.

    Both are dicts ``{label: array of shape (depth,)}`` (``predicted`` may be None or
    miss some labels); layer ``l`` is index ``l − 1``. Returns the axes.
    """
    ax = _axes(ax, (5, 3.8))
    predicted = predicted or {}
    for k, (label, values) in enumerate(measured.items()):
        layers = np.arange(1, len(values) + 1)
        ax.plot(layers, values, "o", color=f"C{k}", ms=4, label=label)
        if label in predicted:
            ax.plot(layers, predicted[label], "-", color=f"C{k}", lw=1.2, alpha=0.8)
    ax.set_yscale("log")
    ax.set(xlabel="layer $l$", ylabel=ylabel)
    ax.grid(alpha=0.3, which="major")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return ax


def network_layout(sizes):
    """Positions of the units of a network with layer widths ``sizes = (n^[0], n^[1], …, n^[L])``.

    Returns one ``(n^[l], 2)`` array of ``(column, row)`` per layer: layer ``l`` in
    column ``l``, its units one apart and centred on row 0, the first on top.
    """
    return [np.column_stack([np.full(n, float(l)), (n - 1) / 2 - np.arange(n)]) for l, n in enumerate(sizes)]


def plot_network(weights, node_images=None, labels=None, ax=None, max_width=4.0, node_size=0.7, title=None):
    """Draw a fully connected network: one node per unit, one edge per weight, width ∝ ``|w|``, colour by sign.

    ``weights`` lists the weight matrices ``W^[l] : (n^[l], n^[l−1])`` from the
    first layer to the last (the convention of :class:`nnbook.layers.Linear`).
    The edge from unit ``k`` of layer ``l − 1`` to unit ``j`` of layer ``l`` has
    the width ``max_width · |W^[l]_jk| / max |w|`` (the largest over the whole
    network, so widths compare across layers) and is blue for ``w > 0``, orange
    for ``w < 0``. ``node_images``, if given, holds per layer (inputs first) a
    list of 2-D arrays scaled to ``[−1, 1]``, drawn as small heatmaps in the
    nodes (what each unit computes over the input plane); otherwise nodes are
    dots. ``labels`` names the input units. The edges are ``ax.collections[0]``.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgba_array
    from matplotlib.patches import Rectangle

    weights = [check_ndim(as_float_array(W, f"weights[{l}]"), f"weights[{l}]", 2) for l, W in enumerate(weights)]
    if not weights:
        raise ValueError("plot_network needs at least one weight matrix")
    sizes = [weights[0].shape[1]] + [W.shape[0] for W in weights]
    for l, W in enumerate(weights):
        if W.shape[1] != sizes[l]:
            raise ValueError(f"weights[{l}] has shape {W.shape}: it should take the {sizes[l]} units of the layer before")
    ax = _axes(ax, (1.3 * len(sizes), 0.8 * max(sizes) + 1))
    positions = network_layout(sizes)
    segments, values = [], []
    for l, W in enumerate(weights):
        for j, k in np.ndindex(W.shape):
            segments.append([positions[l][k], positions[l + 1][j]])
            values.append(W[j, k])
    values = np.asarray(values)
    largest = np.max(np.abs(values)) if values.size and np.any(values) else 1.0
    edges = LineCollection(segments, linewidths=max_width * np.abs(values) / largest,
                           colors=np.where(values[:, None] > 0, to_rgba_array("C0"), to_rgba_array("C1")),
                           alpha=0.8, zorder=1)
    ax.add_collection(edges)
    half = node_size / 2
    for l, points in enumerate(positions):
        images = node_images[l] if node_images is not None else None
        for j, (x, y) in enumerate(points):
            if images is not None:
                ax.imshow(images[j], extent=(x - half, x + half, y - half, y + half), origin="lower", cmap="RdBu",
                          vmin=-1, vmax=1, zorder=2, interpolation="bilinear")
                ax.add_patch(Rectangle((x - half, y - half), node_size, node_size, fill=False, lw=0.8, zorder=3))
            else:
                ax.plot(x, y, "o", ms=10, color="0.3", zorder=2)
    if labels is not None:
        for (x, y), label in zip(positions[0], labels):
            ax.text(x - half - 0.08, y, label, ha="right", va="center", fontsize=9)
    top = (max(sizes) - 1) / 2 + half + 0.1
    ax.set(xlim=(-half - (0.9 if labels is not None else 0.1), len(sizes) - 1 + half + 0.1), ylim=(-top, top),
           aspect="equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
