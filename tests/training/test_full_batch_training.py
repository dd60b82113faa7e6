"""Full-batch optimizers (newton, hessian-free, lbfgs) and dropout trained through train():
one update per epoch, with monitoring, schedules, checkpoints and a bit-identical resume."""

import numpy as np
import pytest

import nnaccel
from nnaccel.core import second_order
from nnaccel.errors import NNAccelError
from nnaccel.optim.newton import MAX_PARAMETERS
from nnaccel.training.trainer import train
from tests.conftest import BACKEND_PARAMS, make_backend

CPU_BACKENDS = [p for p in BACKEND_PARAMS if p.id in ("numpy", "array_api_strict")]

FULL_BATCH = ("newton", "hessian-free", "lbfgs")


def _classes(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 6))
    return x, (x[:, 0] + x[:, 1] > x[:, 2] + x[:, 3]).astype(int)


def _net(sizes=(6, 5, 2), seed=1, backend="numpy", **kw):
    return nnaccel.Network(list(sizes), backend=make_backend(backend), dtype="float64", seed=seed, **kw)


def _host(net):
    return [net.backend.to_numpy(a) for a in net.weights + net.biases]


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_newton_through_train_minimises_a_quadratic_cost_in_one_epoch(backend):
    """A linear network with the quadratic cost: C(w, b) is quadratic, so one epoch of
    w → w − H⁻¹∇C (η = 1, δ = 0) lands on its minimum, the normal equations' solution."""
    rng = np.random.default_rng(2)
    x = rng.random((25, 3))
    y = x @ rng.normal(size=(3, 2)) + 0.05 * rng.normal(size=(25, 2))
    net = _net((3, 2), backend=backend, cost="quadratic", output_activation="linear")
    history = train(net, (x, y), 1, 10, 1.0, lmbda=0.5, optimizer="newton", damping=0.0,
                    monitor_training_cost=True)
    assert np.linalg.norm(second_order.gradient(net, (x, y), 0.5)) < 1e-10
    a = np.hstack([x, np.ones((25, 1))])
    theta = np.linalg.solve(a.T @ a + np.diag([0.5, 0.5, 0.5, 0.0]), a.T @ y)
    w, b = net.parameters_numpy()
    np.testing.assert_allclose(w[0], theta[:-1].T, atol=1e-10)
    np.testing.assert_allclose(b[0], theta[-1], atol=1e-10)
    assert history.training_cost == [pytest.approx(net.total_cost((x, y), 0.5))]


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("optimizer", ["hessian-free", "lbfgs"])
def test_the_cost_never_rises_and_falls_overall(optimizer, backend):
    """Both accept a step only if the full-batch cost goes down (HF's ρ test, L-BFGS's Armijo)."""
    data = _classes()
    net = _net(backend=backend)
    before = net.total_cost(data, 0.1)
    costs = train(net, data, 6, 10, 1.0, lmbda=0.1, optimizer=optimizer, monitor_training_cost=True).training_cost
    assert len(costs) == 6 and costs[0] < before and costs[-1] < 0.9 * before
    assert all(b <= a for a, b in zip(costs, costs[1:]))


@pytest.mark.parametrize("optimizer", FULL_BATCH)
def test_the_mini_batch_size_is_unused_by_a_full_batch_optimizer(optimizer):
    """One update per epoch on all n examples: m = 1 and m = 1000 train the same network."""
    data = _classes()
    a, b = _net(), _net()
    train(a, data, 2, 1, 0.5, optimizer=optimizer)
    train(b, data, 2, 1000, 0.5, optimizer=optimizer)
    for u, v in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("optimizer,kw", [("lbfgs", {}), ("hessian-free", {"damping": 0.5}),
                                          ("newton", {"damping": 0.1})])
def test_resume_from_a_checkpoint_is_bit_identical(tmp_path, optimizer, kw, backend):
    """Two epochs, a checkpoint, two more from it: the same parameters and figures as four at once
    (the optimizer's slots — L-BFGS's pairs, HF's warm start and λ — come back exactly)."""
    data = _classes()
    opts = dict(evaluation_data=data, monitor_evaluation_cost=True, monitor_training_cost=True,
                optimizer=optimizer, lmbda=0.1, **kw)
    whole = _net(backend=backend)
    h_whole = train(whole, data, 4, 10, 0.8, **opts)
    part = _net(backend=backend)
    train(part, data, 2, 10, 0.8, checkpoint=tmp_path / "c.npz", **opts)
    resumed = _net(seed=5, backend=backend)
    h_resumed = train(resumed, data, 4, 10, 0.8, resume=tmp_path / "c.npz", **opts)
    for u, v in zip(_host(whole), _host(resumed)):
        np.testing.assert_array_equal(u, v)
    assert h_whole.training_cost == h_resumed.training_cost
    assert h_whole.evaluation_cost == h_resumed.evaluation_cost


def test_a_schedule_sets_the_full_batch_optimizers_eta():
    """η of the schedules is the optimizer's step: 'exponential' multiplies it by γ each epoch."""
    data = _classes()
    history = train(_net(), data, 3, 10, 0.8, optimizer="lbfgs", schedule="exponential", gamma=0.5)
    assert [r["eta"] for r in history.records] == [0.8, 0.4, 0.2]


def test_early_stopping_keeps_the_best_network_with_a_full_batch_optimizer():
    data = _classes()
    net = _net()
    history = train(net, data, 8, 10, 1.0, optimizer="hessian-free", evaluation_data=data, early_stopping=2)
    assert net.accuracy(data) == max(history.evaluation_accuracy)


def test_newton_refuses_a_network_over_max_parameters_before_any_epoch():
    """[784, 30, 10] has 23,860 parameters: H would be 23,860² numbers. Refused up front."""
    net = nnaccel.Network([784, 30, 10], device="cpu", seed=0)
    weights = net.parameters_numpy()[0]
    x = np.random.default_rng(0).random((5, 784))
    epochs = []
    with pytest.raises(NNAccelError, match=f"for this network's 23860 parameters; use it up to {MAX_PARAMETERS} "
                                           "parameters, or --optimizer hessian-free") as e:
        train(net, (x, np.arange(5)), 1, 10, 1.0, optimizer="newton", callback=epochs.append)
    assert "\n" not in str(e.value) and epochs == []
    np.testing.assert_array_equal(net.parameters_numpy()[0][0], weights[0])


@pytest.mark.parametrize("optimizer", FULL_BATCH)
@pytest.mark.parametrize("kw,flag", [(dict(l1=0.1), "--l1"), (dict(momentum=0.9), "--momentum"),
                                     (dict(nesterov=True, momentum=0.9), "--momentum"),
                                     (dict(dropout=0.5), "--dropout")])
def test_options_a_full_batch_optimizer_cannot_honour_are_refused(optimizer, kw, flag):
    with pytest.raises(NNAccelError, match=f"{flag} does not apply to --optimizer {optimizer}; drop it, "
                                           "or use --optimizer sgd"):
        train(_net(), _classes(), 1, 10, 0.5, optimizer=optimizer, **kw)


def test_damping_and_unknown_optimizers_are_refused():
    with pytest.raises(NNAccelError, match="--damping does not apply to --optimizer sgd"):
        train(_net(), _classes(), 1, 10, 0.5, damping=1.0)
    with pytest.raises(NNAccelError, match="optimizer must be one of sgd, newton, hessian-free, lbfgs, got 'bfgs'"):
        train(_net(), _classes(), 1, 10, 0.5, optimizer="bfgs")
    with pytest.raises(NNAccelError, match="damping 0 does not apply to --optimizer hessian-free"):
        train(_net(), _classes(), 1, 10, 0.5, optimizer="hessian-free", damping=0.0)


def test_training_step_neurons_is_refused_with_the_books_reason_before_any_epoch():
    """Perceptrons: the step's derivative is 0 wherever it exists, so gradient descent cannot move them."""
    net = nnaccel.Network([6, 2], output_activation="step", cost="quadratic", device="cpu", seed=0)
    epochs = []
    with pytest.raises(NNAccelError, match="cannot be trained by gradient descent") as e:
        train(net, _classes(), 1, 10, 0.5, callback=epochs.append)
    assert epochs == [] and "\n" not in str(e.value)


# Dropout through the trainer (the masks and thinned backprop are nnaccel.core.dropout's and network's).

def test_run_epoch_draws_the_masks_from_the_networks_generator():
    """One mini-batch of dropout equals draw_masks from the same generator state, then backprop
    through the thinned network and the SGD step."""
    from nnaccel.core.dropout import draw_masks
    from nnaccel.epochs.generic import EpochOptions, run_epoch
    from nnaccel.optim import SGDState

    x, y = _classes()
    net, ref = _net(), _net()
    data = net.data((x, y))
    run_epoch(net, data, EpochOptions(40, 0.5, shuffle=False, dropout=0.5), SGDState())
    masks = draw_masks(ref, 40, 0.5)
    nabla_b, nabla_w = ref.backprop(data.x, data.targets, masks=masks)
    for got, w, g in zip(net.weights, ref.weights, nabla_w):
        np.testing.assert_array_equal(got, w - (0.5 / 40) * g)
    assert net.rng.bit_generator.state == ref.rng.bit_generator.state


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("mode", ["per-batch", "per-example"])
def test_resume_with_dropout_is_bit_identical_and_records_p(tmp_path, mode, backend):
    from nnaccel.io.checkpoints import load_checkpoint

    data = _classes()
    opts = dict(dropout=0.5, dropout_mode=mode, momentum=0.5, evaluation_data=data, monitor_evaluation_accuracy=True)
    whole = _net((6, 8, 2), backend=backend)
    h_whole = train(whole, data, 4, 10, 0.5, **opts)
    train(_net((6, 8, 2), backend=backend), data, 2, 10, 0.5, checkpoint=tmp_path / "c.npz", **opts)
    assert load_checkpoint(tmp_path / "c.npz")[0]["state"]["dropout"] == 0.5
    resumed = _net((6, 8, 2), seed=7, backend=backend)
    h_resumed = train(resumed, data, 4, 10, 0.5, resume=tmp_path / "c.npz", **opts)
    for u, v in zip(_host(whole), _host(resumed)):
        np.testing.assert_array_equal(u, v)
    assert h_whole.evaluation_accuracy == h_resumed.evaluation_accuracy
    assert whole.dropout == resumed.dropout == 0.5  # evaluation scales the outgoing weights by 1 − p


def test_dropout_goes_to_the_generic_path_and_changes_the_result():
    """No fast path implements dropout: training with it takes the generic epoch, and differs
    from training without it (the masks do thin the network)."""
    data = _classes()
    a, b = _net((6, 8, 2)), _net((6, 8, 2))
    train(a, data, 1, 10, 0.5, dropout=0.5)
    train(b, data, 1, 10, 0.5)
    assert not np.array_equal(a.weights[0], b.weights[0])


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_newton_on_a_singular_hessian_says_to_add_damping(backend):
    """Dead ReLU neurons have no curvature: H is singular without δ, and the step is refused in
    one line with the fix; with δ > 0 the same epoch runs."""
    x = np.random.default_rng(0).random((10, 3))
    net = _net((3, 2, 1), backend=backend, cost="quadratic", output_activation="linear", hidden_activation="relu")
    w, b = net.parameters_numpy()
    net.set_parameters([np.full_like(w[0], -5.0), w[1]], [np.full_like(b[0], -5.0), b[1]])
    with pytest.raises(NNAccelError, match="is singular, so the Newton step .* use --damping δ > 0") as e:
        train(net, (x, x[:, :1]), 1, 10, 1.0, optimizer="newton")
    assert "\n" not in str(e.value)
    train(net, (x, x[:, :1]), 1, 10, 1.0, optimizer="newton", damping=1e-3)
