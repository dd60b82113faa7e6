"""Nielsen's ``mnist.pkl.gz``, read without ever running code from the file.

The book's data is a Python 2 pickle of three (images, labels) pairs of NumPy arrays. A
pickle can name any callable, so the unpickler here admits only what rebuilds a plain
NumPy array (ndarray, dtype, numpy's ``_reconstruct`` and the pure ``_codecs.encode``) and refuses everything else
before it is called; tuples and lists need no class at all.
"""

from __future__ import annotations

import gzip
import io
import pickle
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("_codecs", "encode"),  # how Python 3 writes bytes into a protocol-2 pickle; pure
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds NumPy arrays and tuples and refuses any other global."""

    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            if module.startswith("numpy.core"):
                module = "numpy._core.multiarray" if hasattr(np, "_core") else module
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def _check_array(a, what):
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiub":
        raise DataError(f"{what} is not a numeric NumPy array")
    return a


def load_mnist_pkl(path):
    """((train_x, train_y), (validation_x, validation_y), (test_x, test_y)) from mnist.pkl.gz."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        data = RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    except pickle.UnpicklingError as e:
        raise DataError(f"{path} is not a safe mnist.pkl.gz: {e}; only NumPy arrays and tuples are accepted") from None
    except (EOFError, OSError, zlib.error, ValueError, TypeError, AttributeError) as e:
        raise DataError(f"{path} is a corrupt or truncated pickle ({type(e).__name__}); download it again") from None
    if not (isinstance(data, (tuple, list)) and len(data) == 3
            and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in data)):
        raise DataError(f"{path} does not hold the book's three (images, labels) pairs")
    out = []
    for part, (x, y) in zip(("training", "validation", "test"), data):
        x, y = _check_array(x, f"{path} {part} images"), _check_array(y, f"{path} {part} labels")
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{path} {part} data has images {x.shape} and labels {y.shape}; expected (n, 784) and (n,)")
        out.append((x, y.astype(np.int64)))
    return tuple(out)
