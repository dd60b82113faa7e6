"""Two builds of the C kernel timed against each other in one process, on a loaded machine.

    python -m benchmarks.c_kernel_ab OTHER/nnaccel/epochs/fast/_sgd.*.so [ROUNDS]

loads this tree's nnaccel.epochs.fast._sgd and the other build's, checks that one epoch gives
the same bits in both, then times single-network epochs of the book's [784,30,10] and
[784,100,10] at m = 10 (uint8 pixels, shuffled), float32 and float64, calling the two builds
alternately on the same buffers (who goes first alternates too), so that both see the same
load. Prints per case the median seconds per 60,000-example epoch of each build and the median
of the paired ratios this/other with its quartiles. A build from before the entry point took
K networks (scalar η, λ, μ) is called its own way.
"""

import importlib.util
import statistics
import sys
import time

import numpy as np

from benchmarks import cases
from nnaccel.epochs.fast import _sgd

CASES = [("book-30", [784, 30, 10], "quadratic"), ("book-100", [784, 100, 10], "cross-entropy")]
EXAMPLES = 12_000


def load(path):
    """The compiled module at ``path`` (its init function is PyInit__sgd, so the name is _sgd)."""
    spec = importlib.util.spec_from_file_location("_sgd", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def caller(module, *args):
    """One epoch through ``module`` with (η, λ, μ) as it takes them: K = 1 arrays, or scalars."""
    *fixed, eta, lmbda, mu = args
    if "one per member" in module.epoch.__doc__:
        return lambda: module.epoch(*fixed, *(np.array([h], np.float64) for h in (eta, lmbda, mu)))
    return lambda: module.epoch(*fixed, eta, lmbda, mu)


def main(other_path, rounds=21):
    other = load(other_path)
    assert other.level == _sgd.level, f"the builds run different levels: {other.level}, {_sgd.level}"
    (x, labels), source = cases.data()
    x, labels = np.ascontiguousarray(x[:EXAMPLES]), labels[:EXAMPLES]
    perm = np.random.default_rng(0).permutation(EXAMPLES).astype(np.int64)
    print(f"{source} data, {EXAMPLES} examples per call, level {_sgd.level}, {rounds} rounds")
    for name, sizes, cost in CASES:
        for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
            count = sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
            start = (np.random.default_rng(1).standard_normal(count) * 0.1).astype(dtype)
            raw = np.empty(count * dtype.itemsize + 64, np.uint8)  # on a cache line, as c_epoch's
            offset = -raw.ctypes.data % 64
            params = raw[offset:offset + count * dtype.itemsize].view(dtype)
            targets = np.eye(sizes[-1], dtype=dtype)[labels]
            args = (params, None, tuple(sizes), "ss", cost == "quadratic", x, True, targets, perm, 10,
                    cases.eta_for(cost), 0.0, 0.0)
            calls = {"this": caller(_sgd, *args), "other": caller(other, *args)}
            after = {}
            for which, call in calls.items():  # a warm-up that also checks the numbers
                params[...] = start
                call()
                after[which] = params.copy()
            assert np.array_equal(after["this"], after["other"]), f"{name} {dtype}: the builds differ"
            times = {"this": [], "other": []}
            for r in range(rounds):
                for which in ("this", "other") if r % 2 == 0 else ("other", "this"):
                    params[...] = start
                    t0 = time.perf_counter()
                    calls[which]()
                    times[which].append((time.perf_counter() - t0) * cases.EPOCH / EXAMPLES)
            ratios = [a / b for a, b in zip(times["this"], times["other"])]
            q1, _, q3 = statistics.quantiles(ratios, n=4)
            print(f"{name}-{dtype.name:8s} this {statistics.median(times['this']):.3f} s "
                  f"[{min(times['this']):.3f}–{max(times['this']):.3f}]  other {statistics.median(times['other']):.3f} s "
                  f"[{min(times['other']):.3f}–{max(times['other']):.3f}]  this/other {statistics.median(ratios):.3f} "
                  f"(quartiles {q1:.3f}–{q3:.3f})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
