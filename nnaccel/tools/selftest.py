"""``nnaccel selftest --device cuda``: the one command for the day a GPU is there (issue 8).

In a few minutes, on the GPU: the CUDA and gpu_emulated tests (pytest, in a subprocess); every
CuPy path (persistent kernel, fused kernels) against the generic array-API path on the real
device, by name; issue 15's goals, each one full 60,000-image launch timed by CUDA events and
the wall clock over 5 rounds after a warm-up (nnaccel/tools/epoch_timing.py), with the GPU's clocks,
driver and the kernel's registers and local memory; and the GPU rows of the benchmark suite
(persistent / fused / generic / PyTorch CUDA eager / PyTorch CUDA graphs, plus the C kernel
on the CPU for the ratios). ``--quick`` is a smoke test: one round, fewer benchmark rows, no
verdict on the goals.
Writes ``<out>/<gpu-name>.json`` and ``.md``. Without a GPU it says so in one line and exits 0.
It runs the tests and benchmarks of a source checkout (tests/, benchmarks/).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..backend import cuda_available, gpu_names
from ..data.datasets import load_dataset
from ..epochs import fast
from ..epochs.generic import EpochOptions, GenericEpoch
from ..errors import NNAccelError
from ..nets.network import Network
from ..optim import SGDState
from . import epoch_timing

# the source checkout nnaccel runs from: the folder that holds the package (wherever this module sits in it)
ROOT = next(p for p in Path(__file__).resolve().parents if (p / "nnaccel" / "__init__.py").is_file())
TEST_MARKERS = "cuda or gpu_emulated"
# The benchmark rows timed (NNACCEL_BENCH_IMPLS of benchmarks/test_train_speed.py): every GPU
# row (JAX's skip unless its CUDA build sees the GPU), and the C kernel on the CPU on the book's
# networks, for the goals' ratios.
BENCH_ROWS = ("nnaccel-cupy-persistent,nnaccel-cupy-fused,nnaccel-cupy-generic,peer-torch-cuda,"
              "peer-torch-cuda-graphs,nnaccel-jax-cuda,peer-jax-scan-cuda,ceiling-matmul-cupy,"
              "nnaccel-numpy:book-30+book-30-xent+book-100")
# (sizes, mini-batch) compared path against path on the device, each in float64 and float32,
# with plain SGD and with L2 + momentum
COMPARED = [([784, 30, 10], 10), ([784, 100, 10], 10), ([784, 100, 10], 128)]
TOLERANCE = {"float64": 1e-12, "float32": 2e-4}  # after one epoch of 1,005 MNIST images


def slug(name):
    """A file name for a GPU: "NVIDIA H100 80GB HBM3" → "nvidia-h100-80gb-hbm3"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "gpu"


def _device_index(device):
    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if not match:
        raise NNAccelError(f"--device must be cuda or cuda:N, got {device!r}")
    return int(match.group(1) or 0)


# ---- the paths against each other ----------------------------------------------------------
def compare_paths(make_net, data, options, path_classes, reference=GenericEpoch, dtype="float64"):
    """One epoch of each path in ``path_classes`` from the same start as ``reference``'s:
    a row per path, {"path", "max_abs_diff", "tolerance", "status"}, status "ok", "differs",
    "does not apply", "turned off by its self-check" or "error: …". ``make_net()`` returns a
    fresh network, the same every call; ``data`` is (X, labels)."""
    def train(path_cls):
        net = make_net()
        state = path_cls(net, options)(net, net.data(data), SGDState())
        return [net.backend.to_numpy(a).astype(np.float64)
                for a in net.weights + net.biases + state.velocity_w + state.velocity_b]

    want = train(reference)
    tol = TOLERANCE[dtype]
    rows = []
    for path_cls in path_classes:
        row = {"path": path_cls.name, "max_abs_diff": None, "tolerance": tol}
        probe = make_net()
        if not path_cls.applies(probe, options):
            rows.append(dict(row, status="does not apply"))
            continue
        if path_cls.selfcheck and not fast.selfcheck.verified(path_cls, probe, options):
            row["status"] = "turned off by its self-check"
        try:
            got = train(path_cls)
        except Exception as error:  # a kernel that fails to build or launch
            rows.append(dict(row, status=f"error: {type(error).__name__}: {str(error)[:200]}"))
            continue
        diff = max(float(np.max(np.abs(g - w), initial=0.0)) for g, w in zip(got, want)) \
            if len(got) == len(want) else float("inf")
        row["max_abs_diff"] = diff
        row.setdefault("status", "ok" if diff <= tol else "differs")
        rows.append(row)
    return rows


def gpu_comparisons(device, backend="cupy"):
    """compare_paths for every network of COMPARED, both dtypes, plain SGD and L2 + momentum,
    on the GPU, with 1,005 images of the embedded MNIST sample (a smaller last mini-batch)."""
    x, labels = load_dataset("mnist-10k").train
    data = (x[:1005], labels[:1005])
    results = []
    for sizes, m in COMPARED:
        for dtype in ("float64", "float32"):
            for options in (EpochOptions(m, 0.5), EpochOptions(m, 0.5, lmbda=1.0, momentum=0.5)):
                def make_net():
                    return Network(sizes, device=device, backend=backend, dtype=dtype, seed=3)

                rows = compare_paths(make_net, data, options, fast.REGISTRY.get(backend, ()), dtype=dtype)
                results.append({"sizes": sizes, "mini_batch_size": m, "dtype": dtype,
                                "options": _describe(options), "rows": rows})
    return results


def _describe(options):
    return "plain SGD" if not (options.lmbda or options.momentum) else \
        f"λ = {options.lmbda:g}, μ = {options.momentum:g}"


# ---- the subprocesses: tests and benchmarks ----------------------------------------------
def _run(command, env, timeout):
    """(exit code, last line of output, seconds) of a command in the source checkout."""
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout} s", time.perf_counter() - start
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return done.returncode, lines[-1] if lines else "", time.perf_counter() - start


def run_tests(env, timeout=1800):
    rc, summary, seconds = _run([sys.executable, "-m", "pytest", "-m", TEST_MARKERS, "-q", "-p", "no:cacheprovider",
                                 "tests"], env, timeout)
    return {"command": f'python -m pytest -m "{TEST_MARKERS}" tests', "returncode": rc, "summary": summary,
            "seconds": round(seconds, 1)}


def run_benchmarks(json_path, env, quick=False, timeout=1800):
    env = dict(env, NNACCEL_BENCH_IMPLS=BENCH_ROWS, **({"NNACCEL_BENCH_QUICK": "1"} if quick else {}))
    rc, summary, seconds = _run([sys.executable, "-m", "pytest", "benchmarks/test_train_speed.py", "-q",
                                 "-p", "no:cacheprovider", f"--benchmark-json={json_path}"], env, timeout)
    return {"command": f"NNACCEL_BENCH_IMPLS={BENCH_ROWS} python -m pytest benchmarks/test_train_speed.py",
            "returncode": rc, "summary": summary, "seconds": round(seconds, 1)}


def run_population_benchmarks(json_path, env, quick=False, timeout=1800):
    """benchmarks/test_population_speed.py's CuPy rows (population-cupy and its peers)."""
    env = dict(env, **({"NNACCEL_BENCH_QUICK": "1"} if quick else {}))
    rc, summary, seconds = _run([sys.executable, "-m", "pytest", "benchmarks/test_population_speed.py", "-q",
                                 "-k", "cupy", "-p", "no:cacheprovider", f"--benchmark-json={json_path}"],
                                env, timeout)
    return {"command": 'python -m pytest benchmarks/test_population_speed.py -k cupy', "returncode": rc,
            "summary": summary, "seconds": round(seconds, 1)}


# ---- the report -------------------------------------------------------------------------
def ptxas_report(results_dir):
    """The NVRTC/ptxas report of the CUDA sources (written by tests/gpu/test_nvrtc_compile.py), or None."""
    for path in (Path(results_dir) / "ptxas-report.json", ROOT / "benchmarks" / "results" / "ptxas-report.json"):
        if path.is_file():
            with open(path) as f:
                return {"path": str(path), "report": json.load(f)}
    return None


def render_epochs(epochs):
    """Markdown for the goals' 60k-epoch timings, the environment and the kernels' resources."""
    env = epochs.get("environment", {})
    smi = env.get("nvidia_smi", {})
    out = [f"Issue 15's goals, one launch of {epoch_timing.EXAMPLES:,} images each (float32, m = 10) on "
           f"{env.get('gpu')} ({env.get('sms')} SMs, SM clock {smi.get('clocks.sm', '?')} of "
           f"{smi.get('clocks.max.sm', env.get('max_sm_clock_mhz'))}, memory {smi.get('clocks.mem', env.get('memory_clock_mhz'))}, "
           f"driver {smi.get('driver_version', env.get('driver'))}, CUDA runtime {env.get('runtime')}); "
           f"host CPU {env.get('cpu')}:", "",
           "| goal | s / epoch (CUDA events, median) | min–max | rounds | wall s | × C kernel | network-epochs/s | result |",
           "|---|---|---|---|---|---|---|---|"]
    for row in epochs.get("rows", []):
        t = row.get("timing")
        if t is None:
            out.append(f"| {row['goal']} |  |  |  |  |  |  | {row['verdict']} |")
            continue
        e, w = t["events"], t["wall"]
        ratio = f"{row['c_kernel_seconds'] / e['median']:.2f}" if row.get("c_kernel_seconds") else ""
        rate = f"{row['per_second']:,.0f}" if row.get("per_second") else ""
        out.append(f"| {row['goal']} | {e['median']:.4g} | {e['min']:.4g}–{e['max']:.4g} | {e['rounds']} | "
                   f"{w['median']:.4g} | {ratio} | {rate} | {row['verdict']} |")
    out.append("")
    for k in epochs.get("kernels", []):
        out.append(f"- `{k['kernel']}`: {k['registers']} registers, {k['local_size_bytes']} B local memory per thread, "
                   f"{k['shared_size_bytes']} B static shared memory")
    return out + [""]


def render_selftest(selftest):
    """Markdown for what the benchmark table does not hold: tests, path comparisons, goals, ptxas."""
    out = ["", f"## nnaccel selftest on {selftest['gpu']}", ""]
    if selftest.get("epochs"):
        out += render_epochs(selftest["epochs"])
    tests = selftest.get("tests")
    if tests:
        out += [f"Tests (`{tests['command']}`): exit {tests['returncode']}, {tests['summary']} "
                f"({tests['seconds']} s).", ""]
    if selftest.get("paths"):
        out += ["Each path against the generic array-API path on the GPU, one epoch of 1,005 MNIST images:", "",
                "| network | m | dtype | options | path | max abs difference | tolerance | result |",
                "|---|---|---|---|---|---|---|---|"]
        for case in selftest["paths"]:
            for row in case["rows"]:
                diff = "" if row["max_abs_diff"] is None else f"{row['max_abs_diff']:.3g}"
                out.append(f"| {case['sizes']} | {case['mini_batch_size']} | {case['dtype']} | {case['options']} | "
                           f"{row['path']} | {diff} | {row['tolerance']:g} | {row['status']} |")
        out.append("")
    bench = selftest.get("benchmarks")
    if bench:
        out += [f"Benchmarks (`{bench['command']}`): exit {bench['returncode']}, {bench['summary']} "
                f"({bench['seconds']} s).", ""]
    ptxas = selftest.get("ptxas")
    if ptxas:
        kernels = ptxas["report"].get("kernels", [])
        spills = sum(1 for k in kernels if k.get("spill_stores") or k.get("spill_loads"))
        most = max((k.get("registers", 0) for k in kernels), default=0)
        out += [f"ptxas report ({ptxas['path']}): {len(kernels)} kernel builds for "
                f"{', '.join(ptxas['report'].get('archs', []))}, at most {most} registers, {spills} with spills.", ""]
    else:
        out += ["No ptxas report found (run `python -m pytest -m gpu_emulated tests` to write one).", ""]
    return "\n".join(out)


def write_results(out_dir, name, doc, selftest, render_table):
    """<out_dir>/<slug>.json (the benchmark JSON with a "selftest" key) and .md; returns both paths.
    Each is written to a temporary name and renamed: nothing half-written on disk."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = dict(doc, selftest=selftest)
    text = render_table(doc) + render_selftest(selftest)
    paths = out_dir / f"{slug(name)}.json", out_dir / f"{slug(name)}.md"
    for path, content in zip(paths, (json.dumps(doc, indent=1, default=str) + "\n", text)):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(content)
        os.replace(tmp, path)
    return paths


def _check_checkout():
    """The tests and benchmarks run from the source checkout (they are not part of the package)."""
    if not (ROOT / "benchmarks" / "report.py").is_file() or not (ROOT / "tests").is_dir():
        raise NNAccelError(f"nnaccel selftest runs the tests and benchmarks of a source checkout, and {ROOT} "
                           "is not one; run it from a clone of the nnaccel repository (pip install -e .)")


def render_report(doc):
    """The benchmark table as ``python -m benchmarks.report`` renders it (a command of the
    checkout, run as one: the package imports nothing of benchmarks/)."""
    path = Path(tempfile.mkstemp(suffix=".json")[1])
    try:
        path.write_text(json.dumps(doc, default=str))
        done = subprocess.run([sys.executable, "-m", "benchmarks.report", str(path)], cwd=ROOT,
                              capture_output=True, text=True)
    finally:
        path.unlink()
    return done.stdout if done.returncode == 0 else f"(benchmarks.report failed: {done.stderr.strip()})\n"


# ---- the command ------------------------------------------------------------------------
def cmd_selftest(args, out=print):
    index = _device_index(args.device)
    if not cuda_available():
        out("nnaccel selftest: no CUDA GPU here (CuPy sees none), so there is nothing to test; "
            "run it on a machine with an NVIDIA GPU and nnaccel[cuda] installed")
        return 0
    names = gpu_names()
    if index >= len(names):
        raise NNAccelError(f"--device {args.device}: this machine has {len(names)} CUDA device(s); "
                           f"use cuda:0 … cuda:{len(names) - 1}")
    _check_checkout()
    gpu = names[index]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES=str(index))
    selftest = {"gpu": gpu, "device": args.device}
    out(f"nnaccel selftest on {gpu} ({args.device}); results go to {args.out}")
    if not args.skip_tests:
        out(f"  tests: python -m pytest -m \"{TEST_MARKERS}\" tests …")
        selftest["tests"] = run_tests(env)
        out(f"    {selftest['tests']['summary']}")
    out("  each GPU path against the generic path …")
    selftest["paths"] = gpu_comparisons(args.device)
    for case in selftest["paths"]:
        for row in case["rows"]:
            diff = "" if row["max_abs_diff"] is None else f" max |Δ| {row['max_abs_diff']:.2g}"
            out(f"    {case['sizes']} m={case['mini_batch_size']} {case['dtype']} {case['options']}: "
                f"{row['path']}: {row['status']}{diff}")
    how = ("--quick: a smoke test, one round, no verdict" if args.quick
           else f"CUDA events and wall time, {epoch_timing.ROUNDS} rounds after a warm-up")
    out(f"  one {epoch_timing.EXAMPLES:,}-image launch per goal ({how}) …")
    selftest["epochs"] = timings(args.device, quick=args.quick, out=out)
    for k in selftest["epochs"]["kernels"]:
        out(f"    {k['kernel']}: {k['registers']} registers, {k['local_size_bytes']} B local memory")
    doc = {"machine_info": {"gpu": gpu}, "benchmarks": []}
    if not args.skip_benchmarks:
        out("  benchmark rows (persistent, fused, generic, PyTorch eager and CUDA graphs, the C kernel) …")
        bench_json = Path(args.out) / f".{slug(gpu)}-benchmarks.json"
        Path(args.out).mkdir(parents=True, exist_ok=True)
        selftest["benchmarks"] = run_benchmarks(bench_json, env, quick=args.quick)
        out(f"    {selftest['benchmarks']['summary']}")
        if bench_json.is_file():
            with open(bench_json) as f:
                doc = json.load(f)
            bench_json.unlink()
        out("  population rows (population-cupy: the persistent kernel, one block per member; K = 16, 64) …")
        pop_json = Path(args.out) / f".{slug(gpu)}-population.json"
        selftest["population_benchmarks"] = run_population_benchmarks(pop_json, env, quick=args.quick)
        out(f"    {selftest['population_benchmarks']['summary']}")
        if pop_json.is_file():
            with open(pop_json) as f:
                doc.setdefault("benchmarks", []).extend(json.load(f).get("benchmarks", []))
            pop_json.unlink()
    selftest["ptxas"] = ptxas_report(args.out)
    json_path, md_path = write_results(args.out, gpu, doc, selftest, render_report)
    failed = (selftest.get("tests", {}).get("returncode", 0) != 0
              or any(row["status"] not in ("ok", "does not apply") for case in selftest["paths"]
                     for row in case["rows"]))
    out(f"nnaccel selftest: {'FAILED' if failed else 'passed'}; wrote {json_path} and {md_path}")
    return 1 if failed else 0


def timings(device, quick=False, out=print):
    """epoch_timing.measure on the GPU (a seam the tests stand in for)."""
    return epoch_timing.measure(device, quick=quick, out=out)
