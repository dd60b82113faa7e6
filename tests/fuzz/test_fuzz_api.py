"""Fuzzing the Python API's numbers (issue 16, item 6): every NumPy scalar type a user may pass
for epochs, m, η, λ and μ behaves exactly as the Python number it equals — the same weights, bit
for bit, or the same one-line refusal — and sizes or seeds that are not whole numbers are
refused, never truncated."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nnaccel
from nnaccel.errors import NNAccelError
from tests.fuzz_support import Clock, check, fuzz_settings

pytestmark = pytest.mark.fuzz

X = np.random.default_rng(5).random((24, 4)).astype(np.float32)
Y = np.arange(24) % 3
INTEGER_TYPES = [int, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
REAL_TYPES = [float, np.float16, np.float32, np.float64, *INTEGER_TYPES]


@st.composite
def typed(draw, types, values):
    """(the value as a drawn NumPy type, the Python number it equals), or a value no type holds."""
    kind = draw(st.sampled_from(types))
    value = draw(values)
    try:
        as_kind = kind(value)
    except (OverflowError, ValueError):
        return value, value
    if isinstance(as_kind, np.generic) and as_kind.item() != value and not np.isnan(value):
        return value, value  # the type cannot hold it (a negative uint, say)
    return as_kind, as_kind.item() if isinstance(as_kind, np.generic) else as_kind


def _outcome(args, kwargs):
    """The trained weights, or the NNAccelError's message with the numbers' spelling removed."""
    net = nnaccel.Network([4, 3, 3], device="cpu", seed=1)
    try:
        net.SGD((X, Y), *args, **kwargs)
    except NNAccelError as e:
        return ("error", type(e).__name__)
    return ("weights", [w.copy() for w in net.weights + net.biases])


SCALARS_CLOCK = Clock()


@fuzz_settings(per_second=10)
@given(epochs=typed(INTEGER_TYPES, st.integers(-2, 3)), m=typed(INTEGER_TYPES, st.integers(-1, 30)),
       eta=typed(REAL_TYPES, st.sampled_from([0.5, 3.0, 0.0, -1.0, 1e-3, 2.0]) | st.floats(-2, 5)),
       lmbda=typed(REAL_TYPES, st.sampled_from([0.0, 0.1, 5.0, -0.5])),
       mu=typed(REAL_TYPES, st.sampled_from([0.0, 0.5, 0.9, 1.0, -0.1])))
def test_fuzz_numpy_scalars_train_as_the_numbers_they_equal(epochs, m, eta, lmbda, mu):
    if SCALARS_CLOCK.spent():
        return
    typed_args = [epochs[0], m[0], eta[0]]
    plain_args = [epochs[1], m[1], eta[1]]
    got = check(lambda: _outcome(typed_args, {"lmbda": lmbda[0], "momentum": mu[0]}), 1 << 20)
    assert got is None  # _outcome catches the refusal itself
    typed_result = _outcome(typed_args, {"lmbda": lmbda[0], "momentum": mu[0]})
    plain_result = _outcome(plain_args, {"lmbda": lmbda[1], "momentum": mu[1]})
    assert typed_result[0] == plain_result[0], (typed_args, plain_args)
    if typed_result[0] == "weights":
        for a, b in zip(typed_result[1], plain_result[1]):
            np.testing.assert_array_equal(a, b)


SIZES_CLOCK = Clock()


@fuzz_settings(per_second=40)
@given(width=st.one_of(st.floats(-10, 200), st.integers(-3, 40),  # (a whole 1e8 would build, and fill memory)
                       st.sampled_from([np.float32(2.5), np.float64(3.0), np.int64(5), True, "7", None, float("nan"),
                                        float("inf"), 1e300, 10**40, np.float64(1e30)])),
       seed=st.one_of(st.floats(allow_nan=True), st.integers(0, 2**40), st.sampled_from([np.int32(4), np.float16(1.5)])))
def test_fuzz_sizes_and_seeds_are_whole_numbers_or_refused(width, seed):
    """A width or seed that is a whole number (of any type) is taken as that int; anything else is
    one NNAccelError line — never a truncated network."""
    if SIZES_CLOCK.spent():
        return
    built = []
    error = check(lambda: built.append(nnaccel.Network([4, width, 2], device="cpu", seed=seed)), 1 << 20)
    whole_width = (not isinstance(width, (bool, str)) and width is not None and np.isfinite(float(width))
                   and float(width) == int(float(width)) and int(float(width)) >= 1)
    whole_seed = (not isinstance(seed, bool) and np.isfinite(float(seed)) and float(seed) == int(float(seed))
                  and float(seed) >= 0)
    if whole_width and float(width) > 1e6:  # whole but far beyond memory: refused by the estimate
        assert error is not None and "needs about" in str(error)
    elif whole_width and whole_seed:
        assert error is None and built[0].sizes == [4, int(float(width)), 2]
    else:
        assert error is not None
    pop_error = check(lambda: nnaccel.Population([4, 3, 2], seeds=[1, seed], device="cpu"), 1 << 20)
    assert (pop_error is None) == whole_seed
