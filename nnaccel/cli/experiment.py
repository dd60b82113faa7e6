"""``nnaccel experiment NAME``: re-run one of the book's experiments of chapters 1-3."""

from __future__ import annotations

from ..backend import BACKENDS
from ..book.experiments import EXPERIMENTS, run_experiment
from ..tools.flags import _float, _int


def add_parser(sub):
    p = sub.add_parser("experiment", help="re-run one of the book's experiments (chapters 1-3)")
    p.add_argument("name", choices=list(EXPERIMENTS))
    p.add_argument("--out", default=".", metavar="DIR", help="where NAME.json and NAME.png go")
    p.add_argument("--scale", type=_float, default=1.0, help="fraction of the book's epochs to run (for a quick look)")
    p.add_argument("--dataset", default="mnist-10k", choices=["mnist-10k", "fashion-mnist", "mnist"])
    p.add_argument("--device", default="auto")
    p.add_argument("--backend", choices=BACKENDS)
    p.add_argument("--seed", type=_int, default=1)
    p.set_defaults(run=run)


def run(args, out=print):
    run_experiment(args.name, out_dir=args.out, scale=args.scale, dataset=args.dataset,
                   device=args.device, backend=args.backend, seed=args.seed, out=out)
    return 0
