"""A training run's outputs that must survive a bad path: the model and the --history file.

Each falls back to files.fallback_path (the working folder, else the temporary folder) when
its own path cannot be written, and says where it went: a trained model is never lost.
"""

from __future__ import annotations

import json
import warnings

from .. import _files as files
from ..errors import NNAccelError


def reason(error):
    """The words of an OSError (its strerror) or of an NNAccelError, for a one-line message."""
    return (error.strerror if isinstance(error, OSError) else None) or str(error)


def save_model(net, path):
    """(where the model went, None) — or, when ``path`` cannot be written, (fallback, message).

    A trained model is never lost to a bad output path: it goes to files.fallback_path (the
    working folder, else the temporary folder) and the message says where.
    """
    try:
        net.save(path)
        return path, None
    except (OSError, NNAccelError) as e:
        why = reason(e)
    other = files.fallback_path(path, "model")
    try:
        if other is None:
            raise OSError("no writable folder")
        net.save(other)
    except (OSError, NNAccelError) as e:
        return None, f"could not save the model to {path} ({why}), nor anywhere else ({reason(e)})"
    return other, f"could not save the model to {path} ({why}); saved it to {other} instead"


class HistoryFile:
    """--history: one JSON line per epoch, appended as the run goes.

    A new run appends to the file; a resumed run rewrites it (atomically) from the
    checkpoint's epochs, so it holds each epoch once. If appending fails mid-run, the history
    so far goes to files.fallback_path, with a warning, and the run goes on.
    """

    def __init__(self, path, resumed_records=None):
        self.path, self.records = path, list(resumed_records or [])
        if path and resumed_records is not None:
            self._rewrite(path)

    def _rewrite(self, path):
        with files.atomic_write(path, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in self.records)

    def append(self, record):
        self.records.append(record)
        if not self.path:
            return
        try:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as e:
            other = files.fallback_path(self.path, "history")
            try:
                if other is not None:
                    self._rewrite(other)
            except (OSError, NNAccelError):
                other = None
            warnings.warn(f"could not append to --history {self.path} ({reason(e)}); "
                          + (f"the history goes to {other} instead" if other else "the history is no longer written"),
                          RuntimeWarning, stacklevel=2)
            self.path = other
