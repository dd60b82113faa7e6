"""Shared fixtures: the backends every numerical test runs on, and small data sets."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile

import numpy as np
import pytest

import nnaccel
from nnaccel.backend import cuda_available
from nnaccel.epochs.fast.nvrtc import CACHE_VARIABLE as NVRTC_CACHE


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
    pytest.param("jax", id="jax",
                 marks=pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                          reason="JAX not installed (pip install 'nnaccel[jax]')")),
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


def pytest_configure(config):
    """One NVRTC cache folder for the run: each CUDA program is compiled once, whichever of the
    NVRTC tests, the GPU model they run as a command, or the other pytest-xdist worker (which
    inherits the variable) asks first; a second asker waits for the first one's compile."""
    if not os.environ.get(NVRTC_CACHE):
        config.stash[_NVRTC_FOLDER] = os.environ[NVRTC_CACHE] = tempfile.mkdtemp(prefix="nnaccel-nvrtc-")


def pytest_unconfigure(config):
    if folder := config.stash.get(_NVRTC_FOLDER, None):
        del os.environ[NVRTC_CACHE]
        shutil.rmtree(folder, ignore_errors=True)


_NVRTC_FOLDER = pytest.StashKey[str]()

# The groups whose files take longest (compiles, subprocesses, servers), by marker.
LONG_FIRST = ("gpu_emulated", "slow", "browser", "fuzz")


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (a worker collects), the files of the long groups first: the workers
    take whole files in collection order (--dist loadfile), so none is left with a long file at
    the end while the other is idle. Each file's tests keep their order."""
    if not hasattr(config, "workerinput"):
        return
    rank = {}
    for item in items:
        names = {m.name for m in item.iter_markers()}
        here = next((i for i, group in enumerate(LONG_FIRST) if group in names), len(LONG_FIRST))
        rank[item.path] = min(rank.get(item.path, here), here)
    items.sort(key=lambda item: rank[item.path])


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request):
    return make_backend(request.param)


@pytest.fixture(autouse=True)
def _strict_flags_stay_in_their_test():
    """array-api-strict's flags are global: put them back after a test that turned some off, so
    a later test (scikit-learn's array-API checks, say) sees the library's defaults."""
    yield
    if "array_api_strict" in sys.modules:
        sys.modules["array_api_strict"].reset_array_api_strict_flags()


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


# ---- CI: groups that must run, never skip ---------------------------------------------------
# Where the variable is 1 (.ci/run sets each), a skipped test of the group is a failure, and so is
# a test module that mentions the group's marker but skips as a whole while being collected (a
# module-level importorskip): what CI installs for the group must be there and be used.
REQUIRED_GROUPS = {
    "gpu_emulated": ("NNACCEL_REQUIRE_GPU_EMULATED", "pyproject's cuda extra, g++"),
    "browser": ("NNACCEL_REQUIRE_BROWSER", "Debian's chromium, pyproject's browser extra"),
}
REQUIRE_GPU_EMULATED = REQUIRED_GROUPS["gpu_emulated"][0]


def _required(marker_names):
    """The first group among ``marker_names`` that this run requires, or None."""
    return next((g for g in marker_names if g in REQUIRED_GROUPS
                 and os.environ.get(REQUIRED_GROUPS[g][0]) == "1"), None)


def _required_but_skipped(report, group):
    if hasattr(report, "wasxfail"):  # an expected failure is reported as a skip; leave it be
        return
    variable, what = REQUIRED_GROUPS[group]
    reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = (f"{group} must run where {variable}=1, but it skipped: {reason}; "
                       f"install what the reason names ({what})")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    group = _required(m.name for m in item.iter_markers()) if report.skipped else None
    if group:
        _required_but_skipped(report, group)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    report = (yield).get_result()
    if report.skipped and isinstance(collector, pytest.Module):
        text = collector.path.read_text(errors="replace")
        group = _required(g for g in REQUIRED_GROUPS if f"mark.{g}" in text or f'"{g}"' in text)
        if group:
            _required_but_skipped(report, group)
