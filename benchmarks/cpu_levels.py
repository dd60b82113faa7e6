"""Seconds per epoch of the C kernel at one instruction-set level (NNACCEL_CPU_LEVEL), best of N:
[784,30,10] and [784,100,10] float32 and [784,30,10] float64, m = 10, 10,000 random images.

    for l in avx512 portable avx2 base portable-base; do
        NNACCEL_CPU_LEVEL=$l python benchmarks/cpu_levels.py 5; done   # take turns, a few rounds
"""

import sys
import time

import numpy as np

import nnaccel
from nnaccel.epochs.fast import c_epoch

rng = np.random.default_rng(0)
x, y = rng.integers(0, 256, (10000, 784), dtype=np.uint8), rng.integers(0, 10, 10000)
res = [c_epoch.available()]
for sizes, dtype in (([784, 30, 10], "float32"), ([784, 100, 10], "float32"), ([784, 30, 10], "float64")):
    net = nnaccel.Network(sizes, device="cpu", dtype=dtype, seed=1)
    best = float("inf")
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 5):
        start = time.perf_counter()
        net.SGD((x, y), 1, 10, 0.5)
        best = min(best, time.perf_counter() - start)
    res.append(f"{best:.3f}")
print(" ".join(res))
