"""The API-path ratios of issue 8 measured interleaved, for a machine shared with other work.

    nice python -m benchmarks.api_ratio [--rounds 8]

pytest-benchmark times one row after another, so on a loaded machine the load moves between
rows; here the API path (float32 X through ``net.SGD``), the CLI path (uint8 pixels moved once)
and the naive whole-batch NumPy loop take turns, and both wall and CPU time are reported (the
best round of each). [784, 30, 10], m = 10, cross-entropy, 60,000 images, three epochs per
SGD call. The naive loop's BLAS may use several threads: compare its wall time.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks import cases
from benchmarks.peers.naive_numpy import NaiveNetwork


def measure(rounds=8, epochs=3):
    import nnaccel

    (x, y), source = cases.data()
    xf = (x / 255.0).astype(np.float32)
    net = nnaccel.Network([784, 30, 10], cost="cross-entropy", device="cpu", seed=0)
    pixels = net.data((x, y))
    naive = NaiveNetwork([784, 30, 10], "cross-entropy", np.float32)
    yf = np.eye(10, dtype=np.float32)[y]
    rows = {"api-float32": (lambda: net.SGD((xf, y), epochs, 10, 0.5), epochs),
            "cli-uint8": (lambda: net.SGD(pixels, epochs, 10, 0.5), epochs),
            "naive-numpy": (lambda: naive.epoch(xf, yf, 10, 0.5), 1)}
    best = {name: [float("inf"), float("inf")] for name in rows}
    with np.errstate(all="ignore"):
        for _ in range(rounds):
            for name, (run, per) in rows.items():
                wall, cpu = time.perf_counter(), time.process_time()
                run()
                best[name][0] = min(best[name][0], (time.perf_counter() - wall) / per)
                best[name][1] = min(best[name][1], (time.process_time() - cpu) / per)
    return best, source


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args(argv)
    best, source = measure(args.rounds)
    print(f"[784, 30, 10], m = 10, {source}, s per epoch (best of {args.rounds}): wall / CPU")
    for name, (wall, cpu) in best.items():
        print(f"  {name:<12} {wall:.3f} / {cpu:.3f}")
    api, cli, naive = best["api-float32"], best["cli-uint8"], best["naive-numpy"]
    print(f"API / CLI:   {api[0] / cli[0]:.2f} wall, {api[1] / cli[1]:.2f} CPU (goal ≤ 1.10)")
    print(f"API / naive: {api[0] / naive[0]:.2f} wall (goal ≤ 0.50)")


if __name__ == "__main__":
    main()
