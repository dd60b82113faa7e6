"""Checkpoints: everything a run needs to continue bit-identically, in one atomic .npz.

The network's parameters, momentum's velocities, the best parameters so far (early
stopping keeps the best network), and as JSON the epoch, η, the schedule's and early
stopping's counters, the host RNG's state, the history and the run's settings. Read back
with ``allow_pickle=False``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .data.npz import NotAnArchive, read_meta, read_npz
from .errors import DataError
from .files import save_archive
from .serialization import FORMAT as MODEL_FORMAT
from .serialization import check_layers, check_network

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


GROUPS = {"w": "weights", "b": "biases", "vw": "weights", "vb": "biases", "bw": "weights", "bb": "biases"}
NOT_A_CHECKPOINT = "use nnaccel train --resume with a file written by --checkpoint"


def load_checkpoint(path):
    """(meta, arrays) of a checkpoint; ``arrays`` maps a group (w, b, vw, vb, bw, bb) to a list.

    Every field the resume reads is checked here, so a truncated, foreign or hand-edited
    file is one DataError line, never a traceback in the middle of a resume.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"checkpoint {path} is a folder; {NOT_A_CHECKPOINT}")
    if not path.exists():
        raise DataError(f"checkpoint {path} does not exist; check the path given to --resume")
    try:
        members = read_npz(path)
    except NotAnArchive:
        raise DataError(f"{path} {_not_a_checkpoint(path)}; {NOT_A_CHECKPOINT}") from None
    meta = read_meta(members, path)
    if meta.get("format") != FORMAT:
        what = ("is a model file, not a checkpoint" if meta.get("format") == MODEL_FORMAT
                else f"is not an nnaccel checkpoint (format {str(meta.get('format'))[:40]!r})")
        raise DataError(f"{path} {what}; {NOT_A_CHECKPOINT}")
    for key, kind in (("network", dict), ("state", dict), ("config", dict), ("groups", dict)):
        if not isinstance(meta.get(key), kind):
            raise DataError(f"{path}: the checkpoint's {key!r} is missing or not a JSON object; "
                            f"the file is corrupt, {NOT_A_CHECKPOINT}")
    sizes = check_network(meta["network"], path, "checkpoint")[0]
    _check_state(meta["state"], path)
    arrays = _groups(meta["groups"], members, sizes, path)
    return meta, arrays


def _not_a_checkpoint(path):
    """What a file that is no zip archive is: a JSON model (network2 or --save x.json) or garbage."""
    try:
        with open(path, "rb") as f:
            start = f.read(4096).lstrip()
    except OSError:
        start = b""
    if start.startswith(b"{") and (b'"weights"' in start or b'"sizes"' in start):
        return "is a model file, not a checkpoint"
    return "is not an nnaccel checkpoint"


def _groups(groups, members, sizes, path):
    layers = len(sizes) - 1
    if not {"w", "b"} <= groups.keys() <= GROUPS.keys():
        raise DataError(f"{path}: the checkpoint's array groups {sorted(groups)[:8]} are not w, b and "
                        f"optionally vw, vb, bw, bb; the file is corrupt")
    arrays = {}
    for group, count in groups.items():
        if count not in ((layers,) if group in "wb" else (0, layers)) or isinstance(count, bool):
            raise DataError(f"{path}: the checkpoint lists {str(count)[:20]} {group} arrays for {layers} layers; "
                            "the file is corrupt")
        try:
            arrays[group] = [members[f"{group}{i}"] for i in range(count)]
        except KeyError as e:
            raise DataError(f"{path}: the checkpoint has no array {e}; the file is corrupt or was cut short") from None
    for weights, biases in (("w", "b"), ("vw", "vb"), ("bw", "bb")):
        if len(arrays.get(weights, [])) != len(arrays.get(biases, [])):
            raise DataError(f"{path}: the checkpoint has {weights} arrays without {biases}; the file is corrupt")
        if arrays.get(weights):
            check_layers(arrays[weights], arrays[biases], sizes, path, GROUPS[weights] if weights == "w" else
                         {"vw": "velocities", "bw": "best weights"}[weights])
    return arrays


def _number(value, low=None):
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and (low is None or value >= low))


def _check_state(state, path):
    """Refuse a saved training state that TrainState.from_json or the resume could not use."""
    checks = {
        "eta": lambda v: _number(v) and v > 0,
        "epoch": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "best_accuracy": lambda v: v is None or _number(v),
        "best_epoch": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "since_change": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "stopped": lambda v: isinstance(v, str),
        "records": lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v),
        "rng_state": _rng_state_ok,
    }
    for key, ok in checks.items():
        if key not in state or not ok(state[key]):
            raise DataError(f"{path}: the checkpoint's state has a missing or bad {key!r} "
                            f"({str(state.get(key))[:40]}); the file is corrupt, {NOT_A_CHECKPOINT}")


def _rng_state_ok(value):
    if value is None:
        return True
    try:
        np.random.default_rng().bit_generator.state = value
    except (TypeError, ValueError, KeyError, OverflowError):
        return False
    return True
