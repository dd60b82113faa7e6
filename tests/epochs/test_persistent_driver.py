"""PersistentEpoch's choices, without running its kernel: where it applies, what it compiles,
and how much shared memory it asks for. A stand-in network whose backend is called "cupy" lets
this run without CuPy; the device's shared-memory limit is patched in."""

from __future__ import annotations

import types

import numpy as np
import pytest

import nnaccel
from nnaccel.epochs.fast import persistent_epoch, register_epoch
from nnaccel.epochs.fast.persistent_epoch import PersistentEpoch, name_expression, shared_bytes
from nnaccel.epochs.generic import EpochOptions

H100_OPT_IN = 227 * 1024


@pytest.fixture(autouse=True)
def h100(monkeypatch):
    monkeypatch.setattr(persistent_epoch, "opt_in_shared_limit", lambda: H100_OPT_IN)
    monkeypatch.setattr(persistent_epoch, "has_clusters", lambda: True)  # sm_90


def _cupy_net(sizes=(784, 30, 10), dtype="float32", **kw):
    """A NumPy network that says its backend is CuPy: what applies() looks at, and no GPU needed."""
    net = nnaccel.Network(list(sizes), device="cpu", dtype=dtype, seed=0, **kw)
    return types.SimpleNamespace(**{**vars(net), "backend": types.SimpleNamespace(name="cupy")})


def test_the_books_network_on_cupy_takes_the_persistent_path():
    assert PersistentEpoch.applies(_cupy_net(), EpochOptions(10, 3.0))
    assert PersistentEpoch.applies(_cupy_net(dtype="float64"), EpochOptions(10, 3.0, lmbda=5.0, momentum=0.9))
    assert PersistentEpoch.applies(_cupy_net(cost="log-likelihood", output_activation="softmax",
                                             hidden_activation="relu"), EpochOptions(10, 0.1, shuffle=False))


def test_it_refuses_what_it_cannot_honour():
    net = _cupy_net()
    assert not PersistentEpoch.applies(net, EpochOptions(10, 3.0, l1=0.1))
    assert not PersistentEpoch.applies(net, EpochOptions(10, 3.0, momentum=0.5, nesterov=True))
    assert not PersistentEpoch.applies(_cupy_net(cost="quadratic", output_activation="tanh"), EpochOptions(10, 3.0))


def test_it_is_for_cupy_networks_only():
    for backend in ("numpy", "array_api_strict"):
        net = nnaccel.Network([784, 30, 10], device="cpu", backend=backend, seed=0)
        assert not PersistentEpoch.applies(net, EpochOptions(10, 3.0))


def test_large_work_deep_networks_and_buffers_beyond_shared_memory_go_elsewhere(monkeypatch):
    """The register kernel (a cluster on sm_90) takes [784, 100, 10] whatever m; without clusters
    epoch.cu above MAX_WORK multiply-adds per mini-batch is expected to lose to the fused path; more
    than MAX_LAYERS layers exceed the kernel's tables; a's and δ's that do not fit shared memory
    cannot run."""
    assert PersistentEpoch.applies(_cupy_net((784, 100, 10)), EpochOptions(32, 3.0))  # a cluster of 4, M = 4
    assert not PersistentEpoch.applies(_cupy_net((784, 100, 10)), EpochOptions(32, 3.0, momentum=0.5))  # 32 rows
    # of a⁰ and w¹'s velocity: 229 KB of shared memory, above the H100's 227 (and MAX_WORK refuses epoch.cu)
    assert not PersistentEpoch.applies(_cupy_net((784, 300, 10)), EpochOptions(32, 3.0))  # 7.6 M, > 8 × 32 hidden
    monkeypatch.setattr(persistent_epoch, "has_clusters", lambda: False)  # an A100
    assert not PersistentEpoch.applies(_cupy_net((784, 100, 10)), EpochOptions(32, 3.0))  # 2.5 M
    assert not PersistentEpoch.applies(_cupy_net((4,) * 10), EpochOptions(10, 3.0))  # 9 layers
    assert shared_bytes([784, 30, 10], 36, 8, shared_weights=False) > H100_OPT_IN
    monkeypatch.setattr(persistent_epoch, "MAX_WORK", 36 * (784 * 30 + 30 * 10))  # only shared memory refuses
    assert not PersistentEpoch.applies(_cupy_net(dtype="float64"), EpochOptions(36, 3.0))


def test_shared_bytes_counts_the_layer_table_the_weights_and_every_a_and_delta():
    """[12, 7, 5], m = 5, float64: 15 ints → 64 bytes; 91 + 40 parameters; a: 5·24, δ: 5·12."""
    assert shared_bytes([12, 7, 5], 5, 8, shared_weights=False) == 64 + 8 * (5 * 24 + 5 * 12)
    assert shared_bytes([12, 7, 5], 5, 8, shared_weights=True) == 64 + 8 * (131 + 5 * 24 + 5 * 12)


def test_compile_targets_list_every_instantiation_the_driver_can_ask_for():
    target, registers, clusters = persistent_epoch.compile_targets()
    assert target["source"] == persistent_epoch.source() and "#include" not in target["source"]
    wanted = {name_expression(dtype, pixels, on_chip) for dtype in ("float32", "float64")
              for pixels in (True, False) for on_chip in (True, False)}
    assert set(target["name_expressions"]) == wanted and len(wanted) == 8
    assert name_expression("float32", True, True) == "sgd_epoch<float, unsigned char, true>"
    assert registers["source"] == persistent_epoch.source(register_epoch.SOURCE) and "#include" not in registers["source"]
    tiles = {register_epoch.name_expression(dtype, pixels, *tile)
             for dtype in ("float32", "float64") for pixels in (True, False) for m in (1, 5, 7, 10, 32)
             for n_in in (200, 784) if (tile := register_epoch.tile([n_in, 30, 10], m, dtype, 256))}
    assert tiles == set(registers["name_expressions"]) and registers["threads"] == register_epoch.MAX_THREADS
    assert clusters["source"] == registers["source"] and clusters["archs"] == ["90"]  # sm_90's clusters
    wide = {register_epoch.name_expression(dtype, pixels, *tile)  # the hidden layer split, or the inputs (30 wide)
            for dtype in ("float32", "float64") for pixels in (True, False) for m in (1, 5, 7, 10, 32)
            for n_in in (200, 300, 784) for hidden in (30, 40, 100, 200)
            if (tile := register_epoch.tile([n_in, hidden, 10], m, dtype, 256, clusters=True)) and tile.cluster > 1}
    assert wide == set(clusters["name_expressions"])
    assert any(name.endswith(", 2, true>") for name in wide) and any(name.endswith(", 4, true>") for name in wide)


class _Recorder:
    """A RawModule stand-in that records what it was asked to compile; its kernels do nothing."""

    compiled = []

    def __init__(self, code, options=(), name_expressions=()):
        _Recorder.compiled.append((tuple(options), tuple(name_expressions)))

    def get_function(self, name):
        return lambda grid, block, args, shared_mem=0: None


def test_each_variant_compiles_once_and_rebind_reuses_it():
    net = nnaccel.Network([6, 4, 3], device="cpu", seed=0)
    data = net.data((np.zeros((9, 6), np.uint8), np.zeros(9, int)))
    path = PersistentEpoch(net, EpochOptions(4, 0.5), module=np, compile=_Recorder, block=64,
                           shared_limit=H100_OPT_IN, placement="shared")
    for p in (path, path.rebind(eta=0.25), path):
        p(net, data, nnaccel.optim.SGDState())
    assert _Recorder.compiled == [(persistent_epoch.OPTIONS, (name_expression("float32", True, True),))]
    assert path.rebind(eta=0.25).options.eta == 0.25 and path.options.eta == 0.5


def test_block_sizes_are_whole_warps():
    net = nnaccel.Network([6, 4, 3], device="cpu", seed=0)
    with pytest.raises(ValueError, match="multiple of 32"):
        PersistentEpoch(net, EpochOptions(4, 0.5), module=np, compile=_Recorder, block=48)


def test_a_forced_placement_that_does_not_fit_is_refused_in_a_sentence():
    """[784, 100, 10]'s 79,510 float32 weights (318 KB) cannot sit in an H100's 227 KB: refused
    before the launch (on the H200 the driver said only CUDA_ERROR_INVALID_VALUE)."""
    net = nnaccel.Network([784, 100, 10], device="cpu", seed=0)
    data = net.data((np.zeros((20, 784), np.uint8), np.zeros(20, int)))
    path = PersistentEpoch(net, EpochOptions(10, 0.5), module=np, compile=_Recorder, shared_limit=H100_OPT_IN,
                           placement="shared")
    with pytest.raises(ValueError, match=r"cannot hold its weights.*use placement='global'"):
        path(net, data, nnaccel.optim.SGDState())
