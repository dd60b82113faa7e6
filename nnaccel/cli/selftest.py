"""``nnaccel selftest``: the flags; the tests, comparisons and timings are nnaccel.tools.selftest's."""

from __future__ import annotations

from ..tools.selftest import ROOT, cmd_selftest


def add_parser(sub):
    p = sub.add_parser("selftest", help="on a GPU: run the CUDA tests, check each GPU path against the generic "
                                        "one, time them; writes benchmarks/results/<gpu>.json and .md")
    p.add_argument("--device", default="cuda", help="cuda or cuda:N (default cuda)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), metavar="DIR",
                   help="where <gpu-name>.json and .md go (default benchmarks/results)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke test: one round of each goal, fewer benchmark rows; no verdict on the goals")
    p.add_argument("--skip-tests", action="store_true", help="leave out the pytest run")
    p.add_argument("--skip-benchmarks", action="store_true", help="leave out the timings")
    p.set_defaults(run=cmd_selftest)
