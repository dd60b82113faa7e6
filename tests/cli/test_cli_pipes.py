"""A reader that closes nnaccel's standard output early (`nnaccel info | head`) costs nothing:
no error line, exit 0, and a training run still trains and saves its model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run_with_stdout_closed(args, cwd):
    """Run ``python -m nnaccel ARGS`` with its stdout a pipe whose reader has already gone."""
    read, write = os.pipe()
    os.close(read)  # gone before the command writes anything: every write to stdout meets EPIPE
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        done = subprocess.run([sys.executable, "-m", "nnaccel", *args], stdout=write, stderr=subprocess.PIPE,
                              text=True, cwd=cwd, env=env, timeout=300)
    finally:
        os.close(write)
    return done


@pytest.mark.parametrize("args", [["info"], ["--help"]], ids=["info", "help"])
def test_a_closed_stdout_is_not_an_error(args, tmp_path):
    done = _run_with_stdout_closed(args, tmp_path)
    assert done.returncode == 0, done.stderr
    assert not any(bad in done.stderr for bad in ("Broken pipe", "Traceback", "Exception ignored")), done.stderr


def test_a_training_run_whose_stdout_is_closed_still_saves_its_model(tmp_path):
    done = _run_with_stdout_closed(["train", "--sizes", "784", "10", "10", "--epochs", "2", "--save", "m.json"],
                                   tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Broken pipe" not in done.stderr and "Traceback" not in done.stderr
    model = json.loads((tmp_path / "m.json").read_text())
    assert model["sizes"] == [784, 10, 10]
