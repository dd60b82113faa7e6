"""Hostile inputs found by fuzzing the real command and the API, one class per section: each
test failed on the code before its fix (a traceback, an internal error, a second line on
stderr, or memory a file's header asked for)."""

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

ROOT = Path(__file__).resolve().parents[1]


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
