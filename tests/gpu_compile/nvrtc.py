"""NVRTC driven as CuPy drives it: the compile route lives in nnaccel/epochs/fast/nvrtc.py, which the
benchmarks' SASS model shares (benchmarks and tests import nothing of each other)."""

from nnaccel.epochs.fast.nvrtc import (ARCHS, PINNED_CUPY, PRIVATE_API, REGISTERS_PER_BLOCK,
                                       SHARED_OPT_IN_LIMIT, STATIC_SHARED_LIMIT, Compiled, Resources,
                                       RouteBroken, compile_cuda, cuda_header_version, cupy_header,
                                       cupy_options, cupy_route, limit_problems, nvrtc_version, parse_ptxas)
