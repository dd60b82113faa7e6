"""A small PNG reader for ``nnaccel predict``: 8- and 16-bit greyscale, grey + alpha, RGB and
RGBA, and palette images, non-interlaced, decoded with the standard library's zlib (no Pillow).
The result is a uint8 greyscale image (luma for colour, alpha composited on black). Every
length is checked against the file before anything is allocated; any other PNG is one
DataError that says how to convert it."""

from __future__ import annotations

import struct
import zlib

import numpy as np

from .._files import open_to_read
from ..errors import DataError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type → samples per pixel
MAX_PIXELS = 1 << 20  # 1024 × 1024: far beyond a digit; the average and Paeth filters run in Python
CONVERT = "save it as an 8-bit, non-interlaced PNG (e.g. convert IN -depth 8 -interlace none OUT.png)"


def _chunks(data, name):
    """(type, payload) of every chunk, CRCs checked."""
    pos = len(SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise DataError(f"{name} is a truncated PNG file (a chunk header is cut off)")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 8 + length + 4
        if end > len(data):
            raise DataError(f"{name} is a truncated PNG file (chunk {kind!r} claims {length} bytes)")
        payload = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + payload) != struct.unpack(">I", data[end - 4:end])[0]:
            raise DataError(f"{name} is a corrupt PNG file (bad CRC in a {kind.decode('latin1')} chunk)")
        yield kind, payload
        if kind == b"IEND":
            return
        pos = end
    raise DataError(f"{name} is a truncated PNG file (no IEND chunk)")


def _unfilter(raw, height, stride, bpp, name):
    """Undo PNG's per-row filters (none, sub, up, average, Paeth) into a (height, stride) uint8 array."""
    out = np.zeros((height + 1, stride + bpp), dtype=np.int32)  # a zero row above, zero pixels to the left
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        up, cur = out[y, bpp:], out[y + 1]
        if kind == 0:
            cur[bpp:] = line
        elif kind == 2:
            cur[bpp:] = (line + up) & 0xFF
        elif kind == 1:  # a running sum along each channel
            cur[bpp:] = (np.cumsum(line.reshape(-1, bpp), axis=0) & 0xFF).reshape(-1)
        elif kind in (3, 4):  # each byte depends on the one to its left and above: byte by byte
            for i in range(stride):
                left, above, corner = cur[i], up[i], out[y, i]
                if kind == 3:
                    pred = (left + above) >> 1
                else:
                    p = left + above - corner
                    pa, pb, pc = abs(p - left), abs(p - above), abs(p - corner)
                    pred = left if pa <= pb and pa <= pc else above if pb <= pc else corner
                cur[bpp + i] = (line[i] + pred) & 0xFF
        else:
            raise DataError(f"{name} is a corrupt PNG file (row {y} has the unknown filter type {kind}); {CONVERT}")
    return out[1:, bpp:].astype(np.uint8)


def decode_png(data, name="PNG data", pixels=None):
    """The greyscale uint8 image (height, width) held in the bytes of a PNG file.

    ``pixels``: the count the caller can use (a model's inputs); a header that claims another is
    refused before the image data are inflated and unfiltered (seconds of Python for 10 kB)."""
    if data[:8] != SIGNATURE:
        raise DataError(f"{name} is not a PNG file (bad signature)")
    header, palette, alpha, idat = None, None, None, []
    for kind, payload in _chunks(data, name):
        if kind == b"IHDR":
            if len(payload) != 13:
                raise DataError(f"{name} has a malformed PNG header")
            header = struct.unpack(">IIBBBBB", payload)
        elif kind == b"PLTE":
            if len(payload) % 3 or not 3 <= len(payload) <= 3 * 256:  # 1 to 256 RGB entries
                raise DataError(f"{name} is a corrupt PNG file (a palette of {len(payload)} bytes, "
                                f"not 1 to 256 colours of 3 bytes); {CONVERT}")
            palette = np.frombuffer(payload, dtype=np.uint8).reshape(-1, 3)
        elif kind == b"tRNS":
            alpha = np.frombuffer(payload, dtype=np.uint8)
        elif kind == b"IDAT":
            idat.append(payload)
    if header is None or not idat:
        raise DataError(f"{name} is a PNG file without image data")
    width, height, depth, colour, _, _, interlace = header
    if colour not in CHANNELS or depth not in ((8, 16) if colour != 3 else (8,)) or interlace:
        raise DataError(f"{name}: PNG colour type {colour}, bit depth {depth}"
                        f"{', interlaced' if interlace else ''} is not read here; {CONVERT}")
    if not 0 < width * height <= MAX_PIXELS:
        raise DataError(f"{name} claims {width}×{height} pixels; nnaccel reads images of up to {MAX_PIXELS} pixels")
    if pixels is not None and width * height != pixels:
        raise DataError(f"{name}: images of {width * height} pixels ({width}×{height}), but the model's first "
                        f"layer takes {pixels}; give images of that size (MNIST: 28×28)")
    bpp = CHANNELS[colour] * depth // 8
    stride = width * bpp
    expected = height * (stride + 1)
    try:
        d = zlib.decompressobj()
        raw = d.decompress(b"".join(idat), expected + 1)
    except zlib.error as e:
        raise DataError(f"{name} is a corrupt PNG file ({e})") from None
    if len(raw) != expected:
        raise DataError(f"{name} is a corrupt PNG file: its image data holds {len(raw)} bytes, "
                        f"{width}×{height} pixels need {expected}")
    pixels = _unfilter(raw, height, stride, bpp, name).reshape(height, width, -1)
    if depth == 16:
        pixels = pixels[..., 0::2]  # the high byte of each big-endian sample
    if colour == 3:
        if palette is None or pixels.max() >= len(palette):
            raise DataError(f"{name} is a corrupt PNG file: a pixel names a colour its palette lacks")
        index = pixels[..., 0]
        rgb = palette[index].astype(np.float64)
        opacity = np.full(len(palette), 255, np.uint8)
        if alpha is not None:
            opacity[:len(alpha)] = alpha[:len(palette)]
        pixels = np.concatenate([rgb, opacity[index][..., None]], axis=-1)
    return _grey(pixels.astype(np.float64))


def _grey(pixels):
    """uint8 luma (ITU-R 601) of (h, w, channels), with any alpha composited on black."""
    channels = pixels.shape[-1]
    colour = pixels[..., :3] if channels >= 3 else pixels[..., :1]
    grey = colour @ np.array([0.299, 0.587, 0.114]) if channels >= 3 else colour[..., 0]
    if channels in (2, 4):
        grey = grey * pixels[..., -1] / 255.0
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)


def read_png(path, pixels=None):
    """The greyscale uint8 image in the PNG file ``path`` (``pixels``: as decode_png)."""
    try:
        with open_to_read(path, fix="give a PNG image") as f:
            data = f.read()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}; check the path") from None
    return decode_png(data, str(path), pixels)
