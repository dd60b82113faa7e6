"""``nnaccel serve MODEL``: the flags; the web page and its server are nnaccel.tools.serve's.
The port is a row of nnaccel.core.parameters.SERVE_OPTIONS, checked before the model is read."""

from __future__ import annotations

from ..core import parameters
from ..core.parameters import SERVE_OPTIONS
from ..tools.flags import add_parameter
from ..tools.serve import cmd_serve


def add_parser(sub):
    p = sub.add_parser("serve", help="a local web page: draw a digit, see the network's outputs live")
    p.add_argument("model", help="a model saved by nnaccel train --save (784 inputs)")
    p.add_argument("--history", metavar="FILE.jsonl", help="the run's --history file, drawn as training curves")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    add_parameter(p, "port", table=SERVE_OPTIONS, metavar="PORT")
    p.add_argument("--log", action="store_true", help="print one line per request")
    p.set_defaults(run=run)


def run(args, out=print):
    """Serve ``args.model``, once its port is one a socket can bind (the table's row)."""
    args.port = parameters.check("port", args.port, SERVE_OPTIONS)
    return cmd_serve(args, out)
