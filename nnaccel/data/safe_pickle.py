"""Nielsen's ``mnist.pkl.gz``, read without ever running code from the file.

The book's data is a Python 2 pickle of three (images, labels) pairs of NumPy arrays. A
pickle can name any callable, so the unpickler here admits only what rebuilds a plain
NumPy array — an empty array of a simple dtype, filled from the file's own bytes — and the
pure ``_codecs.encode`` to latin-1 that Python 3 writes bytes with; it refuses everything
else before it is called. Tuples and lists need no class at all.

Memory stays proportional to the file: the unpickler is pickle's pure-Python one, which
reads a length-prefixed string only as far as the data goes (the C unpickler allocates the
length a header claims first; so does its BYTEARRAY8, replaced here) and keeps its memo in a dict (the C one grows a table to the
largest index a PUT names); gzip cannot expand a file more than ~1032-fold.
"""

from __future__ import annotations

import io
import math
import pickle
import re

import numpy as np

from .._files import file_path
from ..errors import DataError, NNAccelError
from .idx import GZIP_RATIO, gunzip, read_bytes
from .validate import labels_as_integers

_SIMPLE_DTYPE = re.compile(r"[biufV]\d{0,2}")  # 'f4', 'u1', 'i8', 'b1' as NumPy pickles them; never 'O'


class _NDArrayClass:
    """Stands for numpy.ndarray in a pickle: an argument of _reconstruct, never called."""


class _PickledDtype:
    """A dtype named in the pickle; BUILD gives its byte order. NumPy's own setstate never runs."""

    def __init__(self, spec):
        if not isinstance(spec, str) or not _SIMPLE_DTYPE.fullmatch(spec):
            raise pickle.UnpicklingError(f"refused the NumPy dtype {spec!r}")
        self.dtype = np.dtype(spec)

    def __setstate__(self, state):
        order = state[1] if isinstance(state, tuple) and len(state) > 1 else "|"
        if order not in ("<", ">", "|", "="):
            raise pickle.UnpicklingError(f"bad byte order {order!r} in a NumPy dtype")
        self.dtype = self.dtype.newbyteorder(order) if order != "|" else self.dtype


class _PickledArray:
    """An ndarray named in the pickle, built by its BUILD state only after every field checks out."""

    array = None

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) == 5):
            raise pickle.UnpicklingError("bad ndarray state")
        _, shape, dtype, fortran, data = state
        if not (isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape)
                and isinstance(dtype, _PickledDtype)):
            raise pickle.UnpicklingError("bad ndarray shape or dtype")
        if isinstance(data, str):
            data = data.encode("latin1")  # Python 2's str, decoded by encoding="latin1"
        if not isinstance(data, (bytes, bytearray)):
            raise pickle.UnpicklingError("ndarray data is not bytes")
        if math.prod(shape) * dtype.dtype.itemsize != len(data):
            raise pickle.UnpicklingError(f"an array of shape {shape} does not fit its {len(data)} bytes")
        array = np.frombuffer(data, dtype.dtype).reshape(shape, order="F" if fortran else "C")
        self.array = array.astype(dtype.dtype.newbyteorder("="))  # a writable copy in native order


def _reconstruct(subtype, shape, dtype):
    """numpy's _reconstruct, only as pickle uses it: an empty array that BUILD then fills."""
    if subtype is not _NDArrayClass or shape != (0,):
        raise pickle.UnpicklingError("refused an ndarray reconstruction other than NumPy's own")
    return _PickledArray()


def _dtype(spec, align=False, copy=True):
    return _PickledDtype(spec)


def _latin1(text, encoding="latin1", errors="strict"):
    if not (isinstance(text, str) and isinstance(encoding, str) and errors == "strict"
            and encoding.lower().replace("-", "").replace("_", "") in ("latin1", "iso88591")):
        raise pickle.UnpicklingError("refused _codecs.encode other than str to latin-1 bytes")
    return text.encode("latin1")


ALLOWED = {
    ("numpy", "ndarray"): _NDArrayClass,
    ("numpy", "dtype"): _dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("_codecs", "encode"): _latin1,  # how Python 3 writes bytes into a protocol-2 pickle
}


class RestrictedUnpickler(pickle._Unpickler):  # the pure-Python unpickler: see the module docstring
    """An unpickler that builds NumPy arrays, tuples and lists and refuses any other global."""

    def find_class(self, module, name):
        try:
            return ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise pickle.UnpicklingError(f"refused to load {module}.{name}") from None

    def __init__(self, file, size, **kw):
        super().__init__(file, **kw)
        self.size = size

    def load_bytearray8(self):
        """BYTEARRAY8 allocates the length it names before reading: refuse one beyond the file."""
        n = int.from_bytes(self.read(8), "little")
        if n > self.size:
            raise pickle.UnpicklingError(f"a bytearray of {n} bytes in a pickle of {self.size}")
        self.append(bytearray(self.read(n)))

    def load_build(self):
        """BUILD only fills the array and dtype stand-ins; it sets no attribute of anything else."""
        state = self.stack.pop()
        inst = self.stack[-1]
        if not isinstance(inst, (_PickledArray, _PickledDtype)):
            raise pickle.UnpicklingError(f"refused to set the state of a {type(inst).__name__}")
        inst.__setstate__(state)

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8


def _check_array(a, what, kinds="fiu"):
    a = a.array if isinstance(a, _PickledArray) else None
    if a is None or a.dtype.kind not in kinds:
        raise DataError(f"{what} is not a numeric NumPy array")
    return a


def _unpickle(raw, path):
    try:
        return RestrictedUnpickler(io.BytesIO(raw), len(raw), encoding="latin1").load()
    except pickle.UnpicklingError as e:
        if str(e).startswith("refused"):
            raise DataError(f"{path} is not a safe mnist.pkl.gz: {e}; only NumPy arrays and tuples are accepted") from None
        reason = " ".join(str(e).split())[:120]  # some of pickle's messages span two lines
        raise DataError(f"{path} is a corrupt or truncated pickle ({reason}); download it again") from None
    except Exception as e:  # noqa: BLE001 — only whitelisted code ran: any failure means a bad file
        raise DataError(f"{path} is a corrupt or truncated pickle ({type(e).__name__}); download it again") from None


def load_mnist_pkl(path):
    """((train_x, train_y), (validation_x, validation_y), (test_x, test_y)) from mnist.pkl.gz."""
    path = file_path(path)
    raw, compressed = read_bytes(path, fix="give Nielsen's mnist.pkl.gz, or a folder of IDX files")
    if compressed:
        raw = gunzip(raw, GZIP_RATIO * len(raw), str(path))
    data = _unpickle(raw, path)
    del raw
    if not (isinstance(data, (tuple, list)) and len(data) == 3
            and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in data)):
        raise DataError(f"{path} does not hold the book's three (images, labels) pairs")
    out = []
    for part, (x, y) in zip(("training", "validation", "test"), data):
        x, y = _check_array(x, f"{path} {part} images"), _check_array(y, f"{path} {part} labels")
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{path} {part} data has images {x.shape} and labels {y.shape}; expected (n, 784) and (n,)")
        if part != "validation" and len(x) == 0:
            raise DataError(f"{path} has no {part} images; the book's file has 50,000 and 10,000")
        try:
            y = labels_as_integers(y, where=f"{path} {part} labels")
        except NNAccelError as e:
            raise DataError(str(e)) from None
        out.append((x, y))
    if len({x.shape[1] for x, _ in out}) != 1:
        raise DataError(f"{path}: the three parts have images of {[x.shape[1] for x, _ in out]} pixels; the file is corrupt")
    return tuple(out)
