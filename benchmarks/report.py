"""Turn a pytest-benchmark JSON of benchmarks/ into a markdown table.

    python -m benchmarks.report benchmarks/results/NAME.json [--out TABLE.md]

Seconds per epoch are scaled to 60,000 examples from the examples each case timed (the
median round); ratios are to the book-style per-example loop and to PyTorch on the same
device; the large networks also get TFLOP/s and their share of the plain-matmul ceiling.
The book's [784, 30, 10] networks also get a backends table: one row per library and path,
from the same run, with its ratio to the fastest, then issue 18's goals for JAX.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

EPOCH = 60_000


def rows(doc):
    """{(config, dtype, sizes, m, cost): {impl: seconds per 60k epoch}} and flops per example per
    config; ``PATHS`` gets the nnaccel path each row ran."""
    table, flops = defaultdict(dict), {}
    for bench in doc["benchmarks"]:
        info = bench["extra_info"]
        if "peak_extra_mb" in info:  # memory cases go in their own lines
            continue
        seconds = bench["stats"]["median"] * EPOCH / info["examples"]
        key = (info["config"], info["dtype"], tuple(info["sizes"]), info["mini_batch_size"], info["cost"])
        table[key][info["impl"]] = seconds
        flops[info["config"]] = info["flops_per_example"]
        PATHS[key, info["impl"]] = info.get("path", "")
    return table, flops


PATHS = {}  # (table key, impl) → the nnaccel path that row ran (from the JSON)
PEERS = {  # impl → (library, how it trains)
    "peer-book-loop": ("Python + NumPy", "network2.py's per-example loop"),
    "peer-naive-numpy": ("numpy", "hand-written whole-batch loop"),
    "peer-torch-cpu": ("torch", "hand-written, eager"),
    "peer-torch-compile-cpu": ("torch", "hand-written, torch.compile"),
    "peer-jax-scan-cpu": ("jax", "hand-written jit + lax.scan"),
    "peer-torch-cuda": ("torch", "hand-written, eager"),
    "peer-torch-cuda-graphs": ("torch", "hand-written, CUDA graphs"),
    "peer-jax-scan-cuda": ("jax", "hand-written jit + lax.scan"),
}
BACKEND_CONFIGS = ("book-30", "book-30-xent")  # the [784, 30, 10] networks, m = 10


def _library_and_path(key, impl):
    if impl in PEERS:
        return PEERS[impl]
    library = impl.removeprefix("nnaccel-").split("-")[0]
    return library, f"nnaccel: {PATHS.get((key, impl)) or impl}"


def backend_lines(table):
    """One table per [784, 30, 10] network and dtype: every library and path of the run, fastest
    first, with its ratio to the fastest; then the JAX goals of issue 18."""
    out = []
    for key, impls in sorted(table.items()):
        config, dtype, sizes, m, cost = key
        timed = sorted((s, i) for i, s in impls.items() if not i.startswith("ceiling"))
        if config not in BACKEND_CONFIGS or len(timed) < 2:
            continue
        fastest = timed[0][0]
        out += ["", f"Backends on {list(sizes)}, m = {m}, {cost}, {dtype} (same network, same run):", "",
                "| library | path | device | s / epoch (60k) | × the fastest |", "|---|---|---|---|---|"]
        for seconds, impl in timed:
            library, path = _library_and_path(key, impl)
            device = "cuda" if ("cuda" in impl or "cupy" in impl) else "cpu"
            out.append(f"| {library} | {path} | {device} | {_fmt(seconds)} | {seconds / fastest:.2f} |")
        out += jax_goal_lines(key, impls)
    return out


def jax_goal_lines(key, impls):
    """Issue 18: the JAX fast path within 1.2 × of a hand-written jit + scan loop; the C kernel at
    least 2 × faster than that loop on the CPU."""
    lines = []
    ours, peer, c = impls.get("nnaccel-jax"), impls.get("peer-jax-scan-cpu"), impls.get("nnaccel-numpy")
    if ours and peer:
        lines.append(f"- nnaccel's JAX path / hand-written JAX jit + scan: {ours / peer:.2f} "
                     f"(goal ≤ 1.2: {'met' if ours / peer <= 1.2 else 'not met'})")
    if c and peer:
        lines.append(f"- hand-written JAX jit + scan / nnaccel on NumPy ({PATHS.get((key, 'nnaccel-numpy')) or 'its path'}): "
                     f"{peer / c:.2f} (goal ≥ 2: {'met' if peer / c >= 2 else 'not met'})")
    return [""] + lines if lines else []


def _fmt(seconds):
    return f"{seconds:.3g}"


def api_lines(table):
    """The API-path goals (issue 8): API with float inputs vs the CLI's uint8 path and the naive loop."""
    for key, impls in table.items():
        api, cli, naive = (impls.get(k) for k in ("nnaccel-api-float32", "nnaccel-cli-uint8", "peer-naive-numpy"))
        if key[0] == "api-book-30" and api and cli and naive:
            return ["", f"Python API with float32 inputs, {list(key[2])} m = {key[3]}: {_fmt(api)} s per epoch, "
                        
                        f"{api / cli:.2f} × the CLI's uint8 path ({_fmt(cli)} s; goal ≤ 1.10) and "
                        f"{api / naive:.2f} × the naive whole-batch NumPy loop ({_fmt(naive)} s; goal ≤ 0.50)."]
    return []


GPU_GOALS = [  # (config, versus, at least): issue 8's goals for the persistent kernel
    ("book-30", "nnaccel-numpy", 5.0), ("book-30", "peer-torch-cuda", 30.0), ("book-100", "nnaccel-numpy", 3.0)]


def gpu_goal_lines(table):
    """The persistent kernel's speed-ups over the C kernel (CPU) and PyTorch CUDA eager, float32."""
    lines = []
    for config, versus, goal in GPU_GOALS:
        for key, impls in table.items():
            ours, theirs = impls.get("nnaccel-cupy-persistent"), impls.get(versus)
            if key[0] == config and key[1] == "float32" and ours and theirs:
                verdict = "met" if theirs / ours >= goal else "not met"
                lines.append(f"- {list(key[2])} m = {key[3]}: the CUDA persistent kernel is {theirs / ours:.1f} × "
                             f"faster than {versus} (goal ≥ {goal:g} ×: {verdict})")
    return ["", "GPU goals (float32):", ""] + lines if lines else []


def render(doc) -> str:
    table, flops = rows(doc)
    machine = doc.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw", "unknown CPU")
    libs = ", ".join(f"{k} {v}" for k, v in machine.get("libraries", {}).items() if v)
    out = [f"Machine: {cpu}, {machine.get('cpu', {}).get('count', '?')} cores; GPU: {machine.get('gpu') or 'none'}",
           f"Libraries: {libs}", "",
           "| network | m | cost | dtype | implementation | s / epoch (60k) | examples/s | × vs book loop | × vs PyTorch (same device) | TFLOP/s | % of matmul |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (config, dtype, sizes, m, cost), impls in sorted(table.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        book = table.get((config, "float32", sizes, m, cost), {}).get("peer-book-loop")
        for impl, seconds in sorted(impls.items(), key=lambda kv: kv[1]):
            if impl.startswith("ceiling"):
                continue
            device = "cuda" if ("cuda" in impl or "cupy" in impl) else "cpu"
            torch = impls.get(f"peer-torch-{device}")
            ceiling = impls.get("ceiling-matmul-cupy" if device == "cuda" else "ceiling-matmul-numpy")
            tflops = flops[config] * EPOCH / seconds / 1e12
            share = f"{100 * ceiling / seconds:.0f} %" if ceiling else ""
            out.append("| " + " | ".join([
                str(list(sizes)), str(m), cost, dtype, impl, _fmt(seconds), f"{EPOCH / seconds:,.0f}",
                f"{book / seconds:.1f}" if book else "", f"{torch / seconds:.2f}" if torch else "",
                f"{tflops:.3f}" if len(sizes) > 3 else "", share]) + " |")
    out += backend_lines(table) + api_lines(table) + gpu_goal_lines(table)
    memory = [b["extra_info"] for b in doc["benchmarks"] if "peak_extra_mb" in b["extra_info"]]
    if memory:
        out += ["", "Peak host memory during one epoch of [784, 30, 10], beyond the data set already in memory:", ""]
        out += [f"- {m['impl']}: {m['peak_extra_mb']} MB (data: {m['data_mb']} MB, {m['examples']} examples)"
                for m in memory]
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    try:
        with open(args.results) as f:
            doc = json.load(f)
        text = render(doc)
    except (OSError, ValueError, KeyError) as e:
        print(f"report: error: {args.results} is not a pytest-benchmark JSON of benchmarks/ ({e})", file=sys.stderr)
        return 2
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
