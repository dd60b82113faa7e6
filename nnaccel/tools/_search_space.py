"""The search space of ``nnaccel sweep``, parsed from its command line.

Each searched hyper-parameter is one of: a single value (fixed), a comma list (a choice), or
a range ``lo..hi`` (uniform) or ``lo..hi:log`` (log-uniform). Hidden layers are written
``100`` for one layer and ``300x100`` for two, e.g. ``--hidden 100,300x100``. A grid search
takes every listed value and ``points`` values of each range (evenly spaced, or evenly in
log for ``:log``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from ..core.parameters import PARAMETERS, check
from ..errors import NNAccelError


@dataclass(frozen=True)
class Range:
    """A float (or int) range lo..hi, optionally on a log scale."""

    lo: float
    hi: float
    log: bool = False
    integer: bool = False

    def grid(self, points):
        if points == 1:
            values = [self.lo]
        elif self.log:
            a, b = math.log(self.lo), math.log(self.hi)
            values = [math.exp(a + (b - a) * i / (points - 1)) for i in range(points)]
        else:
            values = [self.lo + (self.hi - self.lo) * i / (points - 1) for i in range(points)]
        if self.integer:
            values = sorted({int(round(v)) for v in values})
        return [float(f"{v:.6g}") if not self.integer else v for v in values]

    def text(self):
        return f"{self.lo:g}..{self.hi:g}" + (":log" if self.log else "")


@dataclass(frozen=True)
class Choice:
    """A finite list of values (one value: a fixed setting)."""

    values: tuple

    def grid(self, points):
        return list(self.values)

    def text(self):
        return ",".join(str(v) for v in self.values)


def _number(text, flag, integer):
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "whole number" if integer else "number"
        raise NNAccelError(f"{flag} {text!r} is not a {kind}; write e.g. {flag} {EXAMPLES[flag]}") from None
    if not math.isfinite(value):
        raise NNAccelError(f"{flag} {text!r} is not finite; write e.g. {flag} {EXAMPLES[flag]}")
    return value


EXAMPLES = {"--eta": "0.01..10:log", "--lmbda": "0..10", "--momentum": "0,0.9",
            "--mini-batch-size": "10,32", "--hidden": "30,100,300x100"}


def parse_dimension(text, name):
    """A Range or Choice of the training parameter ``name`` (a row of nnaccel.core.parameters)
    from ``text``; NNAccelError (one line, with an example) if malformed, or if a value lies
    outside the row's bounds (in the table's words)."""
    row = PARAMETERS[name]
    flag, integer = row.flag, row.kind is int
    text = text.strip()
    example = f"write e.g. {flag} {EXAMPLES[flag]}"
    if ".." in text:
        body, _, scale = text.partition(":")
        if scale not in ("", "log"):
            raise NNAccelError(f"{flag} {text!r}: the only scale is ':log'; {example}")
        lo_text, _, hi_text = body.partition("..")
        lo, hi = _number(lo_text, flag, integer), _number(hi_text, flag, integer)
        if not lo < hi:
            raise NNAccelError(f"{flag} {text!r}: the range needs lo < hi; {example}")
        if scale == "log" and lo <= 0:
            raise NNAccelError(f"{flag} {text!r}: a log range needs lo > 0; {example}")
        dim = Range(lo, hi, scale == "log", integer)
        values = [lo, hi]
    else:
        if not text or any(not part.strip() for part in text.split(",")):
            raise NNAccelError(f"{flag} {text!r} is empty or has an empty item; {example}")
        values = [_number(part.strip(), flag, integer) for part in text.split(",")]
        dim = Choice(tuple(dict.fromkeys(values)))
    for v in values:
        try:
            check(name, v)
        except NNAccelError as e:
            raise NNAccelError(f"{flag} {text!r}: {e}") from None
    return dim


def parse_hidden(text):
    """A Choice of hidden-layer tuples from ``100,300x100``."""
    example = f"write e.g. --hidden {EXAMPLES['--hidden']} (300x100 is two hidden layers)"
    layers = []
    for part in text.split(","):
        try:
            widths = tuple(int(w) for w in part.strip().split("x"))
        except ValueError:
            raise NNAccelError(f"--hidden {text!r}: {part.strip()!r} is not a layer width; {example}") from None
        if not widths or any(w < 1 for w in widths):
            raise NNAccelError(f"--hidden {text!r}: widths must be ≥ 1; {example}")
        layers.append(widths)
    return Choice(tuple(dict.fromkeys(layers)))


@dataclass(frozen=True)
class SearchSpace:
    """The searched dimensions by name: eta, lmbda, momentum, hidden, mini_batch_size."""

    eta: object
    lmbda: object
    momentum: object
    hidden: Choice
    mini_batch_size: object

    NAMES = ("hidden", "mini_batch_size", "eta", "lmbda", "momentum")

    @classmethod
    def parse(cls, eta="0.01..10:log", lmbda="0", momentum="0", hidden="30", mini_batch_size="10"):
        space = cls(
            eta=parse_dimension(eta, "eta"),
            lmbda=parse_dimension(lmbda, "lmbda"),
            momentum=parse_dimension(momentum, "momentum"),
            hidden=parse_hidden(hidden),
            mini_batch_size=parse_dimension(mini_batch_size, "mini_batch_size"),
        )
        return space

    def dimensions(self):
        return {name: getattr(self, name) for name in self.NAMES}

    def describe(self):
        """The space as text, one ``name=spec`` per dimension: stored with the study and compared."""
        parts = []
        for name, dim in self.dimensions().items():
            text = ",".join("x".join(map(str, v)) for v in dim.values) if name == "hidden" else dim.text()
            parts.append(f"{name}={text}")
        return " ".join(parts)

    def settings(self):
        """{name: spec text}: what the study stores and compares."""
        return dict(part.split("=", 1) for part in self.describe().split())

    def grid(self, points):
        """Every point of the grid, as dicts of parameter values (hidden as 'AxB' text)."""
        names = list(self.NAMES)
        axes = [self.hidden_labels()] + [getattr(self, n).grid(points) for n in names[1:]]
        return [dict(zip(names, combo)) for combo in itertools.product(*axes)]

    def hidden_labels(self):
        return ["x".join(map(str, widths)) for widths in self.hidden.values]

    def suggest(self, trial):
        """Ask an Optuna trial for one value of every dimension."""
        params = {"hidden": trial.suggest_categorical("hidden", self.hidden_labels())}
        for name in self.NAMES[1:]:
            dim = getattr(self, name)
            if isinstance(dim, Choice):
                params[name] = trial.suggest_categorical(name, list(dim.values))
            elif dim.integer:
                params[name] = trial.suggest_int(name, int(dim.lo), int(dim.hi), log=dim.log)
            else:
                params[name] = trial.suggest_float(name, dim.lo, dim.hi, log=dim.log)
        return params


def hidden_widths(label):
    """(300, 100) from '300x100'."""
    return tuple(int(w) for w in str(label).split("x"))
