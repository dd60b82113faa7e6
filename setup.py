"""Build the optional C extension of nnaccel.epochs.fast; everything else is in pyproject.toml.

The extension is optional: where no C compiler is found the build goes on without it and
nnaccel uses its NumPy fast path instead (``nnaccel info`` says which one runs).
"""

import sys

from setuptools import Extension, setup

flags = ["/O2"] if sys.platform == "win32" else ["-O3", "-fopenmp-simd"]
headers = ["_levels.h", "_sgd_level.h", "_sgd_kernel.h"]

# K networks of one shape per call: one network is K = 1 (c_epoch.py), a population its K members (population_c.py)
setup(ext_modules=[
    Extension("nnaccel.epochs.fast._sgd", sources=["nnaccel/epochs/fast/_sgd.c"],
              depends=[f"nnaccel/epochs/fast/{h}" for h in headers], extra_compile_args=flags, optional=True),
])
