"""``nnaccel experiment NAME``: re-run one of the book's experiments of chapters 1-3."""

from __future__ import annotations

from ..backend import BACKENDS
from ..book.experiments import EXPERIMENTS, run_experiment
from ..data.datasets import NAMES
from ..core.parameters import EXPERIMENT_OPTIONS
from ..tools.flags import _int, add_parameter


def add_parser(sub):
    p = sub.add_parser("experiment", help="re-run one of the book's experiments (chapters 1-3)")
    p.add_argument("name", choices=list(EXPERIMENTS))
    p.add_argument("--out", default=".", metavar="DIR", help="where NAME.json and NAME.png go")
    add_parameter(p, "scale", table=EXPERIMENT_OPTIONS)
    p.add_argument("--dataset", default="mnist-10k", choices=NAMES)
    p.add_argument("--device", default="auto")
    p.add_argument("--backend", choices=BACKENDS)
    p.add_argument("--seed", type=_int, default=1)
    p.set_defaults(run=run)


def run(args, out=print):
    run_experiment(args.name, out_dir=args.out, scale=args.scale, dataset=args.dataset,
                   device=args.device, backend=args.backend, seed=args.seed, out=out)
    return 0
