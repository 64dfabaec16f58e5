"""Benchmark: one training epoch of a 784-256-10 ReLU MLP, nnbook (numpy) against PyTorch on the CPU.

Both libraries train the same network (``Linear → ReLU → Linear``, softmax
cross-entropy, plain SGD with ``lr = 0.1``, no momentum) on the same synthetic
data (``m`` inputs uniform in [0, 1], random labels 0..9, fixed seed), with the
same mini-batches in the same order (both walk ``nnbook.optim.minibatch_indices``
with the same seed), for each batch size and each dtype. Four ways are timed:

* ``nnbook``: the loop a chapter writes by hand, on the default ``mlp(sizes, dtype=...)``:
  forward, ``SoftmaxCrossEntropy()`` (which checks its inputs), backward (down to
  ``dx``, the gradient with respect to the data), ``SGD.step``;
* ``fit loop``: the steps ``nnbook.train.fit`` runs for each mini-batch, and nothing
  else: the first layer skips ``dx`` (``model.input_grad = False``, which PyTorch
  does not compute either) and the loss does not check the mini-batch again
  (``SoftmaxCrossEntropy(check=False)``);
* ``fit()``: the whole call ``nnbook.train.fit(model, X, y, SGD(0.1), epochs=1,
  batch_size=..., progress=False)``: its input checks, its history (the cost and
  accuracy on a sample of 512 training examples before and after the epoch), and
  the epoch. This is the column the target is about;
* ``torch``: ``torch.nn.Sequential(Linear, ReLU, Linear)``, ``F.cross_entropy``,
  ``torch.optim.SGD``, with ``torch.set_num_threads`` set to numpy's BLAS threads.

Each time is the median of several epochs after a warm-up epoch. The ways run
one after the other, not interleaved: OpenBLAS (numpy) and OpenMP (PyTorch)
keep their worker threads spinning for a while after each call, so on a machine
with few cores alternating the two makes each wait for the other's threads.
The warm-up epochs double as a correctness check: the torch model starts from
the weights of the ``fit()`` model, and its warm-up epoch is ``fit``'s first one
(the same mini-batches), so after it the parameters must agree to rounding.

GFLOP/s use the nominal count of the matrix products of one epoch, forward
``2·m·(784·256 + 256·10)`` and backward twice that (``dx`` and ``dW`` of both
layers), for every column, so they compare as throughputs; the peak is numpy's
own large square matrix product (``2n³`` operations) measured in the same run.

Run ``python benchmarks/bench_mlp.py`` (about half a minute), ``--quick`` for a smoke
run on tiny sizes, ``--output report.json`` or ``--output report.md`` to save it.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

from nnbook.layers import mlp
from nnbook.losses import SoftmaxCrossEntropy
from nnbook.optim import SGD, minibatch_indices
from nnbook.train import fit

SIZES = (784, 256, 10)
LR = 0.1
DTYPES = {"float32": np.float32, "float64": np.float64}
ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


# --- the machine -------------------------------------------------------------------------------


def cpu_model():
    """The CPU's marketing name from /proc/cpuinfo (Linux), else whatever platform knows."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def numpy_blas():
    """numpy's BLAS as threadpoolctl sees it (call before importing torch, which brings its own libraries)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return {"library": config.get("name"), "version": config.get("version"), "threads": os.cpu_count()}
    for info in threadpool_info():
        if info["user_api"] == "blas":
            return {"library": info["internal_api"], "version": info["version"], "threads": info["num_threads"],
                    "kernel": info.get("architecture"), "file": os.path.basename(info["filepath"])}
    return {"library": "unknown", "threads": os.cpu_count()}


class OtherLoad:
    """CPU time used by *other* processes while the benchmark runs, from /proc/stat (Linux only).

    ``cores()`` is the average number of cores they kept busy: near 0 for a quiet
    run; on a 2-core machine, 0.5 already distorts the timings badly.
    """

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as stat:
                fields = [int(value) for value in stat.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait, in clock ticks
        own = os.times()
        return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), own.user + own.system

    def cores(self):
        end = self._sample()
        if self.start is None or end is None:
            return None
        (wall0, busy0, own0), (wall1, busy1, own1) = self.start, end
        return max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall1 - wall0)


def machine_info(blas, torch, other_load):
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": blas,
        "torch": torch.__version__ if torch else None,
        "torch_threads": torch.get_num_threads() if torch else None,
        "torch_mkl": bool(torch.backends.mkl.is_available()) if torch else None,
        "env": {name: os.environ.get(name) for name in ENV_VARS},
        "other_processes_cores": other_load.cores(),
    }


# --- the work ----------------------------------------------------------------------------------


def make_data(m, seed=0):
    """``X : (m, 784)`` uniform in [0, 1] (float64) and labels ``y : (m,)`` in 0..9."""
    rng = np.random.default_rng(seed)
    return rng.random((m, SIZES[0])), rng.integers(0, SIZES[-1], m)


def epoch_flops(m):
    """Multiply-adds ×2 of the matrix products of one epoch: forward, and backward twice the forward."""
    forward = 2 * m * sum(n_in * n_out for n_in, n_out in zip(SIZES[:-1], SIZES[1:]))
    return 3 * forward


def matmul_peak(dtype, n, repeats=5, warm_up_seconds=0.5):
    """numpy's GFLOP/s on an ``(n, n) @ (n, n)`` product, best of ``repeats`` after a warm-up.

    The warm-up lasts ``warm_up_seconds``: BLAS threads woken from sleep can be slow for a while.
    """
    rng = np.random.default_rng(1)
    a, b = rng.random((n, n)).astype(dtype), rng.random((n, n)).astype(dtype)
    start = time.perf_counter()
    while time.perf_counter() - start < warm_up_seconds:
        a @ b
    best = min(timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def hand_written_epoch(model, X, y, batch_size, fit_loop=False, seed=1, lr=LR):
    """One epoch of the loop a chapter writes by hand on ``model`` (``fit_loop``: only the steps ``fit`` runs per
    mini-batch, without the first layer's ``dx`` and the loss's checks), shuffled with ``seed``."""
    loss, optimizer, rng = SoftmaxCrossEntropy(check=not fit_loop), SGD(lr), np.random.default_rng(seed)
    if fit_loop:
        model.input_grad = False

    def epoch():
        for batch in minibatch_indices(len(X), batch_size, rng):
            loss.forward(model.forward(X[batch]), y[batch])
            model.backward(loss.backward())
            optimizer.step(model)

    return epoch


def fit_call(model, X, y, batch_size, seed=1, lr=LR):
    """One call of ``fit`` for one epoch on ``model`` (shuffled with ``seed``, as the other ways)."""
    return lambda: fit(model, X, y, SGD(lr), epochs=1, batch_size=batch_size, seed=seed, progress=False)


def torch_sgd_epoch(torch, model, X, y, batch_size, seed=1, lr=LR):
    """One epoch of ``torch.optim.SGD`` on the PyTorch ``model``, on the mini-batches the nnbook ways see."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    X_t, y_t, rng = torch.from_numpy(X), torch.from_numpy(y), np.random.default_rng(seed)

    def epoch():
        for batch in minibatch_indices(len(X), batch_size, rng):
            index = torch.from_numpy(batch)
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(X_t[index]), y_t[index]).backward()
            optimizer.step()

    return epoch


def nnbook_epoch(X, y, batch_size, fit_loop=False, seed=1):
    """A model and a function running one epoch of the hand-written loop on it (``fit_loop``: of ``fit``'s steps)."""
    model = mlp(SIZES, dtype=X.dtype)
    return model, hand_written_epoch(model, X, y, batch_size, fit_loop, seed)


def fit_epoch(X, y, batch_size, seed=1):
    """A model and one call of ``fit`` for one epoch (shuffled with ``seed``, as the other ways)."""
    model = mlp(SIZES, dtype=X.dtype)
    return model, fit_call(model, X, y, batch_size, seed)


def torch_epoch(torch, X, y, batch_size, start_from, seed=1):
    """The PyTorch model, initialized with the weights of the nnbook model ``start_from``, and its epoch."""
    first, second = (layer for layer in start_from.layers if layer.params)
    dtype = torch.float64 if X.dtype == np.float64 else torch.float32
    model = torch.nn.Sequential(torch.nn.Linear(*SIZES[:2]), torch.nn.ReLU(), torch.nn.Linear(*SIZES[1:])).to(dtype)
    with torch.no_grad():
        for linear, layer in zip((model[0], model[2]), (first, second)):
            linear.weight.copy_(torch.from_numpy(layer.params["W"]))  # both store W as (n_out, n_in)
            linear.bias.copy_(torch.from_numpy(layer.params["b"]))
    return model, torch_sgd_epoch(torch, model, X, y, batch_size, seed)


def max_param_difference(nnbook_params, torch_model):
    """Largest ``|θ_nnbook − θ_torch|`` over all parameters; ``nnbook_params`` maps ``"0.W"``, … to arrays."""
    theirs = {"0.W": torch_model[0].weight, "0.b": torch_model[0].bias,
              "2.W": torch_model[2].weight, "2.b": torch_model[2].bias}
    return max(float(np.max(np.abs(mine - theirs[key].detach().numpy()))) for key, mine in nnbook_params.items())


def run_case(torch, X, y, batch_size, repeats, with_fit):
    """Median seconds per epoch of each way, the per-repeat times, and the warm-up cross-check."""
    model, fit_loop = nnbook_epoch(X, y, batch_size, fit_loop=True)
    epochs = {"nnbook": nnbook_epoch(X, y, batch_size)[1], "fit_loop": fit_loop}
    if with_fit:  # the cross-check follows fit() when it runs, else the fit loop (whose first epoch is fit's)
        model, epochs["fit"] = fit_epoch(X, y, batch_size)
    if torch:
        torch_model, epochs["torch"] = torch_epoch(torch, X, y, batch_size, start_from=model)
    times, difference, after_one_epoch = {}, None, None
    for name, epoch in epochs.items():
        epoch()  # warm-up
        if name == ("fit" if with_fit else "fit_loop"):
            after_one_epoch = {key: param.copy() for key, param, _ in model.params_and_grads()}
        if name == "torch":
            difference = max_param_difference(after_one_epoch, torch_model)
        times[name] = [timed(epoch) for _ in range(repeats)]
    return {name: statistics.median(values) for name, values in times.items()}, times, difference


# --- the report --------------------------------------------------------------------------------

COLUMNS = ("nnbook", "fit_loop", "fit", "torch")
HEADERS = {"nnbook": "nnbook", "fit_loop": "fit loop", "fit": "fit()", "torch": "torch"}


def results_table(results, peaks):
    header = ["dtype", "batch"] + [f"{HEADERS[c]} ms" for c in COLUMNS] + [
        "nnbook/torch", "fit()/torch", "GFLOP/s nnbook", "GFLOP/s fit()", "GFLOP/s torch", "max abs Δθ"]

    def ms(seconds):
        return "n/a" if seconds is None else f"{1e3 * seconds:.1f}"

    def rate(row, column):
        seconds = row["seconds"].get(column)
        if seconds is None:
            return "n/a"
        gflops = row["flops"] / seconds / 1e9
        return f"{gflops:.0f} ({100 * gflops / peaks[row['dtype']]:.0f}%)"

    def ratio(value):
        return "n/a" if value is None else f"{value:.2f}"

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in results:
        diff = row["max_abs_param_difference"]
        cells = [row["dtype"], str(row["batch_size"])] + [ms(row["seconds"].get(c)) for c in COLUMNS] + [
            ratio(row["ratio_nnbook_torch"]), ratio(row["ratio_fit_torch"]),
            rate(row, "nnbook"), rate(row, "fit"), rate(row, "torch"),
            "n/a" if diff is None else f"{diff:.1e}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def describe(report):
    machine, settings = report["machine"], report["settings"]
    other = machine["other_processes_cores"]
    other = "" if other is None else f"; other processes kept {other:.2f} cores busy on average during the run"
    blas = machine["numpy_blas"]
    blas_text = f"{blas.get('library')} {blas.get('version')}" + (
        f", kernel {blas['kernel']}" if blas.get("kernel") else "") + f", {blas.get('threads')} threads"
    env = ", ".join(f"{k}={v}" for k, v in machine["env"].items() if v is not None) or "none set"
    peaks = ", ".join(f"{dtype} {gflops:.0f} GFLOP/s" for dtype, gflops in report["peak_gflops"].items())
    return "\n".join([
        f"- date: {machine['date']}",
        f"- machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs; {machine['platform']}{other}",
        f"- python {machine['python']}, numpy {machine['numpy']} ({blas_text}), "
        + (f"torch {machine['torch']} ({machine['torch_threads']} threads, MKL {machine['torch_mkl']})"
           if machine["torch"] else "torch not installed"),
        f"- BLAS environment variables: {env}",
        f"- work: one epoch of a {'-'.join(map(str, settings['sizes']))} ReLU MLP, SGD lr={settings['lr']}, "
        f"m={settings['m']} {settings['data']}; median of {settings['repeats']} epoch(s) after a warm-up",
        f"- numpy matmul peak ({settings['peak_n']}×{settings['peak_n']}): {peaks}",
    ])


def markdown(report):
    return "\n\n".join([describe(report), report["table"]]) + "\n"


# --- main --------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run on tiny sizes: m=512, 1 repeat, small peak")
    parser.add_argument("--m", type=int, help="number of training examples (default 10000, quick 512)")
    parser.add_argument("--repeats", type=int, help="timed epochs per way, after one warm-up (default 7, quick 1)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["float32", "float64"])
    parser.add_argument("--peak-n", type=int, help="size of the square matmul for the peak (default 2048, quick 256)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    parser.add_argument("--no-fit", action="store_true", help="skip the nnbook.train.fit column")
    parser.add_argument("--output", help="write the report to this file: .json for JSON, anything else markdown")
    args = parser.parse_args(argv)
    args.m = args.m or (512 if args.quick else 10_000)
    args.repeats = args.repeats or (1 if args.quick else 7)
    args.peak_n = args.peak_n or (256 if args.quick else 2048)
    return args


def main(argv=None):
    args = parse_args(argv)
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

    X64, y = make_data(args.m)
    peaks = {name: matmul_peak(DTYPES[name], args.peak_n, warm_up_seconds=0.1 if args.quick else 0.5)
             for name in args.dtypes}
    results = []
    for name in args.dtypes:
        X = X64.astype(DTYPES[name])
        for batch_size in args.batch_sizes:
            seconds, times, difference = run_case(torch, X, y, batch_size, args.repeats, not args.no_fit)
            ratio = (lambda column: seconds[column] / seconds["torch"] if torch and column in seconds else None)
            results.append({
                "dtype": name, "batch_size": batch_size, "flops": epoch_flops(args.m),
                "seconds": seconds, "times": times,
                "ratio_nnbook_torch": ratio("nnbook"), "ratio_fit_loop_torch": ratio("fit_loop"),
                "ratio_fit_torch": ratio("fit"), "max_abs_param_difference": difference,
            })
            print(f"  {name} batch {batch_size}: " + ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in seconds.items()),
                  file=sys.stderr)

    report = {
        "benchmark": "one training epoch of a 784-256-10 ReLU MLP: nnbook (numpy) against PyTorch CPU",
        "machine": machine_info(blas, torch, other_load),
        "settings": {"m": args.m, "sizes": list(SIZES), "lr": LR, "repeats": args.repeats, "peak_n": args.peak_n,
                     "batch_sizes": args.batch_sizes, "dtypes": args.dtypes,
                     "data": "synthetic: X uniform in [0, 1], random labels 0..9, seed 0",
                     "flops": "per epoch 3·2·m·(784·256 + 256·10): forward, and backward twice the forward"},
        "peak_gflops": peaks,
        "results": results,
    }
    report["table"] = results_table(results, peaks)
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
