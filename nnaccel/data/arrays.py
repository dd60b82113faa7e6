"""Training and evaluation data as arrays on the compute device.

``to_device`` accepts what a reader of the book has at hand: ``(X, labels)`` arrays, or
network2's own list of ``(x, y)`` tuples (x a (784, 1) column, y a one-hot column or an
integer), and copies it to the device once. One-hot targets are then built on the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from ..errors import NNAccelError
from . import validate


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
    try:
        xs, ys = zip(*data)
        x = np.stack([np.asarray(v, dtype=np.float64).reshape(-1) for v in xs])
        first = np.asarray(ys[0])
        if first.ndim == 0:
            y = np.asarray(ys)
        else:
            y = np.stack([np.asarray(v, dtype=np.float64).reshape(-1) for v in ys])
    except (ValueError, TypeError):
        raise NNAccelError(
            "network2's data is a list of (x, y) pairs: x an (n_in, 1) column of numbers and y an "
            "integer label or an (n_out, 1) one-hot column, all of the same shapes"
        ) from None
    return x, y


def _this_library(backend, a, what):
    """``a`` as it is when it is host data or an array of ``backend``'s library; an array of
    another library (a torch tensor for a NumPy network) copied to a NumPy array when NumPy can
    take it, else NNAccelError naming the fix, never an AttributeError from the wrong namespace."""
    if isinstance(a, (np.ndarray, list, tuple)) or np.isscalar(a) or not hasattr(a, "shape"):
        return a
    try:
        if array_api_compat.array_namespace(a) is backend.xp:
            return a
    except TypeError:  # no array library the standard knows (a memoryview): NumPy's to read
        pass
    reasons = []
    for convert in (np.asarray, np.from_dlpack):
        try:
            return convert(a)
        except (TypeError, ValueError, RuntimeError, AttributeError, BufferError) as e:
            reasons.append(" ".join(str(e).split())[:80])
    kind = f"{type(a).__module__.split('.')[0]}.{type(a).__name__}"
    raise NNAccelError(f"the {what} are a {kind} that the {backend.name} network cannot take ({reasons[0]}); "
                       f"give NumPy arrays, or build the network with the {what}' library as its backend")


def _host(a, what):
    """``a`` as a NumPy array when it lives on the host (array, list, tuple), else None."""
    if isinstance(a, (np.ndarray, list, tuple)) or np.isscalar(a):
        try:
            a = np.asarray(a)
        except (ValueError, TypeError):
            raise NNAccelError(f"the {what} are ragged or not numbers; give one row of equal length per example") from None
        if a.ndim == 0:
            raise NNAccelError(f"the {what} are a single value; give one row per example")
        return a
    return None


def _host_inputs(hx, n_in, dtype, scale):
    """(x as the network's float rows, uint8 pixels or None) from host inputs, copying only if needed."""
    if hx.dtype.kind not in "fiu":
        raise NNAccelError(f"the inputs are an array of {hx.dtype}; give numbers (uint8 pixels or floats in [0, 1])")
    hx = hx.reshape(len(hx), -1)
    if hx.shape[1] != n_in:
        raise NNAccelError(
            f"the network's first layer has {n_in} neurons but the data has {hx.shape[1]} "
            f"values per example; use sizes starting with {hx.shape[1]}"
        )
    if hx.dtype == np.uint8 and scale in (None, 255.0):
        return None, np.ascontiguousarray(hx)  # bytes are finite and in [0, 255] by their type
    validate.check_inputs(np, hx, scale)
    if scale is None:  # already the network's type and C-ordered: the device data is the caller's array
        return np.ascontiguousarray(hx, dtype), None
    return np.divide(hx, scale, out=np.empty(hx.shape, dtype)), None


def to_device(backend, data, n_in, n_out, dtype, scale=None) -> DeviceData:
    """Copy ``data`` to ``backend``'s device once; NNAccelError if it can't train this network.

    Inputs must be finite and (after dividing by ``scale``) within reach of [0, 1]; uint8
    pixels are divided by 255. Labels must be class numbers 0..n_out−1, one-hot targets have
    n_out columns. Float inputs that already have the network's dtype are not copied on NumPy.
    """
    if isinstance(data, DeviceData):
        return data
    scale = validate.check_scale(scale)
    xp, float_dtype = backend.xp, backend.dtype(dtype)
    if isinstance(data, list) and not data:
        raise NNAccelError("the data set is empty; give at least one example")
    if isinstance(data, list) and all(isinstance(d, tuple) and len(d) == 2 for d in data):
        x, y = _from_tuples(data)
    elif isinstance(data, tuple) and len(data) == 2:
        x, y = data
    else:
        raise NNAccelError(
            "data must be a tuple (X, labels) or network2's list of (x, y) tuples"
        )
    x, y = _this_library(backend, x, "inputs"), _this_library(backend, y, "labels")
    hx = _host(x, "inputs")
    if hx is not None:
        if len(hx) == 0:
            raise NNAccelError("the data set is empty; give at least one example")
        hx, pixels = _host_inputs(hx, n_in, np.dtype(dtype), scale)
        n = len(hx if hx is not None else pixels)
        if pixels is not None:  # bytes travel (4x smaller); the division by 255 happens on the device
            pixels = backend.asarray(pixels)
            dx = xp.astype(pixels, float_dtype) / 255.0
        else:
            dx = xp.astype(backend.asarray(hx), float_dtype, copy=False)
    else:
        pixels = None
        if not hasattr(x, "shape") or len(x.shape) < 1:
            raise NNAccelError("the inputs must be an array with one row per example")
        n = int(x.shape[0])
        if n == 0:
            raise NNAccelError("the data set is empty; give at least one example")
        dx = xp.reshape(x, (n, -1))
        if int(dx.shape[1]) != n_in:
            raise NNAccelError(
                f"the network's first layer has {n_in} neurons but the data has {dx.shape[1]} "
                f"values per example; use sizes starting with {dx.shape[1]}"
            )
        dx = xp.astype(dx, float_dtype, copy=False)
        validate.check_inputs(xp, dx, scale, backend.to_numpy)
        if scale is not None:
            dx = dx / scale
    labels, targets = _labels_or_targets(backend, y, n, n_out)
    if labels is not None:
        return DeviceData(dx, labels, one_hot(xp, labels, n_out, float_dtype), pixels)
    return DeviceData(dx, None, xp.astype(targets, float_dtype), pixels)


def _labels_or_targets(backend, y, n, n_out):
    """(device int64 labels, None) or (None, device targets (n, n_out)), checked against n_out."""
    xp = backend.xp
    hy = _host(y, "labels")
    if hy is None:  # labels already on the device: check them through a host copy of n values
        if not hasattr(y, "shape"):
            raise NNAccelError(f"labels must be an array of class numbers, got {type(y).__name__}")
        if len(y.shape) == 2 and (y.shape[1] != 1 or n_out == 1):
            validate.check_targets(xp, y, n_out, backend.to_numpy)
            return None, _check_count(y, n)
        hy = np.asarray(backend.to_numpy(xp.reshape(y, (-1,))))
    if hy.ndim == 2 and hy.shape[1] == 1 and n_out != 1:
        hy = hy[:, 0]
    _check_count(hy, n)
    if hy.ndim == 1:
        labels = validate.labels_as_integers(hy, n_out)
        return backend.asarray(labels), None
    if hy.ndim != 2 or hy.dtype.kind not in "fiub":
        raise NNAccelError(f"targets must be class numbers (n,) or one-hot rows (n, {n_out}), got an array "
                           f"of {hy.dtype} with shape {hy.shape}")
    validate.check_targets(np, hy, n_out)
    return None, backend.asarray(hy)


def _check_count(y, n):
    if int(y.shape[0]) != n:
        raise NNAccelError(f"{y.shape[0]} labels for {n} examples; give one label per example")
    return y
