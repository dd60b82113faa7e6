"""JAX as a backend (issue 18): arrays that cannot be changed in place train to NumPy's numbers,
by the generic path and by the compiled epoch (jit + lax.scan); and the in-place update that
NumPy, CuPy and PyTorch take gives the pure update's numbers to the last bit."""

import dataclasses
import importlib.util

import numpy as np
import pytest

import nnaccel
from nnaccel.epochs import fast
from nnaccel.epochs.fast.jax_epoch import JaxEpoch
from nnaccel.epochs.generic import EpochOptions, GenericEpoch, run_epoch
from nnaccel.errors import NNAccelError
from nnaccel.optim import SGDState

jax = pytest.importorskip("jax", reason="JAX not installed (pip install 'nnaccel[jax]')")

SIZES = [12, 7, 5, 4]

# Every cost and every activation, each with its own output layer (a softmax of temperature 2 too).
NETWORKS = {
    "quadratic-sigmoid": dict(cost="quadratic"),
    "cross-entropy-tanh-hidden": dict(cost="cross-entropy", hidden_activation="tanh"),
    "log-likelihood-softmax-relu": dict(cost="log-likelihood", output_activation="softmax",
                                        hidden_activation=["relu", "tanh"]),
    "quadratic-linear": dict(cost="quadratic", output_activation="linear", hidden_activation=["linear", "sigmoid"]),
    "quadratic-tanh-output": dict(cost="quadratic", output_activation="tanh"),
    "softmax-temperature-2": dict(cost="log-likelihood", output_activation="softmax", softmax_temperature=2.0),
}
# L2, L1, momentum, Nesterov and dropout (both modes); m = 7 leaves a smaller last mini-batch.
OPTIONS = {
    "l2": EpochOptions(7, 0.5, lmbda=2.0),
    "l1-l2": EpochOptions(7, 0.5, lmbda=2.0, l1=0.5),
    "momentum": EpochOptions(7, 0.3, lmbda=1.0, momentum=0.6),
    "nesterov-l1": EpochOptions(7, 0.3, l1=0.5, momentum=0.6, nesterov=True),
    "dropout": EpochOptions(7, 0.5, lmbda=1.0, dropout=0.5),
    "dropout-per-example-momentum": EpochOptions(7, 0.3, momentum=0.5, dropout=0.4, dropout_mode="per-example"),
    "in-order-one-example": EpochOptions(1, 0.2, lmbda=1.0, shuffle=False),
    "one-batch-of-all": EpochOptions(64, 1.0, momentum=0.5),
}
CASES = [(net, "l2") for net in NETWORKS] + [("cross-entropy-tanh-hidden", o) for o in OPTIONS if o != "l2"]


def _data(rows=53, pixels=True):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (rows, SIZES[0]), dtype=np.uint8) if pixels else rng.random((rows, SIZES[0]))
    return x, rng.integers(0, SIZES[-1], rows)


def _net(backend, net_kw, dtype="float64", seed=4):
    return nnaccel.Network(SIZES, backend=backend, device="cpu", dtype=dtype, seed=seed, **net_kw)


def _epochs(backend, path_cls, options, net_kw, epochs=2, pixels=True, dtype="float64"):
    """Weights, biases and velocities after ``epochs`` epochs (each from the last one's state)."""
    net = _net(backend, net_kw, dtype)
    data = net.data(_data(pixels=pixels))
    path = path_cls(net, options) if path_cls else None
    state = SGDState()
    for _ in range(epochs):
        state = path(net, data, state) if path else run_epoch(net, data, options, state)
    return [net.backend.to_numpy(a) for a in net.weights + net.biases + state.velocity_w + state.velocity_b]


def _assert_same(got, want, atol=1e-12):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=atol)


@pytest.mark.parametrize("path_cls", [None, JaxEpoch], ids=["generic", "jit-scan"])
@pytest.mark.parametrize("net_name,options_name", CASES)
def test_two_epochs_on_jax_equal_numpy_to_1e_12_in_float64(net_name, options_name, path_cls):
    """Same seed, same data: the shuffling and the dropout masks come from the network's host
    generator, so JAX sees NumPy's batches and masks, and ends with its weights and velocities."""
    options, net_kw = OPTIONS[options_name], NETWORKS[net_name]
    want = _epochs("numpy", None, options, net_kw)
    _assert_same(_epochs("jax", path_cls, options, net_kw), want)


def test_the_compiled_epoch_reads_float_inputs_as_well_as_pixels():
    options = EpochOptions(7, 0.5, lmbda=1.0, momentum=0.5)
    kw = NETWORKS["log-likelihood-softmax-relu"]
    _assert_same(_epochs("jax", JaxEpoch, options, kw, pixels=False), _epochs("numpy", None, options, kw, pixels=False))


@pytest.mark.parametrize("path_cls", [None, JaxEpoch], ids=["generic", "jit-scan"])
def test_float32_stays_float32_and_float64_is_float64_on_jax(path_cls):
    """jax_enable_x64 is on for float64; a float32 network is not promoted by it."""
    for dtype in ("float32", "float64"):
        got = _epochs("jax", path_cls, OPTIONS["momentum"], {}, epochs=1, dtype=dtype)
        assert all(a.dtype == np.dtype(dtype) for a in got)
    want = _epochs("numpy", None, OPTIONS["momentum"], {}, epochs=1, dtype="float32")
    _assert_same(_epochs("jax", path_cls, OPTIONS["momentum"], {}, epochs=1, dtype="float32"), want, atol=1e-5)


def test_jax_networks_take_the_compiled_epoch_and_no_fused_takes_the_generic_path():
    net = _net("jax", {})
    for options in OPTIONS.values():
        assert type(fast.choose(net, options)) is JaxEpoch
        assert type(fast.choose(net, options, fused=False)) is GenericEpoch
    assert not any(p.applies(net, OPTIONS["l2"]) for p in fast.REGISTRY["numpy"] + fast.REGISTRY["cupy"])
    assert not JaxEpoch.applies(_net("numpy", {}), OPTIONS["l2"])
    assert type(fast.choose(net, EpochOptions(7, 0.5, optimizer="lbfgs"))) is GenericEpoch


def test_a_new_eta_reuses_the_compiled_epoch_and_trains_with_it():
    """rebind(eta=…) shares the compiled program: η is an argument of it, not a constant."""
    net_kw, options = NETWORKS["quadratic-sigmoid"], OPTIONS["momentum"]
    net = _net("jax", net_kw)
    data = net.data(_data())
    path = JaxEpoch(net, options)
    state = path(net, data, SGDState())
    slower = path.rebind(eta=0.1)
    assert slower._epoch is path._epoch
    state = slower(net, data, state)
    assert path._epoch._cache_size() == 1  # one compilation for both η
    reference = _net("numpy", net_kw)
    ref_data = reference.data(_data())
    ref_state = run_epoch(reference, ref_data, options, SGDState())
    ref_state = run_epoch(reference, ref_data, dataclasses.replace(options, eta=0.1), ref_state)
    got = [np.asarray(a) for a in net.weights + net.biases + state.velocity_w]
    _assert_same(got, reference.weights + reference.biases + ref_state.velocity_w)


def test_training_and_resuming_on_jax_equal_an_uninterrupted_run(tmp_path):
    """The trainer (monitoring, a schedule, checkpoints) on JAX: a resumed run ends where the
    whole one does, and both where NumPy's does."""
    x, y = _data(60, pixels=False)
    kw = dict(evaluation_data=(x, y), momentum=0.5, lmbda=0.5, schedule="step", step_size=2,
              monitor_training_cost=True)
    whole = _net("jax", {})
    history = whole.SGD((x, y), 4, 7, 0.5, **kw)
    part = _net("jax", {})
    part.SGD((x, y), 2, 7, 0.5, checkpoint=tmp_path / "c.npz", **kw)
    again = _net("jax", {}, seed=99)
    again.SGD((x, y), 4, 7, 0.5, resume=tmp_path / "c.npz", **kw)
    numpy = _net("numpy", {})
    numpy_history = numpy.SGD((x, y), 4, 7, 0.5, **kw)
    np.testing.assert_allclose(history[2], numpy_history[2], rtol=1e-12)
    for a, b, c in zip(again.weights + again.biases, whole.weights + whole.biases, numpy.weights + numpy.biases):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        np.testing.assert_allclose(np.asarray(b), c, rtol=0, atol=1e-12)


def test_the_cli_trains_with_backend_jax(tmp_path, capsys):
    from nnaccel.cli import main

    code = main(["train", "--backend", "jax", "--device", "cpu", "--sizes", "784", "10", "10", "--epochs", "1",
                 "--dtype", "float64", "--seed", "3", "--save", str(tmp_path / "net.json")])
    out = capsys.readouterr().out
    assert code == 0 and "jax on cpu" in out and "Epoch 0:" in out
    saved = nnaccel.load(tmp_path / "net.json")
    assert saved.sizes == [784, 10, 10]


def test_jax_resolves_to_its_cpu_and_names_the_fix_for_a_missing_gpu():
    from nnaccel.backend import from_array, jax_gpus

    backend = nnaccel.resolve("auto", "jax")
    assert backend.name == "jax" and backend.in_place is False
    assert backend.device_name == ("cuda:0" if jax_gpus() else "cpu")
    assert from_array(jax.numpy.ones(3)).name == "jax"
    assert nnaccel.resolve("cpu", "numpy").in_place and nnaccel.resolve("cpu", "array_api_strict").in_place
    if not jax_gpus():
        with pytest.raises(NNAccelError, match="JAX sees no GPU here.*--device cpu"):
            nnaccel.resolve("cuda", "jax")


# ---- the in-place update of the mutable backends ---------------------------------------------
MUTABLE = ["numpy", pytest.param("torch", marks=pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                                                  reason="PyTorch not installed"))]


@pytest.mark.parametrize("backend", MUTABLE)
@pytest.mark.parametrize("options_name", ["l1-l2", "momentum", "nesterov-l1", "dropout"])
def test_the_in_place_update_gives_the_pure_updates_numbers_to_the_last_bit(backend, options_name):
    """Backend.in_place chooses the update; the two do the same operations in the same order."""
    options = OPTIONS[options_name]
    results = []
    for in_place in (True, False):
        net = _net(backend, NETWORKS["cross-entropy-tanh-hidden"])
        net.backend = dataclasses.replace(net.backend, in_place=in_place)
        data = net.data(_data())
        state = SGDState()
        for _ in range(2):
            state = run_epoch(net, data, options, state)
        results.append([net.backend.to_numpy(a) for a in net.weights + net.biases + state.velocity_w])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_an_in_place_epoch_leaves_the_callers_arrays_as_they_were():
    """The epoch overwrites its own copies: arrays the caller holds (the weights before the
    epoch, the velocity it passed in) do not change under it."""
    net = _net("numpy", {})
    data = net.data(_data())
    options = OPTIONS["momentum"]
    state = run_epoch(net, data, options, SGDState())
    before_w, before_v = net.weights, state.velocity_w
    copies = [a.copy() for a in before_w + before_v]
    state = run_epoch(net, data, options, state)
    assert net.weights[0] is not before_w[0]
    for held, copy in zip(before_w + before_v, copies):
        np.testing.assert_array_equal(held, copy)


def test_nnaccel_and_its_fast_paths_load_without_importing_jax():
    """JAX takes a second to import: only a JAX network (or a benchmark of one) imports it."""
    import subprocess
    import sys

    code = "import sys, nnaccel.epochs.fast, nnaccel.training.trainer, nnaccel.cli; print('jax' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr
