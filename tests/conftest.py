"""Shared fixtures: the backends every numerical test runs on, and small data sets."""

from __future__ import annotations

import importlib.util

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
