"""Issue 16, item 7: a legal 250-byte file name can be written (the temporary name beside it is
bounded), the interrupt message names the epoch as the run printed it, and a server stopped by
a signal says so without talking about training."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import nnaccel
from nnaccel import cli, _files as files
from nnaccel.training import outputs

SMALL = ["--sizes", "784", "6", "10", "--seed", "2", "--device", "cpu", "--validation-size", "7600"]


@pytest.mark.parametrize("name", ["a" * 246 + ".npz", "ü" * 123 + ".npz", "b" * 250])
def test_a_250_byte_file_name_is_written_atomically(tmp_path, name):
    assert len(os.fsencode(name)) <= 255
    with files.atomic_write(tmp_path / name, "w") as f:
        f.write("x")
    files.check_writable(tmp_path / name, "--save")
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_two_long_names_that_share_their_start_get_their_own_temporary_files():
    a, b = "c" * 240 + "1.npz", "c" * 240 + "2.npz"
    assert files._temp_prefix(a) != files._temp_prefix(b)
    assert all(len(os.fsencode(files._temp_prefix(n))) < 200 for n in (a, b))


def test_train_saves_a_model_under_a_250_byte_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "m" * 246 + ".npz"
    assert cli.main(["train", *SMALL, "--epochs", "1", "--save", name, "--checkpoint", "k" * 246 + ".npz"]) == 0
    assert nnaccel.load(name, device="cpu").sizes == [784, 6, 10]


def test_the_interrupt_message_names_the_last_epoch_printed(tmp_path, monkeypatch, capsys):
    """Epochs print from Epoch 0: after two, the last complete one is Epoch 1 (the message said 2)."""
    monkeypatch.chdir(tmp_path)
    append = outputs.HistoryFile.append

    def append_then_signal(self, record):
        append(self, record)
        if record["epoch"] == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(outputs.HistoryFile, "append", append_then_signal)
    code = cli.main(["train", *SMALL, "--epochs", "5", "--checkpoint", "c.npz"])
    out, err = capsys.readouterr()
    assert code == 130
    assert "Epoch 1: " in out and "Epoch 2: " not in out
    assert "the last complete epoch, Epoch 1 (2 trained), is saved in c.npz" in err, err


def test_a_server_stopped_by_sigterm_says_so_and_not_training(tmp_path):
    nnaccel.Network([784, 5, 10], device="cpu", seed=0).save(tmp_path / "m.npz")
    proc = subprocess.Popen([sys.executable, "-m", "nnaccel", "serve", "m.npz", "--port", "0"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        line = proc.stdout.readline()
        assert "serving m.npz" in line, proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "training" not in err and "training" not in out, (out, err)
    assert "stopped by SIGTERM" in out
    assert not np.any([p.name.startswith(".") for p in tmp_path.iterdir()])
