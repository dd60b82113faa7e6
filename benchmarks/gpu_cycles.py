"""Cycles from SASS: one kernel's predicted time per phase on an A100 or H100/H200 (no GPU).

Per phase (the phases end at barriers), cycles = max(issue, pipes, shared, latency) + barriers:
  issue    the busiest SM sub-partition issues one warp-instruction a cycle; warp w issues on
           sub-partition w % 4, so its warps' instructions added up (each warp's own: a loop
           over a warp's share, `for (e = warp; …; e += warps)`, names warp in its TRIPS);
  pipes    the same, with each instruction held for 32 / (its pipe's lanes) cycles;
  shared   the SM's shared-memory/L1 path moves 128 bytes a cycle for the whole block: LDS,
           STS, generic LD/ST (here they address shared memory), LDL/STL and SHFL;
  latency  the slowest warp issuing in order, each instruction waiting for its operands (a
           two-pass list schedule of each loop body): what latency the other warps cannot hide;
  barriers BAR_LATENCY per __syncthreads, and CLUSTER_BARRIER_LATENCY per cluster barrier
           (sm_90's barrier.cluster wait, UCGABAR_WAIT) that every block of a cluster passes.
In a cluster kernel a generic load (LD) reads a peer block's shared memory (the kernels address
their own by LDS), so it waits DSMEM_LATENCY.
The instructions and their counts come from benchmarks/sass.py.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from . import sass

EXAMPLES = 60_000  # one MNIST training epoch

@dataclass(frozen=True)
class GPU:
    """One GPU's constants. Lanes per SM sub-partition (SMSP, 4 per SM) from NVIDIA's A100 (2020)
    and H100 (2022) architecture whitepapers' SM diagrams; clocks and SM counts from their spec
    sheets (maximum boost: one busy SM stays far from the power limit); latencies (cycles) are
    approximate microbenchmark figures: Jia et al., "Dissecting the NVIDIA Volta GPU
    Architecture via Microbenchmarking" (2018: 4-cycle dependent FP32/INT, ~20-cycle barrier
    and shuffle), Abdelkhalik et al., "Demystifying the Nvidia Ampere Architecture through
    Microbenchmarking" (2022), Luo et al., "Benchmarking and Dissecting the Nvidia Hopper GPU
    Architecture" (IPDPS 2024: shared memory ~30 cycles, L1 hit ~33-40, global several hundred)."""

    name: str
    clock_hz: float
    sms: int
    fp32_lanes: int  # per SMSP
    int_lanes: int
    fp64_lanes: int
    sfu_lanes: int  # MUFU: exp2, rcp, tanh…
    shared_bytes_per_clock: int  # per SM (32 banks × 4 bytes)
    alu_latency: int = 4
    fp64_latency: int = 8
    mufu_latency: int = 18
    shared_latency: int = 30  # LDS
    l1_latency: int = 33  # generic LD that hits shared/L1, LDL/STL
    shuffle_latency: int = 24
    global_latency: int = 260  # LDG hitting L2 (the index vector; most of the 47 MB of pixels stays in a 50 MB L2)
    barrier_latency: int = 24  # per __syncthreads once the last warp arrives
    # A cluster barrier and a read of a peer's shared memory (distributed shared memory) cross the
    # SM-to-SM network: taken at an L2 hit's latency (the network avoids L2, so this errs high),
    # and a barrier at two such trips (the release of this block's writes, the acquire of the
    # others'). Checked against the one cluster kernel an H200 ran: [784,100,10] in 4 blocks,
    # measured 0.0600-0.0609 s per epoch (nvidia-h200.md); with these the model predicts 0.0617
    # calibrated (0.0589 without them).
    dsmem_latency: int = 260
    cluster_barrier_latency: int = 520
    sfu_special: int = 20  # S2R, LDC: special registers and constants


GPUS = {
    # A100 SXM: 1410 MHz boost, 108 SMs; per SMSP 16 FP32, 16 INT32, 8 FP64, 4 SFU
    "80": GPU("A100 (sm_80)", 1.41e9, 108, 16, 16, 8, 4, 128, shared_latency=29, l1_latency=33),
    # H100/H200 SXM: 1980 MHz boost, 132 SMs; per SMSP 32 FP32, 16 INT32, 16 FP64, 4 SFU
    "90": GPU("H100/H200 (sm_90)", 1.98e9, 132, 32, 16, 16, 4, 128),
}
SMSPS = 4
CLUSTER_WAIT = "UCGABAR_WAIT"  # sm_90's barrier.cluster.wait


# ---------------------------------------------------------------------------------------------
# The model


def variables(sizes, m, threads, n=EXAMPLES, softmax=0, quadratic=0, momentum=0, inputs_split=1, hidden_split=1,
              transposed=1, warp=0):
    """The names a TRIPS or TAKEN expression may use; ``inputs_split``: the blocks a cluster splits
    the inputs across (register_epoch.cu's CL where BY_INPUTS; 1 otherwise); ``hidden_split``: the
    blocks a cluster splits the hidden layer across (its CL otherwise; 1 for one block);
    ``transposed``: whether the host left register_epoch.cu room for w² transposed (W2T), where
    one block runs backprop in the feedforward's warps; ``warp``: which warp of the block (model()
    counts each)."""
    return dict(n_in=sizes[0], n_hidden=sizes[1] if len(sizes) > 2 else sizes[-1], n_out=sizes[-1],
                layers=len(sizes) - 1, params=sum(b * (a + 1) for a, b in zip(sizes[:-1], sizes[1:])),
                m=m, n=n, threads=threads, warps=threads // 32, softmax=softmax, quadratic=quadratic,
                momentum=momentum, inputs_split=inputs_split, hidden_split=hidden_split,
                transposed=transposed, warp=warp)


def executions(instructions, loops, blocks, values):
    """How often one warp executes each instruction in a launch (a list of floats), and the
    SASS loops whose source loop has no TRIPS (counted as running once)."""
    unannotated = []
    for parent in [None] + loops:
        children = [lp for lp in loops if lp.parent is parent]
        groups = {}
        for lp in children:
            groups.setdefault(id(lp.source) if lp.source else id(lp), []).append(lp)
        for group in groups.values():
            source = group[0].source
            if source is None or _ancestor_has(group[0], source):
                for lp in group:
                    lp.iterations = 1.0
                    unannotated.append(lp)
                continue
            remaining = sass.evaluate(source.expression, values)
            if remaining < 0:
                raise ValueError(f"line {source.line}: TRIPS {source.expression} gives {remaining:g} for {values}")
            # the most unrolled copy runs first; of versions the compiler made of one loop (same
            # unroll), the one holding nested loops is the general one and runs
            for lp in sorted(group, key=lambda g: (-g.unroll, -_descendants(g), g.head - g.tail)):
                lp.iterations = math.floor(remaining / lp.unroll) if lp.unroll > 1 else remaining
                remaining -= lp.iterations * lp.unroll
    taken = [b for b in blocks if not b.loop]
    weights = {b.line: sass.evaluate(b.expression, values) for b in taken}
    counts = []
    for i, ins in enumerate(instructions):
        count = 1.0
        for lp in loops:
            if i in lp:
                count *= lp.iterations
        for b in taken:  # (a block in an inlined function holds its lines in the chain)
            if any(b.contains(line) for line in ins.chain or (ins.line,)):
                count *= weights[b.line]
        counts.append(count)
    return counts, unannotated


def _descendants(loop):
    return sum(1 + _descendants(child) for child in loop.children)


def _ancestor_has(loop, source):
    parent = loop.parent
    while parent is not None:
        if parent.source is source:
            return True
        parent = parent.parent
    return False


def _registers(operand_text):
    return re.findall(r"\b(U?R\d+|U?P\d)\b", operand_text)


_NO_DESTINATION = {"ST", "STS", "STL", "STG", "RED", "BAR", "BRA", "EXIT", "BSSY", "BSYNC", "WARPSYNC", "CALL",
                   "RET", "NOP", "DEPBAR", "MEMBAR", "LDGDEPBAR", "YIELD", "BPT",
                   "LDGSTS"}  # cp.async: global → shared, its first operand an address; no register waits on it


def latency(ins, gpu, cluster=False):
    """Cycles until ``ins``'s result may be used (``cluster``: the kernel runs in a cluster, its
    generic loads read a peer's shared memory)."""
    k = ins.kind
    if cluster and ins.base == "LD":
        return gpu.dsmem_latency
    if k == "DFMA":
        return gpu.fp64_latency
    if k == "MUFU":
        return gpu.mufu_latency
    if k == "LDS/STS":
        return gpu.shared_latency
    if k in ("LD/ST", "LDL/STL"):
        return gpu.l1_latency
    if k == "LDG/STG":
        return gpu.global_latency
    if k == "SHFL":
        return gpu.shuffle_latency
    if ins.base in ("S2R", "LDC", "S2UR", "CS2R"):
        return gpu.sfu_special
    return gpu.alu_latency


def _stalls(instructions, indices, gpu, passes, cluster=False):
    """Cycles each instruction adds to one warp's in-order issue (its last pass's), with its
    operands ready only ``latency`` cycles after their producer issued."""
    ready, t, added = {}, 0, {}
    for _ in range(passes):
        for i in indices:
            ins = instructions[i]
            parts = [p.strip() for p in ins.operands.split(",")]
            writes = ins.base not in _NO_DESTINATION and parts and parts[0]
            dst = _registers(parts[0]) if writes else []
            src = _registers(",".join(parts[1:] if writes else parts)) + ([ins.guard] if ins.guard else [])
            start = max([t + 1] + [ready.get(r, 0) for r in src])
            added[i] = start - t
            t = start
            for r in dst:
                ready[r] = start + latency(ins, gpu, cluster)
                if ins.width > 1 and r.startswith("R"):
                    for extra in range(1, ins.width):
                        ready[f"R{int(r[1:]) + extra}"] = start + latency(ins, gpu, cluster)
    return added


def pipe_cycles(ins, gpu):
    """Cycles one warp-instruction holds its SMSP's pipe."""
    k = ins.kind
    if k == "FFMA":
        return 32 / gpu.fp32_lanes
    if k == "DFMA":
        return 32 / gpu.fp64_lanes
    if k == "MUFU":
        return 32 / gpu.sfu_lanes
    if k == "INT" and not ins.base.startswith("U"):  # uniform-datapath instructions run once per warp
        return 32 / gpu.int_lanes
    return 1.0


def model(listing, source, name, arch, sizes, m, threads, broadcast=False, **flags):
    """The prediction for one compiled kernel: per phase, dynamic counts by kind (warp 0's) and
    cycles; the launch's total; the loops found. Each lane is taken to read its own words of
    shared memory; ``broadcast``: a vector LDS (.64, .128) is one wavefront, as when the warp's
    lanes all read the same address (which the SASS alone does not tell)."""
    gpu = GPUS[arch]
    phases, blocks = sass.annotations(source)
    instructions = [ins for ins in sass.parse(listing) if not ins.function.startswith("$")]
    loops = sass.find_loops(instructions, blocks)
    values = variables(sizes, m, threads, **flags)
    inner = {}
    for lp in loops:
        for i in sass.own_indices(lp):
            inner[i] = lp
    cluster = any(ins.base == CLUSTER_WAIT for ins in instructions)
    stalls = {}
    for lp in loops:
        stalls.update(_stalls(instructions, sass.own_indices(lp), gpu, passes=2, cluster=cluster))
    stalls.update(_stalls(instructions, [i for i in range(len(instructions)) if i not in inner], gpu, passes=1,
                          cluster=cluster))

    warps = threads // 32
    # per warp w (a loop `for (e = warp; …; e += warps)` runs its own trips: TRIPS may name warp)
    per_warp = {}
    for w in reversed(range(warps)):  # warp 0 last: the loops keep its iterations, for the report
        counts, unannotated = executions(instructions, loops, blocks, dict(values, warp=w))
        rows = {p: dict(kinds=dict.fromkeys(sass.KINDS, 0.0), issue=0.0, pipes={}, shared=0.0, latency=0.0,
                        barriers=0.0, cluster_barriers=0.0) for p in sass.PHASES}
        for i, ins in enumerate(instructions):
            n = counts[i]
            if not n:
                continue
            row = rows[sass.phase_of(ins.line, phases) if ins.line else "other"]
            row["kinds"][ins.kind] += n
            row["issue"] += n
            pipe = ins.kind if ins.kind in ("FFMA", "DFMA", "MUFU", "INT") else "issue"
            row["pipes"][pipe] = row["pipes"].get(pipe, 0.0) + n * pipe_cycles(ins, gpu)
            if ins.kind in ("LDS/STS", "LD/ST", "LDL/STL", "SHFL"):
                width = 1 if broadcast and ins.base == "LDS" else ins.width
                row["shared"] += n * 32 * 4 * width / gpu.shared_bytes_per_clock
            if ins.base == "BAR":
                row["barriers"] += n
            if ins.base == CLUSTER_WAIT:
                row["cluster_barriers"] += n
            row["latency"] += n * stalls.get(i, 1)
        per_warp[w] = rows
    # warp w issues on sub-partition w % 4: the busiest one's warps' instructions (or its busiest
    # pipe's cycles), the slowest warp's in-order latency, the whole block's shared-memory traffic
    table = {}
    for p in sass.PHASES:
        rows = [per_warp[w][p] for w in range(warps)]
        smsp = [[rows[w] for w in range(warps) if w % SMSPS == q] for q in range(min(SMSPS, warps))]
        pipes = {k for r in rows for k in r["pipes"]}
        busiest = max(max([sum(r["issue"] for r in group)]
                          + [sum(r["pipes"].get(k, 0.0) for r in group) for k in pipes]) for group in smsp)
        table[p] = dict(kinds=rows[0]["kinds"], issue=rows[0]["issue"], pipes=rows[0]["pipes"],
                        busiest_issue=busiest, shared=sum(r["shared"] for r in rows),
                        latency=max(r["latency"] for r in rows), barriers=max(r["barriers"] for r in rows),
                        cluster_barriers=max(r["cluster_barriers"] for r in rows))
    batches = math.ceil(values["n"] / m)
    total = issue_only = 0.0
    for row in table.values():
        bounds = {"issue": row.pop("busiest_issue"), "shared": row["shared"],
                  "latency": row["latency"]}
        row["bound"] = max(bounds, key=bounds.get)
        waits = row["barriers"] * gpu.barrier_latency + row["cluster_barriers"] * gpu.cluster_barrier_latency
        row["cycles"] = max(bounds.values()) + waits
        row["bounds"] = bounds
        total += row["cycles"]
        issue_only += bounds["issue"] + waits
    return dict(kernel=name, arch=f"sm_{arch}", gpu=gpu.name, clock_hz=gpu.clock_hz, sizes=list(sizes), m=m,
                threads=threads, examples=values["n"], batches=batches, phases=table, cycles=total,
                cycles_per_batch=total / batches, seconds=total / gpu.clock_hz,
                seconds_issue_only=issue_only / gpu.clock_hz,
                population_per_second=gpu.sms * gpu.clock_hz / total,
                loops=[dict(source_line=lp.source.line if lp.source else None, unroll=lp.unroll,
                            iterations=lp.iterations, depth=_depth(lp)) for lp in loops],
                unannotated=[instructions[lp.head].line for lp in unannotated],
                warnings=[] if any(lp.iterations == batches for lp in loops) else [
                    f"no loop runs cdiv(n, m) = {batches} times: give the mini-batch loop `// TRIPS cdiv(n, m)`"])


def _depth(loop):
    depth, parent = 0, loop.parent
    while parent is not None:
        depth, parent = depth + 1, parent.parent
    return depth
