"""The flags of nnaccel's commands, defined once: ``train``'s own, and the groups that ``tune``,
``sweep`` and the rest share. A training parameter's or data option's flag (type, default, help
with its bounds, the choices it lists) is made from its row of the tables in
nnaccel.core.parameters; argparse only converts the text, and a value out of bounds is refused
by ``parameters.check``, in the table's words (by the API for a training parameter, by the
command for a data or run option)."""

from __future__ import annotations

import argparse

from ..core.parameters import ROWS

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and exit code 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    return value


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


CONVERTERS = {int: _int, float: _float, str: str}


def add_parameter(p, name, *aliases, what=None, table=None, **overrides):
    """The flag of the row ``name`` (of ``table``, default the shared rows): its type, default,
    metavar and help (``what``: the command's own words for it, before the row's bounds and default).

    The choices are listed in the metavar and the help but not given to argparse, so that a
    value outside them is refused once, by ``check``, in the same words as a number out of bounds.
    """
    row = (ROWS if table is None else table)[name]
    help = row.describe(what, overrides.get("default"))
    if row.kind is bool:
        return p.add_argument(row.flag, *aliases, action="store_true", help=help, **overrides)
    options = dict(type=CONVERTERS[row.kind], default=row.default, help=help)
    if row.many:  # one name, or one per hidden layer
        options.update(nargs="+", default=[row.default], metavar="NAME")
    elif row.choices is not None:
        options["metavar"] = "{" + ",".join(row.choices) + "}"
    elif row.symbol.isascii() and (row.symbol or row.kind is int):
        options["metavar"] = row.symbol.upper() or "N"
    options.update(overrides)
    return p.add_argument(row.flag, *aliases, **options)


def add_model_flags(p, **defaults):
    """--sizes and the model's rows; ``defaults``: the command's own defaults for some of them
    (tune and sweep: the cross-entropy cost), which its help then gives."""
    p.add_argument("--sizes", type=_int, nargs="+", metavar="N",
                   help="layer widths, e.g. 784 30 10 (default: pixels, 30, classes)")
    for name in ("cost", "hidden_activation", "output_activation", "init"):
        add_parameter(p, name, **({"default": defaults[name]} if name in defaults else {}))


def add_runtime_flags(p):
    add_parameter(p, "dataset")
    p.add_argument("--data", metavar="PATH", help="a folder of IDX files, or Nielsen's mnist.pkl.gz")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    add_parameter(p, "backend")
    add_parameter(p, "dtype")


def add_training_flags(p):
    for name in ("epochs", "mini_batch_size", "eta", "lmbda", "l1", "momentum", "nesterov", "early_stopping",
                 "stopping_rule", "schedule", "patience", "step_size", "gamma"):
        add_parameter(p, name, *(["-m"] if name == "mini_batch_size" else []))
    for name in ("expand", "max_angle", "validation_size", "seed"):
        add_parameter(p, name)
    p.add_argument("--no-fused", dest="fused", action="store_false",
                   help="use the generic array-API path even where a backend-specific fast path applies")


def add_method_flags(p):
    """Chapter 3's further methods, for ``nnaccel train``: the optimizer, dropout, softmax's temperature."""
    for name in ("optimizer", "damping", "dropout", "dropout_mode", "softmax_temperature"):
        add_parameter(p, name)


def add_scale_flag(p, what=None):
    add_parameter(p, "scale", what=what)


RESUME_HELP = (
    "continue the run saved in this checkpoint, with the checkpoint's settings; --epochs N sets the total "
    "to reach, so a finished run can be extended; another training flag is refused if it differs from the "
    "checkpoint's value; --history is rewritten from the checkpoint's epochs")


def add_train_flags(train):
    """Every flag of ``nnaccel train`` (also used to tell the flags a user typed from defaults)."""
    add_model_flags(train)
    add_training_flags(train)
    add_method_flags(train)
    add_runtime_flags(train)
    add_scale_flag(train)
    train.add_argument("--classes", type=_int, nargs="+", metavar="C",
                       help="keep only these classes, relabelled 0..k-1: the book's 'strip the problem down'")
    train.add_argument("--save", metavar="FILE", help="save the trained model (.json: network2 format, or .npz)")
    train.add_argument("--checkpoint", metavar="FILE", help="save the whole run after every epoch (atomically)")
    train.add_argument("--resume", metavar="FILE", help=RESUME_HELP)
    train.add_argument("--history", metavar="FILE.jsonl", help="append one JSON line per epoch")
    train.add_argument("--plot", metavar="FILE.png", help="cost and accuracy per epoch, as in the book")
