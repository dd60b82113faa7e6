"""What ``nnaccel selftest`` measures of issue 15's goals: one full 60,000-image epoch per launch.

Each timed row is one epoch over 60,000 rows on the device (the embedded MNIST sample's 8,000
training images repeated: 47 MB of pixels, the traffic of a real epoch, not a set that stays in L2),
after a warm-up epoch, over ``rounds`` rounds, timed by CUDA events around the launch and by
the wall clock around the call: the median and the spread (min, max) of both. The C kernel on
this host's CPU is timed on the same rows for the ratios, and a population of one member per
SM through the same kernel for the network-epochs per second. A goal whose path stepped aside
(it does not apply, or its self-check turned it off) reads "not met (path turned off: …)".
The GPU's clocks and driver and the host's CPU model go with the figures.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import time
from dataclasses import dataclass

import numpy as np

from ..data.datasets import load_dataset
from ..epochs.fast import persistent_epoch, selfcheck
from ..epochs.fast.c_epoch import CEpoch
from ..epochs.fast.persistent_epoch import PersistentEpoch
from ..epochs.generic import EpochOptions
from ..nets.network import Network
from ..nets.population import Population
from ..optim import SGDState

EXAMPLES = 60_000
ROUNDS = 5


@dataclass(frozen=True)
class Goal:
    """One of issue 15's goals (benchmarks/gpu_model.py predicts them until a GPU measures them)."""

    name: str
    sizes: tuple
    seconds: float | None = None  # at most, per 60k epoch
    versus_c: float | None = None  # at least this many times the C kernel's speed
    per_second: float | None = None  # network-epochs per second, for a population


GOALS = (
    Goal("one [784,30,10] network, m = 10, float32", (784, 30, 10), seconds=0.024, versus_c=5.0),
    Goal("one [784,100,10] network, m = 10, float32", (784, 100, 10), versus_c=3.0),
    Goal("a population of [784,30,10], one block per member", (784, 30, 10), per_second=5000.0),
)


def sixty_thousand():
    """(uint8 pixels (60000, 784), labels): the embedded sample's training images, repeated."""
    x, labels = load_dataset("mnist-10k").train
    reps = -(-EXAMPLES // len(x))
    return np.tile(x, (reps, 1))[:EXAMPLES], np.tile(labels, reps)[:EXAMPLES]


def spread(values):
    """{"median", "min", "max", "rounds"} of a list of seconds."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": len(values)}


def time_rounds(run, rounds=ROUNDS, warmup=1, cuda=None, clock=time.perf_counter):
    """Time ``run()`` ``rounds`` times after ``warmup`` untimed calls: {"wall": spread, "events":
    spread or None}. ``cuda`` is cupy.cuda (None: wall time only, e.g. the C kernel)."""
    for _ in range(warmup):
        run()
    if cuda is not None:
        cuda.Device().synchronize()
    wall, events = [], []
    for _ in range(rounds):
        if cuda is not None:
            start, end = cuda.Event(), cuda.Event()
            start.record()
        t0 = clock()
        run()
        if cuda is not None:
            end.record()
            end.synchronize()
            events.append(cuda.get_elapsed_time(start, end) / 1e3)
        wall.append(clock() - t0)
    return {"wall": spread(wall), "events": spread(events) if events else None}


def stepped_aside(path_cls, net, options):
    """Why ``path_cls`` would not train ``net`` with ``options`` (None: it would)."""
    if not path_cls.applies(net, options):
        sizes, m = net.sizes, options.mini_batch_size
        work = m * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        if path_cls is PersistentEpoch and work > persistent_epoch.MAX_WORK:
            return f"m × weights = {work:,} is above persistent_epoch.MAX_WORK = {persistent_epoch.MAX_WORK:,}"
        return f"the {path_cls.name} does not apply to {sizes} at m = {m}"
    if path_cls.selfcheck and not selfcheck.verified(path_cls, net, options):
        return f"its self-check turned the {path_cls.name} off (its numbers differ from the generic path's)"
    return None


def verdict(goal, seconds=None, c_seconds=None, per_second=None, aside=None, quick=False):
    """"met", "not met", "not met (path turned off: …)" or "not measured (--quick …)"."""
    if aside:
        return f"not met (path turned off: {aside})"
    if quick:
        return "not measured (--quick is a smoke test)"
    ok = True
    if goal.seconds is not None:
        ok &= seconds is not None and seconds <= goal.seconds
    if goal.versus_c is not None:
        ok &= seconds is not None and c_seconds is not None and c_seconds / seconds >= goal.versus_c
    if goal.per_second is not None:
        ok &= per_second is not None and per_second >= goal.per_second
    return "met" if ok else "not met"


def kernels():
    """[{"kernel", "registers", "local_size_bytes", …}] of every persistent kernel this process built."""
    rows = []
    for key, kernel in getattr(persistent_epoch, "_KERNELS", {}).items():
        attributes = dict(getattr(kernel, "attributes", {}) or {})
        rows.append({"kernel": key[-1], "registers": attributes.get("num_regs"),
                     "local_size_bytes": attributes.get("local_size_bytes"),
                     "shared_size_bytes": attributes.get("shared_size_bytes"),
                     "max_threads_per_block": attributes.get("max_threads_per_block")})
    return rows


def environment(index=0):
    """The GPU's name, SM count, clocks and driver, and the host's CPU model, as far as known."""
    env = {"cpu": host_cpu()}
    try:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(index)
        env.update(gpu=props["name"].decode(), sms=props.get("multiProcessorCount"),
                   max_sm_clock_mhz=props.get("clockRate", 0) / 1e3 or None,
                   memory_clock_mhz=props.get("memoryClockRate", 0) / 1e3 or None,
                   driver=cupy.cuda.runtime.driverGetVersion(), runtime=cupy.cuda.runtime.runtimeGetVersion())
    except Exception as error:  # no CuPy or no GPU: the host's part only
        env["gpu"] = f"none ({type(error).__name__})"
    env.update(nvidia_smi(index))
    return env


def nvidia_smi(index=0):
    """The clocks and driver nvidia-smi reports now (empty where it is missing)."""
    fields = "clocks.sm,clocks.max.sm,clocks.mem,driver_version,power.draw,temperature.gpu"
    try:
        done = subprocess.run(["nvidia-smi", f"--id={index}", f"--query-gpu={fields}", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if done.returncode:
        return {}
    values = [v.strip() for v in done.stdout.strip().split(",")]
    return {"nvidia_smi": dict(zip(fields.split(","), values))}


def host_cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure(device="cuda", quick=False, out=print):
    """Every goal's row on the GPU (``quick``: one round, a smoke test, no verdict)."""
    import cupy

    rounds = 1 if quick else ROUNDS
    x, labels = sixty_thousand()
    rows = []
    c_seconds = {}
    for goal in GOALS:
        sizes, m = list(goal.sizes), 10
        net = Network(sizes, device=device, backend="cupy", dtype="float32", seed=0)
        options = EpochOptions(m, 0.5)
        aside = stepped_aside(PersistentEpoch, net, options)
        row = {"goal": goal.name, "sizes": sizes, "mini_batch_size": m, "dtype": "float32", "examples": EXAMPLES,
               "quick": quick}
        if goal.per_second is None:
            key = tuple(sizes)
            if key not in c_seconds:
                c_seconds[key] = c_kernel_seconds(sizes, m, (x, labels), 1 if quick else 3)
            row["c_kernel_seconds"] = c_seconds[key]
        if aside is None:
            if goal.per_second is None:
                data = net.data((x, labels))
                path = PersistentEpoch(net, options)
                row["timing"] = time_rounds(lambda: path(net, data, SGDState()), rounds, cuda=cupy.cuda)
            else:
                row.update(population_timing(sizes, m, device, (x, labels), rounds, cupy))
        seconds = row["timing"]["events"]["median"] if "timing" in row else None
        row["verdict"] = verdict(goal, seconds, row.get("c_kernel_seconds"), row.get("per_second"), aside, quick)
        rows.append(row)
        out("    " + describe(row))
    return {"rows": rows, "kernels": kernels(), "environment": environment(cupy.cuda.Device().id)}


def c_kernel_seconds(sizes, m, data, rounds):
    """The C kernel's median wall seconds per epoch on this host, on the same rows (None: not built)."""
    net = Network(sizes, device="cpu", backend="numpy", dtype="float32", seed=0)
    options = EpochOptions(m, 0.5)
    if not CEpoch.applies(net, options):
        return None
    d = net.data(data)
    path = CEpoch(net, options)
    return time_rounds(lambda: path(net, d, SGDState()), rounds, warmup=0)["wall"]["median"]


def population_timing(sizes, m, device, data, rounds, cupy):
    """One epoch of a population of one member per SM; {"members", "timing", "per_second", "path"}."""
    members = cupy.cuda.Device().attributes["MultiProcessorCount"]
    pop = Population(sizes, seeds=list(range(members)), device=device, backend="cupy", dtype="float32")
    d = pop.data(data)
    timing = time_rounds(lambda: pop.train(d, 1, m, 0.5), rounds, cuda=cupy.cuda)
    return {"members": members, "timing": timing, "per_second": members / timing["events"]["median"]}


def describe(row):
    """One line for a row: the figures, the goal's verdict."""
    t = row.get("timing")
    if t is None:
        return f"{row['goal']}: {row['verdict']}"
    e, w = t["events"], t["wall"]
    text = (f"{row['goal']}: {e['median']:.4g} s per {row['examples']:,}-image epoch by CUDA events "
            f"({e['min']:.4g}–{e['max']:.4g}, {e['rounds']} rounds), {w['median']:.4g} s wall")
    if row.get("c_kernel_seconds"):
        text += f", {row['c_kernel_seconds'] / e['median']:.2f} × the C kernel ({row['c_kernel_seconds']:.3g} s)"
    if row.get("per_second"):
        text += f", {row['per_second']:,.0f} network-epochs/s with {row['members']} members"
    if row.get("quick"):
        text += " [--quick: a smoke test, one round]"
    return f"{text}: {row['verdict']}"
