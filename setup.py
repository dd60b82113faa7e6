"""Build the optional C extensions of nnaccel.fast; everything else is in pyproject.toml.

The extensions are optional: where no C compiler is found the build goes on without them and
nnaccel uses its NumPy fast path instead (``nnaccel info`` says which one runs).
"""

import os
import sys

from setuptools import Extension, setup

flags = ["/O2"] if sys.platform == "win32" else ["-O3", "-fopenmp-simd"]
depends = ["nnaccel/fast/_sgd_kernel.h", "nnaccel/fast/_sgd_level.h"]


def extension(name, source):
    return Extension(name, sources=[source], depends=depends, extra_compile_args=flags, optional=True)


extensions = [extension("nnaccel.fast._sgd", "nnaccel/fast/_sgd.c")]
if os.path.exists("nnaccel/fast/_population.c"):  # many networks of one shape at once (optional)
    extensions.append(extension("nnaccel.fast._population", "nnaccel/fast/_population.c"))

setup(ext_modules=extensions)
