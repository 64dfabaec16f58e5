"""Tests of nnbook/conv.py: convolution and pooling, naive and fast, against the formulas, each other and PyTorch.

* the output-size formula ``⌊(H + 2p − k)/s⌋ + 1`` and the lecture's 1-D example;
* the naive loops and the fast versions (im2col, strided pooling) agree
  (hypothesis: shapes, strides, paddings, non-square kernels, overlapping windows);
* every backward pass against numerical gradients (``nnbook.gradcheck``);
* every pair and layer against ``torch.nn.functional`` (conv2d, max_pool2d,
  avg_pool2d) in float64, to a relative error of 1e-7 or less (skipped without
  torch; a failure with ``NNBOOK_REQUIRE_TORCH=1``), including ties in max pooling;
* im2col and col2im (a product with the filters, and adjoint of each other);
* parameter counts, clear errors, float32 kept, the channels-last memory of the outputs;
* the lecture's network: its shape trace 28 → 24 → 8 → 4 → 2, PyTorch's output
  for the same weights, and ``nnbook.train.fit`` training it on MNIST images.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from optional import import_torch

from nnbook import conv
from nnbook.data import load_mnist_subset
from nnbook.gradcheck import assert_close, numerical_gradient_of_output, relative_error
from nnbook.layers import Flatten, Linear, ReLU
from nnbook.optim import SGD
from nnbook.train import fit

pytestmark = pytest.mark.ch11

TORCH_TOL = 1e-7


def images(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- sizes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, k, s, p, expected", [
    (28, 5, 1, 0, 24), (24, 3, 3, 0, 8), (8, 5, 1, 0, 4), (4, 2, 2, 0, 2),  # the lecture's network
    (7, 3, 2, 1, 4), (5, 5, 1, 0, 1), (5, 3, 1, 1, 5), (6, 3, 4, 0, 1), (1, 3, 1, 1, 1), (10, 4, 3, 2, 4),
])
def test_output_size_is_the_floor_formula(n, k, s, p, expected):
    assert conv.output_size(n, k, s, p) == expected == (n + 2 * p - k) // s + 1
    out, _ = conv.conv_forward(np.zeros((1, 1, n, n)), np.zeros((1, 1, k, k)), np.zeros(1), s, p)
    assert out.shape == (1, 1, expected, expected)


def test_output_size_errors():
    with pytest.raises(ValueError, match=r"a kernel of size 6 is larger than the padded input, 3 \+ 2·1 = 5 pixels"):
        conv.output_size(3, 6, 1, 1)
    with pytest.raises(ValueError, match=r"output_size: stride must be an integer ≥ 1, got 0"):
        conv.output_size(5, 3, 0)
    with pytest.raises(ValueError, match=r"output_size: padding must be an integer ≥ 0, got -1"):
        conv.output_size(5, 3, 1, -1)


# ---- the lecture's example ------------------------------------------------------------------------


@pytest.mark.parametrize("forward", [conv.conv_forward_naive, conv.conv_forward])
def test_the_lectures_edge_detector(forward):
    # (0,0,0,0,1,2,3,4,4,4,4) ⊗ (−1, 1), a 1-channel image of one row: the differences of neighbours
    x = np.array([0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4], dtype=np.float64).reshape(1, 1, 1, 11)
    W = np.array([-1.0, 1.0]).reshape(1, 1, 1, 2)
    out, _ = forward(x, W, np.zeros(1))
    np.testing.assert_array_equal(out.reshape(-1), [0, 0, 0, 1, 1, 1, 1, 0, 0, 0])


def test_a_small_convolution_by_hand():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    W = np.array([[1.0, 0.0], [0.0, -1.0]]).reshape(1, 1, 2, 2)
    out, _ = conv.conv_forward(x, W, np.array([0.5]), stride=2)
    # window at (0, 0): 0 − 5; at (0, 2): 2 − 7; at (2, 0): 8 − 13; at (2, 2): 10 − 15; plus the bias
    np.testing.assert_array_equal(out[0, 0], [[-4.5, -4.5], [-4.5, -4.5]])
    out, _ = conv.conv_forward(x, W, np.zeros(1), padding=1)
    assert out.shape == (1, 1, 5, 5)
    assert out[0, 0, 0, 0] == -x[0, 0, 0, 0] and out[0, 0, 4, 4] == x[0, 0, 3, 3]  # zeros around


# ---- naive and fast agree -------------------------------------------------------------------------


@st.composite
def conv_cases(draw):
    m, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    k_h, k_w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    assume(k_h <= H + 2 * padding[0] and k_w <= W + 2 * padding[1])
    seed = draw(st.integers(0, 2**16))
    return (m, C, H, W), (F, C, k_h, k_w), stride, padding, seed


@settings(max_examples=60, deadline=None)
@given(conv_cases())
def test_naive_and_fast_convolutions_agree(case):
    x_shape, W_shape, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x, W, b = rng.standard_normal(x_shape), rng.standard_normal(W_shape), rng.standard_normal(W_shape[0])
    out_naive, cache_naive = conv.conv_forward_naive(x, W, b, stride, padding)
    out_fast, cache_fast = conv.conv_forward(x, W, b, stride, padding)
    expected_hw = tuple(conv.output_size(n, k, s, p) for n, k, s, p in zip(x_shape[2:], W_shape[2:], stride, padding))
    assert out_naive.shape == out_fast.shape == (x_shape[0], W_shape[0], *expected_hw)
    assert_close(out_fast, out_naive, "out", tol=1e-12)
    dout = rng.standard_normal(out_naive.shape)
    for name, fast, naive in zip(("dx", "dW", "db"), conv.conv_backward(dout, cache_fast),
                                 conv.conv_backward_naive(dout, cache_naive)):
        assert fast.shape == naive.shape, name
        assert_close(fast, naive, name, tol=1e-12)


@st.composite
def pool_cases(draw):
    m, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))  # s < k: overlapping
    H, W = draw(st.integers(kernel[0], 7)), draw(st.integers(kernel[1], 7))
    ties = draw(st.booleans())
    return (m, C, H, W), kernel, stride, ties, draw(st.integers(0, 2**16))


@settings(max_examples=60, deadline=None)
@given(pool_cases())
def test_naive_and_fast_pooling_agree_ties_included(case):
    shape, kernel, stride, ties, seed = case
    rng = np.random.default_rng(seed)
    x = rng.integers(-1, 2, shape).astype(np.float64) if ties else rng.standard_normal(shape)  # many equal values
    for forward_naive, backward_naive, forward, backward in (
            (conv.maxpool_forward_naive, conv.maxpool_backward_naive, conv.maxpool_forward, conv.maxpool_backward),
            (conv.avgpool_forward_naive, conv.avgpool_backward_naive, conv.avgpool_forward, conv.avgpool_backward)):
        out_naive, cache_naive = forward_naive(x, kernel, stride)
        out_fast, cache_fast = forward(x, kernel, stride)
        assert_close(out_fast, out_naive, forward.__name__, tol=1e-12)
        dout = rng.standard_normal(out_naive.shape)
        assert_close(backward(dout, cache_fast), backward_naive(dout, cache_naive), backward.__name__, tol=1e-12)


# ---- gradients ------------------------------------------------------------------------------------


@pytest.mark.parametrize("pair", ["naive", "fast"])
@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), ((1, 2), (2, 0))])
def test_convolution_backward_matches_numerical_gradients(pair, stride, padding):
    forward, backward = ((conv.conv_forward_naive, conv.conv_backward_naive) if pair == "naive"
                         else (conv.conv_forward, conv.conv_backward))
    rng = np.random.default_rng(3)
    x, W, b = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    out, cache = forward(x, W, b, stride, padding)
    dout = rng.standard_normal(out.shape)
    dx, dW, db = backward(dout, cache)
    for name, analytic, variable in (("dx", dx, x), ("dW", dW, W), ("db", db, b)):
        numeric = numerical_gradient_of_output(lambda: forward(x, W, b, stride, padding)[0], variable, dout)
        assert_close(analytic, numeric, f"{pair} {name}")


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("pair", ["naive", "fast"])
@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 2), ((2, 3), 1), (3, (1, 2))])
def test_pooling_backward_matches_numerical_gradients(kind, pair, kernel, stride):
    forward = getattr(conv, f"{kind}pool_forward" + ("_naive" if pair == "naive" else ""))
    backward = getattr(conv, f"{kind}pool_backward" + ("_naive" if pair == "naive" else ""))
    rng = np.random.default_rng(4)
    x = rng.permutation(2 * 3 * 6 * 7).reshape(2, 3, 6, 7) / 10.0  # distinct values: no tie near a kink
    out, cache = forward(x, kernel, stride)
    dout = rng.standard_normal(out.shape)
    numeric = numerical_gradient_of_output(lambda: forward(x, kernel, stride)[0], x, dout)
    assert_close(backward(dout, cache), numeric, f"{kind}pool {pair} dx")


def test_max_pooling_routes_the_gradient_to_the_first_maximum_in_row_major_order():
    x = np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0]]).reshape(1, 1, 3, 3)
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 0, 1] = 5.0  # three 3s: the first one read row by row
    for forward, backward in ((conv.maxpool_forward, conv.maxpool_backward),
                              (conv.maxpool_forward_naive, conv.maxpool_backward_naive)):
        out, cache = forward(x, 3)
        np.testing.assert_array_equal(out, [[[[3.0]]]])
        np.testing.assert_array_equal(backward(np.full((1, 1, 1, 1), 5.0), cache), expected)
    zeros = np.zeros((1, 1, 2, 2))  # after a ReLU, a window of zeros: the top-left pixel gets it all
    out, cache = conv.maxpool_forward(zeros, 2)
    np.testing.assert_array_equal(conv.maxpool_backward(np.ones((1, 1, 1, 1)), cache), [[[[1.0, 0.0], [0.0, 0.0]]]])


def test_overlapping_windows_add_their_gradients():
    x = np.array([0.0, 5.0, 1.0, 2.0]).reshape(1, 1, 1, 4)  # windows of 2 at stride 1: [0 5] [5 1] [1 2]
    out, cache = conv.maxpool_forward(x, (1, 2), (1, 1))
    np.testing.assert_array_equal(out.ravel(), [5.0, 5.0, 2.0])
    np.testing.assert_array_equal(conv.maxpool_backward(np.array([1.0, 10.0, 100.0]).reshape(1, 1, 1, 3), cache)
                                  .ravel(), [0.0, 11.0, 0.0, 100.0])
    out, cache = conv.avgpool_forward(x, (1, 2), (1, 1))
    np.testing.assert_array_equal(out.ravel(), [2.5, 3.0, 1.5])
    np.testing.assert_array_equal(conv.avgpool_backward(np.array([2.0, 4.0, 8.0]).reshape(1, 1, 1, 3), cache)
                                  .ravel(), [1.0, 3.0, 6.0, 4.0])


# ---- against PyTorch ------------------------------------------------------------------------------


def torch_gradients(torch, function, inputs, dout):
    """``function(*tensors)`` and the gradients of ``Σ out · dout`` with respect to each input, as numpy arrays."""
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in inputs]
    out = function(*tensors)
    out.backward(torch.from_numpy(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("pair", ["naive", "fast", "layer"])
@pytest.mark.parametrize("kernel, stride, padding", [((3, 2), 2, 1), ((2, 4), 1, 0), ((3, 3), (2, 1), (1, 2))])
def test_convolution_matches_torch(pair, kernel, stride, padding):
    torch = import_torch()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 7, 8))
    layer = conv.Conv2D(2, 4, kernel, stride, padding, seed=6)
    layer.params["b"][...] = rng.standard_normal(4)
    W, b = layer.params["W"], layer.params["b"]
    if pair == "layer":
        out = layer.forward(x)
    else:
        forward = conv.conv_forward_naive if pair == "naive" else conv.conv_forward
        out, cache = forward(x, W, b, stride, padding)
    dout = rng.standard_normal(out.shape)
    reference, (tdx, tdW, tdb) = torch_gradients(
        torch, lambda x, W, b: torch.nn.functional.conv2d(x, W, b, stride=stride, padding=padding), (x, W, b), dout)
    if pair == "layer":
        dx, dW, db = layer.backward(dout), layer.grads["W"], layer.grads["b"]
    else:
        dx, dW, db = (conv.conv_backward_naive if pair == "naive" else conv.conv_backward)(dout, cache)
    for name, ours, theirs in (("out", out, reference), ("dx", dx, tdx), ("dW", dW, tdW), ("db", db, tdb)):
        assert relative_error(ours, theirs) <= TORCH_TOL, f"{pair} {name}"


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("pair", ["naive", "fast", "layer"])
@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 2), ((2, 3), (2, 1)), (3, 1)])
def test_pooling_matches_torch_ties_included(kind, pair, kernel, stride):
    torch = import_torch()
    rng = np.random.default_rng(7)
    x = np.maximum(rng.standard_normal((2, 3, 7, 8)), 0.0)  # after a ReLU: windows of zeros, ties
    x[0, 0, :3, :3] = 1.5  # and ties between positive maxima
    if pair == "layer":
        layer = (conv.MaxPool2D if kind == "max" else conv.AvgPool2D)(kernel, stride)
        out = layer.forward(x)
    else:
        suffix = "_naive" if pair == "naive" else ""
        forward, backward = getattr(conv, f"{kind}pool_forward{suffix}"), getattr(conv, f"{kind}pool_backward{suffix}")
        out, cache = forward(x, kernel, stride)
    dout = rng.standard_normal(out.shape)
    function = getattr(torch.nn.functional, f"{kind}_pool2d")
    reference, (tdx,) = torch_gradients(torch, lambda x: function(x, kernel, stride), (x,), dout)
    dx = layer.backward(dout) if pair == "layer" else backward(dout, cache)
    assert relative_error(out, reference) <= TORCH_TOL
    assert relative_error(dx, tdx) <= TORCH_TOL


def torch_deck_cnn(torch, model):
    nn = torch.nn
    reference = nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(3), nn.Conv2d(32, 64, 5), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    reference = reference.double()
    with torch.no_grad():
        for theirs, ours in zip(reference, model.layers):
            if ours.params:
                theirs.weight.copy_(torch.from_numpy(ours.params["W"]))
                theirs.bias.copy_(torch.from_numpy(ours.params["b"]))
    return reference


def test_the_lectures_network_computes_what_torch_computes():
    torch = import_torch()
    model = conv.deck_cnn(seed=3, dtype=np.float64)
    reference = torch_deck_cnn(torch, model)
    x = np.random.default_rng(8).random((4, 1, 28, 28))
    out = model.forward(x)
    dout = np.random.default_rng(9).standard_normal(out.shape)
    dx = model.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    expected = reference(tx)
    expected.backward(torch.from_numpy(dout))
    assert relative_error(out, expected.detach().numpy()) <= TORCH_TOL
    assert relative_error(dx, tx.grad.numpy()) <= TORCH_TOL
    for ours, theirs in zip(model.layers, reference):
        if ours.params:
            assert relative_error(ours.grads["W"], theirs.weight.grad.numpy()) <= TORCH_TOL, repr(ours)
            assert relative_error(ours.grads["b"], theirs.bias.grad.numpy()) <= TORCH_TOL, repr(ours)


# ---- im2col and col2im ----------------------------------------------------------------------------


def test_im2col_rows_are_the_windows_and_one_product_is_the_convolution():
    x = images((2, 3, 5, 4), seed=10)
    W, b = images((4, 3, 2, 3), seed=11), images((4,), seed=12)
    cols = conv.im2col(x, 2, 3, stride=1, padding=1)
    H_out, W_out = conv.output_size(5, 2, 1, 1), conv.output_size(4, 3, 1, 1)
    assert cols.shape == (2 * H_out * W_out, 2 * 3 * 3)
    x_p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    n, i, j = 1, 2, 3  # row (n·H' + i)·W' + j holds the window at (i, j), ordered (u, v, c)
    np.testing.assert_array_equal(cols[(n * H_out + i) * W_out + j],
                                  x_p[n, :, i : i + 2, j : j + 3].transpose(1, 2, 0).ravel())
    out = (cols @ conv.filters_to_columns(W) + b).reshape(2, H_out, W_out, 4).transpose(0, 3, 1, 2)
    assert_close(out, conv.conv_forward_naive(x, W, b, 1, 1)[0], "im2col product", tol=1e-12)


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (3, 2), ((1, 2), (0, 1))])
def test_col2im_is_the_adjoint_of_im2col(stride, padding):
    # ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩: col2im is the transpose of the linear map im2col: it carries gradients back
    x = images((2, 3, 6, 5), seed=13)
    cols = conv.im2col(x, 3, 2, stride, padding)
    c = images(cols.shape, seed=14)
    back = conv.col2im(c, x.shape, 3, 2, stride, padding)
    assert back.shape == x.shape
    assert np.sum(cols * c) == pytest.approx(np.sum(x * back), rel=1e-12)
    # a pixel is counted once per window that contains it
    counts = conv.col2im(np.ones_like(cols), x.shape, 3, 2, stride, padding)
    if stride == 1 and padding == 0:
        assert counts[0, 0, 0, 0] == 1 and counts[0, 0, 2, 1] == 3 * 2
    with pytest.raises(ValueError, match=r"col2im: cols must have shape \(m·H'·W', k_h·k_w·C\)"):
        conv.col2im(c[1:], x.shape, 3, 2, stride, padding)


# ---- layers, parameters, dtypes, memory -----------------------------------------------------------


@pytest.mark.parametrize("C, F, kernel", [(1, 32, 5), (32, 64, 5), (3, 8, (3, 2)), (2, 1, 1)])
def test_a_convolution_has_F_times_C_kh_kw_plus_one_parameters(C, F, kernel):
    layer = conv.Conv2D(C, F, kernel)
    k_h, k_w = (kernel, kernel) if isinstance(kernel, int) else kernel
    assert layer.params["W"].shape == (F, C, k_h, k_w) and layer.params["b"].shape == (F,)
    assert conv.parameter_count(layer) == F * (C * k_h * k_w + 1)


def test_conv2d_draws_he_weights_with_fan_in_C_kh_kw():
    W = conv.Conv2D(16, 64, 5, seed=1).params["W"]
    assert W.var() == pytest.approx(2 / (16 * 25), rel=0.05)
    np.testing.assert_array_equal(conv.Conv2D(16, 64, 5, seed=1).params["W"], W)  # seeded
    assert not np.array_equal(conv.Conv2D(16, 64, 5, seed=2).params["W"], W)


def test_conv2d_without_input_gradient_still_fills_dW_and_db():
    x, rng = images((2, 3, 6, 6), seed=15), np.random.default_rng(16)
    full, lean = conv.Conv2D(3, 4, 3, seed=2), conv.Conv2D(3, 4, 3, seed=2, input_grad=False)
    dout = rng.standard_normal(full.forward(x).shape)
    lean.forward(x)
    assert lean.backward(dout) is None and full.backward(dout).shape == x.shape
    np.testing.assert_array_equal(lean.grads["W"], full.grads["W"])
    np.testing.assert_array_equal(lean.grads["b"], full.grads["b"])


def test_layers_representation_and_default_pooling_stride():
    assert repr(conv.Conv2D(3, 8, (3, 2), stride=2, padding=1)) == \
        "Conv2D(3, 8, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1))"
    assert repr(conv.MaxPool2D(2)) == "MaxPool2D((2, 2))" and conv.MaxPool2D(3).stride == (3, 3)
    assert repr(conv.AvgPool2D(3, stride=1)) == "AvgPool2D((3, 3), stride=(1, 1))"
    assert conv.MaxPool2D(2).params == {} and conv.AvgPool2D(2).buffers == {}


@pytest.mark.parametrize("build", [lambda dtype: conv.Conv2D(2, 3, (3, 2), 2, 1, dtype=dtype),
                                   lambda dtype: conv.MaxPool2D(2), lambda dtype: conv.AvgPool2D(3, 1)],
                         ids=["Conv2D", "MaxPool2D", "AvgPool2D"])
def test_float32_stays_float32_in_pairs_and_layers(build):
    x = images((2, 2, 6, 5), seed=17).astype(np.float32)
    layer = build(np.float32)
    out = layer.forward(x)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.float32
    assert all(array.dtype == np.float32 for array in (*layer.params.values(), *layer.grads.values()))
    W, b = np.ones((3, 2, 2, 2), np.float32), np.zeros(3, np.float32)
    for forward, backward, args in ((conv.conv_forward, conv.conv_backward, (W, b)),
                                    (conv.conv_forward_naive, conv.conv_backward_naive, (W, b)),
                                    (conv.maxpool_forward, conv.maxpool_backward, (2,)),
                                    (conv.avgpool_forward, conv.avgpool_backward, (2,))):
        out, cache = forward(x, *args)
        assert out.dtype == np.float32, forward.__name__
        gradients = backward(np.ones_like(out), cache)
        gradients = gradients if isinstance(gradients, tuple) else (gradients,)
        assert all(g.dtype == np.float32 for g in gradients), backward.__name__
    assert conv.im2col(x, 2, 2).dtype == np.float32


def test_outputs_are_channels_last_in_memory_with_the_values_of_the_formula():
    x = images((2, 3, 6, 6), seed=18)
    out, _ = conv.conv_forward(x, images((4, 3, 3, 3), seed=19), np.zeros(4))
    assert out.shape == (2, 4, 4, 4) and out.transpose(0, 2, 3, 1).flags.c_contiguous
    pooled, _ = conv.maxpool_forward(np.maximum(out, 0), 2)
    assert pooled.transpose(0, 2, 3, 1).flags.c_contiguous
    np.testing.assert_array_equal(np.ascontiguousarray(pooled), conv.maxpool_forward_naive(np.maximum(out, 0), 2)[0])


def test_integer_images_are_read_as_float64():
    out, _ = conv.conv_forward(np.ones((1, 1, 3, 3), dtype=np.uint8), np.ones((1, 1, 2, 2)), np.zeros(1))
    assert out.dtype == np.float64 and np.all(out == 4.0)


# ---- errors ---------------------------------------------------------------------------------------


def test_clear_errors_for_bad_input():
    x, W, b = np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3)), np.zeros(4)
    for forward in (conv.conv_forward, conv.conv_forward_naive):
        name = forward.__name__
        with pytest.raises(ValueError, match=rf"{name}: x must be images of shape \(m, C, H, W\), got shape \(3, 5, "):
            forward(x[0], W, b)
        with pytest.raises(ValueError, match=rf"{name}: channel mismatch: x has 2 channels .* filters W expect 3"):
            forward(x[:, :2], W, b)
        with pytest.raises(ValueError, match=rf"{name}: the kernel 3×3 is larger than the padded input 2×2"):
            forward(np.ones((1, 3, 2, 2)), W, b)
        with pytest.raises(ValueError, match=rf"{name}: the stride must be a positive integer, got \(0, 0\)"):
            forward(x, W, b, stride=0)
        with pytest.raises(ValueError, match=rf"{name}: the padding must be a non-negative integer, got \(-1, -1\)"):
            forward(x, W, b, padding=-1)
        with pytest.raises(ValueError, match=rf"{name}: b must have shape \(4,\), one bias per filter, got \(3,\)"):
            forward(x, W, np.zeros(3))
        bad = x.copy()
        bad[1, 2, 0, 4] = np.nan
        with pytest.raises(ValueError, match=rf"{name}: x contains 1 non-finite value\(s\) .* index \(1, 2, 0, 4\)"):
            forward(bad, W, b)
    with pytest.raises(ValueError, match="stride must be an int or a pair of ints, got 1.5"):
        conv.conv_forward(x, W, b, stride=1.5)
    for forward in (conv.maxpool_forward, conv.avgpool_forward, conv.maxpool_forward_naive):
        with pytest.raises(ValueError, match=r"the kernel 6×6 is larger than the padded input 5×5"):
            forward(x, 6)
        with pytest.raises(ValueError, match=r"the stride must be a positive integer, got \(0, 0\)"):
            forward(x, 2, 0)
        with pytest.raises(ValueError, match=r"x must be images of shape \(m, C, H, W\), got shape \(5, 5\)"):
            forward(x[0, 0], 2)
    with pytest.raises(ValueError, match=r"Conv2D\(3, 4, kernel_size=\(3, 3\)\) expects images of shape "
                                         r"\(m, 3, H, W\), got \(2, 2, 5, 5\)"):
        conv.Conv2D(3, 4, 3).forward(np.ones((2, 2, 5, 5)))
    with pytest.raises(ValueError, match=r"the kernel 5×5 is larger than the padded input 4×4"):
        conv.Conv2D(3, 4, 5).forward(np.ones((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"MaxPool2D\(\(2, 2\)\) expects images of shape \(m, C, H, W\), got \(2, 8\)"):
        conv.MaxPool2D(2).forward(np.ones((2, 8)))
    with pytest.raises(ValueError, match="Conv2D needs a positive integer F, got 0"):
        conv.Conv2D(3, 0, 3)
    with pytest.raises(ValueError, match=r"Conv2D: the kernel size must be positive, got \(0, 3\)"):
        conv.Conv2D(3, 4, (0, 3))
    layer = conv.Conv2D(3, 4, 3)
    with pytest.raises(RuntimeError, match="Conv2D.backward called before forward"):
        layer.backward(np.ones((2, 4, 3, 3)))
    layer.forward(x)
    with pytest.raises(ValueError, match=r"dout has shape \(2, 4, 3, 4\) but the layer's output had shape "
                                         r"\(2, 4, 3, 3\)"):
        layer.backward(np.ones((2, 4, 3, 4)))


# ---- the lecture's network ------------------------------------------------------------------------


def test_the_lectures_network_has_the_shape_trace_28_24_8_4_2():
    model = conv.deck_cnn(seed=0)
    assert [type(layer) for layer in model.layers] == [conv.Conv2D, ReLU, conv.MaxPool2D, conv.Conv2D, ReLU,
                                                       conv.MaxPool2D, Flatten, Linear, ReLU, Linear]
    x = np.zeros((3, 1, 28, 28), dtype=np.float32)
    shapes = []
    for layer in model.layers:
        x = layer.forward(x)
        shapes.append(x.shape[1:])
    assert tuple(shapes) == conv.DECK_CNN_SHAPES[1:]
    assert [shape[-1] for shape in shapes[:6:]] == [24, 24, 8, 4, 4, 2] and 64 * 2 * 2 == 256
    assert x.dtype == np.float32
    assert conv.parameter_count(model) == 32 * (1 * 25 + 1) + 64 * (32 * 25 + 1) + 256 * 257 + 10 * 257 == 120_458


def test_fit_trains_the_lectures_network_on_mnist_images():
    split = load_mnist_subset(flatten=False)
    X, y = split.X_train[:320, None].astype(np.float32), split.y_train[:320]  # (m, 28, 28) → (m, 1, 28, 28)
    assert X.shape == (320, 1, 28, 28)
    model = conv.deck_cnn(seed=0, dtype=np.float32)
    history = fit(model, X, y, SGD(0.05), epochs=3, batch_size=32, progress=False)
    assert not history.diverged
    assert history.loss[-1] < 0.6 * history.loss[0], history.loss
    assert history.accuracy[-1] > 0.5 and history.accuracy[0] < 0.3
    assert all(param.dtype == np.float32 for _, param, _ in model.params_and_grads())
    assert model.input_grad  # fit restores it
