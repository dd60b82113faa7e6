"""The fast-path contract (nnaccel.epochs.generic, nnaccel.epochs.fast): options are bound once, when a path is
chosen, so no path can be handed an option it would ignore; and whatever choose() returns
trains exactly as run_epoch does."""

import ast
import itertools
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest

import nnaccel
import nnaccel.epochs.generic
import nnaccel.epochs.fast.c_epoch
from nnaccel.epochs import fast
from nnaccel.epochs.fast.c_epoch import CEpoch
from nnaccel.epochs.fast.cupy_epoch import CupyEpoch
from nnaccel.epochs.fast.numpy_epoch import NumpyEpoch
from nnaccel.epochs.generic import EpochOptions, EpochPath, GenericEpoch, run_epoch
from nnaccel.optim import SGDState
from tests.kernel_emulator import ElementwiseKernel



def _net(**kw):
    kw.setdefault("hidden_activation", "sigmoid")
    return nnaccel.Network([12, 7, 5, 4], device="cpu", dtype="float64", seed=4, **kw)


def _data(rows=53, pixels=True):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (rows, 12), dtype=np.uint8) if pixels else rng.random((rows, 12))
    return x, rng.integers(0, 4, rows)


def _epochs(path_cls, options, net_kw=None, epochs=2, pixels=True):
    net = _net(**(net_kw or {}))
    data = net.data(_data(pixels=pixels))
    path = path_cls(net, options) if path_cls is not None else None
    state = SGDState()
    for _ in range(epochs):
        state = path(net, data, state) if path else run_epoch(net, data, options, state)
    return [np.asarray(a) for a in net.weights + net.biases + state.velocity_w + state.velocity_b]


def _assert_same(got, want, atol=1e-12):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=atol)


class EmulatedCupy(CupyEpoch):
    """The CuPy path's own code on NumPy arrays (kernels through tests/kernel_emulator.py)."""

    def __init__(self, net, options):
        super().__init__(net, options, ElementwiseKernel, np)


def test_the_old_bug_cannot_happen_l1_never_reaches_a_path_that_ignores_it():
    """Issue 8: epoch_function(net, True, mini_batch_size=10)(…, l1=5.0) ran the C kernel, which
    ignored L1, and differed from run_epoch by 0.27. Now L1 is bound when the path is chosen."""
    options = EpochOptions(10, 0.5, l1=5.0)
    net = _net()
    path = fast.choose(net, options)
    assert type(path) is GenericEpoch
    for path_cls in fast.REGISTRY["numpy"] + fast.REGISTRY["cupy"]:
        assert not path_cls.applies(net, options), path_cls
    data = net.data(_data())
    with pytest.raises(TypeError):
        path(net, data, SGDState(), l1=5.0)  # no option can be passed at call time
    with pytest.raises(TypeError):
        fast.choose(net, EpochOptions(10, 0.5))(net, data, SGDState(), l1=5.0)
    _assert_same(_epochs(type(path), options), _epochs(None, options))


def test_options_are_frozen_once_bound():
    options = EpochOptions(10, 0.5)
    with pytest.raises(FrozenInstanceError):
        options.l1 = 5.0
    path = fast.choose(_net(), options)
    assert path.options is options


OPTION_GRID = [
    EpochOptions(m, 0.3, lmbda=lmbda, l1=l1, momentum=mu, nesterov=nesterov, shuffle=shuffle)
    for m, lmbda, l1, mu, nesterov, shuffle in itertools.product(
        (1, 7, 64), (0.0, 2.0), (0.0, 0.5), (0.0, 0.6), (False, True), (True, False))
]


@pytest.mark.parametrize("options", OPTION_GRID, ids=str)
def test_for_every_option_combination_the_chosen_path_equals_run_epoch(options):
    """float64, two epochs (the second starts from the first's velocity), 53 rows: a smaller last batch."""
    net = _net()
    chosen = type(fast.choose(net, options))
    want = _epochs(None, options)
    _assert_same(_epochs(chosen, options), want)
    for path_cls in fast.REGISTRY["numpy"]:  # every path that applies, not only the first
        if path_cls.applies(net, options):
            _assert_same(_epochs(path_cls, options), want)
            _assert_same(_epochs(path_cls, options, pixels=False), _epochs(None, options, pixels=False))
    if fast.supported(net, options):  # the CuPy path's code, emulated on NumPy
        _assert_same(_epochs(EmulatedCupy, options), want)


@pytest.mark.parametrize("net_kw", [
    dict(cost="quadratic"),
    dict(cost="log-likelihood", output_activation="softmax", hidden_activation=["relu", "tanh"]),
    dict(cost="quadratic", output_activation="linear", hidden_activation=["linear", "sigmoid"]),
    dict(cost="quadratic", output_activation="tanh"),  # no fast path: generic
], ids=lambda kw: kw["cost"] + "-" + kw.get("output_activation", "sigmoid"))
def test_every_layer_and_cost_the_chosen_path_equals_run_epoch(net_kw):
    options = EpochOptions(10, 0.2, lmbda=1.0, momentum=0.5)
    chosen = type(fast.choose(_net(**net_kw), options))
    _assert_same(_epochs(chosen, options, net_kw), _epochs(None, options, net_kw))


def test_the_registry_lists_each_backends_paths_best_first():
    assert fast.REGISTRY["numpy"] == (CEpoch, NumpyEpoch)
    assert [p.__name__ for p in fast.REGISTRY["cupy"]] == ["PersistentEpoch", "CupyEpoch"]
    for path_cls in fast.REGISTRY["numpy"] + fast.REGISTRY["cupy"] + (GenericEpoch,):
        assert issubclass(path_cls, EpochPath) or all(
            hasattr(path_cls, a) for a in ("name", "applies", "selfcheck", "rebind"))
        assert isinstance(path_cls.name, str) and path_cls.name != "?"
    assert all(p.selfcheck for p in fast.REGISTRY["cupy"])  # never run on a GPU here: checked on first use
    assert not CEpoch.selfcheck and not NumpyEpoch.selfcheck


def test_no_fused_always_gives_the_generic_path():
    for options in OPTION_GRID[:8]:
        assert type(fast.choose(_net(), options, fused=False)) is GenericEpoch


def test_rebind_changes_eta_only_and_keeps_the_path():
    net = _net()
    path = fast.choose(net, EpochOptions(10, 0.5, momentum=0.5))
    faster = path.rebind(eta=0.25)
    assert type(faster) is type(path) and faster.options.eta == 0.25 and path.options.eta == 0.5
    assert faster.options.momentum == 0.5
    assert path.rebind(eta=0.5) is path
    with pytest.raises(TypeError):
        path.rebind(l1=1.0)  # another option could change which path applies: choose again
    _assert_same(_epochs(lambda n, o: fast.choose(n, EpochOptions(10, 0.5)).rebind(eta=0.25), None),
                 _epochs(None, EpochOptions(10, 0.25)))


def test_a_schedule_trains_the_same_on_the_fast_and_the_generic_path(mnist10k):
    """train() rebinds the chosen path when the schedule moves η (exponential: every epoch)."""
    data = (mnist10k.train[0][:300], mnist10k.train[1][:300])
    results = []
    for fused in (True, False):
        net = nnaccel.Network([784, 10, 10], device="cpu", dtype="float64", seed=2)
        history = net.SGD(data, 3, 10, 1.0, schedule="exponential", gamma=0.5, fused=fused, momentum=0.3)
        results.append(net.parameters_numpy())
    assert history is not None
    _assert_same(results[0][0] + results[0][1], results[1][0] + results[1][1])


def test_nnaccel_bench_names_the_path_that_ran(monkeypatch):
    from nnaccel.tools import bench

    monkeypatch.setitem(fast.REGISTRY, "numpy", (NumpyEpoch,))  # as where C was not compiled
    seconds, name = bench.time_epoch("cpu", "numpy", True, [20, 5, 4], 10, "float32", 40)
    assert name == "NumPy fast path" and seconds > 0
    _, name = bench.time_epoch("cpu", "numpy", False, [20, 5, 4], 10, "float32", 40)
    assert name == "generic array-API path"


def _imports(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
            names.update("." * node.level + (node.module + "." if node.module else "") + a.name
                         for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_the_epoch_and_the_fast_paths_never_import_the_trainer():
    """No cycle hidden by a deferred import: epoch.py and nnaccel/epochs/fast/* stand below the trainer,
    and epoch.py (a core module) imports no array library."""
    fast_paths = Path(nnaccel.epochs.fast.c_epoch.__file__).parent  # found by module, wherever the layout puts it
    files = [Path(nnaccel.epochs.generic.__file__)] + sorted(fast_paths.glob("*.py"))
    for path in files:
        imports = _imports(path)
        assert not any("trainer" in name for name in imports), path
        assert not any("network" in name for name in imports), path  # a module needing a Network receives one
    assert not {"numpy", "cupy", "torch", "jax"} & {n.split(".")[0] for n in _imports(Path(nnaccel.epochs.generic.__file__))}
