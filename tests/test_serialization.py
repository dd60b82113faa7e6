"""Models on disk: network2's JSON format both ways, the compact .npz, no pickles, no half files."""

import json

import numpy as np
import pytest

import nnaccel
from benchmarks.peers.book_loop import BookNetwork, CrossEntropyCost
from nnaccel.errors import DataError


def _trained(tmp_path, **kw):
    net = nnaccel.Network([6, 5, 3], device="cpu", dtype="float64", seed=5, **kw)
    x = np.random.default_rng(0).random((20, 6))
    net.SGD((x, np.arange(20) % 3), 1, 5, 0.5)
    return net, x


def test_json_is_network2s_format(tmp_path):
    """The keys and shapes network2.load reads: sizes, weights, biases as (n, 1) columns, cost."""
    net, x = _trained(tmp_path)
    net.save(tmp_path / "net.json")
    doc = json.loads((tmp_path / "net.json").read_text())
    assert doc["sizes"] == [6, 5, 3] and doc["cost"] == "CrossEntropyCost"
    # network2.load: Network(data["sizes"], cost=...); weights = [np.array(w) for w in data["weights"]]
    book = BookNetwork(doc["sizes"], CrossEntropyCost,
                       weights=[np.array(w) for w in doc["weights"]],
                       biases=[np.array(b) for b in doc["biases"]])
    assert [np.array(b).shape for b in doc["biases"]] == [(5, 1), (3, 1)]
    np.testing.assert_allclose(book.feedforward(x[0].reshape(-1, 1))[:, 0], net.feedforward(x[0]), rtol=1e-15)


def test_a_file_written_by_network2_loads(tmp_path):
    rng = np.random.default_rng(1)
    book = BookNetwork([4, 3, 2], CrossEntropyCost, rng=rng)
    doc = {"sizes": book.sizes, "weights": [w.tolist() for w in book.weights],
           "biases": [b.tolist() for b in book.biases], "cost": "CrossEntropyCost"}
    (tmp_path / "book.json").write_text(json.dumps(doc))
    net = nnaccel.load(tmp_path / "book.json", device="cpu", dtype="float64")
    x = rng.random(4)
    np.testing.assert_allclose(net.feedforward(x), book.feedforward(x.reshape(-1, 1))[:, 0], rtol=1e-15)
    assert net.cost.name == "cross-entropy"


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_round_trip_keeps_weights_activations_cost_and_dtype(tmp_path, suffix):
    net, x = _trained(tmp_path, cost="log-likelihood", hidden_activation="tanh", output_activation="softmax")
    net.save(tmp_path / f"m{suffix}")
    back = nnaccel.load(tmp_path / f"m{suffix}", device="cpu")
    assert back.dtype == "float64" and back.cost.name == "log-likelihood"
    assert [a.name for a in back.activations] == ["tanh", "softmax"]
    for a, b in zip(net.parameters_numpy()[0], back.parameters_numpy()[0]):
        np.testing.assert_array_equal(a, b)
    assert list(tmp_path.iterdir()) == [tmp_path / f"m{suffix}"]  # no temporary left behind


def test_a_model_moves_between_backends_and_dtypes(tmp_path):
    pytest.importorskip("torch")
    net = nnaccel.Network([6, 5, 3], device="cpu", backend="torch", dtype="float32", seed=2)
    net.save(tmp_path / "m.npz")
    back = nnaccel.load(tmp_path / "m.npz", device="cpu", dtype="float64")
    assert back.backend.name == "numpy" and back.weights[0].dtype == np.float64
    np.testing.assert_array_equal(back.weights[0], net.parameters_numpy()[0][0].astype(np.float64))


def test_npz_with_a_pickled_object_is_refused(tmp_path):
    meta = json.dumps({"sizes": [2, 1], "cost": "QuadraticCost"})
    np.savez(tmp_path / "evil.npz", meta=np.array(meta), w0=np.array([object()], dtype=object),
             b0=np.zeros(1))
    with pytest.raises(DataError, match="not a valid nnaccel .npz"):
        nnaccel.load(tmp_path / "evil.npz")


@pytest.mark.parametrize("content,match", [
    ("{not json", "not a network2/nnaccel JSON"),
    ('{"sizes": [2, 1]}', "missing or bad 'weights'"),
    ('{"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]], "cost": "Hinge"}', "unknown cost"),
    ('{"sizes": [2, 1], "weights": [[[1, 2, 3]]], "biases": [[[0]]]}', "needs weights of shape"),
])
def test_corrupt_model_files_name_the_problem(tmp_path, content, match):
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(DataError, match=match):
        nnaccel.load(tmp_path / "bad.json")


def test_missing_model_and_missing_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        nnaccel.load(tmp_path / "nope.json")
    net, _ = _trained(tmp_path)
    with pytest.raises(ValueError, match="folder .* does not exist"):
        net.save(tmp_path / "no" / "such" / "m.json")


def test_a_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    net, _ = _trained(tmp_path)
    path = tmp_path / "m.json"
    path.write_text("old")
    monkeypatch.setattr(json, "dump", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError):
        net.save(path)
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]
