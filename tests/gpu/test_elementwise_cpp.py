"""The CuPy fast path's kernel bodies, compiled as C++, compute what NumPy computes.

tests/kernel_emulator.py runs the bodies as Python, where 1/2 is 0.5 and 0 < x < 1 is a range
test; CUDA C++ reads both differently. Here every kernel Kernels builds is compiled by g++,
per element with T = float and T = double (tests/elementwise_cpp), and compared with NumPy's
evaluation of the same body and with activations.py's formulas, on inputs that include
saturated z, negative values, zeros and integer-valued numbers.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from nnaccel.core.activations import ACTIVATIONS
from nnaccel.epochs.fast.cupy_epoch import Kernels
from tests.elementwise_cpp import Library
from tests.gpu_compile.elementwise import KernelSpec, Recorder
from tests.kernel_emulator import ElementwiseKernel

pytestmark = pytest.mark.gpu_emulated

DTYPES = ("float32", "float64")
# Bodies the emulator evaluates as intended but C does not: the harness must tell them apart.
INTEGER_DIVISION = KernelSpec("T z, T b", "T a", "a = (1 + tanh((z + b) / 2)) * (1/2)", "control_integer_division")
DOUBLE_LITERAL = KernelSpec("T z, T b", "T a", "a = (z + b) * 1e39 * 1e-39", "control_double_literal")


@pytest.fixture(scope="module")
def kernels():
    recorder = Recorder()
    return Kernels(recorder), recorder


@pytest.fixture(scope="module")
def library(kernels):
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed (apt-get install g++)")
    return Library(list(kernels[1].specs.values()) + [INTEGER_DIVISION, DOUBLE_LITERAL])


def _values(rng, dtype, n=96):
    """Saturated, negative, zero, integer-valued and ordinary values, shuffled."""
    special = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 3.0, 0.5, -0.5, 20.0, -20.0, 50.0, -50.0, 800.0, -800.0]
    x = np.concatenate([special, rng.integers(-4, 5, 24), rng.normal(0, 3, n - 24 - len(special))])
    return rng.permutation(x).astype(dtype)


def _mismatches(library, spec, dtype, seed=0):
    """Where the C++ body and NumPy's evaluation of it differ beyond rounding (messages)."""
    rng = np.random.default_rng(seed)
    n_params = spec.nin + len(spec.out_params.split(","))
    args = [_values(rng, dtype) for _ in range(n_params)]
    got = library.run(spec.name, dtype, *args)
    with np.errstate(all="ignore"):
        want = ElementwiseKernel(spec.in_params, spec.out_params, spec.operation, spec.name)(
            *args[:spec.nin], *[a.copy() for a in args[spec.nin:]])
    got, want = (x if isinstance(x, tuple) else (x,) for x in (got, want))
    problems = []
    eps = np.finfo(dtype).eps
    scale = max(1.0, float(np.max(np.abs(np.concatenate(args)))))
    for g, w in zip(got, want):
        bad = ~np.isclose(g, w, rtol=8 * eps, atol=8 * eps * scale, equal_nan=True)
        if bad.any():
            i = int(np.argmax(bad))
            problems.append(f"{spec.name} ({dtype}): C++ gives {float(g[i])!r}, NumPy {float(w[i])!r} for "
                            + ", ".join(f"{float(a[i])!r}" for a in args))
    return problems


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_kernel_body_in_cpp_equals_numpys_evaluation_of_it(kernels, library, dtype):
    specs = kernels[1].specs.values()
    assert len(specs) >= 10
    problems = [p for spec in specs for p in _mismatches(library, spec, dtype)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_activation_kernels_compute_activations_py_fn_and_prime(kernels, library, dtype):
    """a = f(z + b) and d = t ⊙ f'(z), in C++, against the generic path's formulas."""
    k = kernels[0]
    rng = np.random.default_rng(1)
    z, b, t = _values(rng, dtype), _values(rng, dtype), _values(rng, dtype)
    out = np.zeros_like(z)
    assert set(k.activate) == set(k.times_prime) == {"sigmoid", "tanh", "relu", "linear"}
    tol = dict(rtol=8 * np.finfo(dtype).eps, atol=8 * np.finfo(dtype).eps)
    for name, kernel in k.activate.items():
        f = ACTIVATIONS[name]
        with np.errstate(all="ignore"):
            want = f.fn(np, z + b)
        np.testing.assert_allclose(library.run(kernel.spec.name, dtype, z, b, out), want, **tol, err_msg=name)
    for name, kernel in k.times_prime.items():
        f = ACTIVATIONS[name]
        a = f.fn(np, z)
        np.testing.assert_allclose(library.run(kernel.spec.name, dtype, t, a, out), t * f.prime(np, z, a),
                                   **tol, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_comparison_catches_c_integer_division(library, dtype):
    """(1/2) is 0.5 to the emulator and 0 in C: a body written so must fail the comparison."""
    problems = _mismatches(library, INTEGER_DIVISION, dtype)
    assert problems and "C++ gives 0.0" in problems[0]


def test_the_comparison_catches_a_double_literal_in_a_float_kernel(library):
    """A literal is a double in C, so z * 1e39 * 1e-39 stays z in a float kernel, while NumPy's
    float32 arithmetic overflows to inf; in float64 both keep z."""
    assert _mismatches(library, DOUBLE_LITERAL, "float32")
    assert not _mismatches(library, DOUBLE_LITERAL, "float64")
