"""The GPU code proven on the CPU (marker gpu_emulated): NVRTC compiles, the GPU model, the CUDA shim, the CuPy path on an emulator."""
