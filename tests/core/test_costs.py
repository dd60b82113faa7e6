"""Costs: their values against the book's formulas, δᴸ against finite differences."""

import numpy as np
import pytest
from array_api_compat import numpy as xp

from nnaccel.core import activations as A
from nnaccel.core import costs as C
from nnaccel.errors import NNAccelError

ACCEPTED = [(c, o) for c in ("quadratic", "cross-entropy", "log-likelihood")
            for o in ("sigmoid", "tanh", "relu", "linear", "softmax")
            if not (c == "cross-entropy" and o not in ("sigmoid", "softmax"))
            and not (c == "log-likelihood" and o != "softmax")]


def _targets(rng, shape):
    y = np.zeros(shape)
    y[np.arange(shape[0]), rng.integers(0, shape[1], size=shape[0])] = 1.0
    return y


@pytest.mark.parametrize("cost,output", ACCEPTED)
def test_delta_is_dC_dz(cost, output):
    """BP1: δᴸ = ∂C/∂zᴸ, for every cost × output pair the API accepts."""
    c, act = C.get(cost), A.get(output)
    rng = np.random.default_rng(3)
    z = rng.normal(size=(4, 5))
    z[np.abs(z) < 1e-3] = 0.5
    y = _targets(rng, z.shape)
    got = c.delta(xp, z, act.fn(xp, z), y, act)
    want = np.zeros_like(z)
    eps = 1e-6
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            dz = np.zeros_like(z)
            dz[i, j] = eps
            want[i, j] = (c.fn(xp, act.fn(xp, z + dz), y) - c.fn(xp, act.fn(xp, z - dz), y)) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_cross_entropy_with_sigmoid_makes_delta_a_minus_y():
    """Cross-entropy makes δᴸ = aᴸ − y: no σ′ factor, no learning slowdown."""
    z = np.array([[9.0, -9.0, 0.3]])
    y = np.array([[0.0, 1.0, 1.0]])
    s = A.Sigmoid()
    a = s.fn(xp, z)
    np.testing.assert_array_equal(C.CrossEntropyCost().delta(xp, z, a, y, s), a - y)


def test_log_likelihood_with_softmax_makes_delta_a_minus_y():
    z = np.array([[2.0, -1.0, 0.5]])
    y = np.array([[0.0, 0.0, 1.0]])
    sm = A.Softmax()
    a = sm.fn(xp, z)
    np.testing.assert_array_equal(C.LogLikelihoodCost().delta(xp, z, a, y, sm), a - y)
    assert C.LogLikelihoodCost().fn(xp, a, y) == pytest.approx(-np.log(a[0, 2]))


def test_quadratic_delta_has_the_sigma_prime_factor():
    """Quadratic cost: δᴸ = (a − y) ⊙ σ′(zᴸ), the source of the learning slowdown."""
    z = np.array([[4.0, -0.5]])
    y = np.array([[0.0, 1.0]])
    s = A.Sigmoid()
    a = s.fn(xp, z)
    np.testing.assert_allclose(C.QuadraticCost().delta(xp, z, a, y, s), (a - y) * a * (1 - a))
    assert C.QuadraticCost().fn(xp, a, y) == pytest.approx(0.5 * np.sum((a - y) ** 2))


def test_cross_entropy_value_matches_network2():
    a = np.array([[0.25, 0.9, 1e-3]])
    y = np.array([[1.0, 0.0, 1.0]])
    want = np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))
    assert C.CrossEntropyCost().fn(xp, a, y) == pytest.approx(want, rel=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_saturated_wrong_output_costs_minus_log_of_the_smallest_normal(dtype):
    """0·ln 0 counts 0 (as network2); a confident wrong answer costs −ln(tiny), and sums stay finite."""
    a = np.array([[1.0, 1.0, 0.0, 0.0]], dtype=dtype)
    y = np.array([[0.0, 1.0, 1.0, 0.0]], dtype=dtype)
    cap = -np.log(np.finfo(dtype).smallest_normal)
    got = C.CrossEntropyCost().fn(xp, a, y)
    assert np.isfinite(got) and got == pytest.approx(2 * cap, rel=1e-6)
    big = np.ones((1000, 10), dtype=dtype)
    assert np.isfinite(C.CrossEntropyCost().fn(xp, big, np.zeros_like(big)))
    assert C.LogLikelihoodCost().fn(xp, np.array([[0.0, 1.0]], dtype=dtype),
                                    np.array([[1.0, 0.0]], dtype=dtype)) == pytest.approx(cap, rel=1e-6)


@pytest.mark.parametrize("cost,output", [("cross-entropy", "tanh"), ("cross-entropy", "relu"),
                                         ("cross-entropy", "linear"), ("log-likelihood", "sigmoid")])
def test_pairs_that_make_no_sense_are_refused(cost, output):
    with pytest.raises(NNAccelError, match="--output-activation|--cost"):
        C.get(cost).check(A.get(output))


def test_costs_by_name_and_by_network2_class_name():
    assert C.get("CrossEntropyCost") is C.get("cross-entropy")
    assert C.get("QuadraticCost").name == "quadratic"
    with pytest.raises(NNAccelError, match="unknown cost"):
        C.get("hinge")
