"""Build CUDA kernels as C++ with the shim (cuda_shim.h), and stand-ins for cupy.RawModule.

``ShimModule`` takes cupy.RawModule's keywords (code, options, name_expressions): it compiles
that very source with g++ into a shared library (cached in the temp dir, keyed by a hash of
everything that goes in) and its ``get_function(name)`` returns a kernel called as CuPy's
are, ``kernel(grid, block, args, shared_mem=bytes)``, on NumPy arrays and NumPy scalars.
``sanitized(kind)`` gives a RawModule stand-in that runs each launch in a standalone program
built with -fsanitize=thread or -fsanitize=address, and fails on any report.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CXX = os.environ.get("CXX", "g++")
FLAGS = ["-std=c++20", "-pthread", "-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas", "-Wno-unused-parameter"]
MODES = {
    "library": ["-O2", "-shared", "-fPIC"],
    "thread": ["-O1", "-g", "-fsanitize=thread"],
    "address": ["-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer"],
}
TYPE_CODES = {"float32": "f32", "float64": "f64", "uint8": "u8", "int32": "i32", "int64": "i64"}
DEFAULT_SHARED = 48 * 1024  # CUDA's dynamic shared memory without opting in
H100_OPT_IN = 227 * 1024  # cudaDevAttrMaxSharedMemoryPerBlockOptin of an H100


def compiler() -> str | None:
    """The C++ compiler's path, or None when there is none."""
    return shutil.which(CXX)


# Kernels built with __cluster_dims__(CL): which template argument is CL (it must be a
# compile-time constant); a name expression that leaves it out takes its default, 1.
CLUSTER_ARGUMENT = {"sgd_epoch_registers": 4}


def cluster_size(name_expression: str) -> int:
    """The blocks of a cluster the kernel is built for (1: none)."""
    kernel, _, arguments = name_expression.partition("<")
    arguments = [a.strip() for a in arguments.rstrip("> ").split(",")]
    at = CLUSTER_ARGUMENT.get(kernel.strip())
    return int(arguments[at]) if at is not None and at < len(arguments) else 1


def build(source: str, name_expressions, mode: str = "library") -> Path:
    """The shim library (mode "library") or standalone program ("thread", "address") for ``source``."""
    shim_files = [HERE / "cuda_shim.h", HERE / "launcher.cpp", HERE / "standalone.cpp"]
    table = "".join(f'{{"{name}", launcher<&{name}>, {cluster_size(name)}}},\n' for name in name_expressions)
    key = hashlib.sha256("\0".join([source, table, mode, CXX, *FLAGS, *MODES[mode]]
                                   + [f.read_text() for f in shim_files]).encode()).hexdigest()[:20]
    home = Path(tempfile.gettempdir()) / "nnaccel-cuda-shim" / key
    target = home / ("libshim.so" if mode == "library" else f"standalone-{mode}")
    if target.exists():
        return target
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f"{key}-{mode}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second process (a pytest-xdist worker) waits for this build
        if not target.exists():
            _compile(source, table, mode, home, target)
    return target


def _compile(source, table, mode, home, target):
    work = Path(tempfile.mkdtemp(prefix="build-", dir=home.parent))
    (work / "kernel.cu").write_text(source)
    (work / "kernels.inc").write_text(table)
    sources = [HERE / "launcher.cpp"] + ([HERE / "standalone.cpp"] if mode != "library" else [])
    command = [CXX, *FLAGS, *MODES[mode], '-DKERNEL_SOURCE="kernel.cu"', f"-I{work}", f"-I{HERE}",
               *map(str, sources), "-o", str(work / target.name)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"the shim build failed:\n{' '.join(command)}\n{result.stderr}")
    home.mkdir(parents=True, exist_ok=True)
    os.replace(work / target.name, target)  # atomic: a process that does not lock finds it whole or not at all
    shutil.rmtree(work, ignore_errors=True)


def _code(value) -> str:
    if isinstance(value, np.ndarray):
        return "*" + TYPE_CODES[str(value.dtype)]
    if isinstance(value, np.generic):
        return TYPE_CODES[str(value.dtype)]
    raise TypeError(f"pass NumPy arrays or NumPy scalars of an explicit type, not {type(value).__name__}")


class ShimKernel:
    """A kernel called as a cupy.RawKernel is; it counts its launches."""

    def __init__(self, module, name):
        self.module, self.name = module, name
        self.max_dynamic_shared_size_bytes = DEFAULT_SHARED
        self.launches = 0

    def __setattr__(self, key, value):
        if key == "max_dynamic_shared_size_bytes" and value > self.module.opt_in:
            raise RuntimeError(f"cudaErrorInvalidValue: {value} bytes of shared memory, above the device's "
                               f"{self.module.opt_in}")
        super().__setattr__(key, value)

    def __call__(self, grid, block, args, shared_mem=0):
        grid, block = tuple(grid), tuple(block)
        if grid[1:] not in ((), (1,), (1, 1)) or block[1:] not in ((), (1,), (1, 1)):
            raise ValueError("the shim runs one-dimensional grids and blocks")
        if shared_mem > self.max_dynamic_shared_size_bytes:  # what CUDA refuses without the opt-in
            raise RuntimeError(f"cudaErrorInvalidValue: {shared_mem} bytes of dynamic shared memory but the "
                               f"kernel allows {self.max_dynamic_shared_size_bytes}")
        for a in args:
            if isinstance(a, np.ndarray) and not a.flags.c_contiguous:
                raise ValueError("kernel arrays must be C-contiguous")
        ShimModule.launches += 1
        self.launches += 1
        self.module.run(self.name, grid[0], block[0], shared_mem, list(args))


class ShimModule:
    """cupy.RawModule's stand-in: the source compiled as C++ with the shim, run on the CPU."""

    launches = 0  # every launch through any shim module

    def __init__(self, code, options=(), name_expressions=(), sanitizer=None, opt_in=H100_OPT_IN):
        self.names = list(name_expressions)
        self.sanitizer = sanitizer
        self.opt_in = opt_in
        self.path = build(code, self.names, sanitizer or "library")
        if sanitizer is None:
            self.library = ctypes.CDLL(str(self.path))
            self.library.shim_launch.restype = ctypes.c_int
            self.library.shim_launch.argtypes = [
                ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint, ctypes.c_size_t, ctypes.c_int,
                ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_char_p), ctypes.c_char_p, ctypes.c_size_t]

    def get_function(self, name):
        if name not in self.names:
            raise KeyError(f"{name} is not among the module's name expressions")
        return ShimKernel(self, name)

    def run(self, name, grid, block, shared_mem, args):
        if self.sanitizer:
            return self._run_standalone(name, grid, block, shared_mem, args)
        keep = []  # the values the pointers in argv point to, alive until the call returns
        argv = (ctypes.c_void_p * len(args))()
        codes = (ctypes.c_char_p * len(args))(*(_code(a).encode() for a in args))
        for i, a in enumerate(args):
            holder = ctypes.c_void_p(a.ctypes.data) if isinstance(a, np.ndarray) \
                else ctypes.create_string_buffer(a.tobytes(), a.nbytes)
            keep.append(holder)
            argv[i] = ctypes.addressof(holder)
        error = ctypes.create_string_buffer(512)
        if self.library.shim_launch(name.encode(), grid, block, shared_mem, len(args), argv, codes, error, 512):
            raise RuntimeError(f"shim launch of {name}: {error.value.decode()}")

    def _run_standalone(self, name, grid, block, shared_mem, args):
        with tempfile.TemporaryDirectory(prefix="nnaccel-shim-run-") as tmp:
            lines = [f"kernel {name}", f"launch {grid} {block} {shared_mem}"]
            for i, a in enumerate(args):
                if isinstance(a, np.ndarray):
                    a.tofile(os.path.join(tmp, f"arg{i}.bin"))
                    lines.append(f"array {_code(a)} {a.nbytes} arg{i}.bin")
                else:
                    lines.append(f"scalar {_code(a)} {a.tobytes().hex()}")
            Path(tmp, "launch.txt").write_text("\n".join(lines) + "\n")
            env = dict(os.environ, TSAN_OPTIONS="halt_on_error=1 exitcode=66",
                       ASAN_OPTIONS="halt_on_error=1 detect_leaks=0 exitcode=67")
            result = subprocess.run([str(self.path), tmp], capture_output=True, text=True, env=env, timeout=600)
            if result.returncode or "Sanitizer" in result.stderr:
                raise SanitizerFailure(f"{self.path.name} exited {result.returncode}:\n{result.stderr[-6000:]}")
            for i, a in enumerate(args):
                if isinstance(a, np.ndarray):
                    a[...] = np.fromfile(os.path.join(tmp, f"arg{i}.bin"), a.dtype).reshape(a.shape)


class SanitizerFailure(AssertionError):
    """The sanitized program reported an error (a data race, a memory error) or failed."""


def sanitized(kind, names=()):
    """A cupy.RawModule stand-in whose launches run under -fsanitize=``kind`` ("thread", "address");
    ``names``: build these instantiations into one program whatever a launch asks for (one of
    them), so that a file's sanitizer runs share one build per sanitizer."""
    def compile(code, options=(), name_expressions=()):
        if names and not set(name_expressions) <= set(names):
            raise KeyError(f"{sorted(set(name_expressions) - set(names))}: not among the sanitized build's names")
        return ShimModule(code, options, list(names) or name_expressions, sanitizer=kind)

    return compile
