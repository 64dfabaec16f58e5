"""Tests of nnbook/information.py: the cross-entropy read as information (chapter *Logistic and softmax regression*, ch04)."""

import numpy as np
import pytest

from nnbook.activations import softmax
from nnbook.information import (
    code_lengths,
    cross_entropy,
    decode,
    encode,
    entropy,
    kl_divergence,
    prefix_code,
)
from nnbook.losses import one_hot, softmax_cross_entropy

pytestmark = pytest.mark.ch04

P = np.array([0.5, 0.25, 0.125, 0.125])       # the chapter's source
Q = np.array([0.125, 0.125, 0.25, 0.5])       # the chapter's belief, the opposite of P
U = np.full(4, 0.25)                          # a uniform belief: two bits per symbol


def test_the_chapters_numbers_in_bits():
    """H(p) = 1.75 bits, H(p, q) = ½·3 + ¼·3 + ⅛·2 + ⅛·1 = 2.625 bits, KL(p‖q) = 0.875 bit."""
    assert entropy(P, base=2) == pytest.approx(1.75, abs=1e-15)
    assert cross_entropy(P, Q, base=2) == pytest.approx(2.625, abs=1e-15)
    assert kl_divergence(P, Q, base=2) == pytest.approx(0.875, abs=1e-15)
    # against a uniform belief: 2 bits, 0.25 wasted; and the other way round, H(u, p) = 2.25 bits
    assert cross_entropy(P, U, base=2) == pytest.approx(2.0, abs=1e-15)
    assert kl_divergence(P, U, base=2) == pytest.approx(0.25, abs=1e-15)
    assert cross_entropy(U, P, base=2) == pytest.approx(2.25, abs=1e-15)
    assert entropy(U, base=2) == 2.0


@pytest.mark.parametrize("seed", range(10))
def test_cross_entropy_is_entropy_plus_kl(seed):
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.ones(6), size=5), rng.dirichlet(np.ones(6), size=5)     # (5, 6) each
    np.testing.assert_allclose(cross_entropy(p, q), entropy(p) + kl_divergence(p, q), rtol=1e-12)
    assert np.all(kl_divergence(p, q) > 0) and np.allclose(kl_divergence(p, p), 0, atol=1e-15)
    # the identity term by term, from the definitions
    np.testing.assert_allclose(kl_divergence(p, q), np.sum(p * np.log(p / q), axis=1), rtol=1e-12)
    np.testing.assert_allclose(cross_entropy(p, q, base=2), cross_entropy(p, q) / np.log(2), rtol=1e-12)


def test_zero_probabilities():
    assert entropy(np.array([1.0, 0.0])) == 0.0                        # 0 log 0 counts as 0
    assert cross_entropy(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(np.log(2))
    assert np.isinf(cross_entropy(np.array([0.5, 0.5]), np.array([1.0, 0.0])))
    with pytest.raises(ValueError, match="sum to 1"):
        entropy(np.array([0.5, 0.6]))


def test_shannon_code_lengths_and_a_prefix_code():
    assert code_lengths(P).tolist() == [1, 2, 3, 3]
    assert code_lengths(Q).tolist() == [3, 3, 2, 1] and code_lengths(U).tolist() == [2, 2, 2, 2]
    assert code_lengths(np.array([0.4, 0.3, 0.3])).tolist() == [2, 2, 2]        # ⌈−log₂ 0.4⌉ = ⌈1.32⌉
    words = prefix_code(code_lengths(P))
    assert words == ["0", "10", "110", "111"]
    for u in words:
        for v in words:
            assert u == v or not v.startswith(u)
    with pytest.raises(ValueError, match="Kraft"):
        prefix_code([1, 1, 2])


def test_a_long_message_costs_the_cross_entropy_per_symbol():
    """Symbols drawn from p, sent with the code of q: about H(p, q) bits per symbol, and exactly decodable."""
    symbols = np.random.default_rng(0).choice(4, size=20_000, p=P)
    for q, expected in ((Q, 2.625), (U, 2.0), (P, 1.75)):
        words = prefix_code(code_lengths(q))
        bits = encode(symbols, words)
        assert len(bits) / len(symbols) == pytest.approx(expected, abs=0.02)
        assert len(bits) == sum(len(words[k]) for k in symbols)
    words = prefix_code(code_lengths(P))
    assert decode(encode(symbols[:500], words), words) == symbols[:500].tolist()
    with pytest.raises(ValueError, match="middle of a codeword"):
        decode("11", words)


def test_the_classification_loss_is_a_cross_entropy_and_a_kl_divergence():
    """With one-hot labels H(p) = 0: the mean of H(y, softmax(z)) is the softmax cross-entropy, and equals the mean KL."""
    rng = np.random.default_rng(0)
    Z, y = rng.normal(scale=2, size=(8, 5)), rng.integers(0, 5, size=8)
    Y, P_hat = one_hot(y, 5), softmax(Z, axis=1)
    J, _ = softmax_cross_entropy(Z, y)
    assert np.mean(cross_entropy(Y, P_hat)) == pytest.approx(J, rel=1e-12)
    assert np.mean(kl_divergence(Y, P_hat)) == pytest.approx(J, rel=1e-12)
    # soft labels: the cross-entropy and the KL differ by H(p), which does not depend on the model
    soft = 0.9 * Y + 0.1 / 5
    J_soft, dZ_soft = softmax_cross_entropy(Z, soft)
    assert np.mean(cross_entropy(soft, P_hat)) == pytest.approx(J_soft, rel=1e-12)
    assert np.mean(cross_entropy(soft, P_hat) - kl_divergence(soft, P_hat)) == pytest.approx(np.mean(entropy(soft)), rel=1e-12)
