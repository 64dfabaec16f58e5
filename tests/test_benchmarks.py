"""Tests of benchmarks/bench_mlp.py: the benchmark runs and writes a well-formed report.

Speed is measured, never asserted: these tests run the script in ``--quick`` mode
on tiny sizes and check the shape of what it reports, plus one thing that is not
a timing: when PyTorch is installed, both libraries end the warm-up epoch with
the same weights.
"""

import importlib.util
import json
import math
import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "bench_mlp.py"
WAYS = {"nnbook", "fit_loop", "fit", "torch"}


def load_script():
    spec = importlib.util.spec_from_file_location("bench_mlp", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(*args):
    """Run the script as the README says (``python benchmarks/bench_mlp.py ...``) and return its stdout."""
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", *args], capture_output=True, text=True,
                          timeout=300, cwd=SCRIPT.parent.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "report.json"
    stdout = run_script("--m", "200", "--batch-sizes", "32", "100", "--peak-n", "64", "--output", str(path))
    return json.loads(path.read_text()), stdout


def test_the_report_records_settings_machine_and_peaks(report):
    report, _ = report
    assert report["settings"]["m"] == 200
    assert report["settings"]["sizes"] == [784, 256, 10]
    assert report["settings"]["batch_sizes"] == [32, 100]
    machine = report["machine"]
    for key in ("date", "cpu", "logical_cpus", "python", "numpy", "numpy_blas", "torch", "env"):
        assert key in machine
    assert set(machine["env"]) >= {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}
    assert machine["numpy_blas"]["threads"] >= 1
    assert set(report["peak_gflops"]) == {"float32", "float64"}
    assert all(gflops > 0 and math.isfinite(gflops) for gflops in report["peak_gflops"].values())


def test_one_row_per_dtype_and_batch_size_with_positive_times(report):
    report, _ = report
    bench = load_script()
    rows = report["results"]
    assert [(row["dtype"], row["batch_size"]) for row in rows] == [
        ("float32", 32), ("float32", 100), ("float64", 32), ("float64", 100)]
    with_torch = report["machine"]["torch"] is not None
    for row in rows:
        assert set(row["seconds"]) == (WAYS if with_torch else WAYS - {"torch"})
        assert all(seconds > 0 and math.isfinite(seconds) for seconds in row["seconds"].values())
        assert all(len(times) == report["settings"]["repeats"] for times in row["times"].values())
        assert row["flops"] == bench.epoch_flops(200) == 3 * 2 * 200 * (784 * 256 + 256 * 10)
        if with_torch:
            assert row["ratio_nnbook_torch"] == pytest.approx(row["seconds"]["nnbook"] / row["seconds"]["torch"])
            assert row["ratio_fit_torch"] == pytest.approx(row["seconds"]["fit"] / row["seconds"]["torch"])
        else:
            assert row["ratio_nnbook_torch"] is None and row["max_abs_param_difference"] is None


def test_nnbook_and_torch_train_the_same_network(report):
    report, _ = report
    if report["machine"]["torch"] is None:
        pytest.skip("PyTorch is not installed")
    for row in report["results"]:
        tolerance = 1e-4 if row["dtype"] == "float32" else 1e-10
        assert row["max_abs_param_difference"] < tolerance, row


def test_the_printed_table_is_well_formed(report):
    report, stdout = report
    lines = report["table"].splitlines()
    assert report["table"] in stdout
    assert lines[0].startswith("| dtype | batch | nnbook ms")
    assert len(lines) == 2 + len(report["results"])
    assert len({line.count("|") for line in lines}) == 1  # every row has as many cells as the header


def test_markdown_output_without_torch(tmp_path):
    path = tmp_path / "report.md"
    run_script("--m", "64", "--batch-sizes", "64", "--dtypes", "float32", "--peak-n", "32", "--no-torch", "--no-fit",
               "--output", str(path))
    text = path.read_text()
    assert "- date:" in text and "numpy matmul peak" in text
    row = next(line for line in text.splitlines() if line.startswith("| float32 | 64 |"))
    assert row.count("n/a") >= 6  # fit() and torch columns, both ratios, fit() and torch GFLOP/s, Δθ


def test_the_fit_column_times_exactly_a_call_of_fit(monkeypatch):
    bench = load_script()
    calls = []
    monkeypatch.setattr(bench, "fit", lambda *args, **kwargs: calls.append((args, kwargs)))
    X, y = bench.make_data(32)
    model, epoch = bench.fit_epoch(X.astype("float32"), y, 16)
    epoch()
    (args, kwargs), = calls
    assert args[0] is model and args[1].dtype.name == "float32" and args[2] is y
    assert kwargs == {"epochs": 1, "batch_size": 16, "seed": 1, "progress": False}


# ---- bench_cnn.py: the lecture's CNN (chapter 11) ----------------------------------------------------

CNN_SCRIPT = SCRIPT.parent / "bench_cnn.py"


def run_cnn_script(*args):
    """Run ``python benchmarks/bench_cnn.py --quick ...`` as the README says and return its stdout."""
    done = subprocess.run([sys.executable, str(CNN_SCRIPT), "--quick", *args], capture_output=True, text=True,
                          timeout=300, cwd=SCRIPT.parent.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def cnn_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench_cnn") / "report.json"
    stdout = run_cnn_script("--m", "128", "--output", str(path))
    return json.loads(path.read_text()), stdout


def test_cnn_report_records_settings_times_and_the_four_layers(cnn_report):
    report, stdout = cnn_report
    assert report["settings"]["m"] == 128 and report["settings"]["batch_size"] == 64
    assert report["settings"]["dtype"] == "float32"
    with_torch = report["machine"]["torch"] is not None
    epoch = report["epoch"]
    assert set(epoch["seconds"]) == ({"fit_loop", "fit", "torch"} if with_torch else {"fit_loop", "fit"})
    assert all(seconds > 0 and math.isfinite(seconds) for seconds in epoch["seconds"].values())
    assert all(len(times) == report["settings"]["repeats"] for times in epoch["times"].values())
    assert list(report["layers"]) == list(report["naive"]) == ["conv1", "pool1", "conv2", "pool2"]
    for name, times in report["layers"].items():
        assert set(times) == ({"nnbook", "torch"} if with_torch else {"nnbook"}), name
        assert all(seconds > 0 for seconds in times.values())
        assert report["naive"][name]["naive"] > 0 and report["naive"][name]["fast"] > 0
    profile = report["profile"]  # one epoch of the fit loop, step by step: the parts add up to at most the total
    assert "0 Conv2D(1, 32, kernel_size=(5, 5)), input_grad=False forward" in profile and "SGD step" in profile
    assert 0 < sum(seconds for key, seconds in profile.items() if key != "total") <= profile["total"]
    for table in (report["epoch_table"], report["layers_table"], report["profile_table"]):
        lines = table.splitlines()
        assert table in stdout and len({line.count("|") for line in lines}) == 1
    assert len(report["layers_table"].splitlines()) == 2 + 4


def test_cnn_nnbook_and_torch_train_the_same_network(cnn_report):
    report, _ = cnn_report
    if report["machine"]["torch"] is None:
        pytest.skip("PyTorch is not installed")
    epoch = report["epoch"]
    assert epoch["ratio_fit_torch"] == pytest.approx(epoch["seconds"]["fit"] / epoch["seconds"]["torch"])
    # float32: a rounding difference can move a max-pooling argmax between two nearly equal values (float64
    # agrees to 1e-15, tests/test_conv.py checks the network against torch there)
    assert epoch["max_relative_param_difference"] < 1e-3


def test_cnn_data_are_the_shipped_mnist_images_repeated():
    import numpy as np

    spec = importlib.util.spec_from_file_location("bench_cnn", CNN_SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    X, y = bench.mnist_images(5100)
    assert X.shape == (5100, 1, 28, 28) and X.dtype.name == "float32" and y.shape == (5100,)
    np.testing.assert_array_equal(X[5000:], X[:100])
    assert 0.0 <= X.min() and X.max() <= 1.0


def test_cnn_markdown_output_without_torch(tmp_path):
    path = tmp_path / "report.md"
    run_cnn_script("--m", "64", "--no-torch", "--no-fit", "--output", str(path))
    text = path.read_text()
    assert "- date:" in text and "torch not installed" in text
    row = next(line for line in text.splitlines() if line.startswith("| conv1 |"))
    assert row.count("n/a") == 2  # torch ms and nnbook/torch
