"""Tests of nnbook/plots.py: each figure draws what it should (Agg backend, no window)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nnbook import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_decision_boundary_colours_by_the_prediction():
    X = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    y = np.array([0, 1, 1])
    calls = []

    def predict(grid):
        calls.append(grid.shape)
        return (grid[:, 0] > 0).astype(int)

    ax = plots.plot_decision_boundary(predict, X, y, resolution=50, title="sign of x1")
    assert calls == [(2500, 2)]
    assert ax.get_title() == "sign of x1"
    assert len(ax.collections) >= 2  # the filled contour and the scatter
    np.testing.assert_allclose(ax.collections[-1].get_offsets(), X)


def test_decision_boundary_rejects_non_2d_inputs():
    with pytest.raises(ValueError, match=r"needs 2-D inputs, X has shape \(3, 3\)"):
        plots.plot_decision_boundary(lambda g: g[:, 0], np.zeros((3, 3)), np.zeros(3))


def test_loss_curves_plots_one_line_per_curve():
    ax = plots.plot_loss_curves({"a": [3, 2, 1], "b": [1, 1]}, log_scale=True)
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [3, 2, 1])
    assert ax.get_yscale() == "log"


def test_digit_grid_shows_each_image_with_its_label():
    images = np.random.default_rng(0).uniform(size=(12, 64))
    fig = plots.plot_digits(images, labels=list(range(12)), n_columns=5)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 12 and len(fig.axes) == 15
    assert shown[7].get_title() == "7"
    assert shown[0].images[0].get_array().shape == (8, 8)


def test_confusion_matrix_writes_every_count():
    C = np.array([[5, 1], [0, 7]])
    ax = plots.plot_confusion_matrix(C, class_names=["no", "yes"])
    assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "5", "7"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["no", "yes"]


def test_confusion_matrix_counts_are_legible_on_its_own_figure():
    """A 10-class matrix on its own figure: 6 inches wide (shown at full size in the book), counts at 10 pt or more."""
    C = np.arange(100).reshape(10, 10)
    ax = plots.plot_confusion_matrix(C)
    assert ax.figure.get_figwidth() >= 6
    assert len(ax.texts) == 100 and min(t.get_fontsize() for t in ax.texts) >= 10


def test_confusion_matrix_counts_fit_their_cells_in_a_panel():
    """In a small panel the counts shrink with the cells, down to 8 pt; ``fontsize`` overrides."""
    fig, axes = plt.subplots(1, 3, figsize=(9, 3))
    C = np.arange(100).reshape(10, 10)
    small = plots.plot_confusion_matrix(C, ax=axes[2])
    sizes = {t.get_fontsize() for t in small.texts}
    assert len(sizes) == 1 and 8 <= sizes.pop() < 10
    assert {t.get_fontsize() for t in plots.plot_confusion_matrix(C, ax=axes[1], fontsize=12).texts} == {12}
