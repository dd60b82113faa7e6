"""Chapter 3's exercise: cross-entropy with targets strictly between 0 and 1 is minimised at
a = y, where it equals the binary entropy −[y ln y + (1 − y) ln(1 − y)]."""

import numpy as np
import pytest

import nnaccel
from nnaccel.core import costs as C
from tests.conftest import BACKEND_PARAMS, make_backend

CPU_BACKENDS = [p for p in BACKEND_PARAMS if p.id in ("numpy", "array_api_strict")]

XE = C.get("cross-entropy")


def _entropy(y):
    return -(y * np.log(y) + (1 - y) * np.log(1 - y))


@pytest.mark.parametrize("y", [0.1, 0.3, 0.5, 0.77, 0.95])
def test_cross_entropy_minimum_is_at_a_equals_y_with_the_binary_entropy(y):
    a = np.linspace(0.001, 0.999, 9981)
    costs = np.array([XE.fn(np, np.array([[ai]]), np.array([[y]])) for ai in a])
    assert a[np.argmin(costs)] == pytest.approx(y, abs=1e-3)
    assert float(XE.fn(np, np.array([[y]]), np.array([[y]]))) == pytest.approx(_entropy(y), rel=1e-12)
    assert float(XE.grad(np, np.array([[y]]), np.array([[y]]))[0, 0]) == 0.0


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("y", [0.2, 0.65])
def test_a_sigmoid_neuron_trained_on_a_fractional_target_outputs_it(y, backend):
    """δ = a − y still holds for fractional y, so gradient descent drives a to y."""
    net = nnaccel.Network([1, 1], cost="cross-entropy", backend=make_backend(backend), dtype="float64", seed=0)
    data = (np.array([[1.0]]), np.array([[y]]))
    net.SGD(data, 300, 1, 4.0)
    assert float(net.backend.to_numpy(net.feedforward([[1.0]]))[0, 0]) == pytest.approx(y, abs=1e-6)
    assert net.total_cost(data) == pytest.approx(_entropy(y), rel=1e-9)
