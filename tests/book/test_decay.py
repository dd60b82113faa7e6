"""Chapter 3's exercise: L2 first shrinks N(0,1) weights by about exp(−ηλ/m) per epoch."""

import math

import numpy as np
import pytest

import nnaccel
from nnaccel.book import decay
from tests.conftest import BACKEND_PARAMS, make_backend

CPU_BACKENDS = [p for p in BACKEND_PARAMS if p.id in ("numpy", "array_api_strict")]


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_one_epoch_of_pure_decay_multiplies_w_by_one_minus_eta_lambda_over_n_per_step(backend):
    """With zero inputs w¹ gets no gradient: an epoch scales it by (1 − ηλ/n)^{n/m} exactly."""
    net = nnaccel.Network([3, 4, 2], cost="cross-entropy", init="large", backend=make_backend(backend),
                          dtype="float64", seed=1)
    w0 = net.backend.to_numpy(net.weights[0])
    n, m, eta, lmbda = 40, 10, 0.5, 3.0
    net.SGD((np.zeros((n, 3)), np.arange(n) % 2), 1, m, eta, lmbda=lmbda)
    assert np.allclose(net.backend.to_numpy(net.weights[0]), decay.epoch_factor(eta, lmbda, n, m) * w0,
                       rtol=1e-13, atol=0)


@pytest.mark.parametrize("eta,lmbda,m,n", [(0.5, 2.0, 10, 8000), (0.1, 5.0, 10, 50000), (3.0, 1.0, 32, 60000)])
def test_per_epoch_decay_is_about_exp_of_minus_eta_lambda_over_m(eta, lmbda, m, n):
    """(1 − ηλ/n)^{⌈n/m⌉} = exp(−ηλ/m)·(1 − (ηλ)²/2nm + …), within ηλ/n for the rounding of n/m."""
    exact, approx = decay.epoch_factor(eta, lmbda, n, m), decay.predicted_factor(eta, lmbda, m)
    assert exact == pytest.approx(approx, rel=(eta * lmbda) ** 2 / (n * m) + eta * lmbda / n)
    assert math.log(exact) == pytest.approx(-eta * lmbda / m, rel=0.02)
