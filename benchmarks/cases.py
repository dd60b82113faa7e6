"""What the suite times: configurations, the data, and one 'train one epoch' callable per implementation.

Every case trains on the first ``examples`` rows of a 60,000-image set (Fashion-MNIST where
Debian's package is installed, else random data of the same shape); the report scales the
time to an epoch of 60,000. ``NNACCEL_BENCH_QUICK=1`` shrinks everything for CI.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

QUICK = os.environ.get("NNACCEL_BENCH_QUICK") == "1"
EPOCH = 60_000

# (name, sizes, mini-batch, cost, dtypes, examples timed per round)
CONFIGS = [
    ("book-30", [784, 30, 10], 10, "quadratic", ("float32", "float64"), 12_000),
    ("book-30-xent", [784, 30, 10], 10, "cross-entropy", ("float32",), 12_000),
    ("book-100", [784, 100, 10], 10, "cross-entropy", ("float32", "float64"), 12_000),
    ("wide", [784, 1024, 1024, 10], 128, "cross-entropy", ("float32",), 6_144),
    ("large", [784, 4096, 4096, 10], 1024, "cross-entropy", ("float32",), 4_096),
]
if QUICK:
    CONFIGS = [(n, s, m, c, d[:1], 500) for n, s, m, c, d, _ in CONFIGS if n in ("book-30", "wide")]

SLOW_PEER_EXAMPLES = 500 if QUICK else 2_000  # the per-example book loop is timed on fewer


def have(module):
    return importlib.util.find_spec(module) is not None


def cuda():
    from nnaccel.backend import cuda_available

    return cuda_available()


def torch_cuda():
    from nnaccel.backend import torch_cuda_available

    return torch_cuda_available()


def data(n_classes=10):
    """(x uint8 (60000, 784), labels) — Fashion-MNIST if installed, else seeded random."""
    from nnaccel.data.datasets import FASHION_SYSTEM_DIR, load_dataset

    if FASHION_SYSTEM_DIR.is_dir():
        return load_dataset("fashion-mnist").train, "fashion-mnist"
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (EPOCH, 784), dtype=np.uint8), rng.integers(0, n_classes, EPOCH)), "synthetic"


def flops_per_example(sizes):
    """Multiply-adds ×2 of forward (1 product), BP2 (1) and BP4 (1) per layer: 6·Σ n_l·n_{l−1}."""
    return 6 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def eta_for(cost):
    return 3.0 if cost == "quadratic" else 0.5


def nnaccel_runner(backend, device, sizes, m, cost, dtype, x, y, path=None):
    """One epoch through nnaccel: the path choose() picks (path None), the generic one ("generic"),
    or the registered class of that name; None where that class does not apply or fails its self-check."""
    import nnaccel
    from nnaccel.epochs import fast
    from nnaccel.epochs.generic import EpochOptions, GenericEpoch
    from nnaccel.optim import SGDState

    net = nnaccel.Network(sizes, cost=cost, device=device, backend=backend, dtype=dtype, seed=0)
    d = net.data((x, y))
    options = EpochOptions(m, eta_for(cost))
    if path is None:
        step = fast.choose(net, options)
    elif path == "generic":
        step = GenericEpoch(net, options)
    else:
        cls = next((c for c in fast.REGISTRY.get(net.backend.name, ()) if c.__name__ == path), None)
        if cls is None or not cls.applies(net, options):
            return None
        if cls.selfcheck and not fast.selfcheck.verified(cls, net, options):
            return None
        step = cls(net, options)
    sync = _sync(net.backend)

    def run():
        step(net, d, SGDState())
        sync(net.weights[-1])

    run.path = step.name
    return run


def _sync(backend):
    if backend.name == "cupy":
        import cupy

        return lambda _: cupy.cuda.get_current_stream().synchronize()
    if backend.name == "torch" and backend.device_name != "cpu":
        import torch

        return lambda _: torch.cuda.synchronize()
    if backend.name == "jax":  # JAX returns before the work is done
        return lambda w: w.block_until_ready()
    return lambda _: None


def naive_runner(sizes, m, cost, dtype, x, y):
    from benchmarks.peers.naive_numpy import NaiveNetwork

    net = NaiveNetwork(sizes, cost, np.dtype(dtype))
    xf = (x / 255.0).astype(dtype)
    yf = np.eye(sizes[-1], dtype=dtype)[y]
    eta = eta_for(cost)
    return lambda: net.epoch(xf, yf, m, eta)


def book_runner(sizes, m, cost, x, y):
    from reference.book_loop import BookNetwork, CrossEntropyCost, QuadraticCost, as_book_data

    net = BookNetwork(sizes, QuadraticCost if cost == "quadratic" else CrossEntropyCost)
    data = as_book_data(x / 255.0, y)
    eta = eta_for(cost)
    return lambda: net.SGD(data, 1, m, eta)


def jax_gpu():
    from nnaccel.backend import jax_gpus

    return bool(jax_gpus())


def jax_runner(device, sizes, m, cost, dtype, x, y):
    """The hand-written JAX loop (jit + lax.scan over the epoch), on JAX's CPU or first GPU."""
    import jax

    from benchmarks.peers.jax_scan import runner

    return runner(sizes, cost, dtype, x, y, m, jax.devices("gpu" if device == "cuda" else "cpu")[0])


def torch_runner(device, sizes, m, cost, dtype, x, y, graphs=False, compiled=False):
    """PyTorch eager, through torch.compile (compiled=True), or (graphs=True, CUDA only) each step
    captured once in a torch.cuda.CUDAGraph."""
    import torch

    from benchmarks.peers.torch_sgd import compiled_epoch, epoch, graphed_epoch, make

    model, loss_fn = make(sizes, cost, dtype, device)
    opt = torch.optim.SGD(model.parameters(), lr=eta_for(cost))
    tdtype = getattr(torch, dtype)
    xt = torch.as_tensor(x, device=device).to(tdtype) / 255.0
    yt = torch.nn.functional.one_hot(torch.as_tensor(y, device=device), sizes[-1]).to(tdtype)
    sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)
    step = graphed_epoch(model, loss_fn, opt, xt, yt, m) if graphs else \
        compiled_epoch(model, loss_fn, opt, xt, yt, m) if compiled else None

    def run():
        if step is not None:
            step()
        else:
            epoch(model, loss_fn, opt, xt, yt, m)
        sync()

    return run


def matmul_runner(xp_name, sizes, m, dtype, n_batches):
    """The ceiling: the same three products per layer (forward, BP2, BP4), nothing else."""
    if xp_name == "cupy":
        import cupy as xp
    else:
        import numpy as xp
    rng = np.random.default_rng(0)
    ws = [xp.asarray(rng.standard_normal((b, a)).astype(dtype)) for a, b in zip(sizes[:-1], sizes[1:])]
    acts = [xp.asarray(rng.standard_normal((m, s)).astype(dtype)) for s in sizes]

    def run():
        for _ in range(n_batches):
            for layer, w in enumerate(ws):
                acts[layer] @ w.T
                acts[layer + 1] @ w
                acts[layer + 1].T @ acts[layer]
        if xp_name == "cupy":
            xp.cuda.get_current_stream().synchronize()

    return run
