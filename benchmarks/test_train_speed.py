"""Seconds per epoch of the book's networks and larger ones, nnaccel against its peers.

Run in full by hand:  python -m pytest benchmarks --benchmark-json=benchmarks/results/NAME.json
then:                 python -m benchmarks.report benchmarks/results/NAME.json

``NNACCEL_BENCH_IMPLS=impl,impl:config+config,…`` times only those rows (``nnaccel selftest``
picks the GPU rows and the C kernel's row on the book's networks this way).
"""

import os

import pytest

from benchmarks import cases

# (row name, device, library it needs, the nnaccel path it forces: a class name in
# nnaccel.epochs.fast.REGISTRY, "generic", or None for what choose() picks)
IMPLS = [
    ("nnaccel-numpy", "cpu", None, None),
    ("nnaccel-numpy-generic", "cpu", None, "generic"),
    ("nnaccel-torch-cpu", "cpu", "torch", None),
    ("nnaccel-jax", "cpu", "jax", None),
    ("nnaccel-jax-generic", "cpu", "jax", "generic"),
    ("nnaccel-cupy-persistent", "cuda", "cupy", "PersistentEpoch"),
    ("nnaccel-cupy-fused", "cuda", "cupy", "CupyEpoch"),
    ("nnaccel-cupy-generic", "cuda", "cupy", "generic"),
    ("nnaccel-torch-cuda", "cuda", "torch", None),
    ("nnaccel-jax-cuda", "cuda", "jax", None),
    ("peer-book-loop", "cpu", None, None),
    ("peer-naive-numpy", "cpu", None, None),
    ("peer-torch-cpu", "cpu", "torch", None),
    ("peer-torch-compile-cpu", "cpu", "torch", None),
    ("peer-jax-scan-cpu", "cpu", "jax", None),
    ("peer-torch-cuda", "cuda", "torch", None),
    ("peer-torch-cuda-graphs", "cuda", "torch", None),
    ("peer-jax-scan-cuda", "cuda", "jax", None),
    ("ceiling-matmul-numpy", "cpu", None, None),
    ("ceiling-matmul-cupy", "cuda", "cupy", None),
]


def selected(spec):
    """{row name: set of configs or None (all)} from NNACCEL_BENCH_IMPLS, or None: every row."""
    if not spec:
        return None
    out = {}
    for item in spec.split(","):
        name, _, configs = item.strip().partition(":")
        out[name] = set(configs.split("+")) if configs else None
    return out


SELECTED = selected(os.environ.get("NNACCEL_BENCH_IMPLS"))
PARAMS = [
    pytest.param(name, sizes, m, cost, dtype, examples, impl, id=f"{name}-{dtype}-{impl[0]}")
    for name, sizes, m, cost, dtypes, examples in cases.CONFIGS
    for dtype in dtypes
    for impl in IMPLS
    if SELECTED is None or (impl[0] in SELECTED and (SELECTED[impl[0]] is None or name in SELECTED[impl[0]]))
]

_DATA = {}


def _data():
    if "x" not in _DATA:
        (x, y), source = cases.data()
        _DATA.update(x=x, y=y, source=source)
    return _DATA["x"], _DATA["y"], _DATA["source"]


@pytest.mark.parametrize("config,sizes,m,cost,dtype,examples,impl", PARAMS)
def test_epoch(benchmark, config, sizes, m, cost, dtype, examples, impl):
    name, device, needs, path = impl
    book_net = config.startswith("book")
    if needs in ("torch", "jax") and not cases.have(needs):
        pytest.skip(f"{needs} not installed")
    gpu = {"cupy": cases.cuda, "jax": cases.jax_gpu}.get(needs, cases.torch_cuda)
    if device == "cuda" and not gpu():
        pytest.skip("no CUDA GPU" + (" that JAX sees (its CUDA build: pip install 'jax[cuda12]')" if needs == "jax" else ""))
    if name == "peer-torch-compile-cpu" and cases.QUICK:
        pytest.skip("torch.compile compiles for a minute or more on 2 cores; timed in the full run only")
    if name == "peer-book-loop" and (not book_net or dtype != "float32"):
        pytest.skip("the per-example loop is timed once per book network (it computes in float64)")
    if name.startswith("ceiling") and book_net:
        pytest.skip("the matmul ceiling is for the large networks")
    if name in ("peer-book-loop", "nnaccel-jax-generic"):  # eager JAX: ~1 ms of dispatch per step
        examples = cases.SLOW_PEER_EXAMPLES
    x_all, y_all, source = _data()
    x, y = x_all[:examples], y_all[:examples]

    if name.startswith("nnaccel"):
        run = cases.nnaccel_runner(needs, device, sizes, m, cost, dtype, x, y, path=path)
        if run is None:
            pytest.skip(f"{path} does not apply to this network, or turned itself off (see its warning)")
    elif name == "peer-book-loop":
        run = cases.book_runner(sizes, m, cost, x, y)
    elif name == "peer-naive-numpy":
        run = cases.naive_runner(sizes, m, cost, dtype, x, y)
    elif name == "peer-torch-cuda-graphs":
        run = cases.torch_runner(device, sizes, m, cost, dtype, x, y, graphs=True)
    elif name == "peer-torch-compile-cpu":
        run = cases.torch_runner(device, sizes, m, cost, dtype, x, y, compiled=True)
    elif name.startswith("peer-jax-scan"):
        run = cases.jax_runner(device, sizes, m, cost, dtype, x, y)
    elif name.startswith("peer-torch"):
        run = cases.torch_runner(device, sizes, m, cost, dtype, x, y)
    else:
        run = cases.matmul_runner(needs or "numpy", sizes, m, dtype, examples // m)

    benchmark.extra_info.update(config=config, sizes=sizes, mini_batch_size=m, cost=cost, dtype=dtype,
                                impl=name, examples=examples, data=source,
                                flops_per_example=cases.flops_per_example(sizes),
                                path=getattr(run, "path", ""))
    rounds = 1 if cases.QUICK else 3
    benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1)
