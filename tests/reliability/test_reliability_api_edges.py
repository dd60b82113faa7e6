"""The classes the hostile hunt left to the objects and the command: inputs of the wrong width or
kind to Network.feedforward, a dtype given as NumPy's own, a typo in NNACCEL_CPU_LEVEL, a file
name that is no name for train(), and an import that fails for want of memory. Each is one
NNAccelError line (the command: one stderr line and exit 2), never an error from deep inside."""

import importlib

import numpy as np
import pytest

import nnaccel
from nnaccel import backend as backend_module
from nnaccel import cli
from nnaccel.errors import NNAccelError

X = np.random.default_rng(0).random((20, 4))
Y = np.arange(20) % 3


@pytest.mark.parametrize("a, words", [
    (np.zeros((2, 5)), "takes 4 inputs per example, one example a row; got an array of shape (2, 5)"),
    (np.zeros((2, 2, 4)), "got an array of shape (2, 2, 4)"),
    (np.array([["a"] * 4]), "feedforward takes numbers, 4 per example"),
    ("abcd", "feedforward takes numbers, 4 per example"),
])
def test_feedforward_refuses_what_is_not_rows_of_the_input_width(a, words):
    with pytest.raises(NNAccelError) as e:
        nnaccel.Network([4, 3], seed=1).feedforward(a)
    assert words in str(e.value) and len(str(e.value).splitlines()) == 1


def test_feedforward_of_one_example_and_of_rows_agree():
    net = nnaccel.Network([4, 3], seed=1)
    rows = np.asarray(net.feedforward(X[:2]))
    np.testing.assert_array_equal(np.asarray(net.feedforward(X[0])), rows[0])
    np.testing.assert_array_equal(np.asarray(net.feedforward(X[:2].tolist())), rows)


@pytest.mark.parametrize("dtype", [np.float64, np.dtype("float64"), "float64"])
def test_a_dtype_given_as_numpys_own_is_its_name(dtype):
    a, b = nnaccel.Network([4, 3], seed=1, dtype=dtype), nnaccel.Network([4, 3], seed=1, dtype="float64")
    assert a.dtype == "float64" and np.asarray(a.weights[0]).dtype == np.float64
    np.testing.assert_array_equal(np.asarray(a.feedforward(X)), np.asarray(b.feedforward(X)))
    assert nnaccel.Population([4, 3], [1, 2], dtype=dtype).dtype == "float64"


@pytest.mark.parametrize("dtype", [np.float16, np.dtype("int8"), 3, "float16"])
def test_a_dtype_that_is_neither_float32_nor_float64_is_refused_in_one_line(dtype):
    with pytest.raises(NNAccelError, match="unknown dtype .*; use one of float32, float64"):
        nnaccel.Network([4, 3], dtype=dtype)


def test_a_misspelt_cpu_level_is_refused_not_ignored(monkeypatch, capsys, tmp_path):
    """_sgd.c would run its fast level on "portabel", so the reproducible numbers asked for would
    silently not be the ones trained."""
    pytest.importorskip("nnaccel.epochs.fast._sgd")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NNACCEL_CPU_LEVEL", "portabel")
    code = cli.main(["train", "--sizes", "784", "4", "10", "--epochs", "1", "--validation-size", "100",
                     "--device", "cpu", "--save", "m.npz"])
    out, err = capsys.readouterr()
    assert code == 2 and err.strip().splitlines() == [
        "nnaccel: error: NNACCEL_CPU_LEVEL='portabel' is not a level of the C kernel; use one of portable, "
        "portable-base, avx512, avx2, base, or unset it for the fastest this CPU runs"]
    assert not (tmp_path / "m.npz").exists()
    monkeypatch.setenv("NNACCEL_CPU_LEVEL", "portable")
    with pytest.raises(NNAccelError, match="portabel"):  # a population takes the same kernel
        monkeypatch.setenv("NNACCEL_CPU_LEVEL", "portabel")
        nnaccel.Population([4, 3], [1, 2]).train((X, Y), 1, 10, 0.5)


@pytest.mark.parametrize("where", [{"checkpoint": 3}, {"interrupt_path": object()}, {"checkpoint": "c\0.npz"}])
def test_train_refuses_a_file_name_that_is_no_name_before_any_epoch(where):
    net = nnaccel.Network([4, 3], seed=1)
    before = [np.asarray(w).copy() for w in net.weights]
    with pytest.raises(NNAccelError, match="file name"):
        nnaccel.train(net, (X, Y), 1, 10, 0.5, **where)
    for w, w0 in zip(net.weights, before):
        np.testing.assert_array_equal(np.asarray(w), w0)


@pytest.mark.parametrize("error, code, words", [
    (ImportError("libtorch_cpu.so: failed to map segment from shared object"), 2, "nnaccel: error: out of memory"),
    (ImportError("cannot import name 'x' from 'y'"), 1, "nnaccel: internal error: ImportError"),
])
def test_an_import_that_fails_for_want_of_memory_is_out_of_memory_not_a_bug(monkeypatch, capsys, error, code, words):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.delenv("NNACCEL_DEBUG", raising=False)
    args = cli.build_parser().parse_args(["bench"])
    args.run = fail
    assert cli._main(args) == code
    err = capsys.readouterr().err
    assert err.startswith(words) and err.count("\n") == 1, err


def test_a_backend_that_is_installed_but_will_not_load_says_so(monkeypatch):
    real = importlib.import_module

    def fail(name, *args):
        if name == "numpy":
            raise ImportError("libopenblas.so: failed to map segment from shared object")
        return real(name, *args)

    monkeypatch.setattr(backend_module.importlib, "import_module", fail)
    with pytest.raises(NNAccelError, match=r"the numpy backend is installed but would not load \(libopenblas"):
        backend_module._require("numpy", "numpy")
    with pytest.raises(NNAccelError, match="the no_such_library backend is not installed"):
        backend_module._require("no_such_library", "x")
