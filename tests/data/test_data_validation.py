"""Bad data is refused before it trains: labels outside the classes, unscaled or non-finite
pixels, wrong label types, empty sets — each one NNAccelError line naming the fix (issue 9,
items 6 and 7). Float inputs of the network's dtype reach the device without a copy (issue 8)."""

import tracemalloc

import numpy as np
import pytest

import nnaccel
from nnaccel.data import to_device
from nnaccel.data.validate import class_count
from nnaccel.errors import NNAccelError
from tests.conftest import BACKEND_PARAMS, make_backend


def _net(sizes=(12, 5, 4), dtype="float64"):
    return nnaccel.Network(list(sizes), device="cpu", dtype=dtype, seed=0)


def test_a_label_beyond_the_classes_is_refused_not_grown_into_the_output_layer(small_data):
    """Label 200 for a 4-class network: an error naming the label; never 'use sizes ... 201'."""
    x, y = small_data
    y = y.copy()
    y[17] = 200
    with pytest.raises(NNAccelError, match="example 17 has label 200") as e:
        _net().SGD((x, y), 1, 10, 0.5)
    assert "201" not in str(e.value) and "\n" not in str(e.value)


def test_labels_that_name_more_classes_than_outputs_suggest_the_width(small_data):
    x, _ = small_data
    with pytest.raises(NNAccelError, match="5 classes .* use sizes ending with 5"):
        _net().data((x, np.arange(60) % 5))


@pytest.mark.parametrize("labels,match", [
    (np.full(60, -1), "example 0 has label -1"),
    (np.arange(60) % 4 + 0.5, "whole class numbers, but example 0 has label 0.5"),
    (np.full(60, np.nan), "whole class numbers"),
    ((np.arange(60) % 4).astype(str), "integer class numbers, got an array of <U"),
    (np.arange(60) % 2 == 0, "integer class numbers, got an array of bool"),
    (np.array([None] * 60), "integer class numbers, got an array of object"),
    (None, "labels must be an array"),
    (3, "single value"),
    (np.zeros((60, 2, 2)), "shape \\(60, 2, 2\\)"),
    (np.zeros(59, dtype=int), "59 labels for 60 examples"),
    (np.eye(3)[np.arange(60) % 3], "targets have 3 values per example but the output layer has 4"),
    (np.full((60, 4), np.inf), "60 of 60 examples have NaN or infinite targets"),
])
def test_wrong_labels_are_one_line_errors(small_data, labels, match):
    x, _ = small_data
    with pytest.raises(NNAccelError, match=match) as e:
        _net().data((x, labels))
    assert "\n" not in str(e.value)


def test_whole_floats_are_labels(small_data):
    """Labels read from a CSV file as 0.0, 1.0, ... are the same labels."""
    x, y = small_data
    net = _net()
    np.testing.assert_array_equal(net.data((x, y.astype(np.float32))).labels, y)


def test_unscaled_pixels_are_refused_with_the_scale_to_use(small_data):
    """Float images in [0, 255] train to chance: refuse them and name scale=255 / --scale 255."""
    x, y = small_data
    with pytest.raises(NNAccelError, match="scale=255 \\(command line: --scale 255\\)"):
        _net().SGD((x * 255, y), 1, 10, 0.5)


def test_scale_divides_the_inputs_and_is_checked(small_data):
    x, y = small_data
    net = _net()
    np.testing.assert_allclose(net.backend.to_numpy(to_device(net.backend, (x * 255, y), 12, 4, "float64", scale=255).x),
                               x, rtol=1e-15)
    with pytest.raises(NNAccelError, match="divided by scale=2 run from .* still far outside"):
        to_device(net.backend, (x * 255, y), 12, 4, "float64", scale=2)
    for bad in (0, -1.0, float("nan"), float("inf"), "255", True):
        with pytest.raises(NNAccelError, match="scale must be a number > 0"):
            to_device(net.backend, (x, y), 12, 4, "float64", scale=bad)


def test_uint8_pixels_are_divided_by_255_and_keep_their_bytes():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (30, 12), dtype=np.uint8)
    net = _net(dtype="float32")
    d = net.data((pixels, np.arange(30) % 4))
    np.testing.assert_array_equal(d.pixels, pixels)
    np.testing.assert_array_equal(d.x, pixels.astype(np.float32) / np.float32(255))


def test_nan_pixels_name_the_rows_not_the_learning_rate(small_data):
    x, y = small_data
    x = x.copy()
    x[[5, 40, 41], 3] = np.nan
    x[50, 0] = -np.inf
    with pytest.raises(NNAccelError, match="4 of 60 examples have NaN or infinite inputs \\(the first is example 5\\)") as e:
        _net().SGD((x, y), 1, 10, 0.5)
    assert "eta" not in str(e.value)


def test_nan_rows_are_found_across_blocks(monkeypatch):
    """The block-wise reduction finds bad rows in any block, counted once each."""
    monkeypatch.setattr("nnaccel.data.validate.BLOCK_BYTES", 12 * 8 * 7)  # 7 rows per block
    x = np.random.default_rng(1).random((60, 12))
    x[[13, 14, 59], :2] = np.nan
    with pytest.raises(NNAccelError, match="3 of 60 examples .* example 13"):
        _net().data((x, np.arange(60) % 4))


@pytest.mark.parametrize("data,match", [
    ((np.zeros((0, 12)), np.zeros(0, dtype=int)), "empty"),
    ([], "empty"),
    (([[0.1] * 12, [0.2] * 11], [0, 1]), "ragged"),
    ((np.full((60, 12), "a"), np.zeros(60, dtype=int)), "array of <U1"),
    ((np.zeros((60, 12), dtype=complex), np.zeros(60, dtype=int)), "array of complex"),
    ([(np.zeros((12, 1)), 1), (np.zeros((11, 1)), 2)], "network2's data is a list"),
    ("pixels", "data must be a tuple"),
])
def test_malformed_data_is_a_one_line_error(data, match):
    with pytest.raises(NNAccelError, match=match):
        _net().data(data)


@pytest.mark.parametrize("name", [p.values[0] for p in BACKEND_PARAMS if p.values[0] != "cupy"])
def test_arrays_already_on_the_device_are_checked_too(name, small_data):
    pytest.importorskip(name)
    backend = make_backend(name)
    x, y = small_data
    net = nnaccel.Network([12, 5, 4], backend=backend, dtype="float64", seed=0)
    good = net.data((backend.asarray(x, "float64"), backend.asarray(y)))
    np.testing.assert_array_equal(backend.to_numpy(good.labels), y)
    with pytest.raises(NNAccelError, match="scale=255"):
        net.data((backend.asarray(x * 255, "float64"), backend.asarray(y)))
    with pytest.raises(NNAccelError, match="example 0 has label 7"):
        net.data((backend.asarray(x, "float64"), backend.asarray(np.full(60, 7))))


def test_float_inputs_of_the_networks_dtype_are_not_copied():
    """net.SGD((X, y)) with float32 X trains on X itself: no second full-size array (issue 8)."""
    rng = np.random.default_rng(0)
    x = rng.random((2000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 2000)
    net = nnaccel.Network([784, 30, 10], device="cpu", seed=0)
    tracemalloc.start()
    d = net.data((x, y))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.shares_memory(d.x, x)
    assert peak < x.nbytes / 4  # one-hot targets and labels, no copy of the 6 MB of inputs
    fortran = np.asfortranarray(x)  # a copy where the kernels need C order, once
    assert not np.shares_memory(net.data((fortran, y)).x, fortran)
    assert net.data((fortran, y)).x.flags.c_contiguous


def test_named_data_sets_have_their_declared_classes():
    with pytest.raises(NNAccelError, match="example 1 has label 10"):
        class_count([np.array([3, 10]), np.array([1])], "mnist", declared=10)
    assert class_count([np.array([0, 1, 2]), np.array([2, 1])], "tiny") == 3


def test_a_stray_label_in_a_folder_is_a_corrupt_label_not_a_new_class():
    """Digits 0–9 plus one 200: classes 10–199 have no example, so 200 is a bad label."""
    train = np.arange(100) % 10
    train[42] = 200
    with pytest.raises(NNAccelError, match="label 200 of example 42 lies beyond class 10"):
        class_count([train, np.arange(10)], "folder")


def test_the_command_line_refuses_unscaled_float_images_and_scale_255_fixes_it(tmp_path, capsys):
    """An IDX folder of float32 images in [0, 255]: exit 2 naming --scale 255; with it, training runs."""
    from nnaccel.cli import main
    from nnaccel.data import write_idx

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 10)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", (rng.random((n, 4, 4)) * 255).astype(np.float32))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 3).astype(np.uint8))
    args = ["train", "--data", str(tmp_path), "--device", "cpu", "--epochs", "1", "--seed", "0"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--scale 255" in err
    assert main(args + ["--scale", "255"]) == 0


@pytest.mark.parametrize("fused", [True, False])
def test_training_on_the_callers_array_leaves_it_unchanged(fused):
    """With no copy, every path must only read X: the caller's array is the same after SGD."""
    rng = np.random.default_rng(2)
    x = rng.random((300, 20), dtype=np.float32)
    y = rng.integers(0, 4, 300)
    before = x.copy()
    net = nnaccel.Network([20, 8, 4], device="cpu", seed=0)
    net.SGD((x, y), 2, 7, 0.5, momentum=0.5, fused=fused)
    np.testing.assert_array_equal(x, before)
