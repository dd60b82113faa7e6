"""A static performance model of the persistent CUDA kernel: predicted seconds per epoch, no GPU.

    python -m benchmarks.gpu_model [--sizes 784 30 10] [--m 10] [--dtype float32] [--arch 90] [--threads N]
                                   [--source PATH --kernel NAME] [--all] [--max-work] [--json OUT] [--markdown OUT]

Compiles the kernel that PersistentEpoch would launch for the network (or ``--kernel`` of
``--source``) with NVRTC from PyPI and -lineinfo, exactly as the NVRTC tests do
(nnaccel/epochs/fast/nvrtc.py), disassembles it with nvdisasm, counts each phase's instructions by
kind times the trip counts that the .cu's TRIPS comments give (benchmarks/sass.py), and turns
them into cycles (benchmarks/gpu_cycles.py). Every figure it prints is a prediction: no GPU has
run this kernel. It also compiles every instantiation of every kernel for sm_80 and sm_90 and
reports their registers and local memory.

The cycles per phase, and the constants of each GPU with their sources, are in
benchmarks/gpu_cycles.py.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

from . import sass
from .gpu_cycles import GPUS, model

DEFAULT_SIZES = ([784, 30, 10], [784, 100, 10])
# The C kernel on one CPU core, float32, m = 10, per 60k epoch: benchmarks/results/cpu-xeon-2core.md
# (row nnaccel-numpy, measured). Issue 15's goals are ratios to it (and a population's rate).
C_KERNEL_S = {(784, 30, 10): 0.11, (784, 100, 10): 0.289}
GOALS = {(784, 30, 10): ("≤ 0.024 s (≥ 5 × the C kernel)", 0.024), (784, 100, 10): ("≥ 3 × the C kernel", 0.289 / 3)}
POPULATION_GOAL = 5000  # network-epochs per second on 132 SMs

# The calibration: cycles per mini-batch measured by clock64() on an H200 (132 SMs, driver 580.159.04)
# on 2026-12-04, in benchmarks/results/nvidia-h200-phase-clocks.json (python -m benchmarks.phase_clocks,
# the third device call): [784,30,10], m = 10, float32, sgd_epoch_registers<float, unsigned char, 10, 112>,
# 256 threads, of register_epoch.cu as it was then, kept as benchmarks/results/nvidia-h200-phase-clocks.cu.
# Each phase's factor is that measurement over this model's prediction for that same source; the
# measured update includes what the model counts as "other" inside the loop (code the compiler
# attributes to the prologue's lines), so "other" takes the update's factor. A calibrated figure is
# still a prediction: of a kernel that was not measured, by how far the model missed one that was.
# Fitted again (2026-12-05) when the model learned to count each warp's own share of a loop, TAKEN
# blocks inside inlined functions, and the branches the book's network does not take (softmax, the
# quadratic cost, rows not of whole words): the kept source got the same annotations (comments
# only, on the same lines), and FITTED_TO is this model's prediction for it now.
CALIBRATION_SOURCE = "benchmarks/results/nvidia-h200-phase-clocks.json"
CALIBRATION_KERNEL = "benchmarks/results/nvidia-h200-phase-clocks.cu"
MEASURED_CYCLES = {"gather": 2818.1, "feedforward": 4692.2, "backprop": 4371.9, "update": 7126.6}
FITTED_TO = {"gather": 1465.0, "feedforward": 3206.0, "backprop": 3026.0, "update": 3754.0 + 349.7}
CALIBRATION = {phase: MEASURED_CYCLES[phase] / FITTED_TO[phase] for phase in MEASURED_CYCLES}
CALIBRATION["other"] = CALIBRATION["update"]


# ---------------------------------------------------------------------------------------------
# What to compile


def chosen_kernel(sizes, m, dtype="float32", pixels=True, shared_limit=227 * 1024, threads=None, clusters=True,
                  members=1, sms=None):
    """What PersistentEpoch's own code launches for ``members`` networks of these sizes on a GPU
    with ``shared_limit`` bytes of opt-in shared memory (an H100's 227 KB), (``clusters``) sm_90's
    thread block clusters and ``sms`` SMs (an H100's or H200's 132 by default):
    {"source", "options", "name", "threads", "shared", "blocks"} (blocks: of one network), and for the
    register kernel "transposed" (1 where the host left room for W2T). Its
    compile and launch are recorded, not run. ``threads``: the block size (by default
    PersistentEpoch's)."""
    import numpy as np

    import nnaccel
    from nnaccel.epochs.generic import EpochOptions
    from nnaccel.epochs.fast.persistent_epoch import PersistentEpoch
    from nnaccel.optim import SGDState

    seen = {}

    class Kernel:
        def __call__(self, grid, block, args, shared_mem=0):
            seen.update(threads=int(block[0]), shared=int(shared_mem), blocks=int(grid[0]))
            if seen["name"].startswith("sgd_epoch_registers"):  # its offsets close the arguments:
                rows, d1, d2 = (int(args[i]) for i in (-13, -10, -9))  # rows … D1, D2 … of 13
                seen["transposed"] = int(d2 - d1 > 32 * rows)  # room for W2T: layout(transposed=)

    class Module:
        def __init__(self, code, options=(), name_expressions=()):
            seen.update(source=code, options=tuple(options), name=name_expressions[0])

        def get_function(self, name):
            return Kernel()

    net = nnaccel.Network(list(sizes), device="cpu", backend="numpy", dtype=dtype, seed=0)
    rows = np.zeros((m, sizes[0]), np.uint8 if pixels else dtype)
    data = net.data((rows, np.zeros(m, np.int64)))
    block = {} if threads is None else {"block": threads}
    path = PersistentEpoch(net, EpochOptions(m, 0.1), module=np, compile=Module, shared_limit=shared_limit,
                           clusters=clusters, sms=sms or GPUS["90"].sms, **block)
    if members == 1:
        path(net, data, SGDState())
    else:
        params = np.zeros((members, sum(b * (a + 1) for a, b in zip(sizes[:-1], sizes[1:]))), dtype)
        path.train(params, None, data, np.arange(m, dtype=np.int64), eta=[0.1] * members, lmbda=[0.0] * members,
                   momentum=[0.0] * members)
    seen["blocks"] //= members
    return seen


def every_instantiation():
    """[(file, source, options, [name expressions])] of every kernel in nnaccel/epochs/fast/cuda."""
    from nnaccel.epochs.fast import persistent_epoch

    return [(t["name"], t["source"], tuple(t.get("options", ())), list(t.get("name_expressions", ())),
             tuple(t.get("archs", ())))
            for t in persistent_epoch.compile_targets()]


def compile_kernel(source, options, name, arch):
    """(listing, ptxas Resources) of one instantiation compiled as the tests compile it."""
    from nnaccel.epochs.fast import nvrtc

    compiled = nvrtc.compile_cuda(source, arch, nvrtc.cupy_options(options), [name], line_info=True)
    lowered = compiled.mapping.get(name, name)
    return sass.disassemble(compiled.cubin), compiled.functions.get(lowered), lowered


def predict(sizes, m=10, dtype="float32", arch="90", source=None, kernel=None, threads=None, broadcast=False,
            clusters=None):
    """The prediction for ``sizes`` at mini-batch m, of the kernel PersistentEpoch picks for one
    network (or ``kernel`` in ``source``), plus its registers and local memory, and a population's
    rate by the kernel it picks for POPULATION_K[0] members (for the book's network, one block a
    member where one network takes a cluster across its inputs). ``clusters``: whether the GPU has
    thread block clusters (by default: sm_90 and later). A cluster kernel's figure is one block's
    (the CL blocks of a network run side by side), its cluster barriers included."""
    clusters = int(arch) >= 90 if clusters is None else clusters
    chosen = chosen_kernel(sizes, m, dtype, threads=threads, clusters=clusters)
    result = _predict_kernel(chosen, sizes, m, dtype, arch, source, kernel, broadcast)
    crowd = chosen_kernel(sizes, m, dtype, threads=threads, clusters=clusters, members=POPULATION_K[0])
    same = source or crowd["name"] == chosen["name"]
    members = result if same else _predict_kernel(crowd, sizes, m, dtype, arch, None, None, broadcast)
    result["population"] = population(members)
    rate = result["population"]["rates"][POPULATION_K[0]] if result["population"] else None
    result["population_kernel"] = members["kernel"]
    result["population_per_second"] = rate["per_second"] if rate else members["population_per_second"]
    if result["calibrated"] and rate:
        result["calibrated"]["population_per_second"] = rate["calibrated"]
    return result


def _predict_kernel(chosen, sizes, m, dtype, arch, source, kernel, broadcast):
    """The model of one recorded launch (chosen_kernel's), or of ``kernel`` in ``source``."""
    code = _read_source(source) if source else chosen["source"]
    name = kernel or chosen["name"]
    listing, resources, _ = compile_kernel(code, chosen["options"], name, arch)
    split = re.search(r",\s*(\d+),\s*true>$", name)  # register_epoch.cu's CL, BY_INPUTS
    hidden = re.search(r"^sgd_epoch_registers<[^,]+,[^,]+,[^,]+,[^,]+,\s*(\d+)>$", name)  # its CL alone
    result = model(listing, code, name, arch, sizes, m, chosen["threads"], broadcast=broadcast,
                   inputs_split=int(split.group(1)) if split else 1,
                   hidden_split=int(hidden.group(1)) if hidden else 1, transposed=chosen.get("transposed", 1))
    result.update(dtype=dtype, shared_bytes=chosen["shared"], blocks_per_network=chosen["blocks"],
                  registers=resources.registers if resources else None,
                  stack_frame=resources.stack_frame if resources else None,
                  local_instructions=sum(1 for ins in sass.parse(listing) if ins.kind == "LDL/STL"))
    result["calibrated"] = calibrated(result)
    return result


def _read_source(path):
    """A .cu file's text with its #include "…" headers put in place, as the shipped kernels are
    (persistent_epoch.with_headers): from the file's own folder, else the package's cuda folder."""
    from importlib import resources

    from nnaccel.epochs.fast import persistent_epoch

    package = resources.files(persistent_epoch.__package__).joinpath("cuda")
    return persistent_epoch.with_headers(Path(path).read_text(), Path(path).parent, package)


def calibrated(result):
    """``result``'s cycles per mini-batch, phase by phase, times the H200 phase clocks' factors
    (CALIBRATION): {"label", "cycles_per_batch", "phases", "seconds", "population_per_second"}.
    Only for the sm_90 model; a prediction still, labelled as such."""
    if result["arch"] != "sm_90":
        return None
    per = result["batches"]
    phases = {p: row["cycles"] / per * CALIBRATION[p] for p, row in result["phases"].items()}
    cycles = sum(phases.values())
    seconds = cycles * per / result["clock_hz"]
    return dict(label="predicted, calibrated by the H200 phase clocks of 2026-12-04", source=CALIBRATION_SOURCE,
                factors=dict(CALIBRATION), phases=phases, cycles_per_batch=cycles, seconds=seconds,
                population_per_second=GPUS["90"].sms / seconds)


# ---------------------------------------------------------------------------------------------
# A population: K members, a block (or cluster) each, as many on an SM as its registers allow

# Per SM (CUDA C++ Programming Guide, "Technical Specifications per Compute Capability"; the
# Ampere and Hopper tuning guides): 64 K 32-bit registers, allocated per warp in units of 256;
# 164 KB (sm_80) or 228 KB (sm_90) of shared memory, of which the system reserves 1 KB a block;
# 2048 threads; 32 blocks.
REGISTERS_PER_SM = 64 * 1024
SHARED_PER_SM = {"80": 164 * 1024, "90": 228 * 1024}
THREADS_PER_SM = 2048
POPULATION_K = (132, 264, 528)


def blocks_per_sm(registers, threads, shared, arch):
    """How many blocks of this kernel one SM holds at once, and what limits it:
    ({"registers", "shared", "threads"} → blocks each allows, the least of them)."""
    per_warp = -(-registers * 32 // 256) * 256
    limits = {"registers": REGISTERS_PER_SM // (per_warp * (threads // 32)),
              "shared": SHARED_PER_SM[arch] // (shared + 1024), "threads": THREADS_PER_SM // threads}
    return limits, min(limits.values())


def co_resident_cycles(result, blocks, factors=None):
    """Cycles of one epoch with ``blocks`` blocks sharing each SM: per phase, the issue and
    shared-memory bounds times ``blocks`` (their warps share the sub-partitions' issue slots and
    the shared-memory path), the one-warp latency bound as it is (what the others hide), plus
    the barriers; ``factors``: each phase's calibration."""
    gpu = GPUS[result["arch"][3:]]
    total = 0.0
    for phase, row in result["phases"].items():
        b = row["bounds"]
        cycles = (max(blocks * b["issue"], blocks * b["shared"], b["latency"]) + row["barriers"] * gpu.barrier_latency
                  + row.get("cluster_barriers", 0.0) * gpu.cluster_barrier_latency)
        total += cycles * (factors[phase] if factors else 1.0)
    return total


def population(result, ks=POPULATION_K):
    """Predicted network-epochs/s of a population of K members on all SMs, K in ``ks``: the SMs
    hold blocks_per_sm members each (a member per block; a cluster kernel's member takes CL
    blocks), in waves; and the same were two members to fit an SM (``two_per_sm``: what
    co-residency could give at best, whether or not the registers allow it). Raw and, on
    sm_90, calibrated (CALIBRATION)."""
    if result["registers"] is None:
        return None
    arch = result["arch"][3:]
    gpu = GPUS[arch]
    limits, fit = blocks_per_sm(result["registers"], result["threads"], result["shared_bytes"], arch)
    cl = result.get("blocks_per_network") or 1
    calibration = CALIBRATION if arch == "90" else None

    def rate(k, per_sm, factors=None):
        slots = gpu.sms * per_sm // cl  # members running at once
        waves = -(-k // slots) if slots else math.inf
        busiest = min(per_sm, -(-k * cl // gpu.sms))  # blocks on the busiest SM in a wave
        return k / (waves * co_resident_cycles(result, busiest, factors) / gpu.clock_hz)

    table = {k: dict(per_second=rate(k, fit) if fit else 0.0,
                     calibrated=rate(k, fit, calibration) if fit and calibration else None,
                     two_per_sm=rate(k, 2), two_per_sm_calibrated=rate(k, 2, calibration) if calibration else None)
             for k in ks}
    return dict(label="predicted", limits=limits, blocks_per_sm=fit, registers=result["registers"],
                threads=result["threads"], shared_bytes=result["shared_bytes"], rates=table)


def instantiations(archs=("80", "90")):
    """Registers, stack frame and LDL/STL count of every instantiation of every kernel."""
    rows = []
    for file, source, options, names, only in every_instantiation():
        for arch in archs:
            if only and arch not in only:
                continue  # the cluster kernel: sm_90 and later
            for name, (listing, resources) in compile_instantiations(source, options, names, arch).items():
                rows.append(dict(file=file, kernel=name, arch=f"sm_{arch}", registers=resources.registers,
                                 stack_frame=resources.stack_frame, spill_stores=resources.spill_stores,
                                 local_instructions=sum(1 for ins in sass.parse(listing) if ins.kind == "LDL/STL")))
    return rows


def compile_instantiations(source, options, names, arch):
    """{name: (listing, ptxas Resources)} of every instantiation in ``names``, compiled as one
    program, as the NVRTC tests compile it (so a test run that did that compiles nothing here)
    and disassembled once: each kernel is compiled on its own within the program, so its
    registers and SASS are those of compile_kernel's (which adds -lineinfo for the model)."""
    from nnaccel.epochs.fast import nvrtc

    compiled = nvrtc.compile_cuda(source, arch, nvrtc.cupy_options(options), names)
    listings = function_listings(sass.disassemble(compiled.cubin))
    return {name: (listings[compiled.mapping[name]], compiled.functions[compiled.mapping[name]]) for name in names}


def function_listings(listing):
    """{lowered name: its part of an nvdisasm listing}: each kernel's .text section, with the
    subroutines the compiler appended to it, and the listing's header before every one."""
    parts = re.split(r"^(?=\s*\.section\s+\.text\.)", listing, flags=re.M)
    header, sections = parts[0], parts[1:]
    return {re.match(r"\s*\.section\s+\.text\.([^\s,]+)", part).group(1): header + part for part in sections}


# ---------------------------------------------------------------------------------------------
# When the persistent kernel applies

# The fused CuPy path that the persistent kernel replaces makes 6L + 2 launches per mini-batch.
# Measured on an H200 (benchmarks/results/nvidia-h200.md, 2026-12-04): [784,30,10] m = 10 float32
# 2.03 s per 60k epoch, 338 µs a mini-batch of 14 launches, 24 µs a launch ([784,100,10]: 35).
# The low end is taken: the persistent kernel must beat the fused path at its fastest. MAX_WORK
# is the m × weights at which epoch.cu's predicted time per mini-batch reaches that floor; the
# register kernel (one block, or a cluster on sm_90) is taken wherever it fits, MAX_WORK aside:
# measured at 9.5 µs a mini-batch, it is far under the floor.
LAUNCH_S = 24e-6
SWEEP_HIDDEN = (10, 16, 24, 30, 32, 40, 50, 64, 80, 100, 128, 160, 200, 256, 320, 400)


def fused_floor_s(layers, launch_s=LAUNCH_S):
    return (6 * layers + 2) * launch_s


def max_work(m=10, arch="90", dtype="float32", hidden=SWEEP_HIDDEN, launch_s=LAUNCH_S):
    """(MAX_WORK, sweep): the multiply-adds per mini-batch (m × weights) of [784, h, 10] at which the
    kernel PersistentEpoch picks is predicted to take as long per mini-batch as the fused path's
    launch floor, interpolated between the sweep's sizes and rounded down to two digits."""
    floor = fused_floor_s(2, launch_s)
    sweep = []
    for h in hidden:
        r = predict([784, h, 10], m, dtype, arch, clusters=False)  # epoch.cu past 32: what MAX_WORK governs
        sweep.append(dict(hidden=h, work=m * (784 * h + h * 10), kernel=r["kernel"],
                          seconds_per_batch=r["seconds"] / r["batches"]))
    previous = None
    for point in sweep:
        if point["seconds_per_batch"] > floor:
            if previous is None:
                return 0, sweep
            share = (floor - previous["seconds_per_batch"]) / (point["seconds_per_batch"] - previous["seconds_per_batch"])
            work = previous["work"] + share * (point["work"] - previous["work"])
            return _two_digits(work), sweep
        previous = point
    return _two_digits(sweep[-1]["work"]), sweep


def _two_digits(x):
    scale = 10 ** max(0, int(math.log10(x)) - 1)
    return int(x // scale * scale)


# ---------------------------------------------------------------------------------------------
# Output


def markdown(results, rows=()):
    lines = []
    for r in results:
        cal = r.get("calibrated")
        lines += [f"### {r['sizes']}, m = {r['m']}, {r['dtype']}, {r['kernel']}, {r['threads']} threads, "
                  f"{r['gpu']} at {r['clock_hz'] / 1e9:.2f} GHz",
                  "",
                  f"predicted: **{r['seconds']:.3g} s per {r['examples']:,}-image epoch**, "
                  f"{r['cycles_per_batch']:,.0f} cycles per mini-batch "
                  f"({r['seconds_issue_only']:.3g} s counting issue slots alone, without latency), "
                  f"{r['population_per_second']:,.0f} network-epochs/s for a population of {POPULATION_K[0]} "
                  f"({'the same kernel' if r['population_kernel'] == r['kernel'] else r['population_kernel']}); "
                  f"{r['registers']} registers, {r['stack_frame']} B stack frame, {r['shared_bytes']:,} B shared",
                  "",
                  "| phase | " + " | ".join(sass.KINDS) + " | bound | predicted cycles / batch | predicted s / epoch |"
                  + (" predicted, calibrated: cycles / batch |" if cal else ""),
                  "|---" * (len(sass.KINDS) + 4 + bool(cal)) + "|"]
        for phase, row in r["phases"].items():
            per = r["batches"]
            lines.append(f"| {phase} | " + " | ".join(f"{row['kinds'][k] / per:,.0f}" for k in sass.KINDS)
                         + f" | {row['bound']} | {row['cycles'] / per:,.0f} | {row['cycles'] / r['clock_hz']:.3g} |"
                         + (f" {cal['phases'][phase]:,.0f} (× {cal['factors'][phase]:.2f}) |" if cal else ""))
        if cal:
            lines += ["", f"{cal['label']} ({cal['source']}; each phase's predicted cycles times that phase's "
                      f"measured / predicted of the kernel measured then): **{cal['seconds']:.3g} s per "
                      f"{r['examples']:,}-image epoch**, {cal['cycles_per_batch']:,.0f} cycles per mini-batch, "
                      f"{cal['population_per_second']:,.0f} network-epochs/s for a population of {POPULATION_K[0]}."]
        pop = r.get("population")
        if pop:
            lim = pop["limits"]
            lines += ["", f"Population (predicted, `{r['population_kernel']}`): {pop['blocks_per_sm']} block(s) an SM "
                      f"— registers allow "
                      f"{lim['registers']} ({pop['registers']} × {pop['threads']} threads), shared memory "
                      f"{lim['shared']} ({pop['shared_bytes']:,} B + 1 KB), threads {lim['threads']}.", "",
                      "| members K | predicted network-epochs/s | predicted, calibrated | were two members to share an SM | "
                      "same, calibrated |", "|---|---|---|---|---|"]
            for k, v in pop["rates"].items():
                lines.append(f"| {k} | {v['per_second']:,.0f} | "
                             + (f"{v['calibrated']:,.0f}" if v["calibrated"] is not None else "—")
                             + f" | {v['two_per_sm']:,.0f} | "
                             + (f"{v['two_per_sm_calibrated']:,.0f}" if v["two_per_sm_calibrated"] is not None else "—")
                             + " |")
        goal = GOALS.get(tuple(r["sizes"]))
        c = C_KERNEL_S.get(tuple(r["sizes"]))
        if goal and r["dtype"] == "float32" and r["m"] == 10:
            lines += ["", f"Goal {goal[0]}: predicted {'met' if r['seconds'] <= goal[1] else 'not met'} "
                      f"(predicted {c / r['seconds']:.2f} × the C kernel's measured {c} s); population goal "
                      f"≥ {POPULATION_GOAL:,} network-epochs/s: predicted "
                      f"{'met' if r['population_per_second'] >= POPULATION_GOAL else 'not met'}."]
        lines += ["", "Predicted dynamic instruction counts are warp 0's per mini-batch (TRIPS × SASS; the issue "
                  "bound adds up the warps of the busiest sub-partition, each with its own trips); "
                  "loops (source line: unroll × iterations, warp 0's): "
                  + ", ".join(f"{lp['source_line']}: {lp['unroll']}×{lp['iterations']:g}" for lp in r["loops"]), ""]
        for warning in r["warnings"]:
            lines += [f"**Warning**: {warning}.", ""]
        if r["unannotated"]:
            lines += [f"Loops without TRIPS (counted once): lines {r['unannotated']}", ""]
    if rows:
        lines += ["### Every instantiation", "", "| file | kernel | arch | registers | stack frame (B) | LDL/STL |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {w['file']} | `{w['kernel']}` | {w['arch']} | {w['registers']} | {w['stack_frame']} | "
                  f"{w['local_instructions']} |" for w in rows]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_model", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", action="append",
                        help="a network's layer sizes (repeatable; default [784,30,10] and [784,100,10])")
    parser.add_argument("--m", type=int, default=10, help="mini-batch size (default 10)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--arch", choices=sorted(GPUS), default="90")
    parser.add_argument("--threads", type=int, help="threads per block (default: PersistentEpoch's)")
    parser.add_argument("--broadcast", action="store_true",
                        help="count a vector LDS as one wavefront (its lanes all read one address)")
    parser.add_argument("--source", help="a .cu file to model instead of the shipped one (with --kernel)")
    parser.add_argument("--kernel", help="the name expression to compile from --source, e.g. 'epoch<float>'")
    parser.add_argument("--all", action="store_true", help="also list every instantiation for sm_80 and sm_90")
    parser.add_argument("--max-work", action="store_true",
                        help="derive persistent_epoch.MAX_WORK: sweep [784,h,10] against the fused path's launch floor")
    parser.add_argument("--launch-us", type=float, default=LAUNCH_S * 1e6,
                        help="with --max-work: CPU µs per CuPy launch of the fused path (default %(default)g)")
    parser.add_argument("--json", help="write the predictions to this JSON file")
    parser.add_argument("--markdown", help="write the tables to this Markdown file")
    args = parser.parse_args(argv)
    if args.source and not Path(args.source).is_file():
        print(f"gpu_model: no such file {args.source}; give --source the path of a .cu file", file=sys.stderr)
        return 2
    try:
        if args.max_work:
            work, sweep = max_work(args.m, args.arch, args.dtype, launch_s=args.launch_us * 1e-6)
            for p in sweep:
                print(f"[784, {p['hidden']}, 10]  m × weights {p['work']:>9,}  {p['kernel']:<48} "
                      f"predicted {p['seconds_per_batch'] * 1e6:8.1f} µs per mini-batch")
            print(f"fused path's floor: {fused_floor_s(2, args.launch_us * 1e-6) * 1e6:.0f} µs per mini-batch; "
                  f"predicted MAX_WORK = {work:,}")
            return 0
        results = [predict(s, args.m, args.dtype, args.arch, args.source, args.kernel, args.threads, args.broadcast)
                   for s in (args.sizes or DEFAULT_SIZES)]
        rows = instantiations() if args.all else []
    except (sass.DisassemblerMissing, ImportError, ValueError) as error:
        print(f"gpu_model: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # NVRTC's CompileException for a --source that does not compile
        if type(error).__name__ != "CompileException":
            raise
        print(f"gpu_model: {args.source or 'the kernel'} does not compile: {str(error).splitlines()[0]}; "
              "fix it or give --kernel the name of a kernel it defines", file=sys.stderr)
        return 2
    text = markdown(results, rows)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text("# GPU model (predicted; what an H200 measured: nvidia-h200.md, nvidia-h200-phase-clocks.json)\n\n"
                                       "Written by `python -m benchmarks.gpu_model --all --markdown "
                                       "benchmarks/results/gpu-model.md --json benchmarks/results/gpu-model.json`.\n\n"
                                       + text)
    if args.json:
        Path(args.json).write_text(json.dumps({"predicted": results, "instantiations": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
