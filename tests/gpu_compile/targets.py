"""Everything the GPU can be asked to run, as NVRTC compile targets, per architecture.

Two kinds: the fast path's ElementwiseKernels in every recorded layout (elementwise.py), and
the CUDA sources in nnaccel/epochs/fast/cuda loaded with cupy.RawModule, as
``nnaccel.epochs.fast.persistent_epoch.compile_targets()`` lists them with every template
instantiation. Both are compiled with the options CuPy would use (nvrtc.cupy_options).
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path

from .elementwise import generate

SAMPLE = Path(__file__).with_name("sample.cu")


@dataclass(frozen=True)
class Target:
    kind: str  # "elementwise" or "cuda"
    name: str
    detail: str  # the layout of an elementwise variant; the source file of a .cu target
    source: str
    options: tuple  # CuPy's options, before the architecture
    name_expressions: tuple = ()
    dynamic_shared: int = 0  # bytes of dynamic shared memory the launch may request
    threads: int = 0  # the most threads per block it is launched with
    archs: tuple = ()  # the architectures it is built for ("90": sm_90's clusters); empty: every one

    def builds_for(self, arch) -> bool:
        return not self.archs or str(arch) in self.archs


def elementwise_targets(recorder):
    """One target per recorded (kernel, layout): what CuPy compiles on the first such call."""
    targets = []
    for variant in sorted(recorder.variants, key=lambda v: (v.spec.name, v.describe())):
        source, options = generate(variant)
        # CuPy launches an ElementwiseKernel with at most 128 threads per block (block_size's default)
        targets.append(Target("elementwise", variant.spec.name, variant.describe(), source, options, threads=128))
    return targets


def raw_module_target(name, source, options=(), name_expressions=(), dynamic_shared=0, threads=0, detail="",
                      archs=()):
    """A target compiled as cupy.RawModule(code=source, options=options, name_expressions=…) compiles it."""
    from .nvrtc import cupy_options

    return Target("cuda", name, detail, source, cupy_options(options), tuple(name_expressions), dynamic_shared,
                  threads, tuple(str(a) for a in archs))


def sample_target():
    return raw_module_target("sample", SAMPLE.read_text(), ("--std=c++17",),
                             ("scale_rows<float>", "scale_rows<double>"), dynamic_shared=4096, threads=1024,
                             detail=SAMPLE.name)


def persistent_targets(arch=None):
    """The persistent kernel's targets from ``compile_targets()``, or None where that function
    does not exist yet. Each entry: {"name", "source", "name_expressions", "options"}, and
    optionally "dynamic_shared" (the most bytes a launch requests) and "threads" (the most
    threads per block; by default PersistentEpoch's default ``block``), and "archs" (only those
    compile it). With ``arch``: the targets built for that architecture."""
    try:
        module = importlib.import_module("nnaccel.epochs.fast.persistent_epoch")
    except ModuleNotFoundError as error:
        if error.name != "nnaccel.epochs.fast.persistent_epoch":
            raise
        return None
    if not hasattr(module, "compile_targets"):
        return None
    block = inspect.signature(module.PersistentEpoch).parameters.get("block")
    default = block.default if block is not None and isinstance(block.default, int) else 1024
    return [raw_module_target(t["name"], t["source"], t.get("options", ()), t.get("name_expressions", ()),
                              int(t.get("dynamic_shared", 0)), int(t.get("threads", default)),
                              detail="nnaccel/epochs/fast/cuda/" + t["name"], archs=t.get("archs", ()))
            for t in module.compile_targets() if arch is None or not t.get("archs") or str(arch) in t["archs"]]
