"""Issue 16, item 2: a resume reproduces the run it resumes, whatever the run's flags. The path
choice (--no-fused), the backend and the device are stored in the checkpoint with every other
setting that changes the numbers, and a resumed run that types none of them gets bit for bit
the weights of the run that never stopped."""

import importlib.util

import numpy as np
import pytest

from nnaccel import cli
from nnaccel.io.checkpoints import load_checkpoint

SMALL = ["--sizes", "784", "12", "10", "--seed", "4", "--eta", "0.5", "--momentum", "0.5", "-m", "7",
         "--cost", "cross-entropy", "--device", "cpu", "--validation-size", "7400"]
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")


def _arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files if k != "meta"}


@pytest.mark.parametrize("flags", [
    pytest.param(["--no-fused"], id="no-fused"),
    pytest.param(["--no-fused", "--dtype", "float64", "--nesterov"], id="no-fused-float64-nesterov"),
    pytest.param(["--backend", "torch"], id="torch", marks=needs_torch),
    pytest.param(["--no-fused", "--dropout", "0.5"], id="no-fused-dropout"),
])
def test_a_resume_is_bit_identical_to_the_run_that_never_stopped(tmp_path, monkeypatch, capsys, flags):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", *SMALL, *flags, "--epochs", "3", "--save", "whole.npz"]) == 0
    assert cli.main(["train", *SMALL, *flags, "--epochs", "1", "--checkpoint", "c.npz"]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--resume", "c.npz", "--epochs", "3", "--save", "resumed.npz"]) == 0, \
        capsys.readouterr().err
    got, want = _arrays("resumed.npz"), _arrays("whole.npz")
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_the_checkpoint_records_the_path_choice_and_the_backend(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", *SMALL, "--no-fused", "--epochs", "1", "--checkpoint", "c.npz"]) == 0
    config = load_checkpoint("c.npz")[0]["config"]
    assert config["fused"] is False and config["device"] == "cpu" and config["backend"] is None


def test_a_typed_no_fused_that_differs_from_the_checkpoint_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", *SMALL, "--epochs", "1", "--checkpoint", "c.npz"]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--resume", "c.npz", "--epochs", "2", "--no-fused"]) == 2
    assert "--fused False differs from the checkpoint's True" in capsys.readouterr().err
