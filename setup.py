"""Build the optional C extensions of nnaccel.epochs.fast; everything else is in pyproject.toml.

The extensions are optional: where no C compiler is found the build goes on without them and
nnaccel uses its NumPy fast path instead (``nnaccel info`` says which one runs).
"""

import sys

from setuptools import Extension, setup

flags = ["/O2"] if sys.platform == "win32" else ["-O3", "-fopenmp-simd"]
depends = ["nnaccel/epochs/fast/_extension.h", "nnaccel/epochs/fast/_levels.h", "nnaccel/epochs/fast/_sgd_kernel.h", "nnaccel/epochs/fast/_sgd_level.h"]


def extension(name, source, headers=()):
    return Extension(name, sources=[source], depends=depends + list(headers), extra_compile_args=flags,
                     optional=True)


setup(ext_modules=[
    extension("nnaccel.epochs.fast._sgd", "nnaccel/epochs/fast/_sgd.c"),
    # many networks of one shape at once (nnaccel.Population)
    extension("nnaccel.epochs.fast._population", "nnaccel/epochs/fast/_population.c",
              ["nnaccel/epochs/fast/_population_kernel.h", "nnaccel/epochs/fast/_population_level.h"]),
])
