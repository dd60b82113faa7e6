"""Chapter 3's techniques, each checked against its formula with a hand-computed step."""

import numpy as np
import pytest

import nnaccel
from nnaccel.errors import NNAccelError
from nnaccel.optim import SGDState, sgd_update
from nnaccel.training import schedules
from tests.conftest import make_backend


def _net(backend="numpy", **kw):
    return nnaccel.Network([12, 5, 4], backend=make_backend(backend), dtype="float64", seed=4, **kw)


def _step_by_hand(net, x, y, **kw):
    """One full-batch step computed from the formulas, on host arrays."""
    data = net.data((x, y))
    nabla_b, nabla_w = net.backprop(data.x, data.targets)
    to_np = net.backend.to_numpy
    return ([to_np(w) for w in net.weights], [to_np(b) for b in net.biases],
            [to_np(g) for g in nabla_w], [to_np(g) for g in nabla_b])


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_l1_moves_w_by_eta_lambda_over_n_times_sign_w(small_data, backend):
    """L1: w → w − (ηλ/n)·sgn(w) − (η/m)Σ∇C_x."""
    x, y = small_data
    net = _net(backend)
    w0, b0, nw, nb = _step_by_hand(net, x, y)
    eta, l1, n = 0.5, 4.0, 60
    net.SGD((x, y), 1, 60, eta, l1=l1, shuffle=False)
    for w, g, got in zip(w0, nw, net.parameters_numpy()[0]):
        np.testing.assert_allclose(got, w - (eta / 60) * g - (eta * l1 / n) * np.sign(w), rtol=1e-13)


def test_l1_cost_adds_lambda_over_n_sum_of_abs_w(small_data):
    net = _net()
    w = net.parameters_numpy()[0]
    want = net.total_cost(small_data) + (3.0 / 60) * sum(np.abs(v).sum() for v in w)
    assert net.total_cost(small_data, l1=3.0) == pytest.approx(want, rel=1e-14)


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_momentum_v_becomes_mu_v_minus_eta_grad_and_w_plus_v(small_data, backend):
    """Momentum: v → μv − η∇C, w → w + v; two steps so that the velocity matters."""
    x, y = small_data
    net = _net(backend)
    mu, eta, lmbda, n = 0.9, 0.3, 2.0, 60
    w, b, _, _ = _step_by_hand(net, x, y)
    vw = [np.zeros_like(a) for a in w]
    vb = [np.zeros_like(a) for a in b]
    ref = _net("numpy")
    for _ in range(2):
        ref.set_parameters(w, b)
        _, _, nw, nb = _step_by_hand(ref, x, y)
        vw = [mu * v - eta * (g / 60 + (lmbda / n) * p) for v, g, p in zip(vw, nw, w)]
        vb = [mu * v - eta * g / 60 for v, g in zip(vb, nb)]
        w = [p + v for p, v in zip(w, vw)]
        b = [p + v for p, v in zip(b, vb)]
    net.SGD((x, y), 2, 60, eta, lmbda=lmbda, momentum=mu, shuffle=False)
    for got, want in zip(net.parameters_numpy()[0] + net.parameters_numpy()[1], w + b):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_nesterov_moves_by_mu_v_minus_eta_grad():
    from array_api_compat import numpy as xp

    w, g = np.array([[1.0, -2.0]]), np.array([[0.5, 0.5]])
    state = SGDState([np.array([[0.1, 0.2]])], [np.zeros(1)])
    new_w, _, new_state = sgd_update(xp, [w], [np.zeros(1)], [g], [np.zeros(1)], state,
                                     eta=0.1, m=1, n=1, momentum=0.9, nesterov=True)
    v = 0.9 * np.array([[0.1, 0.2]]) - 0.1 * g
    np.testing.assert_allclose(new_state.velocity_w[0], v)
    np.testing.assert_allclose(new_w[0], w + 0.9 * v - 0.1 * g)


def test_no_improvement_in_n_rule():
    assert not schedules.no_improvement([1, 2, 3], 2)
    assert schedules.no_improvement([5, 4, 5], 2)  # best of last 2 (5) not better than before (5)
    assert not schedules.no_improvement([5, 4, 6], 2)
    assert not schedules.no_improvement([5, 4], 2)  # too few epochs to judge


def test_average_rule_compares_the_last_n_with_the_n_before():
    assert schedules.average_no_improvement([1, 3, 2, 2], 2)  # mean 2 ≤ mean 2
    assert not schedules.average_no_improvement([1, 3, 2, 3], 2)
    assert not schedules.average_no_improvement([9, 9, 1], 2)


def test_halving_halves_eta_on_a_plateau_and_stops_at_eta0_over_128():
    eta, since, accuracies = 1.0, 0, []
    halvings = []
    for epoch in range(200):
        accuracies.append(50)  # never improves
        since += 1
        new_eta, since, stop = schedules.halve_on_plateau(eta, 1.0, accuracies, since, 3)
        if new_eta != eta:
            assert new_eta == eta / 2
            halvings.append(epoch)
        eta = new_eta
        if stop:
            break
    assert eta == 1.0 / 128 and len(halvings) == 7
    assert halvings[:2] == [3, 6]  # the rule looks only at epochs since the last halving


def test_step_and_exponential_schedules():
    assert [schedules.scheduled_eta(1.0, e, "step", 2, 0.5) for e in range(5)] == [1, 1, .5, .5, .25]
    assert schedules.scheduled_eta(2.0, 3, "exponential", gamma=0.5) == 0.25
    assert schedules.scheduled_eta(2.0, 3, "constant") == 2.0


def _plateau_run(**kw):
    """A network that cannot improve (η tiny): every stopping rule fires on schedule."""
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 12)), rng.integers(0, 4, 40)
    net = _net()
    history = nnaccel.training.trainer.train(net, (x, y), 100, 10, 1e-9, evaluation_data=(x, y), **kw)
    return net, history


def test_early_stopping_stops_after_n_epochs_without_improvement_and_keeps_the_best(small_data):
    net, history = _plateau_run(early_stopping=4)
    assert len(history.records) == 5 and "no improvement in 4 epochs" in history.stopped
    x, y = small_data
    net = _net()
    h = nnaccel.training.trainer.train(net, (x[:40], y[:40]), 30, 10, 5.0, evaluation_data=(x[40:], y[40:]),
                              early_stopping=3, monitor_evaluation_cost=True)
    best = max(range(len(h.evaluation_accuracy)), key=lambda i: (h.evaluation_accuracy[i], -i))
    assert net.accuracy((x[40:], y[40:])) == h.evaluation_accuracy[best]


def test_halve_schedule_stops_at_eta0_over_128():
    _, history = _plateau_run(schedule="halve", patience=2)
    assert "eta0/128" in history.stopped
    etas = [r["eta"] for r in history.records]
    assert etas[0] == 1e-9 and etas[-1] == 1e-9 / 64  # the last epoch ran at η₀/64, then η fell to η₀/128


@pytest.mark.parametrize("kw,match", [
    ({"momentum": 1.0}, "momentum must be in \\[0, 1\\)"), ({"momentum": -0.1}, "momentum"),
    ({"early_stopping": 0}, "early_stopping must be a whole number ≥ 1"), ({"schedule": "cosine"}, "schedule must be one of"),
    ({"patience": 0}, "patience"), ({"gamma": 1.5}, "gamma"), ({"l1": -1.0}, "l1 must be ≥ 0"),
])
def test_bad_technique_settings_are_refused(small_data, kw, match):
    with pytest.raises(NNAccelError, match=match):
        nnaccel.training.trainer.train(_net(), small_data, 1, 10, 0.5, evaluation_data=small_data, **kw)


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_divergence_names_the_epoch_and_suggests_a_smaller_eta(small_data):
    net = _net(hidden_activation="linear", output_activation="linear", cost="quadratic")
    with pytest.raises(nnaccel.training.trainer.TrainingDiverged, match="diverged at epoch \\d+: the cost became (nan|inf).*smaller eta"):
        net.SGD(small_data, 50, 10, 100.0, evaluation_data=small_data, monitor_evaluation_cost=True)
    unmonitored = _net(hidden_activation="linear", output_activation="linear", cost="quadratic")
    with pytest.raises(nnaccel.training.trainer.TrainingDiverged, match="the weights became nan or infinite"):
        unmonitored.SGD(small_data, 50, 10, 100.0)


def test_a_network_mixing_activations_trains(mnist10k):
    """ReLU and tanh hidden layers, softmax output with log-likelihood: it learns the digits."""
    net = nnaccel.Network([784, 40, 20, 10], cost="log-likelihood", hidden_activation=["relu", "tanh"],
                          output_activation="softmax", device="cpu", seed=1)
    _, accuracy, _, _ = net.SGD(mnist10k.train, 2, 10, 0.1, evaluation_data=mnist10k.test,
                                monitor_evaluation_accuracy=True)
    assert accuracy[-1] > 1700


def test_linear_outputs_with_the_quadratic_cost_learn_a_regression():
    rng = np.random.default_rng(0)
    x = rng.random((200, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    net = nnaccel.Network([3, 1], cost="quadratic", output_activation="linear", device="cpu",
                          dtype="float64", seed=0)
    net.SGD((x, y), 300, 10, 0.5)
    np.testing.assert_allclose(net.weights[0], [[1.0, -2.0, 0.5]], atol=1e-3)
    np.testing.assert_allclose(net.biases[0], [0.3], atol=1e-3)
