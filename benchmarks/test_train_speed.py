"""Seconds per epoch of the book's networks and larger ones, nnaccel against its peers.

Run in full by hand:  python -m pytest benchmarks --benchmark-json=benchmarks/results/NAME.json
then:                 python -m benchmarks.report benchmarks/results/NAME.json
"""

import pytest

from benchmarks import cases

IMPLS = [
    ("nnaccel-numpy", "cpu", None),
    ("nnaccel-numpy-generic", "cpu", None),
    ("nnaccel-torch-cpu", "cpu", "torch"),
    ("nnaccel-cupy", "cuda", "cupy"),
    ("nnaccel-torch-cuda", "cuda", "torch"),
    ("peer-book-loop", "cpu", None),
    ("peer-naive-numpy", "cpu", None),
    ("peer-torch-cpu", "cpu", "torch"),
    ("peer-torch-cuda", "cuda", "torch"),
    ("ceiling-matmul-numpy", "cpu", None),
    ("ceiling-matmul-cupy", "cuda", "cupy"),
]
PARAMS = [
    pytest.param(name, sizes, m, cost, dtype, examples, impl, id=f"{name}-{dtype}-{impl[0]}")
    for name, sizes, m, cost, dtypes, examples in cases.CONFIGS
    for dtype in dtypes
    for impl in IMPLS
]

_DATA = {}


def _data():
    if "x" not in _DATA:
        (x, y), source = cases.data()
        _DATA.update(x=x, y=y, source=source)
    return _DATA["x"], _DATA["y"], _DATA["source"]


@pytest.mark.parametrize("config,sizes,m,cost,dtype,examples,impl", PARAMS)
def test_epoch(benchmark, config, sizes, m, cost, dtype, examples, impl):
    name, device, needs = impl
    book_net = config.startswith("book")
    if needs == "torch" and not cases.have("torch"):
        pytest.skip("PyTorch not installed")
    if device == "cuda" and not (cases.cuda() if needs == "cupy" else cases.torch_cuda()):
        pytest.skip("no CUDA GPU")
    if name == "peer-book-loop" and (not book_net or dtype != "float32"):
        pytest.skip("the per-example loop is timed once per book network (it computes in float64)")
    if name.startswith("ceiling") and book_net:
        pytest.skip("the matmul ceiling is for the large networks")
    if name == "peer-book-loop":
        examples = cases.SLOW_PEER_EXAMPLES
    x_all, y_all, source = _data()
    x, y = x_all[:examples], y_all[:examples]

    if name.startswith("nnaccel"):
        run = cases.nnaccel_runner(needs, device, sizes, m, cost, dtype, x, y, fused=not name.endswith("generic"))
    elif name == "peer-book-loop":
        run = cases.book_runner(sizes, m, cost, x, y)
    elif name == "peer-naive-numpy":
        run = cases.naive_runner(sizes, m, cost, dtype, x, y)
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
