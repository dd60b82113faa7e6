"""Backprop and the SGD step are written once, over a member axis (nnaccel.core.backprop): one
network is K = 1, a population K members, and both go through the same lines."""

import numpy as np
import pytest

import nnaccel
from nnaccel.core import backprop as maths
from nnaccel.data.arrays import one_hot
from nnaccel.epochs.population import Coefficients, PopulationOptions
from nnaccel.nets.population import Population

SIZES = [5, 4, 3]
HIDDEN_OUTPUT_COST = [("sigmoid", "sigmoid", "cross-entropy"), ("tanh", "softmax", "log-likelihood"),
                      ("relu", "softmax", "quadratic")]


def _batch(backend, m=7, seed=1, dtype="float64"):
    rng = np.random.default_rng(seed)
    x = backend.asarray(rng.normal(size=(m, SIZES[0])), dtype)
    labels = backend.asarray(rng.integers(0, SIZES[-1], size=m))
    y = one_hot(backend.xp, labels, SIZES[-1], backend.dtype(dtype))
    return x, y


def _host(backend, arrays):
    return [backend.to_numpy(a) for a in arrays]


@pytest.mark.parametrize("hidden,output,cost", HIDDEN_OUTPUT_COST)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_network_and_a_population_of_one_take_the_same_step_to_the_last_bit(backend, hidden, output, cost,
                                                                              dtype):
    """K = 1 is a network: its own arrays, and the same arrays as a stack of one member, give the
    same gradients and the same SGD step (L2 and momentum) through the one backprop and update."""
    xp = backend.xp
    net = nnaccel.Network(SIZES, cost=cost, hidden_activation=hidden, output_activation=output, dtype=dtype,
                          backend=backend, seed=4)
    x, y = _batch(backend, dtype=dtype)
    nabla_b, nabla_w = net.backprop(x, y)
    stacked_w = [w[None, ...] for w in net.weights]
    stacked_b = [b[None, None, ...] for b in net.biases]
    member_b, member_w = maths.backprop(xp, stacked_w, stacked_b, net.activations, net.cost, x, y)
    for got, want in zip(_host(backend, [g[0, 0, ...] for g in member_b] + [g[0, ...] for g in member_w]),
                         _host(backend, nabla_b + nabla_w)):
        np.testing.assert_array_equal(got, want)

    options = PopulationOptions(7, eta=(0.3,), lmbda=(2.0,), momentum=(0.6,))
    step = Coefficients(backend, dtype, options, 50).step(7)
    velocity = ([xp.ones_like(w) * 0.1 for w in stacked_w], [xp.ones_like(b) * 0.1 for b in stacked_b])
    pop_w, pop_b, (pop_vw, pop_vb) = maths.sgd_update(xp, stacked_w, stacked_b, member_w, member_b, velocity, step)
    one = maths.sgd_step(0.3, 7, 50, lmbda=2.0, momentum=0.6)
    net_velocity = ([v[0, ...] for v in velocity[0]], [v[0, 0, ...] for v in velocity[1]])
    net_w, net_b, (net_vw, net_vb) = maths.sgd_update(xp, net.weights, net.biases, nabla_w, nabla_b,
                                                      net_velocity, one)
    for got, want in zip(_host(backend, [a[0, ...] for a in pop_w + pop_vw] + [a[0, 0, ...] for a in pop_b + pop_vb]),
                         _host(backend, net_w + net_vw + net_b + net_vb)):
        np.testing.assert_array_equal(got, want)


def test_a_population_of_one_trains_as_its_network_to_the_last_bit(backend, small_data):
    """Population(sizes, seeds=[s]).train equals Network(sizes, seed=s).SGD through the generic
    paths, bit for bit, with L2, momentum and shuffling."""
    x, labels = small_data
    pop = Population([12, 6, 4], seeds=[3], backend=backend, dtype="float64")
    pop.train((x, labels), 2, 7, 0.4, lmbda=1.5, momentum=0.5, fused=False)
    net = nnaccel.Network([12, 6, 4], seed=3, backend=backend, dtype="float64")
    net.SGD((x, labels), 2, 7, 0.4, lmbda=1.5, momentum=0.5, fused=False)
    for got, want in zip(_host(backend, [w[0, ...] for w in pop.weights] + [b[0, ...] for b in pop.biases]),
                         _host(backend, net.weights + net.biases)):
        np.testing.assert_array_equal(got, want)


def test_backprop_of_two_members_with_different_weights_equals_finite_differences():
    """With K = 2 members of different weights, member k's ∂C/∂w and ∂C/∂b are
    (C_k(w+ε) − C_k(w−ε))/2ε of its own cost, and do not depend on the other member."""
    backend = nnaccel.resolve("cpu", "numpy")
    xp = backend.xp
    nets = [nnaccel.Network([5, 4, 3, 3], hidden_activation="tanh", output_activation="softmax",
                            cost="log-likelihood", dtype="float64", backend=backend, seed=s) for s in (1, 2)]
    weights = [np.stack([net.weights[l] for net in nets]) for l in range(3)]
    biases = [np.stack([net.biases[l][None, :] for net in nets]) for l in range(3)]
    x, y = _batch(backend, m=6)
    acts, cost = nets[0].activations, nets[0].cost
    nabla_b, nabla_w = maths.backprop(xp, weights, biases, acts, cost, x, y)
    assert not np.allclose(nabla_w[0][0], nabla_w[0][1])  # the members really differ

    def member_cost(k):
        return float(cost.fn(xp, maths.feedforward(xp, weights, biases, acts, x)[k, ...], y))

    eps = 1e-6
    for params, grads in ((weights, nabla_w), (biases, nabla_b)):
        for p, g in zip(params, grads):
            for k in range(2):
                flat, gflat = p[k].reshape(-1), g[k].reshape(-1)  # views: p[k] changes with flat
                for i in range(0, flat.size, max(1, flat.size // 6)):
                    old = flat[i]
                    flat[i] = old + eps
                    up, other_up = member_cost(k), member_cost(1 - k)
                    flat[i] = old - eps
                    down, other_down = member_cost(k), member_cost(1 - k)
                    flat[i] = old
                    assert gflat[i] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-8)
                    assert other_up == other_down


def test_members_without_momentum_take_the_plain_step_and_keep_their_velocity():
    """In a stack where only some members have μ, each member's step is its own network's: the
    plain one (1 − ηλ/n)w − (η/m)Σ∇C for μ = 0, its velocity kept; v → μv − η∇C for the others."""
    backend = nnaccel.resolve("cpu", "numpy")
    rng = np.random.default_rng(0)
    w, nw, v = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    b, nb, vb = rng.normal(size=(3, 1, 4)), rng.normal(size=(3, 1, 4)), rng.normal(size=(3, 1, 4))
    etas, lmbdas, mus = (0.1, 0.5, 3.0), (0.0, 1.0, 5.0), (0.0, 0.5, 0.9)
    step = Coefficients(backend, "float64", PopulationOptions(10, etas, lmbdas, mus), 60).step(10)
    new_w, new_b, (new_v, new_vb) = maths.sgd_update(backend.xp, [w], [b], [nw], [nb], ([v], [vb]), step)
    for k, (eta, lmbda, mu) in enumerate(zip(etas, lmbdas, mus)):
        one = maths.sgd_step(eta, 10, 60, lmbda=lmbda, momentum=mu)
        velocity = ([v[k]], [vb[k]]) if mu else ([], [])
        want_w, want_b, want_v = maths.sgd_update(backend.xp, [w[k]], [b[k]], [nw[k]], [nb[k]], velocity, one)
        np.testing.assert_array_equal(new_w[0][k], want_w[0])
        np.testing.assert_array_equal(new_b[0][k], want_b[0])
        np.testing.assert_array_equal(new_v[0][k], want_v[0][0] if mu else v[k])
        np.testing.assert_array_equal(new_vb[0][k], want_v[1][0] if mu else vb[k])
