"""The ``nnaccel`` parser, assembled from one table of commands: each module of the table adds
its own subparser (``add_parser(sub)``), whose defaults name the function that runs it
(``run=function(args, out=print) -> exit code``)."""

from __future__ import annotations

from .._version import __version__
from ..tools.flags import _Parser
from . import bench, evaluate, experiment, export, helptext, info, predict, selftest, serve, sweep, train, tune

# The commands, in the order ``nnaccel --help`` lists them.
COMMANDS = (train, evaluate, experiment, bench, info, predict, selftest, export, serve, tune, sweep)


def build_parser():
    parser = _Parser(prog="nnaccel")
    parser.add_argument("--version", action="version", version=f"nnaccel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return helptext.finish(parser)
