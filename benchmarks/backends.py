"""Issue 18's backend comparison: one network, every library and path, taking turns, best of N.

    python -m benchmarks.backends [--rounds N] [--examples N] [--sizes 784 30 10] [-m 10]
                                  [--train N] [--only TEXT ...]

Trains [784, 30, 10] (m = 10, float32, cross-entropy) on Fashion-MNIST's 60,000 training images
(Debian's dataset-fashion-mnist; else the embedded mnist-10k's 8,000, said in the output).
Each round times every row once, in turn, so a loaded machine slows all rows alike; the best
round counts, in wall-clock seconds and in the process's CPU seconds (the steadier figure on a
shared machine: it leaves out the time other processes held the cores, and counts all of a
library's threads). The slow rows (eager JAX and PyTorch) time ``--examples`` rows, scaled to the
whole epoch. Also times the generic path with the pure update against the in-place one.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from benchmarks import cases


def _data():
    from nnaccel.data.datasets import FASHION_SYSTEM_DIR, load_dataset

    name = "fashion-mnist" if FASHION_SYSTEM_DIR.is_dir() else "mnist-10k"
    return load_dataset(name).train, name


def _nnaccel(backend, path, sizes, m, x, y):
    return cases.nnaccel_runner(backend, "cpu", sizes, m, "cross-entropy", "float32", x, y, path=path)


def _generic_with(backend, sizes, m, x, y, in_place):
    """The generic path with the in-place update (``in_place``) or the pure one JAX needs."""
    import nnaccel
    from nnaccel.epochs.generic import EpochOptions, GenericEpoch
    from nnaccel.optim import SGDState

    net = nnaccel.Network(sizes, device="cpu", backend=backend, dtype="float32", seed=0)
    net.backend = dataclasses.replace(net.backend, in_place=in_place)
    data, step = net.data((x, y)), GenericEpoch(net, EpochOptions(m, 0.5))
    return lambda: step(net, data, SGDState())


def rows(sizes, m, x, y, slow):
    """name → (function training one epoch of its rows, how many rows it trains)."""
    xs, ys = x[:slow], y[:slow]
    out = {
        "nnaccel numpy (C kernel)": (_nnaccel(None, "CEpoch", sizes, m, x, y), len(x)),
        "nnaccel numpy (NumPy fast path)": (_nnaccel(None, "NumpyEpoch", sizes, m, x, y), len(x)),
        "nnaccel numpy (generic, in place)": (_generic_with("numpy", sizes, m, x, y, True), len(x)),
        "nnaccel numpy (generic, pure)": (_generic_with("numpy", sizes, m, x, y, False), len(x)),
        "peer: hand-written NumPy": (cases.naive_runner(sizes, m, "cross-entropy", "float32", x, y), len(x)),
    }
    if cases.have("jax"):
        out["nnaccel jax (jit + scan)"] = (_nnaccel("jax", None, sizes, m, x, y), len(x))
        out["peer: hand-written JAX jit + scan"] = (cases.jax_runner("cpu", sizes, m, "cross-entropy", "float32", x, y),
                                                    len(x))
        out["nnaccel jax (generic, pure)"] = (_nnaccel("jax", "generic", sizes, m, xs, ys), slow)
    if cases.have("torch"):
        out["nnaccel torch (generic, in place)"] = (_generic_with("torch", sizes, m, xs, ys, True), slow)
        out["nnaccel torch (generic, pure)"] = (_generic_with("torch", sizes, m, xs, ys, False), slow)
        out["peer: PyTorch eager"] = (cases.torch_runner("cpu", sizes, m, "cross-entropy", "float32", xs, ys), slow)
        out["peer: torch.compile"] = (cases.torch_runner("cpu", sizes, m, "cross-entropy", "float32", xs, ys,
                                                         compiled=True), slow)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--examples", type=int, default=6000, help="rows the slow (eager) rows time")
    p.add_argument("--sizes", type=int, nargs="+", default=[784, 30, 10])
    p.add_argument("-m", type=int, default=10)
    p.add_argument("--train", type=int, help="train on the first N images only")
    p.add_argument("--only", action="append", metavar="TEXT", help="only the rows whose name holds TEXT (repeatable)")
    args = p.parse_args(argv)
    (x, y), source = _data()
    x, y = x[:args.train], y[:args.train]
    table = rows(args.sizes, args.m, x, y, args.examples)
    if args.only:
        table = {name: row for name, row in table.items() if any(text in name for text in args.only)}
    for run, _ in table.values():  # warm-up: compiles JAX's epochs and torch.compile's graphs
        run()
    wall = {name: float("inf") for name in table}
    cpu = dict(wall)
    for _ in range(args.rounds):
        for name, (run, n) in table.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name] = min(wall[name], (time.perf_counter() - start) * len(x) / n)
            cpu[name] = min(cpu[name], (time.process_time() - start_cpu) * len(x) / n)
    fastest, fastest_cpu = min(wall.values()), min(cpu.values())
    print(f"{args.sizes}, m = {args.m}, float32, cross-entropy, {source} ({len(x):,} images); "
          f"best of {args.rounds} rounds taken in turns, seconds per epoch of {len(x):,}")
    print("| library and path | wall s / epoch | × the fastest | CPU s / epoch | × the fastest |\n|---|---|---|---|---|")
    for name in sorted(table, key=cpu.get):
        print(f"| {name} | {wall[name]:.3f} | {wall[name] / fastest:.2f} | {cpu[name]:.3f} | {cpu[name] / fastest_cpu:.2f} |")


if __name__ == "__main__":
    np.seterr(over="ignore")
    main()
