"""ptxas's resource report for every kernel nnaccel can run on a GPU, per architecture.

    python -m tests.gpu_compile.ptxas_report [PATH]   (default benchmarks/results/ptxas-report.json)

Compiles, with NVRTC 12 from PyPI and no GPU, what tests/gpu/test_nvrtc_compile.py compiles (the
CuPy fast path's ElementwiseKernels in every recorded layout, the persistent kernel in every
instantiation) and writes registers, spills, stack and shared memory per kernel and arch;
exits 1 on a problem, or on any local memory (stack frame) in a persistent kernel.
Needs the packages of the ``cuda`` extra (cupy-cuda12x, nvidia-cuda-nvrtc-cu12).
It lives beside the compile targets it reports on (the recorded layouts come from the tests'
kernel emulator); the JSON goes with the measured records in benchmarks/results/, a file that
`nnaccel selftest` reads, not a module anything imports.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from . import nvrtc
from .elementwise import record_fast_path
from .targets import elementwise_targets, persistent_targets

DEFAULT = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "ptxas-report.json"


def rows(targets):
    """One row per (target, kernel, arch), in the order compiled."""
    out = []
    for arch in nvrtc.ARCHS:
        for t in targets:
            if not t.builds_for(arch):
                continue
            compiled = nvrtc.compile_cuda(t.source, arch, t.options, t.name_expressions)
            names = {v: k for k, v in compiled.mapping.items()}  # lowered name -> name expression
            for lowered, resources in compiled.functions.items():
                row = {"kernel": names.get(lowered, lowered), "kind": t.kind, "detail": t.detail, "arch": f"sm_{arch}"}
                row.update(asdict(resources))
                row["threads"] = t.threads
                row["problems"] = nvrtc.limit_problems(row["kernel"], resources, arch, t.dynamic_shared, t.threads)
                out.append(row)
    return out


def build():
    import cupy

    targets = elementwise_targets(record_fast_path())
    cuda = persistent_targets()
    targets += cuda or []
    major, minor = nvrtc.nvrtc_version()
    return {
        "cupy": cupy.__version__,
        "nvrtc": f"{major}.{minor}",
        "archs": [f"sm_{a}" for a in nvrtc.ARCHS],
        "persistent_kernel": "compiled" if cuda else "nnaccel/epochs/fast/persistent_epoch.compile_targets() not found",
        "limits": {"static_shared": nvrtc.STATIC_SHARED_LIMIT,
                   "shared_opt_in": {f"sm_{a}": v for a, v in nvrtc.SHARED_OPT_IN_LIMIT.items()}},
        "kernels": rows(targets),
    }


def write_report(path=DEFAULT):
    path = Path(path)
    report = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    return path


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    path = write_report(argv[0] if argv else DEFAULT)
    report = json.loads(path.read_text())
    for r in report["kernels"]:
        print(f"{r['arch']}  {r['kernel']:<28} {r['detail']:<60} {r['registers']:>3} regs  "
              f"{r['spill_stores']:>4} B spilled  {r['stack_frame']:>4} B stack  {r['shared']:>6} B smem")
    print(f"wrote {path}")
    local = [r for r in report["kernels"] if r["kind"] == "cuda" and r["stack_frame"]]
    for r in local:
        print(f"{r['arch']} {r['kernel']}: {r['stack_frame']} B of local memory (a stack frame): the persistent "
              "kernels must have none", file=sys.stderr)
    return 0 if not any(r["problems"] for r in report["kernels"]) and not local else 1


if __name__ == "__main__":
    sys.exit(main())
