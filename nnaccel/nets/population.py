"""Populations: K networks of one shape, trained together on one device.

Chapter 3's search for η, λ and the epoch count is many small, same-shaped runs. A
:class:`Population` stacks their parameters, weights (K, n_l, n_{l−1}) and biases (K, n_l),
so every step of all K is one batched matmul per layer (HFTA's horizontal fusion: Wang et
al., MLSys 2021). Each member has its own seed, η, λ and μ, its own History, early stopping
and divergence: a member that diverges, stops early or is pruned is frozen, and the others
go on. All members see the same mini-batches in the same order (common random numbers), so
differences between members come from their hyper-parameters and initial weights alone.
"""

from __future__ import annotations

import numbers

from ..backend import Backend, resolve
from ..core.scalars import as_int, whole
from ..data.arrays import DeviceData, to_device
from ..epochs import fast
from ..epochs.population import GenericPopulationEpoch, PopulationOptions, Stacks, feedforward
from ..errors import NNAccelError
from ..training import loop
from ..training.divergence import smaller_eta
from ..training.trainer import TrainState, check_hyperparameters
from .network import EVAL_CHUNK, Network



class Population:
    """K networks ``Population([784, 30, 10], seeds=[1, 2, 3])``, member i initialised exactly
    as ``Network(sizes, seed=seeds[i], …)``, trained together by :meth:`train`.

    The mini-batch order of every epoch is drawn from member 0's generator (the one
    ``Network(sizes, seed=seeds[0])`` shuffles with), and all members train on it: with
    ``shuffle=True`` member 0 equals its single run and member i equals
    ``Network(sizes, seed=seeds[i])`` fed that same order; with ``shuffle=False`` every member
    equals its single run.
    """

    def __init__(self, sizes, seeds, cost="cross-entropy", hidden_activation="sigmoid",
                 output_activation="sigmoid", init="default", device="auto", backend=None,
                 dtype="float32"):
        self.seeds = _check_seeds(seeds)
        self.backend = backend if isinstance(backend, Backend) else resolve(device, backend)
        self._settings = dict(cost=cost, hidden_activation=hidden_activation,
                              output_activation=output_activation, init=init, dtype=dtype)
        members = [Network(sizes, backend=self.backend, seed=seed, **self._settings) for seed in self.seeds]
        first = members[0]
        self.sizes, self.num_layers = first.sizes, first.num_layers
        self.cost, self.activations = first.cost, first.activations
        self.xp, self.dtype = self.backend.xp, first.dtype
        self.rng = first.rng  # draws the shared batch order (common random numbers)
        xp = self.xp
        self.weights = [xp.stack([net.weights[l] for net in members]) for l in range(self.num_layers - 1)]
        self.biases = [xp.stack([net.biases[l] for net in members]) for l in range(self.num_layers - 1)]
        self.active = [True] * len(self.seeds)

    def __len__(self):
        return len(self.seeds)

    def __getitem__(self, i) -> Network:
        """Member ``i`` as a Network of its own (a copy of its parameters)."""
        i = range(len(self))[i]
        net = Network(self.sizes, backend=self.backend, seed=self.seeds[i], **self._settings)
        to_numpy = self.backend.to_numpy
        net.set_parameters([to_numpy(w[i, ...]) for w in self.weights], [to_numpy(b[i, ...]) for b in self.biases])
        return net

    def __repr__(self):
        return f"Population({self.sizes}, seeds={self.seeds}, backend={self.backend.describe()!r})"

    # ---- evaluation: one batched feedforward for all members --------------------------
    def data(self, data) -> DeviceData:
        """Copy ``data`` ((X, labels) or network2's list of tuples) to the population's device."""
        return to_device(self.backend, data, self.sizes[0], self.sizes[-1], self.dtype)

    def feedforward(self, a):
        """Every member's outputs (K, m, n_L) for the inputs ``a`` (m, n_0)."""
        a = a if isinstance(a, DeviceData) else self.data((a, _zeros_labels(a)))
        return feedforward(self.xp, self.weights, self.biases, self.activations, a.x)

    def accuracy(self, data) -> list:
        """How many examples each member classifies correctly."""
        return self._evaluate(self.weights, self.biases, self.data(data), None, accuracy=True)[1]

    def total_cost(self, data, lmbda=0.0) -> list:
        """Each member's mean cost over ``data`` plus ½(λ/n)Σw² (λ one number or one per member)."""
        lmbdas = _per_member("lmbda", lmbda, len(self))
        return self._evaluate(self.weights, self.biases, self.data(data), lmbdas, accuracy=False)[0]

    def _evaluate(self, weights, biases, data, lmbdas, accuracy):
        """(costs, accuracies) of the members stacked in ``weights``: costs when ``lmbdas`` is
        given (one λ per member), accuracies when ``accuracy``; in chunks of rows whose
        outputs for all members take about what a Network's evaluation chunk does."""
        xp, k = self.xp, int(weights[0].shape[0])
        n = len(data)
        rows = max(64, 4 * EVAL_CHUNK // k)
        cost = [0.0] * k if lmbdas is not None else None
        correct = xp.zeros((k,), dtype=xp.int64) if accuracy else None
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            a = feedforward(xp, weights, biases, self.activations, data.x[start:stop, ...])
            if cost is not None:
                y = data.targets[start:stop, ...]
                cost = [c + self.cost.fn(xp, a[j, ...], y) for j, c in enumerate(cost)]
            if accuracy:
                truth = data.labels[start:stop] if data.labels is not None \
                    else xp.argmax(data.targets[start:stop, ...], axis=1)
                correct = correct + xp.sum(xp.astype(xp.argmax(a, axis=-1) == truth, xp.int64), axis=1)
        costs = None
        if cost is not None:
            squares = [0.0] * k
            if any(lmbdas):
                total = sum(xp.sum(w * w, axis=(1, 2)) for w in weights)
                squares = [float(v) for v in self.backend.to_numpy(total)]
            costs = [float(c) / n + (0.5 * (lm / n) * s if lm else 0.0) for c, lm, s in zip(cost, lmbdas, squares)]
        accuracies = [int(v) for v in self.backend.to_numpy(correct)] if accuracy else None
        return costs, accuracies

    # ---- training ---------------------------------------------------------------------
    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, **options):
        """network2's SGD for every member; returns one four-list tuple per member (see :meth:`train`)."""
        histories = self.train(training_data, epochs, mini_batch_size, eta, lmbda=lmbda,
                               evaluation_data=evaluation_data,
                               monitor_evaluation_cost=monitor_evaluation_cost,
                               monitor_evaluation_accuracy=monitor_evaluation_accuracy,
                               monitor_training_cost=monitor_training_cost,
                               monitor_training_accuracy=monitor_training_accuracy, **options)
        return [h.as_network2() for h in histories]

    def train(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, momentum=0.0,
              evaluation_data=None, monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
              monitor_training_cost=False, monitor_training_accuracy=False, early_stopping=None,
              stopping_rule="no-improvement", shuffle=True, callback=None, fused=True) -> list:
        """Train every member by mini-batch SGD; returns one :class:`~nnaccel.training.trainer.History` each.

        ``eta``, ``lmbda`` and ``momentum`` are one number for all members or one per member.
        A member whose parameters or monitored cost become non-finite is frozen at its last
        finite parameters (those it had before that epoch), and its History says so; the
        others go on. ``early_stopping=n`` stops each member on its own evaluation accuracy
        and gives it back its best network. ``callback(epoch, records)`` gets one record per
        member after every epoch (the single trainer's keys plus "member" and "active"; a
        frozen member's record holds only "epoch", "member" and "active") and may return
        member indices to stop (pruning); ``pop[i]`` then holds that epoch's parameters. Every
        call starts with all members active and no velocity. ``fused=False`` turns off the C
        and CUDA kernels (the array-API path runs).
        """
        k = len(self)
        epochs, mini_batch_size, early_stopping = as_int(epochs), as_int(mini_batch_size), as_int(early_stopping)
        etas = _per_member("eta", eta, k)
        lmbdas = _per_member("lmbda", lmbda, k)
        mus = _per_member("momentum", momentum, k)
        for e, lm, mu in zip(etas, lmbdas, mus):
            check_hyperparameters(epochs, mini_batch_size, e, lm, 0.0, mu, early_stopping=early_stopping,
                                  stopping_rule=stopping_rule)
        train_data = self.data(training_data)
        mini_batch_size = min(mini_batch_size, max(len(train_data), 1))  # a batch never outgrows the data
        eval_data = self.data(evaluation_data) if evaluation_data is not None else None
        if eval_data is None and (monitor_evaluation_cost or monitor_evaluation_accuracy or early_stopping):
            raise NNAccelError("monitoring the evaluation data and early stopping need evaluation_data")
        watch = dict(evaluation_cost=monitor_evaluation_cost,
                     evaluation_accuracy=monitor_evaluation_accuracy or early_stopping is not None,
                     training_cost=monitor_training_cost, training_accuracy=monitor_training_accuracy)

        states = [TrainState(eta=e) for e in etas]  # each member's η, counters, best, history
        run = _PopulationRun(self, states, train_data, eval_data, mini_batch_size, lmbdas, mus, watch, shuffle,
                             fused, callback, _Best(self) if early_stopping is not None else None)
        loop.run(run, states, epochs, loop.Rules(tuple(etas), early_stopping, stopping_rule))
        self.weights, self.biases = run.stacks.weights, run.stacks.biases
        self.active = [not s.stopped for s in states]
        return [s.history for s in states]

    def _choose(self, options, fused):
        """The fast population path that applies here (and passed its first-use check, for a GPU
        kernel), else the array-API one. ``fused=False``: always the array-API one."""
        return fast.choose(self, options, fused, fast.POPULATION_REGISTRY, GenericPopulationEpoch)

    def _records(self, stacks, members, epoch, lmbdas, etas, train_data, eval_data, watch):
        """One record per member of ``stacks``: the single trainer's keys, from batched evaluations."""
        records = [{"epoch": epoch, "eta": eta, "member": i, "active": True} for i, eta in zip(members, etas)]
        for name, data in (("training", train_data), ("evaluation", eval_data)):
            want_cost, want_accuracy = watch[f"{name}_cost"], watch[f"{name}_accuracy"]
            if not (want_cost or want_accuracy):
                continue
            costs, accuracies = self._evaluate(stacks.weights, stacks.biases, data,
                                               lmbdas if want_cost else None, want_accuracy)
            for j, record in enumerate(records):
                if want_cost:
                    record[f"{name}_cost"] = costs[j]
                if want_accuracy:
                    record[f"{name}_accuracy"] = accuracies[j]
        for record in records:
            record["n_training"] = len(train_data)
            record["n_evaluation"] = len(eval_data) if eval_data is not None else 0
        return records


class _PopulationRun(loop.Model):
    """A population as the training loop's model: an epoch of the active members is one batched
    path over their stacks; a member that diverges keeps its stacks of before the epoch."""

    def __init__(self, pop, states, train_data, eval_data, mini_batch_size, lmbdas, mus, watch, shuffle, fused,
                 callback, best):
        self.pop, self.states, self.train_data, self.eval_data, self.watch = pop, states, train_data, eval_data, watch
        self.mini_batch_size, self.lmbdas, self.mus, self.shuffle, self.fused = mini_batch_size, lmbdas, mus, shuffle, fused
        self.callback, self.best = callback, best
        xp = pop.xp
        self.stacks = Stacks(list(pop.weights), list(pop.biases))
        if any(mus):
            self.stacks.velocity_w = [xp.zeros_like(w) for w in self.stacks.weights]
            self.stacks.velocity_b = [xp.zeros_like(b) for b in self.stacks.biases]
        self.paths, self.after = {}, None

    def train(self, members, etas):
        pop, xp, k = self.pop, self.pop.xp, len(self.pop)
        key = (tuple(members), tuple(etas))
        if key not in self.paths:  # bound once per set of active members
            options = PopulationOptions(self.mini_batch_size, tuple(etas), *(tuple(v[i] for i in members)
                                                                             for v in (self.lmbdas, self.mus)))
            self.paths = {key: pop._choose(options, self.fused)}
        order = pop.rng.permutation(len(self.train_data)) if self.shuffle else None
        before = _take(xp, self.stacks, members, k, pop.backend)
        after = self.paths[key](pop, before, self.train_data, order)
        if not after.velocity_w and before.velocity_w:  # all of these members train without μ
            after = Stacks(after.weights, after.biases, before.velocity_w, before.velocity_b)
        self.after = after

    def records(self, epoch, members, etas):
        return self.pop._records(self.after, members, epoch, [self.lmbdas[i] for i in members], etas,
                                 self.train_data, self.eval_data, self.watch)

    def finite(self, members):
        return _finite(self.pop.xp, self.after, self.pop.backend)

    def diverged(self, member, record, cost):
        """Freeze the member at its parameters of before the epoch (commit keeps them), saying why."""
        record["active"] = False
        what = f"the cost became {record[cost]}" if cost is not None else "the weights became nan or infinite"
        return (f"diverged at epoch {record['epoch']}: {what}; frozen at its parameters before that epoch; "
                + smaller_eta(record["eta"]))

    def commit(self, members, kept):
        pop = self.pop
        self.stacks = _merge(pop.xp, self.stacks, self.after, members, kept, len(pop), pop.backend)
        pop.weights, pop.biases = self.stacks.weights, self.stacks.biases  # what a callback or Ctrl-C finds

    def keep_best(self, improved):
        self.best.update(self.stacks, improved)

    def restore_best(self, members):
        self.stacks = self.best.restore(self.stacks, members)

    def end_epoch(self, epoch, members, records):
        """Mark the members that stopped in this epoch, then let the callback see every member and prune."""
        states, k = self.states, len(self.pop)
        for i, record in zip(members, records):
            record["active"] = not states[i].stopped
        self.pop.active = [not s.stopped for s in states]
        if self.callback is None:
            return
        by_member = dict(zip(members, records))
        everyone = [by_member.get(i, {"epoch": epoch, "member": i, "active": False}) for i in range(k)]
        for i in self.callback(epoch, everyone) or ():
            i = _member_index(i, k)
            if not states[i].stopped:
                states[i].stopped = f"pruned by the callback after epoch {epoch}"


class _Best:
    """Each member's best network so far (highest evaluation accuracy), kept as stacks."""

    def __init__(self, pop):
        self.pop = pop
        self.weights = self.biases = None

    def update(self, stacks, improved):
        """Keep the networks of the ``improved`` members (their accuracy beat their best)."""
        if self.weights is None:
            self.weights, self.biases = list(stacks.weights), list(stacks.biases)
            return
        mask = _mask(self.pop, improved)
        xp = self.pop.xp
        self.weights = [xp.where(_fit(xp, mask, w), w, b) for w, b in zip(stacks.weights, self.weights)]
        self.biases = [xp.where(_fit(xp, mask, w), w, b) for w, b in zip(stacks.biases, self.biases)]

    def restore(self, stacks, kept):
        """``stacks`` with the ``kept`` members (those that have a best network) given it back."""
        if not kept:
            return stacks
        xp, mask = self.pop.xp, _mask(self.pop, kept)
        return Stacks([xp.where(_fit(xp, mask, b), b, w) for w, b in zip(stacks.weights, self.weights)],
                      [xp.where(_fit(xp, mask, b), b, w) for w, b in zip(stacks.biases, self.biases)],
                      stacks.velocity_w, stacks.velocity_b)


def _mask(pop, members):
    """A (K,) boolean device array, true for ``members``."""
    chosen = set(members)
    return pop.backend.asarray([i in chosen for i in range(len(pop))])


def _fit(xp, mask, like):
    """``mask`` (K,) reshaped to broadcast over a stack like ``like``."""
    return xp.reshape(mask, (-1,) + (1,) * (like.ndim - 1))


def _take(xp, stacks, members, k, backend):
    """The stacks of ``members`` only (the whole stacks when every member trains)."""
    if len(members) == k:
        return stacks
    index = backend.asarray(members)
    return Stacks.like(stacks, [xp.take(a, index, axis=0) for a in stacks.all()])


def _merge(xp, old, new, members, updated, k, backend):
    """The full stacks after an epoch: ``new`` (stacks of ``members``) for the ``updated``
    members, ``old`` for the rest: the frozen, and those that diverged during the epoch."""
    if len(updated) == k:
        return new
    position = {i: j for j, i in enumerate(members)}
    chosen = set(updated)
    index = backend.asarray([position[i] if i in chosen else len(members) + i for i in range(k)])
    return Stacks.like(old, [xp.take(xp.concat([a, b], axis=0), index, axis=0)
                             for a, b in zip(new.all(), old.all())])


def _finite(xp, stacks, backend):
    """Per member: are all its weights and biases finite? One reduction per layer, one read back."""
    ok = None
    for a in stacks.weights + stacks.biases:
        flags = xp.all(xp.isfinite(a), axis=tuple(range(1, a.ndim)))
        ok = flags if ok is None else ok & flags
    return [bool(v) for v in backend.to_numpy(xp.astype(ok, xp.int8))]


def _per_member(name, value, k):
    """``value`` as a list of one float per member: a number applies to all."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return [float(value)] * k
    try:
        values = [float(v) for v in value]
    except (TypeError, ValueError):
        raise NNAccelError(f"{name} must be a number or one number per member, got {value!r}") from None
    if len(values) != k:
        raise NNAccelError(f"{name} has {len(values)} values for {k} members; give one per member or a single number")
    return values


def _member_index(i, k):
    if not isinstance(i, int) or not -k <= i < k:
        raise NNAccelError(f"the callback returned {i!r}, which is not a member index 0 … {k - 1}")
    return i % k


def _check_seeds(seeds):
    """The seeds as Python ints (or None): whole numbers of any type; a fraction is refused, never truncated."""
    try:
        seeds = list(seeds)
    except TypeError:
        raise NNAccelError(f"seeds must be a list of integers, one per member (a fraction is not truncated), got {seeds!r}") from None
    checked = [None if s is None else whole(s) for s in seeds]
    if any(c is None and s is not None for c, s in zip(checked, seeds)):
        raise NNAccelError(f"seeds must be a list of integers, one per member (a fraction is not truncated), got {str(seeds)[:80]}")
    if not checked:
        raise NNAccelError("a population needs at least one member: give seeds=[1, 2, ...]")
    return checked


def _zeros_labels(a):
    return [0] * len(a)
