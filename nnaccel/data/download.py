"""Download a data file once into the cache, verify its SHA-256, never leave a partial file.

The cache is ``$NNACCEL_DATA`` or ``~/.cache/nnaccel``. Bytes go to a temporary file beside
the target and are renamed into place only after the length and checksum are right, so an
interrupted or corrupted download leaves nothing behind. ``$NNACCEL_MIRROR`` (a base URL)
replaces the built-in mirrors, for users behind a proxy and for tests.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import DataError

CHUNK = 1 << 16
TIMEOUT_S = 30


def cache_dir() -> Path:
    """Where downloaded data sets are kept."""
    return Path(os.environ.get("NNACCEL_DATA") or Path.home() / ".cache" / "nnaccel")


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _download(url, tmp, progress, label):
    from tqdm import tqdm

    h = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        total = response.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else None
        received = 0
        with open(tmp, "wb") as f, tqdm(total=total, unit="B", unit_scale=True, desc=label,
                                        disable=not progress, leave=False) as bar:
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                f.write(block)
                h.update(block)
                received += len(block)
                bar.update(len(block))
            f.flush()
            os.fsync(f.fileno())
    if total is not None and received != total:
        raise DataError(f"download of {url} stopped after {received} of {total} bytes; run again")
    return h.hexdigest()


def fetch(filename, sha256, mirrors, subdir, progress=False) -> Path:
    """The verified local path of ``filename``, downloading it from the first mirror that works."""
    target_dir = cache_dir() / subdir
    target = target_dir / filename
    if target.is_file():
        if sha256_of(target) == sha256:
            return target
        target.unlink()  # a corrupted cache entry is replaced, not trusted
    env = os.environ.get("NNACCEL_MIRROR")
    mirrors = [env] if env else list(mirrors)
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the data cache {target_dir} ({e.strerror}); set NNACCEL_DATA to a writable folder") from None
    errors = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=target_dir)
        os.close(fd)
        try:
            digest = _download(url, tmp, progress, filename)
            if digest != sha256:
                raise DataError(
                    f"{url} has SHA-256 {digest}, expected {sha256}; the file was refused"
                )
            os.replace(tmp, target)
            return target
        except (urllib.error.URLError, OSError, DataError, ValueError) as e:
            errors.append(str(getattr(e, "reason", e)))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DataError(
        f"could not download {filename} ({'; '.join(errors)}); "
        f"place the file at {target} (SHA-256 {sha256}) and run again"
    )
