"""One epoch of training, and the contract every way of running one conforms to.

The options of an epoch (m, η, λ, L1, μ, Nesterov, shuffling, the optimizer, dropout) are bound once, in a frozen
:class:`EpochOptions`, when a path is chosen; a path is then called with the network, the
data and the optimizer state only, so no path can be handed an option it would ignore.
:func:`run_epoch` is the generic array-API epoch and the reference every fast path
(nnaccel.epochs.fast) is tested against; :class:`GenericEpoch` is it behind the paths' interface,
and also runs the full-batch optimizers (one update per epoch on the whole training set).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from ..core.dropout import draw_masks
from ..core.second_order import Objective, full_batch_epoch
from ..optim import NAMES, Batch, make, map_slots


@dataclass(frozen=True)
class EpochOptions:
    """The hyper-parameters of one epoch, in the book's names."""

    mini_batch_size: int
    eta: float
    lmbda: float = 0.0
    l1: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    shuffle: bool = True
    optimizer: str = "sgd"  # a name of optimizers.FACTORIES
    damping: float | None = None  # δ of newton and hessian-free (None: the optimizer's default)
    dropout: float = 0.0  # p, the fraction of hidden neurons deleted for each mini-batch
    dropout_mode: str = "per-batch"  # or "per-example": one mask per example


def initial_state(net, data, options):
    """The optimizer's state before the first epoch: ``init`` of the parameters it works on
    ((weights, biases) for a mini-batch optimizer, one flat vector for a full-batch one)."""
    optimizer = make(options)
    if optimizer.full_batch:
        return optimizer.init(Objective(net, data, options.lmbda).params())
    return optimizer.init((net.weights, net.biases))


def run_epoch(net, data, options, state):
    """One pass of mini-batch SGD over ``data`` (a DeviceData); returns the optimizer state.

    Each epoch draws one permutation from the network's seeded generator on the host,
    gathers the shuffled data on the device with a single ``take``, then walks slices of it.
    With dropout, each mini-batch gets new masks from the same generator (nnaccel.core.dropout).

    Where the backend allows it (``Backend.in_place``: NumPy, CuPy, PyTorch) the updates
    overwrite copies of the parameters and slots that the epoch makes once at its start;
    on JAX every update builds new arrays. Both give the same numbers to the last bit.
    """
    xp, o = net.xp, options
    n, m = len(data), o.mini_batch_size
    optimizer = make(o)
    in_place = net.backend.in_place
    if in_place:  # the caller's arrays stay as they were
        net.weights, net.biases = [_copy(xp, w) for w in net.weights], [_copy(xp, b) for b in net.biases]
        state = map_slots(lambda a: _copy(xp, a), state)
    x, y = data.x, data.targets
    if o.shuffle:
        perm = net.backend.asarray(net.rng.permutation(n))
        x, y = xp.take(x, perm, axis=0), xp.take(y, perm, axis=0)
    for k in range(0, n, m):
        stop = min(k + m, n)  # the last mini-batch may be smaller
        if o.dropout:  # the thinned network of this mini-batch
            masks = draw_masks(net, stop - k, o.dropout, o.dropout_mode)
            nabla_b, nabla_w = net.backprop(x[k:stop, ...], y[k:stop, ...], masks=masks)
        else:
            nabla_b, nabla_w = net.backprop(x[k:stop, ...], y[k:stop, ...])
        (net.weights, net.biases), state = optimizer.update(
            (nabla_w, nabla_b), state, (net.weights, net.biases), Batch(xp, stop - k, n, in_place))
    return state


def _copy(xp, a):
    return xp.asarray(a, copy=True)


class EpochPath:
    """What every path shares: its bound options, and ``rebind`` for a new η.

    A path is ``path = Path(net, options)`` then ``state = path(net, data, state)`` once per
    epoch. ``rebind(eta=…)`` copies the path with a new η for the schedules; compiled kernels
    and buffers are shared, not rebuilt, so a path reads η from ``self.options`` when called.
    Only η may change: another option could change which path applies (choose again).
    """

    name = "?"
    optimizers = ("sgd",)  # the optimizers (names of optimizers.FACTORIES) the path implements
    selfcheck = False  # True: first use is checked against run_epoch (nnaccel.epochs.fast.selfcheck)

    @classmethod
    def applies(cls, net, options) -> bool:
        raise NotImplementedError

    def __init__(self, net, options):
        self.options = options

    def __call__(self, net, data, state):
        raise NotImplementedError

    def rebind(self, *, eta):
        options = replace(self.options, eta=eta)
        if options == self.options:
            return self
        new = copy.copy(self)
        new.options = options
        return new

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} {self.options}>"


class GenericEpoch(EpochPath):
    """run_epoch behind the paths' interface: any backend, any option, any optimizer (a
    full-batch one makes its one update per epoch through second_order.full_batch_epoch)."""

    name = "generic array-API path"
    optimizers = NAMES

    @classmethod
    def applies(cls, net, options) -> bool:
        return True

    def __call__(self, net, data, state):
        optimizer = make(self.options)
        if optimizer.full_batch:
            return full_batch_epoch(Objective(net, data, self.options.lmbda), optimizer, state)
        return run_epoch(net, data, self.options, state)
