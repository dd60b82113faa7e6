"""Writing files so that a crash never leaves one half-written: temporary file, fsync, rename."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path, mode="wb"):
    """Yield a file object; on success it replaces ``path`` in one rename, on error it vanishes."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        from .errors import NNAccelError

        raise NNAccelError(f"cannot write {path}: the folder {directory} does not exist; create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save_archive(path, meta, arrays):
    """Write ``arrays`` and a JSON ``meta`` dict to an .npz at ``path``, atomically, no pickles."""
    import json

    import numpy as np

    with atomic_write(path, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)


def load_archive(path):
    """(meta, arrays) of an .npz written by save_archive, read with ``allow_pickle=False``.

    Raises what NumPy or JSON raise on a bad file; the caller names the problem for the user.
    """
    import json

    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"][()]))
        return meta, {key: z[key] for key in z.files if key != "meta"}
