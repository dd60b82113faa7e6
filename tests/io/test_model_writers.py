"""A function never writes a different model than the method: serialization.save(net, p) and
onnx_export.to_onnx(net, p) fold dropout's (1 − p) scaling (and, for ONNX, the softmax
temperature) exactly as net.save(p) and net.to_onnx(p) do, so every file computes what
net.feedforward computes."""

import numpy as np
import pytest

from nnaccel import load
from nnaccel.io import onnx as onnx_export, models as serialization
from nnaccel.nets.network import Network

CASES = {
    "dropout": dict(dropout=0.5, temperature=1.0),
    "temperature": dict(dropout=0.0, temperature=2.5),
    "dropout and temperature": dict(dropout=0.3, temperature=0.4),
}


def _network(dropout, temperature):
    """A [20, 12, 9, 5] softmax network that was trained with dropout p (net.dropout = p)."""
    net = Network([20, 12, 9, 5], cost="log-likelihood", output_activation="softmax", device="cpu", seed=4,
                  softmax_temperature=temperature)
    rng = np.random.default_rng(1)
    net.SGD((rng.random((60, 20), dtype=np.float32), rng.integers(0, 5, 60)), 1, 10, 0.5)
    net.dropout = dropout
    return net


def _inputs():
    return np.random.default_rng(2).random((50, 20), dtype=np.float32)


@pytest.mark.parametrize("suffix", [".npz", ".json"])
@pytest.mark.parametrize("case", CASES)
def test_serialization_save_writes_what_net_save_writes(tmp_path, case, suffix):
    """The file of serialization.save(net, p) loads into net.feedforward's outputs, as net.save's does."""
    net, x = _network(**CASES[case]), _inputs()
    expected = net.feedforward(x)
    serialization.save(net, tmp_path / f"function{suffix}")
    net.save(tmp_path / f"method{suffix}")
    for name in ("function", "method"):
        np.testing.assert_allclose(load(tmp_path / f"{name}{suffix}", device="cpu").feedforward(x), expected,
                                   rtol=0, atol=1e-6, err_msg=name)
    assert net.dropout == CASES[case]["dropout"]  # the network itself is left as it was


@pytest.mark.parametrize("case", CASES)
def test_onnx_export_writes_what_net_to_onnx_writes(tmp_path, case):
    """onnxruntime on onnx_export.to_onnx(net, p)'s file gives net.feedforward's outputs, as on net.to_onnx's."""
    pytest.importorskip("onnx", reason="onnx not installed (pip install 'nnaccel[onnx]')")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'nnaccel[onnx]')")
    net, x = _network(**CASES[case]), _inputs()
    expected = net.feedforward(x)
    onnx_export.to_onnx(net, tmp_path / "function.onnx")
    net.to_onnx(tmp_path / "method.onnx")
    for name in ("function", "method"):
        session = ort.InferenceSession(str(tmp_path / f"{name}.onnx"), providers=["CPUExecutionProvider"])
        np.testing.assert_allclose(session.run(["y"], {"x": x})[0], expected, rtol=0, atol=1e-6, err_msg=name)
    model = onnx_export.build_model(net)  # the model object too: the graph any caller gets
    assert [n.op_type for n in model.graph.node][-1] == "Softmax"
    assert (tmp_path / "function.onnx").read_bytes() == (tmp_path / "method.onnx").read_bytes()
