"""``nnaccel serve MODEL``: the flags; the web page and its server are nnaccel.tools.serve's."""

from __future__ import annotations

import argparse

from ..tools.serve import cmd_serve


def _port(text):
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number 0-65535")
    return int(text)


def add_parser(sub):
    p = sub.add_parser("serve", help="a local web page: draw a digit, see the network's outputs live")
    p.add_argument("model", help="a model saved by nnaccel train --save (784 inputs)")
    p.add_argument("--history", metavar="FILE.jsonl", help="the run's --history file, drawn as training curves")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=8000, help="port to listen on; 0 picks a free one (default 8000)")
    p.add_argument("--log", action="store_true", help="print one line per request")
    p.set_defaults(run=cmd_serve)
