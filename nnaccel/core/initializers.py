"""Weight initialisers of chapter 3, drawn on the host from a seeded NumPy Generator.

Drawing on the host (then copying to the device) gives the same initial network for the
same seed on every backend. As in network2.py, all biases are drawn first, then all weights.
"""

from __future__ import annotations

import math

from ..errors import NNAccelError


def default(rng, sizes):
    """Weights N(0, 1)/√n_in, biases N(0, 1): keeps z small so sigmoids start unsaturated."""
    biases = [rng.standard_normal(y) for y in sizes[1:]]
    weights = [rng.standard_normal((y, x)) / math.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:])]
    return biases, weights


def large(rng, sizes):
    """Weights and biases N(0, 1): the book's first (chapter 1) initialisation."""
    biases = [rng.standard_normal(y) for y in sizes[1:]]
    weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]
    return biases, weights


INITIALIZERS = {"default": default, "large": large}


def get(name):
    if callable(name):
        return name
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise NNAccelError(f"unknown initialiser {name!r}; use default or large") from None
