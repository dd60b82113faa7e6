"""Cost functions, each with ``fn`` (the cost) and ``delta`` (the output error δᴸ = ∂C/∂zᴸ).

As in network2.py, ``fn(xp, a, y)`` is the cost summed over the rows (examples) of a batch
and ``delta(xp, z, a, y, activation)`` is BP1. Where the book derives an exact
simplification it is used: δᴸ = aᴸ − y for cross-entropy with sigmoid outputs and for
log-likelihood with softmax outputs (c(aᴸ − y) for a softmax of temperature c). Otherwise
δᴸ = ∇ₐC ⊙ σ'(zᴸ) through the output activation's chain rule.
"""

from __future__ import annotations

import math

from ..errors import NNAccelError
from .activations import Activation, Sigmoid, Softmax


def _saturated_terms(xp, terms):
    """network2's np.nan_to_num, with a finite cap, and NaN left as NaN: +inf → −ln(smallest normal).

    A saturated output (a exactly 0 or 1: |z| > 37 in float64, > 17 in float32) makes a
    term −ln 0 = inf. network2 turns it into the largest float (1.8e308), and in float32 two
    such terms already sum to inf. Here it costs −ln of the smallest normal number instead
    (708 in float64, 87 in float32): the cost of the least probability the dtype can hold.
    network2 also mapped nan to 0, for 0·ln 0; _xlog gives 0 there itself, so a NaN that
    reaches this point comes from a NaN output or target — a diverged network or bad data —
    and is kept, so that the trainer sees it.
    """
    cap = -math.log(xp.finfo(terms.dtype).smallest_normal)
    return xp.where(xp.isnan(terms), terms, xp.clip(terms, -cap, cap))


def _xlog(xp, x, a):
    """x·ln(a) with 0·ln(0) = 0 and x·ln(0) = −inf for x > 0, without a log(0) warning; NaN in x or a gives NaN."""
    positive = a > 0
    term = x * xp.log(xp.where(positive, a, xp.ones_like(a)))
    term = xp.where(positive | (x == 0), term, xp.full_like(a, -float("inf")))
    return xp.where(xp.isnan(a) | xp.isnan(x), xp.full_like(a, float("nan")), term)


class Cost:
    name = ""
    book_name = ""

    def fn(self, xp, a, y):
        raise NotImplementedError

    def grad(self, xp, a, y):
        """∂C/∂a for each example."""
        raise NotImplementedError

    def delta(self, xp, z, a, y, activation: Activation):
        return activation.vjp(xp, z, a, self.grad(xp, a, y))

    def check(self, output: Activation):
        """Raise NNAccelError if this cost makes no sense with ``output`` neurons."""

    def __repr__(self):
        return f"{type(self).__name__}()"


class QuadraticCost(Cost):
    """C = ½‖a − y‖², so δᴸ = (a − y) ⊙ σ'(zᴸ): the learning slowdown of chapter 3."""

    name = "quadratic"
    book_name = "QuadraticCost"

    def fn(self, xp, a, y):
        d = a - y
        return 0.5 * xp.sum(d * d)

    def grad(self, xp, a, y):
        return a - y


class CrossEntropyCost(Cost):
    """C = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)]; with sigmoid outputs δᴸ = a − y."""

    name = "cross-entropy"
    book_name = "CrossEntropyCost"

    def fn(self, xp, a, y):
        return xp.sum(_saturated_terms(xp, -_xlog(xp, y, a) - _xlog(xp, 1.0 - y, 1.0 - a)))

    def grad(self, xp, a, y):
        return (a - y) / (a * (1.0 - a))

    def delta(self, xp, z, a, y, activation):
        if isinstance(activation, Sigmoid):
            return a - y
        return super().delta(xp, z, a, y, activation)

    def check(self, output):
        if output.name not in ("sigmoid", "softmax"):
            raise NNAccelError(
                f"the cross-entropy cost needs outputs in (0, 1), but {output.name} neurons "
                "give other values; use --output-activation sigmoid or --cost quadratic"
            )


class LogLikelihoodCost(Cost):
    """C = −ln a_y for the true class y; with softmax outputs δᴸ = a − y (c(a − y) at temperature c)."""

    name = "log-likelihood"
    book_name = "LogLikelihoodCost"

    def fn(self, xp, a, y):
        return xp.sum(_saturated_terms(xp, -_xlog(xp, y, a)))

    def grad(self, xp, a, y):
        return -y / a

    def delta(self, xp, z, a, y, activation):
        if isinstance(activation, Softmax):
            return a - y if activation.temperature == 1.0 else activation.temperature * (a - y)
        return super().delta(xp, z, a, y, activation)

    def check(self, output):
        if output.name != "softmax":
            raise NNAccelError(
                f"the log-likelihood cost needs a softmax output layer, not {output.name}; "
                "use --output-activation softmax"
            )


COSTS = {cls.name: cls() for cls in (QuadraticCost, CrossEntropyCost, LogLikelihoodCost)}
_ALIASES = {
    "crossentropy": "cross-entropy",
    "cross_entropy": "cross-entropy",
    "loglikelihood": "log-likelihood",
    "log_likelihood": "log-likelihood",
    **{cls.book_name.lower(): cls.name for cls in COSTS.values()},
}


def get(name_or_cost) -> Cost:
    """Look a cost up by name: quadratic, cross-entropy, log-likelihood (or network2's class name)."""
    if isinstance(name_or_cost, Cost):
        return name_or_cost
    if isinstance(name_or_cost, type) and issubclass(name_or_cost, Cost):
        return name_or_cost()
    key = str(name_or_cost).lower()
    key = _ALIASES.get(key, key)
    try:
        return COSTS[key]
    except KeyError:
        raise NNAccelError(
            f"unknown cost {name_or_cost!r}; use one of {', '.join(COSTS)}"
        ) from None
