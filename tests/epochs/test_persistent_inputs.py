"""PersistentEpoch.train checks the inputs' dtype as it checks the targets': the kernel reads x as
its Input type (uint8 pixels, or the parameters' float), so another dtype would be read as garbage."""

from __future__ import annotations

import numpy as np
import pytest

import nnaccel
from nnaccel.data.arrays import DeviceData
from nnaccel.epochs.fast.persistent_epoch import PersistentEpoch
from nnaccel.epochs.generic import EpochOptions


class _Unreachable:
    """A compile that fails the test: the check must come before any kernel is built."""

    def __init__(self, **kwargs):
        raise AssertionError("train() compiled a kernel for inputs of the wrong dtype")


def _train(data):
    net = nnaccel.Network([6, 4, 3], device="cpu", dtype="float32", seed=0)
    path = PersistentEpoch(net, EpochOptions(2, 0.5), module=np, compile=_Unreachable, block=32,
                           shared_limit=48 * 1024)
    params = np.zeros((1, 6 * 4 + 4 + 4 * 3 + 3), np.float32)
    path.train(params, None, data, np.arange(len(data)), eta=[0.5], lmbda=[0.0], momentum=[0.0])


def test_float_inputs_of_another_dtype_than_the_targets_are_refused():
    x = np.random.default_rng(0).random((5, 6))  # float64 rows for float32 parameters and targets
    data = DeviceData(x, None, np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match="the inputs must be float32 like the targets, not float64"):
        _train(data)


def test_pixels_that_are_not_bytes_are_refused():
    pixels = np.zeros((5, 6), np.int32)
    data = DeviceData(pixels.astype(np.float32) / 255, None, np.zeros((5, 3), np.float32), pixels)
    with pytest.raises(ValueError, match="the inputs must be uint8 like the targets, not int32"):
        _train(data)
