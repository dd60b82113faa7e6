"""The CUDA persistent kernel for populations: one launch per epoch, one thread block per member.

epoch.cu's grid is one block per network (nnaccel/epochs/fast/persistent_epoch.py), each with its
own η, λ, μ and all reading the same data in the same order: a population's epoch is one
launch of it with K blocks. The parameters travel as a K × P flat buffer ([w¹ b¹ w² b² …] per
row) packed from the population's stacks and unpacked after. As for a single network, the
kernel is checked against the generic path before its first use on a GPU (selfcheck), for
every kind of update the members use, and steps aside on a mismatch.
"""

from __future__ import annotations

import numpy as np

from ..generic import EpochOptions
from ..population import Stacks
from . import selfcheck
from .common import flat_size, pack, unpack
from .persistent_epoch import PersistentEpoch


def _kinds(options):
    """EpochOptions of each kind of update the members use (with or without μ, with or without λ):
    the kernel branches on these, not on the values."""
    kinds = {(bool(mu), bool(lmbda)) for mu, lmbda in zip(options.momentum, options.lmbda)}
    return [EpochOptions(options.mini_batch_size, 0.5, lmbda=1.0 if lmbda else 0.0, momentum=0.5 if mu else 0.0)
            for mu, lmbda in sorted(kinds)]


class PopulationPersistentEpoch:
    """A population's epoch on CuPy in one launch of the persistent kernel (K blocks).

    ``module``, ``compile`` and the other keywords are PersistentEpoch's (the tests run the
    kernel on the CPU through tests/cuda_shim with ``module=numpy``).
    """

    name = "CUDA persistent kernel (one block per member)"
    selfcheck = True

    @classmethod
    def applies(cls, pop, options) -> bool:
        return all(PersistentEpoch.applies(pop, kind) for kind in _kinds(options))

    @classmethod
    def verified(cls, pop, options) -> bool:
        """Whether the kernel gives the generic path's numbers here for every kind of update the
        members use (checked on a single network like member 0, once per kind; cached)."""
        net = pop[0]
        return all(selfcheck.verified(PersistentEpoch, net, kind) for kind in _kinds(options))

    def __init__(self, pop, options, **kernel):
        self.options = options
        self.path = PersistentEpoch(pop, EpochOptions(options.mini_batch_size, options.eta[0]), **kernel)
        self.sizes = list(pop.sizes)

    def __call__(self, pop, stacks, data, order):
        """Train ``stacks`` one epoch over ``data`` in the row ``order`` (or the data's own)."""
        xp, o, sizes = self.path.module, self.options, self.sizes
        k = int(stacks.weights[0].shape[0])
        n = len(data)
        params = _pack(xp, stacks.weights, stacks.biases, sizes)
        velocity = None
        if any(o.momentum):
            velocity = (_pack(xp, stacks.velocity_w, stacks.velocity_b, sizes) if stacks.velocity_w
                        else xp.zeros((k, flat_size(sizes)), params.dtype))
        perm = np.arange(n, dtype=np.int64) if order is None else np.asarray(order, np.int64)
        self.path.train(params, velocity, data, xp.asarray(perm), eta=list(o.eta), lmbda=list(o.lmbda),
                        momentum=list(o.momentum))
        new = Stacks(*_unpack(xp, params, sizes))
        if velocity is not None:
            new.velocity_w, new.velocity_b = _unpack(xp, velocity, sizes)
        return new

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} {self.options}>"


def _pack(xp, weights, biases, sizes):
    """The K × P buffer of the stacks: row i is member i's [w¹ b¹ w² b² …]."""
    return pack(xp.empty((int(weights[0].shape[0]), flat_size(sizes)), weights[0].dtype), weights, biases, sizes)


def _unpack(xp, flat, sizes):
    return unpack(flat, sizes, copy=xp.ascontiguousarray)
