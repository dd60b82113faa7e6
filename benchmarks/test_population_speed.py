"""Populations against sequential runs: K = 16 and K = 64 networks [784, 30, 10] at m = 10,
one epoch each, trained as one population or one after another (issue 10).

Each case records ``examples`` as K × the rows timed, so the report's "s / epoch (60k)" is
the time per network-epoch, comparable across K and with the single-network table.

Run in full by hand:  nice python -m pytest benchmarks/test_population_speed.py -p no:cacheprovider \
                          --benchmark-json=benchmarks/results/population-cpu-xeon-2core.json
then:                 python -m benchmarks.report benchmarks/results/population-cpu-xeon-2core.json
On a machine shared with other work, the rows taking turns (wall and CPU time, best round):
                      nice python -m benchmarks.test_population_speed [--rounds 5]
"""

import argparse
import time

import pytest

from benchmarks import cases

SIZES, M, COST, DTYPE = [784, 30, 10], 10, "cross-entropy", "float32"
EXAMPLES = 500 if cases.QUICK else 12_000  # the rows of the suite's data one epoch trains on
MEMBERS = (16,) if cases.QUICK else (16, 64)
IMPLS = [  # (name, backend, fused, population?)
    ("population-c-kernel", "numpy", True, True),  # members split over the cores (population_c.THREADS)
    ("population-c-kernel-1-thread", "numpy", True, True),
    ("population-array-api", "numpy", False, True),
    ("sequential-c-kernel", "numpy", True, False),
    ("sequential-array-api", "numpy", False, False),
    ("population-cupy", "cupy", True, True),  # the persistent kernel, one block per member, where it applies
    ("population-cupy-array-api", "cupy", False, True),
    ("sequential-cupy", "cupy", True, False),
]

_DATA = {}


def _data():
    if "x" not in _DATA:
        (x, y), source = cases.data()
        _DATA.update(x=x[:EXAMPLES], y=y[:EXAMPLES], source=source)
    return _DATA["x"], _DATA["y"], _DATA["source"]


def population_runner(backend, k, fused, x, y, threads=None):
    from nnaccel.epochs.fast import population_c
    from nnaccel.nets.population import Population

    pop = Population(SIZES, seeds=list(range(k)), cost=COST, backend=backend, device="auto", dtype=DTYPE)
    data = pop.data((x, y))
    sync = cases._sync(pop.backend)
    etas = [0.5 * 2 ** (i / k - 0.5) for i in range(k)]  # a small η ladder around the book's 0.5

    def run():
        saved = population_c.THREADS
        population_c.THREADS = threads or saved
        try:
            pop.train(data, 1, M, eta=etas, fused=fused)
        finally:
            population_c.THREADS = saved
        sync(pop.weights[-1])

    run.path = pop._choose(_options(k, etas), fused).name
    return run


def sequential_runner(backend, k, x, y, fused=True):
    import nnaccel
    from nnaccel.epochs import fast
    from nnaccel.epochs.generic import EpochOptions
    from nnaccel.optim import SGDState

    nets = [nnaccel.Network(SIZES, cost=COST, backend=backend, device="auto", dtype=DTYPE, seed=i) for i in range(k)]
    data = nets[0].data((x, y))
    steps = [fast.choose(net, EpochOptions(M, 0.5 * 2 ** (i / k - 0.5)), fused) for i, net in enumerate(nets)]
    sync = cases._sync(nets[0].backend)

    def run():
        for net, step in zip(nets, steps):
            step(net, data, SGDState())
        sync(nets[-1].weights[-1])

    run.path = steps[0].name
    return run


def _c_threads():
    from nnaccel.epochs.fast import population_c

    return population_c.THREADS


def _options(k, etas):
    from nnaccel.epochs.population import PopulationOptions

    return PopulationOptions(M, tuple(etas), (0.0,) * k, (0.0,) * k)


@pytest.mark.parametrize("k", MEMBERS, ids=lambda k: f"K{k}")
@pytest.mark.parametrize("impl", IMPLS, ids=[i[0] for i in IMPLS])
def test_population_epoch(benchmark, impl, k):
    name, backend, fused, population = impl
    if backend == "cupy" and not cases.cuda():
        pytest.skip("no CUDA GPU")
    x, y, source = _data()
    threads = 1 if name.endswith("1-thread") else None
    run = (population_runner(backend, k, fused, x, y, threads) if population
           else sequential_runner(backend, k, x, y, fused))
    benchmark.extra_info.update(config=f"population-K{k}", sizes=SIZES, mini_batch_size=M, cost=COST, dtype=DTYPE,
                                impl=name, members=k, examples=k * EXAMPLES, data=source,
                                threads=threads or (_c_threads() if fused and population and backend == "numpy" else 1),
                                flops_per_example=cases.flops_per_example(SIZES), path=run.path)
    rounds = 1 if cases.QUICK else 3
    benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1)


def interleaved(k, rounds):
    """{impl: (wall, CPU) seconds per network-epoch of 60,000 examples, best round}: the CPU
    rows take turns, so load from other work falls on all of them alike."""
    x, y, _ = _data()
    runs = {name: population_runner(backend, k, fused, x, y, 1 if name.endswith("1-thread") else None)
              if population else sequential_runner(backend, k, x, y, fused)
            for name, backend, fused, population in IMPLS if backend == "numpy"}
    best = {name: [float("inf")] * 2 for name in runs}
    scale = cases.EPOCH / (k * EXAMPLES)
    for run in runs.values():
        run()  # warm
    for _ in range(rounds):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            best[name][0] = min(best[name][0], (time.perf_counter() - wall) * scale)
            best[name][1] = min(best[name][1], (time.process_time() - cpu) * scale)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description="population vs sequential runs, interleaved")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    for k in MEMBERS:
        best = interleaved(k, args.rounds)
        print(f"K = {k}, {SIZES} m = {M} {COST} {DTYPE}: "
              f"s per network-epoch of 60k (best of {args.rounds}), wall / CPU")
        for name, (wall, cpu) in best.items():
            print(f"  {name:<30} {wall:.3f} / {cpu:.3f}")


if __name__ == "__main__":
    main()
