"""Checkpoints: everything a run needs to continue bit-identically, in one atomic .npz.

The network's parameters, momentum's velocities, the best parameters so far (early
stopping keeps the best network), and as JSON the epoch, η, the schedule's and early
stopping's counters, the host RNG's state, the history and the run's settings. Read back
with ``allow_pickle=False``.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DataError
from .files import load_archive, save_archive

FORMAT = "nnaccel-checkpoint-1"


def save_checkpoint(path, net, state, config):
    """Write ``state`` (a trainer.TrainState) of ``net`` and the run's ``config`` to ``path``."""
    to_np = net.backend.to_numpy
    arrays = {}
    groups = {"w": net.weights, "b": net.biases, "vw": state.sgd.velocity_w, "vb": state.sgd.velocity_b}
    if state.best_params is not None:
        groups["bw"], groups["bb"] = state.best_params
    for prefix, group in groups.items():
        for i, a in enumerate(group):
            arrays[f"{prefix}{i}"] = to_np(a)
    meta = {
        "format": FORMAT,
        "network": {"sizes": net.sizes, "cost": net.cost.name,
                    "activations": [a.name for a in net.activations], "dtype": net.dtype},
        "state": state.to_json(),
        "config": config,
        "groups": {k: len(v) for k, v in groups.items()},
    }
    save_archive(path, meta, arrays)


def load_checkpoint(path):
    """(meta, arrays) of a checkpoint; ``arrays`` maps a group (w, b, vw, vb, bw, bb) to a list."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint {path} does not exist; check the path given to --resume")
    try:
        meta, z = load_archive(path)
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}")
        arrays = {g: [z[f"{g}{i}"] for i in range(count)] for g, count in meta["groups"].items()}
    except (KeyError, ValueError, OSError, TypeError) as e:
        raise DataError(f"{path} is not an nnaccel checkpoint ({e}); give a file written by --checkpoint") from None
    return meta, arrays
