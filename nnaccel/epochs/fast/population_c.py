"""The compiled CPU path for populations: all K members' epoch in one call into C
(``_sgd.c``, the kernel a single network calls with K = 1), each gathered mini-batch shared
by every member.

Same formulas and batch order as the array-API population epoch (nnaccel.epochs.population),
member by member those of the C kernel for one network; tests/nets/test_population.py checks both.
Chosen on NumPy where the single-network C kernel would be (small mini-batches: MAX_WORK),
else the array-API path's batched BLAS products run.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..generic import EpochOptions
from ..population import Stacks
from .c_epoch import CODES, MAX_WORK, _sgd, aligned, check_level
from .common import flat_size, pack, supported, unpack

LINE = 64  # bytes: each member's row of the flat buffer starts on a cache line
# Members are independent, so the kernel trains disjoint sets of them in this many threads at
# once (it releases the GIL); a single network at m = 10 has no such parallelism to use.
THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def available():
    """The instruction-set level the C kernel runs at here, or None if not compiled (then
    populations train through the array-API path)."""
    return None if _sgd is None else _sgd.level


def _rows(k, sizes, dtype):
    """An empty (k, stride) buffer on 64-byte lines, stride ≥ flat_size(sizes) so that every
    member's row starts on a line too (as the single-network kernel's buffer does)."""
    per_line = LINE // dtype.itemsize
    stride = -(-flat_size(sizes) // per_line) * per_line
    return aligned(k * stride, dtype).reshape(k, stride)


def _flat(weights, biases, sizes, dtype):
    """The (k, stride) buffer with member i's [w¹ b¹ w² b² …] in row i, the padding zero."""
    flat = _rows(weights[0].shape[0], sizes, dtype)
    flat[:, flat_size(sizes):] = 0
    pack(flat[:, :flat_size(sizes)], weights, biases, sizes)
    return flat


class PopulationCEpoch:
    """A population's epoch on NumPy through the C kernel: one call for all members."""

    name = f"C population kernel ({available()})"
    selfcheck = False  # compiled and tested where it is built

    @classmethod
    def applies(cls, pop, options) -> bool:
        if _sgd is None or pop.backend.name != "numpy":
            return False
        if not supported(pop, EpochOptions(options.mini_batch_size, 1.0)):
            return False
        weights = sum(a * b for a, b in zip(pop.sizes[:-1], pop.sizes[1:]))
        return options.mini_batch_size * weights <= MAX_WORK

    def __init__(self, pop, options):
        check_level()
        self.options = options
        self.acts = "".join(CODES[a.name] for a in pop.activations)
        self.quadratic = pop.cost.name == "quadratic"
        self.hyper = [np.asarray(v, np.float64) for v in (options.eta, options.lmbda, options.momentum)]

    def __call__(self, pop, stacks, data, order):
        """Train ``stacks`` one epoch over ``data`` in the row ``order`` (or the data's own)."""
        sizes, dtype = pop.sizes, np.dtype(data.x.dtype)
        pixels = data.pixels is not None
        x = np.ascontiguousarray(data.pixels if pixels else data.x)
        targets = np.ascontiguousarray(data.targets, dtype)
        perm = None if order is None else np.ascontiguousarray(order, np.int64)
        params = _flat(stacks.weights, stacks.biases, sizes, dtype)
        velocity = None
        if any(self.options.momentum):
            if stacks.velocity_w:
                velocity = _flat(stacks.velocity_w, stacks.velocity_b, sizes, dtype)
            else:
                velocity = _rows(params.shape[0], sizes, dtype)
                velocity[...] = 0
        k = params.shape[0]
        bounds = [k * t // min(THREADS, k) for t in range(min(THREADS, k) + 1)]

        def train(a, b):  # members a … b−1: rows of the buffers, C-contiguous slices
            _sgd.epoch(params[a:b], None if velocity is None else velocity[a:b], tuple(sizes), self.acts,
                       self.quadratic, x, pixels, targets, perm, self.options.mini_batch_size,
                       *(h[a:b] for h in self.hyper))

        if len(bounds) == 2:
            train(0, k)
        else:
            with ThreadPoolExecutor(len(bounds) - 1) as pool:
                list(pool.map(train, bounds[:-1], bounds[1:]))
        new = Stacks(*unpack(params[:, :flat_size(sizes)], sizes))
        if velocity is not None:
            new.velocity_w, new.velocity_b = unpack(velocity[:, :flat_size(sizes)], sizes)
        return new

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} {self.options}>"
