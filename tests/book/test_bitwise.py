"""Chapter 1's exercise: a hand-set layer that turns ten digit outputs into four bits."""

import numpy as np
import pytest

import nnaccel
from nnaccel.book import bitwise as B
from tests.conftest import BACKEND_PARAMS, make_backend

CPU_BACKENDS = [p for p in BACKEND_PARAMS if p.id in ("numpy", "array_api_strict")]


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(z / 2))


@pytest.mark.parametrize("digit", range(10))
def test_a_confident_output_layer_spells_its_digit_in_binary(digit):
    """With the old output e_j, bit k's neuron is σ(±s) and the four bits spell j."""
    w, b = B.bitwise_weights()
    out = _sigmoid(np.array(w) @ np.eye(10)[digit] + np.array(b))
    assert B.decode([out]) == [digit]
    assert np.all((out > 0.9999) | (out < 1e-4))


def test_near_confident_outputs_still_decode():
    """0.99 for the digit and 0.01 elsewhere (the exercise's premise) still gives its bits."""
    w, b = B.bitwise_weights()
    for digit in range(10):
        a = np.full(10, 0.01)
        a[digit] = 0.99
        assert B.decode([_sigmoid(np.array(w) @ a + b)]) == [digit]


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_the_bitwise_layer_sits_on_top_of_the_trained_network(backend):
    """The bigger network's output is σ(w_bits · a) of the original network's output a."""
    net = nnaccel.Network([6, 5, 10], cost="quadratic", backend=make_backend(backend), dtype="float64", seed=2)
    x = np.random.default_rng(0).random((8, 6))
    bigger = B.with_bitwise_layer(net)
    assert bigger.sizes == [6, 5, 10, 4]
    w, _ = B.bitwise_weights()
    expected = _sigmoid(net.backend.to_numpy(net.feedforward(x)) @ np.array(w).T)
    assert np.allclose(net.backend.to_numpy(bigger.feedforward(x)), expected, atol=1e-15)
