"""Benchmark: one training epoch of the lecture's small CNN, nnbook (numpy) against PyTorch on the CPU.

The network is :func:`nnbook.conv.deck_cnn`, ``Conv(1→32, 5) – ReLU – MaxPool(3) –
Conv(32→64, 5) – ReLU – MaxPool(2) – Flatten – Linear(256→256) – ReLU –
Linear(256→10)``, in float32, trained with plain SGD (``lr = 0.01``, no momentum)
and softmax cross-entropy, with mini-batches of 64, on 5,000 MNIST images of
28 × 28: the 4,000 training and 1,000 test images of the subset that ships with
the package (``nnbook.data.load_mnist_subset``), repeated when more are asked for.

Both libraries train the same network from the same initial weights (PyTorch's
layers receive copies of nnbook's), on the same mini-batches in the same order
(both walk ``nnbook.optim.minibatch_indices`` with the same seed). What is timed:

* ``fit loop``: the steps ``nnbook.train.fit`` runs for each mini-batch, and nothing
  else (forward, ``SoftmaxCrossEntropy(check=False)``, backward with the first
  layer's ``dx`` skipped, ``SGD.step``);
* ``fit()``: the whole call ``nnbook.train.fit(model, X, y, SGD(0.01), epochs=1,
  batch_size=64, progress=False)``, with its input checks and its history;
* ``torch``: ``torch.nn.Sequential`` of the same layers, ``F.cross_entropy``,
  ``torch.optim.SGD``, with ``torch.set_num_threads`` set to numpy's BLAS threads;
* each layer type alone (``conv1``, ``pool1``, ``conv2``, ``pool2``): its forward and
  backward on the activations it sees in the network for one mini-batch, in both
  libraries (nnbook's activations in the channels-last memory its layers produce,
  PyTorch's in its default contiguous layout);
* the naive loops of :mod:`nnbook.conv` (``conv_forward_naive`` …) for the same
  four layers on a small batch, against the fast functions on that batch;
* a profile of one epoch of the fit loop: the time spent in each layer's forward
  and backward, the loss and the SGD step.

The ways are interleaved, repetition by repetition (one nnbook epoch, one
PyTorch epoch, …), after one warm-up epoch each, and the minimum of the
repetitions is reported: the machine is shared, and load from other processes
only ever adds time. Each timed run starts after a pause (:data:`PAUSE`), so that
the worker threads of the library that ran before have stopped spinning. The warm-up epochs double as a correctness check: after the
first epoch of ``fit()`` and of PyTorch (same start, same batches) the report
gives the largest relative difference between the two sets of parameters.

Run ``python benchmarks/bench_cnn.py`` (about a minute and a half on 2 cores), ``--quick`` for a
smoke run on 256 images, ``--output report.json`` or ``--output report.md`` to save it.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_mlp import (  # noqa: E402  (the machine, as bench_mlp reports it, and the same epochs)
    OtherLoad,
    fit_call,
    hand_written_epoch,
    machine_info,
    numpy_blas,
    timed,
    torch_sgd_epoch,
)

from nnbook import conv  # noqa: E402
from nnbook.data import load_mnist_subset  # noqa: E402
from nnbook.losses import SoftmaxCrossEntropy  # noqa: E402
from nnbook.optim import SGD, minibatch_indices  # noqa: E402

LR = 0.01
#: Seconds of rest before each timed run: the worker threads of the library that ran before (OpenBLAS's,
#: PyTorch's OpenMP) spin for a while after their last call, and would compete with the next run's threads.
PAUSE = 0.3
#: The layers timed alone: their index in ``deck_cnn().layers`` and their name in the report.
LAYERS = {"conv1": 0, "pool1": 2, "conv2": 3, "pool2": 5}


# --- the data and the two networks ---------------------------------------------------------------


def mnist_images(m):
    """``m`` MNIST images ``(m, 1, 28, 28)`` float32 in [0, 1] and their labels (the shipped 5,000, repeated)."""
    split = load_mnist_subset(flatten=False)
    images = np.concatenate([split.X_train, split.X_test])[:, None].astype(np.float32)
    labels = np.concatenate([split.y_train, split.y_test])
    repeats = -(-m // len(images))
    return np.concatenate([images] * repeats)[:m], np.concatenate([labels] * repeats)[:m]


def torch_cnn(torch, start_from):
    """PyTorch's version of ``deck_cnn``, with copies of the parameters of the nnbook network ``start_from``."""
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(3), nn.Conv2d(32, 64, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    with torch.no_grad():
        for theirs, ours in zip(model, start_from.layers):
            if ours.params:  # Conv2d and Conv2D store W as (F, C, k_h, k_w), Linear as (n_out, n_in)
                theirs.weight.copy_(torch.from_numpy(ours.params["W"]))
                theirs.bias.copy_(torch.from_numpy(ours.params["b"]))
    return model


def fit_loop_epoch(X, y, batch_size, seed=1):
    """A model and one epoch of the steps ``fit`` runs per mini-batch (shuffled with ``seed``)."""
    model = conv.deck_cnn(dtype=X.dtype)
    return model, hand_written_epoch(model, X, y, batch_size, fit_loop=True, seed=seed, lr=LR)


def fit_epoch(X, y, batch_size, seed=1):
    """A model and one call of ``fit`` for one epoch (shuffled with ``seed``, as the other ways)."""
    model = conv.deck_cnn(dtype=X.dtype)
    return model, fit_call(model, X, y, batch_size, seed, lr=LR)


def torch_epoch(torch, X, y, batch_size, start_from, seed=1):
    """The PyTorch network, starting from the weights of ``start_from``, and one epoch of it."""
    model = torch_cnn(torch, start_from)
    return model, torch_sgd_epoch(torch, model, X, y, batch_size, seed, lr=LR)


def max_relative_difference(nnbook_model, torch_model):
    """Largest ``max|θ_nnbook − θ_torch| / max|θ_torch|`` over the parameters of the two networks."""
    worst = 0.0
    for ours, theirs in zip(nnbook_model.layers, torch_model):
        for name, attribute in (("W", "weight"), ("b", "bias")):
            if name in ours.params:
                reference = getattr(theirs, attribute).detach().numpy()
                difference = np.max(np.abs(ours.params[name] - reference)) / np.max(np.abs(reference))
                worst = max(worst, float(difference))
    return worst


# --- the epoch -------------------------------------------------------------------------------------


def run_epochs(torch, X, y, batch_size, repeats, with_fit):
    """Seconds per epoch of each way (minimum over ``repeats``, interleaved), all times, and the cross-check."""
    loop_model, loop = fit_loop_epoch(X, y, batch_size)
    epochs = {"fit_loop": loop}
    reference = loop_model
    if with_fit:
        reference, epochs["fit"] = fit_epoch(X, y, batch_size)
    if torch:
        torch_model, epochs["torch"] = torch_epoch(torch, X, y, batch_size, start_from=reference)
    for epoch in epochs.values():  # warm-up; for fit (or its loop) and torch, the first epoch from the same start
        epoch()
    difference = max_relative_difference(reference, torch_model) if torch else None
    times = {name: [] for name in epochs}
    for _ in range(repeats):
        for name, epoch in epochs.items():
            time.sleep(PAUSE)
            times[name].append(timed(epoch))
    return {name: min(values) for name, values in times.items()}, times, difference


def profile_epoch(X, y, batch_size, seed=1):
    """Where one epoch of the fit loop goes: seconds in each layer's forward and backward, the loss and the update.

    Returns ``{"0 Conv2D(…) forward": seconds, …, "loss": …, "SGD step": …, "total": …}``, after a warm-up epoch.
    """
    model = conv.deck_cnn(dtype=X.dtype)
    model.input_grad = False
    loss, optimizer, rng = SoftmaxCrossEntropy(check=False), SGD(LR), np.random.default_rng(seed)
    names = [f"{index} {layer!r}" for index, layer in enumerate(model.layers)]
    spent = {}

    def clock(key, function, *args):
        start = time.perf_counter()
        result = function(*args)
        spent[key] = spent.get(key, 0.0) + time.perf_counter() - start
        return result

    for _ in range(2):  # the first epoch warms up
        spent.clear()
        start = time.perf_counter()
        for batch in minibatch_indices(len(X), batch_size, rng):
            x = clock("gather X[batch]", lambda: X[batch])
            for name, layer in zip(names, model.layers):
                x = clock(f"{name} forward", layer.forward, x)
            clock("loss", loss.forward, x, y[batch])
            dout = clock("loss", loss.backward)
            for name, layer in reversed(list(zip(names, model.layers))):
                if dout is None:
                    break
                dout = clock(f"{name} backward", layer.backward, dout)
            clock("SGD step", optimizer.step, model)
        spent["total"] = time.perf_counter() - start
    return dict(spent)


# --- the layers alone ------------------------------------------------------------------------------


def layer_inputs(X, batch_size):
    """The input of every layer of ``deck_cnn`` for the first mini-batch, as nnbook's forward pass produces it."""
    model = conv.deck_cnn(dtype=X.dtype)
    inputs, x = [], X[:batch_size]
    for layer in model.layers:
        inputs.append(x)
        x = layer.forward(x)
    return model, inputs


def time_layers(torch, X, batch_size, repeats, calls=20):
    """Forward + backward of each layer of :data:`LAYERS` alone, ms per call: ``{name: {"nnbook", "torch"}}``."""
    model, inputs = layer_inputs(X, batch_size)
    model.layers[0].input_grad = False  # as in training: the first layer's dx is never needed
    torch_model = torch_cnn(torch, model) if torch else None
    results = {}
    for name, index in LAYERS.items():
        layer, x = model.layers[index], inputs[index]
        dout = np.random.default_rng(index).standard_normal(layer.forward(x).shape).astype(x.dtype)

        def ours(layer=layer, x=x, dout=dout):
            for _ in range(calls):
                layer.forward(x)
                layer.backward(dout)

        ways = {"nnbook": ours}
        if torch:
            theirs_layer = torch_model[index]
            x_t = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(index > 0)
            dout_t = torch.from_numpy(np.ascontiguousarray(dout))

            def theirs(theirs_layer=theirs_layer, x_t=x_t, dout_t=dout_t):
                for _ in range(calls):
                    theirs_layer(x_t).backward(dout_t)

            ways["torch"] = theirs
        for way in ways.values():
            way()  # warm-up
        times = {way: [] for way in ways}
        for _ in range(repeats):
            for way, run in ways.items():
                time.sleep(PAUSE)
                times[way].append(timed(run) / calls)
        results[name] = {way: min(values) for way, values in times.items()}
    return results


def time_naive(X, m):
    """Forward + backward of the four layers on ``m`` images: the naive loops against the fast pairs, in seconds."""
    model, inputs = layer_inputs(X, m)
    results = {}
    for name, index in LAYERS.items():
        layer, x = model.layers[index], np.ascontiguousarray(inputs[index])
        if name.startswith("conv"):
            W, b = layer.params["W"], layer.params["b"]
            naive = (lambda x=x, W=W, b=b: conv.conv_backward_naive(
                np.ones((m, *layer.output_shape(x.shape)[1:]), x.dtype), conv.conv_forward_naive(x, W, b)[1]))
            fast = (lambda x=x, W=W, b=b: conv.conv_backward(
                np.ones((m, *layer.output_shape(x.shape)[1:]), x.dtype), conv.conv_forward(x, W, b)[1]))
        else:
            k = layer.kernel

            def naive(x=x, k=k):
                out, cache = conv.maxpool_forward_naive(x, k)
                return conv.maxpool_backward_naive(np.ones_like(out), cache)

            def fast(x=x, k=k):
                out, cache = conv.maxpool_forward(x, k)
                return conv.maxpool_backward(np.ones_like(out), cache)

        fast()
        results[name] = {"naive": timed(naive), "fast": min(timed(fast) for _ in range(5))}
    return results


# --- the report ----------------------------------------------------------------------------------


def _ms(seconds):
    return "n/a" if seconds is None else f"{1e3 * seconds:.1f}"


def _ratio(a, b):
    return "n/a" if a is None or b is None else f"{a / b:.2f}"


def epoch_table(epoch):
    seconds = epoch["seconds"]
    header = ["fit loop ms", "fit() ms", "torch ms", "fit loop/torch", "fit()/torch", "max rel. Δθ after 1 epoch"]
    diff = epoch["max_relative_param_difference"]
    cells = [_ms(seconds.get("fit_loop")), _ms(seconds.get("fit")), _ms(seconds.get("torch")),
             _ratio(seconds.get("fit_loop"), seconds.get("torch")), _ratio(seconds.get("fit"), seconds.get("torch")),
             "n/a" if diff is None else f"{diff:.1e}"]
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
                      "| " + " | ".join(cells) + " |"])


def layers_table(layers, naive, naive_m):
    header = ["layer", "nnbook ms", "torch ms", "nnbook/torch", f"naive ms ({naive_m} images)",
              f"fast ms ({naive_m} images)", "naive/fast"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for name, times in layers.items():
        loops = naive.get(name, {})
        cells = [name, _ms(times["nnbook"]), _ms(times.get("torch")), _ratio(times["nnbook"], times.get("torch")),
                 _ms(loops.get("naive")), _ms(loops.get("fast")), _ratio(loops.get("naive"), loops.get("fast"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def profile_table(profile):
    total = profile["total"]
    lines = ["| step of the fit loop | ms per epoch | share |", "|---|---|---|"]
    for key, seconds in profile.items():
        lines.append(f"| {key} | {1e3 * seconds:.1f} | {100 * seconds / total:.0f}% |")
    return "\n".join(lines)


def describe(report):
    machine, settings = report["machine"], report["settings"]
    other = machine["other_processes_cores"]
    other = "" if other is None else f"; other processes kept {other:.2f} cores busy on average during the run"
    blas = machine["numpy_blas"]
    blas_text = f"{blas.get('library')} {blas.get('version')}" + (
        f", kernel {blas['kernel']}" if blas.get("kernel") else "") + f", {blas.get('threads')} threads"
    env = ", ".join(f"{k}={v}" for k, v in machine["env"].items() if v is not None) or "none set"
    return "\n".join([
        f"- date: {machine['date']}",
        f"- machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs; {machine['platform']}{other}",
        f"- python {machine['python']}, numpy {machine['numpy']} ({blas_text}), "
        + (f"torch {machine['torch']} ({machine['torch_threads']} threads, MKL {machine['torch_mkl']})"
           if machine["torch"] else "torch not installed"),
        f"- BLAS environment variables: {env}",
        f"- work: one epoch of deck_cnn, float32, SGD lr={settings['lr']}, batch {settings['batch_size']}, "
        f"m={settings['m']} MNIST images; minimum of {settings['repeats']} interleaved repetition(s) after a warm-up",
    ])


def markdown(report):
    tables = [report["epoch_table"], report["layers_table"], report["profile_table"]]
    return "\n\n".join([describe(report), *tables]) + "\n"


# --- main ----------------------------------------------------------------------------------------


def wait_for_quiet(minutes, threshold=0.1, window=3.0):
    """Wait, at most ``minutes``, for a ``window`` of seconds in which other processes keep < ``threshold`` cores busy.

    Returns the seconds waited, or ``None`` if the machine never became quiet (the run then goes ahead anyway,
    and its report says how busy the machine was).
    """
    start = time.perf_counter()
    while time.perf_counter() - start < 60 * minutes:
        load = OtherLoad()
        time.sleep(window)
        busy = load.cores()
        if busy is None or busy < threshold:
            return time.perf_counter() - start
    return None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: m=256, 1 repeat, naive loops on 1 image")
    parser.add_argument("--m", type=int, help="number of training images (default 5000, quick 256)")
    parser.add_argument("--repeats", type=int, help="timed repetitions per way, after one warm-up (default 5, quick 1)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--naive-m", type=int, help="images for the naive loops (default 4, quick 1)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    parser.add_argument("--no-fit", action="store_true", help="skip the nnbook.train.fit column")
    parser.add_argument("--output", help="write the report to this file: .json for JSON, anything else markdown")
    parser.add_argument("--wait-for-quiet", type=float, default=0, metavar="MINUTES",
                        help="first wait, at most this long, until other processes leave the CPUs idle for 3 s")
    args = parser.parse_args(argv)
    args.m = args.m or (256 if args.quick else 5000)
    args.repeats = args.repeats or (1 if args.quick else 5)
    args.naive_m = args.naive_m or (1 if args.quick else 4)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.wait_for_quiet:
        waited = wait_for_quiet(args.wait_for_quiet)
        print(f"waited {waited:.0f} s for a quiet machine" if waited is not None else
              f"the machine did not become quiet in {args.wait_for_quiet} min: measuring under load", file=sys.stderr)
    other_load = OtherLoad()
    blas = numpy_blas()
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("PyTorch is not installed: its columns are n/a", file=sys.stderr)
    if torch:
        torch.set_num_threads(blas["threads"])

    X, y = mnist_images(args.m)
    seconds, times, difference = run_epochs(torch, X, y, args.batch_size, args.repeats, not args.no_fit)
    print("  epoch: " + ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in seconds.items()), file=sys.stderr)
    layers = time_layers(torch, X, args.batch_size, max(args.repeats, 3))
    naive = time_naive(X, args.naive_m)
    profile = profile_epoch(X, y, args.batch_size)

    ratio = (lambda column: seconds[column] / seconds["torch"] if torch and column in seconds else None)
    report = {
        "benchmark": "one training epoch of the lecture's CNN (deck_cnn): nnbook (numpy) against PyTorch CPU",
        "machine": machine_info(blas, torch, other_load),
        "settings": {"m": args.m, "batch_size": args.batch_size, "lr": LR, "repeats": args.repeats,
                     "naive_m": args.naive_m, "dtype": "float32",
                     "data": "the shipped MNIST subset (4,000 training + 1,000 test images), repeated if needed"},
        "epoch": {"seconds": seconds, "times": times, "ratio_fit_loop_torch": ratio("fit_loop"),
                  "ratio_fit_torch": ratio("fit"), "max_relative_param_difference": difference},
        "layers": layers,
        "naive": naive,
        "profile": profile,
    }
    report["epoch_table"] = epoch_table(report["epoch"])
    report["layers_table"] = layers_table(layers, naive, args.naive_m)
    report["profile_table"] = profile_table(profile)
    print(markdown(report))
    if args.output:
        with open(args.output, "w") as out:
            if args.output.endswith(".json"):
                json.dump(report, out, indent=2)
            else:
                out.write(markdown(report))
    return report


if __name__ == "__main__":
    main()
