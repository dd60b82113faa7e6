"""The flags of nnaccel's commands, defined once: ``train``'s own, and the groups that ``tune``,
``sweep`` and the rest share. Their choices come from the tables of costs, activations,
optimizers and dropout modes, never from a repeated list."""

from __future__ import annotations

import argparse

from .. import optim as optimizers
from ..backend import BACKENDS
from ..core.activations import ACTIVATIONS
from ..core.costs import COSTS
from ..core.dropout import MODES as DROPOUT_MODES
from ..data.datasets import NAMES

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


HIDDEN_ACTIVATIONS = [name for name, act in ACTIVATIONS.items() if act.hidden_ok]


def add_model_flags(p):
    p.add_argument("--sizes", type=_int, nargs="+", metavar="N",
                   help="layer widths, e.g. 784 30 10 (default: pixels, 30, classes)")
    p.add_argument("--cost", default="quadratic", choices=list(COSTS))
    p.add_argument("--hidden-activation", default=["sigmoid"], nargs="+", metavar="NAME",
                   choices=HIDDEN_ACTIVATIONS,
                   help=f"{', '.join(HIDDEN_ACTIVATIONS)}: one for all hidden layers, or one per layer "
                        "(step neurons evaluate but cannot be trained)")
    p.add_argument("--output-activation", default="sigmoid", choices=list(ACTIVATIONS))
    p.add_argument("--init", default="default", choices=["default", "large"],
                   help="default: N(0,1)/sqrt(n_in); large: N(0,1)")


def add_runtime_flags(p):
    p.add_argument("--dataset", default="mnist-10k", choices=list(NAMES),
                   help="a named data set (default: the embedded 10,000 MNIST digits)")
    p.add_argument("--data", metavar="PATH", help="a folder of IDX files, or Nielsen's mnist.pkl.gz")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--backend", choices=BACKENDS)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])


def add_training_flags(p):
    p.add_argument("--epochs", type=_int, default=30, metavar="N",
                   help="epochs to train (default: %(default)s); with --resume, the total to reach")
    p.add_argument("--mini-batch-size", "-m", type=_int, default=10, metavar="M",
                   help="examples per mini-batch (default: %(default)s)")
    p.add_argument("--eta", type=_float, default=3.0, help="learning rate η (default: %(default)s)")
    p.add_argument("--lmbda", type=_float, default=0.0, help="L2 regularisation λ (default: %(default)s)")
    p.add_argument("--l1", type=_float, default=0.0, help="L1 regularisation λ (default: %(default)s)")
    p.add_argument("--momentum", type=_float, default=0.0,
                   help="momentum coefficient μ in [0, 1) (default: %(default)s)")
    p.add_argument("--nesterov", action="store_true", help="Nesterov's variant of momentum")
    p.add_argument("--early-stopping", type=_int, metavar="N",
                   help="stop when the evaluation accuracy has not improved for N epochs; keep the best network")
    p.add_argument("--stopping-rule", default="no-improvement", choices=["no-improvement", "average"],
                   help="average: the mean of the last N epochs is no better than the N before")
    p.add_argument("--schedule", default="constant", choices=["constant", "halve", "step", "exponential"],
                   help="halve: η/2 when no improvement in --patience epochs, stop at η/128")
    p.add_argument("--patience", type=_int, default=10, metavar="N",
                   help="epochs without improvement before --schedule halve halves η (default: %(default)s)")
    p.add_argument("--step-size", type=_int, default=10, metavar="N",
                   help="epochs between steps of --schedule step (default: %(default)s)")
    p.add_argument("--gamma", type=_float, default=0.5,
                   help="factor of the step/exponential schedule (default: %(default)s)")
    p.add_argument("--expand", choices=["shifts", "rotations"],
                   help="expand the training data: the book's 1-pixel shifts (5x) or random rotations (2x)")
    p.add_argument("--max-angle", type=_float, default=15.0, help="largest rotation, in degrees (default: %(default)s)")
    p.add_argument("--validation-size", type=_int, default=0, metavar="N",
                   help="hold out the last N training images to monitor; the test set is scored once at the end")
    p.add_argument("--seed", type=_int, help="fixes the initial weights, expansion and shuffling")
    p.add_argument("--no-fused", dest="fused", action="store_false",
                   help="use the generic array-API path even where a backend-specific fast path applies")


def add_method_flags(p):
    """Chapter 3's further methods, for ``nnaccel train``: the optimizer, dropout, softmax's temperature."""
    p.add_argument("--optimizer", default="sgd", choices=list(optimizers.NAMES),
                   help="sgd: mini-batch SGD (with --lmbda, --l1, --momentum, --nesterov); newton, hessian-free, "
                        "lbfgs: one full-batch step per epoch, the book's Hessian technique and its relatives")
    p.add_argument("--damping", type=_float, metavar="D",
                   help="δ ≥ 0 of newton's (H + δI) and hessian-free's initial Levenberg-Marquardt λ "
                        "(default: each optimizer's own)")
    p.add_argument("--dropout", type=_float, default=0.0, metavar="P",
                   help="delete a fraction P of the hidden neurons for each mini-batch (the book: 0.5); "
                        "evaluation and --save scale the weights out of them by 1 - P (default: 0)")
    p.add_argument("--dropout-mode", default="per-batch", choices=list(DROPOUT_MODES),
                   help="per-batch: one set of deleted neurons per mini-batch, as the book; per-example: "
                        "a set per example (default: %(default)s)")
    p.add_argument("--softmax-temperature", type=_float, default=1.0, metavar="C",
                   help="c in a_j = e^(c z_j) / sum_k e^(c z_k), with --output-activation softmax; "
                        "larger c is closer to the max (default: 1, the book's softmax)")


def add_scale_flag(p):
    p.add_argument("--scale", type=_float, metavar="S",
                   help="divide the inputs by S, e.g. 255 for raw pixels stored as floats (uint8 pixels are "
                        "divided by 255 without it)")


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
