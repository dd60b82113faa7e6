"""``nnaccel bench``: a short timing of one network on every backend this machine has.

It trains on random data of MNIST's shape for a few thousand examples per backend and
scales the time to an epoch of 60,000. The full comparison with PyTorch and the book's
own loop is the pytest-benchmark suite in benchmarks/ of the source tree.
"""

from __future__ import annotations

import time

from .backend import cuda_available, make_rng, torch_cuda_available
from .errors import NNAccelError

EPOCH = 60_000


def candidates():
    """(label, device, backend, fused) for every backend importable here."""
    import importlib.util

    from .fast.c_epoch import available

    level = available()
    fast = f"numpy (C kernel, {level})" if level else "numpy (fast path)"
    out = [(fast, "cpu", "numpy", True), ("numpy (generic)", "cpu", "numpy", False)]
    if importlib.util.find_spec("torch"):
        out.append(("torch cpu", "cpu", "torch", True))
        if torch_cuda_available():
            out.append(("torch cuda", "cuda", "torch", True))
    if cuda_available():
        out.append(("cupy cuda", "cuda", "cupy", True))
    return out


def time_epoch(device, backend, fused, sizes, mini_batch_size, dtype, examples, seed=0):
    """Seconds for one epoch of ``examples`` (best of two, after a warm-up epoch)."""
    from .network import Network
    from .optimizers import SGDState
    from .trainer import epoch_function

    rng = make_rng(seed)
    x = rng.integers(0, 256, (examples, sizes[0]), dtype="uint8")
    y = rng.integers(0, sizes[-1], examples)
    net = Network(sizes, cost="cross-entropy", device=device, backend=backend, dtype=dtype, seed=seed)
    data = net.data((x, y))
    step = epoch_function(net, fused, mini_batch_size=mini_batch_size)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        step(net, data, mini_batch_size, 0.5, 0.0, SGDState())
        float(net.xp.sum(net.weights[-1]))  # waits for the device
        best = min(best, time.perf_counter() - start)
    return best


def run(sizes=(784, 30, 10), mini_batch_size=10, dtype="float32", examples=6000, out=print):
    if examples < mini_batch_size:
        raise NNAccelError(f"--examples must be at least the mini-batch size {mini_batch_size}")
    out(f"nnaccel bench: {list(sizes)}, mini-batch {mini_batch_size}, {dtype}, "
        f"{examples} random examples per backend, scaled to an epoch of {EPOCH:,}")
    out(f"  {'backend':<26} {'s / epoch':>10} {'examples/s':>12}")
    for label, device, backend, fused in candidates():
        seconds = time_epoch(device, backend, fused, list(sizes), mini_batch_size, dtype, examples)
        per_epoch = seconds * EPOCH / examples
        out(f"  {label:<26} {per_epoch:>10.3f} {EPOCH / per_epoch:>12,.0f}")
