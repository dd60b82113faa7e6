"""ONNX export: Gemm(transB=1) plus the activation per layer, checked by onnxruntime against feedforward."""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx not installed (pip install 'nnaccel[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'nnaccel[onnx]')")

from nnaccel import cli, load  # noqa: E402
from nnaccel.io.onnx import to_onnx  # noqa: E402
from nnaccel.nets.network import Network  # noqa: E402


def _trained(mnist10k, hidden="sigmoid", output="sigmoid", cost="cross-entropy", dtype="float32"):
    net = Network([784, 16, 12, 10], cost=cost, hidden_activation=hidden, output_activation=output,
                  device="cpu", dtype=dtype, seed=3)
    x, y = mnist10k.train
    net.SGD((x[:1000], y[:1000]), 1, 10, 0.1)
    return net


def _run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["y"], {"x": x})[0]


def _test_images(mnist10k):
    return (mnist10k.test[0] / 255.0).astype(np.float32)


@pytest.mark.parametrize("hidden, output, cost", [
    ("sigmoid", "sigmoid", "cross-entropy"),
    (["tanh", "relu"], "softmax", "log-likelihood"),
    (["linear", "sigmoid"], "linear", "quadratic"),
])
def test_onnxruntime_gives_feedforwards_outputs_on_the_test_images_to_1e_6(mnist10k, tmp_path, hidden, output, cost):
    net = _trained(mnist10k, hidden, output, cost)
    x = _test_images(mnist10k)
    to_onnx(net, tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")), full_check=True)
    got = _run(tmp_path / "m.onnx", x)
    want = net.backend.to_numpy(net.feedforward(x))
    assert got.shape == (len(x), 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_a_well_trained_network_agrees_to_float32_rounding_and_in_every_prediction(mnist10k, tmp_path):
    """After 5 epochs at η = 0.5, |z| reaches ~40 and float32 rounds z by ~40·2⁻²⁴ ≈ 2e-6: both
    onnxruntime and nnaccel's own float32 feedforward then sit ~1e-6 from the float64 result,
    in different directions, so they are compared to 1e-5 here and 1e-6 above."""
    net = Network([784, 30, 10], cost="cross-entropy", device="cpu", seed=1)
    net.SGD(mnist10k.train, 5, 10, 0.5)
    x = _test_images(mnist10k)
    to_onnx(net, tmp_path / "m.onnx")
    got, want = _run(tmp_path / "m.onnx", x), net.feedforward(x)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(np.argmax(got, axis=1), np.argmax(want, axis=1))


def test_a_float64_network_exports_float32_weights_that_agree_to_1e_6(mnist10k, tmp_path):
    net = _trained(mnist10k, dtype="float64")
    x = _test_images(mnist10k)
    to_onnx(net, tmp_path / "m.onnx")
    np.testing.assert_allclose(_run(tmp_path / "m.onnx", x), net.feedforward(x.astype(np.float64)), atol=1e-6)


def test_each_layer_is_gemm_with_transB_then_its_activation_and_the_metadata_names_the_network(tmp_path):
    net = Network([6, 5, 4, 3], hidden_activation=["relu", "tanh"], output_activation="softmax",
                  cost="log-likelihood", device="cpu", seed=0)
    model = onnx.load(str(to_onnx(net, tmp_path / "m.onnx", settings={"eta": 0.5, "epochs": 3})))
    assert [n.op_type for n in model.graph.node] == ["Gemm", "Relu", "Gemm", "Tanh", "Gemm", "Softmax"]
    gemm = model.graph.node[0]
    assert {a.name: a.i for a in gemm.attribute} == {"transB": 1}
    assert onnx.helper.get_attribute_value(model.graph.node[-1].attribute[0]) == 1  # Softmax axis=1
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert weights["w1"].shape == (5, 6) and weights["b1"].shape == (5,)
    np.testing.assert_array_equal(weights["w2"], net.parameters_numpy()[0][1].astype(np.float32))
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "x" and out.name == "y"
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["batch", 6]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["sizes"]) == [6, 5, 4, 3] and props["cost"] == "log-likelihood"
    assert json.loads(props["activations"]) == ["relu", "tanh", "softmax"]
    assert json.loads(props["training.eta"]) == 0.5


@pytest.mark.skipif(not hasattr(Network, "to_onnx"), reason="coordinator wires Network.to_onnx")
def test_network_to_onnx_writes_the_same_model(tmp_path):
    net = Network([4, 3, 2], device="cpu", seed=1)
    net.to_onnx(tmp_path / "a.onnx")
    to_onnx(net, tmp_path / "b.onnx")
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def test_nnaccel_export_writes_a_model_and_a_checkpoints_training_settings(mnist10k, tmp_path, capsys):
    from nnaccel.io.checkpoints import save_checkpoint
    from nnaccel.training.trainer import TrainState

    net = _trained(mnist10k)
    net.save(tmp_path / "m.npz")
    assert cli.main(["export", str(tmp_path / "m.npz"), str(tmp_path / "m.onnx")]) == 0
    assert "wrote" in capsys.readouterr().out
    x = _test_images(mnist10k)[:100]
    np.testing.assert_allclose(_run(tmp_path / "m.onnx", x), net.feedforward(x), atol=1e-6)

    save_checkpoint(tmp_path / "c.npz", net, TrainState(eta=0.1, epoch=1), {"eta": 0.1, "mini_batch_size": 10})
    assert cli.main(["export", str(tmp_path / "c.npz"), str(tmp_path / "c.onnx")]) == 0
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "c.onnx")).metadata_props}
    assert props["training.eta"] == "0.1" and props["training.epochs_completed"] == "1"
    np.testing.assert_allclose(_run(tmp_path / "c.onnx", x), net.feedforward(x), atol=1e-6)


@pytest.mark.parametrize("model, out, message", [
    ("missing.json", "m.onnx", "does not exist"),
    ("garbage.json", "m.onnx", "garbage.json"),
    ("good.json", "m.txt", "does not end in .onnx"),
    ("good.json", "no/such/folder/m.onnx", "does not exist; create it first"),
    ("good.json", "/proc/m.onnx", "cannot create a file in /proc"),
    ("/dev/null", "m.onnx", "is not a regular file"),
])
def test_bad_paths_are_one_line_and_exit_2_with_nothing_written(tmp_path, capsys, monkeypatch, model, out, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.json").write_text("{not json")
    Network([4, 3, 2], device="cpu", seed=1).save(tmp_path / "good.json")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli.main(["export", model, out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_export_without_an_output_path_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["export", "a.json"])
    assert e.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_a_checkpoint_with_dropout_and_a_temperature_exports_what_its_model_file_computes(mnist10k, tmp_path):
    """Dropout's (1 − p) scaling and softmax(c·z) are folded into the exported weights, from a
    model file and from a checkpoint alike."""
    assert cli.main(["train", "--epochs", "1", "--seed", "2", "--dropout", "0.5", "--output-activation", "softmax",
                     "--cost", "log-likelihood", "--softmax-temperature", "2", "--eta", "0.5",
                     "--checkpoint", str(tmp_path / "c.npz"), "--save", str(tmp_path / "m.npz")]) == 0
    for name in ("m", "c"):
        assert cli.main(["export", str(tmp_path / f"{name}.npz"), str(tmp_path / f"{name}.onnx")]) == 0
    net = load(tmp_path / "m.npz", device="cpu")
    images = _test_images(mnist10k)[:100]
    for name in ("m", "c"):
        np.testing.assert_allclose(_run(tmp_path / f"{name}.onnx", images), net.feedforward(images), atol=1e-6)
