"""nnaccel: the networks of Nielsen's *Neural Networks and Deep Learning*, on any array library."""

from .backend import Backend, resolve
from .errors import DataError, NNAccelError
from .network import Network
from .population import Population
from .serialization import load

__all__ = ["Backend", "DataError", "NNAccelError", "Network", "Population", "load", "resolve"]
__version__ = "0.1.0"
