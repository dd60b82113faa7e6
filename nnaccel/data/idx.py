"""MNIST's IDX file format (gzip-compressed or raw), read and written with every check.

An IDX file is two zero bytes, a type code, the number of dimensions d, d big-endian
uint32 sizes, then the values row-major. A file whose header or length disagrees with
itself is refused with a DataError that names the file.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..files import atomic_write

TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CODES = {dt.newbyteorder("=") if dt.itemsize > 1 else dt: code for code, dt in TYPES.items()}


def _raw_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as e:
            raise DataError(f"{path} is a corrupt or truncated gzip file ({e}); download it again") from None
    return data


def parse_idx(data: bytes, name="IDX data") -> np.ndarray:
    """The array held in ``data`` (the bytes of an uncompressed IDX file)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{name} is not an IDX file (bad magic number); expected MNIST's IDX format")
    code, ndim = data[2], data[3]
    if code not in TYPES:
        raise DataError(f"{name} has unknown IDX type code 0x{code:02x}")
    if ndim == 0:
        raise DataError(f"{name} declares 0 dimensions; an IDX file holds at least one")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name} is truncated inside its header; download it again")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = TYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        what = "truncated" if actual < expected else "longer than its header says"
        raise DataError(
            f"{name} is {what}: dimensions {list(dims)} need {expected} bytes of values, "
            f"found {actual}; download it again"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw; detected from its first bytes)."""
    path = Path(path)
    return parse_idx(_raw_bytes(path), str(path))


def write_idx(path, array, compress=None):
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in .gz."""
    path = Path(path)
    array = np.asarray(array)
    key = array.dtype.newbyteorder("=") if array.dtype.itemsize > 1 else array.dtype
    if key not in CODES:
        raise DataError(f"IDX cannot hold {array.dtype}; use uint8, int8, int16, int32, float32 or float64")
    code = CODES[key]
    body = (struct.pack(">BBBB", 0, 0, code, array.ndim)
            + struct.pack(f">{array.ndim}I", *array.shape)
            + array.astype(TYPES[code]).tobytes())
    if compress if compress is not None else path.suffix == ".gz":
        body = gzip.compress(body, mtime=0)
    with atomic_write(path) as f:
        f.write(body)
