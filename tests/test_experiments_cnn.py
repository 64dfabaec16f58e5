"""The numbers and formulas of the chapter *Convolutional networks* (``book/cnn.md``), recomputed.

* the size of a dense layer from a 256 × 256 × 3 image to another (3.87e10 weights, 155 GB);
* the lecture's 1-D example, and ``np.convolve`` flipping the kernel;
* translation equivariance: shifting the input shifts the output;
* the output-size formula and the shapes and parameter count of a multi-channel convolution;
* the pooling gradients (the tie rule of max pooling, 1/k² for the average);
* the backward pass of a convolution written as the chapter derives it (``db`` a sum, ``dW`` a
  cross-correlation of the input with the gradient, ``dx`` the full convolution of the dilated
  gradient with the flipped filters), against the package and against numerical gradients,
  with strides and paddings (hypothesis);
* the two implementations equal, and the timing functions' results well formed (no time asserted);
* the lecture's network: its shape trace, its parameter count against the MLP's, its training on
  the split of chapter 6 (the same images), and the test errors the chapter compares.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnbook import conv
from nnbook.data import carve_dev_split, load_mnist_subset
from nnbook.experiments import MNIST_SETTINGS, mnist_mlp_vs_softmax
from nnbook.experiments_cnn import (
    CNN_SETTINGS,
    DECK_1D,
    DENSE_SETTINGS,
    SOBEL,
    TIMING_SETTINGS,
    conv1d,
    conv_backward_by_correlations,
    dense_image_map_size,
    dilate,
    edge_maps,
    equivariance_gap,
    feature_maps,
    first_layer_change,
    mnist_images,
    pooling_gradients_example,
    python_iterations,
    shape_trace,
    shift,
    textbook_convolution,
    time_against_torch,
    time_conv_implementations,
    train_deck_cnn,
)
from nnbook.gradcheck import assert_close, numerical_gradient_of_output, relative_error
from nnbook.layers import mlp
from nnbook.train import evaluate

pytestmark = pytest.mark.ch11


# ---- why not a dense layer --------------------------------------------------------------------------


def test_a_dense_layer_between_two_colour_images_of_256_pixels_has_3_87e10_weights():
    n_weights, n_bytes = dense_image_map_size(**DENSE_SETTINGS)
    assert n_weights == (256 * 256 * 3) ** 2 == 38_654_705_664
    assert f"{n_weights:.3g}" == "3.87e+10"
    assert n_bytes == 4 * n_weights and round(n_bytes / 1e9) == 155  # the chapter says 155 GB in float32
    # the convolution layer for the same map, 3 → 3 channels, 5 × 5 filters: F (C k_h k_w + 1)
    assert conv.parameter_count(conv.Conv2D(3, 3, kernel_size=5)) == 3 * (3 * 5 * 5 + 1) == 228


# ---- one dimension ---------------------------------------------------------------------------------


def test_the_lectures_1d_example_is_a_difference_of_neighbours():
    z = conv1d(DECK_1D["signal"], DECK_1D["kernel"])
    assert tuple(z) == DECK_1D["expected"] == (0, 0, 0, 1, 1, 1, 1, 0, 0, 0)
    x = np.array(DECK_1D["signal"], dtype=float)
    assert np.array_equal(z, x[1:] - x[:-1])


def test_np_convolve_flips_the_kernel_of_the_layers_cross_correlation():
    signal, kernel = DECK_1D["signal"], DECK_1D["kernel"]
    flipped = textbook_convolution(signal, kernel)
    assert tuple(flipped) == (0, 0, 0, -1, -1, -1, -1, 0, 0, 0)  # what the chapter prints
    assert np.array_equal(flipped, conv1d(signal, kernel[::-1]))
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(12), rng.standard_normal(4)
    assert_close(textbook_convolution(x, w), conv1d(x, w[::-1]), "convolve = correlate with the flipped kernel")


# ---- equivariance ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dy, dx", [(3, -2), (0, 5), (-4, 1)])
def test_shifting_the_input_shifts_the_output(dy, dx):
    rng = np.random.default_rng(1)
    x = mnist_images().X_test[:3].astype(np.float64)
    W, b = rng.standard_normal((4, 1, 5, 5)), rng.standard_normal(4)
    assert equivariance_gap(x, W, b, dy, dx) < 1e-12


def test_the_page_s_shift_check_with_sobel_is_exact():
    digit = mnist_images().X_test[:1].astype(np.float64)
    assert equivariance_gap(digit, SOBEL["vertical edges"][None, None], np.zeros(1), 3, -2) == 0.0


def test_shift_moves_the_content_and_lets_zeros_in_without_wrapping():
    a = np.arange(1, 13, dtype=float).reshape(3, 4)
    assert np.array_equal(shift(a, 1, -1), [[0, 0, 0, 0], [2, 3, 4, 0], [6, 7, 8, 0]])
    assert np.array_equal(shift(shift(a, 1, 2), -1, -2)[:2, :2], a[:2, :2])


def test_a_bias_free_convolution_of_a_blank_image_is_blank_and_the_sobel_maps_keep_the_size():
    edges = edge_maps(mnist_images().X_train[:4, 0])
    assert edges.shape == (4, 2, 28, 28)
    assert np.all(edge_maps(np.zeros((1, 28, 28))) == 0)
    # a vertical step (dark left, bright right) excites the vertical-edge filter only
    step = np.zeros((1, 8, 8))
    step[:, :, 4:] = 1.0
    maps = edge_maps(step)[0]
    assert maps[0, 3:5, 3:5].min() == 4.0 and np.all(maps[1, 1:-1, 1:-1] == 0)


# ---- shapes ------------------------------------------------------------------------------------------


def test_the_multi_channel_shapes_and_parameter_count_of_the_chapter():
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out, _ = conv.conv_forward_naive(x, W, b)
    assert out.shape == (2, 4, 5, 4)
    assert W.size + b.size == 4 * (3 * 3 * 3 + 1) == 112
    assert np.isclose(out[1, 2, 3, 1], b[2] + np.sum(W[2] * x[1, :, 3:6, 1:4]))


@pytest.mark.parametrize("H, k, s, p, expected",
                         [(28, 5, 1, 0, 24), (28, 5, 1, 2, 28), (28, 3, 2, 1, 14), (7, 3, 2, 0, 3), (32, 1, 1, 0, 32)])
def test_the_output_sizes_the_chapter_prints(H, k, s, p, expected):
    assert conv.output_size(H, k, stride=s, padding=p) == expected == (H + 2 * p - k) // s + 1
    out = conv.conv_forward(np.zeros((1, 1, H, H)), np.zeros((1, 1, k, k)), np.zeros(1), stride=s, padding=p)[0]
    assert out.shape[-2:] == (expected, expected)


def test_a_1x1_convolution_is_the_same_linear_map_on_the_channels_of_every_pixel():
    rng = np.random.default_rng(2)
    x, W, b = rng.standard_normal((2, 6, 4, 5)), rng.standard_normal((3, 6, 1, 1)), rng.standard_normal(3)
    out, _ = conv.conv_forward(x, W, b)
    by_pixel = np.einsum("fc,nchw->nfhw", W[:, :, 0, 0], x) + b[None, :, None, None]
    assert_close(out, by_pixel, "1x1 convolution")
    assert W.size + b.size == 3 * (6 + 1)


# ---- pooling -----------------------------------------------------------------------------------------


def test_the_pooling_example_of_the_chapter():
    pool = pooling_gradients_example()
    assert np.array_equal(pool["max_out"], [[3, 5], [4, 7]])
    # the two 5s of the top-right window tie: the gradient goes to the first, read row by row
    assert np.array_equal(pool["max_dx"], [[0, 1, 2, 0], [0, 0, 0, 0], [0, 0, 4, 0], [3, 0, 0, 0]])
    assert np.array_equal(pool["avg_out"], [[1.5, 3.25], [1.75, 3.5]])
    assert np.array_equal(pool["avg_dx"], np.kron(pool["dout"], np.ones((2, 2))) / 4)
    assert pool["max_dx"].sum() == pool["avg_dx"].sum() == pool["dout"].sum()  # both pass the whole gradient on


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_the_pooling_gradients_the_chapter_checks_numerically(kind):
    rng = np.random.default_rng(0)
    x = rng.permutation(2 * 3 * 6 * 6).reshape(2, 3, 6, 6) / 10.0
    forward, backward = getattr(conv, f"{kind}pool_forward"), getattr(conv, f"{kind}pool_backward")
    out, cache = forward(x, 2)
    dout = rng.standard_normal(out.shape)
    numeric = numerical_gradient_of_output(lambda: forward(x, 2)[0], x, dout)
    assert relative_error(backward(dout, cache), numeric) < 1e-8


# ---- the convolution backward, as the chapter derives it -------------------------------------------------


def test_dilate_puts_each_gradient_where_its_window_starts():
    dout = np.arange(1, 7, dtype=float).reshape(1, 1, 2, 3)
    d = dilate(dout, 2)
    assert d.shape == (1, 1, 3, 5)
    assert np.array_equal(d[0, 0], [[1, 0, 2, 0, 3], [0, 0, 0, 0, 0], [4, 0, 5, 0, 6]])
    assert dilate(dout, 1) is not dout and np.array_equal(dilate(dout, 1), dout)
    assert dilate(dout, (1, 3)).shape == (1, 1, 2, 7)


def test_the_page_s_gradient_check_stride_2_padding_1():
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out, cache = conv.conv_forward(x, W, b, 2, 1)
    assert out.shape == (2, 4, 4, 3)
    dout = rng.standard_normal(out.shape)
    analytic = conv.conv_backward(dout, cache)
    formulas = conv_backward_by_correlations(dout, x, W, 2, 1)
    for name, a, f, variable in zip(("dx", "dW", "db"), analytic, formulas, (x, W, b)):
        numeric = numerical_gradient_of_output(lambda: conv.conv_forward(x, W, b, 2, 1)[0], variable, dout)
        assert relative_error(a, numeric) < 1e-8, name
        assert relative_error(a, f) < 1e-12, name


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 2), C=st.integers(1, 3), F=st.integers(1, 3), H=st.integers(3, 9), W_in=st.integers(3, 9),
       k_h=st.integers(1, 3), k_w=st.integers(1, 3), s_h=st.integers(1, 3), s_w=st.integers(1, 3),
       p_h=st.integers(0, 2), p_w=st.integers(0, 2), seed=st.integers(0, 2**16))
def test_the_correlation_formulas_are_the_gradients_of_the_convolution(m, C, F, H, W_in, k_h, k_w, s_h, s_w, p_h, p_w,
                                                                       seed):
    rng = np.random.default_rng(seed)
    x, W, b = rng.standard_normal((m, C, H, W_in)), rng.standard_normal((F, C, k_h, k_w)), rng.standard_normal(F)
    stride, padding = (s_h, s_w), (p_h, p_w)
    out, cache = conv.conv_forward_naive(x, W, b, stride, padding)
    dout = rng.standard_normal(out.shape)
    for name, expected, got in zip(("dx", "dW", "db"), conv.conv_backward_naive(dout, cache),
                                   conv_backward_by_correlations(dout, x, W, stride, padding)):
        assert_close(got, expected, name, tol=1e-12)


def test_dW_is_the_input_cross_correlated_with_the_gradient_and_dx_the_full_convolution_with_the_kernel():
    """One channel, one filter, stride 1: the two formulas with the 2-D tools of scipy-free numpy."""
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((6, 7)), rng.standard_normal((3, 2))
    out, cache = conv.conv_forward(x[None, None], w[None, None], np.zeros(1))
    dz = rng.standard_normal(out.shape[2:])
    dx, dW, db = conv.conv_backward(dz[None, None], cache)
    # dW[u, v] = Σ_ij dz[i, j] x[i + u, j + v]
    expected_dW = np.array([[np.sum(dz * x[u : u + dz.shape[0], v : v + dz.shape[1]]) for v in range(2)]
                            for u in range(3)])
    # dx = full convolution of dz with w: Σ_uv w[u, v] dz[r − u, t − v]
    expected_dx = np.zeros_like(x)
    for u in range(3):
        for v in range(2):
            expected_dx[u : u + dz.shape[0], v : v + dz.shape[1]] += w[u, v] * dz
    assert_close(dW[0, 0], expected_dW, "dW")
    assert_close(dx[0, 0], expected_dx, "dx")
    assert np.isclose(db[0], dz.sum())


# ---- two implementations ---------------------------------------------------------------------------------


def test_the_loop_count_is_m_F_H_W_and_the_two_implementations_agree():
    assert python_iterations(2, 32, 24, 24) == 36_864 and python_iterations(2, 64, 4, 4) == 2_048
    timings = time_conv_implementations({**TIMING_SETTINGS, "repeats": 1})
    assert set(timings) == {"conv1", "conv2"}
    assert timings["conv1"].iterations == 36_864 and timings["conv2"].iterations == 2_048
    for timing in timings.values():
        assert timing.max_difference < 1e-5  # float32: the same products added in another order
        assert timing.naive_seconds > 0 and timing.fast_seconds > 0  # measured, never compared


def test_the_torch_timing_returns_one_pair_of_times_per_layer():
    result = time_against_torch({"batch_size": 4, "repeats": 1, "seed": 0})
    if result is None:
        pytest.importorskip("torch")
    assert set(result) == {"conv1", "conv2"}
    assert all(ours > 0 and theirs > 0 for ours, theirs in result.values())


# ---- the lecture's network --------------------------------------------------------------------------------


def test_the_shape_trace_28_24_8_4_2_and_the_parameter_counts():
    model = conv.deck_cnn(seed=0)
    shapes = [shape for _, shape in shape_trace(model)]
    assert shapes == list(conv.DECK_CNN_SHAPES[1:])
    assert [shape[-1] for shape in shapes[:6]] == [24, 24, 8, 4, 4, 2] and shapes[6] == (64 * 2 * 2,)
    assert conv.parameter_count(model) == 120_458
    assert [conv.parameter_count(model.layers[i]) for i in (0, 3, 7, 9)] == [832, 51_264, 65_792, 2_570]
    assert conv.parameter_count(mlp((784, MNIST_SETTINGS["hidden"], 10))) == 101_770


def test_the_cnn_uses_the_split_and_the_settings_of_chapter_6():
    for key in ("dev_fraction", "lr", "epochs", "batch_size", "seed"):
        assert CNN_SETTINGS[key] == MNIST_SETTINGS[key]
    images = mnist_images(CNN_SETTINGS)
    flat = carve_dev_split(load_mnist_subset(), MNIST_SETTINGS["dev_fraction"], seed=MNIST_SETTINGS["seed"])
    assert images.X_train.shape == (3500, 1, 28, 28) and images.X_train.dtype == np.float32
    assert images.X_dev.shape == (500, 1, 28, 28) and images.X_test.shape == (1000, 1, 28, 28)
    for name in ("train", "dev", "test"):
        assert np.array_equal(getattr(images, f"y_{name}"), getattr(flat, f"y_{name}"))
        assert np.array_equal(getattr(images, f"X_{name}").reshape(-1, 784),
                              getattr(flat, f"X_{name}").astype(np.float32))


@pytest.fixture(scope="module")
def cnn_run():
    return train_deck_cnn(CNN_SETTINGS)


def test_the_trained_cnn_beats_the_mlp_and_softmax_regression_on_the_same_test_images(cnn_run):
    previous = mnist_mlp_vs_softmax(MNIST_SETTINGS)
    assert (cnn_run.m_train, cnn_run.m_dev) == (previous.m_train, previous.m_dev) == (3500, 500)
    assert cnn_run.test_accuracy > previous.mlp_test_accuracy > previous.softmax_test_accuracy
    assert 1 - cnn_run.test_accuracy < 0.06  # the chapter prints 4.3 %; the MLP's is 8.7 %
    assert 1 - previous.mlp_test_accuracy > 1.5 * (1 - cnn_run.test_accuracy)
    # what the chapter prints is what the model has: the test images scored once, the dev curve on the dev set
    images = mnist_images(CNN_SETTINGS)
    assert evaluate(cnn_run.model, images.X_test, images.y_test)[1] == cnn_run.test_accuracy
    assert np.mean(cnn_run.predicted == images.y_test) == cnn_run.test_accuracy
    assert evaluate(cnn_run.model, images.X_dev, images.y_dev)[1] == cnn_run.history.val_accuracy[-1]
    assert len(cnn_run.history.val_accuracy) == CNN_SETTINGS["epochs"] + 1
    assert cnn_run.model.layers[0].params["W"].dtype == np.float32


def test_what_the_chapter_shows_inside_the_trained_network(cnn_run):
    W, W_initial, change = first_layer_change(cnn_run, CNN_SETTINGS)
    assert W.shape == W_initial.shape == (32, 1, 5, 5)
    assert 0.05 < change < 0.5  # the filters moved, but the random start still dominates (the chapter: ~21 %)
    maps = feature_maps(cnn_run.model, cnn_run.X_test[0])
    assert maps.shape == (32, 24, 24) and maps.min() >= 0  # after the ReLU
    misclassified = np.flatnonzero(cnn_run.predicted != cnn_run.y_test)
    assert len(misclassified) == round((1 - cnn_run.test_accuracy) * 1000)
