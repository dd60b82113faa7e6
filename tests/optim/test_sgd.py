"""Mini-batch SGD exactly as network2.py: the update rule, L2 decay, the last batch, monitoring."""

import numpy as np
import pytest

import nnaccel
from nnaccel.errors import NNAccelError


def _net(sizes=(12, 5, 4), **kw):
    return nnaccel.Network(list(sizes), device="cpu", dtype="float64", seed=4, **kw)


def test_l2_shrinks_w_by_one_minus_eta_lambda_over_n_before_the_gradient_step(small_data):
    """L2: w → (1 − ηλ/n)w − (η/m)Σ∇C_x, with n the training-set size; biases are not decayed."""
    x, y = small_data
    net = _net()
    w0, b0 = net.parameters_numpy()
    data = net.data((x, y))
    nabla_b, nabla_w = net.backprop(data.x[:60], data.targets[:60])
    eta, lmbda, n = 0.7, 3.0, 60
    net.SGD((x, y), 1, 60, eta, lmbda=lmbda, shuffle=False)
    w1, b1 = net.parameters_numpy()
    for w, nw, got in zip(w0, nabla_w, w1):
        np.testing.assert_allclose(got, (1 - eta * lmbda / n) * w - (eta / 60) * nw, rtol=1e-13, atol=1e-15)  # to rounding: paths sum in different orders
    for b, nb, got in zip(b0, nabla_b, b1):
        np.testing.assert_allclose(got, b - (eta / 60) * nb, rtol=1e-14)


def test_the_last_mini_batch_may_be_smaller_and_is_averaged_over_its_own_size(small_data):
    """n = 25, m = 10: batches of 10, 10 and 5; the last step divides by 5."""
    x, y = small_data
    x, y = x[:25], y[:25]
    net, ref = _net(), _net()
    data = ref.data((x, y))
    for k, m in ((0, 10), (10, 10), (20, 5)):
        nb, nw = ref.backprop(data.x[k:k + m], data.targets[k:k + m])
        ref.weights = [(1 - 0.5 * 2.0 / 25) * w - (0.5 / m) * g for w, g in zip(ref.weights, nw)]
        ref.biases = [b - (0.5 / m) * g for b, g in zip(ref.biases, nb)]
    net.SGD((x, y), 1, 10, 0.5, lmbda=2.0, shuffle=False)
    for got, want in zip(net.weights + net.biases, ref.weights + ref.biases):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_four_monitoring_lists_in_network2_order(small_data):
    x, y = small_data
    net = _net()
    ec, ea, tc, ta = net.SGD((x[:40], y[:40]), 3, 10, 0.5, evaluation_data=(x[40:], y[40:]),
                             monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                             monitor_training_cost=True, monitor_training_accuracy=False)
    assert len(ec) == len(ea) == len(tc) == 3 and ta == []
    assert all(isinstance(a, int) and 0 <= a <= 20 for a in ea)
    assert ec[-1] == pytest.approx(net.total_cost((x[40:], y[40:])))
    assert ea[-1] == net.accuracy((x[40:], y[40:]))


def test_total_cost_adds_half_lambda_over_n_sum_of_squared_weights(small_data):
    x, y = small_data
    net = _net()
    plain = net.total_cost((x, y))
    w = net.parameters_numpy()[0]
    want = plain + 0.5 * (2.0 / 60) * sum(np.sum(v * v) for v in w)
    assert net.total_cost((x, y), lmbda=2.0) == pytest.approx(want, rel=1e-14)


def test_shuffling_is_reproducible_from_the_seed(small_data):
    x, y = small_data
    a, b, c = _net(), _net(), _net()
    for net in (a, b):
        net.SGD((x, y), 2, 7, 0.5)
    c.SGD((x, y), 2, 7, 0.5, shuffle=False)
    np.testing.assert_array_equal(a.weights[0], b.weights[0])
    assert not np.array_equal(a.weights[0], c.weights[0])


def test_zero_epochs_changes_nothing(small_data):
    net = _net()
    before = net.parameters_numpy()[0][0].copy()
    assert net.SGD(small_data, 0, 10, 0.5) == ([], [], [], [])
    np.testing.assert_array_equal(net.weights[0], before)


@pytest.mark.parametrize("epochs,m,eta,lmbda,match", [
    (-1, 10, 0.5, 0.0, "epochs"), (1, 0, 0.5, 0.0, "mini_batch_size"), (1, 10, 0.0, 0.0, "eta"),
    (1, 10, -3.0, 0.0, "eta"), (1, 10, float("nan"), 0.0, "eta"), (1, 10, 0.5, -1.0, "lmbda"),
])
def test_bad_hyperparameters_are_refused(small_data, epochs, m, eta, lmbda, match):
    with pytest.raises(NNAccelError, match=match):
        _net().SGD(small_data, epochs, m, eta, lmbda=lmbda)


def test_data_that_does_not_fit_the_network_is_refused(small_data):
    x, y = small_data
    with pytest.raises(NNAccelError, match="sizes starting with 12"):
        _net((10, 5, 4)).SGD((x, y), 1, 10, 0.5)
    with pytest.raises(NNAccelError, match="sizes ending with 4"):
        _net((12, 5, 3)).SGD((x, y), 1, 10, 0.5)
    with pytest.raises(NNAccelError, match="one label per example"):
        _net().SGD((x, y[:10]), 1, 10, 0.5)


def test_bad_network_definitions_are_refused():
    for kwargs, match in (({"sizes": [784]}, "at least two layers"),
                          ({"sizes": [784, 0, 10]}, "at least two layers"),
                          ({"sizes": [4, 3, 2], "hidden_activation": "softmax"}, "hidden_activation must be one of sigmoid"),
                          ({"sizes": [4, 3, 2], "init": "xavier"}, "init must be one of default, large, got 'xavier'"),
                          ({"sizes": [4, 3, 2], "dtype": "float16"}, "unknown dtype")):
        sizes = kwargs.pop("sizes")
        with pytest.raises(NNAccelError, match=match):
            nnaccel.Network(sizes, device="cpu", **kwargs)


def test_default_and_large_initialisation_scale():
    """default: weights N(0,1)/√n_in; large: N(0,1). Biases N(0,1) in both."""
    d = nnaccel.Network([900, 400, 10], device="cpu", dtype="float64", seed=0, init="default")
    big = nnaccel.Network([900, 400, 10], device="cpu", dtype="float64", seed=0, init="large")
    assert np.std(d.weights[0]) == pytest.approx(1 / 30, rel=0.02)
    assert np.std(big.weights[0]) == pytest.approx(1.0, rel=0.02)
    np.testing.assert_array_equal(d.biases[0], big.biases[0])
    np.testing.assert_allclose(d.weights[0] * 30, big.weights[0], rtol=1e-14)


def test_feedforward_takes_one_example_or_a_batch():
    net = _net()
    x = np.random.default_rng(0).random((3, 12))
    batch = net.feedforward(x)
    assert batch.shape == (3, 4)
    np.testing.assert_allclose(net.feedforward(x[1]), batch[1], rtol=1e-15)
