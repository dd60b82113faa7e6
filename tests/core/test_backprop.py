"""Backpropagation (BP1–BP4) over a whole mini-batch: finite differences and per-example sums."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnaccel
from nnaccel.data.arrays import one_hot
from reference.book_loop import BookNetwork, CrossEntropyCost
from tests.core.test_costs import ACCEPTED

HIDDEN = ["sigmoid", "tanh", "relu", "linear"]


def _net(sizes, cost="cross-entropy", hidden="sigmoid", output="sigmoid", seed=0):
    return nnaccel.Network(sizes, cost=cost, hidden_activation=hidden, output_activation=output,
                           device="cpu", dtype="float64", seed=seed)


def _batch(net, m, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, net.sizes[0]))
    y = one_hot(net.xp, np.asarray(rng.integers(0, net.sizes[-1], size=m)), net.sizes[-1], np.float64)
    return x, y


def _cost(net, x, y):
    return float(net.cost.fn(net.xp, net.feedforward(x), y))


@pytest.mark.parametrize("hidden,cost,output", [(h, c, o) for h, (c, o) in itertools.product(HIDDEN, ACCEPTED)])
def test_gradient_matches_central_finite_differences(hidden, cost, output):
    """∂C/∂w and ∂C/∂b from backprop equal (C(w+ε) − C(w−ε))/2ε, every accepted combination."""
    net = _net([5, 4, 3, 3], cost, hidden, output)
    x, y = _batch(net, 6)
    nabla_b, nabla_w = net.backprop(x, y)
    eps = 1e-6
    for params, grads in ((net.weights, nabla_w), (net.biases, nabla_b)):
        for p, g in zip(params, grads):
            flat, gflat = p.reshape(-1), np.asarray(g).reshape(-1)
            for i in range(0, flat.size, max(1, flat.size // 7)):
                old = flat[i]
                flat[i] = old + eps
                up = _cost(net, x, y)
                flat[i] = old - eps
                down = _cost(net, x, y)
                flat[i] = old
                assert gflat[i] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-7)


def _per_example(net, x, y):
    """The book's loop: backprop one example at a time and add the gradients up."""
    total_b = [np.zeros(b.shape) for b in net.biases]
    total_w = [np.zeros(w.shape) for w in net.weights]
    for i in range(x.shape[0]):
        nb, nw = net.backprop(x[i:i + 1], y[i:i + 1])
        total_b = [t + g for t, g in zip(total_b, nb)]
        total_w = [t + g for t, g in zip(total_w, nw)]
    return total_b, total_w


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 12), hidden=st.sampled_from(HIDDEN),
       pair=st.sampled_from(ACCEPTED), seed=st.integers(0, 2**16))
def test_whole_batch_backprop_equals_sum_of_per_example(m, hidden, pair, seed):
    net = _net([6, 5, 4], pair[0], hidden, pair[1], seed=seed)
    x, y = _batch(net, m, seed)
    nabla_b, nabla_w = net.backprop(x, y)
    ref_b, ref_w = _per_example(net, x, y)
    for got, want in zip(nabla_b + nabla_w, ref_b + ref_w):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_backprop_matches_the_book_loop_for_one_example():
    net = _net([4, 3, 2])
    w, b = net.parameters_numpy()
    book = BookNetwork([4, 3, 2], CrossEntropyCost, weights=w, biases=b)
    x, y = _batch(net, 1)
    nb, nw = net.backprop(x, y)
    bb, bw = book.backprop(x.T, np.asarray(y).T)
    for got, want in zip(nw, bw):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    for got, want in zip(nb, bb):
        np.testing.assert_allclose(got, want[:, 0], rtol=1e-13)
