"""Fuzzing the file readers (issue 9): IDX files, mnist.pkl.gz, model JSON and .npz, checkpoints.

Every input is a valid file after random damage (bit flips, truncation, splices, inserted and
overwritten runs), a header drawn from absurd values, a stream of arbitrary pickle opcodes,
or a valid document with a random part replaced. The property (tests/fuzz_support.check):
success, or one NNAccelError line; no file left behind; memory in proportion to the input.
Run longer with NNACCEL_FUZZ_SECONDS=600 python -m pytest -m fuzz tests/fuzz/test_fuzz_files.py.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import pickle
import pickletools
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nnaccel
from nnaccel.data import load_dataset, read_idx, to_device
from nnaccel.data.safe_pickle import load_mnist_pkl
from nnaccel.io.checkpoints import load_checkpoint
from nnaccel.nets.network import load
from nnaccel.training.trainer import restore, train
from tests.fuzz_support import Clock, check, fuzz_settings, mutated

pytestmark = pytest.mark.fuzz

IDX_CODES = [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]
BIG = [0, 1, 2, 3, 255, 256, 60000, 2**16, 2**31 - 1, 2**31, 2**32 - 1]


# ---- valid files to start from ----------------------------------------------------------------

def _idx_bytes(array):
    buf = io.BytesIO()
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
            np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}[array.dtype]
    buf.write(struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape))
    buf.write(array.astype(array.dtype.newbyteorder(">")).tobytes())
    return buf.getvalue()


RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (12, 4, 4), dtype=np.uint8)
LABELS = (np.arange(12) % 3).astype(np.uint8)
VALID_IDX = [_idx_bytes(IMAGES), _idx_bytes(LABELS), _idx_bytes(RNG.random((3, 5)).astype(np.float32)),
             _idx_bytes(np.arange(-6, 6, dtype=np.int16))]


def _book_pickle(protocol):
    parts = tuple((RNG.random((n, 6), dtype=np.float32), RNG.integers(0, 3, n)) for n in (9, 3, 4))
    return pickle.dumps(parts, protocol=protocol)


VALID_PKL = [_book_pickle(2), _book_pickle(4)]


def _small_net():
    return nnaccel.Network([6, 4, 3], device="cpu", dtype="float64", seed=3)


def _model_files(tmp):
    net = _small_net()
    net.save(tmp / "m.json")
    net.save(tmp / "m.npz")
    return (tmp / "m.json").read_bytes(), (tmp / "m.npz").read_bytes()


def _checkpoint_file(tmp):
    net = _small_net()
    x = RNG.random((20, 6))
    train(net, (x, np.arange(20) % 3), 2, 5, 0.5, momentum=0.5, early_stopping=3, evaluation_data=(x, np.arange(20) % 3),
          checkpoint=tmp / "c.npz")
    return (tmp / "c.npz").read_bytes()


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("valid")
    model_json, model_npz = _model_files(tmp)
    return {"json": model_json, "npz": model_npz, "checkpoint": _checkpoint_file(tmp)}


def _write(folder, name, data):
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


# ---- JSON documents with one random part replaced --------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8)
    | st.sampled_from([0, -1, 1, 2**31, 2**63, 1e308, "sigmoid", "float64", "PCG64", [], {}]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


@st.composite
def json_mutated(draw, doc):
    """``doc`` with 1–3 random nodes replaced by random JSON, deleted, or given a new key."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        parent, key = None, None
        node = doc
        while isinstance(node, (dict, list)) and node and draw(st.booleans()):
            keys = list(node.keys()) if isinstance(node, dict) else list(range(len(node)))
            parent, key = node, draw(st.sampled_from(keys))
            node = node[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if parent is None:
            if action == "replace":
                doc = draw(JSON_VALUES)
            elif isinstance(doc, dict):
                doc[draw(st.text(max_size=6))] = draw(JSON_VALUES)
        elif action == "replace":
            parent[key] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=6))] = draw(JSON_VALUES)
        else:
            parent.insert(key, draw(JSON_VALUES))
    return doc


def _npz_bytes(meta, arrays):
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta, allow_nan=True)), **arrays)
    return buf.getvalue()


def _npz_parts(blob):
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return json.loads(str(z["meta"][()])), {k: z[k] for k in z.files if k != "meta"}


ARRAYS = st.one_of(
    st.builds(lambda shape, dtype, fill: np.full(shape, fill).astype(dtype),
              st.lists(st.integers(0, 7), max_size=3).map(tuple),
              st.sampled_from([np.float32, np.float64, np.int32, np.uint8, np.bool_, np.complex64]),
              st.sampled_from([0, 1, -1, 0.5, np.nan, np.inf])),
)


@st.composite
def arrays_mutated(draw, arrays):
    arrays = dict(arrays)
    for _ in range(draw(st.integers(1, 2))):
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        key = draw(st.sampled_from(sorted(arrays))) if arrays else "w0"
        if action == "delete" and key in arrays:
            del arrays[key]
        elif action == "replace" and key in arrays:
            old = arrays[key]
            arrays[key] = draw(ARRAYS | st.just(old.T.copy()) | st.just(old.astype(np.float16))
                               | st.just(np.where(old == old, np.nan, old)))
        else:
            arrays[draw(st.text("abwv0123", min_size=1, max_size=3))] = draw(ARRAYS)
    return arrays


# ---- the fuzz tests ---------------------------------------------------------------------------

IDX_CLOCK = Clock()


@fuzz_settings()
@given(data=st.data(), gz=st.sampled_from(["raw", "before", "after"]))
def test_fuzz_idx_files(tmp_path, data, gz):
    """Damaged IDX files (raw, or gzip damaged before or after compression) read or refuse in one line."""
    if IDX_CLOCK.spent():
        return
    base = data.draw(st.sampled_from(VALID_IDX))
    body = data.draw(mutated(base, VALID_IDX))
    blob = gzip.compress(body, mtime=0) if gz == "before" else body
    if gz == "after":
        blob = data.draw(mutated(gzip.compress(base, mtime=0), [gzip.compress(v) for v in VALID_IDX]))
    path = _write(tmp_path / "in", "f.idx", blob)
    check(lambda: read_idx(path), len(blob) + len(base) + len(body), tmp_path)


HEADER_CLOCK = Clock()


@fuzz_settings()
@given(code=st.sampled_from(IDX_CODES) | st.integers(0, 255), dims=st.lists(st.sampled_from(BIG) | st.integers(0, 2**32 - 1),
       min_size=0, max_size=6), body=st.integers(0, 4096), gz=st.booleans(), magic=st.sampled_from([b"\0\0", b"\0\1", b"PK"]))
def test_fuzz_idx_headers(tmp_path, code, dims, body, gz, magic):
    """Absurd IDX headers (dimension products past 2⁶⁴, sizes far beyond the file) cost no memory."""
    if HEADER_CLOCK.spent():
        return
    raw = magic + struct.pack(">BB", code, len(dims)) + struct.pack(f">{len(dims)}I", *dims) + b"\x01" * body
    blob = gzip.compress(raw, mtime=0) if gz else raw
    path = _write(tmp_path / "in", "h.idx", blob)
    check(lambda: read_idx(path), len(raw), tmp_path)


FOLDER_CLOCK = Clock()
FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


@fuzz_settings(per_second=20)
@given(data=st.data(), victim=st.sampled_from(FILES), scale=st.sampled_from([None, 255, 1.0, 0.5]))
def test_fuzz_data_folders(tmp_path, data, victim, scale):
    """A folder of four IDX files, one damaged: load_dataset and to_device refuse in one line."""
    if FOLDER_CLOCK.spent():
        return
    folder = tmp_path / "d"
    folder.mkdir(exist_ok=True)
    valid = {FILES[0]: VALID_IDX[0], FILES[1]: VALID_IDX[1], FILES[2]: _idx_bytes(IMAGES[:5]),
             FILES[3]: _idx_bytes(LABELS[:5])}
    valid[victim] = data.draw(mutated(valid[victim], VALID_IDX))
    for name, blob in valid.items():
        (folder / name).write_bytes(blob)
    size = sum(map(len, valid.values()))

    def run():
        ds = load_dataset(data=folder)
        net = nnaccel.Network([ds.n_pixels, 3, ds.n_classes], device="cpu", seed=0)
        to_device(net.backend, ds.train, net.sizes[0], net.sizes[-1], net.dtype, scale=scale)
        to_device(net.backend, ds.test, net.sizes[0], net.sizes[-1], net.dtype, scale=scale)

    check(run, size, tmp_path, ratio=64)  # a network and one-hot targets per byte of tiny data


PKL_CLOCK = Clock()


@fuzz_settings()
@given(data=st.data(), gz=st.booleans())
def test_fuzz_mnist_pkl(tmp_path, data, gz):
    """Damaged book pickles, gzip or not, load or refuse; nothing outside the allow-list runs."""
    if PKL_CLOCK.spent():
        return
    raw = data.draw(mutated(data.draw(st.sampled_from(VALID_PKL)), VALID_PKL))
    blob = gzip.compress(raw, mtime=0) if gz else raw
    path = _write(tmp_path / "in", "mnist.pkl.gz", blob)
    check(lambda: load_dataset(data=path), len(raw) + len(blob), tmp_path)


OPCODES = [op for op in pickletools.opcodes if op.proto <= 5]
GLOBALS = [b"numpy\nndarray\n", b"numpy\ndtype\n", b"numpy.core.multiarray\n_reconstruct\n",
           b"numpy._core.multiarray\n_reconstruct\n", b"_codecs\nencode\n", b"os\nsystem\n",
           b"builtins\neval\n", b"numpy\nfrombuffer\n"]


@st.composite
def opcode_streams(draw):
    out = [b"\x80" + bytes([draw(st.integers(2, 5))])]
    for _ in range(draw(st.integers(1, 40))):
        op = draw(st.sampled_from(OPCODES))
        out.append(op.code.encode("latin1"))
        if op.name in ("GLOBAL", "INST"):
            out.append(draw(st.sampled_from(GLOBALS)))
        elif op.arg is not None:
            n = op.arg.n
            if n > 0:
                out.append(draw(st.binary(min_size=n, max_size=n)))
            elif n == pickletools.UP_TO_NEWLINE:
                out.append(draw(st.text("0123456789abcdefL'\" .-", max_size=8)).encode() + b"\n")
            else:  # counted: a length drawn from small and absurd values, then (a few of) its bytes
                size = {pickletools.TAKEN_FROM_ARGUMENT1: 1, pickletools.TAKEN_FROM_ARGUMENT4: 4,
                        pickletools.TAKEN_FROM_ARGUMENT4U: 4, pickletools.TAKEN_FROM_ARGUMENT8U: 8}[n]
                length = draw(st.sampled_from([0, 1, 3, 8, 2**31 - 1, 2**32 - 1, 2**40]).filter(lambda v: v < 256**size))
                fmt = {1: "<B", 4: "<I", 8: "<Q"}[size]
                out.append(struct.pack(fmt, length) + b"a" * min(length, draw(st.integers(0, 16))))
    out.append(b".")
    return b"".join(out)


OPCODE_CLOCK = Clock()


@fuzz_settings(per_second=100)
@given(blob=opcode_streams())
def test_fuzz_pickle_opcodes(tmp_path, blob):
    """Arbitrary opcode streams (absurd lengths, forbidden globals, BUILD on anything) are refused
    in memory proportional to the stream; os.system and eval are never reached."""
    if OPCODE_CLOCK.spent():
        return
    path = _write(tmp_path / "in", "p.pkl", blob)
    check(lambda: load_mnist_pkl(path), len(blob), tmp_path)


MODEL_CLOCK = Clock()


@fuzz_settings(per_second=20)
@given(data=st.data(), kind=st.sampled_from(["json-doc", "json-bytes", "npz-arrays", "npz-meta", "npz-bytes"]))
def test_fuzz_model_files(tmp_path, valid, data, kind):
    """Model files with a damaged document, array, or byte load or refuse in one line."""
    if MODEL_CLOCK.spent():
        return
    if kind == "json-doc":
        blob = json.dumps(data.draw(json_mutated(json.loads(valid["json"])))).encode()
    elif kind == "json-bytes":
        blob = data.draw(mutated(valid["json"]))
    elif kind == "npz-bytes":
        blob = data.draw(mutated(valid["npz"], [valid["json"], valid["checkpoint"]]))
    else:
        meta, arrays = _npz_parts(valid["npz"])
        if kind == "npz-meta":
            meta = data.draw(json_mutated(meta))
        else:
            arrays = data.draw(arrays_mutated(arrays))
        blob = _npz_bytes(meta, arrays)
    path = _write(tmp_path / "in", "model.json" if kind.startswith("json") else "model.npz", blob)
    check(lambda: load(path, device="cpu"), len(blob) + len(valid["npz"]), tmp_path, ratio=64)


CHECKPOINT_CLOCK = Clock()


@fuzz_settings(per_second=15)
@given(data=st.data(), kind=st.sampled_from(["meta", "arrays", "bytes", "both", "records"]))
def test_fuzz_checkpoints(tmp_path, valid, data, kind):
    """Checkpoints with damaged meta JSON, arrays or bytes: load_checkpoint and the restore into a
    network either work or stop with one line. "records": hand-edited epoch records (issue 16),
    resumed for real, through the schedule and early stopping that read them."""
    if CHECKPOINT_CLOCK.spent():
        return
    if kind == "records":
        meta, arrays = _npz_parts(valid["checkpoint"])
        meta["state"]["records"] = data.draw(json_mutated(meta["state"]["records"]))
        blob = _npz_bytes(meta, arrays)
        path = _write(tmp_path / "in", "c.npz", blob)
        x = RNG.random((20, 6))

        def resume():
            train(_small_net(), (x, np.arange(20) % 3), 4, 5, 0.5, momentum=0.5, early_stopping=3,
                  schedule="halve", patience=1, evaluation_data=(x, np.arange(20) % 3), resume=path)

        check(resume, len(blob) + len(valid["checkpoint"]), tmp_path, ratio=64)
        return
    if kind == "bytes":
        blob = data.draw(mutated(valid["checkpoint"], [valid["npz"]]))
    else:
        meta, arrays = _npz_parts(valid["checkpoint"])
        if kind in ("meta", "both"):
            meta = data.draw(json_mutated(meta))
        if kind in ("arrays", "both"):
            arrays = data.draw(arrays_mutated(arrays))
        blob = _npz_bytes(meta, arrays)
    path = _write(tmp_path / "in", "c.npz", blob)

    def run():
        loaded = load_checkpoint(path)
        restore(_small_net(), loaded)

    check(run, len(blob) + len(valid["checkpoint"]), tmp_path, ratio=64)
