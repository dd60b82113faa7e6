"""CUDA code proven on a machine without a GPU: every kernel compiled with NVRTC from PyPI.

``nvrtc`` compiles through CuPy's own (private) NVRTC route and reads ptxas's report;
``elementwise`` finds every ElementwiseKernel the CuPy fast path builds, in every dtype and
argument shape it is called with, and generates its source exactly as CuPy would;
``targets`` gathers everything to compile: those kernels and the persistent kernel's .cu.
``ptxas_report`` is the command that writes ptxas's resources for every target and arch
(``python -m tests.gpu_compile.ptxas_report``).
"""
