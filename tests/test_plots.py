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


# ---- weight images, histograms of oriented gradients, computation graphs -------------------------


def test_weight_images_show_each_row_with_a_scale_centred_on_zero():
    W = np.random.default_rng(0).normal(size=(5, 16))
    fig = plots.plot_weight_images(W, image_shape=(4, 4), n_columns=3, labels=list("abcde"))
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5 and len(fig.axes) == 6
    image = shown[2].images[0]
    np.testing.assert_allclose(image.get_array(), W[2].reshape(4, 4))
    low, high = image.get_clim()
    assert low == -high == -np.abs(W[2]).max() and shown[2].get_title() == "c"
    with pytest.raises(ValueError, match="need 9"):
        plots.plot_weight_images(W, image_shape=(3, 3))


def test_hog_drawing_has_one_segment_per_non_empty_bin_across_the_gradient():
    image = np.zeros((16, 16))
    histograms = np.zeros((2, 2, 9))
    histograms[0, 0, 0] = 4.0        # gradients at 0°-20°: a vertical edge, drawn as an almost vertical segment
    histograms[1, 1, 4] = 2.0        # gradients near 90°: a horizontal edge
    histograms[1, 1, 2] = 1.0
    ax = plots.plot_hog(image, histograms, title="HOG")
    segments = [line for line in ax.get_lines() if line.get_color() == "crimson"]
    assert len(segments) == 3 and ax.get_title() == "HOG"
    (x0, x1), (y0, y1) = segments[0].get_xdata(), segments[0].get_ydata()
    assert abs(y1 - y0) > 5 * abs(x1 - x0)                                     # vertical
    assert np.hypot(x1 - x0, y1 - y0) == pytest.approx(2 * 0.48 * 8)           # the largest bin: the longest
    (x0, x1), (y0, y1) = segments[2].get_xdata(), segments[2].get_ydata()   # cell (1, 1), bin 4 after bin 2
    assert abs(x1 - x0) > 5 * abs(y1 - y0)                                     # horizontal


def drawn_graph(output, **kwargs):
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    ax = plots.plot_graph(output, **kwargs)
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    return ax, boxes, arrows


def test_graph_drawing_has_one_box_per_node_and_one_arrow_per_edge():
    from nnbook.autodiff import Tensor, trace

    w, x, b = Tensor(2.0), Tensor(-1.0), Tensor(1.0)
    u = w * x
    z = u + b
    loss = 0.5 * (z.sigmoid() - 1.0) ** 2
    loss.backward()
    nodes, edges = trace(loss)
    ax, boxes, arrows = drawn_graph(loss, names={w: "w", x: "x", b: "b", u: "u", z: "z"})
    assert len(boxes) == len(nodes) and len(arrows) == len(edges)
    # w x, u + b, sigmoid, the constant −1 times 1.0, the sum, the power, 0.5 times it: 7 operations, 6 constants and inputs...
    assert len(nodes) == 13 and len(edges) == 12
    texts = [t.get_text() for t in ax.texts]
    assert "w\n2" in texts and "u (×)\n-2" in texts and "z (+)\n-1" in texts
    assert f"{float(w.grad):.4g}" in texts                                  # the gradient under w's box
    # every arrow goes from left to right: an operation is drawn right of its operands
    for arrow in arrows:
        (x0, _), (x1, _) = arrow._posA_posB
        assert x1 > x0


def test_graph_drawing_gives_an_operand_used_twice_two_arrows():
    from nnbook.autodiff import Tensor

    a = Tensor(3.0)
    b = a + a
    c = b * b
    c.backward()
    ax, boxes, arrows = drawn_graph(c, names={a: "a", b: "b", c: "c"})
    assert len(boxes) == 3 and len(arrows) == 4
    bends = sorted(arrow.get_connectionstyle().rad for arrow in arrows)
    assert bends == [-0.35, -0.35, 0.35, 0.35]                              # two curved arrows per pair
    assert {"24", "12", "1"} <= {t.get_text() for t in ax.texts}               # dc/da = 8a, dc/db = 2b, dc/dc


def test_graph_drawing_without_gradients_and_with_arrays():
    from nnbook.autodiff import Tensor

    X, W = Tensor(np.ones((4, 3))), Tensor(np.ones((2, 3)))
    out = (X @ W.T).relu().sum()
    ax, boxes, arrows = drawn_graph(out, show_grad=False, title="a layer")
    assert len(boxes) == 6 and len(arrows) == 5 and ax.get_title() == "a layer"   # X, W, W.T, @, relu, sum
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 6 and "input\nshape (4, 3)" in texts and "relu\nshape (4, 2)" in texts


def test_paths_on_contours_draw_the_levels_each_path_its_start_and_the_minimum():
    f = lambda P: P[:, 0] ** 2 + 4 * P[:, 1] ** 2  # noqa: E731
    paths = {"gd": np.array([[1.0, 1.0], [0.5, -0.5], [0.2, 0.1]]), "other": np.array([[1.0, 1.0], [0.0, 0.0]])}
    ax = plots.plot_paths_on_contours(f, paths, (-2, 2), (-1.5, 1.5), levels=[0.5, 1.0, 2.0], minimum=(0, 0),
                                      title="a bowl")
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["gd"].get_xydata(), paths["gd"])
    np.testing.assert_allclose(lines["other"].get_xydata(), paths["other"])
    np.testing.assert_allclose(lines["start"].get_xydata(), [[1.0, 1.0]])   # one dot for the shared start
    np.testing.assert_allclose(lines["minimum"].get_xydata(), [[0.0, 0.0]])
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert [tuple(c.get_xydata()[0]) for c in crosses] == [(0.2, 0.1), (0.0, 0.0)]  # each path ends in a cross
    contour = next(c for c in ax.collections if hasattr(c, "levels"))
    np.testing.assert_allclose(contour.levels, [0.5, 1.0, 2.0])
    assert ax.get_title() == "a bowl" and ax.get_xlim() == (-2, 2) and ax.get_ylim() == (-1.5, 1.5)


def test_paths_on_contours_without_dots():
    ax = plots.plot_paths_on_contours(lambda P: P[:, 0] ** 2, {"p": np.array([[1.0, 0.0], [0.5, 0.0]])}, (-1, 1),
                                      (-1, 1), marker_size=0)
    assert next(line for line in ax.get_lines() if line.get_label() == "p").get_marker() == "None"


def test_paths_on_contours_reject_a_path_that_is_not_in_the_plane():
    with pytest.raises(ValueError, match=r"paths\['bad'\] must have shape \(T \+ 1, 2\), got \(3, 3\)"):
        plots.plot_paths_on_contours(lambda P: P[:, 0], {"bad": np.zeros((3, 3))}, (0, 1), (0, 1))


def test_activation_grid_draws_each_function_and_its_derivative():
    from nnbook.activations import get_activation

    names = ["sigmoid", "relu", "arctan"]
    z = np.linspace(-3, 3, 61)
    fig = plots.plot_activation_grid(names, z=z, n_columns=2)
    axes = fig.axes
    assert len(axes) == 4 and not axes[3].axison  # the unused panel is switched off
    for ax, name in zip(axes, names):
        assert ax.get_title() == name
        g, dg = [line for line in ax.get_lines() if len(line.get_xdata()) == len(z)]
        np.testing.assert_allclose(g.get_ydata(), get_activation(name).function(z))
        np.testing.assert_allclose(dg.get_ydata(), get_activation(name).derivative(z))


def test_layer_histograms_stack_one_histogram_per_layer_on_a_shared_range():
    rng = np.random.default_rng(0)
    samples = [rng.standard_normal(1000) * scale for scale in (1.0, 0.5, 0.1)]
    ax = plots.plot_layer_histograms(samples, bins=20, title="activations")
    assert len(ax.collections) == 3 and ax.get_title() == "activations"
    assert ax.get_ylim() == (0, 3)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2", "3"]
    low, high = ax.get_xlim()
    assert low == -high and high == pytest.approx(np.percentile(np.abs(samples[0]), 99.9))
    for layer, band in enumerate(ax.collections):  # each histogram sits in its own band, scaled to 0.9
        ys = band.get_paths()[0].vertices[:, 1]
        assert ys.min() == pytest.approx(layer) and ys.max() == pytest.approx(layer + 0.9)
    ax = plots.plot_layer_histograms([np.zeros(10), np.ones(10)], value_range=(-2, 2))
    assert ax.get_xlim() == (-2, 2)


def test_layer_histograms_of_relu_outputs_can_leave_out_the_zeros():
    values = np.concatenate([np.zeros(900), np.linspace(0.1, 2.0, 100)])  # nine zeros for each positive value
    kept = plots.plot_layer_histograms([values], bins=10, drop_zeros=True)
    assert kept.get_xlim() == (0.0, pytest.approx(np.percentile(values[values > 0], 99.9)))  # no negative side
    heights = kept.collections[0].get_paths()[0].vertices[:, 1]
    assert heights.max() == pytest.approx(0.9)
    band = plots.plot_layer_histograms([values], bins=10)
    top = band.collections[0].get_paths()[0].vertices[:, 1]
    assert np.sort(np.unique(np.round(top, 6)))[-2] < 0.2  # with the zeros, the positive values are squashed flat


def test_std_per_layer_draws_dots_for_measurements_and_lines_for_predictions():
    measured = {"a": np.array([1.0, 0.5, 0.25]), "b": np.array([1.0, 2.0, 4.0])}
    ax = plots.plot_std_per_layer(measured, {"a": np.array([1.0, 0.5, 0.25])}, title="std")
    lines = ax.get_lines()
    assert [line.get_linestyle() for line in lines] == ["None", "-", "None"]
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines[2].get_ydata(), [1.0, 2.0, 4.0])
    assert ax.get_yscale() == "log" and ax.get_title() == "std"
    assert lines[0].get_color() == lines[1].get_color()


def test_network_layout_centres_each_layer_one_column_apart():
    positions = plots.network_layout((2, 3, 1))
    np.testing.assert_allclose(positions[0], [[0, 0.5], [0, -0.5]])
    np.testing.assert_allclose(positions[1], [[1, 1], [1, 0], [1, -1]])
    np.testing.assert_allclose(positions[2], [[2, 0]])


def test_network_edges_are_as_wide_as_the_weights_and_coloured_by_sign():
    from matplotlib.colors import to_rgba

    W1 = np.array([[1.0, -2.0], [0.5, 0.0], [-4.0, 3.0]])  # 3 units fed by 2 inputs
    W2 = np.array([[2.0, -1.0, 0.25]])
    images = [[np.zeros((4, 4))] * 2, [np.ones((4, 4))] * 3, [-np.ones((4, 4))]]
    ax = plots.plot_network([W1, W2], node_images=images, labels=["a", "b"], max_width=4.0, title="net")
    edges = ax.collections[0]
    weights = np.r_[W1.ravel(), W2.ravel()]
    assert len(edges.get_segments()) == 9
    np.testing.assert_allclose(edges.get_linewidths(), 4.0 * np.abs(weights) / 4.0)
    colours = edges.get_colors()
    assert all(np.allclose(colours[k][:3], to_rgba("C0" if w > 0 else "C1")[:3]) for k, w in enumerate(weights))
    # the edge of W1[2, 1] joins input 1 (column 0, row −0.5) to hidden unit 2 (column 1, row −1)
    np.testing.assert_allclose(edges.get_segments()[5], [[0, -0.5], [1, -1]])
    assert len(ax.get_images()) == 6 and [t.get_text() for t in ax.texts] == ["a", "b"]
    assert ax.get_title() == "net"


def test_network_drawing_checks_the_shapes_chain():
    with pytest.raises(ValueError, match=r"weights\[1\] has shape \(1, 2\): it should take the 3 units"):
        plots.plot_network([np.ones((3, 2)), np.ones((1, 2))])
