"""Training and evaluation data as arrays on the compute device.

``to_device`` accepts what a reader of the book has at hand: ``(X, labels)`` arrays, or
network2's own list of ``(x, y)`` tuples (x a (784, 1) column, y a one-hot column or an
integer), and copies it to the device once. One-hot targets are then built on the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import NNAccelError


@dataclass
class DeviceData:
    """Inputs ``x`` (n, n_in), integer ``labels`` (n,) or None, and ``targets`` (n, n_out).

    ``pixels`` keeps the uint8 images that ``x`` was scaled from (x = pixels / 255), when it
    was, for fast paths that gather 4× fewer bytes per mini-batch.
    """

    x: Any
    labels: Any
    targets: Any
    pixels: Any = None

    def __len__(self):
        return int(self.x.shape[0])


def one_hot(xp, labels, n_classes, dtype):
    """The (n, n_classes) matrix of unit rows e_{label}, built where ``labels`` lives."""
    classes = xp.arange(n_classes, device=labels.device)
    return xp.astype(xp.reshape(labels, (-1, 1)) == xp.reshape(classes, (1, -1)), dtype)


def _from_tuples(data):
    xs, ys = zip(*data)
    x = np.stack([np.asarray(v, dtype=np.float64).reshape(-1) for v in xs])
    first = np.asarray(ys[0])
    if first.ndim == 0:
        y = np.asarray(ys, dtype=np.int64)
    else:
        y = np.stack([np.asarray(v, dtype=np.float64).reshape(-1) for v in ys])
    return x, y


def _host(a):
    if isinstance(a, np.ndarray) or isinstance(a, (list, tuple)):
        return np.asarray(a)
    return None


def to_device(backend, data, n_in, n_out, dtype) -> DeviceData:
    """Copy ``data`` to ``backend``'s device once; raise NNAccelError if its shapes don't fit."""
    if isinstance(data, DeviceData):
        return data
    xp = backend.xp
    if isinstance(data, list) and data and isinstance(data[0], tuple):
        x, y = _from_tuples(data)
    elif isinstance(data, tuple) and len(data) == 2:
        x, y = data
    else:
        raise NNAccelError(
            "data must be a tuple (X, labels) or network2's list of (x, y) tuples"
        )
    if len(x) == 0:
        raise NNAccelError("the data set is empty; give at least one example")

    hx = _host(x)
    if hx is not None:
        scale = hx.dtype == np.uint8
        hx = hx.reshape(len(hx), -1)
        if hx.shape[1] != n_in:
            raise NNAccelError(
                f"the network's first layer has {n_in} neurons but the data has {hx.shape[1]} "
                f"values per example; use sizes starting with {hx.shape[1]}"
            )
        pixels = None
        dx = backend.asarray(hx, dtype)
        if scale:  # bytes travel (4x smaller); the division by 255 happens on the device
            pixels = backend.asarray(hx)
            dx = dx / 255.0
    else:
        pixels = None
        dx = xp.astype(xp.reshape(x, (x.shape[0], -1)), backend.dtype(dtype))

    hy = _host(y)
    if hy is not None:
        if hy.ndim == 2 and hy.shape[1] == 1 and n_out != 1:
            hy = hy[:, 0]
        if len(hy) != len(hx if hx is not None else dx):
            raise NNAccelError(f"{len(hy)} labels for {dx.shape[0]} examples; give one label per example")
        dy = backend.asarray(hy)
    else:
        dy = y
    if dy.ndim == 1:
        if hy is not None and (hy.min() < 0 or hy.max() >= n_out):
            raise NNAccelError(
                f"labels run from {hy.min()} to {hy.max()} but the output layer has {n_out} neurons; "
                f"use sizes ending with {hy.max() + 1}"
            )
        labels = xp.astype(dy, xp.int64)
        return DeviceData(dx, labels, one_hot(xp, labels, n_out, backend.dtype(dtype)), pixels)
    if dy.shape[1] != n_out:
        raise NNAccelError(
            f"targets have {dy.shape[1]} values per example but the output layer has {n_out}; "
            f"use sizes ending with {dy.shape[1]}"
        )
    return DeviceData(dx, None, xp.astype(dy, backend.dtype(dtype)), pixels)
