"""The one table of training parameters (and a second, of the same rows, for the data and run
options), and the one function that checks a value against them.

In the spirit of scikit-learn's ``_parameter_constraints``: each row gives a parameter's
name (the Python API's keyword, whose flag is ``--name-with-dashes``), its type, its bounds
(which ends are closed, in scikit-learn's words "both", "left", "right", "neither"), or its
choices, its default (the command line's: the book's first network), a line of help, and
the book's symbol. From it come the API's refusals (:func:`check`, one wording for every
parameter), ``nnaccel train``'s flags (type, default, help; nnaccel.tools.flags), the
resume's check of a checkpoint's saved settings (nnaccel.cli.resume) and the scikit-learn
estimators' ``_parameter_constraints`` (nnaccel.tools.sklearn).

The data and run options (``OPTIONS``: the expansion, the held-out images, the inputs' divisor)
are not the book's hyper-parameters, so the API's training calls do not take them, but their
flags, checks and resume checks are made the same way. A command that gives a row a narrower
meaning (``sweep``: a trial trains ≥ 1 epoch; ``tune``: one seed for every network it tries)
derives its own row from the shared one, so the bound and its words still live in one place
(``SWEEP_OPTIONS``, ``TUNE_OPTIONS``); a command's own options, or one that only shares a name
with a row, have a table of their own (``TUNE_OPTIONS``, ``SERVE_OPTIONS``, ``EXPERIMENT_OPTIONS``).

A rule between two parameters (an option an optimizer ignores, a dropout that would delete
a whole layer) is not a bound, and lives with the code that knows both. A bound that only the
data knows (the held-out images must leave some to train on) lives with the data, but refuses
in the table's words: the row, narrowed for that call, goes to :func:`check_row`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..backend import BACKENDS, DTYPES
from ..data.datasets import NAMES
from ..data.expand import EXPANSIONS, MAX_ANGLE
from ..errors import NNAccelError
from .activations import ACTIVATIONS
from .costs import COSTS
from .initializers import INITIALIZERS
from .scalars import as_float, as_int


@dataclass(frozen=True)
class Parameter:
    """One row: what a value of ``name`` may be, and what to tell a user who gives another."""

    name: str
    kind: type  # int, float, bool or str
    default: object
    help: str
    symbol: str = ""  # the book's letter (η, λ, μ, …), shown in the help
    low: float | None = None  # None: unbounded on that side
    high: float | None = None
    closed: str = "both"  # the ends that belong to the interval: "both", "left", "right" or "neither"
    choices: tuple | None = None
    optional: bool = False  # None is a value too (the feature off, or the optimizer's own default)
    many: bool = False  # also a list of choices, one per hidden layer
    example: object = None  # a good value, shown as the fix (default: the default)
    unset: str = "off"  # what a default of None means, in the help
    because: str = ""  # what narrowed the bounds (the data; see check_row), said after them in a refusal

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def bounds(self) -> str:
        """The allowed values in words: "> 0 and finite", "in [0, 1)", "one of a, b", …"""
        if self.choices is not None:
            return f"one of {', '.join(self.choices)}" + (" (or a list, one per hidden layer)" if self.many else "")
        if self.kind is bool:
            return "True or False"
        whole = "a whole number " if self.kind is int else ""
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            text = f"in {'[' if left else '('}{self.low:g}, {self.high:g}{']' if right else ')'}"
        elif self.low is not None:
            text = f"{'≥' if left else '>'} {self.low:g}"
        else:
            text = f"{'≤' if right else '<'} {self.high:g}"
        finite = " and finite" if self.kind is float and (self.low is None or self.high is None) else ""
        return f"{whole}{text}{finite}" + (", or None" if self.optional else "")

    def contains(self, value) -> bool:
        """Whether ``value`` (already converted by :func:`check`) lies in the row's bounds or choices."""
        if value is None:
            return self.optional
        if self.choices is not None:
            values = value if self.many and isinstance(value, (list, tuple)) and value else [value]
            return all(isinstance(v, str) and v in self.choices for v in values)
        if self.kind is bool:
            return isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, int if self.kind is int else (int, float)):
            return False
        if isinstance(value, float) and not math.isfinite(value):  # an int of any size is a number
            return False
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        above = self.low is None or (value >= self.low if left else value > self.low)
        below = self.high is None or (value <= self.high if right else value < self.high)
        return above and below

    def describe(self, what=None, default=None) -> str:
        """The flag's help: what it is (``what``: a command's own words), its bounds, its default."""
        what = what or self.help
        default = self.default if default is None else default
        if self.kind is bool:
            return f"{what} (default: {'on' if default else 'off'})"
        symbol = f"{self.symbol}: " if self.symbol else ""
        return f"{what}; {symbol}{self.bounds()} (default: {self.unset if default is None else default})"


HIDDEN_ACTIVATIONS = tuple(name for name, act in ACTIVATIONS.items() if act.hidden_ok)

# The rows, in the order of ``nnaccel train --help``.
PARAMETERS = {row.name: row for row in (
    Parameter("epochs", int, 30, "epochs to train; with --resume, the total to reach", low=0, example=30),
    Parameter("mini_batch_size", int, 10, "examples per mini-batch", symbol="m", low=1),
    Parameter("eta", float, 3.0, "the learning rate", symbol="η", low=0, closed="neither", example=0.5),
    Parameter("lmbda", float, 0.0, "L2 regularisation: ½(λ/n)Σw² added to the cost", symbol="λ", low=0,
              example=5.0),
    Parameter("l1", float, 0.0, "L1 regularisation: (λ/n)Σ|w| added to the cost", symbol="λ₁", low=0, example=0.1),
    Parameter("momentum", float, 0.0, "the momentum coefficient (1 − μ is the friction)", symbol="μ",
         low=0, high=1, closed="left", example=0.9),
    Parameter("nesterov", bool, False, "Nesterov's variant of momentum", example=True),
    Parameter("early_stopping", int, None, "stop when the evaluation accuracy has not improved for n epochs; "
         "keep the best network", symbol="n", low=1, optional=True, example=10),
    Parameter("stopping_rule", str, "no-improvement", "no-improvement: the book's rule; average: the mean of the "
         "last n epochs is no better than the n before", choices=("no-improvement", "average")),
    Parameter("schedule", str, "constant", "the learning-rate schedule; halve: η/2 when no improvement in "
         "--patience epochs, stop at η/128; step, exponential: η·γ every --step-size epochs or every epoch",
         choices=("constant", "halve", "step", "exponential")),
    Parameter("patience", int, 10, "epochs without improvement before the halve schedule halves η", low=1),
    Parameter("step_size", int, 10, "epochs between the step schedule's steps", low=1),
    Parameter("gamma", float, 0.5, "the step and exponential schedules' factor on η", symbol="γ",
         low=0, high=1, closed="right"),
    Parameter("optimizer", str, "sgd", "sgd: mini-batch SGD (with --lmbda, --l1, --momentum, --nesterov); newton, "
         "hessian-free, lbfgs: one full-batch step per epoch, the book's Hessian technique and its relatives",
         choices=("sgd", "newton", "hessian-free", "lbfgs")),
    Parameter("damping", float, None, "newton's δ in (H + δI), and hessian-free's initial Levenberg-Marquardt λ",
         symbol="δ", low=0, optional=True, example=0.001, unset="each optimizer's own: newton 0, hessian-free 1"),
    Parameter("dropout", float, 0.0, "the fraction of hidden neurons deleted for each mini-batch; evaluation and "
         "--save scale the weights out of them by 1 − p", symbol="p", low=0, high=1, closed="left", example=0.5),
    Parameter("dropout_mode", str, "per-batch", "per-batch: one set of deleted neurons per mini-batch, as the book; "
         "per-example: a set per example", choices=("per-batch", "per-example")),
    Parameter("cost", str, "quadratic", "the cost function", symbol="C", choices=tuple(COSTS)),
    Parameter("hidden_activation", str, "sigmoid", "the hidden neurons; one for all hidden layers, or one per layer "
         "(step neurons evaluate but cannot be trained)", symbol="σ", choices=HIDDEN_ACTIVATIONS, many=True),
    Parameter("output_activation", str, "sigmoid", "the output neurons", choices=tuple(ACTIVATIONS)),
    Parameter("init", str, "default", "the initial weights; default: N(0, 1)/√n_in, large: N(0, 1)",
         choices=tuple(INITIALIZERS)),
    Parameter("softmax_temperature", float, 1.0, "c in a_j = e^(c z_j) / Σ_k e^(c z_k), with a softmax output "
         "layer; larger c is closer to the max", symbol="c", low=0, closed="neither", example=1.0),
    Parameter("seed", int, None, "fixes the initial weights, expansion and shuffling", low=0, optional=True,
              example=1, unset="a random seed"),
)}


# The data and run options of ``nnaccel train`` (``--scale`` also of evaluate and predict; the data
# set, the array library and the float type also of evaluate, tune and sweep).
OPTIONS = {row.name: row for row in (
    Parameter("dataset", str, "mnist-10k", "a named data set: mnist-10k is embedded, the others are read from the "
              "system or downloaded", choices=NAMES),
    Parameter("backend", str, None, "the array library", choices=BACKENDS, optional=True, example="numpy",
              unset="NumPy for cpu, CuPy for cuda"),
    Parameter("dtype", str, "float32", "the floating-point type of the parameters and data", choices=DTYPES),
    Parameter("expand", str, None, "expand the training data: the book's 1-pixel shifts (5x) or random rotations (2x)",
              choices=EXPANSIONS, optional=True, example="shifts"),
    Parameter("max_angle", float, 15.0, "largest rotation of --expand rotations, in degrees", low=0, high=MAX_ANGLE,
              closed="right"),
    Parameter("validation_size", int, 0, "hold out the last N training images to monitor; the test set is scored "
              "once at the end", low=0, example=1000),
    Parameter("scale", float, None, "divide the inputs by S, e.g. 255 for raw pixels stored as floats (uint8 pixels "
              "are divided by 255 without it)", symbol="S", low=0, closed="neither", optional=True, example=255,
              unset="none"),
)}

# ``nnaccel sweep``'s own options, and the shared rows it narrows: a trial is scored on its epochs
# and on held-out images, so it needs at least one of each; its trials train as one population,
# which expands by shifts (once, for all members) and schedules by halving only; trial k starts
# from seed S + k, so S is never None.
SWEEP_OPTIONS = {row.name: row for row in (
    replace(PARAMETERS["epochs"], default=10, low=1, example=10, help="epochs each trial trains (it is scored on them)"),
    replace(PARAMETERS["schedule"], choices=("constant", "halve"),
            help="halve: η/2 after --patience epochs without improvement (trials then train one by one)"),
    replace(OPTIONS["expand"], choices=("shifts",), help="train on the book's 1-pixel shifts (5× the data)"),
    replace(OPTIONS["validation_size"], default=None, low=1, optional=True,
            help="the last N training images score the trials (the test set is never used)",
            unset="a fifth of the training images, at most 10000"),
    Parameter("trials", int, 20, "the study's total budget of finished trials, shared by every worker", low=1),
    Parameter("grid_points", int, 3, "a grid takes K values of each range (log-spaced for :log) and every listed "
              "value", low=1),
    Parameter("batch", int, 8, "trials a worker asks for at once; those of one shape and m train as one population",
              low=1),
    Parameter("jobs", int, 1, "local worker processes", low=1),
    Parameter("top", int, 10, "rows of the results table", low=1),
    Parameter("train_size", int, None, "train on the first N images only (quick sweeps)", low=1, optional=True,
              example=5000, unset="all"),
    replace(PARAMETERS["seed"], default=1, optional=False, help="trial k's network starts from seed S + k"),
)}

# ``nnaccel tune``'s own options, and the shared rows it narrows: it holds out ≥ 1 image and gives every
# network it tries one seed. A default of None is tune's to fill, not a value to give (m by its own
# step, a fifth of the training images, the device's array library), so the bounds do not offer it.
TUNE_OPTIONS = {row.name: row for row in (
    OPTIONS["dataset"],
    replace(OPTIONS["validation_size"], default=None, low=1, help="the last N training images, held out to choose on",
            unset="a fifth, at most 10000"),
    Parameter("budget", str, "quick", "quick: a few epochs per step (minutes); book: no improvement in 10 epochs, "
              "up to 100", choices=("quick", "book")),
    Parameter("m_choice", str, "fastest", "how m is chosen among 10, 20, 50, 100: fastest: the quickest per epoch "
              "(wall clock) within 0.5 points of the best accuracy, as the book advises, so it can differ between "
              "machines and runs; accuracy: the best validation accuracy after a few epochs (the smaller m on a "
              "tie), the same on every machine", choices=("fastest", "accuracy")),
    replace(PARAMETERS["mini_batch_size"], default=None, example=10, help="use this m and skip the mini-batch step",
            unset="chosen by --m-choice"),
    replace(PARAMETERS["seed"], default=1, optional=False,  # never None: the printed command repeats it
            help="the seed of every network tried (all rungs share it: common random numbers)"),
    replace(OPTIONS["backend"], optional=False),  # None is tune's to fill, not a value to offer
    OPTIONS["dtype"],
)}

# ``nnaccel serve``'s own.
SERVE_OPTIONS = {row.name: row for row in (
    Parameter("port", int, 8000, "port to listen on; 0 picks a free one", low=0, high=65535),
)}

# ``nnaccel experiment``'s own: its --scale is a fraction of the book's epochs, not train's divisor.
EXPERIMENT_OPTIONS = {row.name: row for row in (
    Parameter("scale", float, 1.0, "fraction of the book's epochs to run (for a quick look)", low=0, high=1,
              closed="right"),
)}

ROWS = {**PARAMETERS, **OPTIONS}  # every name :func:`check` knows without being given a table
assert len(ROWS) == len(PARAMETERS) + len(OPTIONS), "a data option may not reuse a training parameter's name"


def check(name, value, table=None):
    """``value`` as the row ``name`` takes it (NumPy scalars as the numbers they equal), or
    NNAccelError in the one wording: the parameter, its bounds, the value given, and the fix.
    ``table``: a command's own rows (SWEEP_OPTIONS, TUNE_OPTIONS, …) instead of the shared ones."""
    return check_row((ROWS if table is None else table)[name], value)


def check_row(row, value):
    """:func:`check` against a row made for one call: a table's row narrowed by what only the data
    knows, ``replace(row, high=n - 1, because="the training data has n images")`` (tune's and
    sweep's held-out images), so a rule that lives with the data refuses in the table's words."""
    if row.kind is int:
        value = as_int(value)
    elif row.kind is float:
        value = as_float(value)
    elif row.kind is bool and type(value).__name__ == "bool_":  # NumPy's bool
        value = bool(value)
    if row.many and isinstance(value, tuple):
        value = list(value)
    if not row.contains(value):
        raise NNAccelError(refusal(row, value))
    return value


def refusal(row, value) -> str:
    """The one wording of a refused value, for Python and the command line alike:
    ``eta must be > 0 and finite, got -1.0; e.g. eta=0.5 (--eta 0.5)``."""
    good = row.default if row.example is None else row.example
    shown = str(value) if isinstance(value, float) else repr(value)
    fix = f"{row.flag}" if row.kind is bool else f"{row.flag} {good}"
    because = f" ({row.because})" if row.because else ""
    return f"{row.name} must be {row.bounds()}{because}, got {shown[:60]}; e.g. {row.name}={good!r} ({fix})"
