"""``nnaccel export MODEL OUT.onnx``: the flags; the writing is nnaccel.tools.export's."""

from __future__ import annotations

from ..tools.export import cmd_export


def add_parser(sub):
    p = sub.add_parser("export", help="write a saved model or checkpoint as an ONNX file")
    p.add_argument("model", help="a model (.json/.npz from --save or network2.py) or a --checkpoint file")
    p.add_argument("out", help="the ONNX file to write, e.g. model.onnx")
    p.set_defaults(run=cmd_export)
