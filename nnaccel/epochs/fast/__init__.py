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

Populations (K networks of one shape trained together) choose the same way, from
``POPULATION_REGISTRY`` (``choose(pop, options, fused, POPULATION_REGISTRY, GenericPopulationEpoch)``):
the C population kernel on NumPy, the persistent CUDA kernel (a block or cluster a member) on
CuPy, else the array-API population path.
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
from .population_c import PopulationCEpoch
from .population_cuda import PopulationPersistentEpoch

REGISTRY = {
    "numpy": (CEpoch, NumpyEpoch),
    "cupy": (PersistentEpoch, CupyEpoch),
    "jax": (JaxEpoch,),
}
POPULATION_REGISTRY = {
    "numpy": (PopulationCEpoch,),
    "cupy": (PopulationPersistentEpoch,),
}

__all__ = ["REGISTRY", "POPULATION_REGISTRY", "choose", "candidates", "flat_size", "flat_views", "supported"]


def candidates(net, options, fused=True, registry=None):
    """The registered paths that apply to ``net`` (a network, or a population with
    POPULATION_REGISTRY) and ``options``, best first (before self-checks)."""
    if not fused:
        return []
    return [path for path in (registry or REGISTRY).get(net.backend.name, ()) if path.applies(net, options)]


def _verified(path, net, options):
    """A path's first-use check: its own (a population path checks the kernel it launches), or
    selfcheck's against run_epoch."""
    own = getattr(path, "verified", None)
    return own(net, options) if own is not None else selfcheck.verified(path, net, options)


def choose(net, options, fused=True, registry=None, generic=GenericEpoch):
    """The path that will train ``net`` with ``options``, bound to them: the first path of
    ``registry`` (REGISTRY; POPULATION_REGISTRY for a population) for the backend that applies
    and passes its self-check, else ``generic``. ``fused=False`` (``--no-fused``) always gives
    ``generic``."""
    for path in candidates(net, options, fused, registry):
        if not path.selfcheck or _verified(path, net, options):
            return path(net, options)
    return generic(net, options)
