"""The CUDA persistent path: one kernel launch trains one epoch (nnaccel/epochs/fast/cuda/*.cu).

On a GPU the book's networks are launch-bound: the fused CuPy path makes 6L + 2 launches per
mini-batch, ~14 for [784,30,10], more CPU time than the GPU spends computing. Here one thread
block keeps a network in shared memory (global memory, L2-resident, when it does not fit) and
runs every mini-batch of the epoch itself: the gather, the feedforward, BP1–BP4 and the update.
So an epoch is one launch whatever the number of mini-batches, and nothing is read back.

Two kernels: for the book's [n_in, ≤ 32, ≤ 32] networks, register_epoch.cu keeps the first
layer's weights in registers (nnaccel.epochs.fast.register_epoch picks its instantiation); on
sm_90 GPUs, for hidden layers up to 256 wide, a cluster of up to 8 blocks does, each holding a
slice of the hidden layer, and for the book's 784 inputs a cluster of 4, each holding a share of
the inputs (while the networks' clusters fit the SMs at once); elsewhere epoch.cu, the general
one, keeps them in shared memory, or in global memory where they do not fit.

Each kernel's grid is one block (or cluster) per network: ``train`` trains K networks of one
shape at once (a population, each with its own η, λ, μ); a path call trains one with K = 1.

The same source runs on the CPU in the tests, compiled as C++ with a shim for CUDA's few
primitives (tests/cuda_shim), through this very module: ``compile`` and ``module`` are
injectable, as cupy.RawModule and cupy are. On an H200 (benchmarks/results/nvidia-h200.md)
every kernel gave the generic path's numbers; ``selfcheck`` still checks the first use on any
GPU against the generic path.
"""

from __future__ import annotations

import re
from importlib import resources

import numpy as np

from ...errors import NNAccelError
from ...optim import SGDState
from ..generic import EpochPath
from . import register_epoch
from .common import flat_size, pack, supported, unpack

SOURCE = "epoch.cu"
KERNEL = "sgd_epoch"
OPTIONS = ("-std=c++17",)  # no --use_fast_math: σ and the update must round as the generic path does
CODES = {"sigmoid": 0, "tanh": 1, "relu": 2, "linear": 3, "softmax": 4}  # epoch.cu's enum Activation
C_TYPES = {"float32": "float", "float64": "double"}
MAX_LAYERS = 8  # epoch.cu's MAX_LAYERS
DEFAULT_SHARED = 48 * 1024  # dynamic shared memory a launch may use without opting in
# When epoch.cu (weights in shared or global memory) still beats the fused CuPy path, for networks
# the register kernel cannot take (deeper ones; hidden layers over 32 without clusters, e.g. on
# an A100; over 256 with them): the m × weights of [784, h, 10] at m = 10 where epoch.cu's predicted
# time per mini-batch (`python -m benchmarks.gpu_model --max-work`, sm_90, float32) reaches the
# fused path's measured floor, 14 launches at 24 µs = 336 µs (an H200, 2026-12-04:
# benchmarks/results/nvidia-h200.md). The model's epoch.cu figure for [784,100,10] (198 µs a
# mini-batch) is within 7 % of the H200's 211 µs (1.27 s an epoch; the fused path took 2.84 s). The
# register kernel is taken wherever it fits, MAX_WORK aside: 9.5–10 µs a mini-batch measured.
MAX_WORK = 1_400_000


REGISTERS_PER_BLOCK = 64 * 1024  # 32-bit registers of one block, sm_80 and sm_90 (and sm_70, sm_86, sm_89)
PLACEMENTS = ("registers", "shared", "global")  # where the weights live: register_epoch.cu, epoch.cu on-chip or not


_INCLUDE = re.compile(r'^#include "([\w.]+)"[^\n]*$', re.M)  # the kernels' own headers; <…> ones are left alone


def source(name: str = SOURCE) -> str:
    """A kernel's CUDA source text, from the installed package, its headers put in place."""
    folder = resources.files(__package__).joinpath("cuda")
    return with_headers(folder.joinpath(name).read_text(encoding="utf-8"), folder)


def with_headers(text: str, *folders) -> str:
    """``text`` with each ``#include "name"`` replaced by that file of the first of ``folders``
    holding it (recursively): one self-contained translation unit, so NVRTC needs no include
    path, CuPy's cache (keyed by the source text) sees a header's change, the CPU shim builds
    it from one file, and the SASS model's line numbers are those of the text it reads."""
    def header(match):
        for folder in folders:
            path = folder.joinpath(match.group(1))
            if path.is_file():
                return with_headers(path.read_text(encoding="utf-8"), *folders)
        raise FileNotFoundError(f"{match.group(0)}: no {match.group(1)} in {', '.join(map(str, folders))}")

    return _INCLUDE.sub(header, text)


def check_block(kernel, block: int, name: str = KERNEL) -> None:
    """Refuses, before a launch that would fail, a block whose registers × threads exceed the
    SM's 64 K (or above the kernel's own maximum), from the compiled kernel's attributes
    (cupy.RawKernel.attributes: num_regs, max_threads_per_block; none in the shim)."""
    attributes = getattr(kernel, "attributes", None) or {}
    registers = int(attributes.get("num_regs", 0))
    allocated = -(-registers // 8) * 8 * block  # a warp's registers are allocated in units of 256
    most = int(attributes.get("max_threads_per_block", block))
    if allocated > REGISTERS_PER_BLOCK or block > most:
        raise NNAccelError(f"{name} uses {registers} registers a thread, so {block} threads per block need "
                           f"{allocated} of the {REGISTERS_PER_BLOCK} a block has (at most {most} threads); "
                           f"use a block of at most {min(most, REGISTERS_PER_BLOCK // max(1, -(-registers // 8) * 8)) // 32 * 32} threads")


def name_expression(dtype: str, pixels: bool, shared_weights: bool) -> str:
    """The template instantiation for a float type, uint8 or float inputs, weights on-chip or not."""
    t = C_TYPES[dtype]
    return f"{KERNEL}<{t}, {'unsigned char' if pixels else t}, {'true' if shared_weights else 'false'}>"


def compile_targets() -> list:
    """Every CUDA compilation training can ask of this path, for NVRTC checks without a GPU.

    The activations and the cost are runtime codes, so epoch.cu's variants are the float types
    × the input types × the two weight placements; register_epoch.cu's add its tile M and
    register slice CAP (register_epoch.name_expressions), at most 256 threads a block, and its
    cluster kernel the cluster size CL; an entry with "archs" compiles only for those.
    """
    names = [name_expression(dtype, pixels, shared) for dtype in C_TYPES for pixels in (True, False)
             for shared in (True, False)]
    registers = {"name": register_epoch.SOURCE, "source": source(register_epoch.SOURCE), "options": list(OPTIONS),
                 "threads": register_epoch.MAX_THREADS}
    return [{"name": SOURCE, "source": source(), "name_expressions": names, "options": list(OPTIONS)},
            dict(registers, name_expressions=register_epoch.name_expressions()),
            dict(registers, name_expressions=register_epoch.name_expressions(clusters=True),
                 archs=[str(register_epoch.CLUSTER_ARCH)])]


def shared_bytes(sizes, m, itemsize, shared_weights) -> int:
    """Dynamic shared memory one block needs, carved as epoch.cu carves it: the layer table
    (5(L+1) ints: widths, activations, offsets of w, a and δ; rounded up to 16 bytes), the
    parameters if on-chip, then m × width values of every layer's a (the input included) and
    of every layer's δ."""
    header = -(-(5 * len(sizes) * 4) // 16) * 16
    values = m * (sum(sizes) + sum(sizes[1:])) + (flat_size(sizes) if shared_weights else 0)
    return header + values * itemsize


def has_clusters() -> bool:
    """Whether the current GPU runs thread block clusters (compute capability 9.0 and later)."""
    import cupy

    return int(cupy.cuda.Device().compute_capability) >= register_epoch.CLUSTER_ARCH


def multiprocessors() -> int:
    """The current GPU's SMs (132 on an H100 SXM or an H200): how many clusters run at once."""
    import cupy

    return int(cupy.cuda.Device().attributes["MultiProcessorCount"])


def opt_in_shared_limit() -> int:
    """The current GPU's largest dynamic shared memory per block, once opted in (227 KB on an H100)."""
    import cupy

    return int(cupy.cuda.Device().attributes["MaxSharedMemoryPerBlockOptin"])


_KERNELS: dict = {}  # (compile, name expression) -> compiled kernel, for the process's lifetime


class PersistentEpoch(EpochPath):
    """One epoch of run_epoch's SGD for CuPy networks, in one launch of epoch.cu's kernel.

    ``module`` is the array library (cupy; NumPy in the tests) and ``compile`` a callable with
    cupy.RawModule's keywords (code, options, name_expressions) whose result has
    ``get_function``; ``block`` is the threads per block (a multiple of 32); ``shared_limit``
    the device's opt-in shared memory per block (asked of the GPU when not given); ``placement``
    "registers" (register_epoch.cu), "shared" or "global" (epoch.cu) forces where the weights
    live (by default: registers where they fit, else shared where they fit, else global);
    ``clusters`` whether the GPU runs thread block clusters (when not given: asked of the GPU
    when ``module`` is CuPy, else none); ``sms`` its SMs, which decide whether K networks' inputs
    are split across clusters (when not given: asked of the GPU when ``module`` is CuPy, else
    split whatever K).
    """

    name = "CUDA persistent kernel"
    optimizers = ("sgd",)  # mini-batch SGD with L2 and momentum; the state is optimizers.SGDState
    selfcheck = True  # never run on a GPU here: checked against the generic path on first use

    @classmethod
    def applies(cls, net, options) -> bool:
        """The register kernel (one block or a cluster) wherever it fits; epoch.cu up to MAX_WORK."""
        if net.backend.name != "cupy" or not supported(net, options, cls.optimizers):
            return False
        sizes, m = net.sizes, options.mini_batch_size
        if len(sizes) - 1 > MAX_LAYERS:
            return False
        limit = opt_in_shared_limit()
        momentum = bool(options.momentum)  # w¹'s velocity takes shared memory too
        if _register_bytes(sizes, m, str(net.dtype), register_epoch.MAX_THREADS, momentum, has_clusters()) <= limit:
            return True
        weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        itemsize = np.dtype(str(net.dtype)).itemsize
        return m * weights <= MAX_WORK and shared_bytes(sizes, m, itemsize, shared_weights=False) <= limit

    def __init__(self, net, options, *, module=None, compile=None, block=256, shared_limit=None,
                 placement=None, clusters=None, sms=None):
        if block % 32 or not 32 <= block <= 1024:
            raise ValueError(f"block must be a multiple of 32 from 32 to 1024 threads, got {block}")
        if not 1 <= len(net.sizes) - 1 <= MAX_LAYERS:
            raise ValueError(f"the persistent kernel trains 1 to {MAX_LAYERS} layers, not {len(net.sizes) - 1}")
        if placement not in (None, *PLACEMENTS):
            raise ValueError(f"placement must be one of {PLACEMENTS} or None, got {placement!r}")
        super().__init__(net, options)
        self.sizes = list(net.sizes)
        self.layout = self.sizes + [-1] + [CODES[a.name] for a in net.activations]  # epoch.cu's size[], act[]
        self.quadratic = net.cost.name == "quadratic"
        if module is None:
            import cupy

            module = cupy
        self.module = module
        self.compile = compile or module.RawModule
        self.block = block
        self.shared_limit = shared_limit
        # asked of the GPU once, when the array library is CuPy (a stand-in module has no GPU to ask)
        on_cupy = getattr(module, "__name__", "") == "cupy"
        self.clusters = clusters if clusters is not None else (on_cupy and has_clusters())
        self.sms = sms if sms is not None or not (on_cupy and self.clusters) else multiprocessors()
        self.placement = placement
        self.last_placement = None  # where the weights lived in the last launch: one of PLACEMENTS
        self._identity = None

    def __call__(self, net, data, state):
        xp, o, sizes = self.module, self.options, self.sizes
        dtype = data.targets.dtype
        params = xp.empty((1, flat_size(sizes)), dtype)
        pack(params[0], net.weights, net.biases, sizes)
        velocity = None
        if o.momentum:
            velocity = xp.zeros_like(params)
            if state.velocity_w:
                pack(velocity[0], state.velocity_w, state.velocity_b, sizes)
        self.train(params, velocity, data, self.permutation(net, len(data)),
                   eta=[o.eta], lmbda=[o.lmbda], momentum=[o.momentum])
        net.weights, net.biases = unpack(params[0], sizes, copy=xp.array)
        if o.momentum:
            return SGDState(*unpack(velocity[0], sizes, copy=xp.array))
        return state

    def permutation(self, net, n):
        """The epoch's order of examples, drawn from the network's generator as run_epoch draws it."""
        xp = self.module
        if self.options.shuffle:
            return xp.asarray(np.asarray(net.rng.permutation(n), np.int64))
        if self._identity is None or len(self._identity) != n:
            self._identity = xp.asarray(np.arange(n, dtype=np.int64))
        return self._identity

    def train(self, params, velocity, data, perm, *, eta, lmbda, momentum):
        """Train K networks (params: K × P, [w¹ b¹ …] per row) for one epoch, in one launch.

        eta, lmbda and momentum hold one value per network; velocity is K × P (or None when
        every momentum is 0). Every network sees ``data`` in the order ``perm``.
        """
        xp, sizes = self.module, self.sizes
        K, P = params.shape
        n = len(data)
        dtype = str(params.dtype)
        if P != flat_size(sizes) or str(data.targets.dtype) != dtype:
            raise ValueError(f"params must be K × {flat_size(sizes)} of the data's dtype {data.targets.dtype}")
        inputs, wanted = (data.pixels, "uint8") if data.pixels is not None else (data.x, dtype)
        if str(inputs.dtype) != wanted:  # the kernel reads x as its Input type: another one would be garbage
            raise ValueError(f"the inputs must be {wanted} like the targets, not {inputs.dtype}")
        if any(momentum) and (velocity is None or velocity.shape != params.shape):
            raise ValueError("momentum needs a velocity of the parameters' shape")
        m = min(self.options.mini_batch_size, n)
        pixels = data.pixels is not None
        x = xp.ascontiguousarray(data.pixels if pixels else data.x)
        targets = xp.ascontiguousarray(data.targets)
        itemsize = np.dtype(dtype).itemsize
        limit = self.shared_limit if self.shared_limit is not None else opt_in_shared_limit()
        if velocity is None:
            velocity = xp.zeros((1,), dtype)  # never touched: every μ is 0
        scalars = (np.int32(n), np.int32(m), np.int32(self.quadratic),
                   *(xp.asarray(np.asarray(v, np.float64)) for v in (eta, lmbda, momentum)))
        tile = None
        if self.placement in (None, "registers"):
            tile = register_epoch.tile(sizes, m, dtype, self.block, self.clusters, K, self.sms)
            if tile:  # its shared-memory regions, as offsets in values; "end" is their size
                # the next mini-batch staged, and w² transposed for backprop in the feedforward's
                # warps, where they fit (an A100 with μ has room for neither)
                for staged, transposed in ((True, True), (True, False), (False, True), (False, False)):
                    at = register_epoch.layout(sizes, m, self.block, tile.cap, tile.m, any(momentum), tile.cluster,
                                               pixels=pixels, itemsize=itemsize, staged=staged,
                                               by_inputs=tile.by_inputs, transposed=transposed)
                    if at["end"] * itemsize <= limit:
                        break
                else:
                    tile = None
            if tile is None and self.placement == "registers":
                raise ValueError(f"register_epoch.cu cannot train {sizes} at m = {m} in {dtype} with "
                                 f"{self.block} threads within {limit} bytes of shared memory")
        if tile:
            self.last_placement = "registers"
            nbytes = at["end"] * itemsize
            name = register_epoch.name_expression(dtype, pixels, *tile)
            kernel = self._kernel(name, register_epoch.SOURCE)
            offsets = [np.int32(at[key]) for key in ("rows", "ZP", "A1", "D1", "D2", "SP", "VS", "V1", "PM")]
            offsets.append(np.int32(register_epoch.row_words(sizes[0], pixels)))
            offsets += [np.int32(at["ZO"]), np.int32(at["ST"]), np.int32(register_epoch.chunks(sizes[0], x, pixels))]
            args = (params, velocity, x, targets, perm, *(np.int32(v) for v in sizes),
                    *(np.int32(v) for v in self.layout[-2:]), *scalars, *offsets)
            self._launch(kernel, name, K * tile.cluster, nbytes, args)  # a cluster of CL blocks a network
            return
        on_chip = self.placement == "shared" or (
            self.placement is None and shared_bytes(sizes, m, itemsize, True) <= limit)
        nbytes = shared_bytes(sizes, m, itemsize, on_chip)
        if nbytes > limit:  # refused here in a sentence, not by the driver's "invalid argument"
            where = "its weights, a and δ" if on_chip else "its a and δ"
            raise ValueError(f"epoch.cu cannot hold {where} for {sizes} at m = {m} in {dtype} within the "
                             f"{limit} bytes of shared memory a block has ({nbytes} needed)"
                             + ("; use placement='global'" if on_chip else ""))
        self.last_placement = "shared" if on_chip else "global"
        name = name_expression(dtype, pixels, on_chip)
        kernel = self._kernel(name)
        args = (params, velocity, x, targets, perm, xp.asarray(np.asarray(self.layout, np.int32)),
                np.int32(len(sizes) - 1), *scalars)
        self._launch(kernel, name, K, nbytes, args)

    def _launch(self, kernel, name, blocks, nbytes, args):
        check_block(kernel, self.block, name)
        if nbytes > DEFAULT_SHARED:  # opt in to the large shared memory
            kernel.max_dynamic_shared_size_bytes = nbytes
        kernel((blocks,), (self.block,), args, shared_mem=nbytes)

    def _kernel(self, name, file=SOURCE):
        key = (self.compile, name)
        if key not in _KERNELS:
            module = self.compile(code=source(file), options=OPTIONS, name_expressions=[name])
            _KERNELS[key] = module.get_function(name)
        return _KERNELS[key]


def _register_bytes(sizes, m, dtype, block, momentum, clusters=False):
    """register_epoch.cu's shared memory for this launch (infinite where it cannot train it)."""
    tile = register_epoch.tile(sizes, m, dtype, block, clusters)
    if tile is None:
        return float("inf")
    return register_epoch.shared_bytes(sizes, m, np.dtype(dtype).itemsize, block, tile.cap, tile.m, momentum,
                                       tile.cluster, staged=False, by_inputs=tile.by_inputs,
                                       transposed=False)  # the least it runs in



