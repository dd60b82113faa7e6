"""The same code on every backend: identical weights after an epoch, same seed, same data."""

import subprocess
import sys

import numpy as np
import pytest

import nnaccel
from nnaccel.errors import NNAccelError
from tests.conftest import make_backend


def _train_one_epoch(backend, data, dtype, **kw):
    net = nnaccel.Network([784, 16, 10], backend=backend, dtype=dtype, seed=11, **kw)
    net.SGD(data, 1, 10, 0.5, lmbda=1.0)
    return net.parameters_numpy()


def test_one_epoch_matches_numpy_in_float64(backend, mnist10k):
    """One shuffled epoch gives the same weights as NumPy to 1e-12 (float64)."""
    data = (mnist10k.train[0][:500], mnist10k.train[1][:500])
    want_w, want_b = _train_one_epoch(make_backend("numpy"), data, "float64")
    got_w, got_b = _train_one_epoch(backend, data, "float64")
    for got, want in zip(got_w + got_b, want_w + want_b):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_softmax_relu_network_matches_numpy_in_float64(backend, mnist10k):
    data = (mnist10k.train[0][:300], mnist10k.train[1][:300])
    kw = dict(cost="log-likelihood", hidden_activation="relu", output_activation="softmax")
    want_w, _ = _train_one_epoch(make_backend("numpy"), data, "float64", **kw)
    got_w, _ = _train_one_epoch(backend, data, "float64", **kw)
    for got, want in zip(got_w, want_w):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_float32_is_float32_everywhere(backend, mnist10k):
    net = nnaccel.Network([784, 8, 10], backend=backend, dtype="float32", seed=2)
    net.SGD((mnist10k.train[0][:100], mnist10k.train[1][:100]), 1, 10, 3.0)
    assert all(w.dtype == backend.xp.float32 for w in net.weights + net.biases)
    acc = net.accuracy((mnist10k.test[0][:200], mnist10k.test[1][:200]))
    assert isinstance(acc, int) and 0 <= acc <= 200


def test_same_seed_same_initial_network_on_every_backend(backend):
    a = nnaccel.Network([5, 4, 3], backend=backend, dtype="float64", seed=9).parameters_numpy()
    b = nnaccel.Network([5, 4, 3], device="cpu", dtype="float64", seed=9).parameters_numpy()
    for x, y in zip(a[0] + a[1], b[0] + b[1]):
        np.testing.assert_array_equal(x, y)


def test_auto_falls_back_to_numpy_and_says_so(monkeypatch):
    monkeypatch.setattr("nnaccel.backend.cuda_available", lambda: False)
    b = nnaccel.resolve("auto")
    assert b.name == "numpy" and "no CUDA GPU" in b.note


def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("nnaccel.backend.cuda_available", lambda: False)
    with pytest.raises(NNAccelError, match="--device cpu"):
        nnaccel.resolve("cuda")


def test_without_the_cuda_driver_auto_never_imports_cupy():
    """Where the CUDA driver's library does not load (named here as one that cannot exist), no GPU
    is usable: cuda_available() says so without importing CuPy (half a second of every CLI run
    on a machine without a GPU), and `auto` takes NumPy and says why."""
    pytest.importorskip("cupy", reason="pip install -e '.[cuda]': with CuPy absent nothing would import it")
    code = ("import sys\nfrom nnaccel import backend\nbackend.CUDA_DRIVER = 'libnnaccel-no-such-driver.so.1'\n"
            "b = backend.resolve('auto')\nprint(backend.cuda_available(), 'cupy' in sys.modules, b.name, b.note)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:3] == ["False", "False", "numpy"] and "no CUDA GPU" in done.stdout


@pytest.mark.parametrize("device,backend,match", [
    ("tpu", None, "unknown device"), ("cpu", "mxnet", "unknown backend"),
    ("cuda", "numpy", "CPU only"), ("cpu", "cupy", "CUDA GPUs only"),
])
def test_impossible_requests_name_the_fix(device, backend, match):
    with pytest.raises(NNAccelError, match=match):
        nnaccel.resolve(device, backend)


@pytest.mark.cuda
def test_a_model_trained_on_cuda_loads_on_the_cpu(tmp_path, mnist10k):
    from nnaccel.backend import cuda_available

    if not cuda_available():
        pytest.skip("no CUDA GPU (cupy.cuda.is_available() is false)")
    net = nnaccel.Network([784, 8, 10], device="cuda", seed=1)
    net.SGD((mnist10k.train[0][:200], mnist10k.train[1][:200]), 1, 10, 3.0)
    net.save(tmp_path / "m.npz")
    cpu = nnaccel.load(tmp_path / "m.npz", device="cpu")
    np.testing.assert_array_equal(cpu.parameters_numpy()[0][0], net.parameters_numpy()[0][0])


def test_jax_without_jax_installed_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # import jax now raises ImportError
    with pytest.raises(NNAccelError, match=r"pip install 'nnaccel\[jax\]'"):
        nnaccel.resolve("cpu", "jax")
