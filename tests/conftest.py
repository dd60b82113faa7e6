"""Shared fixtures: the backends every numerical test runs on, and small data sets."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import nnaccel
from nnaccel.backend import cuda_available


def _strict():
    import array_api_strict

    # Prove the core needs neither data-dependent shapes nor boolean indexing.
    array_api_strict.set_array_api_strict_flags(data_dependent_shapes=False, boolean_indexing=False)
    return nnaccel.resolve("cpu", "array_api_strict")


BACKEND_PARAMS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("array_api_strict", id="array_api_strict",
                 marks=pytest.mark.skipif(importlib.util.find_spec("array_api_strict") is None,
                                          reason="array-api-strict not installed")),
    pytest.param("torch", id="torch",
                 marks=pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                          reason="PyTorch not installed")),
    pytest.param("cupy", id="cupy",
                 marks=[pytest.mark.cuda,
                        pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU (cupy.cuda.is_available() is false)")]),
]


def make_backend(name):
    if name == "array_api_strict":
        return _strict()
    if name == "cupy":
        return nnaccel.resolve("cuda", "cupy")
    return nnaccel.resolve("cpu", name)


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request):
    return make_backend(request.param)


@pytest.fixture(scope="session")
def mnist10k():
    from nnaccel.data import load_dataset

    return load_dataset("mnist-10k")


@pytest.fixture
def small_data():
    """60 random 'images' of 12 pixels in 4 classes, float64, fixed seed."""
    rng = np.random.default_rng(7)
    x = rng.random((60, 12))
    y = rng.integers(0, 4, size=60)
    return x, y


# ---- CI: the gpu_emulated group must run, never skip ---------------------------------------
# With NNACCEL_REQUIRE_GPU_EMULATED=1 (set by .ci/run) a skipped gpu_emulated test is a failure,
# and so is a test module that mentions gpu_emulated but skips as a whole while being collected
# (a module-level importorskip): what CI installs for the group must be there and be used.
REQUIRE_GPU_EMULATED = "NNACCEL_REQUIRE_GPU_EMULATED"


def _required_but_skipped(report):
    if hasattr(report, "wasxfail"):  # an expected failure is reported as a skip; leave it be
        return
    reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = (f"gpu_emulated must run where {REQUIRE_GPU_EMULATED}=1, but it skipped: {reason}; "
                       "install what the reason names (pyproject's cuda extra, g++)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.skipped and os.environ.get(REQUIRE_GPU_EMULATED) == "1" and item.get_closest_marker("gpu_emulated"):
        _required_but_skipped(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    report = (yield).get_result()
    if (report.skipped and os.environ.get(REQUIRE_GPU_EMULATED) == "1" and isinstance(collector, pytest.Module)
            and "gpu_emulated" in collector.path.read_text(errors="replace")):
        _required_but_skipped(report)
