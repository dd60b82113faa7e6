"""A command's files, checked together before any work: every output is named (an empty name
is a mistake, not "no output"), can be created, is no other output, and is no input of the run
— compared by what the paths really are (links, ``..``, hard links), not by how they are
spelt, so that ``--history`` onto a data file or ``--save`` onto the checkpoint being resumed
is refused in one line instead of destroying the file. train, export, experiment and tune use
it; a command declares what it reads and what it writes and calls :func:`check`.
"""

from __future__ import annotations

import os

from .. import _files as files
from ..errors import NNAccelError


def _real(path):
    return os.path.realpath(os.fspath(path))


def same_file(a, b):
    """Whether writing ``a`` would write ``b``: the same path once links are resolved (also
    when ``a`` does not exist yet but its folder resolves to ``b``'s), or the same inode."""
    if _real(a) == _real(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # either does not exist (or cannot be looked at): not the same file
        return False


EXAMPLES = {"--save": "model.npz", "--checkpoint": "checkpoint.npz", "--history": "history.jsonl",
            "--plot": "history.png", "--report": "tune-report", "--out": "results", "OUT": "model.onnx"}


def _empty(flag):
    example = EXAMPLES.get(flag, "out.txt")
    if flag.startswith("--"):
        return NNAccelError(f"{flag} '': an empty file name; give one, e.g. {flag} {example}, or drop {flag}")
    return NNAccelError(f"{flag} '': an empty file name; give one, e.g. {example}")


def check(outputs, inputs=(), may_replace=()):
    """Refuse, before any work, an output that would be lost or would destroy something.

    ``outputs``: (flag, path) of everything the command will write; a path of None was not
    asked for, an empty one is refused. ``inputs``: (what, path) of every file the run reads.
    ``may_replace``: (flag, what) pairs where the output is meant to replace the input (a
    resumed run's --checkpoint replacing the checkpoint it resumed: the same run, one epoch on).
    Each output must then be a file that can be created (files.check_writable probes it).
    """
    named = []
    for flag, path in outputs:
        if path is None:
            continue
        if not os.fspath(path):
            raise _empty(flag)
        for what, source in inputs:
            if source is not None and (flag, what) not in may_replace and same_file(path, source):
                shown = "" if os.fspath(path) == os.fspath(source) else f" ({source})"
                raise NNAccelError(f"{flag} {path} is {what}{shown}, which this run reads; writing it would "
                                   f"destroy it: give {flag} a file of its own")
        for other, earlier in named:
            if same_file(path, earlier):
                raise NNAccelError(f"{other} and {flag} both name {path}; give each output a file of its own")
        files.check_writable(path, flag)
        named.append((flag, path))


def check_folder(flag, folder, names, inputs=()):
    """:func:`check` for a command that writes the files ``names`` into ``folder`` (``--report``,
    ``--out``): each of them when the folder exists, else the folder itself, which must be creatable."""
    if folder is None:
        return
    if not os.fspath(folder):
        raise _empty(flag)
    if os.path.isdir(folder):
        check([(flag, os.path.join(folder, name)) for name in names], inputs)
    else:
        check([(flag, folder)], inputs)
