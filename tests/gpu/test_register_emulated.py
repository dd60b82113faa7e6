"""register_epoch.cu (w¹ in registers, an exact M-example tile) gives run_epoch's numbers, on the CPU.

The kernel is compiled as C++ with tests/cuda_shim and driven by PersistentEpoch's own code on
NumPy arrays with placement="registers", as tests/gpu/test_persistent_emulated.py drives epoch.cu.
"""

from __future__ import annotations

import types
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import nnaccel
from nnaccel.epochs.fast import persistent_epoch, register_epoch
from nnaccel.epochs.fast.persistent_epoch import check_block
from nnaccel.epochs.generic import EpochOptions
from nnaccel.errors import NNAccelError
from tests.cuda_shim.build import SanitizerFailure, ShimModule, compiler, sanitized
from tests.gpu.test_persistent_emulated import (_assert_same, _data, _population_equals_its_members_alone,
                                                _train)

pytestmark = [pytest.mark.gpu_emulated,
              pytest.mark.skipif(compiler() is None, reason="no C++ compiler (g++) to build the CUDA shim")]

SIZES = [20, 12, 5]  # 20 inputs: one warp's 32 columns, 12 of them padding


# The one-block instantiations these tests launch (5 of compile_targets()'s 10; NVRTC compiles all
# of them, in tests/gpu/test_nvrtc_compile.py), in one shim library.
LAUNCHED = ["sgd_epoch_registers<double, double, 4, 32>", "sgd_epoch_registers<double, unsigned char, 4, 32>",
            "sgd_epoch_registers<float, float, 10, 112>", "sgd_epoch_registers<float, unsigned char, 10, 112>",
            "sgd_epoch_registers<float, unsigned char, 10, 32>"]


def _shim(code, options=(), name_expressions=()):
    """One shim library with the register kernel's instantiations these tests launch."""
    assert set(LAUNCHED) <= set(persistent_epoch.compile_targets()[1]["name_expressions"])
    assert set(name_expressions) <= set(LAUNCHED), f"{name_expressions}: add it to LAUNCHED"
    return ShimModule(code, options, LAUNCHED)


# The instantiations this file's sanitizer runs launch, in one program a sanitizer: [12, 7, 5]
# in one block, [12, 40, 5] in 2 blocks across the hidden layer, [37, 9, 5] in 2 across the inputs
# (float64, pixels, M = 4).
SANITIZED = ["sgd_epoch_registers<double, unsigned char, 4, 32>", "sgd_epoch_registers<double, unsigned char, 4, 32, 2>",
             "sgd_epoch_registers<double, unsigned char, 4, 32, 2, true>"]


def _registers(block=32, compile=_shim):
    return dict(placement="registers", compile=compile, block=block)


# The layers, costs and options of test_persistent_emulated's cases, on one hidden layer: m = 10 is
# one pass of the M = 10 tile, m = 7 two passes of M = 4, m = 1 one padded pass of M = 4; 53 rows,
# so the last mini-batch is smaller.
CASES = [
    (dict(cost="quadratic"), EpochOptions(10, 0.1), True),
    (dict(cost="cross-entropy"), EpochOptions(10, 0.1, lmbda=2.0), False),
    (dict(cost="cross-entropy", hidden_activation="relu"), EpochOptions(10, 0.01, lmbda=1.0, momentum=0.9), False),
    (dict(cost="log-likelihood", output_activation="softmax", hidden_activation="linear"), EpochOptions(10, 0.1), True),
    (dict(cost="quadratic", output_activation="linear", hidden_activation="tanh"), EpochOptions(10, 0.1), True),
    (dict(cost="cross-entropy"), EpochOptions(7, 0.1, lmbda=3.0, momentum=0.5), True),
    (dict(cost="cross-entropy"), EpochOptions(7, 0.5, lmbda=3.0, momentum=0.5, shuffle=False), True),
    (dict(cost="cross-entropy"), EpochOptions(1, 0.1), False),
]


def test_both_kernels_take_activate_and_prime_from_one_header(tmp_path):
    """activate and prime are written once, in cuda/activations.cuh: each kernel names it in an
    include line, and source() puts the header in its place (a header that is not there is named)."""
    folder = Path(persistent_epoch.__file__).with_name("cuda")
    for name in (persistent_epoch.SOURCE, register_epoch.SOURCE):
        raw = (folder / name).read_text()
        assert '#include "activations.cuh"' in raw and "T activate(" not in raw and "T prime(" not in raw
        code = persistent_epoch.source(name)
        assert code.count("T activate(int act, T z)") == code.count("T prime(int act, T a)") == 1
    with pytest.raises(FileNotFoundError, match="no absent.cuh in"):
        persistent_epoch.with_headers('#include "absent.cuh"\n', tmp_path)


def test_the_next_mini_batch_is_staged_in_16_byte_chunks_where_its_rows_allow():
    """A row of 784 pixels is 49 chunks of 16 bytes (CH); 20 pixels are not whole chunks, nor is a row
    that starts off a 16-byte boundary (CH = 0: words). The staging area is rows × the row's bytes, and
    layout(staged=False) leaves it out (ST = 0: the gather reads x itself)."""
    rows = np.zeros((3, 800), np.uint8)
    assert register_epoch.chunks(784, rows[:, :784].copy(), True) == 49
    assert register_epoch.chunks(20, np.zeros((3, 20), np.uint8), True) == 0
    assert register_epoch.chunks(20, np.zeros((3, 20), np.float32), False) == 5
    assert register_epoch.chunks(16, rows.reshape(-1)[1:1 + 48].reshape(3, 16), True) == 0  # off the boundary
    staged = register_epoch.layout([784, 30, 10], 10, 256, 112, 10, False, itemsize=4)
    plain = register_epoch.layout([784, 30, 10], 10, 256, 112, 10, False, itemsize=4, staged=False)
    assert plain["ST"] == 0 < staged["ST"] and staged["end"] - plain["end"] == 10 * 784 // 4


@pytest.mark.parametrize("net_kw, options, pixels", CASES,
                         ids=[f"{c[0].get('output_activation', 'sigmoid')}-{c[0]['cost']}-"
                              f"{'pixels' if c[2] else 'floats'}-m{c[1].mini_batch_size}"
                              + ("-momentum" if c[1].momentum else "") + ("" if c[1].shuffle else "-in-order")
                              for c in CASES])
def test_weights_in_registers_train_as_run_epoch_does_to_1e_12(net_kw, options, pixels):
    """float64, two epochs (the second from the first's velocity): every weight, bias and velocity
    equals run_epoch's to 1e-12."""
    data = _data(23 if options.mini_batch_size == 1 else 53, SIZES[0], SIZES[-1], pixels)
    got = _train(SIZES, net_kw, options, data, _registers())
    _assert_same(got, _train(SIZES, net_kw, options, data))


# One block a network with n_out ≤ 16 takes backprop in the feedforward's warps (backprop_in_warp:
# z² by a reduce-scatter across the lanes, w² transposed in W2T); 16 outputs are the most it
# takes, 17 keep backprop's own phase; 32 hidden neurons leave no lane of padding.
WIDE_OUTPUTS = [([20, 12, 16], dict(cost="log-likelihood", output_activation="softmax"), 32),
                ([20, 12, 17], dict(cost="log-likelihood", output_activation="softmax"), 32),
                ([20, 32, 16], dict(cost="quadratic"), 256),
                ([20, 32, 17], dict(cost="cross-entropy"), 256)]


@pytest.mark.parametrize("sizes, net_kw, block", WIDE_OUTPUTS,
                         ids=[f"{c[0][1]}-{c[0][2]}-{c[1]['cost']}-{c[2]}" for c in WIDE_OUTPUTS])
def test_output_layers_up_to_and_past_16_neurons_train_as_run_epoch_does(sizes, net_kw, block):
    """float64, m = 10 (M = 4: three passes), L2 and momentum: run_epoch's numbers to 1e-12 on
    either side of the 16 outputs that backprop in the feedforward's warps takes."""
    options = EpochOptions(10, 0.1, lmbda=1.0, momentum=0.5)
    data = _data(53, sizes[0], sizes[-1], pixels=True)
    got = _train(sizes, net_kw, options, data, _registers(block))
    _assert_same(got, _train(sizes, net_kw, options, data))


def _half_summed_z2(code, options=(), name_expressions=()):
    last = "exchange_halves<1>(v, lane);"
    assert code.count(last) == 1, "backprop_in_warp's reduce-scatter changed: update this test"
    return ShimModule(code.replace(last, ""), options, name_expressions)


def test_backprop_in_the_feedforwards_warps_is_what_the_one_block_cases_check():
    """With backprop_in_warp's last exchange taken out (each z² summed over half the hidden lanes),
    [20, 12, 5] (5 outputs: backprop in the feedforward's warps) no longer gives run_epoch's numbers,
    while [20, 12, 17] (backprop in its own phase) still does: the float64 cases test the path
    their sizes take, and a wrong reduce-scatter does not pass them."""
    options = EpochOptions(10, 0.1, lmbda=1.0)
    for sizes, taken in (([20, 12, 5], True), ([20, 12, 17], False)):
        data = _data(33, sizes[0], sizes[-1], pixels=True)
        got = _train(sizes, {}, options, data, _registers(compile=_half_summed_z2), epochs=1)
        want = _train(sizes, {}, options, data, epochs=1)
        if taken:
            assert not all(np.allclose(g, w, rtol=0, atol=1e-6) for g, w in zip(got, want))
        else:
            _assert_same(got, want)


def test_w2_transposed_has_room_where_backprop_runs_in_the_feedforwards_warps():
    """layout() leaves W2T (32 × W2T_STRIDE after δ¹'s 32 × rows) for one block a network with
    n_out ≤ 16 alone; an A100 with momentum has no room for it at [784, 30, 10] (the kernel then
    keeps backprop's own phase, which the float32 256-thread test with μ = 0.5 runs)."""
    def w2t(sizes, **kw):
        at = register_epoch.layout(sizes, 10, 256, 112, 10, False, itemsize=4, **kw)
        return at["D2"] - at["D1"] - 32 * at["rows"]

    assert f"#define W2T_STRIDE {register_epoch.W2T_STRIDE} " in persistent_epoch.source(register_epoch.SOURCE)
    assert w2t([784, 30, 10]) == 32 * register_epoch.W2T_STRIDE
    assert w2t([784, 30, 17]) == w2t([784, 30, 10], transposed=False) == 0
    assert w2t([784, 60, 10], cluster=2) == 0
    a100 = 163 * 1024
    momentum = dict(itemsize=4, staged=False)
    assert register_epoch.layout([784, 30, 10], 10, 256, 112, 10, True, transposed=False, **momentum)["end"] * 4 <= a100
    assert register_epoch.layout([784, 30, 10], 10, 256, 112, 10, True, **momentum)["end"] * 4 > a100


@pytest.mark.parametrize("block", [64, 256])
def test_blocks_of_several_warps_split_the_columns_and_give_the_same_numbers(block):
    """8 warps (256 threads) hold 32 columns each, most of them padding: still run_epoch's numbers."""
    options = EpochOptions(10, 0.1, lmbda=1.0, momentum=0.5)
    kw = dict(cost="log-likelihood", output_activation="softmax", hidden_activation="tanh")
    data = _data(33, SIZES[0], SIZES[-1], pixels=True)
    got = _train(SIZES, kw, options, data, _registers(block), epochs=1)
    _assert_same(got, _train(SIZES, kw, options, data, epochs=1))


def test_float32_stays_float32_and_within_its_rounding(mnist10k):
    """[64, 30, 10] on the first 64 pixels of 95 MNIST images, m = 10, momentum and L2, 64 threads."""
    options = EpochOptions(10, 0.5, lmbda=1.0, momentum=0.5)
    x = np.ascontiguousarray(mnist10k.train[0][:95, 300:364])
    data = (x, mnist10k.train[1][:95])
    got = _train([64, 30, 10], {}, options, data, _registers(64), epochs=1, dtype="float32")
    want = _train([64, 30, 10], {}, options, data, epochs=1, dtype="float32")
    _assert_same(got, want, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_the_books_network_in_float32_trains_in_registers_with_256_threads(momentum, mnist10k):
    """[784, 30, 10], m = 10, float32, 8 warps × 112 columns of w¹ in registers (112 of them
    padding): 23 MNIST images (a last batch of 3) end within float32 rounding of run_epoch."""
    options = EpochOptions(10, 3.0, lmbda=1.0, momentum=momentum)
    data = (mnist10k.train[0][:23], mnist10k.train[1][:23])
    net = nnaccel.Network([784, 30, 10], device="cpu", seed=3)
    path = persistent_epoch.PersistentEpoch(net, options, module=np, compile=_shim, block=256,
                                            shared_limit=163 * 1024)
    state = path(net, net.data(data), nnaccel.optim.SGDState())
    assert path.last_placement == "registers"
    want = _train([784, 30, 10], {}, options, data, epochs=1, dtype="float32")
    _assert_same([np.asarray(a) for a in net.weights + net.biases + state.velocity_w + state.velocity_b], want,
                 atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("n_in, pixels", [(100, False), (98, True)])
def test_rows_wider_than_the_block_are_gathered_in_several_words_a_thread(n_in, pixels):
    """float32 at 32 threads holds 112 columns in its one warp: a row of 100 floats, or of 98 pixels (not a
    multiple of 4, so one pixel a word), has more words than threads; still run_epoch's numbers."""
    options = EpochOptions(10, 0.5, lmbda=1.0, momentum=0.5)
    data = _data(33, n_in, 5, pixels)
    got = _train([n_in, 12, 5], {}, options, data, _registers(32), epochs=1, dtype="float32")
    _assert_same(got, _train([n_in, 12, 5], {}, options, data, epochs=1, dtype="float32"), atol=1e-6, rtol=1e-5)


def test_the_default_placement_takes_registers_where_the_tile_fits():
    net = nnaccel.Network(SIZES, device="cpu", dtype="float64", seed=3)
    path = persistent_epoch.PersistentEpoch(net, EpochOptions(10, 0.5), module=np, compile=_shim, block=32,
                                            shared_limit=227 * 1024)
    path(net, net.data(_data(23, 20, 5, pixels=True)), nnaccel.optim.SGDState())
    assert path.last_placement == "registers"
    assert register_epoch.tile([20, 40, 5], 10, "float64", 32) is None  # 40 hidden neurons: no lane for each
    assert register_epoch.tile([300, 30, 10], 10, "float64", 256) is None  # 300 inputs: above 8 × 32 doubles
    assert register_epoch.tile([900, 30, 10], 10, "float32", 256) is None  # 900 inputs: above 8 × 112 floats
    assert register_epoch.tile([784, 30, 10], 10, "float32", 256) == (10, 112, 1, False)
    assert register_epoch.tile([784, 30, 10], 10, "float32", 1024) is None  # above __launch_bounds__(256)
    assert register_epoch.mini_batch_tile(10) == 10 and register_epoch.mini_batch_tile(7) == 4


@pytest.mark.parametrize("kind", ["thread", "address"])
def test_under_a_sanitizer_the_register_kernel_is_clean_and_still_equals_run_epoch(kind):
    """ThreadSanitizer finds no race between the CUDA threads and AddressSanitizer no access outside
    an argument or the shared memory RegisterTile.shared_bytes asked for; [12, 7, 5], 37 rows, m = 5
    (two passes of M = 4), momentum and L2, 64 threads."""
    options = EpochOptions(5, 0.5, lmbda=1.0, momentum=0.5)
    data = _data(37, 12, 5, pixels=True)
    got = _train([12, 7, 5], {}, options, data, _registers(64, sanitized(kind, SANITIZED)), epochs=1)
    _assert_same(got, _train([12, 7, 5], {}, options, data, epochs=1))


def _population_path(**path_kw):
    """make_path for test_persistent_emulated's population check: the register kernel on the shim."""
    return lambda net, options: persistent_epoch.PersistentEpoch(net, options, module=np, shared_limit=227 * 1024,
                                                                 **path_kw)


def test_a_population_of_three_with_their_own_eta_lmbda_mu_equals_three_single_runs():
    """K = 3 blocks through the register kernel: each member as run_epoch trains it alone."""
    _population_equals_its_members_alone(SIZES, 53, _population_path(**_registers()), [0.5, 0.1, 0.05],
                                         [0.0, 1.0, 3.0], [0.0, 0.5, 0.9])


def test_the_launcher_refuses_a_block_whose_registers_exceed_the_sm():
    """80 registers × 1024 threads = 80 K > 64 K: refused in one sentence, before any launch;
    80 × 800 = 62.5 K fits; a block above the kernel's own maximum is refused too."""
    kernel = types.SimpleNamespace(attributes={"num_regs": 80, "max_threads_per_block": 1024})
    with pytest.raises(NNAccelError, match=r"80 registers .* 1024 threads .* 81920 of the 65536.*at most 800"):
        check_block(kernel, 1024)
    check_block(kernel, 800)
    bounded = types.SimpleNamespace(attributes={"num_regs": 180, "max_threads_per_block": 256})
    with pytest.raises(NNAccelError, match="at most 256"):
        check_block(bounded, 512)
    check_block(types.SimpleNamespace(), 1024)  # the shim's kernels carry no attributes: nothing to check


def _without_weight_decay(code, options=(), name_expressions=()):
    plain = "w[i * H + q * 4 + t] *= decay;"
    assert plain in code, "register_epoch.cu's plain update changed: update this test"
    return _shim(code.replace(plain, "w[i * H + q * 4 + t] *= T(1);"), options, name_expressions)


def test_the_first_use_check_passes_the_register_kernel_and_turns_off_a_wrong_one():
    """selfcheck.verified, as a GPU's first use runs it, accepts register_epoch.cu for plain SGD with
    L2 and for momentum; the same kernel with w¹'s (1 − ηλ/n) decay lost is turned off, with a warning."""
    from nnaccel.epochs.fast import selfcheck

    def on_the_shim(compile):
        class ShimRegisterEpoch(persistent_epoch.PersistentEpoch):
            def __init__(self, net, options):
                super().__init__(net, options, module=np, compile=compile, block=32, shared_limit=227 * 1024,
                                 placement="registers")

        return ShimRegisterEpoch

    net = nnaccel.Network([12, 7, 5], device="cpu", dtype="float64", seed=0)
    right = on_the_shim(_shim)
    assert selfcheck.verified(right, net, EpochOptions(10, 0.5, lmbda=1.0))
    assert selfcheck.verified(right, net, EpochOptions(10, 0.5, lmbda=1.0, momentum=0.5))
    # the decay lost, the kernel compiles and runs, and its numbers differ (not: it failed to build)
    with pytest.warns(RuntimeWarning, match=r"turned off the CUDA persistent kernel \(its numbers differ"):
        assert not selfcheck.verified(on_the_shim(_without_weight_decay), net, EpochOptions(10, 0.5, lmbda=1.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_pixels_value_by_one_corrected_product_rounds_as_the_division(dtype):
    """register_epoch.cu's pixel_value: q = p·r (r = 1/255 rounded), then fma(r, fma(−q, 255, p), q),
    each step rounded once, in exact rational arithmetic, equals T(p) / T(255) for all 256 pixels
    (DeviceData.x's value); the plain product alone does not."""
    bits = np.uint32 if dtype is np.float32 else np.uint64

    def rounded(x):  # a rational rounded to the nearest dtype value, ties to the even one
        near = dtype(float(x))
        candidates = [np.nextafter(near, dtype(-1)), near, np.nextafter(near, dtype(2))]
        return min(candidates, key=lambda c: (abs(Fraction(float(c)) - x), int(np.array(c).view(bits)) & 1))

    r = rounded(Fraction(1, 255))
    plain_differs = 0
    for p in range(256):
        q = rounded(p * Fraction(float(r)))
        residual = rounded(p - Fraction(float(q)) * 255)
        got = rounded(Fraction(float(q)) + Fraction(float(residual)) * Fraction(float(r)))
        assert got == dtype(p) / dtype(255), p
        plain_differs += q != dtype(p) / dtype(255)
    assert plain_differs > 0


# ---- clusters: a wider hidden layer split over CL blocks (sm_90's thread block clusters) ----------
def _cluster_launches():
    """(sizes, m, dtype, pixels, threads) of every cluster launch of these tests but the sanitizers'."""
    return ([(c[0], c[2].mini_batch_size, "float64", c[3], 32) for c in CLUSTER_CASES + SPLIT_CASES]
            + [([784, 100, 10], 10, "float32", True, 256), ([784, 30, 10], 10, "float32", True, 256),
               ([40, 7, 5], 10, "float64", True, 32)])


def _cluster_shim(code, options=(), name_expressions=()):
    """One shim library with the cluster instantiations these tests launch (11 of compile_targets()'s
    sm_90 entry: NVRTC compiles all of them, in tests/gpu/test_nvrtc_compile.py; g++ building every
    one for the CPU took 25 s of the suite)."""
    (target,) = [t for t in persistent_epoch.compile_targets() if t.get("archs")]
    names = sorted({register_epoch.name_expression(dtype, pixels, *register_epoch.tile(sizes, m, dtype, threads, True))
                    for sizes, m, dtype, pixels, threads in _cluster_launches()})
    assert set(names) <= set(target["name_expressions"]), "a launch the sm_90 list does not compile"
    assert set(name_expressions) <= set(names), f"{name_expressions}: add this launch to _cluster_launches"
    return ShimModule(code, options, names)


def _cluster(block=32, compile=_cluster_shim):
    return dict(placement="registers", compile=compile, block=block, clusters=True)


# n_hidden 40 → 2 blocks of 20; 70 → 4 blocks of 18, 18, 18, 16 (a shorter last slice); 130 → 8 of
# 17 (the last 11). float64 clusters take M = 4: m = 10 is three passes, the last one padded.
CLUSTER_CASES = [
    ([20, 40, 5], dict(cost="quadratic"), EpochOptions(10, 0.1), True),
    ([20, 70, 5], dict(cost="cross-entropy"), EpochOptions(10, 0.5, lmbda=2.0, momentum=0.5), False),
    ([20, 70, 5], dict(cost="log-likelihood", output_activation="softmax", hidden_activation="relu"),
     EpochOptions(7, 0.1, lmbda=1.0), True),
    ([12, 130, 3], dict(cost="cross-entropy", hidden_activation="tanh"), EpochOptions(5, 0.1, momentum=0.9), True),
]


@pytest.mark.parametrize("sizes, net_kw, options, pixels", CLUSTER_CASES,
                         ids=[f"{c[0][1]}-hidden-{c[1]['cost']}-m{c[2].mini_batch_size}" for c in CLUSTER_CASES])
def test_a_cluster_of_blocks_trains_a_wide_hidden_layer_as_run_epoch_does_to_1e_12(sizes, net_kw, options, pixels):
    """float64, two epochs: each block's slice of w¹, b¹ and w², the shared b², and every
    velocity equal run_epoch's to 1e-12 (z² summed across the cluster in rank order)."""
    data = _data(53, sizes[0], sizes[-1], pixels)
    tile = register_epoch.tile(sizes, options.mini_batch_size, "float64", 32, clusters=True)
    assert tile.cluster == {40: 2, 70: 4, 130: 8}[sizes[1]]
    got = _train(sizes, net_kw, options, data, _cluster())
    _assert_same(got, _train(sizes, net_kw, options, data))


def test_the_books_wider_network_in_float32_trains_in_a_cluster_of_four(mnist10k):
    """[784, 100, 10], m = 10, float32, 256 threads: four blocks of 25 hidden neurons, within
    float32 rounding of run_epoch after 23 MNIST images (a last batch of 3)."""
    options = EpochOptions(10, 3.0, lmbda=1.0, momentum=0.5)
    data = (mnist10k.train[0][:23], mnist10k.train[1][:23])
    net = nnaccel.Network([784, 100, 10], device="cpu", seed=3)
    path = persistent_epoch.PersistentEpoch(net, options, module=np, compile=_cluster_shim, block=256,
                                            shared_limit=227 * 1024, clusters=True)
    state = path(net, net.data(data), nnaccel.optim.SGDState())
    assert path.last_placement == "registers"
    want = _train([784, 100, 10], {}, options, data, epochs=1, dtype="float32")
    _assert_same([np.asarray(a) for a in net.weights + net.biases + state.velocity_w + state.velocity_b], want,
                 atol=1e-6, rtol=1e-5)


def test_without_clusters_a_wide_hidden_layer_has_no_register_tile():
    """Before sm_90 (or a GPU that says it has none) a hidden layer over 32 goes to epoch.cu."""
    assert register_epoch.tile([784, 100, 10], 10, "float32", 256) is None
    assert register_epoch.tile([784, 100, 10], 10, "float32", 256, clusters=True) == (10, 112, 4, False)
    assert register_epoch.tile([784, 257, 10], 10, "float32", 256, clusters=True) is None  # above 8 × 32
    assert register_epoch.tile([200, 100, 10], 10, "float64", 256, clusters=True) == (4, 32, 4, False)


# ---- clusters across the inputs: the book's 784 inputs split over CL blocks of CAP = 32 ----------
# With 32 threads (one warp, 32 columns a block; a block's words a whole number of 16-byte chunks):
# 40 pixels → 2 blocks of 8 and 2 words of four; 100 float inputs → 4 blocks of 28, 28, 28 and 16;
# 100 pixels → 4 of 8, 8, 8 and 1 word; 37 pixels (not a multiple of 4: a pixel a word) → 2
# blocks of 20 and 17; float64 takes M = 4: m = 10 is three passes.
SPLIT_CASES = [
    ([40, 7, 5], dict(cost="quadratic"), EpochOptions(10, 0.1), True, 2),
    ([100, 12, 5], dict(cost="cross-entropy"), EpochOptions(10, 0.5, lmbda=2.0, momentum=0.5), False, 4),
    ([100, 30, 10], dict(cost="log-likelihood", output_activation="softmax", hidden_activation="relu"),
     EpochOptions(7, 0.1, lmbda=1.0), True, 4),
    ([37, 9, 3], dict(cost="cross-entropy", hidden_activation="tanh"), EpochOptions(5, 0.1, momentum=0.9), True, 2),
]


@pytest.mark.parametrize("sizes, net_kw, options, pixels, blocks", SPLIT_CASES,
                         ids=[f"{c[0][0]}-inputs-{c[1]['cost']}-m{c[2].mini_batch_size}" for c in SPLIT_CASES])
def test_a_cluster_split_across_the_inputs_trains_as_run_epoch_does_to_1e_12(sizes, net_kw, options, pixels, blocks):
    """float64, two epochs, 53 rows: each block's columns of w¹ (and their velocity), and the
    small parameters every block holds alike, equal run_epoch's to 1e-12 (z¹ summed across the
    cluster in rank order, so every block has the same a¹ and δ)."""
    data = _data(53, sizes[0], sizes[-1], pixels)
    tile = register_epoch.tile(sizes, options.mini_batch_size, "float64", 32, clusters=True)
    assert tile == (4, 32, blocks, True)
    got = _train(sizes, net_kw, options, data, _cluster())
    _assert_same(got, _train(sizes, net_kw, options, data))


def test_the_books_network_in_float32_trains_split_across_four_blocks_of_256_threads(mnist10k):
    """[784, 30, 10], m = 10, float32, 256 threads on sm_90: four blocks of 196 input columns at
    CAP = 32, within float32 rounding of run_epoch after 23 MNIST images (a last batch of 3)."""
    options = EpochOptions(10, 3.0, lmbda=1.0, momentum=0.5)
    data = (mnist10k.train[0][:23], mnist10k.train[1][:23])
    net = nnaccel.Network([784, 30, 10], device="cpu", seed=3)
    path = persistent_epoch.PersistentEpoch(net, options, module=np, compile=_cluster_shim, block=256,
                                            shared_limit=227 * 1024, clusters=True)
    launches = ShimModule.launches
    state = path(net, net.data(data), nnaccel.optim.SGDState())
    assert ShimModule.launches - launches == 1 and path.last_placement == "registers"
    assert register_epoch.tile([784, 30, 10], 10, "float32", 256, clusters=True) == (10, 32, 4, True)
    want = _train([784, 30, 10], {}, options, data, epochs=1, dtype="float32")
    _assert_same([np.asarray(a) for a in net.weights + net.biases + state.velocity_w + state.velocity_b], want,
                 atol=1e-6, rtol=1e-5)


def test_the_inputs_are_split_while_the_clusters_fit_the_sms_at_once():
    """One network, or K whose clusters of 4 fit 132 SMs (K ≤ 33), split its inputs; K = 34 keep
    one block (one SM) a network, as do GPUs without clusters and inputs one block holds at
    CAP = 32. float64 [784, 30, 10], which no block's registers hold, splits whatever K."""
    book = [784, 30, 10]
    assert register_epoch.tile(book, 10, "float32", 256, clusters=True) == (10, 32, 4, True)
    assert register_epoch.tile(book, 10, "float32", 256, clusters=True, members=33, sms=132) == (10, 32, 4, True)
    assert register_epoch.tile(book, 10, "float32", 256, clusters=True, members=34, sms=132) == (10, 112, 1, False)
    assert register_epoch.tile(book, 10, "float32", 256, clusters=False) == (10, 112, 1, False)
    assert register_epoch.tile([256, 30, 10], 10, "float32", 256, clusters=True) == (10, 32, 1, False)
    assert register_epoch.tile([257, 30, 10], 10, "float32", 256, clusters=True) == (10, 32, 2, True)
    assert register_epoch.tile(book, 10, "float64", 256, clusters=True, members=1000, sms=132) == (4, 32, 4, True)
    assert register_epoch.tile(book, 10, "float64", 256, clusters=False) is None
    assert register_epoch.tile([1025, 30, 10], 10, "float32", 256, clusters=True) is None  # 4 × 256 columns at most
    assert register_epoch.input_split(1024, 8) == 4 and register_epoch.input_split(1025, 8) is None


def test_a_population_split_across_the_inputs_equals_its_members_trained_alone():
    """K = 3 members with their own η, λ, μ, each a cluster of 2 blocks across 40 inputs (3 × 2
    blocks fit the 6 SMs given): each ends as run_epoch leaves it trained alone, to 1e-12."""
    assert register_epoch.tile([40, 7, 5], 10, "float64", 32, clusters=True, members=3, sms=6) == (4, 32, 2, True)
    _population_equals_its_members_alone([40, 7, 5], 31, _population_path(**_cluster(), sms=6), [0.5, 1.5, 0.2],
                                         [0.0, 2.0, 1.0], [0.0, 0.5, 0.9])


@pytest.mark.parametrize("kind", ["thread", "address"])
def test_under_a_sanitizer_the_input_split_cluster_is_clean_and_still_equals_run_epoch(kind):
    """ThreadSanitizer finds no race between the blocks that add up z¹ across the cluster (each
    half of ZO read between its barrier and the next one's), AddressSanitizer no access outside
    what was asked for; [37, 9, 5] pixels (words of one pixel), 29 rows, m = 5, momentum and L2,
    2 blocks of 32 threads."""
    options = EpochOptions(5, 0.5, lmbda=1.0, momentum=0.5)
    data = _data(29, 37, 5, pixels=True)
    got = _train([37, 9, 5], {}, options, data, _cluster(32, sanitized(kind, SANITIZED)), epochs=1)
    _assert_same(got, _train([37, 9, 5], {}, options, data, epochs=1))


def _shares_read_without_the_cluster_barrier(code, options=(), name_expressions=()):
    """register_epoch.cu with the cluster barrier after the z¹ shares' stores made a block's own
    barrier: a block then adds its ZO slots while its peers may still be writing them."""
    pushed = "*to_block(s + zi + (e * CL + rank) * nh + lane, r) = share;\n                    }\n                cluster_sync();"
    assert pushed in code, "register_epoch.cu's exchange of z¹ changed: update this test"
    racy = code.replace(pushed, pushed.removesuffix("cluster_sync();") + "__syncthreads();")
    return sanitized("thread", SANITIZED)(racy, options, name_expressions)


def test_thread_sanitizer_would_catch_a_missing_cluster_barrier():
    """The input-split cluster of test_under_a_sanitizer_the_input_split_cluster… with its first
    cluster barrier a block's only: ThreadSanitizer reports the race between the blocks."""
    options = EpochOptions(5, 0.5, lmbda=1.0, momentum=0.5)
    data = _data(29, 37, 5, pixels=True)
    with pytest.raises(SanitizerFailure, match="ThreadSanitizer: data race"):
        _train([37, 9, 5], {}, options, data, _cluster(32, _shares_read_without_the_cluster_barrier), epochs=1)


@pytest.mark.parametrize("kind", ["thread", "address"])
def test_under_a_sanitizer_the_cluster_kernel_is_clean_and_still_equals_run_epoch(kind):
    """ThreadSanitizer finds no race between the blocks of a cluster (their shared memory read
    across the cluster barrier), AddressSanitizer no access outside what was asked for; [12, 40,
    5], 37 rows, m = 5, momentum and L2, 2 blocks of 64 threads."""
    options = EpochOptions(5, 0.5, lmbda=1.0, momentum=0.5)
    data = _data(37, 12, 5, pixels=True)
    got = _train([12, 40, 5], {}, options, data, _cluster(64, sanitized(kind, SANITIZED)), epochs=1)
    _assert_same(got, _train([12, 40, 5], {}, options, data, epochs=1))
