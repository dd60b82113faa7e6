"""The one epoch loop: train a "model" of K members epoch by epoch (K = 1 is a network).

:func:`run` owns the order of an epoch, the same for a network (trainer.train), a population
(Population.train) and a full-batch demonstration (book.hessian_technique): η of the
schedule → one epoch of the active members → the monitored record of each → the divergence
check → the history → the best network, early stopping and the halving schedule → the
model's end of epoch (checkpoints, callbacks, pruning) — and, where a signal guard is given,
stops at an epoch boundary on SIGINT or SIGTERM. Each member's counters are a
:class:`~nnaccel.training.trainer.TrainState`; a member whose ``stopped`` is set trains no more.

The model is the seam: what differs between a network and a population (how an epoch is
run and evaluated, what a divergence does, where the parameters are kept) is its methods:

- ``train(members, etas)``: one epoch of the active ``members``, member i at η ``etas[i]``;
- ``records(epoch, members, etas)``: one record (dict) per active member, its monitored figures;
- ``finite(members)``: per active member, are all its parameters finite;
- ``close(record, seconds)``: add the record's last keys (the epoch's seconds, the data sizes);
- ``diverged(member, record, cost)``: a member diverged (``cost``: the first non-finite cost's
  key, or None for the parameters); returns why, and the member stops, or raises;
- ``commit(members, kept)``: the epoch is over; ``kept`` are the members that did not diverge;
- ``keep_best(improved)`` / ``restore_best(members)``: early stopping's best networks;
- ``end_epoch(epoch, members, records)``: checkpoints, callbacks and pruning.

:class:`Model` gives each of the last five the default of a model that keeps no best network
and has nothing to do at an epoch's end.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass

from ..errors import Interrupted
from . import schedules


@dataclass(frozen=True)
class Rules:
    """The run's schedule and stopping rule; ``eta0`` is each member's initial η."""

    eta0: tuple
    early_stopping: int | None = None
    stopping_rule: str = "no-improvement"
    schedule: str = "constant"
    patience: int = 10
    step_size: int = 10
    gamma: float = 0.5


class Model:
    """The defaults of the seam; a model defines train, records, finite and diverged."""

    def close(self, record, seconds):
        record["seconds"] = seconds

    def commit(self, members, kept):
        pass

    def keep_best(self, improved):
        pass

    def restore_best(self, members):
        pass

    def end_epoch(self, epoch, members, records):
        pass


class _NoGuard:
    """No signal handling: a signal raises wherever it lands (a population's, a demo's run)."""

    def pending(self):
        return []

    def interruptible(self):
        return nullcontext()


def run(model, states, epochs, rules, guard=None):
    """Train ``model``'s members until ``epochs`` epochs are done or every member has stopped.

    ``states``: one TrainState per member, updated in place (η, epoch, best, stopped, history).
    ``guard``: nnaccel.training.signals.GUARD to stop at an epoch boundary on a signal (raises
    :class:`Interrupted` then, when epochs were left), or None.
    """
    guard = guard or _NoGuard()
    while True:
        members = [i for i, s in enumerate(states) if not s.stopped]
        if not members or states[members[0]].epoch >= epochs or guard.pending():
            break
        epoch = states[members[0]].epoch
        start = time.perf_counter()
        with guard.interruptible():  # a signal here drops the partial epoch at once
            if rules.schedule in ("step", "exponential"):
                for i in members:
                    states[i].eta = schedules.scheduled_eta(rules.eta0[i], epoch, rules.schedule,
                                                            rules.step_size, rules.gamma)
            etas = [states[i].eta for i in members]
            model.train(members, etas)
        records = model.records(epoch, members, etas)
        finite = model.finite(members)
        seconds = time.perf_counter() - start
        kept = []
        for i, record, ok in zip(members, records, finite):
            model.close(record, seconds)
            cost = _first_bad_cost(record)
            if cost is not None or not ok:
                states[i].stopped = model.diverged(i, record, cost)
                continue
            states[i].history.add(record)
            states[i].epoch += 1
            states[i].since_change += 1
            kept.append(i)
        model.commit(members, kept)
        _after_epoch(model, states, kept, _records_of(members, records, kept), rules)
        model.end_epoch(epoch, members, records)
    if guard.pending() and any(not s.stopped and s.epoch < epochs for s in states):  # (a finished run just returns)
        raise Interrupted(guard.pending()[0])
    if rules.early_stopping is not None:
        model.restore_best([i for i, s in enumerate(states) if s.best_accuracy is not None])
    for state in states:
        state.history.stopped = state.stopped


def _first_bad_cost(record):
    """The key of the first monitored cost that is NaN or infinite, or None."""
    return next((k for k, v in record.items() if k.endswith("_cost") and not math.isfinite(v)), None)


def _records_of(members, records, kept):
    by_member = dict(zip(members, records))
    return [by_member[i] for i in kept]


def _after_epoch(model, states, kept, records, rules):
    """Update each kept member's best network, η and stopping decision from its accuracy."""
    improved = []
    for i, record in zip(kept, records):
        state, accuracy = states[i], record.get("evaluation_accuracy")
        if accuracy is None:
            continue
        if state.best_accuracy is None or accuracy > state.best_accuracy:
            state.best_accuracy, state.best_epoch = accuracy, record["epoch"]
            improved.append(i)
    if improved and rules.early_stopping is not None:
        model.keep_best(improved)
    for i, record in zip(kept, records):
        state = states[i]
        if record.get("evaluation_accuracy") is None:
            continue
        accuracies = state.history.evaluation_accuracy
        if rules.early_stopping is not None and schedules.should_stop_early(accuracies, rules.early_stopping,
                                                                            rules.stopping_rule):
            state.stopped = f"early stopping: no improvement in {rules.early_stopping} epochs"
        if rules.schedule == "halve":
            state.eta, state.since_change, stop = schedules.halve_on_plateau(
                state.eta, rules.eta0[i], accuracies, state.since_change, rules.patience)
            if stop:
                state.stopped = f"the learning rate fell to eta0/128 = {state.eta:g}"
