"""``nnaccel info``: the installed array libraries, the GPUs, the CPU kernel and the data's folders."""

from __future__ import annotations

import importlib
import platform

from .._version import __version__
from ..backend import gpu_names
from ..data.datasets import FASHION_SYSTEM_DIR, embedded_dir
from ..data.download import cache_dir
from ..epochs.fast.c_epoch import available as c_kernel_level


def add_parser(sub):
    p = sub.add_parser("info", help="the backends, GPUs and versions this machine has")
    p.set_defaults(run=run)


def run(args, out=print):
    out(f"nnaccel {__version__}, Python {platform.python_version()} on {platform.machine()}")
    for module in ("numpy", "array_api_compat", "cupy", "torch", "jax", "array_api_strict"):
        try:
            version = importlib.import_module(module).__version__
            out(f"  {module:<17} {version}")
        except Exception:
            out(f"  {module:<17} not installed")
    names = gpu_names()
    for i, name in enumerate(names):
        out(f"  GPU cuda:{i}         {name}")
    if not names:
        out("  GPUs              none seen by CuPy (training runs on the CPU with NumPy)")
    level = c_kernel_level()
    out(f"  CPU kernel        {f'C, {level} instructions' if level else 'not compiled (the NumPy fast path runs; install with a C compiler for the C kernel)'}")
    out(f"  embedded data     {embedded_dir()}")
    out(f"  data cache        {cache_dir()}")
    out(f"  fashion-mnist     {FASHION_SYSTEM_DIR if FASHION_SYSTEM_DIR.is_dir() else 'not installed (downloaded on first use)'}")
    return 0
