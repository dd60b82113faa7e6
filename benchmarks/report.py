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
