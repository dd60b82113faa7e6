"""The compiled CPU path: one call into C (``_sgd.c``) per epoch for the book's small networks.

The kernel trains K networks of one shape; one network is its K = 1 (population_c.py passes
a population's K). At m = 10 even the NumPy fast path spends half of each step calling NumPy; the C loop makes
no calls at all and lays the products out for the CPU's vector units (see _sgd_kernel.h).
Same formulas, same batch order (the permutation comes from the network's generator, as in
run_epoch), same results to rounding (tests/epochs/test_fast.py). Large mini-batches stay with the
NumPy path, whose BLAS products are faster there.
"""

from __future__ import annotations

import os

import numpy as np

from ...errors import NNAccelError
from ...optim import SGDState
from ..generic import EpochPath
from .common import flat_size, pack, supported, unpack

try:
    from . import _sgd
except ImportError:  # built without a C compiler: the NumPy fast path runs instead
    _sgd = None

CODES = {"sigmoid": "s", "tanh": "t", "relu": "r", "linear": "l", "softmax": "m"}
# Above this many multiply-adds per mini-batch (m × weights) BLAS beats the C loop. Measured
# on the 2-core Xeon: [784,100,10] at m = 10 (0.8 M) 1.5× and at m = 32 (2.5 M) 1.04× faster in
# C; [784,300,100,10] at m = 32 (8.5 M) 1.2× and [784,1024,1024,10] at m = 128 (238 M) 5.6×
# faster through BLAS.
MAX_WORK = 4_000_000


def available():
    """The instruction-set level the C kernel runs at here ("avx512", "avx2", "base"), or None.

    The fast levels order their sums by their vector width (and use FMA), so one seed gives
    float32 results that differ in the last bits between them; NNACCEL_CPU_LEVEL=portable runs
    "portable-avx2" or "portable-base", whose numbers are the same on every x86-64 CPU."""
    return None if _sgd is None else _sgd.level


LEVELS = ("portable", "portable-base", "avx512", "avx2", "base")  # what NNACCEL_CPU_LEVEL may say (_sgd.c)


def check_level():
    """Refuse an NNACCEL_CPU_LEVEL the kernel does not know: _sgd.c would ignore a typo such as
    "portabel" and run the fast level, so the reproducible numbers asked for would silently not be."""
    level = os.environ.get("NNACCEL_CPU_LEVEL")
    if level and level not in LEVELS:
        raise NNAccelError(f"NNACCEL_CPU_LEVEL={level!r} is not a level of the C kernel; use one of "
                           f"{', '.join(LEVELS)}, or unset it for the fastest this CPU runs")


def aligned(size, dtype):
    """An empty buffer of ``size`` values starting on a 64-byte line: the kernel's vector loads of
    w's rows then never straddle two cache lines (unaligned, an epoch was measured 15 % slower)."""
    raw = np.empty(size * dtype.itemsize + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + size * dtype.itemsize].view(dtype)


def _flat(arrays_w, arrays_b, sizes, dtype):
    """[w¹ b¹ w² b² …] in one aligned buffer."""
    return pack(aligned(flat_size(sizes), dtype), arrays_w, arrays_b, sizes)


class CEpoch(EpochPath):
    """run_epoch for NumPy networks, through the C kernel: one call per epoch."""

    name = f"C kernel ({available()})"
    optimizers = ("sgd",)  # mini-batch SGD with L2 and momentum; the state is optimizers.SGDState

    @classmethod
    def applies(cls, net, options):
        if _sgd is None or net.backend.name != "numpy" or not supported(net, options, cls.optimizers):
            return False
        weights = sum(a * b for a, b in zip(net.sizes[:-1], net.sizes[1:]))
        return options.mini_batch_size * weights <= MAX_WORK

    def __init__(self, net, options):
        super().__init__(net, options)
        check_level()
        self.acts = "".join(CODES[a.name] for a in net.activations)
        self.quadratic = net.cost.name == "quadratic"

    def __call__(self, net, data, state):
        o = self.options
        dtype = data.x.dtype
        n = len(data)
        perm = np.asarray(net.rng.permutation(n), np.int64) if o.shuffle else None
        pixels = data.pixels is not None
        # Both are the data's own arrays (no copy) when C-contiguous and of the parameters'
        # type, as DeviceData makes them: the kernel reads float rows in place, as it reads pixels.
        x = np.ascontiguousarray(data.pixels if pixels else data.x)
        targets = np.ascontiguousarray(data.targets, dtype)
        params = _flat(net.weights, net.biases, net.sizes, dtype)
        velocity = None
        if o.momentum:
            if state.velocity_w:
                velocity = _flat(state.velocity_w, state.velocity_b, net.sizes, dtype)
            else:
                velocity = aligned(params.size, dtype)
                velocity[...] = 0
        _sgd.epoch(params, velocity, tuple(net.sizes), self.acts, self.quadratic, x, pixels, targets, perm,
                   o.mini_batch_size, *(np.array([h], np.float64) for h in (o.eta, o.lmbda, o.momentum)))
        net.weights, net.biases = unpack(params, net.sizes)
        if o.momentum:
            return SGDState(*unpack(velocity, net.sizes))
        return state
