"""Models on disk: network2's JSON format both ways, the compact .npz, no pickles, no half files."""

import json

import numpy as np
import pytest

import nnaccel
from nnaccel.errors import DataError, NNAccelError
from reference.book_loop import BookNetwork, CrossEntropyCost


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
    with pytest.raises(DataError, match="member w0.npy holds Python objects"):
        nnaccel.load(tmp_path / "evil.npz")


@pytest.mark.parametrize("content,match", [
    ("{not json", "neither an .npz model nor JSON"),
    ("[1, 2]", "JSON but not a model"),
    ("[" * 100000 + "]" * 100000, "neither an .npz model nor JSON \\(RecursionError\\)"),
    ('{"sizes": [2, 1], "weights": [[[1, NaN]]], "biases": [[[0]]]}', "NaN or infinite .* retrain"),
    ('{"sizes": [2, 1], "weights": [[[1, 1e999]]], "biases": [[[0]]]}', "NaN or infinite"),
    ('{"sizes": [2, true], "weights": [], "biases": []}', "'sizes' must list"),
    ('{"sizes": [2, 1], "weights": [[["a", 2]]], "biases": [[[0]]]}', "nested lists of numbers"),
    ('{"sizes": [2, 1], "weights": [[[1, 2]], [[3]]], "biases": [[[0]]]}', "2 weights matrices and 1 bias"),
    ('{"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]], "activations": 5}', "'activations' must name"),
    ('{"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]], "dtype": "int8"}', "dtype 'int8'"),
    ('{"format": "nnaccel-checkpoint-1"}', "is a checkpoint, not a model"),
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


def test_save_refuses_a_suffix_it_would_not_write_before_writing(tmp_path):
    """--save m.txt used to write .npz bytes under a .txt name."""
    net, _ = _trained(tmp_path)
    before = set(tmp_path.iterdir())
    for name in ("m.txt", "m", "m.json.bak"):
        with pytest.raises(NNAccelError, match="must end in .json .* or .npz"):
            net.save(tmp_path / name)
    assert set(tmp_path.iterdir()) == before
    net.save(tmp_path / "M.NPZ")  # the suffix's case does not matter
    assert nnaccel.load(tmp_path / "M.NPZ", device="cpu").sizes == [6, 5, 3]


def test_a_truncated_npz_model_is_one_line(tmp_path):
    net, _ = _trained(tmp_path)
    net.save(tmp_path / "m.npz")
    blob = (tmp_path / "m.npz").read_bytes()
    for cut in (len(blob) // 2, len(blob) - 30, 10):
        (tmp_path / "cut.npz").write_bytes(blob[:cut])
        with pytest.raises(DataError) as e:
            nnaccel.load(tmp_path / "cut.npz")
        assert "\n" not in str(e.value)


def test_an_npz_member_claiming_a_huge_shape_is_refused_before_allocating(tmp_path):
    import io
    import tracemalloc
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    meta = io.BytesIO()
    np.save(meta, np.array(json.dumps({"format": "nnaccel-1", "sizes": [10**6, 10**6]})))
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:
        z.writestr("meta.npy", meta.getvalue())
        z.writestr("w0.npy", header.getvalue() + b"\0" * 64)
    tracemalloc.start()
    with pytest.raises(DataError, match="claims shape \\(1000000, 1000000\\)"):
        nnaccel.load(tmp_path / "huge.npz")
    assert tracemalloc.get_traced_memory()[1] < 2**20
    tracemalloc.stop()


def test_nan_weights_in_an_npz_model_are_refused(tmp_path):
    net, _ = _trained(tmp_path)
    net.weights[0][0, 0] = np.nan
    net.save(tmp_path / "nan.npz")
    with pytest.raises(DataError, match="layer 1's weights hold NaN or infinite values"):
        nnaccel.load(tmp_path / "nan.npz")


def test_unreadable_model_paths(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        nnaccel.load(tmp_path)


# ---- checkpoints (issue 9, item 4): a corrupt or foreign file is one line, never a traceback ----

def _checkpoint(tmp_path, small_data):
    from nnaccel.training.trainer import train

    net = nnaccel.Network([12, 5, 4], device="cpu", dtype="float64", seed=1)
    train(net, small_data, 2, 10, 0.5, momentum=0.5, checkpoint=tmp_path / "c.npz")
    return tmp_path / "c.npz"


def _rewrite(path, edit_meta=None, edit_arrays=None):
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"][()]))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        edit_arrays(arrays)
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


def test_a_checkpoint_loads_back(tmp_path, small_data):
    from nnaccel.io.checkpoints import load_checkpoint

    meta, arrays = load_checkpoint(_checkpoint(tmp_path, small_data))
    assert meta["state"]["epoch"] == 2 and [a.shape for a in arrays["vw"]] == [(5, 12), (4, 5)]


def test_a_truncated_checkpoint_is_a_data_error_not_badzipfile(tmp_path, small_data):
    from nnaccel.io.checkpoints import load_checkpoint

    blob = _checkpoint(tmp_path, small_data).read_bytes()
    for cut in range(0, len(blob), max(1, len(blob) // 40)):
        (tmp_path / "cut.npz").write_bytes(blob[:cut])
        with pytest.raises(DataError) as e:
            load_checkpoint(tmp_path / "cut.npz")
        assert "\n" not in str(e.value)


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_a_model_given_as_checkpoint_says_so(tmp_path, suffix):
    from nnaccel.io.checkpoints import load_checkpoint

    net, _ = _trained(tmp_path)
    net.save(tmp_path / f"m{suffix}")
    with pytest.raises(DataError, match="is a model file, not a checkpoint; use nnaccel train --resume "
                                        "with a file written by --checkpoint") as e:
        load_checkpoint(tmp_path / f"m{suffix}")
    assert "allow_pickle" not in str(e.value)


def test_a_model_json_given_to_resume_is_one_line_exit_2(tmp_path, capsys):
    from nnaccel.cli import main

    net = nnaccel.Network([784, 30, 10], device="cpu", seed=0)
    net.save(tmp_path / "m.json")
    assert main(["train", "--resume", str(tmp_path / "m.json"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a model file, not a checkpoint" in err and "allow_pickle" not in err


def _drop(key):
    return lambda meta: meta["state"].pop(key)


@pytest.mark.parametrize("edit_meta,edit_arrays,match", [
    (_drop("epoch"), None, "missing or bad 'epoch'"),
    (_drop("rng_state"), None, "missing or bad 'rng_state'"),
    (lambda m: m["state"].update(rng_state={"bit_generator": "PCG64", "state": 5}), None, "bad 'rng_state'"),
    (lambda m: m["state"].update(epoch=-1), None, "bad 'epoch'"),
    (lambda m: m["state"].update(eta="fast"), None, "bad 'eta'"),
    (lambda m: m["state"].update(records=[1, 2]), None, "bad 'records'"),
    (lambda m: m.pop("groups"), None, "'groups' is missing"),
    (lambda m: m.pop("config"), None, "'config' is missing"),
    (lambda m: m["network"].update(sizes=[12, "5", 4]), None, "'sizes' must list"),
    (lambda m: m["groups"].update(w=7), None, "lists 7 w arrays for 2 layers"),
    (lambda m: m["groups"].update(zz=2), None, "array groups"),
    (lambda m: m.update(format="nnaccel-checkpoint-0"), None, "is not an nnaccel checkpoint \\(format"),
    (None, lambda a: a.pop("w1"), "has no array 'w1'"),
    (None, lambda a: a.update(w0=np.zeros((12, 5))), "needs weights of shape \\(5, 12\\)"),
    (None, lambda a: a.update(vb0=np.zeros((5, 2))), "needs velocities of shape .* got \\(5, 12\\) and \\(5, 2\\)"),
    (None, lambda a: a.update(w0=np.zeros((5, 12), dtype=np.int32)), "int32 weights, not floats"),
    (None, lambda a: a.update(b1=np.full(4, np.inf)), "NaN or infinite"),
])
def test_a_damaged_checkpoint_names_the_field(tmp_path, small_data, edit_meta, edit_arrays, match):
    from nnaccel.io.checkpoints import load_checkpoint

    path = _checkpoint(tmp_path, small_data)
    _rewrite(path, edit_meta, edit_arrays)
    with pytest.raises(DataError, match=match) as e:
        load_checkpoint(path)
    assert "\n" not in str(e.value)


def test_a_checkpoint_with_an_object_array_is_refused_without_unpickling(tmp_path, small_data):
    from nnaccel.io.checkpoints import load_checkpoint

    path = _checkpoint(tmp_path, small_data)
    _rewrite(path, edit_arrays=lambda a: a.update(w0=np.array([{"x": 1}], dtype=object)))
    with pytest.raises(DataError, match="w0.npy holds Python objects"):
        load_checkpoint(path)
