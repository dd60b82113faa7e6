"""Cycles per mini-batch in each phase of the register kernel, read on a GPU by clock64().

``python -m benchmarks.phase_clocks [--out FILE.json]``: register_epoch.cu built with
-DNNACCEL_PHASE_CLOCKS (block 0's thread 0 adds up the cycles between the barriers that close
the gather, the feedforward, backprop and the update), through PersistentEpoch's own launch,
for [784,30,10] (on sm_90 a cluster of 4 across the inputs, as one network takes it; and one
block, as a population's members take it) and [784,100,10] (a cluster of 4 across the hidden
layer on sm_90) at m = 10 in float32 on 60,000 embedded MNIST images. One epoch is timed by CUDA events beside it, so the cycles
are also read against the clock. The static model's per-phase predictions
(`python -m benchmarks.gpu_model`) are what these calibrate. Needs CuPy and a GPU.
"""

from __future__ import annotations

import sys

from benchmarks.placements import command

# (sizes, PersistentEpoch's keywords): sms=1 makes the chooser give [784,30,10] one block (one SM), as
# it gives a population too large for the GPU's clusters
RUNS = (([784, 30, 10], {}), ([784, 30, 10], {"sms": 1}), ([784, 100, 10], {}))
PHASES = ("gather", "feedforward", "backprop", "update")


def measure(out=print):
    import cupy

    from nnaccel.epochs.fast import persistent_epoch
    from nnaccel.epochs.fast.persistent_epoch import PersistentEpoch
    from nnaccel.epochs.generic import EpochOptions
    from nnaccel.nets.network import Network
    from nnaccel.optim import SGDState
    from nnaccel.tools.epoch_timing import sixty_thousand, time_rounds

    modules, names = [], []

    def compile(code, options=(), name_expressions=()):
        module = cupy.RawModule(code=code, options=tuple(options) + ("-DNNACCEL_PHASE_CLOCKS",),
                                name_expressions=list(name_expressions))
        modules.append(module)
        names.append(name_expressions[0])
        return module

    x, labels = sixty_thousand()
    rows = []
    for sizes, keywords in RUNS:
        net = Network(sizes, device="cuda", backend="cupy", dtype="float32", seed=0)
        data = net.data((x, labels))
        path = PersistentEpoch(net, EpochOptions(10, 0.5), compile=compile, placement="registers", **keywords)
        path(net, data, SGDState())  # builds the kernel (and warms up)
        clocks = cupy.ndarray((4,), cupy.uint64, modules[-1].get_global("nnaccel_phase_clocks"))
        clocks[...] = 0
        timing = time_rounds(lambda: path(net, data, SGDState()), rounds=1, warmup=0, cuda=cupy.cuda)
        total = [int(c) for c in clocks.get()]
        batches = -(-len(x) // 10)
        seconds = timing["events"]["median"]
        row = {"sizes": sizes, "kernel": names[-1], "mini_batch_size": 10, "dtype": "float32", "batches": batches,
               "seconds": seconds, "placement": path.last_placement, "cycles_per_batch": {p: c / batches for p, c in zip(PHASES, total)}}
        row["cycles_per_batch"]["total"] = sum(total) / batches
        row["clock_hz"] = sum(total) / seconds  # the SM clock the cycles imply
        rows.append(row)
        per = row["cycles_per_batch"]
        phases = ", ".join(f"{p} {per[p]:,.0f}" for p in (*PHASES, "total"))
        out(f"{sizes} ({names[-1]}): {seconds:.4g} s; cycles a mini-batch: {phases}; "
            f"{row['clock_hz'] / 1e9:.2f} GHz implied")
    return rows


def main(argv=None):
    return command(measure, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
