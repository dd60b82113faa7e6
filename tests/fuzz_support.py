"""Shared pieces of the fuzzing harness (tests/fuzz/): the time budget, byte-level
mutations of valid files, and the one property every input must satisfy.

The property (issue 9): nnaccel either succeeds or raises NNAccelError whose message is one
line — never another exception, never a file left behind in the folders it was given, and
never more memory than the input's size justifies (tracemalloc's peak ≤ RATIO × input + SLACK).

NNACCEL_FUZZ_SECONDS (default 60) is the budget of the whole harness; each fuzz test gets an
equal share, runs examples until its share is spent, and then lets hypothesis finish fast.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from nnaccel.errors import NNAccelError

BUDGET = float(os.environ.get("NNACCEL_FUZZ_SECONDS", "60"))
FUZZ_TESTS = 12  # the fuzz tests that share BUDGET (tests/fuzz/, and tests/tools/test_sweep.py)
SHARE = BUDGET / FUZZ_TESTS
RATIO = 16  # tracemalloc peak per input byte: a few copies of the data plus Python's boxes
SLACK = 4 << 20  # NumPy, zipfile and JSON buffers that do not grow with the input


def fuzz_settings(per_second=40):
    """Hypothesis settings for one fuzz test: enough examples to fill its share of the budget."""
    return settings(max_examples=max(10, int(SHARE * per_second)), deadline=None, database=None,
                    print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture,
                                           HealthCheck.filter_too_much])


FAILED = []  # once an example fails, every clock runs on, so that hypothesis can replay and shrink it


class Clock:
    """Whether this test's share of NNACCEL_FUZZ_SECONDS is spent (examples then return at once)."""

    def __init__(self):
        self.start = None

    def spent(self) -> bool:
        if FAILED:
            return False
        now = time.monotonic()
        if self.start is None:
            self.start = now
        return now - self.start > SHARE


# ---- mutations of a valid file ------------------------------------------------------------

@st.composite
def mutated(draw, valid: bytes, others=()):
    """``valid`` after 0–3 of: bit flips, truncation, a spliced run of another file, inserted
    bytes, an overwritten run of 'interesting' bytes (0x00, 0xff, 0x7f, 0x80 runs, big counts)."""
    data = bytearray(valid)
    pool = [valid, *others]
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["flip", "truncate", "splice", "insert", "overwrite"]))
        n = len(data)
        if op == "flip" and n:
            for _ in range(draw(st.integers(1, 8))):
                i = draw(st.integers(0, n - 1))
                data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[draw(st.integers(0, n)):]
        elif op == "splice":
            other = draw(st.sampled_from(pool))
            a = draw(st.integers(0, len(other)))
            b = draw(st.integers(a, min(len(other), a + 4096)))
            at = draw(st.integers(0, n))
            data[at:at + draw(st.integers(0, 64))] = other[a:b]
        elif op == "insert":
            at = draw(st.integers(0, n))
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif op == "overwrite" and n:
            at = draw(st.integers(0, n - 1))
            run = draw(st.sampled_from([b"\x00" * 4, b"\xff" * 4, b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00",
                                        b"\xff" * 8, b"\x00\x00\x00\x01", b"\x01"]))
            data[at:at + len(run)] = run
    return bytes(data)


# ---- the property ------------------------------------------------------------------------------

def listing(*folders):
    return {str(p) for folder in folders for p in Path(folder).rglob("*")}


def check(fn, input_size, *folders, ratio=RATIO):
    """Run ``fn()``: it may return or raise a one-line NNAccelError, nothing else; it must leave
    no new file in ``folders`` and stay within ``ratio`` × ``input_size`` + SLACK of memory.

    Returns the NNAccelError or None."""
    try:
        return _check(fn, input_size, folders, ratio)
    except BaseException:
        FAILED.append(True)
        raise


def _check(fn, input_size, folders, ratio):
    before = listing(*folders)
    error = None
    tracemalloc.start()
    try:
        fn()
    except NNAccelError as e:
        error = e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if error is not None:
        message = str(error)
        assert message and "\n" not in message, f"not one line: {message!r}"
        assert "Traceback" not in message
    assert peak <= ratio * input_size + SLACK, f"peak {peak} bytes for an input of {input_size}"
    left = listing(*folders) - before
    assert not left, f"files left behind: {sorted(left)}"
    return error
