"""Dropout (chapter 3): train a thinned network, evaluate the whole one with scaled weights.

The book: for each mini-batch, delete half the hidden neurons at random, forward- and
backpropagate through the network that is left, update, then restore them and pick a new
half. ``draw_masks`` gives one 0/1 mask per hidden layer and ``Network.backprop(x, y, masks)``
runs the thinned network. At evaluation every hidden neuron is present, so the weights going
out of hidden neurons are multiplied by the fraction kept, 1 − p: the book's halving.

A mask deletes exactly k = round(p·n) of a layer's n neurons, chosen uniformly (the book's
half: 15 of 30 for p = ½), so the fraction kept is 1 − k/n, which is 1 − p whenever p·n is
whole. Two modes:
- "per-batch" (the book): one mask for the whole mini-batch;
- "per-example" (the modern variant, Srivastava et al. 2014): a mask of its own per example.
The masks are drawn on the host from the network's seeded generator, so a resumed run draws
the same ones, and are moved to the device once per mini-batch.
"""

from __future__ import annotations

import math

from ..errors import NNAccelError

def check_dropout(p, sizes):
    """Raise NNAccelError unless the network of layer ``sizes`` has hidden neurons and a dropout
    of ``p`` keeps at least one in every hidden layer. (p's own bounds, [0, 1), are the
    parameter table's: nnaccel.core.parameters.)"""
    if p:
        if len(sizes) < 3:
            raise NNAccelError(f"dropout deletes hidden neurons, and sizes {list(sizes)} has no hidden layer; "
                               "add one, e.g. 784 30 10")
        for n in sizes[1:-1]:
            if deleted(n, p) >= n:
                raise NNAccelError(f"dropout p = {p} would delete all {n} neurons of a hidden layer; "
                                   "use a smaller p or a wider layer")


def deleted(n, p) -> int:
    """k = round(p·n), halves up: how many of a layer's n neurons one mask deletes."""
    return math.floor(p * n + 0.5)


def kept_fraction(n, p) -> float:
    """1 − k/n: the factor on the weights going out of a layer of n hidden neurons when all of
    them are present (1 − p when p·n is whole; ½ for the book)."""
    return 1.0 - deleted(n, p) / n


def draw_masks(net, rows, p, mode="per-batch"):
    """One 0/1 device array per hidden layer, in the net's dtype: (1, n_l) per mini-batch or
    (rows, n_l) per example, with 0 for the round(p·n_l) deleted neurons. Drawn from ``net.rng``."""
    return [net.backend.asarray(keep, net.dtype) for keep in host_masks(net, rows, p, mode)]


def host_masks(net, rows, p, mode="per-batch"):
    """:func:`draw_masks` as host NumPy arrays (a compiled epoch draws a whole epoch's, then
    moves them to the device at once): the same draws from ``net.rng``, in the same order."""
    check_dropout(p, net.sizes)
    r = 1 if mode == "per-batch" else rows
    masks = []
    for n in net.sizes[1:-1]:
        ranks = net.rng.random((r, n)).argsort(axis=1).argsort(axis=1)  # a uniform permutation per row
        masks.append((ranks >= deleted(n, p)).astype(net.dtype))
    return masks
