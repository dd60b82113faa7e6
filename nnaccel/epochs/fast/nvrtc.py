"""NVRTC from PyPI, driven exactly as CuPy drives it on a GPU, but without one.

Shared by the NVRTC tests (tests/gpu_compile re-exports it) and the benchmarks' SASS model
(benchmarks/gpu_model.py), which may import nothing of each other.

CuPy's public ``compile_using_nvrtc`` asks the device for its architecture; everything under it
(the compiler options CuPy assembles, its headers, its NVRTC program class) needs no device but
is private API. So CuPy's version is pinned (``PINNED_CUPY``, pyproject's ``cuda`` extra) and
:func:`cupy_route` names every private piece used here: an upgrade that moves one fails one
test (tests/gpu/test_nvrtc_compile.py) saying what to update, instead of quietly compiling
something other than what a GPU would run.

Each compile is for a real architecture (``-arch=sm_80``: NVRTC runs ptxas and returns a
cubin, as CuPy does for architectures its NVRTC knows), with ``-Xptxas=-v`` so the program log
carries ptxas's resource report, parsed by :func:`parse_ptxas`.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import importlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PINNED_CUPY = "14.2.0"  # pyproject: cuda = ["cupy-cuda12x==14.2.0"]; update both together
ARCHS = ("80", "90")  # A100, H100

# Per-block limits (CUDA C++ Programming Guide, "Technical Specifications per Compute
# Capability"; Ampere and Hopper tuning guides): 48 KB of static __shared__; with the
# cudaFuncAttributeMaxDynamicSharedMemorySize opt-in, 163 KB in all on sm_80, 227 KB on sm_90.
STATIC_SHARED_LIMIT = 48 * 1024
SHARED_OPT_IN_LIMIT = {"80": 163 * 1024, "90": 227 * 1024}
REGISTERS_PER_BLOCK = 64 * 1024  # 32-bit registers, sm_80 and sm_90; a thread's count is allocated in 8s

# Where CuPy's private route lives: (module, attribute). cupy_route() checks each.
PRIVATE_API = (
    ("cupy._core.core", "assemble_cupy_compiler_options"),  # -I<cupy/_core/include>, CCCL, --std, CUDA headers
    ("cupy._core.core", "_cupy_header_list"),  # the #includes CuPy puts before a generated kernel
    ("cupy.cuda.compiler", "_NVRTCProgram"),
    ("cupy.cuda.compiler", "CompileException"),
    ("cupy.cuda.compiler", "_get_nvrtc_version"),
    ("cupy.cuda.compiler", "_use_pch"),
    ("cupy._core._kernel", "_ArgInfo"),
    ("cupy._core._kernel", "_get_elementwise_kernel_code"),
    ("cupy._core._carray", "Indexer"),
    ("cupy._core._scalar", "CScalar"),
    ("cupy._core.internal", "get_c_contiguity"),
)


class RouteBroken(RuntimeError):
    """CuPy no longer offers the private pieces this module compiles with."""


def cupy_route(check_version=False):
    """The private CuPy objects, as {attribute: object}; RouteBroken says what changed and what
    to update (``check_version``: also when CuPy is not the pinned version)."""
    import cupy

    found, missing = {}, []
    for module, attribute in PRIVATE_API:
        try:
            found[attribute] = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError):
            missing.append(f"{module}.{attribute}")
    if missing or (check_version and cupy.__version__ != PINNED_CUPY):
        raise RouteBroken(
            f"CuPy {cupy.__version__} is installed but nnaccel/epochs/fast/nvrtc.py was written against CuPy "
            f"{PINNED_CUPY}" + (f" and cannot find {', '.join(missing)}" if missing else "")
            + ". Read that version's cupy/_core/_kernel.pyx (_get_elementwise_kernel_code, "
            "ElementwiseKernel.__call__), cupy/_core/_compile_with_cache.pyx and "
            "cupy/cuda/compiler.py (_compile_with_cache_cuda, _compile_using_nvrtc_no_warning), "
            "update nnaccel/epochs/fast/nvrtc.py and tests/gpu_compile/elementwise.py to match, then PINNED_CUPY and "
            "the cupy-cuda12x pin in pyproject's cuda extra.")
    return found


@dataclass
class Resources:
    """ptxas's report for one function on one architecture."""

    registers: int = 0
    spill_stores: int = 0  # bytes
    spill_loads: int = 0  # bytes
    stack_frame: int = 0  # bytes of local memory per thread
    shared: int = 0  # bytes of static __shared__
    constant: int = 0  # bytes of cmem[0] (the kernel's parameters)
    barriers: int = 0
    entry: bool = False  # a __global__ function, not a device function ptxas kept


@dataclass
class Compiled:
    cubin: bytes
    log: str
    mapping: dict  # name expression -> lowered (mangled) name
    functions: dict = field(default_factory=dict)  # mangled name -> Resources


_PROPERTIES = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")


def parse_ptxas(log):
    """{function: Resources} from a ``-Xptxas=-v`` log."""
    functions, current = {}, None
    for line in log.splitlines():
        if m := re.search(r"Compiling entry function '([^']+)'", line):
            current = functions.setdefault(m.group(1), Resources())
            current.entry = True
        elif m := re.search(r"Function properties for (\S+)", line):
            current = functions.setdefault(m.group(1), Resources())
        elif m := _PROPERTIES.search(line):
            current.stack_frame, current.spill_stores, current.spill_loads = map(int, m.groups())
        elif m := re.search(r"Used (\d+) registers", line):
            current.registers = int(m.group(1))
            for key, pattern in (("shared", r"(\d+) bytes smem"), ("constant", r"(\d+) bytes cmem\[0\]"),
                                 ("barriers", r"used (\d+) barriers")):
                if found := re.search(pattern, line):
                    setattr(current, key, int(found.group(1)))
    return functions


def limit_problems(name, resources, arch, dynamic_shared=0, threads=0):
    """What would stop or slow this function on sm_<arch> when launched with ``threads`` per
    block and ``dynamic_shared`` bytes, one sentence each (empty: fine)."""
    problems = []
    registers = -(-resources.registers // 8) * 8 * threads
    if registers > REGISTERS_PER_BLOCK:
        problems.append(f"{name} on sm_{arch} needs {resources.registers} registers × {threads} threads, above the "
                        f"{REGISTERS_PER_BLOCK} registers of a block: the launch would fail")
    if resources.spill_stores or resources.spill_loads:
        problems.append(f"{name} on sm_{arch} spills registers ({resources.spill_stores} bytes stored, "
                        f"{resources.spill_loads} loaded, {resources.registers} registers used)")
    if resources.shared > STATIC_SHARED_LIMIT:
        problems.append(f"{name} on sm_{arch} declares {resources.shared} bytes of static shared memory, "
                        f"above the {STATIC_SHARED_LIMIT}-byte limit per block")
    if resources.shared + dynamic_shared > SHARED_OPT_IN_LIMIT[arch]:
        problems.append(f"{name} on sm_{arch} needs {resources.shared} + {dynamic_shared} bytes of shared "
                        f"memory, above the {SHARED_OPT_IN_LIMIT[arch]}-byte opt-in limit per block")
    return problems


def nvrtc_version():
    return tuple(cupy_route()["_get_nvrtc_version"]())


def cuda_header_version(options):
    """CUDA_VERSION (e.g. 12090) of the cuda.h on the include path of ``options``, or None."""
    for option in options:
        if option.startswith("-I") and (header := Path(option[2:]) / "cuda.h").is_file():
            if found := re.search(r"#define\s+CUDA_VERSION\s+(\d+)", header.read_text(errors="replace")):
                return int(found.group(1))
    return None


def cupy_options(options=()):
    """The options CuPy's compile_with_cache passes on for a kernel compiled with ``options``:
    its include paths (CuPy's headers, bundled CCCL, the CUDA headers of the nvidia-cuda-runtime
    wheel), its default C++ standard, and flush-to-zero."""
    return tuple(cupy_route()["assemble_cupy_compiler_options"](tuple(options))) + ("-ftz=true",)


def cupy_header():
    """The #include lines CuPy puts before an ElementwiseKernel's generated code."""
    return "".join(f"#include <{h}>\n" for h in cupy_route()["_cupy_header_list"])


_CACHE: dict = {}
# A folder shared by processes (the test session sets it for its workers and for the GPU model it
# runs as a command): each program is compiled once per run, not once per process that needs it.
CACHE_VARIABLE = "NNACCEL_NVRTC_CACHE"


def compile_cuda(source, arch, options, name_expressions=(), line_info=False):
    """Compile ``source`` for sm_<arch> with ``options`` (already CuPy's, see cupy_options) the
    way CuPy's NVRTC step does, adding ptxas's report; cached by content within the run, and in
    the folder NNACCEL_NVRTC_CACHE names where it is set.
    ``line_info`` adds -lineinfo (source lines in the cubin, the code unchanged) for a
    disassembler. A compile error raises CuPy's CompileException with NVRTC's log."""
    route = cupy_route()
    options = tuple(options) + (f"-arch=sm_{arch}", "--device-as-default-execution-space")
    if line_info:
        options += ("-lineinfo",)
    major, minor = nvrtc_version()
    if route["_use_pch"] and (major, minor) >= (12, 8):
        options += ("--pch",)
    options += ("-Xptxas=-v",)
    key = hashlib.sha256(repr((source, options, tuple(name_expressions), major, minor)).encode()).hexdigest()
    if key not in _CACHE:
        folder = os.environ.get(CACHE_VARIABLE)
        with _shared_entry(Path(folder) if folder else None, key) as entry:
            stored = _read_entry(entry)
            if stored is not None:
                cubin, log, mapping = stored
            else:
                cubin, log, mapping = _nvrtc(route, source, options, name_expressions)
                if entry is not None:
                    _write_atomically(entry, json.dumps({"cubin": base64.b64encode(cubin).decode(), "log": log,
                                                         "mapping": mapping}))
        _CACHE[key] = Compiled(cubin, log, mapping, parse_ptxas(log))
    return _CACHE[key]


def _nvrtc(route, source, options, name_expressions):
    """(cubin, ptxas's log, {name expression: lowered name}) of one NVRTC program."""
    program = route["_NVRTCProgram"](source, "kern.cu", name_expressions=list(name_expressions) or None,
                                     method="cubin")
    log = io.StringIO()
    cubin, mapping = program.compile(options, log)
    return _whole_elf(cubin), log.getvalue(), dict(mapping or {})


def _read_entry(entry):
    """(cubin, log, mapping) stored in ``entry``, or None: none yet, or one a crash left short or
    another layout wrote, which is compiled again and overwritten rather than trusted."""
    if entry is None:
        return None
    try:
        stored = json.loads(entry.read_text())
        return base64.b64decode(stored["cubin"]), stored["log"], dict(stored["mapping"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def _shared_entry(folder, key):
    """The cache file for ``key`` in ``folder`` (None without one), held under an exclusive lock so
    that a second process asking for the same program waits for the first one's compile. A
    folder that cannot be made or locked is no cache: the compile still runs."""
    lock = None
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock = os.open(folder / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(lock, fcntl.LOCK_EX)
        except OSError:
            if lock is not None:
                os.close(lock)
            lock = None
    try:
        yield None if lock is None else folder / f"{key}.json"
    finally:
        if lock is not None:
            os.close(lock)  # and with it the lock


def _write_atomically(path, text):
    """``text`` at ``path`` by rename, so a reader never sees half of it; a failure leaves no file
    and no cache entry (the program stays compiled in memory)."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text)
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)


def _whole_elf(image):
    """The cubin as long as its own ELF header says: CuPy 14.2's getCUBIN returns it one byte
    short (the last byte of the program headers), which nvdisasm refuses as an invalid ELF."""
    if image[:4] != b"\x7fELF" or image[4] != 2:  # ELF64 only
        return image
    phoff, shoff = int.from_bytes(image[32:40], "little"), int.from_bytes(image[40:48], "little")
    phentsize, phnum, shentsize, shnum = (int.from_bytes(image[i:i + 2], "little") for i in (54, 56, 58, 60))
    end = max(phoff + phentsize * phnum, shoff + shentsize * shnum)
    return image + b"\0" * (end - len(image)) if end > len(image) else image
