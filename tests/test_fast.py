"""The NumPy fast path gives the generic array-API path's numbers, and steps aside where it can't."""

import numpy as np
import pytest

import nnaccel
from nnaccel.fast import epoch_runner

CASES = [
    dict(cost="quadratic"),
    dict(cost="cross-entropy", lmbda=2.0),
    dict(cost="cross-entropy", hidden_activation=["relu", "tanh"], momentum=0.9, lmbda=1.0, eta=0.01),
    dict(cost="log-likelihood", output_activation="softmax", hidden_activation=["linear", "relu"]),
    dict(cost="quadratic", output_activation="linear", hidden_activation=["tanh", "sigmoid"]),
]


@pytest.mark.parametrize("case", CASES)
def test_fast_path_equals_generic_path_after_an_epoch(case, mnist10k):
    case = dict(case)
    lmbda, momentum, eta = case.pop("lmbda", 0.0), case.pop("momentum", 0.0), case.pop("eta", 0.1)
    hidden = case.pop("hidden_activation", ["sigmoid", "sigmoid"])
    data = (mnist10k.train[0][:1005], mnist10k.train[1][:1005])  # a smaller last mini-batch too
    nets = [nnaccel.Network([784, 20, 15, 10], device="cpu", dtype="float64", seed=3,
                            hidden_activation=hidden, **case) for _ in range(2)]
    results = []
    for net, fused in zip(nets, (True, False)):
        net.SGD(data, 2, 10, eta, lmbda=lmbda, momentum=momentum, fused=fused)
        results.append(net.parameters_numpy())
    for got, want in zip(results[0][0] + results[0][1], results[1][0] + results[1][1]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_float32_fast_path_is_within_float32_rounding(mnist10k):
    data = (mnist10k.train[0][:2000], mnist10k.train[1][:2000])
    a = nnaccel.Network([784, 30, 10], device="cpu", seed=1, cost="quadratic")
    b = nnaccel.Network([784, 30, 10], device="cpu", seed=1, cost="quadratic")
    a.SGD(data, 1, 10, 3.0, fused=True)
    b.SGD(data, 1, 10, 3.0, fused=False)
    for x, y in zip(a.weights, b.weights):
        assert x.dtype == np.float32
        np.testing.assert_allclose(x, y, rtol=0, atol=2e-4)


def test_the_fast_path_steps_aside_where_it_does_not_apply():
    net = nnaccel.Network([4, 3, 2], device="cpu", seed=0)
    assert epoch_runner(net) is not None
    assert epoch_runner(net, l1=0.1) is None and epoch_runner(net, nesterov=True) is None
    assert epoch_runner(nnaccel.Network([4, 3, 2], cost="quadratic", output_activation="tanh", device="cpu")) is None
    assert epoch_runner(nnaccel.Network([4, 3, 2], backend="array_api_strict", device="cpu")) is None
