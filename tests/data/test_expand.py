"""Training-data expansion: the book's 1-pixel shifts and bilinear rotations, on every backend."""

import math

import numpy as np
import pytest

import nnaccel
from nnaccel.backend import make_rng
from nnaccel.core import parameters
from nnaccel.data.expand import expand, rotate
from nnaccel.errors import NNAccelError
from tests.conftest import make_backend


def _images(n=3, side=5):
    """Distinct pixel values in (0, 1], exact in binary, so shifted copies compare exactly."""
    return (np.arange(n * side * side, dtype=np.float64).reshape(n, side * side) + 1) / 128


@pytest.mark.parametrize("name", ["numpy", "array_api_strict", "torch"])
def test_shifts_are_expand_mnists_rolls_with_the_wrapped_line_zeroed(name):
    pytest.importorskip(name)
    backend = make_backend(name)
    x = _images()
    net = nnaccel.Network([25, 3, 4], backend=backend, dtype="float64", seed=0)
    data = expand(backend, net.data((x, np.array([0, 1, 3]))), "shifts", make_rng(0))
    got = backend.to_numpy(data.x).reshape(3, 5, 5, 5)
    img = x.reshape(3, 5, 5)
    want = []
    for d, axis in ((1, 1), (-1, 1), (1, 2), (-1, 2)):  # expand_mnist: roll, then zero the wrapped line
        shifted = np.roll(img, d, axis=axis)
        index = 0 if d == 1 else -1
        if axis == 1:
            shifted[:, index, :] = 0
        else:
            shifted[:, :, index] = 0
        want.append(shifted)
    np.testing.assert_array_equal(got[:, 0], img)
    for k in range(4):
        np.testing.assert_array_equal(got[:, k + 1], want[k])
    assert backend.to_numpy(data.labels).tolist() == [0] * 5 + [1] * 5 + [3] * 5
    assert backend.to_numpy(data.targets).argmax(axis=1).tolist() == [0] * 5 + [1] * 5 + [3] * 5


def test_rotation_by_zero_is_the_identity_and_by_90_degrees_is_rot90():
    from array_api_compat import numpy as xp

    x = _images(2)
    np.testing.assert_allclose(rotate(xp, x, np.zeros(2)), x, atol=1e-12)
    quarter = rotate(xp, x, np.full(2, math.pi / 2)).reshape(2, 5, 5)
    np.testing.assert_allclose(quarter, np.rot90(x.reshape(2, 5, 5), k=-1, axes=(1, 2)), atol=1e-9)


def test_a_small_rotation_interpolates_bilinearly():
    """A single bright pixel rotated by a small angle spreads its mass over its neighbours."""
    from array_api_compat import numpy as xp

    img = np.zeros((1, 49))
    img[0, 3 * 7 + 5] = 1.0  # row 3, column 5, two pixels right of the centre
    out = rotate(xp, img, np.array([math.radians(10)])).reshape(7, 7)
    assert out.sum() == pytest.approx(1.0, abs=0.05) and out.max() < 1.0
    assert out[3, 3] == 0.0  # the centre stays dark


@pytest.mark.parametrize("name", ["numpy", "array_api_strict"])
def test_rotations_are_reproducible_from_the_seed_and_equal_across_backends(name, mnist10k):
    x, y = mnist10k.train[0][:20], mnist10k.train[1][:20]

    def run(backend):
        net = nnaccel.Network([784, 3, 10], backend=backend, dtype="float64", seed=0)
        data = expand(backend, net.data((x, y)), "rotations", make_rng([7, 1]), 15.0)
        return backend.to_numpy(data.x)

    a = run(make_backend("numpy"))
    np.testing.assert_allclose(run(make_backend(name)), a, atol=1e-12)
    assert a.shape == (40, 784)
    np.testing.assert_array_equal(a[0::2], x / 255.0)
    assert not np.allclose(a[1::2], x / 255.0)


@pytest.mark.parametrize("name,value,match", [("expand", "flips", "expand must be one of shifts, rotations"),
                                              ("max_angle", 0.0, r"max_angle must be in \(0, 45\]"),
                                              ("max_angle", 90.0, r"max_angle must be in \(0, 45\]")])
def test_bad_expansion_settings_are_refused(name, value, match):
    """The expansion's settings are rows of the table of options (nnaccel.core.parameters.OPTIONS)."""
    with pytest.raises(NNAccelError, match=match):
        parameters.check(name, value)
