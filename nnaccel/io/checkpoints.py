"""Checkpoints: everything a run needs to continue bit-identically, in one atomic .npz.

The network's parameters, the optimizer's slots, the best parameters so far (early
stopping keeps the best network), and as JSON the epoch, η, the schedule's and early
stopping's counters, dropout's p, the host RNG's state, the history and the run's settings.
Read back with ``allow_pickle=False``.

The optimizer's state is saved generically: each field of its NamedTuple is a number or None
(kept in the JSON) or a list, tuple or single array, stored as an array group named by the
field's initials (momentum's velocity_w → "vw", so files written before the optimizer seam,
which held "vw"/"vb" and no "optimizer" entry, read as SGD's state unchanged).
"""

from __future__ import annotations

import math

import numpy as np

from .._files import file_path, missing, save_archive
from ..core.parameters import PARAMETERS
from ..data.npz import read_meta, read_npz
from ..errors import DataError, NotAnArchive
from .models import FORMAT as MODEL_FORMAT
from .models import check_layers, check_network

FORMAT = "nnaccel-checkpoint-1"


PARAMETER_GROUPS = ("w", "b", "bw", "bb")
LEGACY_SLOTS = {"velocity_w": {"group": "vw", "container": "list"},
                "velocity_b": {"group": "vb", "container": "list"}}  # SGD's, in files without "optimizer"
CONTAINERS = {"list": list, "tuple": tuple, "array": None}
PAIR_NAMES = {"vw": "velocities"}  # how check_layers names a w/b pair of slots in its message


def _slot_groups(opt_state):
    """The JSON description of an optimizer state's slots, and its arrays by group."""
    slots, groups = {}, {}
    for name, value in zip(opt_state._fields, opt_state):
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            slots[name] = {"value": None if value is None else float(value)}
            continue
        group = "".join(word[0] for word in name.split("_") if word) or name
        if group in PARAMETER_GROUPS or group in groups:
            group = name
        container = "list" if isinstance(value, list) else "tuple" if isinstance(value, tuple) else "array"
        slots[name] = {"group": group, "container": container}
        groups[group] = [value] if container == "array" else list(value)
    return slots, groups


def save_checkpoint(path, net, state, config):
    """Write ``state`` (a trainer.TrainState) of ``net`` and the run's ``config`` to ``path``."""
    to_np = net.backend.to_numpy
    arrays = {}
    slots, slot_groups = _slot_groups(state.opt_state)
    groups = {"w": net.weights, "b": net.biases, **slot_groups}
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
        "optimizer": {"name": state.optimizer, "slots": slots},
    }
    save_archive(path, meta, arrays)


NOT_A_CHECKPOINT = "use nnaccel train --resume with a file written by --checkpoint"


def load_checkpoint(path):
    """(meta, arrays) of a checkpoint; ``arrays`` maps a group (w, b, bw, bb and the optimizer's
    slot groups, e.g. vw, vb) to a list; :func:`optimizer_slots` turns the slots back into fields.

    Every field the resume reads is checked here, so a truncated, foreign or hand-edited
    file is one DataError line, never a traceback in the middle of a resume.
    """
    path = file_path(path)
    if path.is_dir():
        raise DataError(f"checkpoint {path} is a folder; {NOT_A_CHECKPOINT}")
    if (error := missing(path, "checkpoint", "check the path given to --resume")) is not None:
        raise error
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
    slots = _check_optimizer(meta, path)
    arrays = _groups(meta["groups"], members, sizes, path, slots)
    return meta, arrays


def optimizer_slots(meta, arrays):
    """(the optimizer's name, {field: value}) of a loaded checkpoint: the state's slots as host
    arrays (lists, tuples or single arrays), numbers or None, for the optimizer's state type."""
    opt = meta.get("optimizer", {"name": "sgd", "slots": LEGACY_SLOTS})
    fields = {}
    for name, spec in opt["slots"].items():
        if "value" in spec:
            fields[name] = spec["value"]
        elif spec["container"] == "array":
            fields[name] = arrays[spec["group"]][0]
        else:
            fields[name] = CONTAINERS[spec["container"]](arrays.get(spec["group"], []))
    return opt["name"], fields


def _check_optimizer(meta, path):
    """The slot descriptions of the checkpoint's optimizer entry (SGD's for older files), checked."""
    if "optimizer" not in meta:
        return LEGACY_SLOTS
    opt = meta["optimizer"]
    bad = f"{path}: the checkpoint's 'optimizer' entry is damaged ({{}}); the file is corrupt, {NOT_A_CHECKPOINT}"
    if not (isinstance(opt, dict) and isinstance(opt.get("name"), str) and isinstance(opt.get("slots"), dict)):
        raise DataError(bad.format("no name and slots"))
    seen = set()
    for name, spec in opt["slots"].items():
        if not (isinstance(spec, dict) and name.isidentifier()):
            raise DataError(bad.format(f"slot {name[:20]!r}"))
        if set(spec) == {"value"}:
            if not (spec["value"] is None or _number(spec["value"])):
                raise DataError(bad.format(f"slot {name[:20]!r} holds {str(spec['value'])[:20]}"))
            continue
        group = spec.get("group")
        if (set(spec) != {"group", "container"} or not isinstance(spec["container"], str)
                or spec["container"] not in CONTAINERS or not isinstance(group, str)
                or group in PARAMETER_GROUPS or group in seen):
            raise DataError(bad.format(f"slot {name[:20]!r}"))
        seen.add(group)
    return opt["slots"]


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


def _groups(groups, members, sizes, path, slots):
    layers = len(sizes) - 1
    slot_groups = {spec["group"]: spec["container"] for spec in slots.values() if "group" in spec}
    if not {"w", "b"} <= groups.keys() <= {*PARAMETER_GROUPS, *slot_groups}:
        raise DataError(f"{path}: the checkpoint's array groups {sorted(groups)[:8]} are not w, b and "
                        f"optionally bw, bb and the optimizer's slots {sorted(slot_groups)[:8]}; the file is corrupt")
    if not slot_groups.keys() <= groups.keys():
        raise DataError(f"{path}: the checkpoint lists no arrays for the optimizer's slots "
                        f"{sorted(slot_groups.keys() - groups.keys())[:8]}; the file is corrupt")
    arrays = {}
    for group, count in groups.items():
        if group in slot_groups:
            allowed = (1,) if slot_groups[group] == "array" else range(1001)
        else:
            allowed = (layers,) if group in "wb" else (0, layers)
        if count not in allowed or isinstance(count, bool):
            raise DataError(f"{path}: the checkpoint lists {str(count)[:20]} {group} arrays for {layers} layers; "
                            "the file is corrupt")
        try:
            arrays[group] = [members[f"{group}{i}"] for i in range(count)]
        except KeyError as e:
            raise DataError(f"{path}: the checkpoint has no array {e}; the file is corrupt or was cut short") from None
    # pairs of per-layer arrays: the parameters, the best ones, and slots such as momentum's (vw, vb)
    pairs = [("w", "b"), ("bw", "bb")] + [(g, g[:-1] + "b") for g in slot_groups
                                         if g.endswith("w") and g[:-1] + "b" in slot_groups]
    names = {"w": "weights", "bw": "best weights", **PAIR_NAMES}
    for weights, biases in pairs:
        if len(arrays.get(weights, [])) != len(arrays.get(biases, [])):
            raise DataError(f"{path}: the checkpoint has {weights} arrays without {biases}; the file is corrupt")
        if arrays.get(weights):
            check_layers(arrays[weights], arrays[biases], sizes, path, names.get(weights, f"{weights} slots"))
    paired = {g for pair in pairs for g in pair}
    flat = sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))  # every weight and bias
    shapes = {(flat,)} | {(o, i) for i, o in zip(sizes[:-1], sizes[1:])} | {(o,) for o in sizes[1:]}
    for group in slot_groups.keys() - paired:
        for a in arrays.get(group, []):  # any other slot: shaped like a layer's w or b, or flat over all
            if tuple(a.shape) not in shapes or a.dtype.kind != "f" or not np.isfinite(a).all():
                raise DataError(f"{path}: the optimizer slot {group!r} holds a {a.dtype} array of shape "
                                f"{tuple(a.shape)[:4]} (or NaN); the file is corrupt")
    return arrays


def _number(value, low=None):
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and (low is None or value >= low))


def _check_state(state, path):
    """Refuse a saved training state that TrainState.from_json or the resume could not use."""
    checks = {
        "eta": PARAMETERS["eta"].contains,  # the current η: the table's bounds
        "epoch": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "best_accuracy": lambda v: v is None or _number(v),
        "best_epoch": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "since_change": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "stopped": lambda v: isinstance(v, str),
        "records": lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v),
        "rng_state": _rng_state_ok,
    }
    if "dropout" in state and not PARAMETERS["dropout"].contains(state["dropout"]):
        raise DataError(f"{path}: the checkpoint's state has a bad 'dropout' ({str(state['dropout'])[:40]}); "
                        f"the file is corrupt, {NOT_A_CHECKPOINT}")
    for key, ok in checks.items():
        if key not in state or not ok(state[key]):
            raise DataError(f"{path}: the checkpoint's state has a missing or bad {key!r} "
                            f"({str(state.get(key))[:40]}); the file is corrupt, {NOT_A_CHECKPOINT}")
    first = state["epoch"] - len(state["records"])  # the trainer keeps one per epoch; the API may keep fewer
    if first < 0:
        raise DataError(f"{path}: the checkpoint holds {len(state['records'])} epoch records for {state['epoch']} "
                        f"epochs trained; the file is corrupt, {NOT_A_CHECKPOINT}")
    for i, record in enumerate(state["records"], start=first):
        problem = _record_problem(record, i)
        if problem:
            raise DataError(f"{path}: the checkpoint's record of epoch {i} {problem}; the file is corrupt, "
                            f"{NOT_A_CHECKPOINT}")


def _count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


RECORD_FIELDS = {  # what the trainer writes per epoch: the resume reads them back as numbers
    "epoch": _count, "eta": PARAMETERS["eta"].contains, "seconds": lambda v: _number(v, 0.0),
    "n_training": _count, "n_evaluation": _count, "training_cost": _number, "evaluation_cost": _number,
    "training_accuracy": _count, "evaluation_accuracy": _count,
}
REQUIRED_FIELDS = ("epoch", "eta")


def _record_problem(record, i):
    """What is wrong with one saved epoch record (a dict of RECORD_FIELDS, of epoch i: the last
    records are of the last epochs), or None."""
    if not isinstance(record, dict):
        return f"is {type(record).__name__}, not a JSON object"
    for key in REQUIRED_FIELDS:
        if key not in record:
            return f"has no {key!r}"
    for key, value in record.items():
        if key not in RECORD_FIELDS:
            return f"has an unknown field {str(key)[:20]!r}"
        if not RECORD_FIELDS[key](value):
            return f"has {key!r} = {str(value)[:20]!r}, not a number of that kind"
    if record["epoch"] != i:
        return f"says epoch {record['epoch']}"
    return None


def _rng_state_ok(value):
    if value is None:
        return True
    try:
        np.random.default_rng().bit_generator.state = value
    except (TypeError, ValueError, KeyError, OverflowError):
        return False
    return True
