"""The optimizer seam (issue 11): each optimizer an (init, update) pair over a NamedTuple of
slots, checked against its formula; checkpoints hold any optimizer's slots; the trainer names none."""

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest

import nnaccel
import nnaccel.training.trainer
from nnaccel import optim as optimizers
from nnaccel.epochs import fast
from nnaccel.epochs.generic import EpochOptions, GenericEpoch, initial_state
from nnaccel.errors import NNAccelError
from nnaccel.io.checkpoints import load_checkpoint, optimizer_slots, save_checkpoint
from nnaccel.optim import Batch, SGDState, sgd
from nnaccel.optim.lbfgs import two_loop
from nnaccel.training.trainer import TrainState, restore
from tests.conftest import make_backend

FULL_BATCH = ("newton", "hessian-free", "lbfgs")


def _batch_step(opt, w, b, gw, gb, state, m=4, n=20):
    (new_w, new_b), state = opt.update(([gw], [gb]), state, ([w], [b]), Batch(np, m, n))
    return new_w[0], new_b[0], state


W, B = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([0.1, -0.2])
GW, GB = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([4.0, -1.0])


def test_sgd_with_l2_shrinks_w_by_one_minus_eta_lambda_over_n_then_steps():
    """w → (1 − ηλ/n)w − (η/m)Σ∇C_x, b → b − (η/m)Σ∇C_x; no slot is used."""
    opt = sgd(eta=0.5, lmbda=2.0)
    w, b, state = _batch_step(opt, W, B, GW, GB, opt.init(([W], [B])))
    np.testing.assert_allclose(w, (1 - 0.5 * 2.0 / 20) * W - (0.5 / 4) * GW, rtol=1e-15)
    np.testing.assert_allclose(b, B - (0.5 / 4) * GB, rtol=1e-15)
    assert state == SGDState() and state.velocity_w == []


def test_sgd_with_l1_moves_w_by_eta_l1_over_n_times_sign_w():
    opt = sgd(eta=0.5, l1=3.0)
    w, _, _ = _batch_step(opt, W, B, GW, GB, opt.init(None))
    np.testing.assert_allclose(w, W - (0.5 / 4) * GW - (0.5 * 3.0 / 20) * np.sign(W), rtol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_keeps_a_velocity_slot_v_to_mu_v_minus_eta_grad(nesterov):
    """v → μv − η∇C (∇C with λw/n); w → w + v, or w + μv − η∇C with Nesterov; two steps."""
    eta, mu, lmbda, m, n = 0.5, 0.9, 1.0, 4, 20
    opt = sgd(eta, lmbda=lmbda, momentum=mu, nesterov=nesterov)
    state = opt.init(([W], [B]))
    w, b, vw, vb = W, B, np.zeros_like(W), np.zeros_like(B)
    for _ in range(2):
        got_w, got_b, state = _batch_step(opt, w, b, GW, GB, state, m, n)
        gw, gb = GW / m + (lmbda / n) * w, GB / m
        vw, vb = mu * vw - eta * gw, mu * vb - eta * gb
        w = w + (mu * vw - eta * gw if nesterov else vw)
        b = b + (mu * vb - eta * gb if nesterov else vb)
        np.testing.assert_allclose(got_w, w, rtol=1e-14)
        np.testing.assert_allclose(got_b, b, rtol=1e-14)
        np.testing.assert_allclose(state.velocity_w[0], vw, rtol=1e-14)
        np.testing.assert_allclose(state.velocity_b[0], vb, rtol=1e-14)


def test_lbfgs_two_loop_satisfies_the_secant_equation():
    """The inverse-Hessian estimate maps the newest gradient change y onto its step s: H⁻¹y = s."""
    rng = np.random.default_rng(0)
    a = rng.random((5, 5))
    a = a @ a.T + 5 * np.eye(5)  # a positive definite H: y = H s
    s_list = [rng.normal(size=5) for _ in range(3)]
    y_list = [a @ s for s in s_list]
    np.testing.assert_allclose(two_loop(np, y_list[-1], s_list, y_list), s_list[-1], rtol=1e-12)


def _problem(seed=3):
    net = nnaccel.Network([4, 3, 2], dtype="float64", device="cpu", seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.random((30, 4))
    return net, net.data((x, (x[:, 0] > x[:, 1]).astype(int)))


@pytest.mark.parametrize("name", FULL_BATCH)
def test_full_batch_update_moves_params_from_the_objective(name):
    """init(params) gives a NamedTuple; update(∇C, state, params, objective) returns new params
    that lower the cost (newton with damping: a step down (H + δI)⁻¹∇C)."""
    from nnaccel.core.second_order import Objective

    net, data = _problem()
    opt = optimizers.make(EpochOptions(10, 1.0, optimizer=name, damping=1.0 if name != "lbfgs" else None))
    objective = Objective(net, data)
    params = objective.params()
    state = opt.init(params)
    assert opt.full_batch and hasattr(state, "_fields")
    before = objective.value()
    new, state = opt.update(objective.gradient(), state, params, objective)
    objective.set(new)
    assert objective.value() < before
    assert type(state) is type(opt.init(params))


def _slots_equal(a, b):
    assert type(a) is type(b) and a._fields == b._fields
    for x, y in zip(a, b):
        if isinstance(x, (list, tuple)):
            assert type(x) is type(y) and len(x) == len(y)
            for u, v in zip(x, y):
                np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
        elif x is None or isinstance(x, float):
            assert x == y
        else:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("name,kw", [("sgd", {}), ("sgd", {"momentum": 0.5}), ("newton", {"damping": 1.0}),
                                     ("hessian-free", {}), ("lbfgs", {})])
def test_every_optimizers_state_round_trips_through_a_checkpoint(tmp_path, name, kw):
    """The generic slot walker saves each field (arrays, lists/tuples of arrays, numbers, None)
    and the resume rebuilds the same NamedTuple, bit for bit."""
    net, data = _problem()
    options = EpochOptions(10, 0.5, optimizer=name, **kw)
    state = initial_state(net, data, options)
    for epochs in range(3):
        if epochs:  # the state before any epoch (lbfgs: None slots) and after one and two
            state = GenericEpoch(net, options)(net, data, state)
        save_checkpoint(tmp_path / "c.npz", net, TrainState(eta=0.5, optimizer=name, opt_state=state), {})
        loaded = load_checkpoint(tmp_path / "c.npz")
        assert optimizer_slots(*loaded)[0] == name
        fresh, _ = _problem(seed=9)
        back = restore(fresh, loaded, initial_state(fresh, data, options), name).opt_state
        _slots_equal(back, state)


def test_a_checkpoint_of_the_momentum_format_reads_as_sgd_slots(tmp_path, small_data):
    """Files written before the seam (groups vw/vb, no 'optimizer' entry) resume as SGD's velocities."""
    import json

    net = nnaccel.Network([12, 5, 4], dtype="float64", device="cpu", seed=1)
    nnaccel.training.trainer.train(net, small_data, 1, 10, 0.5, momentum=0.5, checkpoint=tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz", allow_pickle=False) as z:
        meta = json.loads(str(z["meta"][()]))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    assert meta["optimizer"]["slots"]["velocity_w"] == {"group": "vw", "container": "list"}
    del meta["optimizer"]
    np.savez(tmp_path / "old.npz", meta=np.array(json.dumps(meta)), **arrays)
    state = restore(nnaccel.Network([12, 5, 4], dtype="float64", device="cpu"), tmp_path / "old.npz").opt_state
    assert isinstance(state, SGDState)
    np.testing.assert_array_equal(state.velocity_w[1], arrays["vw1"])


def test_resuming_with_another_optimizer_is_refused_in_one_line(tmp_path, small_data):
    net = nnaccel.Network([12, 5, 4], dtype="float64", device="cpu", seed=1)
    nnaccel.training.trainer.train(net, small_data, 1, 10, 0.5, optimizer="lbfgs", checkpoint=tmp_path / "c.npz")
    with pytest.raises(NNAccelError, match="trained with --optimizer lbfgs; resume it with --optimizer lbfgs"):
        nnaccel.training.trainer.train(net, small_data, 2, 10, 0.5, resume=tmp_path / "c.npz")


OPTIMIZER_WORDS = ("sgd", "velocit", "nesterov", "newton", "hessian", "lbfgs", "vw", "vb", "damping_")


def _names(tree):
    """Every identifier, attribute and string constant of a module, docstrings left out."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield node.attr
        elif isinstance(node, ast.alias):
            yield node.name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.value


def test_the_trainer_names_no_optimizer():
    """trainer.py holds no optimizer's name, state type or slot; momentum and nesterov appear only
    as options passed through to EpochOptions and the checks (not as slots or updates)."""
    tree = ast.parse(Path(nnaccel.training.trainer.__file__).read_text())
    found = sorted({n for n in _names(tree) for w in OPTIMIZER_WORDS if w in n.lower() and n != "nesterov"})
    assert found == []
    passed_through = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in ("momentum", "nesterov")}
    assert passed_through == {"momentum", "nesterov"}  # the test sees them: it would see a slot too


def test_each_fast_path_declares_its_optimizers_and_applies_checks_them(small_data):
    """Every registered path lists the optimizers it implements; none applies to a full-batch
    optimizer or to dropout, so fast.choose falls back to the generic path."""
    net = nnaccel.Network([12, 5, 4], device="cpu", seed=1)
    paths = [p for group in fast.REGISTRY.values() for p in group]
    assert paths and all(set(p.optimizers) <= set(optimizers.NAMES) for p in paths)
    assert set(GenericEpoch.optimizers) == set(optimizers.NAMES)
    for p in fast.REGISTRY["numpy"]:
        base = EpochOptions(10, 0.5)
        assert p.applies(net, base) or p.__name__ == "CEpoch"  # the C kernel may be unbuilt
        for name in FULL_BATCH:
            assert not p.applies(net, dataclasses.replace(base, optimizer=name))
        assert not p.applies(net, dataclasses.replace(base, dropout=0.5))
    for name in FULL_BATCH:
        assert type(fast.choose(net, EpochOptions(10, 0.5, optimizer=name))) is GenericEpoch


def test_check_options_refuses_what_an_optimizer_ignores():
    for name in FULL_BATCH:
        for kw, flag in ((dict(l1=0.1), "--l1"), (dict(momentum=0.5), "--momentum"),
                         (dict(nesterov=True), "--nesterov"), (dict(dropout=0.5), "--dropout")):
            with pytest.raises(NNAccelError, match=f"{flag} does not apply to --optimizer {name}; drop it"):
                optimizers.check_options(name, **kw)
    with pytest.raises(NNAccelError, match="--damping does not apply to --optimizer sgd"):
        optimizers.check_options("sgd", damping=1.0)
    with pytest.raises(NNAccelError, match="optimizer must be one of sgd, newton, hessian-free, lbfgs, got 'adam'"):
        optimizers.check_options("adam")
    with pytest.raises(NNAccelError, match="damping 0 does not apply to --optimizer hessian-free"):
        optimizers.check_options("hessian-free", damping=0.0)


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_sgd_through_the_seam_equals_network2s_update(small_data, backend):
    """run_epoch through Optimizer.update gives the book's step on one full mini-batch."""
    x, y = small_data
    net = nnaccel.Network([12, 5, 4], backend=make_backend(backend), dtype="float64", seed=4)
    data = net.data((x, y))
    nabla_b, nabla_w = net.backprop(data.x, data.targets)
    to_np = net.backend.to_numpy
    w0, gw = [to_np(w) for w in net.weights], [to_np(g) for g in nabla_w]
    GenericEpoch(net, EpochOptions(60, 0.5, lmbda=3.0, shuffle=False))(net, data, SGDState())
    for got, w, g in zip(net.parameters_numpy()[0], w0, gw):
        np.testing.assert_allclose(got, (1 - 0.5 * 3.0 / 60) * w - (0.5 / 60) * g, rtol=1e-13)
