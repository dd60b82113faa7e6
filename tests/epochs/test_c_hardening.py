"""The C kernel's entry point, called directly, refuses every malformed call with a clear
ValueError instead of crashing, reading out of bounds or allocating without bound (issue 8)."""

import os
import tracemalloc

import numpy as np
import pytest

from nnaccel.epochs.fast import c_epoch

pytestmark = pytest.mark.skipif(c_epoch.available() is None and not os.environ.get("NNACCEL_REQUIRE_C"),
                                reason="the C kernel was not compiled here (no C compiler at install time)")

SIZES = (4, 3)


def _sgd():
    from nnaccel.epochs.fast import _sgd

    return _sgd


def call(**changes):
    """_sgd.epoch on a fitting [4, 3] network and 5 rows, with some arguments replaced."""
    args = dict(params=np.zeros(4 * 3 + 3, np.float32), velocity=None, sizes=SIZES, acts="s", quadratic=False,
                x=np.zeros((5, 4), np.float32), pixels=False, targets=np.zeros((5, 3), np.float32), perm=None,
                m=2, eta=0.1, lmbda=0.0, mu=0.0)
    args.update(changes)
    return _sgd().epoch(*args.values())


def test_a_fitting_call_trains():
    params = np.zeros(15, np.float32)
    targets = np.zeros((5, 3), np.float32)
    targets[:, 0] = 1
    call(params=params, targets=targets, x=np.ones((5, 4), np.float32))
    assert params[:12].any() and np.isfinite(params).all()


def test_a_mini_batch_larger_than_the_data_is_the_whole_data():
    """2**61 on 5 rows segfaulted; it is one mini-batch of 5, the same as m = 5."""
    got, want = np.zeros(15), np.zeros(15)
    x, y = np.random.default_rng(0).random((5, 4)), np.eye(3)[[0, 1, 2, 0, 1]]
    call(params=got, x=x, targets=y, m=2**61)
    call(params=want, x=x, targets=y, m=5)
    np.testing.assert_array_equal(got, want)
    assert got.any()


def test_a_huge_mini_batch_allocates_for_the_rows_there_are():
    """m = 10**7 on 5 rows allocated 687 MB of workspace; now the workspace is for 5 rows."""
    tracemalloc.start()
    call(m=10**7, sizes=(4, 3))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1_000_000


def test_sizes_that_overflow_are_refused():
    big = 2**40
    with pytest.raises(ValueError, match="overflow"):
        call(sizes=(big, big, 3), acts="ss")


@pytest.mark.parametrize("sizes", [(), (4,)])
def test_sizes_without_two_layers_are_refused_before_any_is_read(sizes):
    with pytest.raises(ValueError, match="at least two"):
        call(sizes=sizes, acts="")


def test_non_positive_sizes_are_refused():
    with pytest.raises(ValueError, match="positive"):
        call(sizes=(4, 0))


@pytest.mark.parametrize("acts,words", [
    ("\0", "activation codes"),   # NUL passed strchr and ran as linear
    ("q", "activation codes"),
    ("ss", "one activation code per layer"),
])
def test_activation_codes_are_checked(acts, words):
    with pytest.raises(ValueError, match=words):
        call(acts=acts)


def test_softmax_only_at_the_output_and_never_with_the_quadratic_cost():
    params = np.zeros(4 * 3 + 3 + 3 * 2 + 2, np.float32)
    with pytest.raises(ValueError, match="output layer only"):
        call(params=params, sizes=(4, 3, 2), acts="ms", targets=np.zeros((5, 2), np.float32))
    with pytest.raises(ValueError, match="quadratic"):
        call(acts="m", quadratic=True)


def test_a_float64_buffer_does_not_pass_as_float32_of_another_shape():
    """Buffers were checked by byte length only: float64 x of 5 × 2 passed as float32 of 5 × 4."""
    with pytest.raises(ValueError, match="params must be float32 or float64"):
        call(params=np.zeros(15, np.int32))
    with pytest.raises(ValueError, match="targets must have params' type"):
        call(targets=np.zeros((5, 3), np.float64))
    with pytest.raises(ValueError, match="x must have params' type"):
        call(x=np.zeros((5, 2), np.float64))  # 5 × 16 bytes, 5 × 4 float32 by length
    with pytest.raises(ValueError, match="uint8"):
        call(pixels=True)
    with pytest.raises(ValueError, match="perm must hold n int64"):
        call(perm=np.arange(10, dtype=np.int32))  # 5 × 8 bytes


def test_buffers_of_the_wrong_shape_are_refused():
    bad = [
        (dict(params=np.zeros(7, np.float32)), "params has the wrong length"),
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
        (dict(params=np.zeros(15, np.float32)[::-1]), "C-contiguous"),
    ]
    for changes, words in bad:
        with pytest.raises(ValueError, match=words):
            call(**changes)


def test_read_only_params_are_refused():
    params = np.zeros(15, np.float32)
    params.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        call(params=params)


def test_velocity_and_params_that_share_memory_are_refused():
    both = np.zeros(30, np.float32)
    with pytest.raises(ValueError, match="must not share memory"):
        call(params=both[:15], velocity=both[:15], mu=0.9)
    with pytest.raises(ValueError, match="must not share memory"):
        call(params=both[:15], velocity=both[5:20], mu=0.9)  # overlapping ranges
    call(params=both[:15], velocity=both[15:], mu=0.9)  # side by side: fine
    data = np.zeros(15 + 15, np.float32)
    with pytest.raises(ValueError, match="must not share memory with the data"):
        call(params=data[:15], targets=data[15:].reshape(5, 3), x=data[:20].reshape(5, 4))


def test_float_rows_read_in_place_or_copied_to_a_cache_line_give_the_same_numbers():
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
        params = np.full(16 * 3 + 3, 0.1, np.float32)
        call(params=params, sizes=(16, 3), x=x, targets=y, perm=perm, m=4)
        results.append(params)
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], np.full(51, 0.1, np.float32))
