"""``nnaccel bench``: a short timing of one network on every backend this machine has.

It trains on random data of MNIST's shape for a few thousand examples per backend and
scales the time to an epoch of 60,000. The full comparison with PyTorch and the book's
own loop is the pytest-benchmark suite in benchmarks/ of the source tree.
"""

from __future__ import annotations

import importlib.util
import time

from ..backend import cuda_available, jax_gpus, make_rng, torch_cuda_available
from ..core import memory
from ..epochs import fast
from ..epochs.generic import EpochOptions
from ..errors import NNAccelError
from ..nets.network import Network
from ..optim import SGDState

EPOCH = 60_000


def candidates():
    """(device, backend, fused) for every backend importable here; NumPy with and without its fast paths."""
    out = [("cpu", "numpy", True), ("cpu", "numpy", False)]
    if importlib.util.find_spec("torch"):
        out.append(("cpu", "torch", True))
        if torch_cuda_available():
            out.append(("cuda", "torch", True))
    if importlib.util.find_spec("jax"):
        out.append(("cpu", "jax", True))
        if jax_gpus():
            out.append(("cuda", "jax", True))
    if cuda_available():
        out += [("cuda", "cupy", True), ("cuda", "cupy", False)]
    return out


def time_epoch(device, backend, fused, sizes, mini_batch_size, dtype, examples, seed=0):
    """(seconds for one epoch of ``examples``, best of two after a warm-up (which also compiles JAX's
    epoch); the name of the path that ran)."""
    rng = make_rng(seed)
    x = rng.integers(0, 256, (examples, sizes[0]), dtype="uint8")
    y = rng.integers(0, sizes[-1], examples)
    net = Network(sizes, cost="cross-entropy", device=device, backend=backend, dtype=dtype, seed=seed)
    data = net.data((x, y))
    path = fast.choose(net, EpochOptions(mini_batch_size, 0.5), fused)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        path(net, data, SGDState())
        float(net.xp.sum(net.weights[-1]))  # waits for the device
        best = min(best, time.perf_counter() - start)
    return best, path.name


def run(sizes=(784, 30, 10), mini_batch_size=10, dtype="float32", examples=6000, out=print):
    if examples < mini_batch_size:
        raise NNAccelError(f"--examples must be at least the mini-batch size {mini_batch_size}")
    # before the random data are drawn: --examples 10**11 is one line naming the data, not a MemoryError
    itemsize = 4 if dtype == "float32" else 8
    memory.check_network(list(sizes), itemsize)
    memory.check(memory.network_bytes(sizes, itemsize) + memory.batch_bytes(sizes, mini_batch_size, itemsize)
                 + memory.data_bytes(examples, sizes[0], itemsize, memory.DATA_COPIES + 1),  # + the host's draw
                 f"timing {examples} examples of {sizes[0]} numbers", "use a smaller --examples")
    out(f"nnaccel bench: {list(sizes)}, mini-batch {mini_batch_size}, {dtype}, "
        f"{examples} random examples per backend, scaled to an epoch of {EPOCH:,}")
    out(f"  {'backend':<12} {'path that ran':<28} {'s / epoch':>10} {'examples/s':>12}")
    for device, backend, fused in candidates():
        seconds, name = time_epoch(device, backend, fused, list(sizes), mini_batch_size, dtype, examples)
        per_epoch = seconds * EPOCH / examples
        out(f"  {backend + ' ' + device:<12} {name:<28} {per_epoch:>10.3f} {EPOCH / per_epoch:>12,.0f}")
