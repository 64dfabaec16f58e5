"""The figures the chapters draw: decision boundaries, loss curves, digit grids, confusion matrices.

Each function draws on a matplotlib ``Axes`` (a new one when ``ax`` is None)
and returns it, so chapters can combine them in subplots and tests can inspect
what was drawn.
"""

import matplotlib.pyplot as plt
import numpy as np

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


def plot_digits(images, labels=None, n_columns=10, image_shape=None, axes_size=0.9):
    """Show images ``(k, h, w)`` or flattened ``(k, h·w)`` (square) in a grid, with their labels as titles.

    Returns the figure.
    """
    images = as_float_array(images, "images")
    if images.ndim == 2:
        side = image_shape or (int(round(np.sqrt(images.shape[1]))),) * 2
        images = images.reshape(-1, *side)
    k = len(images)
    n_rows = int(np.ceil(k / n_columns))
    fig, axes = plt.subplots(n_rows, n_columns, figsize=(axes_size * n_columns, axes_size * n_rows + 0.2 * n_rows))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
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
