"""What ``nnaccel sweep`` writes, checked before the study's database exists and before the first
trial: every output can be written and says what it holds, and none is an input of the sweep
(a data file, the SQLite study) or another output, compared by real identity (links resolved).
``nnaccel train`` checks its own outputs in cli.py.
"""

from __future__ import annotations

import os
import tempfile

from .._files import check_writable
from ..errors import NNAccelError
from ..io.models import SUFFIXES

EXAMPLES = {"save": "best.npz", "results": "results.json", "plot": "figures", "keep_models": "models",
            "data": "data/", "storage": "sqlite:///sweep.db"}
FIGURES = ("history", "importances", "slices")


def check_output_paths(args):
    """Refuse, before the database exists, an output that cannot be written or says nothing of
    what it holds: empty names, --save without .npz/.json, --results without .json, --plot and
    --keep-models where no file can be created."""
    for flag, example in EXAMPLES.items():
        if getattr(args, flag) == "":
            raise NNAccelError(f"--{flag.replace('_', '-')} '': an empty path; give one, e.g. "
                               f"--{flag.replace('_', '-')} {example}")
    for flag, suffixes in (("save", SUFFIXES), ("results", (".json",))):
        path = getattr(args, flag)
        if path is None:
            continue
        if os.path.splitext(path)[1].lower() not in suffixes:
            raise NNAccelError(f"--{flag} {path}: the name must end in {' or '.join(suffixes)}, which says what "
                               f"the file holds; e.g. --{flag} {os.path.splitext(path)[0]}{suffixes[-1]}")
        check_writable(path, f"--{flag}")
    if args.keep_models is not None:
        if not os.path.isdir(args.keep_models):
            raise NNAccelError(f"--keep-models {args.keep_models}: no such folder; create it first")
        probe_folder(args.keep_models, args.keep_models, "--keep-models")
    if args.plot is not None:
        check_folder(args.plot, "--plot")


def check_folder(folder, flag):
    """A folder that exists and takes files, or that os.makedirs can create where its nearest
    existing parent takes files."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NNAccelError(f"{flag} {folder} is a file; {flag} takes a folder for the figures, e.g. {flag} figures")
    parent = os.path.abspath(folder)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise NNAccelError(f"{flag} {folder}: {parent} is a file, so the folder cannot be made; choose another path")
    probe_folder(parent, folder, flag)


def probe_folder(folder, named, flag):
    """Refuse ``folder`` (reached from the path ``named``) unless a file can be created in it."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".nnaccel-sweep.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise NNAccelError(f"{flag} {named}: cannot create a file in {folder} ({e.strerror or e}); "
                           "choose a writable folder") from None


def _identity(path):
    """What makes two names one file: its device and inode when it exists (so symbolic and
    hard links are caught), else its real path."""
    try:
        st = os.stat(path)
        return st.st_dev, st.st_ino
    except OSError:
        return os.path.realpath(path)


def sweep_inputs(args, dataset):
    """{identity: what it is} of every file the sweep reads: the data files and the SQLite study."""
    inputs = {}
    source = getattr(dataset, "source", "")
    if source and os.path.isdir(source):
        for name in sorted(os.listdir(source)):
            if os.path.isfile(os.path.join(source, name)):
                inputs[_identity(os.path.join(source, name))] = f"the data file {os.path.join(source, name)}"
    elif source:
        inputs[_identity(source)] = f"the data file {source}"
    database = sqlite_file(args.storage)
    if database:
        inputs[_identity(database)] = f"the study database {database}"
    return inputs


def sqlite_file(url):
    """The file of a sqlite:/// URL (None for another database or an in-memory one)."""
    if not url.startswith("sqlite:"):
        return None
    from sqlalchemy.engine import make_url

    try:
        database = make_url(url).database
    except Exception:  # a malformed URL: open_storage says so
        return None
    return database if database and database != ":memory:" and not database.startswith("file:") else None


def check_outputs_against_inputs(args, dataset):
    """Refuse an output that is one of the sweep's inputs or another output, by real identity
    (links resolved), before the database is opened: nothing is written and nothing destroyed."""
    inputs = sweep_inputs(args, dataset)
    outputs = [(f"--{flag}", getattr(args, flag)) for flag in ("save", "results") if getattr(args, flag)]
    if args.plot:
        outputs += [("--plot", os.path.join(args.plot, f"{name}.png")) for name in FIGURES]
    written = {}
    for flag, path in outputs:
        key = _identity(path)
        if key in inputs:
            raise NNAccelError(f"{flag} {path} is {inputs[key]}, which the sweep reads; "
                               "give the output a file of its own")
        if key in written and written[key] != flag:
            raise NNAccelError(f"{written[key]} and {flag} both name {path}; give each output a file of its own")
        written[key] = flag
