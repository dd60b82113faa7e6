"""Every ElementwiseKernel the CuPy fast path builds, each way it calls it, and CuPy's source.

CuPy generates one CUDA kernel per ElementwiseKernel *and* argument layout: the dtype, and for
each array its ndim and C-contiguity after CuPy has broadcast the arguments and merged
contiguous axes. The activation called with z (m, s) and b (s,) is a 2-D kernel reading b
with stride 0; with a one-row last mini-batch every array is contiguous and it is 1-D; the
update sees 1-D flat buffers and Python floats. So the layouts are recorded, not listed: the
fast path itself (CupyEpoch) trains tiny networks on NumPy arrays of the very shapes and
strides it would hand CuPy, through :class:`Recorder`, a stand-in for ElementwiseKernel that
runs tests/kernel_emulator.py and notes the kernels built and the layouts of each call.
:func:`generate` then asks CuPy's own code generator for the source a GPU would compile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tests.kernel_emulator import ElementwiseKernel


@dataclass(frozen=True)
class KernelSpec:
    """What the fast path passed to ElementwiseKernel."""

    in_params: str
    out_params: str
    operation: str
    name: str
    kwargs: tuple = ()  # (key, value) pairs: preamble, options, reduce_dims …

    @property
    def nin(self):
        return len([p for p in self.in_params.split(",") if p.strip()])


@dataclass(frozen=True)
class ArgLayout:
    """One argument as CuPy's code generator sees it."""

    kind: str  # "array" or "scalar"
    dtype: str | None = None  # arrays only; a scalar takes its parameter's type
    ndim: int = 0
    c_contiguous: bool = True

    def __str__(self):
        if self.kind == "scalar":
            return "scalar"
        return f"{self.ndim}-D" + ("" if self.c_contiguous else " strided")


@dataclass(frozen=True)
class Variant:
    """A kernel and one layout of its arguments (inputs then outputs): one CUDA kernel."""

    spec: KernelSpec
    layout: tuple  # of ArgLayout
    ndim: int  # of the index space after CuPy's dimension reduction

    @property
    def dtype(self):
        return next(a.dtype for a in self.layout if a.kind == "array")

    def describe(self):
        names = [p.split()[-1] for p in (self.spec.in_params + "," + self.spec.out_params).split(",") if p.strip()]
        return f"{self.dtype}: " + ", ".join(f"{n} {a}" for n, a in zip(names, self.layout))


def cupy_layout(spec, args):
    """The argument layouts and index ndim CuPy's ElementwiseKernel.__call__ derives from ``args``
    (cupy/_core/_kernel.pyx: _broadcast, then _reduce_dims/_reduced_view_core)."""
    nin = spec.nin
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    # inputs are broadcast views; outputs keep their own strides (they must have the full shape)
    views = [np.broadcast_to(a, shape) if i < nin and isinstance(a, np.ndarray) else a for i, a in enumerate(args)]
    ndim = len(shape)
    if dict(spec.kwargs).get("reduce_dims", True) and ndim > 1:
        ndim = _reduced_ndim([v for v in views if isinstance(v, np.ndarray)], shape)
    layout = tuple(ArgLayout("array", v.dtype.name, ndim, bool(v.flags.c_contiguous)) if isinstance(v, np.ndarray)
                   else ArgLayout("scalar") for v in views)
    return layout, ndim


def _reduced_ndim(arrays, shape):
    """CuPy merges axes that every strided array walks contiguously; all contiguous: 1-D."""
    strided = [a for a in arrays if not a.flags.c_contiguous]
    if not strided:
        return 1
    if len(shape) == 2:
        return 2
    axes, vecshape, last = [], list(shape), -1
    for ax in range(len(shape)):
        if vecshape[ax] == 1:
            continue
        if last < 0:
            last = ax
            continue
        if any(a.strides[ax] * vecshape[ax] != a.strides[last] for a in strided):
            axes.append(last)
        else:
            vecshape[ax] *= vecshape[last]
        last = ax
    if last >= 0:
        axes.append(last)
    return len(axes)


class _Recorded:
    def __init__(self, recorder, spec):
        self.recorder, self.spec = recorder, spec
        self.emulated = ElementwiseKernel(spec.in_params, spec.out_params, spec.operation, spec.name)

    def __call__(self, *args):
        layout, ndim = cupy_layout(self.spec, args)
        self.recorder.variants.add(Variant(self.spec, layout, ndim))
        return self.emulated(*args)


class Recorder:
    """A factory with ElementwiseKernel's signature that records kernels and call layouts."""

    def __init__(self):
        self.specs = {}  # name -> KernelSpec
        self.variants = set()

    def __call__(self, in_params, out_params, operation, name="kernel", **kwargs):
        spec = KernelSpec(in_params, out_params, operation, name, tuple(sorted(kwargs.items())))
        assert self.specs.setdefault(name, spec) == spec, f"two different kernels are named {name}"
        return _Recorded(self, spec)

    def unexercised(self):
        called = {v.spec.name for v in self.variants}
        return sorted(set(self.specs) - called)


def record_fast_path():
    """Train tiny networks with CupyEpoch on NumPy through a Recorder: every supported hidden
    activation with every supported output and cost, plain, L2 and momentum, float32 and
    float64, five examples in mini-batches of 2, 2 and 1. Returns the Recorder."""
    import nnaccel
    from nnaccel.epochs.generic import EpochOptions
    from nnaccel.epochs.fast.common import HIDDEN, OUTPUT_COSTS
    from nnaccel.epochs.fast.cupy_epoch import CupyEpoch
    from nnaccel.optim import SGDState

    recorder = Recorder()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 3), dtype=np.uint8)
    for dtype in ("float32", "float64"):
        for hidden in HIDDEN:
            for output, cost in sorted(OUTPUT_COSTS):
                y = rng.integers(0, 2, 5)
                for lmbda, momentum in ((0.0, 0.0), (0.5, 0.0), (0.5, 0.5)):
                    net = nnaccel.Network([3, 4, 2], cost=cost, hidden_activation=hidden, output_activation=output,
                                          device="cpu", backend="numpy", dtype=dtype, seed=0)
                    options = EpochOptions(mini_batch_size=2, eta=0.5, lmbda=lmbda, momentum=momentum)
                    path = CupyEpoch(net, options, factory=recorder, module=np)
                    with np.errstate(all="ignore"):
                        path(net, net.data((x, y)), SGDState())
    return recorder


def generate(variant):
    """(source, options) exactly as CuPy would compile this variant on a GPU."""
    import cupy

    from .nvrtc import cupy_header, cupy_options, cupy_route

    route = cupy_route()
    spec = variant.spec
    kernel = cupy.ElementwiseKernel(spec.in_params, spec.out_params, spec.operation, spec.name, **dict(spec.kwargs))
    nin = spec.nin
    ins, outs = variant.layout[:nin], variant.layout[nin:]
    in_types, _, type_map = kernel._decide_params_type(
        tuple(np.dtype(a.dtype) if a.kind == "array" else None for a in ins), tuple(np.dtype(a.dtype) for a in outs))
    ArgInfo = route["_ArgInfo"]
    infos = []
    for i, a in enumerate(variant.layout):
        if a.kind == "array":  # _ArgKind: 1 ndarray, 2 indexer, 3 scalar (cupy/_core/_kernel.pxd)
            infos.append(ArgInfo(1, cupy.ndarray, np.dtype(a.dtype), a.ndim, a.c_contiguous, True))
        else:  # a Python scalar is cast to its parameter's type (CScalar.apply_dtype)
            infos.append(ArgInfo(3, route["CScalar"], np.dtype(in_types[i]), 0, True, True))
    infos.append(ArgInfo(2, route["Indexer"], None, variant.ndim, True, True))
    code = route["_get_elementwise_kernel_code"](tuple(infos), type_map, kernel.params, kernel.operation,
                                                 kernel.name, kernel.preamble, **kernel.kwargs)
    return cupy_header() + code, cupy_options(kernel.kwargs.get("options", ()))
