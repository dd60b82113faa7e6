"""The one place that knows about array libraries and devices.

``resolve(device, backend)`` turns the user's words ("cpu", "cuda:1", "auto"; "numpy",
"cupy", "torch", "jax", "array_api_strict") into a :class:`Backend`: the array-API namespace
``xp``, the device, the two transfers that cross the host boundary (``asarray`` and
``to_numpy``), and one capability, ``in_place``: whether its arrays may be updated in place
(JAX's are immutable, so the generic path builds new ones there). Everything downstream
receives ``xp`` and arrays and never imports an array library itself.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import NNAccelError

BACKENDS = ("numpy", "cupy", "torch", "jax", "array_api_strict")
# The CUDA driver's library, which every CUDA program (CuPy's runtime too) loads by this name:
# where it does not load, no GPU is usable, and importing CuPy (half a second) to learn so is skipped.
CUDA_DRIVER = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"
DTYPES = ("float32", "float64")


def dtype_name(dtype):
    """"float32" or "float64" for that name, a NumPy dtype or scalar type (np.float64) or a
    torch/JAX dtype; anything else as it came, for the check to refuse in its own words."""
    if isinstance(dtype, str):
        return dtype
    name = getattr(dtype, "name", None) or getattr(dtype, "__name__", None) or str(dtype).rsplit(".", 1)[-1]
    return name if name in DTYPES else dtype


@dataclass(frozen=True)
class Backend:
    """An array namespace on one device, with the host transfers it needs."""

    name: str
    xp: Any
    device: Any
    device_name: str
    note: str = ""
    in_place: bool = True  # False where arrays are immutable (JAX): updates then build new arrays

    def asarray(self, host, dtype=None):
        """Copy a host (NumPy) array to this device, optionally casting to ``dtype``."""
        host = np.asarray(host)
        if self.name == "numpy":
            x = host
        elif self.name == "cupy":
            with self.device:
                x = self.xp.asarray(host)
        elif self.name == "torch":
            import torch

            x = torch.as_tensor(host).to(self.device)
        elif self.name == "jax":
            import jax

            x = jax.device_put(host, self.device)
        else:
            x = self.xp.asarray(host)
        return x if dtype is None else self.xp.astype(x, self.dtype(dtype))

    def to_numpy(self, x) -> np.ndarray:
        """Copy a device array back to a host NumPy array."""
        if self.name == "numpy":
            return np.asarray(x)
        if self.name == "cupy":
            return x.get()
        if self.name == "torch":
            return x.detach().cpu().numpy()
        if self.name == "jax":
            return np.asarray(x)
        return np.from_dlpack(x)

    def dtype(self, name: str):
        """The namespace's floating dtype called ``name`` ("float32" or "float64")."""
        if not isinstance(name, str) or name not in DTYPES:
            raise NNAccelError(f"unknown dtype {name!r}; use one of {', '.join(DTYPES)}")
        return getattr(self.xp, name)

    def describe(self) -> str:
        return f"{self.name} on {self.device_name}"


def cuda_driver_present() -> bool:
    """Whether the CUDA driver's library loads (a GPU may be usable; CuPy says whether one is)."""
    try:
        ctypes.CDLL(CUDA_DRIVER)
    except OSError:
        return False
    return True


def cuda_available() -> bool:
    """True when CuPy is importable and sees at least one CUDA device (never without the driver:
    `--device auto` on a machine without one starts half a second sooner)."""
    if not cuda_driver_present():
        return False
    try:
        import cupy
    except Exception:
        return False
    try:
        return bool(cupy.cuda.is_available())
    except Exception:
        return False


def torch_cuda_available() -> bool:
    """True when PyTorch is importable and sees a CUDA device."""
    try:
        import torch
    except Exception:
        return False
    return bool(torch.cuda.is_available())


def gpu_names() -> list:
    """The names of the CUDA devices CuPy sees (empty without CuPy or a GPU)."""
    if not cuda_available():
        return []
    import cupy

    return [cupy.cuda.runtime.getDeviceProperties(i)["name"].decode()
            for i in range(cupy.cuda.runtime.getDeviceCount())]


def jax_gpus() -> list:
    """The GPU devices JAX sees (empty without JAX, or with its CPU-only build)."""
    try:
        import jax
    except Exception:
        return []
    try:
        return jax.devices("gpu")
    except RuntimeError:  # no GPU backend in this jaxlib
        return []


def _jax_backend(kind, index, note) -> Backend:
    """JAX on its CPU or the index-th GPU, with 64-bit types turned on (see docs/backends.md).

    JAX makes float64 and int64 arrays only under ``jax_enable_x64``, a process-wide switch;
    without it float64 data silently becomes float32. nnaccel turns it on when JAX is chosen.
    Every array nnaccel makes has an explicit dtype and Python scalars are weakly typed, so a
    float32 network stays float32 and its numbers do not change.
    """
    jax = _require("jax", "jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as xp  # array-API compliant itself (JAX ≥ 0.4.32); array_api_compat returns it as is

    if kind == "cuda":
        gpus = jax_gpus()
        if not gpus:
            raise NNAccelError("JAX sees no GPU here (is the CUDA build installed: pip install 'jax[cuda12]'?); "
                               "use --device cpu")
        if index >= len(gpus):
            raise NNAccelError(f"there is no cuda:{index} (JAX sees {len(gpus)} GPU(s)); use --device cuda:0")
        return Backend("jax", xp, gpus[index], f"cuda:{index}", note, in_place=False)
    return Backend("jax", xp, jax.devices("cpu")[0], "cpu", note, in_place=False)


def _parse_device(device: str) -> tuple[str, int]:
    device = str(device).strip().lower()
    if device in ("cpu", "auto", "cuda", "gpu"):
        return ("cuda" if device == "gpu" else device), 0
    if device.startswith("cuda:") and device[5:].isdigit():
        return "cuda", int(device[5:])
    raise NNAccelError(
        f"unknown device {device!r}; use cpu, cuda, cuda:N or auto"
    )


def _require(module: str, extra: str):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if importlib.util.find_spec(module) is None:
            raise NNAccelError(f"the {module} backend is not installed; pip install 'nnaccel[{extra}]' "
                               "or choose another with --backend") from None
        # installed but it would not load: a broken install, or no memory to map its libraries
        raise NNAccelError(f"the {module} backend is installed but would not load ({str(e)[:160]}); "
                           f"reinstall it (pip install --force-reinstall 'nnaccel[{extra}]'), free memory, "
                           "or choose another with --backend") from None


def resolve(device: str = "auto", backend: str | None = None) -> Backend:
    """Choose the array namespace and device; raise NNAccelError naming the fix if impossible."""
    kind, index = _parse_device(device)
    if backend is not None and backend not in BACKENDS:
        raise NNAccelError(
            f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}"
        )
    note = ""
    if backend is None:
        if kind == "auto":
            if cuda_available():
                kind, backend = "cuda", "cupy"
            else:
                kind, backend = "cpu", "numpy"
                note = "no CUDA GPU found (cupy.cuda.is_available() is false); using NumPy on the CPU"
        else:
            backend = "cupy" if kind == "cuda" else "numpy"
    elif kind == "auto":
        kind = "cuda" if backend == "cupy" else "cpu"
        if backend == "torch":
            torch = _require("torch", "torch")
            kind = "cuda" if torch.cuda.is_available() else "cpu"
        if backend == "jax":
            kind = "cuda" if jax_gpus() else "cpu"

    if backend == "numpy":
        if kind == "cuda":
            raise NNAccelError("the numpy backend runs on the CPU only; use --device cpu or --backend cupy")
        from array_api_compat import numpy as xp

        return Backend("numpy", xp, "cpu", "cpu", note)

    if backend == "array_api_strict":
        if kind == "cuda":
            raise NNAccelError("array_api_strict runs on the CPU only; use --device cpu")
        xp = _require("array_api_strict", "test")
        return Backend("array_api_strict", xp, xp.Device("CPU_DEVICE"), "cpu", note)

    if backend == "torch":
        torch = _require("torch", "torch")
        from array_api_compat import torch as xp

        if kind == "cuda":
            if not torch.cuda.is_available():
                raise NNAccelError("PyTorch sees no CUDA GPU here; use --device cpu")
            if index >= torch.cuda.device_count():
                raise NNAccelError(
                    f"there is no cuda:{index} (PyTorch sees {torch.cuda.device_count()} GPU(s)); "
                    "use --device cuda:0"
                )
            return Backend("torch", xp, torch.device("cuda", index), f"cuda:{index}", note)
        return Backend("torch", xp, torch.device("cpu"), "cpu", note)

    if backend == "jax":
        return _jax_backend(kind, index, note)

    # cupy
    if kind == "cpu":
        raise NNAccelError("the cupy backend runs on CUDA GPUs only; use --device cuda or --backend numpy")
    if not cuda_available():
        raise NNAccelError(
            "CUDA was asked for but no CUDA GPU is available (is CuPy installed: "
            "pip install 'nnaccel[cuda]'?); use --device cpu"
        )
    import cupy
    from array_api_compat import cupy as xp

    if index >= cupy.cuda.runtime.getDeviceCount():
        raise NNAccelError(
            f"there is no cuda:{index} (CuPy sees {cupy.cuda.runtime.getDeviceCount()} GPU(s)); use --device cuda:0"
        )
    return Backend("cupy", xp, cupy.cuda.Device(index), f"cuda:{index}", note)


def from_array(x) -> Backend:
    """The Backend an existing array lives on (for arrays handed to the API directly)."""
    import array_api_compat as compat

    xp = compat.array_namespace(x)
    if compat.is_numpy_array(x):
        return resolve("cpu", "numpy")
    if compat.is_cupy_array(x):
        return resolve(f"cuda:{x.device.id}", "cupy")
    if compat.is_torch_array(x):
        dev = x.device
        return resolve("cpu" if dev.type == "cpu" else f"cuda:{dev.index or 0}", "torch")
    if compat.is_jax_array(x):
        dev = next(iter(x.devices()))
        return resolve("cpu" if dev.platform == "cpu" else f"cuda:{jax_gpus().index(dev)}", "jax")
    if getattr(xp, "__name__", "") == "array_api_strict":
        return resolve("cpu", "array_api_strict")
    raise NNAccelError(f"arrays of type {type(x).__name__} are not supported; pass NumPy arrays")


def make_rng(seed=None) -> np.random.Generator:
    """The host random generator that draws initial weights and shuffles: same seed, same run."""
    return np.random.default_rng(seed)
