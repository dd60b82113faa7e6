"""to_device on the API's float path: time and tracemalloc peak of net.data((X, y)) for 60,000 × 784
float32 images (the figures in docs/reliability.md). Run: python -m benchmarks.data_copy"""

import time
import tracemalloc

import numpy as np

import nnaccel


def main():
    rng = np.random.default_rng(0)
    X = rng.random((60000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 60000)
    net = nnaccel.Network([784, 30, 10], device="cpu", seed=0)
    net.data((X[:10], y[:10]))  # warm imports
    best = 1e9
    for _ in range(5):
        t = time.perf_counter()
        d = net.data((X, y))
        best = min(best, time.perf_counter() - t)
        del d
    tracemalloc.start()
    d = net.data((X, y))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"net.data((X float32 60000x784, y)): best of 5 {best*1e3:.1f} ms, tracemalloc peak {peak/2**20:.1f} MiB "
          f"(X itself {X.nbytes/2**20:.1f} MiB), shares X's memory: {np.shares_memory(d.x, X)}")
    t = time.perf_counter()
    net.SGD((X, y), 1, 10, 3.0)
    e = time.perf_counter() - t
    print(f"net.SGD((X, y), 1 epoch, m=10): {e:.3f} s")


if __name__ == "__main__":
    main()
