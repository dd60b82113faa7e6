"""One epoch of mini-batch SGD for K networks of one shape at once, written in the array API.

The members' parameters are stacked, weights (K, n_l, n_{l−1}) and biases (K, n_l), and every
mini-batch is shared: its (m, n_0) inputs broadcast against the stack, so each layer of the
feedforward, BP2 and BP4 is one batched matmul. The maths is one network's
(nnaccel.core.backprop, which a Network runs as K = 1); per-member η, λ and μ are (K, 1, 1)
arrays, so member i computes exactly what Network i alone would (tests/nets/test_population.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.backprop import SGDStep, backprop, sgd_step, sgd_update
from ..core.backprop import feedforward as _feedforward


@dataclass
class Stacks:
    """The members' parameters (and momentum's velocities, empty lists until used), stacked."""

    weights: list
    biases: list
    velocity_w: list = field(default_factory=list)
    velocity_b: list = field(default_factory=list)

    def all(self):
        return self.weights + self.biases + self.velocity_w + self.velocity_b

    @classmethod
    def like(cls, stacks, arrays):
        """Stacks of ``arrays`` laid out as ``stacks.all()`` is."""
        n, v = len(stacks.weights), len(stacks.velocity_w)
        return cls(arrays[:n], arrays[n:2 * n], arrays[2 * n:2 * n + v], arrays[2 * n + v:])


@dataclass(frozen=True)
class PopulationOptions:
    """One epoch's hyper-parameters: m and shuffling shared, η, λ, μ one per member (tuples)."""

    mini_batch_size: int
    eta: tuple
    lmbda: tuple
    momentum: tuple


def feedforward(xp, weights, biases, activations, a):
    """The outputs (K, m, n_L) of every member for the inputs ``a`` (m, n_0), biases stacked
    (K, n_l) as a Population keeps them (nnaccel.core.backprop.feedforward)."""
    return _feedforward(xp, weights, [xp.expand_dims(b, axis=1) for b in biases], activations, a)


class Coefficients:
    """The members' SGD steps (nnaccel.core.backprop.SGDStep) as (K, 1, 1) device arrays, made
    once per m: each member's numbers are those ``sgd_step`` computes for its network alone, as
    Python floats in float64, then cast to the parameters' type, as a Python scalar is."""

    def __init__(self, backend, dtype, options, n):
        self.backend, self.dtype, self.o, self.n = backend, dtype, options, n
        self._by_m = {}

    def step(self, m) -> SGDStep:
        if m not in self._by_m:
            o = self.o
            members = [sgd_step(eta, m, self.n, lmbda=lmbda, momentum=mu)
                       for eta, lmbda, mu in zip(o.eta, o.lmbda, o.momentum)]
            fields = {name: self._stack([getattr(s, name) for s in members], unused)
                      for name, unused in _UNUSED.items()}
            mixed = fields["momentum"] is not None and not all(o.momentum)
            self._by_m[m] = SGDStep(m, **fields, with_momentum=self._flags(o.momentum) if mixed else None)
        return self._by_m[m]

    def _stack(self, values, unused):
        """The members' values as one (K, 1, 1) array, ``unused`` where a member has none; None
        where no member has one."""
        if all(v is None for v in values):
            return None
        values = [float(unused if v is None else v) for v in values]
        return self.backend.xp.reshape(self.backend.asarray(values, self.dtype), (-1, 1, 1))

    def _flags(self, momenta):
        return self.backend.xp.reshape(self.backend.asarray([mu != 0 for mu in momenta]), (-1, 1, 1))


# the per-member numbers of a step, and what a member that does not use one computes with
_UNUSED = {"eta": None, "eta_m": None, "decay": 1.0, "l2": 0.0, "momentum": 0.0}


class GenericPopulationEpoch:
    """The array-API population epoch: any backend; the reference the fast paths are tested against."""

    name = "generic array-API population path"
    selfcheck = False

    @classmethod
    def applies(cls, pop, options) -> bool:
        return True

    def __init__(self, pop, options):
        self.options = options

    def __call__(self, pop, stacks, data, order):
        """Train ``stacks`` one epoch over ``data`` (a DeviceData) in the row ``order`` (a host
        int64 permutation, or None for the data's own order); returns the new stacks."""
        xp, m = pop.xp, self.options.mini_batch_size
        n = len(data)
        steps = Coefficients(pop.backend, pop.dtype, self.options, n)
        x, y = data.x, data.targets
        if order is not None:
            perm = pop.backend.asarray(order)
            x, y = xp.take(x, perm, axis=0), xp.take(y, perm, axis=0)
        # biases as (K, 1, n_l) for the epoch: they then broadcast over the batch rows
        stacks = Stacks(stacks.weights, [xp.expand_dims(b, axis=1) for b in stacks.biases],
                        stacks.velocity_w, [xp.expand_dims(v, axis=1) for v in stacks.velocity_b])
        for k in range(0, n, m):
            stop = min(k + m, n)  # the last mini-batch may be smaller
            nabla_b, nabla_w = backprop(xp, stacks.weights, stacks.biases, pop.activations, pop.cost,
                                        x[k:stop, ...], y[k:stop, ...])
            weights, biases, velocity = sgd_update(xp, stacks.weights, stacks.biases, nabla_w, nabla_b,
                                                   (stacks.velocity_w, stacks.velocity_b), steps.step(stop - k))
            stacks = Stacks(weights, biases, *velocity)
        return Stacks(stacks.weights, [b[:, 0, :] for b in stacks.biases],
                      stacks.velocity_w, [v[:, 0, :] for v in stacks.velocity_b])
