"""Chapter 3's exercise: softmax with a temperature, a_j = e^{c z_j}/Σ_k e^{c z_k}, which tends
to the max as c → ∞."""

import json

import numpy as np
import pytest

import nnaccel
from nnaccel.core import costs, second_order
from nnaccel.core.activations import Softmax
from nnaccel.errors import DataError, NNAccelError
from nnaccel.nets.network import load
from tests.conftest import BACKEND_PARAMS, make_backend

CPU_BACKENDS = [p for p in BACKEND_PARAMS if p.id in ("numpy", "array_api_strict")]
SIZES = [4, 5, 3]


def _net(backend, c, cost="log-likelihood", seed=2):
    return nnaccel.Network(SIZES, cost=cost, output_activation="softmax", softmax_temperature=c,
                           backend=make_backend(backend), dtype="float64", seed=seed)


def _batch(m=6, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, SIZES[0])), np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], size=m)]


def _cost(net, x, y):
    return float(net.cost.fn(net.xp, net.feedforward(x), net.backend.asarray(y, "float64")))


def test_softmax_with_temperature_c_is_e_to_the_cz_over_its_sum():
    z = np.array([[0.3, -1.2, 2.0, 0.0], [5.0, 5.0, -3.0, 1.0]])
    for c in (0.5, 1.0, 3.0):
        e = np.exp(c * z)
        assert np.allclose(Softmax(c).fn(np, z), e / e.sum(axis=1, keepdims=True), rtol=1e-14)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("c", [0.5, 3.0])
@pytest.mark.parametrize("cost", ["log-likelihood", "cross-entropy"])
def test_backprop_at_temperature_c_matches_central_finite_differences(backend, c, cost):
    """∂C/∂w and ∂C/∂b equal (C(w+ε) − C(w−ε))/2ε for a softmax output of temperature c."""
    net = _net(backend, c, cost)
    x, y = _batch()
    nabla_b, nabla_w = net.backprop(net.backend.asarray(x, "float64"), net.backend.asarray(y, "float64"))
    weights, biases = net.parameters_numpy()
    eps = 1e-6
    for kind, params, grads in (("w", weights, nabla_w), ("b", biases, nabla_b)):
        for l, (p, g) in enumerate(zip(params, grads)):
            g = net.backend.to_numpy(g).reshape(-1)
            for i in range(p.size):
                values = []
                for step in (eps, -eps):
                    moved = [a.copy() for a in params]
                    moved[l].reshape(-1)[i] += step
                    net.set_parameters(*((moved, biases) if kind == "w" else (weights, moved)))
                    values.append(_cost(net, x, y))
                net.set_parameters(weights, biases)
                assert g[i] == pytest.approx((values[0] - values[1]) / (2 * eps), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("c", [0.5, 3.0])
def test_log_likelihood_with_softmax_at_temperature_c_has_delta_c_times_a_minus_y(c):
    """BP1 simplifies to δᴸ = c(aᴸ − y), the same as the chain rule through softmax's Jacobian."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 4))
    y = np.eye(4)[rng.integers(0, 4, size=5)]
    act = Softmax(c)
    a = act.fn(np, z)
    cost = costs.get("log-likelihood")
    assert np.allclose(cost.delta(np, z, a, y, act), c * (a - y), rtol=1e-14)
    assert np.allclose(act.vjp(np, z, a, cost.grad(np, a, y)), c * (a - y), rtol=1e-12)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_hessian_vector_products_at_temperature_c_match_finite_differences_of_the_gradient(backend):
    """The R-operator carries the factor c too: H·v = (∇C(w+εv) − ∇C(w−εv))/2ε."""
    from tests.core.test_second_order import _fd_hvp

    for cost in ("log-likelihood", "cross-entropy"):
        net = _net(backend, 3.0, cost)
        x, y = _batch()
        data = (x, np.argmax(y, axis=1))
        v = np.random.default_rng(4).normal(size=second_order._size(net.sizes))
        assert np.allclose(second_order.hvp(net, data, v), _fd_hvp(net, data, v, 0.0), rtol=1e-5, atol=1e-7)


def test_as_c_grows_the_output_tends_to_the_one_hot_of_argmax_z():
    """c = 1, 10, 100, 1000: the distance to the one-hot of the largest z falls to 0."""
    z = np.array([[0.3, -1.2, 1.9, 0.0, 1.8]])
    one_hot = np.array([[0.0, 0.0, 1.0, 0.0, 0.0]])
    gaps = [np.abs(Softmax(c).fn(np, z) - one_hot).max() for c in (1.0, 10.0, 100.0, 1000.0)]
    assert gaps == sorted(gaps, reverse=True) and gaps[0] > 0.5
    assert gaps[-1] < 1e-40  # e^{−1000·0.1}: the max exactly, up to the dtype


def test_in_the_limit_tied_maxima_split_the_output_equally():
    """Two equal largest z: each gets ½ at any large c; three get ⅓."""
    for z, share in (([[1.0, 3.0, 3.0, 0.0]], [0, 0.5, 0.5, 0]), ([[2.0, 2.0, 2.0, -1.0]], [1 / 3, 1 / 3, 1 / 3, 0])):
        for c in (100.0, 1000.0):
            assert np.allclose(Softmax(c).fn(np, np.array(z)), [share], rtol=1e-14, atol=1e-40)


@pytest.mark.parametrize("c", [0.0, -1.0, float("nan"), float("inf"), "3", True])
def test_a_temperature_that_is_not_a_finite_positive_number_is_refused(c):
    with pytest.raises(NNAccelError, match="softmax_temperature must be > 0 and finite"):
        nnaccel.Network(SIZES, cost="log-likelihood", output_activation="softmax", softmax_temperature=c)


def test_a_temperature_needs_a_softmax_output():
    with pytest.raises(NNAccelError, match="needs a softmax output layer, not sigmoid"):
        nnaccel.Network(SIZES, softmax_temperature=2.0)
    assert nnaccel.Network(SIZES, softmax_temperature=1.0).activations[-1].name == "sigmoid"


def test_temperature_one_is_the_books_softmax_exactly():
    x, y = _batch()
    plain = nnaccel.Network(SIZES, cost="log-likelihood", output_activation="softmax", device="cpu",
                            dtype="float64", seed=2)
    net = _net("numpy", 1.0)
    assert np.array_equal(net.feedforward(x), plain.feedforward(x))
    assert all(np.array_equal(a, b) for a, b in zip(net.backprop(x, y)[1], plain.backprop(x, y)[1]))


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_a_model_file_keeps_the_temperature(tmp_path, suffix):
    net = _net("numpy", 3.0)
    x, _ = _batch()
    net.save(tmp_path / f"m{suffix}")
    loaded = load(tmp_path / f"m{suffix}", device="cpu")
    assert loaded.activations[-1].temperature == 3.0
    assert np.allclose(loaded.feedforward(x), net.feedforward(x), rtol=1e-14)
    if suffix == ".json":
        assert json.loads((tmp_path / "m.json").read_text())["softmax_temperature"] == 3.0


def test_a_file_of_the_books_softmax_has_no_temperature_field(tmp_path):
    _net("numpy", 1.0).save(tmp_path / "m.json")
    assert "softmax_temperature" not in json.loads((tmp_path / "m.json").read_text())


@pytest.mark.parametrize("value", [0, -2.0, "hot", None])
def test_a_model_file_with_a_bad_temperature_is_refused(tmp_path, value):
    _net("numpy", 3.0).save(tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    doc["softmax_temperature"] = value
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(DataError, match="softmax_temperature must be > 0 and finite, got .*; the model file is corrupt"):
        load(tmp_path / "m.json")


def test_onnx_export_folds_the_temperature_into_the_output_layer(tmp_path):
    """ONNX's Softmax has no c: softmax(c·z) = softmax((c·w)a + c·b) gives the same outputs."""
    pytest.importorskip("onnx", reason="onnx not installed (pip install 'nnaccel[onnx]')")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'nnaccel[onnx]')")
    net = nnaccel.Network(SIZES, cost="log-likelihood", output_activation="softmax", softmax_temperature=4.0,
                          device="cpu", seed=2)
    path = net.to_onnx(tmp_path / "m.onnx")
    x = _batch()[0].astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert np.allclose(session.run(None, {"x": x})[0], net.feedforward(x), atol=1e-6)
