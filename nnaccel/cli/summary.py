"""The one line ``nnaccel train`` ends with: best and final accuracy, epochs, time, and where
the model went, so that a run whose model was not saved says so instead of dropping it."""

from __future__ import annotations


def _score(record):
    correct, n = record["evaluation_accuracy"], record["n_evaluation"]
    return f"{correct} / {n} ({100.0 * correct / n:.2f} %)"


def summary_line(records, monitored, saved=None, save_failed=False):
    """``records``: the run's per-epoch dicts; ``monitored``: "test" or "validation"; ``saved``:
    the path the model went to (None if it was not saved); ``save_failed``: --save was given but
    no file could be written (the error says why)."""
    if saved:
        where = f"model saved to {saved}"
    elif save_failed:
        where = "model not saved (see the error above)"
    else:
        where = "not saved: add --save FILE"
    if not records:
        return f"nnaccel: done: no epochs trained; {where}"
    best = max(records, key=lambda r: r["evaluation_accuracy"])
    seconds = sum(r.get("seconds", 0.0) for r in records)
    epochs = f"{len(records)} epoch" + ("s" if len(records) != 1 else "")
    return (f"nnaccel: done: best {_score(best)} at epoch {best['epoch']}, final {_score(records[-1])} "
            f"on the {monitored} data, {epochs} in {seconds:.1f} s; {where}")
