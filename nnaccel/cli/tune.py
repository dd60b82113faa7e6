"""``nnaccel tune``: the flags; the procedure (the ladders, early stopping, the mini-batch step)
and its report are nnaccel.tools.tune's. Each of tune's options is a row of
nnaccel.core.parameters.TUNE_OPTIONS, which ``cmd_tune`` checks before any data is read."""

from __future__ import annotations

from ..core.parameters import TUNE_OPTIONS
from ..tools.flags import _int, add_model_flags, add_parameter
from ..tools.tune import cmd_tune


def add_parser(sub):
    p = sub.add_parser("tune", help="choose η, epochs, λ and m by the book's procedure (chapter 3)")
    add_model_flags(p, cost="cross-entropy")
    add_parameter(p, "dataset", table=TUNE_OPTIONS)
    p.add_argument("--data", metavar="PATH", help="a folder of IDX files instead of --dataset")
    p.add_argument("--classes", type=_int, nargs="+", metavar="C",
                   help="strip the problem down to these classes, e.g. 0 1 (relabelled 0..k-1)")
    add_parameter(p, "validation_size", table=TUNE_OPTIONS)
    add_parameter(p, "budget", table=TUNE_OPTIONS)
    add_parameter(p, "m_choice", table=TUNE_OPTIONS)
    add_parameter(p, "mini_batch_size", "-m", table=TUNE_OPTIONS)
    add_parameter(p, "seed", table=TUNE_OPTIONS, metavar="SEED")
    p.add_argument("--report", metavar="DIR", help="write tune.json and PNG figures here (needs matplotlib)")
    p.add_argument("--device", default="auto")
    add_parameter(p, "backend", table=TUNE_OPTIONS)
    add_parameter(p, "dtype", table=TUNE_OPTIONS)
    p.set_defaults(run=cmd_tune)
