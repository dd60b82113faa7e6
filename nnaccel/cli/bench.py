"""``nnaccel bench``: one epoch timed on every backend this machine has (nnaccel.tools.bench)."""

from __future__ import annotations

from ..backend import DTYPES
from ..core import parameters
from ..errors import NNAccelError
from ..tools.bench import run as run_bench
from ..tools.flags import _int, add_parameter


def add_parser(sub):
    p = sub.add_parser("bench", help="time one epoch on every backend this machine has")
    p.add_argument("--sizes", type=_int, nargs="+", default=[784, 30, 10], metavar="N")
    add_parameter(p, "mini_batch_size", "-m")
    p.add_argument("--dtype", default="float32", choices=DTYPES)
    p.add_argument("--examples", type=_int, default=6000, help="examples timed per backend")
    p.set_defaults(run=run)


def run(args, out=print):
    if len(args.sizes) < 2 or min(args.sizes) < 1:
        raise NNAccelError("--sizes needs two or more widths ≥ 1, e.g. --sizes 784 30 10")
    parameters.check("mini_batch_size", args.mini_batch_size)
    run_bench(args.sizes, args.mini_batch_size, args.dtype, args.examples, out=out)
    return 0
