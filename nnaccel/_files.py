"""Writing files so that a crash never leaves one half-written: temporary file, fsync, rename.

A temporary file is named after its target and the writing process (``.ckpt.npz.<pid>.….tmp``):
a process killed outright (SIGKILL) cannot remove its own, so the next write of the same target
removes those whose process is gone.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import stat
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import DataError, NNAccelError

_UMASK_LOCK = threading.Lock()


def file_path(path) -> Path:
    """``path`` (str, bytes or os.PathLike) as a Path, or NNAccelError: None, a number, or a name
    holding a NUL byte (which no file can have) is a mistake to name, not a TypeError deep in os."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise NNAccelError(f"a file name must be a str or pathlib.Path, got {type(path).__name__} "
                           f"{str(path)[:40]}; e.g. 'model.npz'")
    path = Path(path)
    if "\0" in str(path):
        raise NNAccelError(f"the file name {str(path)[:80]!r} holds a NUL byte, which no file name can; "
                           "give the name without it")
    return path


def _umask():
    """The process's umask (reading it means setting it: done under a lock, restored at once)."""
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def _mode_for(path: Path):
    """An existing file keeps its permissions; a new one gets 0666 less the umask, like open()."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


@contextmanager
def atomic_write(path, mode="wb"):
    """Yield a file object; on success it replaces ``path`` in one rename, on error it vanishes.

    The file gets the permissions open() would give it (the temporary file alone would be 0600).
    """
    path = file_path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise NNAccelError(f"cannot write {path}: the folder {directory} does not exist; create it first")
    prefix = _temp_prefix(path.name)
    _remove_orphans(directory, prefix)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise _naming(e, path) from None
    try:
        os.fchmod(fd, _mode_for(path))
        # text: UTF-8 on every locale, and a non-UTF-8 file name quoted in it (predict's CSV) written
        # back as the bytes it came from, as on standard output, not a UnicodeEncodeError
        text = {} if "b" in mode else {"encoding": "utf-8", "errors": "surrogateescape"}
        with os.fdopen(fd, mode, **text) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and e.filename in (None, tmp):
            raise _naming(e, path) from None
        raise


def _naming(error, path):
    """The OSError of a write (ENOSPC, EFBIG, EIO, EROFS...) naming the target, not a temporary
    file that is gone: one line such as "m.npz: No space left on device" says which output failed."""
    if error.errno is None:  # an OSError("…") a library raised with a message only: left as it is
        return error
    try:
        return type(error)(error.errno, error.strerror or str(error), os.fspath(path))
    except Exception:  # a subclass with a constructor of its own
        return OSError(error.errno, error.strerror or str(error), os.fspath(path))


NAME_ROOM = 200  # of a file name's 255 bytes, what a temporary name keeps of its target's


def _temp_prefix(name):
    """``.<name>.`` for a temporary file beside ``name``: a long name (a legal 250-byte one) is
    cut and told apart by a hash, so the prefix, the pid and mkstemp's letters stay under 255 bytes."""
    if len(os.fsencode(name)) <= NAME_ROOM:
        return f".{name}."
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:12]
    return f".{os.fsdecode(os.fsencode(name)[:NAME_ROOM - 20])}~{digest}."


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but belongs to someone else
        return True
    return True


def _remove_orphans(directory, prefix):
    """Remove the temporary files of this target left by processes that no longer run."""
    for orphan in directory.glob(glob.escape(prefix) + "*.tmp"):
        pid = orphan.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            try:
                orphan.unlink()
            except OSError:
                pass


def open_to_read(path, what="", fix="check the path"):
    """``path`` opened for binary reading, or DataError naming why not and ``fix``.

    Only a regular file is read: a FIFO would block for ever and a device (/dev/zero) never
    ends. What the path is comes from the opened descriptor (O_NONBLOCK, so a FIFO with no
    writer does not block the open), so nothing can change between the check and the read.
    """
    path = file_path(path)
    name = f"{what} {path}" if what else str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise DataError(f"{name} {_missing(path)}; {fix}") from None
    except OSError as e:  # a folder opens (O_RDONLY): the descriptor's type below names it
        if e.errno == errno.ELOOP:
            raise DataError(f"{name} {A_LOOP}; {fix}") from None
        raise DataError(f"cannot read {name}: {e.strerror or e}; check its permissions") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a pipe, socket or device)"
        raise DataError(f"{name} is {kind}; {fix}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def load_json_object(text, name, fix):
    """The JSON object (a dict) in ``text`` (str or bytes), or DataError naming ``name`` and ``fix``.

    The readers of a user's JSON (serve's --history, an archive's metadata) go through here, so
    that each way the parser can refuse is one line: bad syntax or UTF-8, an integer of thousands of digits (ValueError), nesting
    deeper than the parser's recursion (``[[[[…``: RecursionError), or a document that is not
    an object.
    """
    if isinstance(text, str):
        text = text.removeprefix("\ufeff")  # a BOM an editor added (json.loads takes it from bytes, not from text)
    try:
        doc = json.loads(text)
    except RecursionError:
        reason = "nested too deeply"
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, too many digits
        reason = " ".join(str(e).split())[:80]
    else:
        if isinstance(doc, dict):
            return doc
        reason = f"a JSON {type(doc).__name__}"
    raise DataError(f"{name} is not a JSON object ({reason}); {fix}")


A_LOOP = "is a symbolic link that leads back to itself (a loop)"


def _missing(path):
    """Why ``path`` names no file: it does not exist, or it is a link whose target does not."""
    if os.path.islink(path):
        return f"is a link to {os.readlink(path)}, which does not exist"
    return "does not exist"


def missing(path, what, fix):
    """DataError for a ``what`` at ``path`` that names no file (a dangling link said as such), or None."""
    if os.path.exists(path):
        return None
    if os.path.islink(path):
        try:
            os.stat(path)
        except OSError as e:
            if e.errno == errno.ELOOP:
                return DataError(f"{what} {path} {A_LOOP}; {fix}")
    return DataError(f"{what} {path} {_missing(path)}; {fix}")


def check_writable(path, what):
    """Raise NNAccelError unless a file can be created at ``path``: probe with a temporary file beside it.

    Catches a missing folder, an existing folder as the target, a read-only folder or file
    system, and places such as /proc, before the hours of work that would be written there.
    """
    path = file_path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise NNAccelError(f"{what} {path} is a folder; give a file name, e.g. {path / 'out'}{path.suffix}")
    if not folder.is_dir():
        raise NNAccelError(f"{what} {path}: the folder {folder} does not exist; create it first")
    if path.exists() and not path.is_file():  # a FIFO would block the first write, a device swallow it
        raise NNAccelError(f"{what} {path} is not a regular file (a pipe, socket or device); give a file name")
    try:
        fd, probe = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise NNAccelError(f"{what} {path}: cannot create a file in {folder} ({e.strerror or e}); "
                           "choose a writable folder") from None


def fallback_path(path, kind="model"):
    """Where to put ``path``'s content when ``path`` cannot be written: the working folder, else
    the temporary folder, under ``nnaccel-<kind>-<time>`` with the same suffix; None if neither works."""
    stem = f"nnaccel-{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}{Path(path).suffix}"
    for folder in (".", tempfile.gettempdir()):
        try:
            candidate = Path(folder).resolve() / stem
            check_writable(candidate, "fallback")
        except (OSError, ValueError):
            continue
        return candidate
    return None


def save_archive(path, meta, arrays):
    """Write ``arrays`` and a JSON ``meta`` dict to an .npz at ``path``, atomically, no pickles."""
    import numpy as np  # here, not at the top: `import nnaccel` and the CLI's first lines load no array library

    with atomic_write(path, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)

