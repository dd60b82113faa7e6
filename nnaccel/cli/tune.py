"""``nnaccel tune``: its parser is still nnaccel.tools.tune's own ``add_parser`` (that module is
being reworked elsewhere); this module is its place in the table of commands, where the parser
belongs once that work lands."""

from __future__ import annotations

from ..tools.tune import add_parser

__all__ = ["add_parser"]
