"""What ``nnaccel --help`` and ``nnaccel COMMAND --help`` say: the top description, one
description per command, the help of the flags that share a meaning across commands, and a
formatter that shows every flag's default. :func:`finish` applies them to a built parser, so
the commands' modules keep only their own flags."""

from __future__ import annotations

import argparse
import textwrap

TOP = """\
Train and study the networks of Michael Nielsen's "Neural Networks and Deep Learning"
(chapters 1-3) on NumPy, CuPy, PyTorch or any array-API library.

  nnaccel train --seed 1          the book's first network on the embedded MNIST digits
  nnaccel COMMAND --help          a command's description and every flag with its default
"""

EPILOG = """\
exit codes: 0 done; 2 a user error (one line naming the fix, nothing half-written); 3 training
diverged; 130 / 143 stopped by SIGINT / SIGTERM (the last complete epoch saved); 1 a bug
(NNACCEL_DEBUG=1 shows its traceback)."""

DESCRIPTIONS = {
    "train": "Train a network with mini-batch SGD (or a full-batch optimizer) and print the book's line "
             "after every epoch, then one summary line: best and final accuracy, epochs, time, and where "
             "the model went. With no flags: [784, 30, 10], quadratic cost, eta 3.0, m = 10, 30 epochs on "
             "the embedded mnist-10k digits.",
    "evaluate": "Score a saved model on a data set's test images: correct count, accuracy and cost. "
                "Give the --classes the model was trained with to score it on those classes.",
    "predict": "Label images with a saved model: IDX files, .npy arrays or PNG images in, one label per "
               "image out, as CSV (the default) or JSON, on stdout or into --out.",
    "experiment": "Re-run one of the book's experiments of chapters 1-3, print the book's figures beside "
                  "ours, and write NAME.json (every curve) and NAME.png (with matplotlib).",
    "bench": "Time one epoch of random data of MNIST's shape on every backend this machine has, and "
             "name the fast path that ran.",
    "info": "List the installed array libraries, the GPUs CuPy sees, the CPU kernel's instruction set "
            "and where the data sets are.",
    "tune": "Choose eta, the epochs, lambda and the mini-batch size m by the book's procedure "
            "(chapter 3), on a validation split held out from the training data; print each step's "
            "evidence and the nnaccel train command that reproduces the choice.",
    "sweep": "Search hyper-parameters with Optuna (grid, random or TPE sampling, median pruning), with "
             "one or many workers sharing a study in SQLite or PostgreSQL; trials of one shape train "
             "together as a population.",
    "export": "Write a saved model, or a checkpoint, as an ONNX file (Gemm plus the activation per "
              "layer, the settings as metadata).",
    "serve": "Serve a local web page to draw a digit on and watch the model's ten outputs live, with "
             "the run's training curves from --history.",
    "selftest": "On a machine with a CUDA GPU: run the CUDA tests, check each GPU path against the "
                "generic one and time them. Without a GPU it says so in one line and exits 0.",
}

# The help of flags that mean the same in every command; a command's own text wins.
FLAG_HELP = {
    "cost": "the cost function C",
    "output_activation": "the output neurons (step evaluates but cannot be trained)",
    "backend": "the array library (default: NumPy for cpu, CuPy for cuda)",
    "dtype": "the floating-point type of the parameters and data",
    "dataset": "a named data set: mnist-10k is embedded, the others are read from the system or downloaded",
    "device": "cpu, cuda, cuda:N, or auto (CUDA where CuPy sees a GPU, else the CPU)",
    "seed": "fixes the initial weights and the shuffling, identically on every backend",
    "sizes": "layer widths, first = pixels, last = classes",
    "mini_batch_size": "examples per mini-batch m",
    "epochs": "epochs to train",
    "patience": "epochs without improvement before --schedule halve halves eta",
    "sampler": "grid: every combination; random; tpe: Optuna's tree-structured Parzen estimator",
    "name": "the experiment",
}
COMMAND_FLAG_HELP = {
    ("sweep", "epochs"): "epochs per trial",
    ("experiment", "seed"): "the seed of every network the experiment builds",
    ("tune", "seed"): "the seed of every network tried (all rungs share it: common random numbers)",
    ("bench", "sizes"): "layer widths of the network timed",
}

# What a flag whose default is None does when it is not given.
UNSET = {"seed": "a random seed", "classes": "all", "save": "not saved", "resume": "a new run",
         "data": "the --dataset", "scale": "none", "out": "stdout",
         "train_size": "all", "damping": "each optimizer's own", "sizes": "pixels, 30, classes"}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; every flag's help ends with its default unless it names one itself."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if ("default" in text or default is False or default == argparse.SUPPRESS
                or not action.option_strings or isinstance(action, argparse._HelpAction)):
            return text
        if default is None:
            return f"{text} (default: {UNSET.get(action.dest, 'off').replace('%', '%%')})"
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"


def _subparsers(parser):
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def finish(parser):
    """The top description and epilog, each command's description, the shared flags' help, the formatter."""
    parser.description, parser.epilog, parser.formatter_class = TOP, EPILOG, HelpFormatter
    sub = _subparsers(parser)
    for name, command in (sub.choices.items() if sub else ()):
        command.formatter_class = HelpFormatter
        text = command.description or DESCRIPTIONS.get(name)
        command.description = textwrap.fill(text, 90) if text else None
        for action in command._actions:
            if action.help is None:
                action.help = COMMAND_FLAG_HELP.get((name, action.dest), FLAG_HELP.get(action.dest))
    return parser
