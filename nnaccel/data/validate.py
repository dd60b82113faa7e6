"""The checks data must pass before it trains a network: finite inputs in the book's range,
integer labels that name one of the network's classes, one target column per output neuron.

Every check reads the data in blocks of rows (a min and a max per block) so that 60,000
MNIST images cost no temporary copy; the slower search for the offending rows runs only
once a block has failed. Each refusal is one NNAccelError line naming the fix.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import NNAccelError

INPUT_LIMIT = 1.5  # |x| beyond this is not an image scaled to [0, 1] (unscaled pixels reach 255)
BLOCK_BYTES = 1 << 20  # rows per reduction: a block stays in the cache between its min and max


def check_scale(scale):
    """``scale`` as a float, or None; refuse a divisor that is not a finite number > 0."""
    if scale is None:
        return None
    try:  # an int of 400 digits has no float: refused like inf, not an OverflowError
        value = float(scale) if isinstance(scale, (int, float, np.integer, np.floating)) else math.nan
    except OverflowError:
        value = math.inf
    # a subnormal divisor (1e-320) turns every input into inf: refused here, not as "inputs run to inf"
    if isinstance(scale, bool) or not math.isfinite(value) or value <= 0 or not math.isfinite(1.0 / value):
        raise NNAccelError(f"scale must be a number > 0 that the inputs are divided by, got {repr(scale)[:40]}; "
                           "use 255 for 8-bit pixels")
    return value


def _blocks(x):
    itemsize = getattr(x.dtype, "itemsize", 8)  # array-api-strict dtypes carry no itemsize
    rows = max(1, BLOCK_BYTES // max(1, int(x.shape[1]) * itemsize))
    n = int(x.shape[0])
    for start in range(0, n, rows):
        yield start, x[start:min(start + rows, n), ...]  # the array API leaves stops beyond n unspecified


def input_range(xp, x, to_numpy=np.asarray):
    """(lowest, highest) value of the 2-D ``x``; NNAccelError if any value is NaN or infinite."""
    lo, hi, bad_rows = math.inf, -math.inf, []
    for start, block in _blocks(x):
        b_lo, b_hi = float(xp.min(block)), float(xp.max(block))
        if not (math.isfinite(b_lo) and math.isfinite(b_hi)):  # NaN propagates through min/max
            finite = to_numpy(xp.all(xp.isfinite(block), axis=1))
            bad_rows.extend((np.flatnonzero(~finite) + start).tolist())
        else:
            lo, hi = min(lo, b_lo), max(hi, b_hi)
    if bad_rows:
        raise NNAccelError(
            f"{len(bad_rows)} of {x.shape[0]} examples have NaN or infinite inputs (the first is "
            f"example {bad_rows[0]}); remove or repair those rows before training"
        )
    return lo, hi


def check_inputs(xp, x, scale=None, to_numpy=np.asarray):
    """Refuse non-finite inputs and, after dividing by ``scale``, values far outside [0, 1]."""
    if x.shape[0] == 0:
        raise NNAccelError("the data set is empty; give at least one example")
    lo, hi = input_range(xp, x, to_numpy)
    divisor = scale or 1.0
    largest = max(abs(lo), abs(hi))
    if largest / divisor > INPUT_LIMIT:
        if scale is None:
            suggest = 255 if largest <= 255 else float(f"{largest:.3g}")
            raise NNAccelError(
                f"the inputs run from {lo:g} to {hi:g}, far outside the [0, 1] that the book's networks "
                f"expect; pass scale={suggest:g} (command line: --scale {suggest:g}) to divide them, "
                "or scale them yourself"
            )
        raise NNAccelError(
            f"the inputs divided by scale={scale:g} run from {lo / divisor:g} to {hi / divisor:g}, "
            f"still far outside [0, 1]; use a scale of about {largest:.3g}"
        )


def labels_as_integers(labels, n_classes=None, where=""):
    """Host ``labels`` as int64 class numbers in [0, n_classes); NNAccelError naming the first bad one.

    Integer arrays pass as they are; floats pass when every value is a whole number (labels
    read from a CSV file); anything else (bool, text, objects, fractions) is refused.
    """
    labels = np.asarray(labels)
    where = f"{where}: " if where else ""
    kind = labels.dtype.kind
    if kind == "f":
        whole = np.isfinite(labels) & (labels == np.floor(labels))
        if not whole.all():
            first = int(np.flatnonzero(~whole)[0])
            raise NNAccelError(
                f"{where}labels must be whole class numbers, but example {first} has label "
                f"{labels[first]:g}; give integer labels (or one-hot target rows)"
            )
    elif kind not in "iu":
        raise NNAccelError(
            f"{where}labels must be integer class numbers, got an array of {labels.dtype}; "
            "convert them with labels.astype(int)"
        )
    limit = n_classes if n_classes is not None else 1 << 62
    outside = (labels < 0) | (labels >= limit)
    if outside.any():
        bad = np.flatnonzero(outside)
        first = int(bad[0])
        if n_classes is None:
            raise NNAccelError(f"{where}label {labels[first]:g} of example {first} is not a class "
                               "number 0, 1, 2, ...; correct the labels")
        values = np.unique(labels)
        if values[0] == 0 and values[-1] == values.size - 1:  # classes 0..K-1, all present
            raise NNAccelError(
                f"{where}the labels name {values.size} classes (0–{values.size - 1}) but the output layer "
                f"has {n_classes} neurons; use sizes ending with {values.size}"
            )
        raise NNAccelError(
            f"{where}labels must be class numbers 0–{n_classes - 1} for a network with {n_classes} "
            f"outputs, but example {first} has label {labels[first]:g} ({len(bad)} of {labels.size} "
            "out of range); correct the labels, or end sizes with the true number of classes"
        )
    return labels.astype(np.int64, copy=False)


def check_targets(xp, targets, n_out, to_numpy=np.asarray):
    """Refuse one-hot (or real-valued) target rows of the wrong width or with NaN/inf."""
    if targets.shape[1] != n_out:
        raise NNAccelError(
            f"targets have {targets.shape[1]} values per example but the output layer has {n_out}; "
            f"use sizes ending with {targets.shape[1]}"
        )
    try:
        input_range(xp, targets, to_numpy)
    except NNAccelError as e:
        raise NNAccelError(str(e).replace("inputs", "targets")) from None


def class_count(label_sets, where, declared=None):
    """The number of classes of a data set whose ``label_sets`` (host integer arrays) are given.

    ``declared`` (a named data set's count) bounds the labels. Otherwise the classes are
    0..K−1 with every one of them present: a stray label such as 200 among digits 0–9 leaves
    classes 10–199 empty and is refused as a corrupt label, never taken as 201 classes.
    """
    labels = [labels_as_integers(y, declared, where) for y in label_sets]
    if declared is not None:
        return declared
    values = np.unique(np.concatenate([y.reshape(-1) for y in labels]))
    top = int(values[-1]) if values.size else 0
    gaps = np.flatnonzero(values != np.arange(values.size))
    first_missing = int(gaps[0]) if gaps.size else top + 1
    if first_missing <= top:
        for y in labels:
            stray = np.flatnonzero(y >= first_missing)
            if stray.size:
                i = int(stray[0])
                raise NNAccelError(
                    f"{where}: label {y[i]} of example {i} lies beyond class {first_missing}, which no "
                    f"example has; labels must number the classes 0, 1, 2, ... without gaps, so correct "
                    f"the label file"
                )
    return max(top + 1, 2)
