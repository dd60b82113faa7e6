"""Backend-specific fast paths, each behind the contract of nnaccel.epochs.generic.

A path is a class with a ``name``, ``applies(net, options)``, ``__init__(net, options)`` that
binds the options once, and ``__call__(net, data, state)`` that trains one epoch (see
nnaccel.epochs.generic.EpochPath). ``REGISTRY`` lists the paths of each backend, best first, and
``choose`` takes the first that applies (after its self-check on first use, for paths whose
kernels have never run here), else the generic array-API path. On NumPy: the C kernel for
mini-batches small enough that it beats BLAS, else the NumPy fast path. On CuPy: the
persistent CUDA kernel (one launch per epoch) where it applies, else fused elementwise kernels
over a flat parameter buffer. On JAX: the whole epoch compiled by XLA (jit + lax.scan), for
every option of mini-batch SGD. Tests prove each gives the generic path's numbers.
"""

from __future__ import annotations

from ..generic import GenericEpoch
from . import selfcheck
from .c_epoch import CEpoch
from .common import flat_size, flat_views, supported
from .cupy_epoch import CupyEpoch
from .jax_epoch import JaxEpoch
from .numpy_epoch import NumpyEpoch
from .persistent_epoch import PersistentEpoch

REGISTRY = {
    "numpy": (CEpoch, NumpyEpoch),
    "cupy": (PersistentEpoch, CupyEpoch),
    "jax": (JaxEpoch,),
}

__all__ = ["REGISTRY", "choose", "candidates", "flat_size", "flat_views", "supported"]


def candidates(net, options, fused=True):
    """The registered paths that apply to ``net`` and ``options``, best first (before self-checks)."""
    if not fused:
        return []
    return [path for path in REGISTRY.get(net.backend.name, ()) if path.applies(net, options)]


def choose(net, options, fused=True):
    """The path that will train ``net`` with ``options`` (an EpochOptions), bound to them: the
    first registered path of the network's backend that applies and passes its self-check, else
    GenericEpoch. ``fused=False`` (``--no-fused``) always gives GenericEpoch."""
    for path in candidates(net, options, fused):
        if not path.selfcheck or selfcheck.verified(path, net, options):
            return path(net, options)
    return GenericEpoch(net, options)
