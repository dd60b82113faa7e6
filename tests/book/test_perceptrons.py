"""Chapter 1: perceptrons, NAND gates, the adder, and the two exercises on scaling by c."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnaccel
from nnaccel.book import perceptrons as P
from tests.conftest import BACKEND_PARAMS, make_backend

CPU_BACKENDS = [p for p in BACKEND_PARAMS if p.id in ("numpy", "array_api_strict")]


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_nand_perceptron_weights_minus_2_minus_2_bias_3(backend):
    """The book's NAND gate: output 0 only for input 11."""
    table = P.truth_table(P.nand_gate(backend=make_backend(backend)))
    assert [row[2] for row in table] == [1.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_the_nand_adder_adds_two_bits(backend):
    """sum = x1 XOR x2 and carry = x1 AND x2 for every input."""
    for x1, x2, total, carry in P.truth_table(P.adder(backend=make_backend(backend))):
        assert 2 * carry + total == x1 + x2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-4, 4), min_size=9, max_size=9), st.integers(-4, 4),
       st.sampled_from([0.25, 0.5, 2.0, 3.0, 10.0, 100.0]))
def test_multiplying_every_weight_and_bias_by_c_changes_no_perceptron(weights, bias, c):
    """Exercise 1: step(c(w·x + b)) = step(w·x + b) for every c > 0, layer after layer."""
    def net(scale):
        n = nnaccel.Network([2, 3, 1], cost="quadratic", hidden_activation="step",
                            output_activation="step", device="cpu", dtype="float64")
        w1 = np.array(weights[:6], float).reshape(3, 2)
        w2 = np.array(weights[6:], float).reshape(1, 3)
        n.set_parameters([scale * w1, scale * w2], [scale * np.array([bias, -bias, 1.0]), scale * np.array([bias])])
        return n

    assert P.truth_table(net(1.0)) == P.truth_table(net(c))


def test_sigmoid_network_tends_to_the_perceptron_network_as_c_grows():
    """Exercise 2: with every w, b × c the sigmoid adder's outputs approach the perceptrons'."""
    gaps = [P.largest_gap(c) for c in (1.0, 10.0, 100.0, 1000.0)]
    assert gaps[0] > 0.5  # at c = 1 a sigmoid network is no adder
    assert all(a >= b for a, b in zip(gaps, gaps[1:]))
    assert gaps[1] < 0.01 and gaps[2] < 1e-12


def test_a_neuron_on_its_boundary_stays_at_one_half():
    """…except where w·x + b = 0: σ(c·0) = ½ for every c, while the perceptron gives 0."""
    for c in (1.0, 10.0, 1000.0):
        assert P._tie("sigmoid", c) == 0.5
        assert P._tie("step", c) == 0.0


def test_training_step_neurons_is_refused_with_the_books_reason():
    """Gradient descent cannot train perceptrons: a step's derivative carries no signal."""
    net = nnaccel.Network([2, 1], output_activation="step", cost="quadratic", device="cpu")
    with pytest.raises(nnaccel.NNAccelError, match="gradient descent"):
        net.SGD((np.array(P.INPUTS), np.array([1.0, 1.0, 1.0, 0.0]).reshape(-1, 1)), 1, 2, 1.0)


def test_perceptron_experiment_summary_matches_the_book():
    class Ctx:
        backend = nnaccel.resolve("cpu", "numpy")

    summary = P.perceptrons(Ctx())["summary"]
    assert summary[0][1] == summary[0][2]  # NAND
    assert summary[1][1] == summary[1][2]  # adder
    assert summary[2][2] == "true"
    assert summary[4][2] == "0 vs 0.5"
