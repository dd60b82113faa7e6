"""Each activation's derivative against central finite differences, and its stability."""

import warnings

import numpy as np
import pytest
from array_api_compat import numpy as xp

from nnaccel.core import activations as A

EPS = 1e-6


def finite_difference(act, z):
    return (act.fn(xp, z + EPS) - act.fn(xp, z - EPS)) / (2 * EPS)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "linear"])
def test_prime_matches_finite_differences(name):
    act = A.get(name)
    z = np.random.default_rng(0).normal(size=(5, 7)) * 3
    z = z[np.abs(z) > 1e-3].reshape(-1, 1)  # stay off ReLU's kink
    a = act.fn(xp, z)
    np.testing.assert_allclose(act.prime(xp, z, a), finite_difference(act, z), rtol=1e-6, atol=1e-8)


def test_sigmoid_prime_is_sigma_times_one_minus_sigma():
    """σ′(z) = σ(z)(1−σ(z))."""
    s = A.Sigmoid()
    z = np.linspace(-8, 8, 33)
    sig = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(s.fn(xp, z), sig, rtol=1e-15, atol=2e-16)
    np.testing.assert_allclose(s.prime(xp, z, s.fn(xp, z)), sig * (1 - sig), rtol=1e-13, atol=2e-16)


def test_sigmoid_is_stable_for_large_z():
    s = A.Sigmoid()
    z = np.array([-1000.0, -745.0, -40.0, 0.0, 40.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = s.fn(xp, z)
    assert np.all(np.isfinite(a))
    assert a[0] == 0.0 and a[-1] == 1.0 and a[3] == 0.5
    assert abs(a[2] - np.exp(-40)) < 1e-16  # absolute precision near 0


def test_a_saturated_sigmoid_gives_exact_zeros_not_subnormals():
    """Subnormal floats make x86 arithmetic 10-100x slower; saturation must round to 0 or 1."""
    z = np.linspace(-200, 200, 4001, dtype=np.float32)
    a = A.Sigmoid().fn(xp, z)
    tiny = np.finfo(np.float32).tiny
    assert not np.any((a > 0) & (a < tiny))
    assert not np.any((a * (1 - a) > 0) & (a * (1 - a) < tiny))


def test_softmax_is_stable_and_sums_to_one():
    sm = A.Softmax()
    z = np.array([[1000.0, 999.0, -1000.0], [0.0, 0.0, 0.0]])
    a = sm.fn(xp, z)
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(np.sum(a, axis=1), 1.0)
    np.testing.assert_allclose(a[0, :2], [1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1))])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "linear", "softmax"])
def test_vjp_is_the_chain_rule(name):
    """vjp(z, a, g) = ∂(g·a)/∂z, checked column by column with finite differences."""
    act = A.get(name)
    rng = np.random.default_rng(1)
    z = rng.normal(size=(3, 4))
    g = rng.normal(size=(3, 4))
    got = act.vjp(xp, z, act.fn(xp, z), g)
    want = np.zeros_like(z)
    for j in range(4):
        dz = np.zeros_like(z)
        dz[:, j] = EPS
        want[:, j] = np.sum(g * (act.fn(xp, z + dz) - act.fn(xp, z - dz)), axis=1) / (2 * EPS)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_softmax_is_output_only_and_unknown_names_are_refused():
    assert not A.get("softmax").hidden_ok
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        A.get("swish")
