"""Turn a pytest-benchmark JSON of benchmarks/ into a markdown table.

    python -m benchmarks.report benchmarks/results/NAME.json [--out TABLE.md]

Seconds per epoch are scaled to 60,000 examples from the examples each case timed (the
median round); ratios are to the book-style per-example loop and to PyTorch on the same
device; the large networks also get TFLOP/s and their share of the plain-matmul ceiling.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

EPOCH = 60_000


def rows(doc):
    """{(config, dtype): {impl: seconds per 60k epoch}} and flops per example per config."""
    table, flops = defaultdict(dict), {}
    for bench in doc["benchmarks"]:
        info = bench["extra_info"]
        if "peak_extra_mb" in info:  # memory cases go in their own lines
            continue
        seconds = bench["stats"]["median"] * EPOCH / info["examples"]
        table[(info["config"], info["dtype"], tuple(info["sizes"]), info["mini_batch_size"], info["cost"])][info["impl"]] = seconds
        flops[info["config"]] = info["flops_per_example"]
    return table, flops


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
    out += api_lines(table) + gpu_goal_lines(table)
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
