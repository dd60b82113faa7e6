"""Hostile inputs found by fuzzing the real command and the API, one class per section: each
test failed on the code before its fix (a traceback, an internal error, a second line on
stderr, or memory a file's header asked for)."""

import importlib.util
import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from nnaccel import cli
from nnaccel.errors import DataError, NNAccelError

ROOT = Path(__file__).resolve().parents[2]  # the checkout


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A folder with a small trained model, m.npz."""
    monkeypatch.chdir(tmp_path)
    small = ["--sizes", "784", "4", "10", "--epochs", "1", "--validation-size", "100", "--device", "cpu"]
    assert cli.main(["train", *small, "--save", "m.npz"]) == 0
    return tmp_path


def _refused(capsys, args, *words):
    """Run ``nnaccel args`` in-process: exit 2, one line on stderr holding ``words``, nothing new on disk."""
    before = set(os.listdir("."))
    capsys.readouterr()
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("nnaccel: error: "), err
    assert "Traceback" not in err and "internal error" not in err, err
    for word in words:
        assert word in err, err
    assert set(os.listdir(".")) == before
    return err


# ---- a message quotes a file name that holds a newline or an escape sequence ----------
LINE_BREAKING_NAMES = ["no\nsuch.npz", "carriage\rreturn.npz", "esc\x1b[31mred.npz", "nel\x85.npz",
                       "sep\u2028arator.npz"]


@pytest.mark.parametrize("name", LINE_BREAKING_NAMES)
def test_a_file_name_with_a_newline_leaves_the_message_one_line(folder, capsys, name):
    """`nnaccel evaluate $'no\\nsuch.npz'` printed two lines: the name is quoted with escapes."""
    err = _refused(capsys, ["evaluate", name], "does not exist")
    assert "\x1b" not in err and "\r" not in err and "\u2028" not in err and "\x85" not in err


def test_a_file_name_with_a_newline_in_every_kind_of_message(folder, capsys):
    """The same through the output checks, predict's inputs and export's suffix check."""
    _refused(capsys, ["train", "--epochs", "1", "--sizes", "784", "10", "--save", "/no\nfolder/x.npz"], "\\n")
    _refused(capsys, ["predict", "m.npz", "img\n.png"], "img\\n.png")
    _refused(capsys, ["export", "m.npz", "bad\nname.txt"], "bad\\nname.txt")


def test_an_error_message_stays_one_line_in_the_api():
    """NNAccelError escapes what would break its line, and a non-UTF-8 name's bytes survive."""
    odd = os.fsdecode(b"caf\xe9\n.npz")
    e = DataError(f"{odd} does not exist")
    assert len(str(e).splitlines()) == 1 and "\\n" in str(e)
    assert os.fsencode(str(e)).startswith(b"caf\xe9\\n")
    assert str(NNAccelError("tab\tstays")) == "tab\tstays"


# ---- JSON that the parser refuses by recursion, not by syntax ---------------------------
DEEP = "[" * 200_000 + "]" * 200_000


@pytest.mark.parametrize("content, words", [
    (DEEP + "\n", ["deep.jsonl:1 is not a JSON object (nested too deeply)"]),
    ('{"epoch": 0}\n' + DEEP + "\n", ["deep.jsonl:2", "nested too deeply"]),
    ("1" * 5000 + "\n", ["deep.jsonl:1 is not a JSON object"]),
    ("[1, 2]\n", ["deep.jsonl:1 is not a JSON object (a JSON list)"]),
])
def test_serve_refuses_a_history_nested_too_deeply_in_one_line(folder, capsys, content, words):
    """`nnaccel serve m.npz --history deep.jsonl` was an internal RecursionError."""
    Path("deep.jsonl").write_text(content)
    _refused(capsys, ["serve", "m.npz", "--port", "0", "--history", "deep.jsonl"], *words)


def test_serve_skips_a_deep_last_line_still_being_written(folder):
    """A last line without its newline is a run still writing it, whatever stops it parsing."""
    from nnaccel.tools.serve import read_history

    Path("h.jsonl").write_text('{"epoch": 0}\n' + "[" * 200_000)
    assert read_history("h.jsonl") == [{"epoch": 0}]


def test_an_archive_whose_metadata_nests_too_deeply_is_corrupt(folder, capsys):
    """The metadata member of a model .npz parsed by the same function: one DataError line."""
    np.savez("deep.npz", meta=np.array(DEEP), w0=np.zeros((10, 784), np.float32), b0=np.zeros(10, np.float32))
    _refused(capsys, ["evaluate", "deep.npz"], "deep.npz's metadata is not a JSON object (nested too deeply)")
    np.savez("list.npz", meta=np.array("[1]"))
    _refused(capsys, ["export", "list.npz", "out.onnx"], "list.npz's metadata is not a JSON object")


# ---- a .npy header that claims more than its file holds ----------------------------------
def _npy_header(shape, descr="<f8"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


@pytest.mark.parametrize("shape", [(100_000, 100_000), (4, 28, 28), (2**62, 2**62)])
def test_predict_refuses_a_npy_that_claims_more_than_it_holds_before_allocating(folder, capsys, shape):
    """NumPy's np.load allocates what a .npy header claims: `predict m.npz huge.npy` tried to
    allocate 80 GB and said "out of memory; use smaller --sizes". The header is now checked
    against the file's size first, as read_npz checks each member."""
    import tracemalloc

    Path("huge.npy").write_bytes(_npy_header(shape) + b"\0" * 100)
    tracemalloc.start()
    try:
        _refused(capsys, ["predict", "m.npz", "huge.npy"], "huge.npy claims shape", "the file is corrupt or truncated")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20


def test_predict_reads_every_npy_numpy_writes(folder):
    """The checked reader gives what np.load gives: Fortran order, big-endian, 2-D and 3-D, float16."""
    from nnaccel.data.npz import read_npy

    rng = np.random.default_rng(0)
    for a in (rng.random((28, 28)).astype(">f4"), np.asfortranarray(rng.integers(0, 255, (3, 28, 28), np.uint8)),
              rng.random((2, 28, 28)).astype(np.float16)):
        np.save("a.npy", a)
        got = read_npy("a.npy")
        assert got.dtype == a.dtype.newbyteorder("=") and np.array_equal(got, a)
    np.save("o.npy", np.array([None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="holds Python objects"):
        read_npy("o.npy")


# ---- PNG chunks whose payload has the wrong length for their type -----------------------
def _chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png(width, height, depth, colour, rows, extra=(), interlace=0):
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace))
    return (b"\x89PNG\r\n\x1a\n" + ihdr + b"".join(extra) + _chunk(b"IDAT", zlib.compress(rows))
            + _chunk(b"IEND", b""))


def test_predict_refuses_a_palette_of_a_length_no_colour_has(folder, capsys):
    """`predict m.npz pal.png` with a 4-byte PLTE chunk (valid CRC) was an internal ValueError."""
    rows = b"".join(b"\0" + b"\1" * 28 for _ in range(28))
    Path("pal.png").write_bytes(_png(28, 28, 8, 3, rows, [_chunk(b"PLTE", b"\1\2\3\4")]))
    _refused(capsys, ["predict", "m.npz", "pal.png"], "pal.png is a corrupt PNG file (a palette of 4 bytes")
    Path("filter.png").write_bytes(_png(28, 28, 8, 0, b"".join(b"\7" + b"\1" * 28 for _ in range(28))))
    _refused(capsys, ["predict", "m.npz", "filter.png"], "filter.png is a corrupt PNG file (row 0", "convert")


def test_any_png_of_well_formed_chunks_decodes_or_is_refused_in_one_line():
    """Chunks with valid CRCs but drawn contents: an image, or one DataError line; nothing else."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from nnaccel.data.png import decode_png

    payload = st.binary(max_size=24)
    chunks = st.lists(st.tuples(st.sampled_from([b"PLTE", b"tRNS", b"IHDR", b"gAMA", b"IDAT"]), payload), max_size=3)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(width=st.integers(1, 4), height=st.integers(1, 3), depth=st.sampled_from([1, 8, 16]),
           colour=st.sampled_from([0, 2, 3, 4, 6, 5]), filters=st.lists(st.integers(0, 6), min_size=3, max_size=3),
           pixels=st.binary(min_size=64, max_size=64), extra=chunks, cut=st.integers(0, 200))
    def decodes_or_refuses(width, height, depth, colour, filters, pixels, extra, cut):
        stride = width * 8
        rows = b"".join(bytes([filters[y]]) + pixels[:stride] for y in range(height))[:cut]
        data = _png(width, height, depth, colour, rows, [_chunk(k, p) for k, p in extra])
        try:
            image = decode_png(data, "drawn.png")
        except DataError as e:
            assert len(str(e).splitlines()) == 1 and "drawn.png" in str(e)
        else:
            assert image.dtype == np.uint8 and image.shape == (height, width)

    decodes_or_refuses()


# ---- predict's --out compared with its inputs by the shared run_files check ------------------
def test_predict_out_on_a_symlink_loop_is_no_internal_error(folder, capsys):
    """`predict m.npz x.npy --out loop1` (loop1 → loop2 → loop1) was an internal RuntimeError
    from Path.resolve; predict now declares its files to run_files.check as train and export do."""
    np.save("x.npy", np.zeros((1, 28, 28), np.uint8))
    os.symlink("loop2", "loop1")
    os.symlink("loop1", "loop2")
    assert cli.main(["predict", "m.npz", "x.npy", "--out", "loop1"]) == 0
    header, row = Path("loop1").read_text().splitlines()
    assert header == "file,index,label" and row.startswith("x.npy,0,") and not os.path.islink("loop1")


def test_predict_out_refused_by_what_it_is_not_how_it_is_spelt(folder, capsys):
    """A hard link to an image, the model, and an empty name: refused before the model loads."""
    np.save("x.npy", np.zeros((1, 28, 28), np.uint8))
    os.link("x.npy", "hard.npy")
    _refused(capsys, ["predict", "m.npz", "x.npy", "--out", "hard.npy"], "is one of the inputs (x.npy)")
    _refused(capsys, ["predict", "m.npz", "x.npy", "--out", "./m.npz"], "is the model file")
    _refused(capsys, ["predict", "m.npz", "x.npy", "--out", ""], "an empty file name")


# ---- a write that fails on the disk (full, over the file-size limit) names its output ---------
def _limited_file_size(limit):
    import resource

    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_an_output_the_disk_refuses_is_named_in_the_one_line(folder):
    """`predict ... --out labels.csv` on a full disk said only "No space left on device; check the
    path": the temporary file's OSError is now raised naming the output (here EFBIG, from a
    file-size limit; Python ignores SIGXFSZ), and the temporary file is gone."""
    np.save("x.npy", np.zeros((40, 28, 28), np.uint8))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    r = subprocess.run([sys.executable, "-m", "nnaccel", "predict", "m.npz", "x.npy", "--out", "labels.csv"],
                       capture_output=True, text=True, env=env, preexec_fn=_limited_file_size(64), timeout=120)
    assert r.returncode == 2 and r.stderr.splitlines() == ["nnaccel: error: labels.csv: File too large; "
                                                           "check the path and its permissions"], r.stderr
    assert sorted(os.listdir(".")) == ["m.npz", "x.npy"]


def test_a_model_save_that_cannot_create_its_temporary_file_names_the_model(folder):
    """net.save / net.to_onnx into /proc named '/proc/.x.onnx.<pid>.<letters>.tmp', a file that
    never existed; now the OSError names the target."""
    import nnaccel

    net = nnaccel.load("m.npz")
    with pytest.raises(OSError) as e:
        net.save("/proc/m.npz")
    assert e.value.filename == "/proc/m.npz" and ".tmp" not in str(e.value)


# ---- serve: JSON numbers that are no float (a 400-digit integer) or no number (true) ---------
@pytest.mark.parametrize("body, status, message", [
    ('{"image": [' + "1" * 400 + "," + ",".join(["0"] * 783) + "]}", 400, "finite numbers in [0, 1]"),
    ('{"width": 1, "height": 1, "pixels": [' + "9" * 400 + "]}", 400, "finite numbers in [0, 255]"),
    ('{"image": [' + ",".join(["true"] * 784) + "]}", 400, "numbers only, not true or false"),
    ('{"width": 2, "height": 1, "pixels": [false, 255]}', 400, "numbers only, not true or false"),
])
def test_serve_answers_numbers_no_float_holds_with_400(folder, body, status, message):
    """`{"image": [1111…(400 digits), 0, …]}` was a 500 (OverflowError in NumPy); true was taken as 1."""
    import http.client
    import threading

    import nnaccel
    from nnaccel.tools.serve import make_server

    server = make_server(nnaccel.load("m.npz"), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
        connection.request("POST", "/api/predict", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        got, doc = response.status, json.loads(response.read())
    finally:
        server.shutdown()
        server.server_close()
    assert got == status and message in doc["error"], doc


# ---- bench: sizes and counts through the memory estimate before any data are drawn ----------
def test_bench_refuses_examples_no_machine_holds_before_drawing_them(folder, capsys):
    """`nnaccel bench --examples 99999999999` drew the data first: a MemoryError whose line
    blamed --sizes. Now the estimate names --examples, before the table's header."""
    capsys.readouterr()
    assert cli.main(["bench", "--sizes", "784", "10", "--examples", "99999999999"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert "timing 99999999999 examples" in captured.err and "use a smaller --examples" in captured.err


# ---- a small PNG whose header claims an image the model cannot take: refused before decoding --
def test_predict_refuses_a_png_of_the_wrong_size_before_unfiltering_it(folder, capsys, monkeypatch):
    """A 10 kB PNG of 1024×1024 RGBA16 rows with the Paeth filter cost seconds of Python (the
    filter runs byte by byte) before predict found 1,048,576 pixels for a 784-input model, per
    file on the command line. The header is now compared with the model first."""
    import nnaccel.data.png as png

    def unfiltered(*args):
        raise AssertionError("the image data were unfiltered")

    monkeypatch.setattr(png, "_unfilter", unfiltered)
    rows = b"".join(b"\4" + b"\7" * (1024 * 8) for _ in range(1024))
    Path("big.png").write_bytes(_png(1024, 1024, 16, 6, rows))
    assert Path("big.png").stat().st_size < 20_000
    _refused(capsys, ["predict", "m.npz", "big.png"], "big.png: images of 1048576 pixels (1024×1024)",
             "takes 784")


# ---- to_onnx's settings: NumPy's numbers taken, anything else one NNAccelError line ------------
def test_to_onnx_takes_numpy_numbers_in_its_settings_and_refuses_the_rest(tmp_path):
    """net.to_onnx(p, settings={'eta': np.float32(0.5)}) was a TypeError from json.dumps, and a
    list of settings an AttributeError; NumPy's scalars are now written as the numbers they are."""
    pytest.importorskip("onnx")
    import onnx

    import nnaccel

    net = nnaccel.Network([4, 3], seed=1)
    net.to_onnx(tmp_path / "n.onnx", settings={"eta": np.float32(0.5), "epochs": np.int64(30), "sizes": np.arange(2)})
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "n.onnx")).metadata_props}
    assert (props["training.eta"], props["training.epochs"], props["training.sizes"]) == ("0.5", "30", "[0, 1]")
    for bad in ({"eta": object()}, {"eta": float("nan")}, ["eta", 0.5], "eta=0.5"):
        with pytest.raises(NNAccelError) as e:
            net.to_onnx(tmp_path / "bad.onnx", settings=bad)
        assert len(str(e.value).splitlines()) == 1
    assert not (tmp_path / "bad.onnx").exists()


# ---- a path argument that is no path: None, a number, a name holding NUL ----------------------
@pytest.mark.parametrize("path", [None, 3, 2.5, ["m.npz"], "m\0.npz", b"m\0.npz"])
def test_every_file_function_refuses_what_is_no_file_name_in_one_line(folder, path):
    """load(None), net.save(3), net.to_onnx('x\\0.onnx') were TypeError or ValueError from os;
    every reader and writer takes its name through _files.file_path."""
    import nnaccel
    from nnaccel.data.idx import read_idx
    from nnaccel.data.npz import read_npy
    from nnaccel.io.checkpoints import load_checkpoint

    net = nnaccel.load("m.npz")
    calls = [lambda: nnaccel.load(path), lambda: net.save(path), lambda: read_idx(path), lambda: read_npy(path),
             lambda: load_checkpoint(path)]
    if isinstance(path, (str, bytes)):
        calls.append(lambda: net.to_onnx(path + (".onnx" if isinstance(path, str) else b".onnx")))
    for call in calls:
        with pytest.raises(NNAccelError) as e:
            call()
        assert len(str(e.value).splitlines()) == 1
    assert sorted(os.listdir(".")) == ["m.npz"]


def test_a_bytes_file_name_is_a_file_name(folder):
    import nnaccel

    nnaccel.load(b"m.npz").save(b"copy.npz")
    assert nnaccel.load("copy.npz").sizes == [784, 4, 10]
    if importlib.util.find_spec("onnx"):
        nnaccel.load("copy.npz").to_onnx(b"copy.onnx")
        assert Path("copy.onnx").stat().st_size > 0


# ---- standard output that fails for a reason other than a closed pipe (disk full, EIO) --------
def test_a_run_whose_standard_output_fills_the_disk_still_saves_its_model(tmp_path):
    """`nnaccel train --save m.npz > log.txt` on a disk that fills mid-run died at the next epoch
    line (exit 2, "No space left on device", no model); /dev/full stands for that disk here."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "nnaccel", "train", "--sizes", "784", "10", "--epochs", "1",
                            "--validation-size", "100", "--device", "cpu", "--save", "m.npz"],
                           cwd=tmp_path, stdout=full, stderr=subprocess.PIPE, text=True, env=env, timeout=300)
    assert (tmp_path / "m.npz").exists(), r.stderr
    assert r.returncode == 0 and len(r.stderr.splitlines()) <= 1, r.stderr


def test_a_run_whose_output_and_errors_both_fill_the_disk_still_saves_its_model(tmp_path):
    """`> log.txt 2>&1` on a disk that fills: the warning meant for stderr meets the same full disk,
    so it must not stop the run either (it once raised out of the handler: exit 1, no model)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "nnaccel", "train", "--sizes", "784", "10", "--epochs", "1",
                            "--validation-size", "100", "--device", "cpu", "--save", "m.npz"],
                           cwd=tmp_path, stdout=full, stderr=full, env=env, timeout=300)
    assert r.returncode == 0 and (tmp_path / "m.npz").exists()


# ---- data of another array library than the network's ----------------------------------------
def test_a_numpy_network_trains_on_cpu_tensors_as_on_their_numpy_arrays():
    """net.SGD((torch.tensor(X), torch.tensor(y)), …) on a NumPy network was an AttributeError
    ('Tensor' object has no attribute 'astype'): an array of another library is copied to NumPy
    when NumPy can take it, and the weights are those the NumPy arrays give."""
    torch = pytest.importorskip("torch")
    import nnaccel

    rng = np.random.default_rng(0)
    X, y = rng.random((40, 4)).astype(np.float32), np.arange(40) % 3
    a, b = nnaccel.Network([4, 5, 3], seed=1), nnaccel.Network([4, 5, 3], seed=1)
    a.SGD((X, y), 2, 10, 0.5)
    b.SGD((torch.tensor(X), torch.tensor(y)), 2, 10, 0.5)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.asarray(wa), np.asarray(wb))


@pytest.mark.parametrize("make", ["requires_grad", "bfloat16"])
def test_a_tensor_numpy_cannot_take_is_one_line_naming_the_fix(make):
    torch = pytest.importorskip("torch")
    import nnaccel

    X = torch.rand(10, 4, requires_grad=True) if make == "requires_grad" else torch.rand(10, 4).bfloat16()
    with pytest.raises(NNAccelError, match="the inputs are a torch.Tensor that the numpy network cannot take") as e:
        nnaccel.Network([4, 3], seed=1).SGD((X, torch.zeros(10, dtype=torch.int64)), 1, 10, 0.5)
    assert len(str(e.value).splitlines()) == 1


# ---- a .npy header NumPy's parser refuses with neither ValueError nor SyntaxError ----------------
def _unclosed_header():
    text = b"{'descr': '<f8', 'fortran_order': False, 'shape': (2,"
    text += b" " * (118 - 10 - len(text) - 1) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + b"\0" * 16


@pytest.mark.parametrize("args", [["predict", "m.npz", "tok.npy"], ["evaluate", "tok.npz"],
                                  ["train", "--resume", "tok.npz"], ["export", "tok.npz", "t.onnx"]])
def test_an_unclosed_bracket_in_a_npy_header_is_one_line(folder, capsys, args):
    """An unclosed '(' in a member's header made NumPy's header parser raise tokenize.TokenError:
    an internal error in every command that reads .npz or .npy. Any failure of that parser is now a
    DataError in the one function that reads both (data.npz._array)."""
    Path("tok.npy").write_bytes(_unclosed_header())
    import zipfile

    with zipfile.ZipFile("tok.npz", "w") as z:
        z.writestr("meta.npy", _unclosed_header())
    _refused(capsys, args, "has a corrupt .npy header (TokenError")


def test_a_history_file_an_editor_saved_with_a_bom_reads_the_same(folder):
    """A UTF-8 BOM before the first record made serve refuse the history ("Unexpected UTF-8 BOM");
    model JSON with a BOM already loaded (json.loads takes it from bytes)."""
    from nnaccel.tools.serve import read_history

    Path("bom.jsonl").write_bytes(b'\xef\xbb\xbf{"epoch": 0}\r\n{"epoch": 1}\r\n')
    assert read_history("bom.jsonl") == [{"epoch": 0}, {"epoch": 1}]


# ---- a text output that quotes a non-UTF-8 file name -------------------------------------------
def test_predict_writes_a_non_utf8_image_name_into_its_csv_as_its_bytes(folder):
    """`predict m.npz $'\\xff.npy' --out labels.csv` was an internal UnicodeEncodeError (the name
    holds a surrogate); atomic_write's text files are UTF-8 with the name's own bytes, as stdout."""
    name = os.fsdecode(b"\xff.npy")
    np.save(name, np.zeros((1, 28, 28), np.uint8))
    assert cli.main(["predict", "m.npz", name, "--out", "labels.csv"]) == 0
    assert Path("labels.csv").read_bytes().splitlines()[1].startswith(b"\xff.npy,0,")


# ---- a scale no float holds, or whose reciprocal overflows -------------------------------------
@pytest.mark.parametrize("scale", [10**400, 1e-320, -(10**400)], ids=["400 digits", "subnormal", "-400 digits"])
def test_a_scale_of_400_digits_or_subnormal_is_one_line(scale):
    """scale=10**400 was an OverflowError from math.isfinite; scale=1e-320 divided every input to
    inf and then advised "a scale of about 2"."""
    import nnaccel

    X = np.random.default_rng(0).random((20, 4)).astype(np.float32) * 255
    with pytest.raises(NNAccelError, match="scale must be a number > 0") as e:
        nnaccel.Network([4, 3], seed=1).data((X, np.arange(20) % 3), scale=scale)
    assert len(str(e.value).splitlines()) == 1 and len(str(e.value)) < 200


def test_a_scale_cli_of_a_subnormal_is_refused(folder, capsys):
    _refused(capsys, ["evaluate", "m.npz", "--scale", "1e-320"], "scale")


# ---- a real hyper-parameter given as an integer no float holds ---------------------------------
@pytest.mark.parametrize("name", ["eta", "lmbda", "l1", "momentum", "gamma", "dropout"])
def test_a_hyperparameter_of_400_digits_is_refused_as_not_finite(name):
    """net.SGD(..., eta=10**400) was an OverflowError from float(); core.scalars.as_float, which
    every real hyper-parameter passes, now gives inf, which the parameter table refuses."""
    import nnaccel

    X = np.random.default_rng(0).random((20, 4)).astype(np.float32)
    kwargs = {"epochs": 1, "mini_batch_size": 10, "eta": 0.5, name: 10**400}
    with pytest.raises(NNAccelError, match=f"{name} must be") as e:
        nnaccel.Network([4, 3], seed=1).SGD((X, np.arange(20) % 3), **kwargs)
    assert len(str(e.value).splitlines()) == 1


def test_a_size_that_is_a_fraction_beyond_every_float_is_refused():
    """Network([4, Fraction(10**400, 3), 3]) was an OverflowError inside core.scalars.whole."""
    from fractions import Fraction

    import nnaccel

    with pytest.raises(NNAccelError, match="sizes must be whole numbers"):
        nnaccel.Network([4, Fraction(10**400, 3), 3])


@pytest.mark.parametrize("flag", ["--mini-batch-size", "--patience", "--step-size", "--early-stopping"])
def test_an_integer_flag_of_400_digits_is_no_internal_error(folder, capsys, flag):
    """`nnaccel train -m 1000…(400 digits)` is an internal OverflowError (math.isfinite of an int):
    such a value is within the flag's bounds (no upper one), so it must train or be refused in one line."""
    capsys.readouterr()
    code = cli.main(["train", "--sizes", "784", "10", "--epochs", "1", "--validation-size", "100", flag, str(10**400)])
    err = capsys.readouterr().err
    assert code in (0, 2) and "internal error" not in err, err


def test_experiment_out_says_what_the_path_is_when_it_is_no_folder(folder, capsys):
    """`experiment perceptrons --out afile` said "the folder does not exist" of an existing file,
    and of a symlink loop; the line now names what is there."""
    Path("afile").write_text("x")
    os.symlink("loop2", "loop1")
    os.symlink("loop1", "loop2")
    _refused(capsys, ["experiment", "perceptrons", "--out", "afile"], "--out afile is a file, not a folder")
    _refused(capsys, ["experiment", "perceptrons", "--out", "loop1"], "--out loop1 is a link to nothing")


# ---- a path that is a dangling link or a link loop: said as such, not "does not exist" ----------
@pytest.mark.parametrize("args, words", [
    (["evaluate", "{}"], "model file {} is"),
    (["train", "--resume", "{}"], "checkpoint {} is"),
    (["predict", "m.npz", "{}"], "{} is"),
    (["export", "{}", "o.onnx"], "model file {} is"),
    (["serve", "m.npz", "--port", "0", "--history", "{}"], "history file {} is"),
])
@pytest.mark.parametrize("link", ["loop", "dangling"])
def test_a_link_loop_or_dangling_link_is_named_as_one(folder, capsys, args, words, link):
    """`evaluate loop1` (loop1 → loop2 → loop1) said "does not exist"; predict's said
    "Too many levels of symbolic links; check its permissions"."""
    if link == "loop":
        os.symlink("l2", "l1")
        os.symlink("l1", "l2")
        expected = "a symbolic link that leads back to itself (a loop)"
    else:
        os.symlink("/nonexistent/m.npz", "l1")
        expected = "a link to /nonexistent/m.npz, which does not exist"
    _refused(capsys, [a.format("l1") for a in args], words.format("l1"), expected)
