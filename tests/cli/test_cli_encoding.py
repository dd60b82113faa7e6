"""A terminal or pipe that cannot show η, σ or a file's name (PYTHONIOENCODING=ascii, a Latin-1
console, a UTF-8 locale and a name that is not UTF-8): the command writes escapes, and a
finished run is never reported as an internal error."""

import os
import subprocess
import sys

import numpy as np
import pytest

import nnaccel

ROOT = os.path.dirname(os.path.dirname(nnaccel.__file__))  # the checkout that holds the package
SMALL = ["--sizes", "784", "4", "10", "--epochs", "1", "--validation-size", "100", "--device", "cpu"]


def _nnaccel(args, cwd, encoding):
    env = dict(os.environ, PYTHONIOENCODING=encoding, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "nnaccel", *args], cwd=cwd, env=env, capture_output=True,
                          timeout=300)


@pytest.mark.parametrize("encoding", ["ascii", "latin-1:strict", "utf-8:strict"])
def test_a_run_whose_file_name_the_terminal_cannot_show_is_saved_and_ends_well(tmp_path, encoding):
    name = os.fsdecode(b"\xe9\xff-model.npz")  # not UTF-8: a surrogate in Python's str
    done = _nnaccel(["train", *SMALL, "--save", name], tmp_path, encoding)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-400:]
    assert b"internal error" not in done.stderr and b"model saved to " in done.stdout
    assert (tmp_path / name).is_file()
    with np.load(tmp_path / name, allow_pickle=False) as z:
        assert "w0" in z.files


def test_help_with_greek_letters_prints_on_an_ascii_pipe(tmp_path):
    done = _nnaccel(["train", "--help"], tmp_path, "ascii")
    assert done.returncode == 0 and b"\\u03b7" in done.stdout, done.stderr[-400:]  # η as an escape


def test_a_refusal_naming_a_non_utf8_file_is_one_line(tmp_path):
    done = _nnaccel(["evaluate", os.fsdecode(b"\xe9-missing.npz")], tmp_path, "utf-8:strict")
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.count(b"\n") == 1 and b"does not exist" in done.stderr, done.stderr
