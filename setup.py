"""Build the optional C extension nnaccel.fast._sgd; everything else is in pyproject.toml.

The extension is optional: where no C compiler is found the build goes on without it and
nnaccel uses its NumPy fast path instead (``nnaccel info`` says which one runs).
"""

import sys

from setuptools import Extension, setup

flags = ["/O2"] if sys.platform == "win32" else ["-O3", "-fopenmp-simd"]

setup(ext_modules=[Extension(
    "nnaccel.fast._sgd",
    sources=["nnaccel/fast/_sgd.c"],
    depends=["nnaccel/fast/_sgd_kernel.h"],
    extra_compile_args=flags,
    optional=True,
)])
