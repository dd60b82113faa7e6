"""Adds library versions and the GPU (if any) to pytest-benchmark's machine info."""

import importlib


def pytest_benchmark_update_machine_info(config, machine_info):
    versions = {}
    for module in ("numpy", "scipy", "array_api_compat", "torch", "jax", "cupy", "nnaccel"):
        try:
            versions[module] = importlib.import_module(module).__version__
        except Exception:
            versions[module] = None
    machine_info["libraries"] = versions
    from nnaccel.backend import gpu_names, torch_cuda_available

    gpu = (gpu_names() or [None])[0]
    if gpu is None and torch_cuda_available():
        import torch

        gpu = torch.cuda.get_device_name(0)
    machine_info["gpu"] = gpu
