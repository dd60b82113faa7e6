"""nnaccel predict: IDX, .npy and PNG images to the labels the model's feedforward gives, as
CSV or JSON; every bad input one line and exit 2. The PNG reader against a reference encoder."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from nnaccel.data import load_dataset
from nnaccel.data.idx import write_idx
from nnaccel.data.png import decode_png
from nnaccel.errors import DataError
from nnaccel.nets.network import Network


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def encode_png(pixels, colour=0, depth=8, filters=(0,), palette=None):
    """A plain PNG writer with every filter type, written from the specification (row by row)."""
    h, w = pixels.shape[:2]
    samples = pixels.reshape(h, -1).astype(np.int64)
    if depth == 16:
        samples = np.stack([samples >> 8, samples & 0xFF], axis=-1).reshape(h, -1)
    bpp = max(1, samples.shape[1] // w)
    raw = bytearray()
    previous = [0] * samples.shape[1]
    for y in range(h):
        row = samples[y].tolist()
        kind = filters[y % len(filters)]
        out = []
        for i, x in enumerate(row):
            left = row[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            pred = [0, left, up, (left + up) // 2, _paeth(left, up, corner)][kind]
            out.append((x - pred) & 0xFF)
        raw += bytes([kind, *out])
        previous = row

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    body = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0))
    if palette is not None:
        body += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")


@pytest.mark.parametrize("filters", [(0,), (1,), (2,), (3,), (4,), (0, 1, 2, 3, 4)])
def test_the_png_reader_undoes_every_filter(filters):
    image = np.random.default_rng(len(filters) + filters[0]).integers(0, 256, (28, 28), dtype=np.uint8)
    assert np.array_equal(decode_png(encode_png(image, filters=filters)), image)


def test_colour_16_bit_and_palette_pngs_read_as_their_luma():
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=-1)  # grey as colour: luma is the grey itself
    assert np.array_equal(decode_png(encode_png(rgb, colour=2, filters=(4,))), grey)
    rgba = np.concatenate([rgb, np.full((5, 7, 1), 255, np.uint8)], axis=-1)
    assert np.array_equal(decode_png(encode_png(rgba, colour=6, filters=(1, 3))), grey)
    wide = grey.astype(np.uint16) * 257  # 16 bits: the high byte is the 8-bit value
    assert np.array_equal(decode_png(encode_png(wide, depth=16, filters=(2,))), grey)
    palette = np.stack([np.arange(256)] * 3, axis=-1)
    assert np.array_equal(decode_png(encode_png(grey, colour=3, palette=palette)), grey)


@pytest.mark.parametrize("damage, words", [
    (lambda b: b[:40], "truncated"),
    (lambda b: b[:30] + bytes([b[30] ^ 1]) + b[31:], "CRC"),
    (lambda b: b"GIF89a" + b[6:], "not a PNG"),
])
def test_a_damaged_png_is_a_data_error(damage, words):
    good = encode_png(np.zeros((28, 28), np.uint8))
    with pytest.raises(DataError, match=words):
        decode_png(damage(good), "x.png")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A [784, 30, 10] network trained one epoch, saved; and the first 50 test digits."""
    folder = tmp_path_factory.mktemp("predict")
    data = load_dataset("mnist-10k")
    net = Network([784, 30, 10], seed=1, device="cpu")
    net.SGD(data.train, 1, 10, 3.0)
    net.save(folder / "m.json")
    x = data.test[0][:50].reshape(50, 28, 28)
    expected = np.argmax(np.asarray(net.feedforward(x.reshape(50, -1) / 255.0)), axis=1)
    return folder, x, expected


def run_predict(*args):
    return subprocess.run([sys.executable, "-m", "nnaccel", "predict", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def test_predict_gives_feedforwards_argmax_for_idx_npy_and_png(model):
    folder, x, expected = model
    write_idx(folder / "images-idx3-ubyte.gz", x)
    np.save(folder / "images.npy", x[:10].astype(np.float32) / 255.0)
    (folder / "seven.png").write_bytes(encode_png(x[0], filters=(4,)))
    r = run_predict(folder / "m.json", folder / "images-idx3-ubyte.gz", folder / "images.npy", folder / "seven.png")
    assert r.returncode == 0, r.stderr
    rows = [line.split(",") for line in r.stdout.splitlines()]
    assert rows[0] == ["file", "index", "label"] and len(rows) == 1 + 50 + 10 + 1
    labels = [int(row[2]) for row in rows[1:]]
    assert labels == [*expected, *expected[:10], expected[0]]
    assert rows[51][0].endswith("images.npy") and rows[51][1] == "0"


def test_predict_writes_json_to_a_file_with_inverted_pngs(model, tmp_path):
    folder, x, expected = model
    (tmp_path / "ink.png").write_bytes(encode_png(255 - x[1]))  # dark ink on white paper
    r = run_predict(folder / "m.json", tmp_path / "ink.png", "--invert", "--format", "json",
                    "--out", tmp_path / "labels.json")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "labels.json").read_text()) == [
        {"file": str(tmp_path / "ink.png"), "index": 0, "label": int(expected[1])}]


@pytest.mark.parametrize("make, words", [
    (lambda d: (d / "small.npy", np.save(d / "small.npy", np.zeros((2, 5, 5), np.uint8))), "25 pixels"),
    (lambda d: (d / "bad.png", (d / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 5)), "truncated"),
    (lambda d: (d / "x.npy", (d / "x.npy").write_bytes(b"not numpy")), "not a readable .npy"),
    (lambda d: (d / "labels-idx1-ubyte", write_idx(d / "labels-idx1-ubyte", np.zeros(3, np.uint8))), "labels"),
    (lambda d: (d / "missing.png", None), "missing.png"),
    (lambda d: (d / "nan.npy", np.save(d / "nan.npy", np.full((1, 28, 28), np.nan))), "finite"),
])
def test_bad_images_are_one_line_and_exit_2(model, tmp_path, make, words):
    folder = model[0]
    path, _ = make(tmp_path)
    r = run_predict(folder / "m.json", path, "--out", tmp_path / "labels.csv")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "labels.csv").exists()


def test_the_output_may_not_overwrite_an_input(model, tmp_path):
    folder, x, _ = model
    np.save(tmp_path / "x.npy", x[:2])
    r = run_predict(folder / "m.json", tmp_path / "x.npy", "--out", tmp_path / "x.npy")
    assert r.returncode == 2 and "is one of the inputs" in r.stderr and np.load(tmp_path / "x.npy").shape == (2, 28, 28)
