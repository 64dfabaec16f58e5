"""Convolutions and pooling on images, written twice: loops that mirror the formulas, and a fast version.

Shapes, as in PyTorch: images ``x : (m, C, H, W)`` (examples, channels, rows,
columns), filters ``W : (F, C, k_h, k_w)`` (one filter per output channel, each
spanning all input channels), biases ``b : (F,)``. With padding ``p`` and stride
``s``, a kernel of size ``k`` fits ``⌊(H + 2p − k)/s⌋ + 1`` times along an axis of
``H`` pixels (:func:`output_size`).

What a convolution layer computes is a cross-correlation (the kernel is not
flipped, as in every deep-learning library)::

    out[n, f, i, j] = b[f] + Σ_c Σ_u Σ_v W[f, c, u, v] · x_p[n, c, s·i + u, s·j + v]

where ``x_p`` is ``x`` with ``p`` rows and columns of zeros around it.

The module holds, side by side:

* the **naive** pairs (:func:`conv_forward_naive`, :func:`conv_backward_naive`,
  :func:`maxpool_forward_naive`, …): loops over the outputs whose body is the
  formula, for teaching and as the reference the fast versions are tested against;
* the **fast** pairs (:func:`conv_forward`, :func:`conv_backward`,
  :func:`maxpool_forward`, …): the convolution as one matrix product on the
  windows laid out as rows (:func:`im2col`), its input gradient scattered back
  with :func:`col2im`; pooling with one vectorized operation per kernel offset;
* the **layers** :class:`Conv2D`, :class:`MaxPool2D`, :class:`AvgPool2D`, which
  follow the contract of :mod:`nnbook.layers` and call the fast pairs;
* :func:`deck_cnn`, the small network of the lecture, built from these pieces.

Every pair is pure: ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> gradients``, with plain arrays in and out.

**Memory layout.** The fast functions accept images in any memory layout and
return ``(m, C, H, W)`` arrays that are *views* of channels-last memory
``(m, H, W, C)`` (``out.transpose(0, 2, 3, 1)`` is contiguous). Element-wise
layers (ReLU) keep that layout, pooling keeps it, and the next convolution
reads its windows from it without a transposed copy. The shapes, the values and
everything a user sees are those of ``(m, C, H, W)`` arrays; only the strides differ.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .initialization import as_generator, initialize, zeros
from .layers import Flatten, Layer, Linear, ReLU, Sequential
from .validation import check_finite

# ---------------------------------------------------------------------------
# Sizes and checks
# ---------------------------------------------------------------------------


def _pair(value, name):
    """``value`` as a pair of ints ``(vertical, horizontal)``: an int ``k`` means ``(k, k)``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    try:
        vertical, horizontal = pair
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    for entry in (vertical, horizontal):
        if isinstance(entry, bool) or not isinstance(entry, (int, np.integer)):
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(vertical), int(horizontal)


def _check_geometry(kernel, stride, padding, where):
    """Kernel, stride and padding as pairs: kernel and stride ≥ 1, padding ≥ 0."""
    kernel, stride, padding = _pair(kernel, "kernel_size"), _pair(stride, "stride"), _pair(padding, "padding")
    if min(kernel) < 1:
        raise ValueError(f"{where}: the kernel size must be positive, got {kernel}")
    if min(stride) < 1:
        raise ValueError(f"{where}: the stride must be a positive integer, got {stride}")
    if min(padding) < 0:
        raise ValueError(f"{where}: the padding must be a non-negative integer, got {padding}")
    return kernel, stride, padding


def output_size(n, k, stride=1, padding=0):
    """How many times a kernel of size ``k`` fits along an axis of ``n`` pixels: ``⌊(n + 2p − k)/s⌋ + 1``.

    The window starts at ``0, s, 2s, …`` in the padded axis of ``n + 2p`` pixels
    and must end inside it: the last start is at most ``n + 2p − k``. A kernel
    larger than the padded axis fits nowhere: a ``ValueError``.
    """
    for value, name, low in ((n, "n", 1), (k, "k", 1), (stride, "stride", 1), (padding, "padding", 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"output_size: {name} must be an integer ≥ {low}, got {value!r}")
    if k > n + 2 * padding:
        raise ValueError(f"output_size: a kernel of size {k} is larger than the padded input, "
                         f"{n} + 2·{padding} = {n + 2 * padding} pixels")
    return (n + 2 * padding - k) // stride + 1


def _check_images(x, where, name="x"):
    """``x`` as a floating ``(m, C, H, W)`` array without NaN (an integer array becomes float64)."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        if x.dtype.kind not in "iub":
            raise TypeError(f"{where}: {name} must be a numeric array, got dtype {x.dtype}")
        x = x.astype(np.float64)
    if x.ndim != 4:
        raise ValueError(f"{where}: {name} must be images of shape (m, C, H, W), got shape {x.shape}")
    return check_finite(x, f"{where}: {name}")


def _check_fits(x_shape, kernel, stride, padding, where):
    """The output size ``(H', W')``; a clear error if the kernel is larger than the padded input."""
    (H, W), (k_h, k_w), (p_h, p_w) = x_shape[2:], kernel, padding
    if k_h > H + 2 * p_h or k_w > W + 2 * p_w:
        raise ValueError(f"{where}: the kernel {k_h}×{k_w} is larger than the padded input "
                         f"{H + 2 * p_h}×{W + 2 * p_w} (input {H}×{W}, padding {padding})")
    return (H + 2 * p_h - k_h) // stride[0] + 1, (W + 2 * p_w - k_w) // stride[1] + 1


def _check_conv_arguments(x, W, b, stride, padding, where):
    x = _check_images(x, where)
    W = _check_images(W, where, "W")  # (F, C, k_h, k_w) has four axes too
    b = check_finite(np.asarray(b), f"{where}: b")
    if W.shape[1] != x.shape[1]:
        raise ValueError(f"{where}: channel mismatch: x has {x.shape[1]} channels (shape {x.shape}) but the "
                         f"filters W expect {W.shape[1]} (shape (F, C, k_h, k_w) = {W.shape})")
    if b.shape != (W.shape[0],):
        raise ValueError(f"{where}: b must have shape ({W.shape[0]},), one bias per filter, got {b.shape}")
    kernel, stride, padding = _check_geometry(W.shape[2:], stride, padding, where)
    _check_fits(x.shape, kernel, stride, padding, where)
    return x, W, b, stride, padding


def _pad(x, padding):
    """``x : (m, C, H, W)`` with ``p_h`` rows and ``p_w`` columns of zeros on each side (``x`` itself if none)."""
    p_h, p_w = padding
    if p_h == p_w == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (p_h, p_h), (p_w, p_w)))


# ---------------------------------------------------------------------------
# Convolution: the loops
# ---------------------------------------------------------------------------


def conv_forward_naive(x, W, b, stride=1, padding=0):
    """Convolution (cross-correlation) by loops over the outputs; returns ``(out, cache)``.

    ``x : (m, C, H, W)``, ``W : (F, C, k_h, k_w)``, ``b : (F,)``; ``stride`` and
    ``padding`` are ints or pairs ``(vertical, horizontal)``. ``out : (m, F, H', W')`` with
    ``H' = ⌊(H + 2p − k_h)/s⌋ + 1`` and ``W' = ⌊(W + 2p − k_w)/s⌋ + 1``, and::

        out[n, f, i, j] = b[f] + Σ_c Σ_u Σ_v W[f, c, u, v] · x_p[n, c, s·i + u, s·j + v]

    the sum of the product of filter ``f`` with the window of ``x_p`` (``x`` padded
    with zeros) whose top-left corner is at ``(s·i, s·j)``. ``cache = (x, W, b, stride, padding)``.
    """
    x, W, b, stride, padding = _check_conv_arguments(x, W, b, stride, padding, "conv_forward_naive")
    (m, F), (k_h, k_w) = (x.shape[0], W.shape[0]), W.shape[2:]
    H_out, W_out = _check_fits(x.shape, (k_h, k_w), stride, padding, "conv_forward_naive")
    x_p = _pad(x, padding)
    out = np.zeros((m, F, H_out, W_out), dtype=np.result_type(x, W))
    for n in range(m):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = stride[0] * i, stride[1] * j
                    window = x_p[n, :, top : top + k_h, left : left + k_w]  # (C, k_h, k_w)
                    out[n, f, i, j] = np.sum(window * W[f]) + b[f]
    return out, (x, W, b, stride, padding)


def conv_backward_naive(dout, cache):
    """Backward pass of :func:`conv_forward_naive` by loops; returns ``(dx, dW, db)``.

    ``dout : (m, F, H', W')``. Each output ``out[n, f, i, j]`` used the window
    ``x_p[n, :, s·i : s·i + k_h, s·j : s·j + k_w]`` and filter ``W[f]``, so it sends
    ``dout[n, f, i, j]`` times the filter back to that window, and times the window to the filter::

        db[f]          = Σ_n Σ_i Σ_j dout[n, f, i, j]
        dW[f, c, u, v] = Σ_n Σ_i Σ_j dout[n, f, i, j] · x_p[n, c, s·i + u, s·j + v]
        dx_p[n, c, s·i + u, s·j + v] += Σ_f dout[n, f, i, j] · W[f, c, u, v]

    ``dW`` is the cross-correlation of the input with ``dout`` (a kernel of size
    ``H' × W'``, dilated by the stride); ``dx_p`` is the *full* convolution of
    ``dout`` (dilated by the stride) with the filters flipped by 180°, summed over
    ``f``. The padding is then cut off: ``dx = dx_p[:, :, p : p + H, p : p + W]``.
    """
    x, W, b, stride, padding = cache
    (m, _, H, W_in), (F, _, k_h, k_w) = x.shape, W.shape
    _, _, H_out, W_out = dout.shape
    x_p = _pad(x, padding)
    dx_p, dW = np.zeros_like(x_p), np.zeros_like(W)
    for n in range(m):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = stride[0] * i, stride[1] * j
                    dW[f] += dout[n, f, i, j] * x_p[n, :, top : top + k_h, left : left + k_w]
                    dx_p[n, :, top : top + k_h, left : left + k_w] += dout[n, f, i, j] * W[f]
    db = dout.sum(axis=(0, 2, 3))
    p_h, p_w = padding
    dx = dx_p[:, :, p_h : p_h + H, p_w : p_w + W_in]
    return dx, dW, db.astype(b.dtype, copy=False)


# ---------------------------------------------------------------------------
# Convolution: im2col, one matrix product
# ---------------------------------------------------------------------------


def _channels_last_padded(x, padding):
    """``x : (m, C, H, W)`` as channels-last ``(m, H + 2p_h, W + 2p_w, C)``, zeros around; a view if no padding."""
    m, C, H, W = x.shape
    p_h, p_w = padding
    nhwc = x.transpose(0, 2, 3, 1)
    if p_h == p_w == 0:
        return nhwc
    x_p = np.zeros((m, H + 2 * p_h, W + 2 * p_w, C), dtype=x.dtype)
    x_p[:, p_h : p_h + H, p_w : p_w + W, :] = nhwc
    return x_p


def _windows(x_p, kernel, stride):
    """Every window of channels-last ``x_p : (m, H_p, W_p, C)``, as a view ``(m, H', W', k_h, k_w, C)``: no copy."""
    (k_h, k_w), (s_h, s_w) = kernel, stride
    view = sliding_window_view(x_p, (k_h, k_w), axis=(1, 2))  # (m, H_p − k_h + 1, W_p − k_w + 1, C, k_h, k_w)
    return view[:, ::s_h, ::s_w].transpose(0, 1, 2, 4, 5, 3)


def im2col(x, k_h, k_w, stride=1, padding=0):
    """Every ``k_h × k_w`` window of ``x : (m, C, H, W)`` as a row: ``cols : (m·H'·W', k_h·k_w·C)``.

    Row ``(n·H' + i)·W' + j`` holds the window of example ``n`` whose top-left
    corner is at ``(s·i, s·j)`` in ``x`` padded with zeros; within a row the
    values are ordered by kernel row ``u``, kernel column ``v``, then channel
    ``c``: entry ``(u·k_w + v)·C + c`` is ``x_p[n, c, s·i + u, s·j + v]``. With the
    filters laid out in the same order, ``W_col = W.transpose(2, 3, 1, 0).reshape(k_h·k_w·C, F)``
    (:func:`filters_to_columns`), the convolution is one matrix product::

        out[n, f, i, j] = (cols @ W_col)[(n·H' + i)·W' + j, f] + b[f]

    Channels last (``(u, v, c)`` rather than ``(c, u, v)``) because the
    convolution layers keep their images in channels-last memory: each row is
    then copied in runs of ``C`` contiguous values. ``H' = ⌊(H + 2p − k_h)/s⌋ + 1``,
    likewise ``W'``. ``stride`` and ``padding`` are ints or pairs.
    """
    kernel, stride, padding = _check_geometry((k_h, k_w), stride, padding, "im2col")
    x = _check_images(x, "im2col")
    _check_fits(x.shape, kernel, stride, padding, "im2col")
    return _im2col(x, kernel, stride, padding)


def _im2col(x, kernel, stride, padding):
    x_p = _channels_last_padded(x, padding)
    if x_p.shape[3] == 1:  # one channel (the first layer): build the transpose, rows of W' contiguous values
        return _im2col_one_channel(x_p, kernel, stride)
    windows = _windows(x_p, kernel, stride)  # (m, H', W', k_h, k_w, C), a view
    m, H_out, W_out, k_h, k_w, C = windows.shape
    return windows.reshape(m * H_out * W_out, k_h * k_w * C)  # the one copy


def _im2col_one_channel(x_p, kernel, stride):
    """:func:`im2col` of one-channel images ``x_p : (m, H_p, W_p, 1)``, as the transposed view of a ``(k_h·k_w, m·H'·W')``.

    Copying offset by offset (the strided slice ``x_p[:, u::s, v::s]`` into row
    ``u·k_w + v``) writes contiguous runs of ``W'`` values, three times faster than
    gathering windows of ``k_w`` values; the matrix products take the transposed view as it is.
    """
    (k_h, k_w), (s_h, s_w) = kernel, stride
    m, H_p, W_p, _ = x_p.shape
    H_out, W_out = (H_p - k_h) // s_h + 1, (W_p - k_w) // s_w + 1
    cols_t = np.empty((k_h, k_w, m, H_out, W_out), dtype=x_p.dtype)
    for u in range(k_h):
        for v in range(k_w):
            cols_t[u, v] = x_p[:, u : u + s_h * H_out : s_h, v : v + s_w * W_out : s_w, 0]
    return cols_t.reshape(k_h * k_w, m * H_out * W_out).T


def col2im(cols, x_shape, k_h, k_w, stride=1, padding=0):
    """The adjoint of :func:`im2col`: add every row of ``cols : (m·H'·W', k_h·k_w·C)`` back into its window.

    Returns ``dx : (m, C, H, W)`` (``x_shape``) where each pixel receives the sum
    of the entries of ``cols`` that :func:`im2col` copied from it (a pixel lies in
    up to ``⌈k_h/s⌉ · ⌈k_w/s⌉`` windows); the values that fell on the padding are
    dropped. This is how the gradient of the windows becomes the gradient of the
    image. The loop runs over the ``k_h · k_w`` kernel offsets, not over pixels: for
    offset ``(u, v)`` one strided slice of the padded image receives the ``(u, v)``
    entries of every window at once.
    """
    kernel, stride, padding = _check_geometry((k_h, k_w), stride, padding, "col2im")
    if len(x_shape) != 4:
        raise ValueError(f"col2im: x_shape must be (m, C, H, W), got {x_shape}")
    H_out, W_out = _check_fits(x_shape, kernel, stride, padding, "col2im")
    m, C = x_shape[:2]
    expected = (m * H_out * W_out, k_h * k_w * C)
    if np.shape(cols) != expected:
        raise ValueError(f"col2im: cols must have shape (m·H'·W', k_h·k_w·C) = {expected}, got {np.shape(cols)}")
    return _col2im(np.asarray(cols), tuple(x_shape), kernel, stride, padding)


def _col2im(cols, x_shape, kernel, stride, padding):
    m, C, H, W = x_shape
    (k_h, k_w), (s_h, s_w), (p_h, p_w) = kernel, stride, padding
    H_out, W_out = (H + 2 * p_h - k_h) // s_h + 1, (W + 2 * p_w - k_w) // s_w + 1
    windows = cols.reshape(m, H_out, W_out, k_h, k_w, C)
    dx_p = np.zeros((m, H + 2 * p_h, W + 2 * p_w, C), dtype=cols.dtype)  # channels last, like the windows
    for u in range(k_h):
        for v in range(k_w):
            dx_p[:, u : u + s_h * H_out : s_h, v : v + s_w * W_out : s_w, :] += windows[:, :, :, u, v, :]
    return dx_p[:, p_h : p_h + H, p_w : p_w + W, :].transpose(0, 3, 1, 2)


def filters_to_columns(W):
    """Filters ``W : (F, C, k_h, k_w)`` as the ``(k_h·k_w·C, F)`` matrix that multiplies :func:`im2col`'s rows."""
    F, C, k_h, k_w = W.shape
    return W.transpose(2, 3, 1, 0).reshape(k_h * k_w * C, F)


def conv_forward(x, W, b, stride=1, padding=0, check=True):
    """Convolution as one matrix product on the windows (:func:`im2col`); returns ``(out, cache)``.

    Same inputs and output as :func:`conv_forward_naive`: ``x : (m, C, H, W)``,
    ``W : (F, C, k_h, k_w)``, ``b : (F,)`` → ``out : (m, F, H', W')`` with
    ``H' = ⌊(H + 2p − k_h)/s⌋ + 1``, ``W' = ⌊(W + 2p − k_w)/s⌋ + 1``::

        cols = im2col(x)                      (m·H'·W', k_h·k_w·C)
        out  = cols @ W_col + b               (m·H'·W', F)  =  (m, H', W', F)

    ``out`` is returned as an ``(m, F, H', W')`` view of that channels-last
    result (no copy). ``cache = {"cols", "W_col", "x_shape", "kernel", "stride", "padding"}``.
    ``check=False`` skips the argument checks (the :class:`Conv2D` layer checks its input's shape itself).
    """
    if check:
        x, W, b, stride, padding = _check_conv_arguments(x, W, b, stride, padding, "conv_forward")
    else:
        stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    F, C, k_h, k_w = W.shape
    m, _, H, W_in = x.shape
    H_out, W_out = (H + 2 * padding[0] - k_h) // stride[0] + 1, (W_in + 2 * padding[1] - k_w) // stride[1] + 1
    cols = _im2col(x, (k_h, k_w), stride, padding)
    W_col = filters_to_columns(W)
    out = cols @ W_col
    out += b
    cache = {"cols": cols, "W_col": W_col, "x_shape": x.shape, "kernel": (k_h, k_w), "stride": stride,
             "padding": padding}
    return out.reshape(m, H_out, W_out, F).transpose(0, 3, 1, 2), cache


def conv_backward(dout, cache, input_grad=True):
    """Backward pass of :func:`conv_forward`; returns ``(dx, dW, db)``, the gradients of the naive version.

    With ``dout : (m, F, H', W')`` read as the channels-last matrix ``D : (m·H'·W', F)``,
    the product ``out = cols @ W_col + b`` gives, as for a :class:`~nnbook.layers.Linear` layer::

        db     = Σ_rows D                     (F,)
        dW_col = colsᵀ @ D                    (k_h·k_w·C, F)   → dW : (F, C, k_h, k_w)
        dcols  = D @ W_colᵀ                   (m·H'·W', k_h·k_w·C)
        dx     = col2im(dcols)                (m, C, H, W)

    ``input_grad=False`` skips ``dx`` (``None``): a network's first layer does not need it.
    """
    cols, W_col = cache["cols"], cache["W_col"]
    m, C, H, W_in = cache["x_shape"]
    k_h, k_w = cache["kernel"]
    F = W_col.shape[1]
    D = dout.transpose(0, 2, 3, 1).reshape(-1, F)  # no copy when dout is channels-last in memory
    db = D.reshape(m, -1).sum(axis=0).reshape(-1, F).sum(axis=0)  # over examples, then pixels: long inner loops
    dW = (cols.T @ D).reshape(k_h, k_w, C, F).transpose(3, 2, 0, 1)
    dx = None
    if input_grad:
        dx = _col2im(D @ W_col.T, (m, C, H, W_in), cache["kernel"], cache["stride"], cache["padding"])
    return dx, np.ascontiguousarray(dW), db


# ---------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------


def _check_pool_arguments(x, kernel_size, stride, where):
    x = _check_images(x, where)
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else stride
    kernel, stride, _ = _check_geometry(kernel, stride, 0, where)
    _check_fits(x.shape, kernel, stride, (0, 0), where)
    return x, kernel, stride


def _pool_output_shape(x_shape, kernel, stride):
    m, C, H, W = x_shape
    return m, C, (H - kernel[0]) // stride[0] + 1, (W - kernel[1]) // stride[1] + 1


def maxpool_forward_naive(x, kernel_size, stride=None):
    """Max pooling by loops: the largest value of each ``k_h × k_w`` window; returns ``(out, cache)``.

    ``x : (m, C, H, W)`` → ``out : (m, C, H', W')`` with ``H' = ⌊(H − k_h)/s⌋ + 1``
    (no padding; ``stride`` defaults to the kernel size: windows side by side)::

        out[n, c, i, j] = max_{u, v} x[n, c, s·i + u, s·j + v]

    Each channel is pooled on its own. ``cache = (x, kernel, stride)``.
    """
    x, kernel, stride = _check_pool_arguments(x, kernel_size, stride, "maxpool_forward_naive")
    m, C, H_out, W_out = _pool_output_shape(x.shape, kernel, stride)
    out = np.zeros((m, C, H_out, W_out), dtype=x.dtype)
    for n in range(m):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = stride[0] * i, stride[1] * j
                    out[n, c, i, j] = x[n, c, top : top + kernel[0], left : left + kernel[1]].max()
    return out, (x, kernel, stride)


def maxpool_backward_naive(dout, cache):
    """Backward pass of :func:`maxpool_forward_naive` by loops; returns ``dx : (m, C, H, W)``.

    The maximum is a switch: ``dout[n, c, i, j]`` goes, whole, to the position of
    the window's maximum, and nothing to the others. A tie goes to the *first*
    maximum in row-major order within the window (``np.argmax``'s rule, and
    PyTorch's). Windows that overlap (``s < k``) add their contributions.
    """
    x, kernel, stride = cache
    _, _, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = stride[0] * i, stride[1] * j
                    window = x[n, c, top : top + kernel[0], left : left + kernel[1]]
                    u, v = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, top + u, left + v] += dout[n, c, i, j]
    return dx


def avgpool_forward_naive(x, kernel_size, stride=None):
    """Average pooling by loops: the mean of each ``k_h × k_w`` window; returns ``(out, cache)``.

    ``x : (m, C, H, W)`` → ``out : (m, C, H', W')``, ``H' = ⌊(H − k_h)/s⌋ + 1``::

        out[n, c, i, j] = 1/(k_h k_w) Σ_u Σ_v x[n, c, s·i + u, s·j + v]

    ``cache = (x.shape, kernel, stride)``.
    """
    x, kernel, stride = _check_pool_arguments(x, kernel_size, stride, "avgpool_forward_naive")
    m, C, H_out, W_out = _pool_output_shape(x.shape, kernel, stride)
    out = np.zeros((m, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            top, left = stride[0] * i, stride[1] * j
            out[:, :, i, j] = x[:, :, top : top + kernel[0], left : left + kernel[1]].mean(axis=(2, 3))
    return out, (x.shape, kernel, stride)


def avgpool_backward_naive(dout, cache):
    """Backward pass of :func:`avgpool_forward_naive` by loops; returns ``dx : (m, C, H, W)``.

    Each pixel of a window received weight ``1/(k_h k_w)``, so each gets
    ``dout[n, c, i, j] / (k_h k_w)``; a pixel in several windows (``s < k``) adds them.
    """
    x_shape, kernel, stride = cache
    _, _, H_out, W_out = dout.shape
    dx = np.zeros(x_shape, dtype=dout.dtype)
    share = dout / (kernel[0] * kernel[1])
    for i in range(H_out):
        for j in range(W_out):
            top, left = stride[0] * i, stride[1] * j
            dx[:, :, top : top + kernel[0], left : left + kernel[1]] += share[:, :, i, j, None, None]
    return dx


def _offset_slices(x, kernel, stride, out_hw):
    """For each kernel offset ``(u, v)``, the strided view ``x[:, :, u + s·i, v + s·j]`` over the outputs ``(i, j)``."""
    (k_h, k_w), (s_h, s_w), (H_out, W_out) = kernel, stride, out_hw
    for u in range(k_h):
        for v in range(k_w):
            yield x[:, :, u : u + s_h * H_out : s_h, v : v + s_w * W_out : s_w]


def _in_layout_of(a, reference):
    """``a`` with the memory layout of ``reference`` (same shape): a copy only when the layouts differ.

    Element-wise operations between arrays of different layouts (one ``(m, C, H, W)``,
    the other channels-last) run with short inner loops; one copy up front is cheaper.
    """
    if np.argsort(a.strides).tolist() == np.argsort(reference.strides).tolist():
        return a
    same = np.empty_like(reference, dtype=a.dtype)  # empty_like keeps the layout of reference
    same[...] = a
    return same


def _empty_like_channels_last(shape, dtype, zero=True):
    """A zero (or, with ``zero=False``, uninitialized) ``(m, C, H, W)`` array in channels-last memory ``(m, H, W, C)``."""
    m, C, H, W = shape
    return (np.zeros if zero else np.empty)((m, H, W, C), dtype=dtype).transpose(0, 3, 1, 2)


def _windows_tile(shape, kernel, stride):
    """Whether the pooling windows cover every pixel exactly once (side by side, no pixel left over)."""
    return stride == kernel and shape[2] % kernel[0] == 0 and shape[3] % kernel[1] == 0


def maxpool_forward(x, kernel_size, stride=None, check=True):
    """Max pooling, one vectorized step per kernel offset; returns ``(out, cache)``.

    ``x : (m, C, H, W)`` → ``out : (m, C, H', W')`` with ``H' = ⌊(H − k_h)/s⌋ + 1``,
    ``W' = ⌊(W − k_w)/s⌋ + 1``; ``stride`` defaults to the kernel size. For each of
    the ``k_h · k_w`` offsets ``(u, v)``, the strided view ``x[:, :, u + s·i, v + s·j]``
    holds that entry of every window: the maximum is the running ``np.maximum``
    over the offsets, ``k_h · k_w`` passes over the output and no copy of the windows.
    ``cache = {"x", "out", "kernel", "stride"}``: :func:`maxpool_backward` finds the
    maxima again by comparing ``x`` with ``out``. The cache holds ``x`` itself, not a
    copy: change ``x`` in place between the two passes and the gradient is wrong.
    """
    if check:
        x, kernel, stride = _check_pool_arguments(x, kernel_size, stride, "maxpool_forward")
    else:
        kernel = _pair(kernel_size, "kernel_size")
        stride = kernel if stride is None else _pair(stride, "stride")
    slices = _offset_slices(x, kernel, stride, _pool_output_shape(x.shape, kernel, stride)[2:])
    out = next(slices).copy(order="K")  # "K": keep the memory layout of x
    for candidate in slices:
        np.maximum(out, candidate, out=out)
    return out, {"x": x, "out": out, "kernel": kernel, "stride": stride}


def maxpool_backward(dout, cache):
    """Backward pass of :func:`maxpool_forward`: ``dout[n, c, i, j]`` to the position of its window's maximum.

    ``dout : (m, C, H', W')`` → ``dx : (m, C, H, W)``. The offsets are visited in
    row-major order; at each, the windows whose maximum sits there *and* has not
    been claimed by an earlier offset send their ``dout`` to the strided view
    ``dx[:, :, u + s·i, v + s·j]``. So a tie goes to the first maximum in row-major
    order within the window, as in PyTorch (and :func:`maxpool_backward_naive`).
    With overlapping windows (``s < k``) a pixel can receive from several windows,
    and the contributions add; a pixel that is the maximum of no window gets 0.
    """
    x, out, kernel, stride = cache["x"], cache["out"], cache["kernel"], cache["stride"]
    # every pixel is assigned below when the windows tile the image: no need to fill dx with zeros first
    dx = _empty_like_channels_last(x.shape, np.result_type(dout, x), zero=not _windows_tile(x.shape, kernel, stride))
    dout = _in_layout_of(dout, out)
    overlapping = stride[0] < kernel[0] or stride[1] < kernel[1]
    here = np.empty_like(out, dtype=bool)  # the windows whose first maximum sits at this offset
    unclaimed = np.empty_like(here)  # the windows whose maximum has not been found yet
    last = kernel[0] * kernel[1] - 1
    offsets = zip(_offset_slices(x, kernel, stride, out.shape[2:]), _offset_slices(dx, kernel, stride, out.shape[2:]))
    for offset, (candidate, target) in enumerate(offsets):
        np.equal(candidate, out, out=here)
        if offset == 0:
            np.logical_not(here, out=unclaimed)
        else:
            np.logical_and(here, unclaimed, out=here)
            if offset < last:
                np.logical_xor(unclaimed, here, out=unclaimed)  # unclaimed ∧ ¬here, as here ⊆ unclaimed
        if overlapping:
            target += dout * here
        else:
            np.multiply(dout, here, out=target)
    return dx


def avgpool_forward(x, kernel_size, stride=None, check=True):
    """Average pooling, one vectorized sum per kernel offset; returns ``(out, cache)``.

    ``x : (m, C, H, W)`` → ``out : (m, C, H', W')``, ``H' = ⌊(H − k_h)/s⌋ + 1``,
    ``W' = ⌊(W − k_w)/s⌋ + 1``::

        out = 1/(k_h k_w) Σ_{u, v} x[:, :, u + s·i, v + s·j]

    ``cache = {"x_shape", "kernel", "stride"}``: the backward pass needs no values.
    """
    if check:
        x, kernel, stride = _check_pool_arguments(x, kernel_size, stride, "avgpool_forward")
    else:
        kernel = _pair(kernel_size, "kernel_size")
        stride = kernel if stride is None else _pair(stride, "stride")
    out_shape = _pool_output_shape(x.shape, kernel, stride)
    slices = _offset_slices(x, kernel, stride, out_shape[2:])
    out = next(slices).copy(order="K")
    for candidate in slices:
        out += candidate
    out *= out.dtype.type(1.0 / (kernel[0] * kernel[1]))
    return out, {"x_shape": x.shape, "kernel": kernel, "stride": stride}


def avgpool_backward(dout, cache):
    """Backward pass of :func:`avgpool_forward`: each window spreads ``dout / (k_h k_w)`` over its pixels.

    ``dout : (m, C, H', W')`` → ``dx : (m, C, H, W)``; a pixel in several windows
    (``s < k``) receives the sum of their shares, one that is in none receives 0.
    """
    kernel, stride = cache["kernel"], cache["stride"]
    share = dout * dout.dtype.type(1.0 / (kernel[0] * kernel[1]))
    tiled = _windows_tile(cache["x_shape"], kernel, stride)  # each pixel in exactly one window: assign, not add
    dx = _empty_like_channels_last(cache["x_shape"], share.dtype, zero=not tiled)
    for target in _offset_slices(dx, kernel, stride, dout.shape[2:]):
        if tiled:
            target[...] = share
        else:
            target += share
    return dx


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------


class Conv2D(Layer):
    """Convolution layer: ``F`` filters ``W : (F, C_in, k_h, k_w)`` and biases ``b : (F,)``.

    ``(m, C_in, H, W) → (m, F, H', W')`` with ``H' = ⌊(H + 2p − k_h)/s⌋ + 1``,
    ``W' = ⌊(W + 2p − k_w)/s⌋ + 1`` (:func:`conv_forward`, :func:`conv_backward`).
    ``kernel_size``, ``stride`` and ``padding`` are ints or pairs. It has
    ``F · (C_in · k_h · k_w + 1)`` parameters, whatever the size of the image.
    ``W`` is drawn by the initializer ``init`` of :mod:`nnbook.initialization`
    (fan-in ``C_in · k_h · k_w``) from ``seed``; ``b`` starts at zero.
    ``input_grad=False`` is for a network's first layer: ``backward`` then fills
    ``dW`` and ``db`` and returns ``None``, as :class:`~nnbook.layers.Linear` does.
    """

    def __init__(self, C_in, F, kernel_size, stride=1, padding=0, init="he", seed=0, dtype=np.float64,
                 input_grad=True):
        super().__init__()
        for value, name in ((C_in, "C_in"), (F, "F")):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Conv2D needs a positive integer {name}, got {value!r}")
        self.kernel, self.stride, self.padding = _check_geometry(kernel_size, stride, padding, "Conv2D")
        self.C_in, self.F, self.input_grad = int(C_in), int(F), input_grad
        rng = as_generator(seed)
        self.params = {"W": initialize(init, (self.F, self.C_in, *self.kernel), rng, dtype),
                       "b": zeros(self.F, dtype=dtype)}
        self.zero_grad()

    def __repr__(self):
        extra = "".join(f", {name}={value}" for name, value, default in
                        (("stride", self.stride, (1, 1)), ("padding", self.padding, (0, 0))) if value != default)
        return f"Conv2D({self.C_in}, {self.F}, kernel_size={self.kernel}{extra})" + (
            "" if self.input_grad else ", input_grad=False")

    def output_shape(self, input_shape):
        """``(m, F, H', W')`` for an input of shape ``(m, C_in, H, W)``."""
        (H_out, W_out) = _check_fits(input_shape, self.kernel, self.stride, self.padding, repr(self))
        return (input_shape[0], self.F, H_out, W_out)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.C_in:
            raise ValueError(f"{self!r} expects images of shape (m, {self.C_in}, H, W), got {x.shape}")
        shape = self.output_shape(x.shape)
        out, cache = conv_forward(x, self.params["W"], self.params["b"], self.stride, self.padding, check=False)
        self.cache = (shape, cache)
        return out

    def backward(self, dout):
        shape, cache = self._cached()
        self._check_dout(dout, shape)
        dx, self.grads["W"], self.grads["b"] = conv_backward(dout, cache, self.input_grad)
        return dx


class _Pooling:
    """What the pooling layers share (a mixin, not a layer itself): no parameters; ``stride`` defaults to the kernel.

    ``forward_pair`` and ``backward_pair`` name the pure functions the layer calls.
    """

    forward_pair = backward_pair = None

    def __init__(self, kernel_size, stride=None):
        Layer.__init__(self)
        kernel = _pair(kernel_size, "kernel_size")
        self.kernel, self.stride, _ = _check_geometry(kernel, kernel if stride is None else stride, 0,
                                                      type(self).__name__)

    def __repr__(self):
        stride = "" if self.stride == self.kernel else f", stride={self.stride}"
        return f"{type(self).__name__}({self.kernel}{stride})"

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"{self!r} expects images of shape (m, C, H, W), got {x.shape}")
        _check_fits(x.shape, self.kernel, self.stride, (0, 0), repr(self))
        out, cache = type(self).forward_pair(x, self.kernel, self.stride, check=False)
        self.cache = (out.shape, cache)
        return out

    def backward(self, dout):
        shape, cache = self._cached()
        self._check_dout(dout, shape)
        return type(self).backward_pair(dout, cache)


class MaxPool2D(_Pooling, Layer):
    """Max pooling ``(m, C, H, W) → (m, C, H', W')``, ``H' = ⌊(H − k_h)/s⌋ + 1`` (:func:`maxpool_forward`).

    ``stride`` defaults to ``kernel_size`` (windows side by side, as in PyTorch).
    The gradient goes to each window's maximum (the first one, in a tie).
    """

    forward_pair, backward_pair = staticmethod(maxpool_forward), staticmethod(maxpool_backward)


class AvgPool2D(_Pooling, Layer):
    """Average pooling ``(m, C, H, W) → (m, C, H', W')``, ``H' = ⌊(H − k_h)/s⌋ + 1`` (:func:`avgpool_forward`).

    ``stride`` defaults to ``kernel_size``. The gradient is spread evenly, ``1/(k_h k_w)`` to each pixel of a window.
    """

    forward_pair, backward_pair = staticmethod(avgpool_forward), staticmethod(avgpool_backward)


# ---------------------------------------------------------------------------
# The lecture's network
# ---------------------------------------------------------------------------

#: The shapes of one image through :func:`deck_cnn`, layer by layer (after each layer).
DECK_CNN_SHAPES = ((1, 28, 28), (32, 24, 24), (32, 24, 24), (32, 8, 8), (64, 4, 4), (64, 4, 4), (64, 2, 2),
                   (256,), (256,), (256,), (10,))


def deck_cnn(seed=0, dtype=np.float32, input_grad=True):
    """The small CNN of the lecture, for ``(m, 1, 28, 28)`` images and 10 classes, as a ``Sequential``.

    ``Conv(1→32, 5×5) – ReLU – MaxPool(3) – Conv(32→64, 5×5) – ReLU – MaxPool(2) –
    Flatten – Linear(256→256) – ReLU – Linear(256→10)``; the side of the image
    goes 28 → 24 → 8 → 4 → 2 (``⌊(28 − 5)/1⌋ + 1 = 24``, ``⌊(24 − 3)/3⌋ + 1 = 8``, …),
    so the flattened features number ``64 · 2 · 2 = 256`` (:data:`DECK_CNN_SHAPES`).
    Every layer is drawn with He's initialization from one generator seeded with ``seed``.
    """
    rng = as_generator(seed)
    return Sequential(
        Conv2D(1, 32, 5, seed=rng, dtype=dtype, input_grad=input_grad), ReLU(), MaxPool2D(3),
        Conv2D(32, 64, 5, seed=rng, dtype=dtype), ReLU(), MaxPool2D(2),
        Flatten(), Linear(256, 256, seed=rng, dtype=dtype), ReLU(), Linear(256, 10, seed=rng, dtype=dtype),
    )


def parameter_count(model):
    """The number of trained values of ``model``: ``F · (C · k_h · k_w + 1)`` for a :class:`Conv2D`."""
    return sum(math.prod(param.shape) for _, param, _ in model.params_and_grads())
