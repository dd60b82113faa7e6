"""Models on disk: network2.py's JSON format and a compact ``.npz``, never a pickle.

The JSON file is exactly what network2's ``save`` writes (sizes, weights, biases as
columns, the cost's class name), plus a few keys network2 ignores (activations, dtype,
the softmax temperature), so a file saved by either program loads in the other. The ``.npz`` holds the same arrays
at full precision and is read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._files import atomic_write, file_path, missing, open_to_read, save_archive
from ..core import costs as _costs
from ..core import parameters
from ..data.npz import read_meta, read_npz
from ..errors import DataError, NNAccelError, NotAnArchive

FORMAT = "nnaccel-1"
CHECKPOINT_FORMAT = "nnaccel-checkpoint-1"  # checkpoint.FORMAT, named here to tell the files apart


def _meta(net):
    meta = {
        "format": FORMAT,
        "sizes": net.sizes,
        "cost": net.cost.book_name,
        "activations": [a.name for a in net.activations],
        "dtype": net.dtype,
    }
    temperature = getattr(net.activations[-1], "temperature", 1.0)
    if temperature != 1.0:  # files of the book's softmax stay as they were
        meta["softmax_temperature"] = temperature
    return meta


def _temperature(meta, path, acts):
    """The softmax temperature c a file records (1 when it records none); DataError if bad."""
    try:
        c = parameters.check("softmax_temperature", meta.get("softmax_temperature", 1.0))
    except NNAccelError as e:
        raise DataError(f"{path}: {e}; the model file is corrupt") from None
    if c != 1.0 and acts[-1] != "softmax":
        raise DataError(f"{path}: a softmax_temperature of {c:g} needs a softmax output layer, not "
                        f"{str(acts[-1])[:20]}; the model file is corrupt")
    return c


SUFFIXES = (".json", ".npz")


def save(net, path):
    """Write ``net`` to ``path`` (.json: network2's format; .npz: compact) atomically.

    A model file is for inference: after dropout it holds the scaled weights (for_inference),
    so net.save(p) and save(net, p) write the same file."""
    path = file_path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise NNAccelError(f"cannot save a model as {path}: the name must end in .json (network2's format) "
                           f"or .npz (compact), e.g. {path.with_suffix('.npz')}")
    net = net.for_inference()
    weights, biases = net.parameters_numpy()
    meta = _meta(net)
    if suffix == ".json":
        doc = dict(meta)
        doc["weights"] = [w.astype(np.float64).tolist() for w in weights]
        doc["biases"] = [b.astype(np.float64).reshape(-1, 1).tolist() for b in biases]
        with atomic_write(path, "w") as f:
            json.dump(doc, f)
    else:
        arrays = {f"w{i}": w for i, w in enumerate(weights)}
        arrays.update({f"b{i}": b for i, b in enumerate(biases)})
        save_archive(path, meta, arrays)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_network(meta, path, what="model"):
    """(sizes, activations, cost, dtype) from a file's metadata; DataError naming the first bad field."""
    sizes = meta.get("sizes")
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(_whole(s) and 1 <= s < 2**31 for s in sizes)):
        raise DataError(f"{path}: 'sizes' must list at least two layer widths ≥ 1, got {str(sizes)[:80]}; "
                        f"the {what} file is corrupt")
    acts = meta.get("activations")
    if acts is None:
        acts = ["sigmoid"] * (len(sizes) - 1)  # network2's files name none
    if not (isinstance(acts, list) and len(acts) == len(sizes) - 1 and all(isinstance(a, str) for a in acts)):
        raise DataError(f"{path}: 'activations' must name one activation per layer ({len(sizes) - 1}), "
                        f"got {str(acts)[:80]}; the {what} file is corrupt")
    cost = meta.get("cost", "CrossEntropyCost")
    dtype = meta.get("dtype", "float32")
    if not isinstance(cost, str) or dtype not in ("float32", "float64"):
        raise DataError(f"{path}: bad cost {str(cost)[:40]!r} or dtype {str(dtype)[:40]!r}; the {what} file is corrupt")
    return sizes, acts, cost, dtype


def check_layers(weights, biases, sizes, path, what="weights"):
    """Refuse layer arrays whose count, shape, type or values (NaN, inf) do not make ``sizes``."""
    layers = len(sizes) - 1
    if len(weights) != layers or len(biases) != layers:
        raise DataError(f"{path}: {len(weights)} {what} matrices and {len(biases)} bias vectors for "
                        f"{layers} layers of sizes {sizes}; the file is corrupt")
    for i, (w, b) in enumerate(zip(weights, biases)):
        rows, cols = sizes[i + 1], sizes[i]
        if w.shape != (rows, cols) or b.shape not in ((rows,), (rows, 1)):
            raise DataError(f"{path}: layer {i + 1} of sizes {sizes} needs {what} of shape ({rows}, {cols}) "
                            f"and {rows} biases, got {w.shape} and {b.shape}; the file is corrupt")
        for a in (w, b):
            if a.dtype.kind != "f":
                raise DataError(f"{path}: layer {i + 1} holds {a.dtype} {what}, not floats; the file is corrupt")
            if not np.isfinite(a).all():
                raise DataError(f"{path}: layer {i + 1}'s {what} hold NaN or infinite values (a diverged "
                                "run was saved); retrain, e.g. with a smaller eta")


def _read_json(path: Path):
    try:
        with open_to_read(path, "model file", "give the file saved by --save") as f:
            doc = json.loads(f.read())
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    except (ValueError, RecursionError) as e:
        raise DataError(f"{path} is neither an .npz model nor JSON ({type(e).__name__}); "
                        "give a file saved by nnaccel or network2.py") from None
    if not isinstance(doc, dict):
        raise DataError(f"{path} is JSON but not a model; expected keys sizes, weights, biases, cost")
    return doc


def _as_floats(rows, path, what):
    try:
        return np.array(rows, dtype=np.float64)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise DataError(f"{path}: '{what}' must be nested lists of numbers, one matrix per layer; "
                        "the file is corrupt") from None


def _read(path: Path):
    """(meta, weights, biases) from a JSON or .npz model file, every field checked."""
    try:
        arrays = read_npz(path)
    except NotAnArchive:
        doc = _read_json(path)
        if "format" in doc and str(doc.get("format")).startswith("nnaccel-checkpoint"):
            raise DataError(f"{path} is a checkpoint, not a model; resume it with nnaccel train --resume {path}")
        for key in ("sizes", "weights", "biases"):
            if not isinstance(doc.get(key), list):
                raise DataError(f"{path} is not a network2/nnaccel JSON model (missing or bad {key!r}); "
                                "expected keys sizes, weights, biases, cost")
        weights = [_as_floats(w, path, "weights") for w in doc["weights"]]
        biases = [_as_floats(b, path, "biases") for b in doc["biases"]]
        return doc, weights, biases
    meta = read_meta(arrays, path)
    if meta.get("format") == CHECKPOINT_FORMAT:
        raise DataError(f"{path} is a checkpoint, not a model; resume it with nnaccel train --resume {path}")
    sizes = meta.get("sizes")
    count = len(sizes) - 1 if isinstance(sizes, list) else 0
    try:
        weights = [arrays[f"w{i}"] for i in range(count)]
        biases = [arrays[f"b{i}"] for i in range(count)]
    except KeyError as e:
        raise DataError(f"{path} is not a valid nnaccel .npz model (no array {e}); save it again with net.save") from None
    return meta, weights, biases


def read_model(path):
    """The checked parts of a model file (.json or .npz, nnaccel's or network2.py's): a dict of
    Network's arguments (sizes, cost, activations, dtype, temperature) and the arrays."""
    path = file_path(path)
    if path.is_dir():
        raise DataError(f"model file {path} is a folder; give the file saved by --save")
    if (error := missing(path, "model file", "check the path")) is not None:
        raise error
    meta, weights, biases = _read(path)
    sizes, acts, cost, saved_dtype = check_network(meta, path)
    temperature = _temperature(meta, path, acts)
    check_layers(weights, biases, sizes, path)
    try:
        cost = _costs.get(cost)
    except ValueError:
        raise DataError(f"{path}: unknown cost {cost!r}; expected one of QuadraticCost, "
                        "CrossEntropyCost, LogLikelihoodCost") from None
    return dict(sizes=sizes, cost=cost, hidden_activation=list(acts[:-1]), output_activation=acts[-1],
                dtype=saved_dtype, softmax_temperature=temperature), weights, biases
