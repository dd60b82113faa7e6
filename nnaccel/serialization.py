"""Models on disk: network2.py's JSON format and a compact ``.npz``, never a pickle.

The JSON file is exactly what network2's ``save`` writes (sizes, weights, biases as
columns, the cost's class name), plus a few keys network2 ignores (activations, dtype),
so a file saved by either program loads in the other. The ``.npz`` holds the same arrays
at full precision and is read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from . import costs as _costs
from .errors import DataError
from .files import atomic_write, load_archive, save_archive

FORMAT = "nnaccel-1"


def _meta(net):
    return {
        "format": FORMAT,
        "sizes": net.sizes,
        "cost": net.cost.book_name,
        "activations": [a.name for a in net.activations],
        "dtype": net.dtype,
    }


def save(net, path):
    """Write ``net`` to ``path`` (.json: network2's format; anything else: .npz) atomically."""
    path = Path(path)
    weights, biases = net.parameters_numpy()
    meta = _meta(net)
    if path.suffix.lower() == ".json":
        doc = dict(meta)
        doc["weights"] = [w.astype(np.float64).tolist() for w in weights]
        doc["biases"] = [b.astype(np.float64).reshape(-1, 1).tolist() for b in biases]
        with atomic_write(path, "w") as f:
            json.dump(doc, f)
    else:
        arrays = {f"w{i}": w for i, w in enumerate(weights)}
        arrays.update({f"b{i}": b for i, b in enumerate(biases)})
        save_archive(path, meta, arrays)


def _read(path: Path):
    """(meta, weights, biases) from a JSON or .npz model file."""
    with open(path, "rb") as f:
        head = f.read(2)
    if head == b"PK":
        try:
            meta, z = load_archive(path)
            count = len(meta["sizes"]) - 1
            weights = [z[f"w{i}"] for i in range(count)]
            biases = [z[f"b{i}"] for i in range(count)]
        except (KeyError, ValueError, zipfile.BadZipFile, OSError, TypeError) as e:
            raise DataError(f"{path} is not a valid nnaccel .npz model ({e}); save it again with net.save") from None
        return meta, weights, biases
    try:
        doc = json.loads(path.read_text())
        weights = [np.array(w, dtype=np.float64) for w in doc["weights"]]
        biases = [np.array(b, dtype=np.float64) for b in doc["biases"]]
        doc["sizes"]
    except (KeyError, ValueError, TypeError, UnicodeDecodeError) as e:
        raise DataError(
            f"{path} is not a network2/nnaccel JSON model (missing or bad {e}); "
            "expected keys sizes, weights, biases, cost"
        ) from None
    return doc, weights, biases


def load(path, device="auto", backend=None, dtype=None):
    """Load a model saved by nnaccel (.json or .npz) or by network2.py onto ``device``."""
    from .network import Network

    path = Path(path)
    if not path.is_file():
        raise DataError(f"model file {path} does not exist; check the path")
    meta, weights, biases = _read(path)
    sizes = meta.get("sizes")
    if not isinstance(sizes, list) or len(sizes) < 2:
        raise DataError(f"{path}: 'sizes' must list at least two layer widths")
    acts = meta.get("activations") or ["sigmoid"] * (len(sizes) - 1)
    cost = meta.get("cost", "CrossEntropyCost")
    try:
        cost = _costs.get(cost)
    except ValueError:
        raise DataError(f"{path}: unknown cost {cost!r}; expected one of QuadraticCost, "
                        "CrossEntropyCost, LogLikelihoodCost") from None
    if len(acts) != len(sizes) - 1:
        raise DataError(f"{path}: {len(acts)} activations for {len(sizes) - 1} layers")
    try:
        return Network(
            sizes, cost=cost, hidden_activation=list(acts[:-1]), output_activation=acts[-1],
            init=lambda rng, s: (biases, weights), device=device, backend=backend,
            dtype=dtype or meta.get("dtype", "float32"),
        )
    except DataError:
        raise
    except ValueError as e:
        raise DataError(f"{path}: {e}") from None
