"""One epoch of mini-batch SGD for K networks of one shape at once, written in the array API.

The members' parameters are stacked, weights (K, n_l, n_{l−1}) and biases (K, n_l), and every
mini-batch is shared: its (m, n_0) inputs broadcast against the stack, so each layer of the
feedforward, BP2 and BP4 is one batched matmul. The lines are network.backprop's and
optimizers.sgd_update's with a member axis in front; per-member η, λ and μ are (K, 1, 1)
arrays, so member i computes exactly what Network i alone would (tests/test_population.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


def _rows(xp, f, *arrays):
    """f applied to (K, m, n) stacks as (K·m, n) rows, for the functions that sum over a row
    (softmax, its chain rule): activations.py writes them for one example per row."""
    shape = arrays[0].shape
    out = f(*[xp.reshape(a, (-1, shape[-1])) for a in arrays])
    return xp.reshape(out, shape)


def feedforward(xp, weights, biases, activations, a):
    """The outputs (K, m, n_L) of every member for the inputs ``a`` (m, n_0)."""
    for w, b, act in zip(weights, biases, activations):
        z = xp.matmul(a, xp.matrix_transpose(w)) + xp.expand_dims(b, axis=1)
        a = _rows(xp, lambda z2: act.fn(xp, z2), z)
    return a


def backprop(xp, weights, biases, activations, cost, x, y):
    """(nabla_b, nabla_w) of every member: ∇C summed over the mini-batch rows ``x`` (m, n_0),
    stacked (K, 1, n_l) and (K, n_l, n_{l−1}); biases come as (K, 1, n_l)."""
    activation = x  # shared by every member: broadcast against the stack
    acts = [x]
    zs = []
    for w, b, act in zip(weights, biases, activations):
        z = xp.matmul(activation, xp.matrix_transpose(w)) + b
        zs.append(z)
        activation = _rows(xp, lambda z2: act.fn(xp, z2), z)
        acts.append(activation)
    targets = xp.broadcast_to(y, zs[-1].shape)
    nabla_b = [None] * len(weights)
    nabla_w = [None] * len(weights)
    delta = _rows(xp, lambda z2, a2, y2: cost.delta(xp, z2, a2, y2, activations[-1]),
                  zs[-1], acts[-1], targets)  # BP1
    nabla_b[-1] = xp.sum(delta, axis=1, keepdims=True)  # BP3, summed over the batch
    nabla_w[-1] = xp.matmul(xp.matrix_transpose(delta), acts[-2])  # BP4, summed over the batch
    for l in range(2, len(weights) + 1):
        act = activations[-l]  # hidden neurons are elementwise: no need for _rows
        delta = act.vjp(xp, zs[-l], acts[-l], xp.matmul(delta, weights[-l + 1]))  # BP2
        nabla_b[-l] = xp.sum(delta, axis=1, keepdims=True)
        nabla_w[-l] = xp.matmul(xp.matrix_transpose(delta), acts[-l - 1])
    return nabla_b, nabla_w


class Coefficients:
    """The per-member numbers of the update as (K, 1, 1) device arrays, made once per m.

    Each is computed on the host in float64 as sgd_update computes its Python scalars
    (1 − ηλ/n, η/m, λ/n), then cast to the parameters' type, as a Python scalar is.
    """

    def __init__(self, backend, dtype, options, n):
        self.backend, self.dtype, self.o, self.n = backend, dtype, options, n
        self.momentum = any(options.momentum)
        self.mixed = self.momentum and not all(options.momentum)  # some members without μ
        self._by_m = {}
        o = options
        self.decay = self._array([1.0 - eta * (lmbda / n) for eta, lmbda in zip(o.eta, o.lmbda)])
        self.eta = self._array(o.eta)
        self.mu = self._array(o.momentum)
        self.l2 = self._array([lmbda / n for lmbda in o.lmbda])
        self.with_mu = self.backend.xp.reshape(self.backend.asarray([mu != 0 for mu in o.momentum]), (-1, 1, 1))

    def _array(self, values):
        xp = self.backend.xp
        return xp.reshape(self.backend.asarray([float(v) for v in values], self.dtype), (-1, 1, 1))

    def eta_over(self, m):
        if m not in self._by_m:
            self._by_m[m] = self._array([eta / m for eta in self.o.eta])
        return self._by_m[m]


def update(xp, stacks, nabla_w, nabla_b, c, m):
    """One step of every member: sgd_update's two branches with (K, 1, 1) coefficients.

    Plain SGD: w → (1 − ηλ/n)w − (η/m)Σ∇C_x, b → b − (η/m)Σ∇C_x. Momentum: v → μv − η∇C,
    w → w + v with ∇C = Σ∇C_x/m + (λ/n)w. Where some members have μ = 0 they take the plain
    branch and keep their velocity (xp.where), so each member's arithmetic is exactly its own
    network's.
    """
    if not c.momentum:
        eta_m = c.eta_over(m)
        return Stacks([c.decay * w - eta_m * nw for w, nw in zip(stacks.weights, nabla_w)],
                      [b - eta_m * nb for b, nb in zip(stacks.biases, nabla_b)])
    if not stacks.velocity_w:
        stacks = Stacks(stacks.weights, stacks.biases, [xp.zeros_like(w) for w in stacks.weights],
                        [xp.zeros_like(b) for b in stacks.biases])
    new_w, new_b, vel_w, vel_b = [], [], [], []
    for w, nw, v0 in zip(stacks.weights, nabla_w, stacks.velocity_w):
        v = c.mu * v0 - c.eta * (nw / m + c.l2 * w)
        new = w + v
        if c.mixed:
            new = xp.where(c.with_mu, new, c.decay * w - c.eta_over(m) * nw)
            v = xp.where(c.with_mu, v, v0)
        new_w.append(new)
        vel_w.append(v)
    for b, nb, v0 in zip(stacks.biases, nabla_b, stacks.velocity_b):
        v = c.mu * v0 - c.eta * (nb / m)
        new = b + v
        if c.mixed:
            new = xp.where(c.with_mu, new, b - c.eta_over(m) * nb)
            v = xp.where(c.with_mu, v, v0)
        new_b.append(new)
        vel_b.append(v)
    return Stacks(new_w, new_b, vel_w, vel_b)


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
        c = Coefficients(pop.backend, pop.dtype, self.options, n)
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
            stacks = update(xp, stacks, nabla_w, nabla_b, c, stop - k)
        return Stacks(stacks.weights, [b[:, 0, :] for b in stacks.biases],
                      stacks.velocity_w, [v[:, 0, :] for v in stacks.velocity_b])
