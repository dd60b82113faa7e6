"""``nnaccel sweep``: the flags; the study, its workers and its outputs are nnaccel.tools.sweep's."""

from __future__ import annotations

import argparse

from ..core.parameters import SWEEP_OPTIONS
from ..tools.flags import add_model_flags, add_parameter
from ..tools.sweep import cmd_sweep


def add_parser(sub):
    p = sub.add_parser("sweep", help="search hyper-parameters on Optuna (grid, random, TPE), many workers")
    p.add_argument("--storage", default="sqlite:///sweep.db",
                   help="any SQLAlchemy URL; postgresql://user@host/db shares one study between machines")
    p.add_argument("--study", default="nnaccel", metavar="NAME", help="the study's name in the storage")
    add_parameter(p, "trials", table=SWEEP_OPTIONS)
    p.add_argument("--sampler", default="tpe", choices=["grid", "random", "tpe"])
    add_parameter(p, "grid_points", table=SWEEP_OPTIONS, metavar="K")
    p.add_argument("--eta", default="0.01..10:log", metavar="SPACE", help="lo..hi, lo..hi:log, or a,b,c")
    p.add_argument("--lmbda", default="0", metavar="SPACE", help="L2 λ, e.g. 0..10")
    p.add_argument("--momentum", default="0", metavar="SPACE", help="μ, e.g. 0,0.9")
    p.add_argument("--hidden", default="30", metavar="LIST", help="hidden layers, e.g. 30,100,300x100")
    p.add_argument("--mini-batch-size", "-m", default="10", metavar="SPACE", help="e.g. 10,32")
    add_parameter(p, "epochs", table=SWEEP_OPTIONS)
    add_parameter(p, "early_stopping", what="stop a trial after n epochs without improvement")
    add_parameter(p, "schedule", table=SWEEP_OPTIONS)
    add_parameter(p, "patience")
    add_parameter(p, "expand", table=SWEEP_OPTIONS)
    p.add_argument("--no-prune", dest="prune", action="store_false",
                   help="run every trial to the end (default: the median pruner stops poor trials per epoch)")
    add_parameter(p, "batch", table=SWEEP_OPTIONS, metavar="K")
    add_parameter(p, "jobs", table=SWEEP_OPTIONS)
    p.add_argument("--plot", metavar="DIR", help="Optuna's figures: history, importances, slices")
    p.add_argument("--save", metavar="FILE", help="retrain the best trial on all training data and save it")
    p.add_argument("--results", metavar="FILE.json", help="write every trial (parameters, state, accuracy) as JSON")
    p.add_argument("--keep-models", metavar="DIR", help="save every trial's network as DIR/trial-N.npz")
    add_parameter(p, "top", table=SWEEP_OPTIONS)
    add_parameter(p, "validation_size", table=SWEEP_OPTIONS)
    add_parameter(p, "train_size", table=SWEEP_OPTIONS)
    add_parameter(p, "seed", table=SWEEP_OPTIONS)
    p.add_argument("--quiet", action="store_true", help="print only the results")
    add_model_flags(p, cost="cross-entropy")
    p.set_defaults(sizes=None)
    add_parameter(p, "dataset")
    p.add_argument("--data", metavar="PATH", help="a folder of IDX files instead of --dataset")
    p.add_argument("--device", default="auto")
    add_parameter(p, "backend")
    add_parameter(p, "dtype")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(run=cmd_sweep)
