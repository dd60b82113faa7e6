"""nnaccel: the networks of Nielsen's *Neural Networks and Deep Learning*, on any array library.

The names below are imported on first use, so that the command line starts, and answers a
Ctrl-C in one line, before NumPy and the array libraries have loaded.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {"Backend": ".backend", "resolve": ".backend", "DataError": ".errors", "NNAccelError": ".errors",
            "Network": ".network", "Population": ".population", "load": ".serialization"}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    """``nnaccel.Network`` and the rest of ``__all__``, and submodules such as ``nnaccel.data``."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":  # the submodule exists but needs something missing
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
