"""MNIST's IDX file format (gzip-compressed or raw), read and written with every check.

An IDX file is two zero bytes, a type code, the number of dimensions d, d big-endian
uint32 sizes, then the values row-major. A file whose header or length disagrees with
itself is refused with a DataError that names the file.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .._files import atomic_write, file_path, open_to_read
from ..errors import DataError

TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CODES = {dt.newbyteorder("=") if dt.itemsize > 1 else dt: code for code, dt in TYPES.items()}


GZIP_RATIO = 1032  # deflate's largest expansion: no gzip file of n bytes holds more than ~1032·n
CHUNK = 1 << 20


def gunzip(raw, limit: int, name) -> bytearray:
    """The decompressed members of the gzip data ``raw``, refusing more than ``limit`` bytes.

    Reads in chunks as the data arrives, so a header that lies about its size costs no more
    memory than the file really expands to.
    """
    out = bytearray()
    rest = raw
    try:
        while rest:
            if rest[:2] != b"\x1f\x8b":
                if out and not rest.strip(b"\0"):
                    break  # zero padding after the last member, as gzip(1) accepts
                raise DataError(f"{name} has bytes after its gzip data; download it again")
            d = zlib.decompressobj(wbits=31)
            while rest and not d.eof:
                out += d.decompress(rest, CHUNK)
                rest = d.unconsumed_tail
                if len(out) > limit:
                    return out  # the caller reports "longer than its header says"
            if not d.eof:
                raise DataError(f"{name} is a corrupt or truncated gzip file (it ends early); download it again")
            rest = d.unused_data
    except zlib.error as e:
        raise DataError(f"{name} is a corrupt or truncated gzip file ({e}); download it again") from None
    return out


def read_bytes(path: Path, fix="give an IDX file, e.g. train-images-idx3-ubyte.gz") -> tuple[bytearray, bool]:
    """(the file's bytes, whether they are gzip-compressed): one buffer of the file's size."""
    with open_to_read(path, fix=fix) as f:
        try:
            raw = bytearray(os.fstat(f.fileno()).st_size)
            del raw[f.readinto(raw):]  # in place: a slice would copy the whole file
        except OSError as e:
            raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    return raw, raw[:2] == b"\x1f\x8b"


def _header(data: bytes, name):
    """(type, dims, header length) of an IDX file's first bytes; DataError on any inconsistency."""
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
    return TYPES[code], struct.unpack(f">{ndim}I", data[4:header]), header


def _body_bytes(dims, dtype) -> int:
    return math.prod(dims) * dtype.itemsize  # Python integers: no overflow, however absurd


def parse_idx(data, name="IDX data") -> np.ndarray:
    """The array held in ``data`` (the bytes of an uncompressed IDX file; a bytearray is shared)."""
    dtype, dims, header = _header(data, name)
    expected = _body_bytes(dims, dtype)
    actual = len(data) - header
    if actual != expected:
        what = "truncated" if actual < expected else "longer than its header says"
        raise DataError(
            f"{name} is {what}: dimensions {list(dims)} need {expected} bytes of values, "
            f"found {actual}; download it again"
        )
    try:
        array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    except ValueError:  # a zero dimension beside sizes too big for any array: (0, 2³², 2³²)
        raise DataError(f"{name} declares dimensions {list(dims)}, beyond any array; the file is corrupt") from None
    return array.astype(dtype.newbyteorder("="), copy=dtype.itemsize > 1)


def read_idx(path) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw; detected from its first bytes).

    The header's sizes are checked against the file's real length before any array is made,
    and a gzip file is decompressed only as far as its header says it should reach.
    """
    path = file_path(path)
    raw, compressed = read_bytes(path)
    if not compressed:
        return parse_idx(raw, str(path))
    head = gunzip(raw, 4 + 4 * 255, str(path))[: 4 + 4 * 255] if len(raw) else b""
    dtype, dims, header = _header(head, str(path))
    expected = header + _body_bytes(dims, dtype)
    if expected > GZIP_RATIO * len(raw) + header:
        raise DataError(
            f"{path} claims dimensions {list(dims)} ({expected} bytes), more than a gzip file of "
            f"{len(raw)} bytes can hold; it is corrupt, download it again"
        )
    return parse_idx(gunzip(raw, expected, str(path)), str(path))


def write_idx(path, array, compress=None):
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in .gz."""
    path = file_path(path)
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
