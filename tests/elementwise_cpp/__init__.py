"""ElementwiseKernel bodies compiled as C++ on the CPU, per element, with T = float and double.

The Python emulator (tests/kernel_emulator.py) evaluates a body as Python, so it cannot see
what only C sees: ``1/2`` is 0, ``0 < x < 1`` compares a bool with 1, ``**`` does not exist.
Here each body is pasted, unchanged, into a C++ loop shaped like the one CuPy generates (the
same ``const T &z`` references to the inputs, ``T &a`` to the outputs) and compiled with g++
against cuda_math.h, which gives the float/double overloads CUDA's math library has. The
library is loaded with ctypes; every argument is passed as an array of T (a scalar argument
of type T is the same value in C either way).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def _params(text, is_input):
    """[(ctype, name, is_input)] from ElementwiseKernel's parameter list ("T z, T b")."""
    out = []
    for p in (p.split() for p in text.split(",") if p.strip()):
        if p[0] != "T" or len(p) != 2:
            raise NotImplementedError(f"tests/elementwise_cpp handles 'T name' parameters only, not {' '.join(p)!r}")
        out.append(("T", p[1], is_input))
    return out


def cpp_source(spec):
    """A function template ``<name>(n, arrays…)`` applying the body per element, and its
    extern "C" instances ``<name>_float`` and ``<name>_double``."""
    params = _params(spec.in_params, True) + _params(spec.out_params, False)
    signature = ", ".join(f"{'const ' if is_in else ''}{t}* _raw_{n}" for t, n, is_in in params)
    refs = "\n".join(f"        {'const ' if is_in else ''}{t} &{n} = _raw_{n}[i];" for t, n, is_in in params)
    names = ", ".join(f"_raw_{n}" for _, n, _ in params)
    lines = [f"template <typename T>\nstatic void {spec.name}(long long n, {signature}) {{",
             "    for (long long i = 0; i < n; ++i) {", refs, f"        {spec.operation};", "    }", "}"]
    for ctype in ("float", "double"):
        concrete = signature.replace("T*", f"{ctype}*")
        lines.append(f'extern "C" void {spec.name}_{ctype}(long long n, {concrete}) '
                     f"{{ {spec.name}<{ctype}>(n, {names}); }}")
    return "\n".join(lines) + "\n"


class Library:
    """The compiled bodies of some kernels; ``run(spec, dtype, *args)`` applies one."""

    def __init__(self, specs):
        self.specs = {s.name: s for s in specs}
        source = '#include "cuda_math.h"\n\n' + "\n".join(cpp_source(s) for s in self.specs.values())
        key = hashlib.sha256((source + (HERE / "cuda_math.h").read_text()).encode()).hexdigest()[:16]
        build = Path(tempfile.gettempdir()) / f"nnaccel-elementwise-cpp-{key}"
        lib = build / "kernels.so"
        if not lib.exists():
            build.mkdir(parents=True, exist_ok=True)
            cpp, partial = build / f"kernels-{os.getpid()}.cpp", build / f"kernels-{os.getpid()}.so"
            cpp.write_text(source)  # per process, the library renamed into place: concurrent runs never clash
            done = subprocess.run(["g++", "-O2", "-std=c++17", "-shared", "-fPIC", f"-I{HERE}", str(cpp), "-o",
                                   str(partial)], capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"the kernel bodies do not compile as C++:\n{done.stderr}")
            partial.rename(lib)
        self.source = source
        self.lib = ctypes.CDLL(str(lib))

    def run(self, name, dtype, *args):
        """Apply kernel ``name`` with T = ``dtype`` to ``args`` (inputs then outputs, arrays or
        scalars, broadcast as CuPy does); the outputs, as new arrays."""
        spec, dtype = self.specs[name], np.dtype(dtype)
        arrays = np.broadcast_arrays(*[np.asarray(a, dtype) for a in args])
        arrays = [np.ascontiguousarray(a, dtype).copy() for a in arrays]
        function = getattr(self.lib, f"{name}_{'float' if dtype == np.float32 else 'double'}")
        function.restype = None
        function(ctypes.c_longlong(arrays[0].size), *[a.ctypes.data_as(ctypes.c_void_p) for a in arrays])
        outs = arrays[spec.nin:]
        return outs[0] if len(outs) == 1 else tuple(outs)
