"""The CPU fast paths (the C kernel and NumPy's) give the generic array-API path's numbers,
and step aside where they can't."""

import os

import numpy as np
import pytest

import nnaccel
from nnaccel.epochs import fast
from nnaccel.epochs.fast import c_epoch, choose
from nnaccel.epochs.fast.c_epoch import CEpoch
from nnaccel.epochs.fast.numpy_epoch import NumpyEpoch
from nnaccel.epochs.generic import EpochOptions, GenericEpoch
from nnaccel.optim import SGDState

needs_c = pytest.mark.skipif(c_epoch.available() is None and not os.environ.get("NNACCEL_REQUIRE_C"),
                             reason="the C kernel was not compiled here (no C compiler at install time)")


@pytest.fixture(params=["c", "numpy"])
def fast_path(request, monkeypatch):
    """Which fast path choose() picks: the C kernel, or (with C taken out of the registry) NumPy's."""
    if request.param == "c":
        if c_epoch.available() is None and not os.environ.get("NNACCEL_REQUIRE_C"):
            pytest.skip("the C kernel was not compiled here")
    else:
        monkeypatch.setitem(fast.REGISTRY, "numpy", (NumpyEpoch,))
    return request.param

CASES = [
    dict(cost="quadratic"),
    dict(cost="cross-entropy", lmbda=2.0),
    dict(cost="cross-entropy", hidden_activation=["relu", "tanh"], momentum=0.9, lmbda=1.0, eta=0.01),
    dict(cost="log-likelihood", output_activation="softmax", hidden_activation=["linear", "relu"]),
    dict(cost="quadratic", output_activation="linear", hidden_activation=["tanh", "sigmoid"]),
    dict(cost="cross-entropy", m=7, momentum=0.5, lmbda=3.0),  # blocks of 4 + 3 examples, last batch 4
    dict(cost="cross-entropy", m=1),
]


@pytest.mark.parametrize("case", CASES)
def test_fast_path_equals_generic_path_after_an_epoch(case, mnist10k, fast_path):
    case = dict(case)
    lmbda, momentum, eta = case.pop("lmbda", 0.0), case.pop("momentum", 0.0), case.pop("eta", 0.1)
    m = case.pop("m", 10)
    hidden = case.pop("hidden_activation", ["sigmoid", "sigmoid"])
    data = (mnist10k.train[0][:1005], mnist10k.train[1][:1005])  # a smaller last mini-batch too
    nets = [nnaccel.Network([784, 20, 15, 10], device="cpu", dtype="float64", seed=3,
                            hidden_activation=hidden, **case) for _ in range(2)]
    results = []
    for net, fused in zip(nets, (True, False)):
        net.SGD(data, 2, m, eta, lmbda=lmbda, momentum=momentum, fused=fused)
        results.append(net.parameters_numpy())
    for got, want in zip(results[0][0] + results[0][1], results[1][0] + results[1][1]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_float32_fast_path_is_within_float32_rounding(mnist10k, fast_path):
    data = (mnist10k.train[0][:2000], mnist10k.train[1][:2000])
    a = nnaccel.Network([784, 30, 10], device="cpu", seed=1, cost="quadratic")
    b = nnaccel.Network([784, 30, 10], device="cpu", seed=1, cost="quadratic")
    a.SGD(data, 1, 10, 3.0, fused=True)
    b.SGD(data, 1, 10, 3.0, fused=False)
    for x, y in zip(a.weights, b.weights):
        assert x.dtype == np.float32
        np.testing.assert_allclose(x, y, rtol=0, atol=2e-4)


def test_the_fast_path_steps_aside_where_it_does_not_apply(fast_path):
    net = nnaccel.Network([4, 3, 2], device="cpu", seed=0)
    plain = EpochOptions(10, 0.5)
    assert isinstance(choose(net, plain), CEpoch if fast_path == "c" else NumpyEpoch)
    for options in (EpochOptions(10, 0.5, l1=0.1), EpochOptions(10, 0.5, momentum=0.5, nesterov=True)):
        assert type(choose(net, options)) is GenericEpoch
    assert type(choose(net, plain, fused=False)) is GenericEpoch
    tanh_out = nnaccel.Network([4, 3, 2], cost="quadratic", output_activation="tanh", device="cpu")
    assert type(choose(tanh_out, plain)) is GenericEpoch
    strict = nnaccel.Network([4, 3, 2], backend="array_api_strict", device="cpu")
    assert type(choose(strict, plain)) is GenericEpoch


@needs_c
def test_large_mini_batches_go_to_blas_through_the_numpy_path():
    net = nnaccel.Network([784, 100, 10], device="cpu", seed=0)
    assert isinstance(choose(net, EpochOptions(10, 0.5)), CEpoch)
    assert isinstance(choose(net, EpochOptions(128, 0.5)), NumpyEpoch)


@needs_c
def test_c_kernel_reads_pixels_exactly_as_the_scaled_floats(mnist10k):
    """uint8 pixels divided by 255 in the kernel give bit-identical weights to DeviceData.x."""
    x, labels = mnist10k.train[0][:1000], mnist10k.train[1][:1000]
    results = []
    for keep_pixels in (True, False):
        net = nnaccel.Network([784, 30, 10], device="cpu", seed=2)
        data = net.data((x, labels))
        if not keep_pixels:
            data.pixels = None
        CEpoch(net, EpochOptions(10, 0.5, lmbda=1.0))(net, data, SGDState())
        results.append(net.weights[0])
    np.testing.assert_array_equal(results[0], results[1])


def test_the_c_kernel_is_built_where_ci_asks_for_it():
    """CI sets NNACCEL_REQUIRE_C=1: there a missing C kernel is a failure, not a skip."""
    if not os.environ.get("NNACCEL_REQUIRE_C"):
        pytest.skip("NNACCEL_REQUIRE_C not set")
    assert c_epoch.available() in ("base", "avx2", "avx512")


LEVEL_RUN = """
import hashlib, json, numpy as np, nnaccel
from nnaccel.epochs.fast import c_epoch, population_c
rng = np.random.default_rng(0)
x, y = rng.integers(0, 256, (203, 50), dtype=np.uint8), rng.integers(0, 10, 203)
out = {"level": c_epoch.available(), "population_level": population_c.available()}
def digest(arrays):
    return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()
for dtype in ("float32", "float64"):
    for act, eta, mu in (("sigmoid", 0.5, 0.0), ("tanh", 0.02, 0.5)):
        flat = []
        for fused in (True, False):
            net = nnaccel.Network([50, 19, 10], device="cpu", dtype=dtype, seed=1, hidden_activation=act)
            net.SGD((x, y), 3, 6, eta, lmbda=1.0, momentum=mu, fused=fused)
            flat.append(np.concatenate([w.ravel() for w in net.weights + net.biases]))
            if fused:
                out[f"{dtype} {act}"] = digest(net.weights + net.biases)
        out[f"{dtype} {act} vs generic"] = float(np.abs(flat[0] - flat[1]).max())
    pop = nnaccel.Population([50, 19, 10], seeds=[1, 2, 3], device="cpu", dtype=dtype)
    pop.SGD((x, y), 3, 6, eta=[0.5, 0.3, 0.1], lmbda=1.0)
    out[f"{dtype} population"] = digest([np.asarray(w) for w in pop.weights + pop.biases])
print(json.dumps(out))
"""


def run_at_level(level, **env):
    """The C kernels' results (digests, and the distance to the generic path) at NNACCEL_CPU_LEVEL=level."""
    import json
    import subprocess
    import sys

    env = dict(os.environ, NNACCEL_CPU_LEVEL=level, **env)
    done = subprocess.run([sys.executable, "-c", LEVEL_RUN], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@needs_c
def test_the_portable_level_gives_bit_identical_numbers_at_every_vector_width():
    """NNACCEL_CPU_LEVEL=portable: the same operations in the same order on SSE2 and AVX2, so one
    seed gives the same float32 and float64 bits on any x86-64 (one network and a population)."""
    wide, narrow = run_at_level("portable"), run_at_level("portable-base")
    assert narrow["level"] == narrow["population_level"] == "portable-base"
    assert wide["level"] == wide["population_level"] in ("portable-avx2", "portable-base")
    if wide["level"] == "portable-base":
        pytest.skip("this CPU has no AVX2: one portable width only")
    digests = [k for k in wide if k.endswith(("sigmoid", "tanh", "population"))]
    assert len(digests) == 6
    assert {k: wide[k] for k in digests} == {k: narrow[k] for k in digests}


@needs_c
def test_the_portable_level_does_not_depend_on_the_maths_librarys_build():
    """glibc picks its exp and tanh by CPU (an FMA build or a plain one), and their last bits
    differ: the portable level computes e^x itself, so the plain build gives the same numbers."""
    plain = run_at_level("portable-base", GLIBC_TUNABLES="glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F,-AVX_Usable")
    assert plain == run_at_level("portable-base")


@needs_c
@pytest.mark.parametrize("level", ["avx512", "avx2", "base", "portable", "portable-base"])
def test_every_instruction_set_level_equals_the_generic_path_within_rounding(level):
    """Each level (capped by NNACCEL_CPU_LEVEL) gives the generic path's numbers to rounding:
    float64 to 1e-12, float32 to 1e-5 after three epochs (the fast levels' FMA and vector widths
    order the sums differently, so only the portable level is the same everywhere)."""
    got = run_at_level(level)
    fallback = {"avx512": ("avx2", "base"), "avx2": ("base",), "portable": ("portable-base",)}
    assert got["level"] == got["population_level"] in (level, "portable-avx2", *fallback.get(level, ()))
    for key, bound in (("float64", 1e-12), ("float32", 1e-5)):
        for act in ("sigmoid", "tanh"):
            assert got[f"{key} {act} vs generic"] < bound, (key, act)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_an_epoch_on_float_inputs_copies_none_of_them(dtype, fast_path):
    """The Python API's way (float X of the network's dtype): after the first epoch, an epoch
    allocates less than a tenth of the data — no per-epoch copy or conversion of the inputs."""
    import tracemalloc

    rng = np.random.default_rng(0)
    x, labels = rng.random((3000, 784)).astype(dtype), rng.integers(0, 10, 3000)
    net = nnaccel.Network([784, 30, 10], device="cpu", dtype=dtype, seed=0)
    data = net.data((x, labels))
    assert data.pixels is None
    path = choose(net, EpochOptions(10, 0.5))
    assert isinstance(path, CEpoch if fast_path == "c" else NumpyEpoch)
    path(net, data, SGDState())  # the NumPy path builds [1 | x] once, here
    tracemalloc.start()
    path(net, data, SGDState())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < x.nbytes / 10
