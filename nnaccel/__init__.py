"""nnaccel: the networks of Nielsen's *Neural Networks and Deep Learning*, on any array library.

The public API is the names in ``__all__``. The errors come with the package; the other names
are imported when first used (PEP 562, from the fixed table below, nothing else), so that the
``nnaccel`` command starts, and answers a Ctrl-C in one line, before NumPy has loaded.
Submodules are imported by name: ``import nnaccel.data``.
"""

import importlib
from typing import TYPE_CHECKING

from ._version import __version__
from .errors import DataError, Interrupted, NNAccelError, NotAnArchive, TrainingDiverged, TrainingInterrupted

# name → (module, attribute): the public names that need NumPy, loaded on first use
_LAZY = {
    "Network": ("nnaccel.nets.network", "Network"),
    "Population": ("nnaccel.nets.population", "Population"),
    "train": ("nnaccel.training.trainer", "train"),
    "load": ("nnaccel.nets.network", "load"),
    "save": ("nnaccel.nets.network", "save"),
    "to_onnx": ("nnaccel.nets.network", "to_onnx"),
    "Backend": ("nnaccel.backend", "Backend"),
    "resolve_backend": ("nnaccel.backend", "resolve"),
    "resolve": ("nnaccel.backend", "resolve"),  # the older name of resolve_backend
}
__all__ = sorted(["__version__", "DataError", "Interrupted", "NNAccelError", "NotAnArchive", "TrainingDiverged",
                  "TrainingInterrupted", *_LAZY])


def __getattr__(name):
    """One of the names of ``_LAZY``, imported now; any other name is an AttributeError."""
    if name not in _LAZY:
        raise AttributeError(f"module 'nnaccel' has no attribute {name!r}; import submodules by name "
                             f"(import nnaccel.data), the public names are {', '.join(__all__)}")
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports these
    from .backend import Backend, resolve
    from .backend import resolve as resolve_backend
    from .nets.network import Network, load, save, to_onnx
    from .nets.population import Population
    from .training.trainer import train
