"""The experiments of the chapter *Convolutional networks* (``book/cnn.md``), settings in one place.

The chapter and ``tests/test_experiments_cnn.py`` call the functions below with
the settings below, so the numbers the chapter prints are the numbers the tests
check. Convolutions and pooling live in :mod:`nnbook.conv`, the training loop in
:mod:`nnbook.train`; this module only runs them.

* Why not a dense layer: :func:`dense_image_map_size` (:data:`DENSE_SETTINGS`).
* The lecture's 1-D example: :func:`conv1d` (:data:`DECK_1D`); the kernel flip
  of the textbook convolution, :func:`textbook_convolution`.
* Translation equivariance: :func:`shift`, :func:`equivariance_gap`.
* The backward pass as correlations: :func:`dilate`, :func:`conv_backward_by_correlations`.
* Pooling gradients on a window with a tie: :func:`pooling_gradients_example`.
* Hand-set filters: :data:`SOBEL`, :func:`edge_maps`.
* The two implementations timed: :func:`time_conv_implementations` (:data:`TIMING_SETTINGS`),
  and nnbook's layers against PyTorch on one mini-batch: :func:`time_against_torch`.
* The lecture's network: :func:`shape_trace`, :func:`train_deck_cnn` (:data:`CNN_SETTINGS`,
  the MLP chapter's :data:`~nnbook.experiments.MNIST_SETTINGS`), :func:`first_layer_change`
  and :func:`feature_maps` to look inside it.

numpy's matrix library runs on one thread here, as in :mod:`nnbook.experiments`:
the products of mini-batches are small, and on a busy machine with few cores
spinning BLAS threads make the training several times slower.
"""

import time
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from . import conv
from .data import carve_dev_split, load_mnist_subset
from .experiments import MNIST_SETTINGS
from .gradcheck import relative_error
from .layers import Sequential
from .optim import SGD
from .train import History, evaluate, fit

# ---------------------------------------------------------------------------
# Why not a fully connected layer
# ---------------------------------------------------------------------------

#: A dense layer mapping a 256 × 256 colour image to an image of the same size, weights in float32.
DENSE_SETTINGS = {"side": 256, "channels": 3, "bytes_per_value": 4}


def dense_image_map_size(side, channels, bytes_per_value=4):
    """Weights and bytes of a dense layer ``(side·side·channels) → (side·side·channels)``.

    Every output pixel is connected to every input pixel: ``n²`` weights with
    ``n = side² · channels`` (the ``n`` biases are negligible next to them).
    Returns ``(n_weights, n_bytes)``, Python ints.
    """
    n = side * side * channels
    return n * n, n * n * bytes_per_value


# ---------------------------------------------------------------------------
# One dimension: the lecture's example, and the flip of the textbook convolution
# ---------------------------------------------------------------------------

#: The lecture's example: a ramp between two plateaus, and the kernel (−1, 1) that takes differences.
DECK_1D = {
    "signal": (0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4),
    "kernel": (-1, 1),
    "expected": (0, 0, 0, 1, 1, 1, 1, 0, 0, 0),
}


def conv1d(signal, kernel):
    """What a convolution layer computes on a 1-D signal: ``out[i] = Σ_u kernel[u] · signal[i + u]``.

    Runs :func:`nnbook.conv.conv_forward` on the signal seen as one image of one
    channel and one row, ``(1, 1, 1, n)``, with one filter ``(1, 1, 1, k)`` and no
    bias. Returns ``(n − k + 1,)``.
    """
    x = np.asarray(signal, dtype=np.float64).reshape(1, 1, 1, -1)
    w = np.asarray(kernel, dtype=np.float64).reshape(1, 1, 1, -1)
    out, _ = conv.conv_forward(x, w, np.zeros(1))
    return out.ravel()


def textbook_convolution(signal, kernel):
    """The convolution of signal processing, ``(x ∗ w)[i] = Σ_u w[u] · x[i − u]``, where defined: ``np.convolve``.

    It flips the kernel: ``np.convolve(x, w, "valid")`` equals
    :func:`conv1d` with the reversed kernel ``w[::-1]``.
    """
    return np.convolve(np.asarray(signal, dtype=np.float64), np.asarray(kernel, dtype=np.float64), mode="valid")


# ---------------------------------------------------------------------------
# Translation equivariance
# ---------------------------------------------------------------------------


def shift(images, dy, dx):
    """``images : (…, H, W)`` moved ``dy`` rows down and ``dx`` columns right, zeros coming in.

    Unlike ``np.roll``, nothing wraps around: what leaves the frame is lost.
    """
    out = np.zeros_like(images)
    H, W = images.shape[-2:]
    rows_to, rows_from = slice(max(dy, 0), H + min(dy, 0)), slice(max(-dy, 0), H - max(dy, 0))
    cols_to, cols_from = slice(max(dx, 0), W + min(dx, 0)), slice(max(-dx, 0), W - max(dx, 0))
    out[..., rows_to, cols_to] = images[..., rows_from, cols_from]
    return out


def equivariance_gap(x, W, b, dy, dx):
    """``max |conv(shift(x)) − shift(conv(x))|``: 0 when shifting the input shifts the output.

    ``x : (m, C, H, W)``; stride 1, no padding. The images are first set in a
    larger frame of zeros (``|dy|``, ``|dx|`` plus the kernel size on each side),
    so that nothing leaves the frame when shifted: the equality is then exact, up
    to rounding. A blank window gives the bias, so the output is shifted with the
    bias, not zeros, coming in. Returns the gap, a float.
    """
    k = max(W.shape[2:])
    margin = max(abs(dy), abs(dx)) + k
    x = np.pad(x, ((0, 0), (0, 0), (margin, margin), (margin, margin)))
    out = conv.conv_forward(x, W, b)[0]
    out_of_shifted = conv.conv_forward(shift(x, dy, dx), W, b)[0]
    background = np.asarray(b)[None, :, None, None]  # what a blank window gives: the bias, not 0
    return float(np.max(np.abs(out_of_shifted - (shift(out - background, dy, dx) + background))))


# ---------------------------------------------------------------------------
# The backward pass, written as correlations
# ---------------------------------------------------------------------------


def dilate(dout, stride):
    """``dout : (m, F, H', W')`` with ``s − 1`` rows and columns of zeros inserted between its entries.

    Returns ``(m, F, (H' − 1)·s_h + 1, (W' − 1)·s_w + 1)``: output ``(i, j)`` of a
    convolution of stride ``s`` read the window at ``(s·i, s·j)``, and the dilated
    array puts its gradient at that position. ``stride`` is an int or a pair.
    """
    s_h, s_w = (stride, stride) if np.isscalar(stride) else stride
    m, F, H_out, W_out = dout.shape
    dilated = np.zeros((m, F, (H_out - 1) * s_h + 1, (W_out - 1) * s_w + 1), dtype=dout.dtype)
    dilated[:, :, ::s_h, ::s_w] = dout
    return dilated


def _correlate(x, kernels):
    """Cross-correlation ``(m, C, H, W) ⋆ (F, C, h, w) → (m, F, H − h + 1, W − w + 1)``, no bias, stride 1."""
    return conv.conv_forward(x, kernels, np.zeros(kernels.shape[0], dtype=x.dtype))[0]


def conv_backward_by_correlations(dout, x, W, stride=1, padding=0):
    """The gradients of a convolution layer, computed with the formulas of the chapter; returns ``(dx, dW, db)``.

    With ``x_p`` the padded input and ``δ`` the upstream gradient ``dout`` dilated by the stride (:func:`dilate`):

    * ``db[f] = Σ_n Σ_i Σ_j dout[n, f, i, j]``;
    * ``dW[f, c] = Σ_n x_p[n, c] ⋆ δ[n, f]``: the input cross-correlated with the
      gradient (only the first ``k_h × k_w`` entries: rows and columns of ``x_p``
      that no window reached, when the stride does not divide, get no gradient);
    * ``dx_p[n, c] = Σ_f pad_{k−1}(δ[n, f]) ⋆ rot180(W[f, c])``: the *full*
      convolution of the gradient with the filter; zeros complete it to the size
      of ``x_p``, and the padding is cut off to give ``dx``.

    ``x : (m, C, H, W)``, ``W : (F, C, k_h, k_w)``, ``dout : (m, F, H', W')``; stride 1
    is the plain case. Each correlation is one call to :func:`nnbook.conv.conv_forward`.
    """
    (H, W_in), (k_h, k_w) = x.shape[2:], W.shape[2:]
    p_h, p_w = (padding, padding) if np.isscalar(padding) else padding
    x_p = np.pad(x, ((0, 0), (0, 0), (p_h, p_h), (p_w, p_w)))
    delta = dilate(dout, stride)  # (m, F, H_d, W_d)
    db = dout.sum(axis=(0, 2, 3))
    # dW: the examples play the role of channels, the gradient that of the kernel
    dW = _correlate(x_p.transpose(1, 0, 2, 3), delta.transpose(1, 0, 2, 3))  # (C, F, ≥ k_h, ≥ k_w)
    dW = dW[:, :, :k_h, :k_w].transpose(1, 0, 2, 3)
    # dx: the full convolution of δ with the flipped filters, summed over f
    delta_full = np.pad(delta, ((0, 0), (0, 0), (k_h - 1, k_h - 1), (k_w - 1, k_w - 1)))
    flipped = W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, k_h, k_w)
    dx_reached = _correlate(delta_full, flipped)  # (m, C, (H' − 1)s + k_h, (W' − 1)s + k_w)
    dx_p = np.zeros_like(x_p)
    dx_p[:, :, : dx_reached.shape[2], : dx_reached.shape[3]] = dx_reached
    dx = dx_p[:, :, p_h : p_h + H, p_w : p_w + W_in]
    return dx, dW, db


# ---------------------------------------------------------------------------
# Pooling: where the gradient goes
# ---------------------------------------------------------------------------


def pooling_gradients_example():
    """A 4 × 4 image pooled by 2 × 2 windows, with a tie in one window, and the gradients of both poolings.

    Returns ``{"x", "max_out", "max_dx", "avg_out", "avg_dx", "dout"}``, the images as 2-D arrays.
    The upstream gradient is ``dout = [[1, 2], [3, 4]]``. The top-right window holds
    two equal maxima: the gradient goes to the first in row-major order.
    """
    x = np.array([[1.0, 3.0, 5.0, 5.0],
                  [2.0, 0.0, 1.0, 2.0],
                  [0.0, 1.0, 7.0, 0.0],
                  [4.0, 2.0, 1.0, 6.0]])[None, None]
    dout = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    max_out, max_cache = conv.maxpool_forward(x, 2)
    avg_out, avg_cache = conv.avgpool_forward(x, 2)
    return {"x": x[0, 0], "dout": dout[0, 0], "max_out": max_out[0, 0],
            "max_dx": conv.maxpool_backward(dout, max_cache)[0, 0], "avg_out": avg_out[0, 0],
            "avg_dx": conv.avgpool_backward(dout, avg_cache)[0, 0]}


# ---------------------------------------------------------------------------
# Hand-set filters
# ---------------------------------------------------------------------------

#: Sobel's filters: a derivative across columns (it responds to vertical edges) and across rows (horizontal edges).
SOBEL = {
    "vertical edges": np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]),
    "horizontal edges": np.array([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]]),
}


def edge_maps(images, filters=SOBEL):
    """``images : (m, H, W)`` through a convolution layer whose filters are ``filters`` (``k × k`` arrays).

    The filters become ``W : (F, 1, k, k)``, zero biases, padding ``(k − 1)/2`` so that
    the maps keep the size of the images. Returns ``(m, F, H, W)``.
    """
    W = np.stack(list(filters.values()))[:, None]
    k = W.shape[-1]
    x = np.asarray(images, dtype=np.float64)[:, None]
    return conv.conv_forward(x, W, np.zeros(len(W)), padding=(k - 1) // 2)[0]


# ---------------------------------------------------------------------------
# Two implementations, timed
# ---------------------------------------------------------------------------

#: The two convolutions of the lecture's network, forward and backward, on ``m`` images (a small batch:
#: the loops are slow); the fastest of ``repeats`` runs is kept.
TIMING_SETTINGS = {
    "m": 2,
    "layers": {"conv1": {"C": 1, "F": 32, "k": 5, "side": 28}, "conv2": {"C": 32, "F": 64, "k": 5, "side": 8}},
    "repeats": 3,
    "seed": 0,
}


def python_iterations(m, F, H_out, W_out):
    """Iterations of the loop body of :func:`~nnbook.conv.conv_forward_naive` (and of its backward): ``m·F·H'·W'``.

    Each iteration multiplies a window by a filter, ``C·k_h·k_w`` products done by
    numpy, so the arithmetic is ``m·F·H'·W'·C·k_h·k_w`` multiply-adds in all.
    """
    return m * F * H_out * W_out


def _fastest(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def _layer_inputs(layer, m, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, layer["C"], layer["side"], layer["side"])).astype(np.float32)
    W = (rng.standard_normal((layer["F"], layer["C"], layer["k"], layer["k"])) * 0.1).astype(np.float32)
    b = np.zeros(layer["F"], dtype=np.float32)
    out_side = layer["side"] - layer["k"] + 1
    dout = rng.standard_normal((m, layer["F"], out_side, out_side)).astype(np.float32)
    return x, W, b, dout


class ConvTiming(NamedTuple):
    """One layer, timed both ways: seconds for a forward and a backward pass, the loop count, and the largest gap."""

    naive_seconds: float
    fast_seconds: float
    iterations: int
    max_difference: float  # the largest relative error between the outputs and gradients of the two ways


def time_conv_implementations(settings=TIMING_SETTINGS):
    """Forward + backward of each layer of ``settings["layers"]`` by the loops and by im2col; ``{name: ConvTiming}``.

    Both ways run on the same float32 inputs; ``max_difference`` is the largest
    relative error (:func:`~nnbook.gradcheck.relative_error`) between their outputs, ``dx``, ``dW`` and ``db``.
    """
    s = settings
    timings = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name, layer in s["layers"].items():
            x, W, b, dout = _layer_inputs(layer, s["m"], s["seed"])

            def both(forward, backward):
                out, cache = forward(x, W, b)
                return (out, *backward(dout, cache))

            naive = both(conv.conv_forward_naive, conv.conv_backward_naive)
            fast = both(conv.conv_forward, conv.conv_backward)
            gap = max(relative_error(a, c) for a, c in zip(naive, fast))
            naive_s = _fastest(lambda: both(conv.conv_forward_naive, conv.conv_backward_naive), s["repeats"])
            fast_s = _fastest(lambda: both(conv.conv_forward, conv.conv_backward), s["repeats"])
            H_out = layer["side"] - layer["k"] + 1
            timings[name] = ConvTiming(naive_s, fast_s, python_iterations(s["m"], layer["F"], H_out, H_out), gap)
    return timings


#: nnbook's fast layers against PyTorch's on one mini-batch of the lecture's network (float32, one thread each).
TORCH_TIMING_SETTINGS = {"batch_size": 64, "repeats": 5, "seed": 0}


def time_against_torch(settings=TORCH_TIMING_SETTINGS):
    """Forward + backward of the two convolutions of the lecture's network on one mini-batch: nnbook and PyTorch.

    Returns ``{name: (nnbook_seconds, torch_seconds)}``, the fastest of ``repeats``
    after one warm-up, with numpy's BLAS and PyTorch both on one thread; ``None`` when
    PyTorch is not installed. The inputs are random (the speed does not depend on the values).
    """
    try:
        import torch
    except ImportError:
        return None
    s = settings
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    result = {}
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            for name, layer in TIMING_SETTINGS["layers"].items():
                x, W, b, dout = _layer_inputs(layer, s["batch_size"], s["seed"])

                def ours():
                    out, cache = conv.conv_forward(x, W, b)
                    conv.conv_backward(dout, cache)

                xt, Wt, bt, doutt = (torch.from_numpy(a) for a in (x, W, b, dout))
                xt.requires_grad_(), Wt.requires_grad_(), bt.requires_grad_()

                def theirs():
                    out = torch.nn.functional.conv2d(xt, Wt, bt)
                    out.backward(doutt)
                    xt.grad = Wt.grad = bt.grad = None

                ours(), theirs()  # warm-up
                result[name] = (_fastest(ours, s["repeats"]), _fastest(theirs, s["repeats"]))
    finally:
        torch.set_num_threads(threads)
    return result


# ---------------------------------------------------------------------------
# The lecture's network
# ---------------------------------------------------------------------------


def shape_trace(model, input_shape=(1, 1, 28, 28)):
    """The shape after each layer of ``model`` (a ``Sequential``) for an input of ``input_shape``.

    Returns a list of ``(layer, shape)`` pairs, the shapes without the batch axis,
    found by running a zero image through the layers one by one.
    """
    x = np.zeros(input_shape, dtype=np.float32)
    trace = []
    for layer in model.layers:
        x = layer.forward(x)
        trace.append((layer, x.shape[1:]))
    return trace


#: The CNN is trained with the settings of the MLP of chapter 6 (plain SGD, learning rate, batch size,
#: epochs, seed and the same dev split), on images ``(m, 1, 28, 28)`` in float32.
CNN_SETTINGS = {key: MNIST_SETTINGS[key] for key in ("dev_fraction", "lr", "epochs", "batch_size", "seed")}


class CnnRun(NamedTuple):
    """What :func:`train_deck_cnn` returns."""

    model: Sequential
    history: History
    X_test: np.ndarray  # (1000, 1, 28, 28) float32
    y_test: np.ndarray
    predicted: np.ndarray  # the test predictions, (1000,)
    test_accuracy: float
    m_train: int
    m_dev: int
    seconds: float  # the training, measured


def mnist_images(settings=CNN_SETTINGS):
    """The MNIST subset as images ``(m, 1, 28, 28)`` float32, split as in chapter 6: a :class:`~nnbook.data.DevSplit`.

    :func:`~nnbook.data.carve_dev_split` sets aside a stratified dev set of
    ``dev_fraction`` of the 4,000 training images with the chapter's seed: the
    same 3,500 / 500 images as the MLP's, since the split depends only on the labels.
    """
    data = carve_dev_split(load_mnist_subset(flatten=False), dev_fraction=settings["dev_fraction"],
                           seed=settings["seed"])
    as_images = lambda X: X[:, None].astype(np.float32)
    return data._replace(X_train=as_images(data.X_train), X_dev=as_images(data.X_dev), X_test=as_images(data.X_test))


def train_deck_cnn(settings=CNN_SETTINGS):
    """Train :func:`nnbook.conv.deck_cnn` (float32) on the 3,500 training images; score the 1,000 test images once.

    Plain SGD with the learning rate, mini-batch size, epochs and shuffling seed of
    the MLP of chapter 6; the history records the cost and accuracy on all the
    training images and on the dev set after every epoch.
    """
    s = settings
    data = mnist_images(s)
    with threadpool_limits(limits=1, user_api="blas"):
        model = conv.deck_cnn(seed=s["seed"], dtype=np.float32)
        start = time.perf_counter()
        history = fit(model, data.X_train, data.y_train, SGD(lr=s["lr"]), epochs=s["epochs"],
                      batch_size=s["batch_size"], X_val=data.X_dev, y_val=data.y_dev, seed=s["seed"], progress=False,
                      history_sample=None)
        seconds = time.perf_counter() - start
        model.train(False)
        predicted = np.argmax(model.forward(data.X_test), axis=1)
        test_accuracy = evaluate(model, data.X_test, data.y_test)[1]
    return CnnRun(model, history, data.X_test, data.y_test, predicted, test_accuracy, len(data.y_train),
                  len(data.y_dev), seconds)


def feature_maps(model, image, upto=2):
    """The activations of ``image : (1, 28, 28)`` after the first ``upto`` layers of ``model`` (conv1 and its ReLU).

    Returns ``(F, H', W')``.
    """
    x = np.asarray(image, dtype=np.float32)[None]
    for layer in model.layers[:upto]:
        x = layer.forward(x)
    return x[0]


def first_layer_change(run, settings=CNN_SETTINGS):
    """The first layer's filters after training and before it (``deck_cnn(seed)`` again), and how far they moved.

    Returns ``(W, W_initial, change)``, both ``(32, 1, 5, 5)``, and
    ``change = ‖W − W_initial‖ / ‖W_initial‖`` (Frobenius norms), a float.
    """
    W = run.model.layers[0].params["W"]
    W_initial = conv.deck_cnn(seed=settings["seed"], dtype=W.dtype).layers[0].params["W"]
    return W, W_initial, float(np.linalg.norm(W - W_initial) / np.linalg.norm(W_initial))
