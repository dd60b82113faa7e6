"""Training-data expansion on the device: the book's 1-pixel shifts and small rotations.

Images arrive as (n, side²) rows; everything here is array-API arithmetic on the device.
Random angles come from a seeded NumPy Generator on the host, so an expansion is
reproducible from the seed on every backend.
"""

from __future__ import annotations

import math

from ..errors import NNAccelError
from .arrays import one_hot, DeviceData

EXPANSIONS = ("shifts", "rotations")
MAX_ANGLE = 45.0


def _side(xp, x):
    side = math.isqrt(int(x.shape[1]))
    if side * side != int(x.shape[1]):
        raise NNAccelError(f"expansion needs square images, but each has {x.shape[1]} pixels")
    return side


def shift(xp, images, d, axis):
    """Move every image one pixel by ``d`` (±1) along ``axis`` (1 rows, 2 columns), zero-filling.

    As in the book's expand_mnist: roll, then zero the row or column that wrapped around.
    """
    rolled = xp.roll(images, d, axis=axis)
    side = images.shape[axis]
    index = xp.arange(side, device=images.device)
    keep = xp.astype(index != (0 if d > 0 else side - 1), images.dtype)
    shape = (1, side, 1) if axis == 1 else (1, 1, side)
    return rolled * xp.reshape(keep, shape)


def expand_shifts(xp, x, labels):
    """Each image followed by its shifts down, up, right and left: 5× the data."""
    side = _side(xp, x)
    n = int(x.shape[0])
    images = xp.reshape(x, (n, side, side))
    versions = [images] + [shift(xp, images, d, axis) for axis in (1, 2) for d in (1, -1)]
    stacked = xp.stack(versions, axis=1)  # (n, 5, side, side): each image beside its shifts
    return xp.reshape(stacked, (5 * n, side * side)), xp.repeat(labels, 5)


def rotate(xp, x, angles):
    """Rotate each (side×side) image row of ``x`` by its angle in radians, bilinearly, about the centre."""
    side = _side(xp, x)
    n = int(x.shape[0])
    dev = x.device
    dtype = x.dtype
    c = (side - 1) / 2.0
    coords = xp.astype(xp.arange(side, device=dev), dtype) - c
    rows = xp.reshape(coords, (1, side, 1))
    cols = xp.reshape(coords, (1, 1, side))
    cos = xp.reshape(xp.cos(angles), (n, 1, 1))
    sin = xp.reshape(xp.sin(angles), (n, 1, 1))
    # For each output pixel, the source point that the rotation carries onto it.
    src_r = cos * rows - sin * cols + c
    src_c = sin * rows + cos * cols + c
    r0, c0 = xp.floor(src_r), xp.floor(src_c)
    fr, fc = src_r - r0, src_c - c0
    flat = xp.reshape(x, (-1,))
    base = xp.reshape(xp.arange(n, device=dev) * (side * side), (n, 1, 1))
    out = xp.zeros((n, side, side), dtype=dtype, device=dev)
    for dr, dc, weight in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc),
                           (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        r, cc = r0 + dr, c0 + dc
        inside = (r >= 0) & (r <= side - 1) & (cc >= 0) & (cc <= side - 1)
        r_i = xp.astype(xp.clip(r, 0.0, float(side - 1)), xp.int64)  # float bounds for float arrays
        c_i = xp.astype(xp.clip(cc, 0.0, float(side - 1)), xp.int64)
        index = xp.reshape(base + r_i * side + c_i, (-1,))
        values = xp.reshape(xp.take(flat, index), (n, side, side))
        out = out + xp.where(inside, weight * values, xp.zeros_like(values))
    return xp.reshape(out, (n, side * side))


def expand_rotations(xp, backend, x, labels, rng, max_angle=15.0, copies=1):
    """Each image followed by ``copies`` rotations by angles uniform in ±``max_angle`` degrees."""
    n = int(x.shape[0])
    parts = [x]
    for _ in range(copies):
        angles = backend.asarray(rng.uniform(-max_angle, max_angle, size=n) * (math.pi / 180))
        parts.append(rotate(xp, x, xp.astype(angles, x.dtype)))
    stacked = xp.stack(parts, axis=1)
    return xp.reshape(stacked, ((copies + 1) * n, int(x.shape[1]))), xp.repeat(labels, copies + 1)


def expand(backend, data, kind, rng, max_angle=15.0):
    """A new DeviceData: ``data`` expanded by "shifts" (5×) or "rotations" (2×), on the device."""
    xp = backend.xp
    if data.labels is None:
        raise NNAccelError("expansion needs integer class labels")
    if kind == "shifts":
        x, labels = expand_shifts(xp, data.x, data.labels)
    else:
        x, labels = expand_rotations(xp, backend, data.x, data.labels, rng, max_angle)
    return DeviceData(x, labels, one_hot(xp, labels, int(data.targets.shape[1]), data.x.dtype))
