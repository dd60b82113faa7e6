"""``nnaccel predict MODEL IMAGES...``: the label a saved model gives each image.

Images come as IDX files (MNIST's format, one or many images), .npy arrays (one image of
height × width, or a stack of them) or PNG files (one image, greyscale or colour, read by
nnaccel.data.png without Pillow). Pixels are as MNIST's: white ink on black, 0-255 (uint8) or
floats in [0, 1]; ``--invert`` reads dark ink on a light background. The labels go out as CSV
(file, index, label) or JSON, on stdout or atomically into ``--out``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from .._files import atomic_write
from ..data.idx import read_idx
from ..data.npz import read_npy
from ..data.png import read_png
from ..errors import DataError
from ..io import run_files
from ..nets.network import load

FORMATS = ("csv", "json")


def read_images(path, pixels=None):
    """(n, height·width) pixels of one file, uint8 or float, by its suffix (or, for IDX, content);
    DataError unless each image has ``pixels`` pixels (a PNG's header is checked before decoding)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        images = read_png(path, pixels)[None]
    elif suffix == ".npy":
        images = read_npy(path)
        images = images[None] if images.ndim == 2 else images
    else:
        images = read_idx(path)
        if images.ndim != 3:
            raise DataError(f"{path} holds an IDX array of shape {list(images.shape)}; predict reads images "
                            "(an idx3 file of n × height × width), not labels")
    if images.ndim != 3 or 0 in images.shape:
        raise DataError(f"{path} holds an array of shape {list(images.shape)}; give images of height × width, "
                        "or a stack n × height × width")
    if images.dtype.kind not in "fiu" or images.dtype.kind == "f" and not np.isfinite(images).all():
        raise DataError(f"{path} holds {images.dtype} values that are not finite numbers; give pixels")
    images = images.reshape(len(images), -1)
    if pixels is not None and images.shape[1] != pixels:
        raise DataError(f"{path}: images of {images.shape[1]} pixels, but the model's first layer takes "
                        f"{pixels}; give images of that size (MNIST: 28×28)")
    return images


def predict_labels(net, images, scale=None, invert=False):
    """The argmax of the output layer for each row of ``images`` (host pixels), as a NumPy array."""
    if invert:  # dark ink on light paper → MNIST's white on black
        images = 255 - images if images.dtype == np.uint8 else (scale or 1.0) - images.astype(np.float64)
    data = net.data((images, np.zeros(len(images), dtype=np.int64)), scale=scale)
    return np.concatenate([np.asarray(net.backend.to_numpy(net.xp.argmax(a, axis=1)))
                           for _, _, a in net._chunks(data)])


def render(rows, fmt):
    """The (file, index, label) rows as CSV or JSON text."""
    if fmt == "json":
        return json.dumps([{"file": f, "index": i, "label": label} for f, i, label in rows], indent=1) + "\n"
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["file", "index", "label"])
    writer.writerows(rows)
    return text.getvalue()


def cmd_predict(args, out=print):
    run_files.check([("--out", args.out)],
                    [("the model file", args.model), *(("one of the inputs", p) for p in args.images)])
    net = load(args.model, device=args.device)
    rows = []
    for path in args.images:
        images = read_images(path, net.sizes[0])
        labels = predict_labels(net, images, args.scale, args.invert)
        rows += [(str(path), i, int(label)) for i, label in enumerate(labels)]
    text = render(rows, args.format)
    if args.out is not None:
        with atomic_write(args.out, "w") as f:
            f.write(text)
        out(f"nnaccel: wrote {len(rows)} labels to {args.out}")
    else:
        out(text, end="")
    return 0
