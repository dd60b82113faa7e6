"""Reading the ``.npz`` archives nnaccel writes (models, checkpoints) from untrusted files.

``numpy.load`` trusts each member's header: a 100-byte member that claims a shape of 10¹²
floats makes it allocate that much before it finds the data missing. Here every member's
header is checked against the member's real size first, object arrays are refused (no
pickles, ever), and a member is read only as far as its header says.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from .._files import file_path, load_json_object, open_to_read
from ..errors import DataError, NotAnArchive

MAX_MEMBERS = 4096  # a checkpoint of a 100-layer network has ~600
DEFLATE_RATIO = 1032  # no zip member expands more than this


def _array(f, available, name, where) -> np.ndarray:
    """The .npy array at ``f``'s position, ``available`` bytes long at most, read only after its
    header is checked: a known version, numbers (no objects, no pickle), and a size that fits."""
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise ValueError(f"unknown .npy version {version}")
    header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
              else np.lib.format.read_array_header_2_0)
    try:
        shape, fortran, dtype = header(f, max_header_size=10000)
    except EOFError:
        raise
    except Exception as e:  # NumPy parses the header's text with ast and tokenize: ValueError, SyntaxError,
        # tokenize.TokenError (an unclosed bracket), RecursionError (brackets nested thousands deep)...
        reason = " ".join(str(e).split())[:80]
        raise DataError(f"{where}{name} has a corrupt .npy header ({type(e).__name__}: {reason}); the file is "
                        "corrupt or was not written by numpy.save") from None
    if dtype.hasobject:
        raise DataError(f"{where}{name} holds Python objects; nnaccel files hold numbers only")
    count = 1
    for d in shape:
        count *= d
    nbytes = count * dtype.itemsize
    if nbytes > available:
        raise DataError(f"{where}{name} claims shape {shape} ({nbytes} bytes) but holds "
                        f"{available}; the file is corrupt or truncated")
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise DataError(f"{where}{name} is truncated; the file is corrupt")
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array.astype(dtype.newbyteorder("=") if dtype.byteorder not in "|=" else dtype)


def _member(z: zipfile.ZipFile, info: zipfile.ZipInfo, path) -> np.ndarray:
    with z.open(info) as f:
        return _array(f, info.file_size, f"member {info.filename}", f"{path}: ")


def read_npy(path, fix="save it with numpy.save"):
    """The array in the .npy file at ``path``, read as read_npz reads a member (its header
    checked against the file's size before anything is allocated); DataError naming ``fix``."""
    path = file_path(path)
    with open_to_read(path, fix=fix) as f:
        try:
            return _array(f, os.fstat(f.fileno()).st_size, str(path), "")
        except DataError:
            raise
        except OSError as e:
            raise DataError(f"cannot read {path}: {e.strerror or e}") from None
        except (ValueError, EOFError, OverflowError, SyntaxError, TypeError) as e:  # a garbled header
            reason = " ".join(str(e).split())[:100]
            raise DataError(f"{path} is not a readable .npy array ({reason}); {fix}") from None


def read_npz(path):
    """{name: array} of the ``.npz`` at ``path``; DataError (NotAnArchive if not a zip) if it is bad."""
    path = file_path(path)
    try:
        with open_to_read(path) as raw, zipfile.ZipFile(raw) as z:
            infos = z.infolist()
            if len(infos) > MAX_MEMBERS:
                raise DataError(f"{path} has {len(infos)} members; not an nnaccel file")
            total = sum(i.file_size for i in infos)
            if total > DEFLATE_RATIO * os.fstat(raw.fileno()).st_size + 2**16:
                raise DataError(f"{path} claims {total} bytes of contents, more than its size allows; it is corrupt")
            arrays = {}
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise DataError(f"{path}: member {info.filename} is not an array; not an nnaccel file")
                arrays[info.filename[:-4]] = _member(z, info, path)
            return arrays
    except DataError:
        raise
    except zipfile.BadZipFile as e:
        if "File is not a zip file" in str(e):
            raise NotAnArchive(f"{path} is not an .npz archive") from None
        raise DataError(f"{path} is a corrupt or truncated .npz file ({' '.join(str(e).split())[:100]})") from None
    except OSError as e:  # a read that fails mid-file (a missing file or a folder is open_to_read's)
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    except (ValueError, EOFError, OverflowError, NotImplementedError, RuntimeError, SyntaxError,
            TypeError, KeyError) as e:  # what zipfile and numpy's header parser raise on garbage
        reason = " ".join(str(e).split())[:100]
        raise DataError(f"{path} is a corrupt .npz file ({type(e).__name__}: {reason})") from None


def read_meta(arrays, path) -> dict:
    """The JSON dict that save_archive stores in the ``meta`` member."""
    meta = arrays.pop("meta", None)
    if meta is None or meta.shape != () or meta.dtype.kind != "U":
        raise DataError(f"{path} has no nnaccel metadata; it was not written by nnaccel")
    return load_json_object(str(meta[()]), f"{path}'s metadata", "the file is corrupt or was not written by nnaccel")
