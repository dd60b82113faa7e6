"""The C kernel's entry point, called directly, refuses every malformed call with a clear
ValueError instead of crashing, reading out of bounds or allocating without bound (issue 8).
Each check is shown for both ways the Python paths call it: one network's flat buffer with one
η, λ, μ (c_epoch, K = 1), and K = 2 members' rows with one each (population_c)."""

import os
import tracemalloc

import numpy as np
import pytest

from nnaccel.epochs.fast import c_epoch

pytestmark = pytest.mark.skipif(c_epoch.available() is None and not os.environ.get("NNACCEL_REQUIRE_C"),
                                reason="the C kernel was not compiled here (no C compiler at install time)")

SIZES = (4, 3)


@pytest.fixture(params=[1, 2], ids=["one-network", "population"])
def k(request):
    """How many networks the call trains: 1 as c_epoch calls the kernel, 2 as population_c does."""
    return request.param


def _sgd():
    from nnaccel.epochs.fast import _sgd

    return _sgd


def rows(flat, k):
    """k networks' buffer of k·P values as the Python paths pass it: flat for one network (c_epoch),
    a view of k rows of P for a population (population_c)."""
    return flat if k == 1 else flat.reshape(k, -1)


def call(k, **changes):
    """_sgd.epoch on k fitting [4, 3] networks and 5 rows, with some arguments replaced; eta, lmbda
    and mu given as numbers are one per network."""
    args = dict(params=rows(np.zeros(15 * k, np.float32), k), velocity=None, sizes=SIZES, acts="s", quadratic=False,
                x=np.zeros((5, 4), np.float32), pixels=False, targets=np.zeros((5, 3), np.float32), perm=None,
                m=2, eta=0.1, lmbda=0.0, mu=0.0)
    args.update(changes)
    for name in ("eta", "lmbda", "mu"):
        if np.isscalar(args[name]):
            args[name] = np.full(k, args[name], np.float64)
    return _sgd().epoch(*args.values())


def test_a_fitting_call_trains(k):
    params = rows(np.zeros(15 * k, np.float32), k)
    targets = np.zeros((5, 3), np.float32)
    targets[:, 0] = 1
    call(k, params=params, targets=targets, x=np.ones((5, 4), np.float32))
    assert all(row[:12].any() for row in params.reshape(k, 15)) and np.isfinite(params).all()


def test_a_mini_batch_larger_than_the_data_is_the_whole_data(k):
    """2**61 on 5 rows segfaulted; it is one mini-batch of 5, the same as m = 5."""
    got, want = rows(np.zeros(15 * k), k), rows(np.zeros(15 * k), k)
    x, y = np.random.default_rng(0).random((5, 4)), np.eye(3)[[0, 1, 2, 0, 1]]
    call(k, params=got, x=x, targets=y, m=2**61)
    call(k, params=want, x=x, targets=y, m=5)
    np.testing.assert_array_equal(got, want)
    assert got.any()


def test_a_huge_mini_batch_allocates_for_the_rows_there_are(k):
    """m = 10**7 on 5 rows allocated 687 MB of workspace; now the workspace is for 5 rows."""
    tracemalloc.start()
    call(k, m=10**7, sizes=(4, 3))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1_000_000


def test_sizes_that_overflow_are_refused(k):
    big = 2**40
    with pytest.raises(ValueError, match="overflow"):
        call(k, sizes=(big, big, 3), acts="ss")


@pytest.mark.parametrize("sizes", [(), (4,)])
def test_sizes_without_two_layers_are_refused_before_any_is_read(sizes, k):
    with pytest.raises(ValueError, match="at least two"):
        call(k, sizes=sizes, acts="")


def test_non_positive_sizes_are_refused(k):
    with pytest.raises(ValueError, match="positive"):
        call(k, sizes=(4, 0))


@pytest.mark.parametrize("acts,words", [
    ("\0", "activation codes"),   # NUL passed strchr and ran as linear
    ("q", "activation codes"),
    ("ss", "one activation code per layer"),
])
def test_activation_codes_are_checked(acts, words, k):
    with pytest.raises(ValueError, match=words):
        call(k, acts=acts)


def test_softmax_only_at_the_output_and_never_with_the_quadratic_cost(k):
    """The population's entry point once let the quadratic cost with softmax through."""
    params = rows(np.zeros((4 * 3 + 3 + 3 * 2 + 2) * k, np.float32), k)
    with pytest.raises(ValueError, match="output layer only"):
        call(k, params=params, sizes=(4, 3, 2), acts="ms", targets=np.zeros((5, 2), np.float32))
    with pytest.raises(ValueError, match="the quadratic cost does not go with softmax"):
        call(k, acts="m", quadratic=True)


def test_a_float64_buffer_does_not_pass_as_float32_of_another_shape(k):
    """Buffers were checked by byte length only: float64 x of 5 × 2 passed as float32 of 5 × 4."""
    with pytest.raises(ValueError, match="params must be float32 or float64"):
        call(k, params=rows(np.zeros(15 * k, np.int32), k))
    with pytest.raises(ValueError, match="targets must have params' type"):
        call(k, targets=np.zeros((5, 3), np.float64))
    with pytest.raises(ValueError, match="x must have params' type"):
        call(k, x=np.zeros((5, 2), np.float64))  # 5 × 16 bytes, 5 × 4 float32 by length
    with pytest.raises(ValueError, match="uint8"):
        call(k, pixels=True)
    with pytest.raises(ValueError, match="perm must hold n int64"):
        call(k, perm=np.arange(10, dtype=np.int32))  # 5 × 8 bytes


def test_buffers_of_the_wrong_shape_are_refused(k):
    bad = [
        (dict(params=rows(np.zeros(7 * k, np.float32), k)), "params has the wrong length"),
        (dict(params=np.zeros(15 * k - 1, np.float32)), "params has the wrong length"),  # for k = 2 not 2 rows
        (dict(targets=np.zeros((4, 3), np.float32)), "targets must be"),
        (dict(x=np.zeros((5, 3), np.float32)), "whole rows"),
        (dict(x=np.zeros(20, np.float32)), "whole rows"),
        (dict(x=np.zeros((0, 4), np.float32), targets=np.zeros((0, 3), np.float32)), "no rows"),
        (dict(perm=np.array([0, 1, 2, 3, 9])), "outside"),
        (dict(perm=np.array([0, 1, 2, 3, -1])), "outside"),
        (dict(velocity=np.zeros(3, np.float32), mu=0.9), "velocity"),
        (dict(velocity=None, mu=0.9), "velocity"),
        (dict(m=0), "m >= 1"),
        (dict(x=np.zeros((5, 8), np.float32)[:, ::2]), "C-contiguous"),
        (dict(params=rows(np.zeros(15 * k, np.float32), k)[..., ::-1]), "C-contiguous"),
    ]
    for changes, words in bad:
        with pytest.raises(ValueError, match=words):
            call(k, **changes)


def test_eta_lmbda_and_mu_are_one_float64_per_network_and_in_bounds(k):
    """Their length is the number of networks K: params must hold K rows. η and λ must be finite
    and μ in [0, 1), as the parameter table's bounds say."""
    bad = [
        (dict(eta=[0.1] * k), "eta must be a C-contiguous array"),
        (dict(eta=np.full(k, 0.1, np.float32)), "must be float64 arrays"),
        (dict(eta=np.zeros(0)), "one value per member"),
        (dict(lmbda=np.zeros(k + 1)), "one value per member"),
        (dict(eta=np.full(2 * k, 0.1), lmbda=np.zeros(2 * k), mu=np.zeros(2 * k),
              params=np.zeros(15 * k + 1, np.float32)), "params has the wrong length"),
        (dict(eta=np.full(k, np.nan)), "eta and lmbda must be finite, mu in \\[0, 1\\)"),
        (dict(lmbda=np.full(k, np.inf)), "must be finite"),
        (dict(mu=np.full(k, 1.0), velocity=rows(np.zeros(15 * k, np.float32), k)), r"mu in \[0, 1\)"),
        (dict(mu=np.full(k, -0.5), velocity=rows(np.zeros(15 * k, np.float32), k)), r"mu in \[0, 1\)"),
    ]
    for changes, words in bad:
        with pytest.raises(ValueError, match=words):
            call(k, **changes)


def test_the_members_of_a_call_train_independently_each_with_its_own_eta():
    """Two networks in one call get exactly what each gets in a call of its own (K = 1)."""
    rng = np.random.default_rng(1)
    start = rng.standard_normal((2, 15))
    x, y = rng.random((5, 4)), np.eye(3)[[0, 1, 2, 0, 1]]
    both = start.copy()
    call(2, params=both, x=x, targets=y, eta=np.array([0.1, 3.0]), lmbda=np.array([0.0, 1.0]))
    for i, (eta, lmbda) in enumerate([(0.1, 0.0), (3.0, 1.0)]):
        alone = start[i].copy()
        call(1, params=alone, x=x, targets=y, eta=eta, lmbda=lmbda)
        np.testing.assert_array_equal(both[i], alone)
    assert not np.array_equal(both[0], start[0])


def test_read_only_params_are_refused(k):
    params = rows(np.zeros(15 * k, np.float32), k)
    params.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        call(k, params=params)


def test_velocity_and_params_that_share_memory_are_refused(k):
    both = np.zeros(30 * k, np.float32)
    with pytest.raises(ValueError, match="must not share memory"):
        call(k, params=rows(both[:15 * k], k), velocity=rows(both[:15 * k], k), mu=0.9)
    with pytest.raises(ValueError, match="must not share memory"):
        call(k, params=rows(both[:15 * k], k), velocity=rows(both[5:5 + 15 * k], k), mu=0.9)  # overlapping ranges
    call(k, params=rows(both[:15 * k], k), velocity=rows(both[15 * k:], k), mu=0.9)  # side by side: fine
    data = np.zeros(15 * k + 15, np.float32)
    with pytest.raises(ValueError, match="must not share memory with the data"):
        call(k, params=rows(data[:15 * k], k), targets=data[15 * k:].reshape(5, 3), x=data[:20].reshape(5, 4))


def test_float_rows_read_in_place_or_copied_to_a_cache_line_give_the_same_numbers(k):
    """Rows of 16 float32 are 64 bytes: on an aligned base the kernel reads them in place, on a
    base 4 bytes off it copies each to an aligned buffer first. Bit-identical weights either way."""
    rng = np.random.default_rng(0)
    values, y = rng.random((9, 16)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 9)]
    perm = rng.permutation(9)
    results = []
    for offset in (0, 4):
        raw = np.zeros(9 * 64 + 128, np.uint8)
        start = -raw.ctypes.data % 64 + offset
        x = raw[start:start + 9 * 64].view(np.float32).reshape(9, 16)
        x[...] = values
        assert (x.ctypes.data % 64 == 0) == (offset == 0)
        params = rows(np.full((16 * 3 + 3) * k, 0.1, np.float32), k)
        call(k, params=params, sizes=(16, 3), x=x, targets=y, perm=perm, m=4)
        results.append(params)
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], np.full(51 * k, 0.1, np.float32).reshape(results[0].shape))
