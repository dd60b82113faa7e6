"""The persistent CUDA kernel gives run_epoch's numbers, proven on the CPU.

nnaccel/epochs/fast/cuda/epoch.cu is compiled as C++ with tests/cuda_shim (one std::thread per CUDA
thread, __syncthreads as a std::barrier) and driven by PersistentEpoch's own code on NumPy
arrays, in blocks of 32 threads. No GPU has run it; these tests are what says it is right.
"""

from __future__ import annotations

import numpy as np
import pytest

import nnaccel
from nnaccel.data.arrays import DeviceData
from nnaccel.epochs.fast import persistent_epoch
from nnaccel.epochs.fast.common import flat_size, flat_views
from nnaccel.epochs.fast.persistent_epoch import PersistentEpoch
from nnaccel.epochs.generic import EpochOptions, run_epoch
from nnaccel.optim import SGDState
from tests.cuda_shim.build import H100_OPT_IN, SanitizerFailure, ShimModule, compiler, sanitized

pytestmark = [pytest.mark.gpu_emulated,
              pytest.mark.skipif(compiler() is None, reason="no C++ compiler (g++) to build the CUDA shim")]

A100_OPT_IN = 163 * 1024


def _shim(code, options=(), name_expressions=()):
    """ShimModule with every instantiation compile_targets() lists for the asked kernel's source,
    built once for all the tests: a name the driver asks for and compile_targets() lacks fails."""
    (names,) = [t["name_expressions"] for t in persistent_epoch.compile_targets()
                if set(name_expressions) <= set(t["name_expressions"])]
    return ShimModule(code, options, names)


def _path(net, options, placement=None, compile=_shim, shared_limit=H100_OPT_IN, block=32, clusters=False):
    return PersistentEpoch(net, options, module=np, compile=compile, block=block, shared_limit=shared_limit,
                           placement=placement, clusters=clusters)


def _data(rows, n_in, n_out, pixels, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (rows, n_in), dtype=np.uint8) if pixels else rng.random((rows, n_in))
    return x, rng.integers(0, n_out, rows)


def _train(sizes, net_kw, options, data, path_kw=None, epochs=2, dtype="float64"):
    """Parameters and velocities after ``epochs`` epochs: by the shim-run kernel when path_kw is
    given, by run_epoch when it is None."""
    net = nnaccel.Network(sizes, device="cpu", dtype=dtype, seed=3, **net_kw)
    data = net.data(data)
    path = _path(net, options, **path_kw) if path_kw is not None else None
    state = SGDState()
    with np.errstate(over="ignore", under="ignore"):
        for _ in range(epochs):
            state = path(net, data, state) if path else run_epoch(net, data, options, state)
    return [np.asarray(a) for a in net.weights + net.biases + state.velocity_w + state.velocity_b]


def _assert_same(got, want, atol=1e-12, rtol=0.0):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# tests/epochs/test_fast.py's layers and costs, each with its options; weights on-chip or in global
# memory, pixel or float inputs; 53 rows, so the last mini-batch is smaller (3, or 4 for m = 7).
CASES = [
    (dict(cost="quadratic"), EpochOptions(10, 0.1), "shared", True),
    (dict(cost="cross-entropy"), EpochOptions(10, 0.1, lmbda=2.0), "global", False),
    (dict(cost="cross-entropy", hidden_activation=["relu", "tanh"]),
     EpochOptions(10, 0.01, lmbda=1.0, momentum=0.9), "shared", False),
    (dict(cost="log-likelihood", output_activation="softmax", hidden_activation=["linear", "relu"]),
     EpochOptions(10, 0.1), "global", True),
    (dict(cost="quadratic", output_activation="linear", hidden_activation=["tanh", "sigmoid"]),
     EpochOptions(10, 0.1), "shared", True),
    (dict(cost="cross-entropy"), EpochOptions(7, 0.1, lmbda=3.0, momentum=0.5), "global", True),
    (dict(cost="cross-entropy"), EpochOptions(7, 0.5, lmbda=3.0, momentum=0.5, shuffle=False), "shared", True),
    (dict(cost="cross-entropy"), EpochOptions(1, 0.1), "shared", False),
]


@pytest.mark.parametrize("net_kw, options, placement, pixels", CASES,
                         ids=[f"{c[0].get('output_activation', 'sigmoid')}-{c[0]['cost']}-{c[2]}-"
                              f"{'pixels' if c[3] else 'floats'}-m{c[1].mini_batch_size}"
                              + ("-momentum" if c[1].momentum else "") + ("" if c[1].shuffle else "-in-order")
                              for c in CASES])
def test_one_launch_per_epoch_trains_as_run_epoch_does_to_1e_12(net_kw, options, placement, pixels):
    """float64, two epochs (the second starts from the first's velocity): every weight, bias and
    velocity equals run_epoch's to 1e-12."""
    sizes = [20, 12, 8, 5]
    data = _data(23 if options.mini_batch_size == 1 else 53, sizes[0], sizes[-1], pixels)
    got = _train(sizes, net_kw, options, data, dict(placement=placement))
    _assert_same(got, _train(sizes, net_kw, options, data))


@pytest.mark.parametrize("block", [64, 96])
def test_blocks_of_several_warps_share_the_neurons_and_give_the_same_numbers(block):
    """Warps 1, 2 take neurons 1, 2 (and 1 + warps …) and shuffle among their own lanes only."""
    sizes, options = [20, 12, 8, 5], EpochOptions(10, 0.1, lmbda=1.0, momentum=0.5)
    kw = dict(cost="log-likelihood", output_activation="softmax", hidden_activation=["tanh", "relu"])
    data = _data(33, sizes[0], sizes[-1], pixels=True)
    got = _train(sizes, kw, options, data, dict(placement="shared", block=block), epochs=1)
    _assert_same(got, _train(sizes, kw, options, data, epochs=1))


@pytest.mark.parametrize("placement", ["shared", "global"])
def test_float32_on_mnist_stays_float32_and_within_its_rounding(placement, mnist10k):
    """[784, 20, 15, 10] on 35 MNIST images, m = 10 (a last batch of 5), momentum and L2."""
    options = EpochOptions(10, 0.5, lmbda=1.0, momentum=0.5)
    data = (mnist10k.train[0][:35], mnist10k.train[1][:35])
    kw = dict(hidden_activation="sigmoid")
    got = _train([784, 20, 15, 10], kw, options, data, dict(placement=placement), epochs=1, dtype="float32")
    want = _train([784, 20, 15, 10], kw, options, data, epochs=1, dtype="float32")
    _assert_same(got, want, atol=1e-6, rtol=1e-5)


def test_the_books_network_in_float32_keeps_its_weights_on_chip_by_opting_in():
    """[784, 30, 10], m = 10, float32: 95 KB of weights and 33 KB of buffers fit an A100's 163 KB,
    above the 48 KB a launch gets without opting in (the shim refuses it as CUDA would)."""
    options = EpochOptions(10, 3.0)
    net = nnaccel.Network([784, 30, 10], device="cpu", seed=3)
    need = persistent_epoch.shared_bytes(net.sizes, 10, 4, shared_weights=True)
    assert 48 * 1024 < need <= A100_OPT_IN
    data = _data(23, 784, 10, pixels=True)
    path = _path(net, options, shared_limit=A100_OPT_IN)
    path(net, net.data(data), SGDState())
    assert path.last_placement == "shared"
    want = _train([784, 30, 10], {}, options, data, epochs=1, dtype="float32")
    _assert_same([np.asarray(a) for a in net.weights + net.biases], want, atol=1e-6, rtol=1e-5)


def test_weights_that_do_not_fit_on_chip_stay_in_global_memory():
    """[784, 30, 10] in float64 needs 190 KB of weights alone: above an A100's limit, so global."""
    net = nnaccel.Network([784, 30, 10], device="cpu", dtype="float64", seed=3)
    assert persistent_epoch.shared_bytes(net.sizes, 10, 8, shared_weights=True) > A100_OPT_IN
    path = _path(net, EpochOptions(10, 3.0), shared_limit=A100_OPT_IN)
    path(net, net.data(_data(12, 784, 10, pixels=True)), SGDState())
    assert path.last_placement == "global"


def _population_equals_its_members_alone(sizes, rows, make_path, eta, lmbda, momentum, m=10, epochs=1):
    """K = len(eta) members with their own η, λ, μ trained together for ``epochs`` epochs, one launch
    each, sharing the data and the permutation (``make_path(net, options)``: the PersistentEpoch
    under test): each ends as run_epoch leaves it trained alone, to 1e-12 (μ = 0 takes the plain
    update and leaves the velocity at 0)."""
    data = _data(rows, sizes[0], sizes[-1], pixels=True)
    members = [nnaccel.Network(sizes, device="cpu", dtype="float64", seed=10 + k) for k in range(len(eta))]
    params = np.empty((len(eta), flat_size(sizes)))
    for row, net in zip(params, members):
        for view, a in zip(flat_views(row, sizes), [a for wb in zip(net.weights, net.biases) for a in wb]):
            view[...] = a
    start, velocity = params.copy(), np.zeros_like(params)
    sampler = nnaccel.Network(sizes, device="cpu", dtype="float64", seed=3)  # whose generator orders the data
    shared_data = sampler.data(data)
    path = make_path(sampler, EpochOptions(m, 0.0))
    for _ in range(epochs):
        path.train(params, velocity, shared_data, path.permutation(sampler, rows),
                   eta=eta, lmbda=lmbda, momentum=momentum)
    for k in range(len(eta)):
        net = nnaccel.Network(sizes, device="cpu", dtype="float64", seed=3)  # the same permutations
        views = flat_views(start[k], sizes)
        net.set_parameters(views[0::2], views[1::2])
        options = EpochOptions(m, eta[k], lmbda=lmbda[k], momentum=momentum[k])
        state, d = SGDState(), net.data(data)
        for _ in range(epochs):
            state = run_epoch(net, d, options, state)
        got = flat_views(params[k], sizes)
        _assert_same(got[0::2] + got[1::2], net.weights + net.biases)
        if momentum[k]:
            v = flat_views(velocity[k], sizes)
            _assert_same(v[0::2] + v[1::2], state.velocity_w + state.velocity_b)
        else:
            assert not velocity[k].any()  # a member without momentum leaves its velocity alone


def test_a_population_of_three_with_their_own_eta_lmbda_mu_equals_three_single_runs():
    """K = 3 blocks, one per network, two epochs at m = 7: each network ends as run_epoch leaves it
    when trained alone with its own η, λ, μ."""
    _population_equals_its_members_alone([20, 12, 8, 5], 53, _path, [0.5, 0.1, 0.05], [0.0, 1.0, 3.0],
                                         [0.0, 0.5, 0.9], m=7, epochs=2)


def test_an_epoch_is_one_launch_however_many_mini_batches_it_has():
    """40 rows (4 mini-batches) or 600 rows (60): one kernel launch each, and the 600-row
    epoch still trains as run_epoch does."""
    sizes, options = [3, 2, 1], EpochOptions(10, 0.5, lmbda=1.0)
    for rows in (40, 600):
        net = nnaccel.Network(sizes, device="cpu", dtype="float64", seed=3, cost="quadratic")
        data = net.data(_data(rows, 3, 1, pixels=True))
        path = _path(net, options)
        before = ShimModule.launches
        path(net, data, SGDState())
        assert ShimModule.launches - before == 1
        reference = nnaccel.Network(sizes, device="cpu", dtype="float64", seed=3, cost="quadratic")
        run_epoch(reference, data, options, SGDState())
        _assert_same(net.weights + net.biases, reference.weights + reference.biases)


# ---- under the sanitizers: a standalone program per launch, [12, 7, 5], 37 rows, 32 threads ----
SMALL = ([12, 7, 5], dict(cost="cross-entropy"), EpochOptions(5, 0.5, lmbda=1.0, momentum=0.5))
# float64 pixels with the weights on-chip and in global memory: one program a sanitizer
SANITIZED = ["sgd_epoch<double, unsigned char, true>", "sgd_epoch<double, unsigned char, false>"]


@pytest.mark.parametrize("kind, placement", [("thread", "shared"), ("address", "global"), ("address", "shared")])
def test_under_a_sanitizer_the_kernel_is_clean_and_still_equals_run_epoch(kind, placement):
    """ThreadSanitizer (halt_on_error) finds no data race between the CUDA threads, and
    AddressSanitizer no access outside an argument or the shared memory the launch asked for."""
    sizes, net_kw, options = SMALL
    data = _data(37, sizes[0], sizes[-1], pixels=True)
    got = _train(sizes, net_kw, options, data, dict(placement=placement, compile=sanitized(kind, SANITIZED)), epochs=1)
    _assert_same(got, _train(sizes, net_kw, options, data, epochs=1))


def _without_the_barrier_after_the_gather(code, options=(), name_expressions=()):
    gather = "i -= n0, e++;\n        }\n        __syncthreads();"
    assert gather in code, "epoch.cu's gather changed: update this test"
    racy = code.replace(gather, gather.removesuffix("__syncthreads();"))
    return sanitized("thread")(racy, options, name_expressions)


def test_thread_sanitizer_would_catch_a_missing_barrier():
    """The same kernel without the __syncthreads() after the gather: the feedforward then reads a⁰
    while other threads write it, and the run fails with ThreadSanitizer's report."""
    sizes, net_kw, options = SMALL
    net = nnaccel.Network(sizes, device="cpu", dtype="float64", seed=3, **net_kw)
    path = _path(net, options, placement="shared", compile=_without_the_barrier_after_the_gather)
    with pytest.raises(SanitizerFailure, match="ThreadSanitizer: data race"):
        path(net, net.data(_data(37, 12, 5, pixels=True)), SGDState())


def test_address_sanitizer_would_catch_a_read_past_an_argument():
    """Targets one row short of the inputs: BP1 reads past their end, and the run fails."""
    sizes, net_kw, options = SMALL
    net = nnaccel.Network(sizes, device="cpu", dtype="float64", seed=3, **net_kw)
    full = net.data(_data(37, 12, 5, pixels=True))
    short = DeviceData(full.x, full.labels, full.targets[:-1].copy(), full.pixels)
    path = _path(net, EpochOptions(5, 0.5, shuffle=False), placement="global", compile=sanitized("address", SANITIZED))
    with pytest.raises(SanitizerFailure, match="AddressSanitizer: heap-buffer-overflow"):
        path(net, short, SGDState())


def test_address_sanitizer_would_catch_too_little_shared_memory(monkeypatch):
    """A launch that asks for 16 bytes less than the kernel carves: the last δ runs into the
    poisoned bytes beyond, so PersistentEpoch.shared_bytes is proven to match epoch.cu."""
    sizes, net_kw, options = SMALL
    exact = persistent_epoch.shared_bytes
    monkeypatch.setattr(persistent_epoch, "shared_bytes", lambda *args, **kw: exact(*args, **kw) - 16)
    net = nnaccel.Network(sizes, device="cpu", dtype="float64", seed=3, **net_kw)
    path = _path(net, options, placement="shared", compile=sanitized("address", SANITIZED))
    with pytest.raises(SanitizerFailure, match="AddressSanitizer: use-after-poison"):
        path(net, net.data(_data(37, 12, 5, pixels=True)), SGDState())


# ---- the check a real GPU runs on first use (nnaccel/epochs/fast/selfcheck.py), through the shim ----
def _on_the_shim(compile):
    class ShimPersistentEpoch(PersistentEpoch):
        def __init__(self, net, options):
            super().__init__(net, options, module=np, compile=compile, block=32, shared_limit=H100_OPT_IN,
                             placement="shared")

    return ShimPersistentEpoch


def _without_weight_decay(code, options=(), name_expressions=()):
    plain = "*p = bias ? *p - step * g : keep * *p - step * g;"
    assert plain in code, "epoch.cu's plain update changed: update this test"
    # keep - keep + 1 = 1: the decay (1 − ηλ/n) lost, `keep` still used (-Werror: no unused variable)
    return _shim(code.replace(plain, "*p = bias ? *p - step * g : (keep - keep + 1) * *p - step * g;"), options,
                 name_expressions)


def test_the_first_use_check_passes_this_kernel_and_turns_off_a_wrong_one():
    """selfcheck.verified, as it runs on a GPU's first use, accepts the kernel for plain SGD with
    L2 and for momentum; the same kernel with L2's (1 − ηλ/n) decay lost is turned off, with a warning."""
    from nnaccel.epochs.fast import selfcheck

    net = nnaccel.Network([12, 7, 5], device="cpu", dtype="float64", seed=0)
    right = _on_the_shim(_shim)
    assert selfcheck.verified(right, net, EpochOptions(10, 0.5, lmbda=1.0))
    assert selfcheck.verified(right, net, EpochOptions(10, 0.5, lmbda=1.0, momentum=0.5))
    with pytest.warns(RuntimeWarning, match=r"turned off the CUDA persistent kernel \(its numbers differ"):
        assert not selfcheck.verified(_on_the_shim(_without_weight_decay), net, EpochOptions(10, 0.5, lmbda=1.0))
