"""The cross-entropy read as information: entropy, cross-entropy, Kullback–Leibler divergence, and codes.

Send symbols drawn from a distribution ``p`` with a binary code built for a
distribution ``q``: a symbol ``k`` gets a codeword of about ``−log₂ q_k`` bits,
so frequent symbols get short codewords (chapter *Logistic and softmax
regression*, ``book/logistic.md``). On average a symbol then costs

* ``H(p) = −Σ_k p_k log p_k``, the **entropy**, when the code fits the source (``q = p``): no code does better;
* ``H(p, q) = −Σ_k p_k log q_k``, the **cross-entropy**, with the code of ``q``;
* and the difference, ``KL(p‖q) = Σ_k p_k log(p_k / q_k) ≥ 0``, the
  **Kullback–Leibler divergence**, is the price of the wrong code:
  ``H(p, q) = H(p) + KL(p‖q)``.

For a classifier, ``p`` is the label (one-hot, so ``H(p) = 0``) and ``q`` the
predicted probabilities: the loss ``−log q_y`` is ``H(p, q) = KL(p‖q)``.

Distributions are arrays whose last axis sums to 1, ``(K,)`` or ``(m, K)``;
``0 log 0`` counts as 0. Logarithms are natural (nats) unless ``base=2`` (bits).
"""

import numpy as np

from .validation import as_float_array


def _distributions(*arrays):
    out = [as_float_array(a, "distribution") for a in arrays]
    for a in out:
        if np.any(a < 0) or not np.allclose(a.sum(axis=-1), 1.0, atol=1e-9):
            raise ValueError("a distribution must have non-negative entries that sum to 1 along its last axis")
    return out


def _plogq(p, q):
    """``p log q`` element-wise, with ``0 log q = 0`` (even for ``q = 0``) and ``p log 0 = −∞`` for ``p > 0``."""
    with np.errstate(divide="ignore"):
        return np.where(p > 0, p * np.log(np.where(p > 0, q, 1.0)), 0.0)


def entropy(p, base=np.e):
    """``H(p) = −Σ_k p_k log p_k`` along the last axis: ``(K,)`` → a number, ``(m, K)`` → ``(m,)``."""
    (p,) = _distributions(p)
    return -_plogq(p, p).sum(axis=-1) / np.log(base)


def cross_entropy(p, q, base=np.e):
    """``H(p, q) = −Σ_k p_k log q_k`` along the last axis; infinite when ``q_k = 0`` for some ``p_k > 0``."""
    p, q = _distributions(p, q)
    return -_plogq(p, q).sum(axis=-1) / np.log(base)


def kl_divergence(p, q, base=np.e):
    """``KL(p‖q) = Σ_k p_k log(p_k / q_k) = H(p, q) − H(p)`` along the last axis; ``≥ 0``, and 0 only when ``q = p``."""
    p, q = _distributions(p, q)
    return (_plogq(p, p) - _plogq(p, q)).sum(axis=-1) / np.log(base)


def code_lengths(q):
    """The lengths ``⌈−log₂ q_k⌉`` of a Shannon code for ``q : (K,)`` with every ``q_k > 0``, an integer array.

    They satisfy Kraft's inequality ``Σ_k 2^{−ℓ_k} ≤ Σ_k q_k = 1``, so a prefix code
    with these lengths exists (:func:`prefix_code`). When every ``q_k`` is a power of
    ``1/2`` the lengths are exactly ``−log₂ q_k``.
    """
    (q,) = _distributions(q)
    if np.any(q <= 0):
        raise ValueError("every symbol needs a probability > 0 to get a codeword")
    # the 1e-12 keeps an exact power of 1/2 from rounding up to the next length
    return np.ceil(-np.log2(q) - 1e-12).astype(np.int64)


def prefix_code(lengths):
    """Codewords with the given ``lengths``, none a prefix of another: a list of strings of '0' and '1'.

    The *canonical* construction: take the symbols by increasing length, give the
    first one the codeword of all zeros, and each next one the previous codeword plus one
    (in binary), padded with zeros to its length. This works whenever Kraft's
    inequality ``Σ_k 2^{−ℓ_k} ≤ 1`` holds, and raises ``ValueError`` otherwise.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if np.any(lengths < 1) or np.sum(2.0 ** -lengths) > 1.0 + 1e-12:
        raise ValueError(f"no prefix code has the lengths {lengths.tolist()}: Kraft's inequality fails")
    codewords = [""] * len(lengths)
    value, previous = 0, 0
    for k in np.argsort(lengths, kind="stable"):
        value <<= int(lengths[k]) - previous          # pad the running codeword to the new length
        codewords[k] = format(value, f"0{lengths[k]}b")
        value, previous = value + 1, int(lengths[k])
    return codewords


def encode(symbols, codewords):
    """The bit string of a sequence of ``symbols`` (integers ``0 … K−1``), codeword after codeword."""
    return "".join(codewords[k] for k in symbols)


def decode(bits, codewords):
    """Read a bit string back into symbols; with a prefix code, each codeword is recognized as soon as it ends."""
    lookup = {word: k for k, word in enumerate(codewords)}
    symbols, current = [], ""
    for bit in bits:
        current += bit
        if current in lookup:
            symbols.append(lookup[current])
            current = ""
    if current:
        raise ValueError(f"the bits end in the middle of a codeword: {current!r}")
    return symbols
