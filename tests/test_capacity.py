"""Depth against width (chapter *Multi-layer perceptrons*, ch06): the sawtooth, its pieces, and boundaries against width."""

import math

import numpy as np
import pytest

from nnbook.capacity import (
    WIDTH_SETTINGS,
    count_linear_pieces,
    sawtooth,
    sawtooth_network,
    shallow_units_needed,
    tent,
    train_widths,
)
from nnbook.experiments import max_error, relu_sum_fit

pytestmark = pytest.mark.ch06


def test_the_tent_map_is_two_relus():
    x = np.linspace(0, 1, 9)
    np.testing.assert_array_equal(tent(x), np.where(x <= 0.5, 2 * x, 2 - 2 * x))
    np.testing.assert_array_equal(tent(x), 2 * np.maximum(0, x) - 4 * np.maximum(0, x - 0.5))


@pytest.mark.parametrize("L", range(1, 9))
def test_the_network_of_two_relus_per_layer_computes_the_sawtooth_with_two_to_the_l_pieces(L):
    x = np.linspace(0, 1, 2 ** (L + 3) + 1)                   # a dyadic grid: the kinks k / 2^L are on it
    network = sawtooth_network(L)
    hidden = [layer for layer in network.layers if type(layer).__name__ == "Linear"][:-1]
    assert len(hidden) == L and all(layer.params["W"].shape[0] == 2 for layer in hidden)   # 2L hidden units
    out = network.forward(x[:, None])[:, 0]
    np.testing.assert_array_equal(out, sawtooth(x, L))
    assert count_linear_pieces(x, out) == 2**L
    # the teeth: 1 at x = (2i + 1) / 2^L, 0 at x = 2i / 2^L
    np.testing.assert_array_equal(sawtooth(np.arange(2**L + 1) / 2**L, L), np.arange(2**L + 1) % 2)


def test_counting_pieces_with_kinks_on_and_between_grid_points():
    x = np.linspace(-1, 1, 201)                               # step 0.01
    assert count_linear_pieces(x, np.abs(x)) == 2             # a kink on the grid
    assert count_linear_pieces(x, np.abs(x - 0.005)) == 2     # a kink between two grid points
    assert count_linear_pieces(x, 3 * x + 1) == 1
    assert count_linear_pieces(x, np.maximum(0, x - 0.3) - 2 * np.maximum(0, x + 0.4031)) == 3


@pytest.mark.parametrize("N", [1, 2, 5, 17])
def test_one_hidden_layer_of_n_relus_has_at_most_n_plus_one_pieces(N):
    rng = np.random.default_rng(N)
    x = np.linspace(-3, 3, 60_001)
    w, b, v = rng.normal(size=N), rng.uniform(-2, 2, size=N), rng.normal(size=N)
    F = np.maximum(0, np.outer(x, w) + b) @ v
    kinks_inside = np.sum(np.abs(-b / w) < 3)
    assert count_linear_pieces(x, F) == kinks_inside + 1 <= N + 1


def test_a_single_hidden_layer_needs_two_to_the_l_units_for_the_sawtooth():
    """mlp.md: least squares with N evenly spaced kinks: far off for N < 2^L (powers of two), exact at N = 2^L."""
    L = 5
    f = lambda x: sawtooth(x, L)  # noqa: E731
    assert shallow_units_needed(2**L) == 31
    errors = {N: max_error(relu_sum_fit(f, N, (0, 1), 2001), f, (0, 1)) for N in (1, 2, 4, 8, 16, 32)}
    assert all(errors[N] > 0.45 for N in (1, 2, 4, 8, 16)), errors
    assert errors[32] < 1e-10
    x = np.linspace(0, 1, 20001)
    for N in (4, 16):
        assert count_linear_pieces(x, relu_sum_fit(f, N, (0, 1), 2001)(x)) <= N + 1


def test_the_regions_of_k_lines_in_general_position():
    """mlp.md (distributed representations): k half-planes cut the plane into up to 1 + k + k(k − 1)/2 regions.

    Every region of k ≥ 2 lines in general position has a crossing of two lines on its border, so
    sampling a tiny circle around every crossing meets every region; a region is a pattern of signs.
    """
    rng = np.random.default_rng(0)
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    circle = 1e-6 * np.column_stack([np.cos(angles), np.sin(angles)])
    for k in (2, 3, 4, 5, 6):
        W, b = rng.normal(size=(k, 2)), rng.uniform(-1, 1, size=k)
        crossings = [np.linalg.solve(W[[i, j]], -b[[i, j]]) for i in range(k) for j in range(i + 1, k)]
        points = np.vstack([c + circle for c in crossings])
        patterns = np.unique(points @ W.T + b > 0, axis=0)
        assert len(patterns) == 1 + k + math.comb(k, 2), k
    assert 1 + 4 + math.comb(4, 2) == 11


@pytest.fixture(scope="module")
def widths():
    return train_widths(WIDTH_SETTINGS)


def test_wider_networks_fit_the_spirals_better(widths):
    accuracy = {width: widths.histories[width].accuracy[-1] for width in WIDTH_SETTINGS["widths"]}
    ordered = [accuracy[width] for width in WIDTH_SETTINGS["widths"]]
    assert all(later >= earlier for earlier, later in zip(ordered, ordered[1:])), accuracy
    assert accuracy[1] < 0.75 and accuracy[max(accuracy)] > 0.95
    assert widths.X.shape == (WIDTH_SETTINGS["m"], 2)
