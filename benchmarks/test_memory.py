"""Peak host memory of one epoch beyond the data set, measured with tracemalloc (NumPy reports to it).

The figure (MB above what the data already took) goes into the benchmark JSON as extra_info
peak_extra_mb; it is reported, not asserted.
"""

import tracemalloc

import pytest

from benchmarks import cases


@pytest.mark.parametrize("fused", [True, False], ids=["fast", "generic"])
def test_epoch_memory(benchmark, fused):
    import nnaccel
    from nnaccel.epochs import fast
    from nnaccel.epochs.generic import EpochOptions
    from nnaccel.optim import SGDState

    (x, y), source = cases.data()
    n = 6_000 if cases.QUICK else cases.EPOCH
    x, y = x[:n], y[:n]
    net = nnaccel.Network([784, 30, 10], cost="quadratic", device="cpu", seed=0)
    data = net.data((x, y))
    step = fast.choose(net, EpochOptions(10, 3.0), fused)
    step(net, data, SGDState())  # warm: the fast path's one-off buffers exist now

    def epoch():
        tracemalloc.start()
        step(net, data, SGDState())
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak

    peak = benchmark.pedantic(epoch, rounds=1, iterations=1)
    data_mb = (data.x.nbytes + data.targets.nbytes + (data.pixels.nbytes if data.pixels is not None else 0)) / 2**20
    benchmark.extra_info.update(impl=f"memory-{'fast' if fused else 'generic'}", config="book-30",
                                sizes=[784, 30, 10], mini_batch_size=10, cost="quadratic", dtype="float32",
                                examples=n, data=source, flops_per_example=cases.flops_per_example([784, 30, 10]),
                                path=step.name, peak_extra_mb=round(peak / 2**20, 2), data_mb=round(data_mb, 1))
