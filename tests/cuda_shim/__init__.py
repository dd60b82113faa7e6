"""CUDA source compiled as C++ and run on the CPU: cuda_shim.h, the launcher, and build.py to drive it."""
