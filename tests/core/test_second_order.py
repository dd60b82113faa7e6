"""The Hessian technique's building blocks: H·v by the R-operator, and the full H, against
finite differences of the gradient for every activation × cost pair."""

import itertools

import numpy as np
import pytest

import nnaccel
from nnaccel.core import second_order
from tests.conftest import BACKEND_PARAMS, make_backend
from tests.core.test_costs import ACCEPTED

HIDDEN = ["sigmoid", "tanh", "relu", "linear"]
CPU_BACKENDS = [p for p in BACKEND_PARAMS if p.id in ("numpy", "array_api_strict")]


def _net(backend, cost, hidden, output, sizes=(4, 3, 3)):
    return nnaccel.Network(list(sizes), cost=cost, hidden_activation=hidden, output_activation=output,
                           backend=make_backend(backend), dtype="float64", seed=3)


def _data(sizes=(4, 3, 3), n=7, seed=5):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, size=(n, sizes[0])), rng.integers(0, sizes[-1], size=n)


def _flat(net):
    w, b = net.parameters_numpy()
    return np.concatenate([p for wb in zip(w, b) for p in (wb[0].reshape(-1), wb[1])])


def _set_flat(net, flat):
    ws, bs, k = [], [], 0
    for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:]):
        ws.append(flat[k:k + n_out * n_in].reshape(n_out, n_in))
        k += n_out * n_in
        bs.append(flat[k:k + n_out])
        k += n_out
    net.set_parameters(ws, bs)


def _fd_hvp(net, data, v, lmbda, eps=1e-5):
    """(∇C(w + εv) − ∇C(w − εv)) / 2ε, the gradient from second_order.gradient."""
    w0 = _flat(net)
    _set_flat(net, w0 + eps * v)
    up = second_order.gradient(net, data, lmbda)
    _set_flat(net, w0 - eps * v)
    down = second_order.gradient(net, data, lmbda)
    _set_flat(net, w0)
    return (up - down) / (2 * eps)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("hidden,cost,output",
                         [(h, c, o) for h, (c, o) in itertools.product(HIDDEN, ACCEPTED)])
def test_hvp_equals_finite_differences_of_the_gradient(backend, hidden, cost, output):
    """H·v by the R-operator = (∇C(w+εv) − ∇C(w−εv))/2ε, every accepted activation × cost."""
    net = _net(backend, cost, hidden, output)
    data = _data()
    v = np.random.default_rng(11).normal(size=_flat(net).size)
    exact = second_order.hvp(net, data, v, lmbda=0.3)
    assert np.allclose(exact, _fd_hvp(net, data, v, 0.3), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("hidden,cost,output", [("sigmoid", "quadratic", "sigmoid"),
                                                ("tanh", "log-likelihood", "softmax")])
def test_gradient_equals_finite_differences_of_total_cost(hidden, cost, output):
    """second_order.gradient is ∇ of the cost net.total_cost(data, λ) reports."""
    net = _net("numpy", cost, hidden, output)
    data = _data()
    g = second_order.gradient(net, data, lmbda=0.7)
    w0, eps = _flat(net), 1e-6
    for i in range(0, w0.size, 3):
        e = np.zeros_like(w0)
        e[i] = eps
        _set_flat(net, w0 + e)
        up = net.total_cost(data, 0.7)
        _set_flat(net, w0 - e)
        down = net.total_cost(data, 0.7)
        _set_flat(net, w0)
        assert g[i] == pytest.approx((up - down) / (2 * eps), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_full_hessian_is_symmetric_and_matches_finite_differences(backend):
    """H = [H·e_1 … H·e_P] is symmetric, and each column is a finite difference of ∇C."""
    net = _net(backend, "cross-entropy", "tanh", "sigmoid", sizes=(3, 2, 2))
    data = _data(sizes=(3, 2, 2))
    h = second_order.hessian(net, data, lmbda=0.5)
    p = _flat(net).size
    assert h.shape == (p, p)
    assert np.allclose(h, h.T, atol=1e-10)
    fd = np.stack([_fd_hvp(net, data, np.eye(p)[i], 0.5) for i in range(p)], axis=1)
    assert np.allclose(h, fd, rtol=1e-6, atol=1e-8)


def test_l2_adds_lambda_over_n_to_the_diagonal_of_the_weights():
    """½(λ/n)Σw² adds (λ/n)·I on the weights' block of H and nothing on the biases'."""
    net = _net("numpy", "quadratic", "sigmoid", "sigmoid", sizes=(2, 2))
    data = _data(sizes=(2, 2), n=4)
    diff = second_order.hessian(net, data, lmbda=2.0) - second_order.hessian(net, data, lmbda=0.0)
    assert np.allclose(np.diag(diff), [0.5] * 4 + [0.0] * 2)  # λ/n = 2/4; w¹ then b¹
    assert np.allclose(diff - np.diag(np.diag(diff)), 0.0)


def test_hvp_refuses_a_vector_of_the_wrong_size():
    net = _net("numpy", "quadratic", "sigmoid", "sigmoid")
    with pytest.raises(nnaccel.NNAccelError, match="flat vector"):
        second_order.hvp(net, _data(), np.zeros(3))
