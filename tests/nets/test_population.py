"""Populations: K networks trained together give, member by member, the numbers of K networks
trained alone, on every backend; the C population kernel gives the array-API path's; and a
member that diverges, stops early or is pruned is frozen without stopping the others."""

import os
import shutil

import numpy as np
import pytest

import nnaccel
from nnaccel.epochs.fast import population_c
from nnaccel.epochs.fast.population_c import PopulationCEpoch
from nnaccel.epochs.fast.population_cuda import PopulationPersistentEpoch
from nnaccel.epochs.population import GenericPopulationEpoch, PopulationOptions, Stacks
from nnaccel.errors import NNAccelError
from nnaccel.nets.population import Population

needs_c = pytest.mark.skipif(population_c.available() is None and not os.environ.get("NNACCEL_REQUIRE_C"),
                             reason="the C population kernel was not compiled here (no C compiler at install time)")


def require_c():
    """Under NNACCEL_REQUIRE_C=1 (CI) a missing kernel fails the test rather than skipping it."""
    assert population_c.available() is not None, "nnaccel.epochs.fast._sgd was not compiled"

SIZES = [784, 12, 10]
SEEDS = [1, 2, 3]
ETAS = [0.1, 0.5, 3.0]
LMBDAS = [0.0, 1.0, 5.0]


@pytest.fixture(scope="module")
def data(mnist10k):
    """205 images (uint8) and labels: 20 mini-batches of 10 and a last one of 5."""
    return mnist10k.train[0][:205], mnist10k.train[1][:205]


def params(net):
    w, b = net.parameters_numpy()
    return w + b


# XLA's batched product (K members at once) and its product of one member round differently
# from each other, and η = 3 amplifies that over 42 steps: 3e-12 (eager JAX against NumPy: 8e-13);
# a diverged member's 1e20 weights differ by 4e-14 relatively. How XLA's CPU threads split the
# products varies with the machine's load, and 1.4e-11 (6e-12 relatively) was seen under load.
# cuBLAS's batched products and one network's round differently too (measured on an H200,
# 2026-12-04): 4318.104019317414 against 4318.104019317416, and at most 4.9e-14 relatively, with
# the diverged member's weights at ~1e37. 1e-10 still fails any real difference (a wrong η,
# step or order moves weights by ≥ 1e-4). NumPy's population runs the C kernel: 1e-12, absolute.
BATCHED_TOLERANCE = dict(atol=1e-10, rtol=1e-11)
BATCHED_ROUNDS_DIFFERENTLY = ("jax", "cupy")


def assert_same(got, want, atol=1e-12):
    """``got``'s parameters are ``want``'s: to ``atol`` where a population's products round as one
    network's do, to BATCHED_TOLERANCE on the backends where they do not."""
    batched = atol and got.backend.name in BATCHED_ROUNDS_DIFFERENTLY
    tolerance = BATCHED_TOLERANCE if batched else dict(atol=atol, rtol=0)
    for g, w in zip(params(got), params(want)):
        np.testing.assert_allclose(g, w, **tolerance)


def single(backend, seed, data, epochs, eta, order_seed=None, fused=True, **options):
    """Network(sizes, seed=seed) trained alone (on NumPy through the C kernel, as the population
    is, unless ``fused`` is false); ``order_seed``: shuffled by that seed's generator."""
    settings = {k: options.pop(k) for k in ("cost", "hidden_activation", "output_activation") if k in options}
    net = nnaccel.Network(SIZES, seed=seed, dtype="float64", backend=backend, **settings)
    if order_seed is not None:
        net.rng = nnaccel.Network(SIZES, seed=order_seed, dtype="float64", device="cpu").rng
    net.SGD(data, epochs, 10, eta, fused=fused, **options)
    return net


CASES = {
    "plain": dict(),
    "momentum": dict(momentum=[0.0, 0.5, 0.9]),  # one member without μ: sgd_update's plain branch
    "softmax": dict(cost="log-likelihood", output_activation="softmax", hidden_activation="relu"),
}


@pytest.mark.parametrize("case", CASES)
def test_each_member_equals_its_network_trained_alone(case, backend, data):
    """Member i's weights equal Network(sizes, seed=seeds[i]).SGD(..., eta[i], lmbda=lmbda[i],
    shuffle=False)'s, to 1e-12 in float64."""
    options = CASES[case]
    settings = {k: v for k, v in options.items() if k != "momentum"}
    momentum = options.get("momentum", 0.0)
    pop = Population(SIZES, seeds=SEEDS, dtype="float64", backend=backend, **settings)
    pop.SGD(data, 2, 10, eta=ETAS, lmbda=LMBDAS, momentum=momentum, shuffle=False)
    for i, seed in enumerate(SEEDS):
        mu = momentum[i] if isinstance(momentum, list) else momentum
        assert_same(pop[i], single(backend, seed, data, 2, ETAS[i], lmbda=LMBDAS[i], momentum=mu, shuffle=False,
                                   **settings))


def test_shuffled_members_all_see_member_0s_batch_order(backend, data):
    """Common random numbers: every epoch's order comes from seeds[0]'s generator, so member 0
    equals its own shuffled run and member i the run of Network(seed=seeds[i]) fed that order."""
    pop = Population(SIZES, seeds=SEEDS, dtype="float64", backend=backend)
    pop.train(data, 2, 10, eta=ETAS, lmbda=LMBDAS, momentum=0.5)
    assert_same(pop[0], single(backend, SEEDS[0], data, 2, ETAS[0], lmbda=LMBDAS[0], momentum=0.5))
    for i in (1, 2):
        assert_same(pop[i], single(backend, SEEDS[i], data, 2, ETAS[i], order_seed=SEEDS[0],
                                   lmbda=LMBDAS[i], momentum=0.5))
    alone = single(backend, SEEDS[1], data, 2, ETAS[1], lmbda=LMBDAS[1], momentum=0.5)  # its own order
    assert max(np.abs(a - b).max() for a, b in zip(params(pop[1]), params(alone))) > 1e-6


def test_member_i_is_initialised_as_network_with_seed_i():
    pop = Population([5, 4, 3], seeds=[7, 8], init="large", dtype="float64", device="cpu")
    assert len(pop) == 2 and pop[-1].sizes == [5, 4, 3]
    x = np.random.default_rng(0).random((6, 5))
    outputs = pop.feedforward(x)  # one batched pass: (K, m, n_L)
    for i, seed in enumerate([7, 8]):
        net = nnaccel.Network([5, 4, 3], seed=seed, init="large", dtype="float64", device="cpu")
        assert_same(pop[i], net, 0)
        np.testing.assert_allclose(outputs[i], net.feedforward(x), rtol=0, atol=1e-15)


# ---- the C population kernel --------------------------------------------------------------
C_CASES = [
    dict(cost="quadratic"),
    dict(cost="cross-entropy", momentum=[0.0, 0.5, 0.9]),
    dict(cost="log-likelihood", output_activation="softmax", hidden_activation="tanh", m=7),
    dict(cost="quadratic", output_activation="linear", hidden_activation="relu", eta=[0.01, 0.02, 0.005], m=1),
    dict(cost="cross-entropy", sizes=[784, 100, 10], momentum=0.5),  # 0.6 MB a member: one group each
]


@needs_c
@pytest.mark.parametrize("pixels", [True, False], ids=["uint8-pixels", "float-inputs"])
@pytest.mark.parametrize("case", range(len(C_CASES)))
def test_c_population_kernel_equals_the_array_api_path(case, pixels, data):
    require_c()
    case = dict(C_CASES[case])
    eta, m, momentum = case.pop("eta", [0.05, 0.1, 0.5]), case.pop("m", 10), case.pop("momentum", 0.0)
    sizes = case.pop("sizes", [784, 20, 15, 10])
    x = data[0] if pixels else data[0] / 255.0
    pops = [Population(sizes, seeds=SEEDS, dtype="float64", device="cpu", **case) for _ in range(2)]
    paths = []
    for pop, fused in zip(pops, (True, False)):
        paths.append(type(pop._choose(_options(m, eta, momentum), fused)))
        pop.train((x, data[1]), 2, m, eta=eta, lmbda=LMBDAS, momentum=momentum, fused=fused)
    assert paths == [PopulationCEpoch, GenericPopulationEpoch]
    for i in range(len(SEEDS)):
        assert_same(pops[0][i], pops[1][i])


@needs_c
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_member_gets_the_bits_its_network_gets_alone_from_the_one_c_kernel(dtype, data):
    """One C kernel: a network alone is its K = 1 call, so member i's weights and biases are,
    bit for bit and in float32 too, those of Network(seed=seeds[i]) trained alone through it."""
    require_c()
    momentum = [0.0, 0.5, 0.9]
    pop = Population(SIZES, seeds=SEEDS, dtype=dtype, device="cpu")
    assert type(pop._choose(_options(10, ETAS, momentum), True)) is PopulationCEpoch
    pop.SGD(data, 2, 10, eta=ETAS, lmbda=LMBDAS, momentum=momentum, shuffle=False)
    for i, seed in enumerate(SEEDS):
        net = nnaccel.Network(SIZES, seed=seed, dtype=dtype, device="cpu")
        net.SGD(data, 2, 10, ETAS[i], lmbda=LMBDAS[i], momentum=momentum[i], shuffle=False)
        for got, want in zip(params(pop[i]), params(net)):
            assert got.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(got, want)


@needs_c
def test_float32_c_population_kernel_is_within_float32_rounding(data):
    require_c()
    a, b = (Population([784, 30, 10], seeds=[1, 2], cost="quadratic", device="cpu") for _ in range(2))
    a.train(data, 1, 10, eta=3.0, fused=True)
    b.train(data, 1, 10, eta=3.0, fused=False)
    for x, y in zip(a.weights, b.weights):
        assert x.dtype == np.float32
        np.testing.assert_allclose(x, y, rtol=0, atol=2e-4)


@needs_c
def test_splitting_members_over_threads_changes_no_number(data, monkeypatch):
    """Members are independent: trained in one thread or three, each gets the same bits."""
    require_c()
    results = []
    for threads in (1, 3):
        monkeypatch.setattr(population_c, "THREADS", threads)
        pop = Population([784, 20, 10], seeds=SEEDS, dtype="float64", device="cpu")
        pop.train(data, 1, 10, eta=ETAS, lmbda=LMBDAS, momentum=[0.0, 0.5, 0.9])
        results.append([np.asarray(a) for a in pop.weights + pop.biases])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_the_c_population_kernel_steps_aside_where_it_does_not_apply():
    assert not PopulationCEpoch.applies(Population([4, 3, 2], seeds=[1], backend="array_api_strict", device="cpu"),
                                        _options(10))
    assert not PopulationCEpoch.applies(Population([4, 3, 2], seeds=[1], cost="quadratic", output_activation="tanh",
                                                   device="cpu"), _options(10))
    assert not PopulationCEpoch.applies(Population([784, 1024, 10], seeds=[1], device="cpu"), _options(128))


def _options(m, eta=ETAS, momentum=0.0):
    k = len(eta)
    momentum = [momentum] * k if np.isscalar(momentum) else momentum
    return PopulationOptions(m, tuple(eta), tuple(LMBDAS[:k]), tuple(momentum))


# ---- the persistent CUDA kernel, run on the CPU through tests/cuda_shim -------------------
@pytest.mark.gpu_emulated
@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None,
                    reason="no C++ compiler (g++) to build the CUDA shim")
@pytest.mark.parametrize("pixels", [True, False], ids=["uint8-pixels", "float-inputs"])
def test_the_persistent_cuda_kernel_trains_a_population_as_the_array_api_path_does(pixels):
    """One launch of epoch.cu with K = 3 blocks per epoch: every member's weights, biases and
    velocity equal the array-API population path's to 1e-12 after two epochs (μ = 0, 0.5, 0.9)."""
    from nnaccel.epochs.fast import persistent_epoch
    from tests.cuda_shim.build import H100_OPT_IN, ShimModule

    def shim(code, options=(), name_expressions=()):
        return ShimModule(code, options, persistent_epoch.compile_targets()[0]["name_expressions"])

    sizes, rows = [20, 12, 8, 5], 53
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (rows, sizes[0]), dtype=np.uint8) if pixels else rng.random((rows, sizes[0]))
    pop = Population(sizes, seeds=SEEDS, dtype="float64", device="cpu", cost="log-likelihood",
                     output_activation="softmax", hidden_activation=["tanh", "relu"])
    data = pop.data((x, rng.integers(0, sizes[-1], rows)))
    options = PopulationOptions(7, (0.5, 0.1, 0.05), (0.0, 1.0, 3.0), (0.0, 0.5, 0.9))
    kernel = PopulationPersistentEpoch(pop, options, module=np, compile=shim, block=32, shared_limit=H100_OPT_IN)
    generic = GenericPopulationEpoch(pop, options)
    start = Stacks(list(pop.weights), list(pop.biases), [np.zeros_like(w) for w in pop.weights],
                   [np.zeros_like(b) for b in pop.biases])
    got = want = start
    for order in (pop.rng.permutation(rows), None):
        with np.errstate(over="ignore", under="ignore"):
            got = kernel(pop, got, data, order)
        want = generic(pop, want, data, order)
    for g, w in zip(got.all(), want.all()):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12)
    assert not PopulationPersistentEpoch.applies(pop, options)  # NumPy: the C kernel's place


def test_a_gpu_kernel_is_checked_for_every_kind_of_update_and_steps_aside_if_wrong(monkeypatch):
    """Members with and without μ, with and without λ use different branches of the kernel: each
    is checked before first use; a kernel that fails the check leaves the array-API path in place."""
    from nnaccel.epochs import fast
    from nnaccel.epochs.fast import population_cuda

    options = PopulationOptions(10, (0.1, 0.2, 0.3), (0.0, 1.0, 1.0), (0.0, 0.5, 0.5))
    assert [(o.momentum > 0, o.lmbda > 0) for o in population_cuda._kinds(options)] == [(False, False), (True, True)]
    checked = []
    monkeypatch.setattr(PopulationPersistentEpoch, "applies", classmethod(lambda cls, pop, o: True))
    monkeypatch.setattr(population_cuda.selfcheck, "verified", lambda path, net, o: checked.append(o) or False)
    monkeypatch.setitem(fast.POPULATION_REGISTRY, "numpy", (PopulationPersistentEpoch,))
    pop = Population([6, 4, 3], seeds=SEEDS, device="cpu")
    assert type(pop._choose(options, True)) is GenericPopulationEpoch
    assert len(checked) == 1  # the first kind failed: no need to check the second


# ---- frozen members: divergence, pruning, early stopping ----------------------------------
LINEAR = dict(cost="quadratic", hidden_activation="relu", output_activation="linear")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's overflow warnings from the diverging member
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "array-api"])
def test_a_diverging_member_is_frozen_and_never_stops_the_others(backend, data, fused):
    """Linear outputs with η = 10⁵ overflow; that member is frozen at its parameters before
    the epoch it diverged in, and the others train on as if alone."""
    etas = [0.01, 1e5, 0.02]
    pop = Population(SIZES, seeds=SEEDS, dtype="float64", backend=backend, **LINEAR)
    histories = pop.train(data, 3, 10, eta=etas, shuffle=False, monitor_training_cost=True, fused=fused)
    assert pop.active == [True, False, True]
    stopped = histories[1].stopped
    assert stopped.startswith("diverged at epoch ") and "smaller eta than 100000" in stopped
    epoch = int(stopped.split()[3].rstrip(":"))
    assert len(histories[1].training_cost) == epoch and all(np.isfinite(histories[1].training_cost))
    assert_same(pop[1], single(backend, SEEDS[1], data, epoch, etas[1], shuffle=False, fused=fused, **LINEAR))
    for i in (0, 2):
        assert histories[i].stopped == "" and len(histories[i].training_cost) == 3
        assert_same(pop[i], single(backend, SEEDS[i], data, 3, etas[i], shuffle=False, fused=fused, **LINEAR))


def test_a_callback_prunes_members_and_sees_one_record_each(backend, data):
    seen = []

    def prune(epoch, records):
        seen.append([(r["member"], r["active"], "training_accuracy" in r) for r in records])
        return [2] if epoch == 0 else []

    pop = Population(SIZES, seeds=SEEDS, dtype="float64", backend=backend)
    histories = pop.train(data, 2, 10, eta=ETAS, shuffle=False, monitor_training_accuracy=True, callback=prune)
    assert seen == [[(0, True, True), (1, True, True), (2, True, True)],
                    [(0, True, True), (1, True, True), (2, False, False)]]
    assert pop.active == [True, True, False]
    assert histories[2].stopped == "pruned by the callback after epoch 0" and len(histories[2].records) == 1
    assert_same(pop[2], single(backend, SEEDS[2], data, 1, ETAS[2], shuffle=False))
    assert_same(pop[0], single(backend, SEEDS[0], data, 2, ETAS[0], shuffle=False))


def test_early_stopping_is_per_member_and_each_keeps_its_best_network(mnist10k):
    """Each member stops on its own validation accuracy and ends with its best epoch's network,
    as Network.SGD(..., early_stopping=n) does alone; the monitored figures are its own."""
    train = mnist10k.train[0][:300], mnist10k.train[1][:300]
    valid = mnist10k.train[0][300:500], mnist10k.train[1][300:500]
    etas = [0.05, 3.0, 30.0]
    pop = Population(SIZES, seeds=SEEDS, dtype="float64", device="cpu")
    histories = pop.train(train, 12, 10, eta=etas, lmbda=0.5, evaluation_data=valid, early_stopping=2,
                          monitor_evaluation_cost=True, shuffle=False)
    assert any(h.stopped.startswith("early stopping") for h in histories)
    for i, seed in enumerate(SEEDS):
        net = nnaccel.Network(SIZES, seed=seed, dtype="float64", device="cpu")
        alone = nnaccel.training.trainer.train(net, train, 12, 10, etas[i], lmbda=0.5, evaluation_data=valid, early_stopping=2,
                                      monitor_evaluation_cost=True, shuffle=False)
        assert histories[i].evaluation_accuracy == alone.evaluation_accuracy
        np.testing.assert_allclose(histories[i].evaluation_cost, alone.evaluation_cost, rtol=1e-9)
        assert histories[i].stopped == alone.stopped
        assert_same(pop[i], net)


def test_monitoring_gives_each_members_own_figures(backend, data):
    pop = Population(SIZES, seeds=SEEDS, dtype="float64", backend=backend)
    histories = pop.train(data, 1, 10, eta=ETAS, lmbda=LMBDAS, shuffle=False, evaluation_data=data,
                          monitor_training_cost=True, monitor_training_accuracy=True,
                          monitor_evaluation_cost=True, monitor_evaluation_accuracy=True)
    for i, h in enumerate(histories):
        net = pop[i]
        assert h.training_accuracy == h.evaluation_accuracy == [net.accuracy(data)]
        assert h.training_cost[0] == pytest.approx(net.total_cost(data, LMBDAS[i]), rel=1e-12)
        assert h.records[0]["member"] == i and h.records[0]["eta"] == ETAS[i]
    assert pop.accuracy(data) == [h.training_accuracy[0] for h in histories]


@pytest.mark.parametrize("bad, message", [
    (dict(eta=[0.1, 0.2]), "eta has 2 values for 3 members"),
    (dict(eta=[0.1, -1.0, 0.2]), "eta must be > 0"),
    (dict(eta=0.1, momentum=[0.0, 1.5, 0.0]), "momentum must be in [0, 1)"),
    (dict(eta=0.1, early_stopping=3), "need evaluation_data"),
    (dict(eta=0.1, callback=lambda epoch, records: [5]), "not a member index"),
])
def test_bad_hyper_parameters_are_named_with_the_fix(bad, message, data):
    pop = Population(SIZES, seeds=SEEDS, device="cpu")
    with pytest.raises(NNAccelError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        pop.train(data, 1, 10, **bad)


def test_a_population_needs_seeds():
    with pytest.raises(NNAccelError, match="at least one member"):
        Population(SIZES, seeds=[])
    with pytest.raises(NNAccelError, match="list of integers"):
        Population(SIZES, seeds=["a"])
