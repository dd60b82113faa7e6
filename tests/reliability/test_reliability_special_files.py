"""A path that is not a regular file: a FIFO blocks the reader (or the writer) for ever, and a
device such as /dev/zero never ends. Every file a command reads or writes is refused in one
line, exit 2, before any work: what the path is comes from the opened descriptor."""

import os
import resource
import signal
import subprocess
import sys

import pytest

from nnaccel import cli

HANG_S = 20  # far beyond a refusal's milliseconds; a command that blocks on a FIFO hits it


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A folder with a trained model (m.npz), its checkpoint (c.npz) and FIFOs named like inputs."""
    monkeypatch.chdir(tmp_path)
    small = ["--sizes", "784", "4", "10", "--epochs", "1", "--validation-size", "100", "--device", "cpu"]
    assert cli.main(["train", *small, "--save", "m.npz", "--checkpoint", "c.npz"]) == 0
    for name in ("fifo", "fifo.npz", "fifo.json", "fifo.jsonl", "fifo.pkl.gz"):
        os.mkfifo(name)
    return tmp_path


def _timeout(signum, frame):
    raise TimeoutError(f"the command blocked for {HANG_S} s")


def _run(capsys, args):
    capsys.readouterr()
    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(HANG_S)
    try:
        code = cli.main(args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, capsys.readouterr().err


FIFO_CASES = {
    "evaluate a FIFO model": (["evaluate", "fifo.npz"], "fifo.npz is not a regular file"),
    "evaluate a FIFO JSON model": (["evaluate", "fifo.json"], "fifo.json is not a regular file"),
    "predict FIFO images": (["predict", "m.npz", "fifo"], "fifo is not a regular file"),
    "predict a FIFO .npy": (["predict", "m.npz", "fifo.npz"], "fifo.npz is not a regular file"),
    "resume a FIFO": (["train", "--resume", "fifo.npz", "--epochs", "2"], "fifo.npz is not a regular file"),
    "export a FIFO": (["export", "fifo.npz", "out.onnx"], "fifo.npz is not a regular file"),
    "serve a FIFO history": (["serve", "m.npz", "--history", "fifo.jsonl", "--port", "0"],
                             "history file fifo.jsonl is not a regular file"),
    "append history to a FIFO": (["train", "--sizes", "784", "4", "10", "--epochs", "1", "--validation-size", "100",
                                  "--history", "fifo.jsonl"], "--history fifo.jsonl is not a regular file"),
    "write labels to a FIFO": (["predict", "m.npz", "m.npz", "--out", "fifo"], "--out fifo is not a regular file"),
    "train on a FIFO mnist.pkl.gz": (["train", "--epochs", "1", "--data", "fifo.pkl.gz"],
                                     "fifo.pkl.gz is not a regular file"),
}


@pytest.mark.parametrize("case", sorted(FIFO_CASES))
def test_a_fifo_is_refused_in_one_line_instead_of_blocking(case, folder, capsys):
    args, words = FIFO_CASES[case]
    code, err = _run(capsys, args)
    assert code == 2, err
    assert words in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert sorted(p.name for p in folder.iterdir()) == ["c.npz", "fifo", "fifo.json", "fifo.jsonl", "fifo.npz",
                                                        "fifo.pkl.gz", "m.npz"], "nothing half-written"


def _limited():
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))  # a reader of /dev/zero fails, not the machine


@pytest.mark.parametrize("args", [["evaluate", "/dev/zero"], ["train", "--resume", "/dev/zero", "--epochs", "2"],
                                  ["predict", "m.npz", "/dev/zero"], ["serve", "/dev/zero", "--port", "0"]],
                         ids=["evaluate", "resume", "predict", "serve"])
def test_a_device_that_never_ends_is_refused_before_reading(args, folder):
    done = subprocess.run([sys.executable, "-m", "nnaccel", *args], capture_output=True, text=True,
                          timeout=HANG_S * 3, preexec_fn=_limited)
    assert done.returncode == 2, done.stderr[-500:]
    assert done.stderr.strip() == "nnaccel: error: /dev/zero is not a regular file (a pipe, socket or device); " \
        + ("give an IDX file, e.g. train-images-idx3-ubyte.gz" if args[0] == "predict" else "check the path")


def test_a_data_argument_that_is_a_device_is_named_as_not_a_folder(folder, capsys):
    code, err = _run(capsys, ["train", "--epochs", "1", "--data", "/dev/zero"])
    assert code == 2 and err.strip().endswith("data folder /dev/zero is not a folder; "
                                              "give a folder of IDX files or a mnist.pkl.gz"), err
