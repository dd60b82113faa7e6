"""network2's SGD for one network: shuffle, step through mini-batches, monitor — and never
lose work: checkpoints, resume, early stopping, schedules, divergence and Ctrl-C.

:func:`train` checks the run's settings, restores a checkpoint, and hands the epochs to the
one training loop (nnaccel.training.loop, shared with the population) with the network as
its model (:class:`_NetworkRun`): the loop owns the order of schedule, epoch, divergence
check, history and stopping; the network's run adds its snapshots, checkpoints and callback.

The trainer knows no optimizer by name: it binds the run's options in an EpochOptions, takes
the optimizer's initial state from nnaccel.epochs.generic.initial_state, and carries that state (a
NamedTuple of slots, nnaccel.optim) from epoch to epoch, into checkpoints and back.

The training data is copied to the device once; each epoch draws one permutation on the
host (from the network's seeded generator), gathers the shuffled data on the device with a
single ``take``, then walks contiguous slices of it — no host round trip per mini-batch.
The device is read back only for the monitored figures, once per epoch.
"""

from __future__ import annotations

import signal
import warnings
from dataclasses import dataclass, field, replace

from ..core import memory, parameters
from ..core.activations import check_trainable
from ..core.dropout import check_dropout
from ..epochs import fast
from ..io import checkpoints
from . import loop
from .divergence import all_finite, likely_cause
from ..epochs.generic import EpochOptions, GenericEpoch, initial_state, run_epoch  # noqa: F401  (re-exported)
from ..errors import Interrupted, NNAccelError, TrainingDiverged, TrainingInterrupted  # noqa: F401  (re-exported)
from .._files import fallback_path, file_path
from ..core.scalars import as_float, as_int
from ..optim import DEFAULT, check_options, default_state, map_slots
from .signals import GUARD


@dataclass
class History:
    """The four per-epoch lists of network2.py, plus one record (dict) per epoch."""

    evaluation_cost: list = field(default_factory=list)
    evaluation_accuracy: list = field(default_factory=list)
    training_cost: list = field(default_factory=list)
    training_accuracy: list = field(default_factory=list)
    records: list = field(default_factory=list)
    stopped: str = ""  # why training ended before the last epoch, if it did

    def as_network2(self):
        return (self.evaluation_cost, self.evaluation_accuracy,
                self.training_cost, self.training_accuracy)

    def add(self, record):
        for key in ("evaluation_cost", "evaluation_accuracy", "training_cost", "training_accuracy"):
            if key in record:
                getattr(self, key).append(record[key])
        self.records.append(record)


@dataclass
class TrainState:
    """All that changes from epoch to epoch, explicit so that a checkpoint can hold it."""

    eta: float
    epoch: int = 0  # epochs completed
    optimizer: str = DEFAULT  # the name the checkpoint records, so a resume can check it
    opt_state: tuple = field(default_factory=default_state)  # the optimizer's slots (nnaccel.optim)
    dropout: float = 0.0  # p of the run (evaluation scales by 1 − p), recorded for the resume
    rng_state: dict | None = None
    best_accuracy: float | None = None
    best_epoch: int = -1
    best_params: tuple | None = None  # (weights, biases) of the best epoch, when kept
    since_change: int = 0  # epochs since η last changed (the halving rule looks at these)
    stopped: str = ""
    history: History = field(default_factory=History)

    def to_json(self):
        return {"eta": self.eta, "epoch": self.epoch, "rng_state": self.rng_state,
                "best_accuracy": self.best_accuracy, "best_epoch": self.best_epoch,
                "since_change": self.since_change, "stopped": self.stopped,
                "records": self.history.records, "dropout": self.dropout}

    @classmethod
    def from_json(cls, doc):
        state = cls(eta=doc["eta"], epoch=doc["epoch"], rng_state=doc["rng_state"],
                    best_accuracy=doc["best_accuracy"], best_epoch=doc["best_epoch"],
                    since_change=doc["since_change"], stopped=doc["stopped"],
                    dropout=doc.get("dropout", 0.0))
        for record in doc["records"]:
            state.history.add(record)
        return state


def check_hyperparameters(epochs, mini_batch_size, eta, lmbda=0.0, l1=0.0, momentum=0.0, *,
                          optimizer=DEFAULT, nesterov=False, damping=None, dropout=0.0,
                          dropout_mode="per-batch", early_stopping=None, stopping_rule="no-improvement",
                          schedule="constant", patience=10, step_size=10, gamma=0.5):
    """Raise NNAccelError naming the first hyper-parameter out of its bounds in the table
    (nnaccel.core.parameters, one wording for all), then refuse an option the optimizer does
    not honour (optim.check_options). NumPy's scalar types are taken as the numbers they equal."""
    given = dict(epochs=epochs, mini_batch_size=mini_batch_size, eta=eta, lmbda=lmbda, l1=l1,
                 momentum=momentum, nesterov=nesterov, early_stopping=early_stopping,
                 stopping_rule=stopping_rule, schedule=schedule, patience=patience, step_size=step_size,
                 gamma=gamma, optimizer=optimizer, damping=damping, dropout=dropout, dropout_mode=dropout_mode)
    values = {name: parameters.check(name, value) for name, value in given.items()}
    check_options(optimizer, l1=values["l1"], momentum=values["momentum"], nesterov=values["nesterov"],
                  dropout=values["dropout"], damping=values["damping"])
    return values


def _copy(xp, arrays):
    return [xp.asarray(a, copy=True) for a in arrays]


def _snapshot(net, state):
    """Everything an interrupt or a divergence restores: the last complete epoch, whole.

    Copies of the parameters and the optimizer's slots (a fast path may update them in place;
    once per epoch, on the device), the RNG state, and the state's counters and history
    lengths — so a restored state never pairs one epoch's counters with another's arrays.
    """
    xp = net.xp
    slots = map_slots(lambda a: xp.asarray(a, copy=True), state.opt_state)
    scalars = {k: getattr(state, k) for k in ("eta", "epoch", "rng_state", "best_accuracy", "best_epoch",
                                              "best_params", "since_change", "stopped")}
    h = state.history
    lengths = {k: len(getattr(h, k)) for k in ("evaluation_cost", "evaluation_accuracy", "training_cost",
                                               "training_accuracy", "records")}
    return _copy(xp, net.weights), _copy(xp, net.biases), slots, net.rng.bit_generator.state, scalars, lengths


def _restore(net, state, snapshot):
    """Put ``net`` and ``state`` back to a :func:`_snapshot` (its arrays are copied again, to stay reusable)."""
    weights, biases, slots, rng_state, scalars, lengths = snapshot
    xp = net.xp
    net.weights, net.biases = _copy(xp, weights), _copy(xp, biases)
    state.opt_state = map_slots(lambda a: xp.asarray(a, copy=True), slots)
    net.rng.bit_generator.state = rng_state
    for key, value in scalars.items():
        setattr(state, key, value)
    for key, n in lengths.items():
        del getattr(state.history, key)[n:]


def train(net, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
          monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
          monitor_training_cost=False, monitor_training_accuracy=False,
          shuffle=True, callback=None, l1=0.0, momentum=0.0, nesterov=False,
          early_stopping=None, stopping_rule="no-improvement", schedule="constant", patience=10,
          step_size=10, gamma=0.5, checkpoint=None, resume=None, interrupt_path=None,
          config=None, fused=True, scale=None, optimizer=DEFAULT, damping=None, dropout=0.0,
          dropout_mode="per-batch", started=None) -> History:
    """Train ``net`` by mini-batch SGD (or another ``optimizer``) and return its :class:`History`.

    ``optimizer``: "sgd" (mini-batch SGD with ``lmbda``, ``l1``, ``momentum``, ``nesterov``) or a
    full-batch one, "newton", "hessian-free" or "lbfgs" (nnaccel.optim): one update per
    epoch on the whole training set (``mini_batch_size`` is then unused), with η as its step
    and ``damping`` its δ. ``dropout=p`` deletes a fraction p of the hidden neurons for each
    mini-batch (``dropout_mode="per-example"``: a mask per example) and evaluates with the
    outgoing weights scaled by 1 − p.

    ``early_stopping=n`` stops when the evaluation accuracy has not improved for n epochs
    (``stopping_rule="average"``: the mean of the last n is no better than the n before) and
    keeps the best network. ``schedule="halve"`` halves η when there is no improvement in
    ``patience`` epochs and stops at η₀/128; "step" and "exponential" multiply η by
    ``gamma`` every ``step_size`` epochs or every epoch. ``checkpoint`` is a path written
    atomically after every epoch; ``resume`` a path (or loaded checkpoint) to continue from.
    On SIGINT or SIGTERM (Ctrl-C) the partial epoch is dropped, the last complete epoch is
    saved (to ``checkpoint`` or ``interrupt_path``) and :class:`TrainingInterrupted` raised; a
    checkpoint that cannot be written goes to a fallback path, with a RuntimeWarning. On a NaN
    or infinite cost or parameter, the network goes back to its last good epoch and
    :class:`TrainingDiverged` says whether the data or η is the likely cause. ``scale`` divides
    the inputs (255 for raw pixels). ``fused=False`` turns off the fast paths (nnaccel.epochs.fast).
    ``started()``, if given, is called once every setting has been taken, before the first epoch.
    """
    epochs, mini_batch_size, early_stopping = as_int(epochs), as_int(mini_batch_size), as_int(early_stopping)
    patience, step_size = as_int(patience), as_int(step_size)
    eta, lmbda, l1, momentum, gamma = as_float(eta), as_float(lmbda), as_float(l1), as_float(momentum), as_float(gamma)
    damping, dropout = as_float(damping), as_float(dropout)
    check_hyperparameters(epochs, mini_batch_size, eta, lmbda, l1, momentum, optimizer=optimizer,
                          nesterov=nesterov, damping=damping, dropout=dropout, dropout_mode=dropout_mode,
                          early_stopping=early_stopping, stopping_rule=stopping_rule, schedule=schedule,
                          patience=patience, step_size=step_size, gamma=gamma)
    check_dropout(dropout, net.sizes)
    check_trainable(net.activations)
    for where in (checkpoint, interrupt_path):  # None, a number, a NUL byte: one line now, not a TypeError at epoch 1
        if where is not None:
            file_path(where)
    train_data = net.data(training_data, scale=scale)
    eval_data = net.data(evaluation_data, scale=scale) if evaluation_data is not None else None
    needs_accuracy = early_stopping is not None or schedule == "halve"
    if eval_data is None and (monitor_evaluation_cost or monitor_evaluation_accuracy or needs_accuracy):
        raise NNAccelError("monitoring, early stopping and the halving schedule need evaluation_data")
    monitor_evaluation_accuracy = monitor_evaluation_accuracy or needs_accuracy
    config = dict(config or {})

    batch = min(mini_batch_size, max(len(train_data), 1))  # -m 10⁶ on 300 images: one batch of 300
    memory.check_training(net.sizes, 0, 0, batch, 8 if net.dtype == "float64" else 4)
    options = EpochOptions(batch, eta, lmbda, l1, momentum, nesterov, shuffle,
                           optimizer, damping, dropout, dropout_mode)
    # the optimizer's first state; newton refuses a network too large for H here, before any epoch
    state = TrainState(eta=eta, optimizer=optimizer, opt_state=initial_state(net, train_data, options),
                       dropout=dropout)
    if resume is not None:
        state = restore(net, resume, state.opt_state, optimizer)
        state.dropout = dropout
    net.dropout = dropout  # evaluation (the monitored figures, the final network) scales by 1 − p
    if state.stopped:
        state.history.stopped = state.stopped
        return state.history

    path = fast.choose(net, replace(options, eta=state.eta), fused)  # bound once; rebound only when η moves
    if started is not None:  # every setting is taken: the caller may now say what the run is
        started()
    watch = dict(training_cost=monitor_training_cost, training_accuracy=monitor_training_accuracy,
                 evaluation_cost=monitor_evaluation_cost, evaluation_accuracy=monitor_evaluation_accuracy)
    rules = loop.Rules((eta,), early_stopping, stopping_rule, schedule, patience, step_size, gamma)
    with GUARD, GUARD.deferred():  # signals stop the loop at an epoch boundary (nnaccel.training.signals)
        run = _NetworkRun(net, path, state, train_data, eval_data, lmbda, l1, watch, checkpoint, config, callback)
        try:
            loop.run(run, [state], epochs, rules, GUARD)
        except TrainingDiverged:
            _restore(net, state, run.done)
            raise
        except KeyboardInterrupt as e:
            _restore(net, state, run.done)
            where = run.checkpoint or interrupt_path
            if where and not (where == run.checkpoint and run.saved == state.epoch):
                where = _write_checkpoint(where, net, state, config)
            raise TrainingInterrupted(where, state.epoch, getattr(e, "signum", signal.SIGINT),
                                      waited=len(GUARD.pending()) > 1) from None
        return state.history


class _NetworkRun(loop.Model):
    """One network as the training loop's model (a member of one): its epoch path, its
    monitored figures, and what it keeps so that an interrupt or a divergence restores the last
    complete epoch and a checkpoint holds it."""

    def __init__(self, net, path, state, train_data, eval_data, lmbda, l1, watch, checkpoint, config, callback):
        self.net, self.path, self.state = net, path, state
        self.train_data, self.eval_data, self.lmbda, self.l1, self.watch = train_data, eval_data, lmbda, l1, watch
        self.checkpoint, self.config, self.callback = checkpoint, config, callback
        self.done = _snapshot(net, state)  # the last complete epoch: what an interrupt or divergence restores
        self.saved = None  # the epoch that ``checkpoint`` holds, once this run has written it

    def train(self, members, etas):
        if self.path.options.eta != etas[0]:
            self.path = self.path.rebind(eta=etas[0])
        self.state.opt_state = self.path(self.net, self.train_data, self.state.opt_state)

    def records(self, epoch, members, etas):
        net, record = self.net, {"epoch": epoch, "eta": etas[0]}
        if self.watch["training_cost"]:
            record["training_cost"] = net.total_cost(self.train_data, self.lmbda, self.l1)
        if self.watch["training_accuracy"]:
            record["training_accuracy"] = net.accuracy(self.train_data)
        if self.watch["evaluation_cost"]:
            record["evaluation_cost"] = net.total_cost(self.eval_data, self.lmbda, self.l1)
        if self.watch["evaluation_accuracy"]:
            record["evaluation_accuracy"] = net.accuracy(self.eval_data)
        return [record]

    def finite(self, members):
        """The parameters are checked after every epoch whatever is monitored: one reduction on the device."""
        return [all_finite(self.net.xp, self.net.weights + self.net.biases)]

    def close(self, record, seconds):
        record["seconds"] = seconds
        record["n_training"] = len(self.train_data)
        record["n_evaluation"] = len(self.eval_data) if self.eval_data is not None else 0

    def diverged(self, member, record, cost):
        """Raise TrainingDiverged, saying whether the data or η is the likely cause."""
        if cost is not None:
            where = "training" if cost.startswith("training") else "evaluation"
            what = f"the cost became {record[cost]} on the {where} data"
        else:
            what = "the weights became nan or infinite"
        raise TrainingDiverged(f"training diverged at epoch {record['epoch']}: {what}; "
                               + likely_cause(self.net.xp, self.state.eta, self.train_data, self.eval_data))

    def keep_best(self, improved):
        self.state.best_params = (_copy(self.net.xp, self.net.weights), _copy(self.net.xp, self.net.biases))

    def restore_best(self, members):
        if self.state.best_params is not None:
            self.net.weights, self.net.biases = list(self.state.best_params[0]), list(self.state.best_params[1])

    def end_epoch(self, epoch, members, records):
        net, state = self.net, self.state
        state.rng_state = net.rng.bit_generator.state
        self.done = _snapshot(net, state)  # the epoch is complete: counters and arrays together
        if self.checkpoint:
            self.checkpoint = _write_checkpoint(self.checkpoint, net, state, self.config, stacklevel=5)
            self.saved = state.epoch
        if self.callback is not None:
            self.callback(records[0])


def _write_checkpoint(path, net, state, config, stacklevel=3):
    """Save a checkpoint to ``path``, or where files.fallback_path finds room, with a warning.

    Returns where it went: ``path``, the fallback (which later epochs then use), or None when
    no folder would take it (training goes on without checkpoints, after the warning). The
    warning names the caller of train() (``stacklevel`` counts the frames up to it).
    """
    try:
        checkpoints.save_checkpoint(path, net, state, config)
        return path
    except (OSError, NNAccelError) as e:
        reason = (e.strerror if isinstance(e, OSError) else None) or str(e)
        other = fallback_path(path, "checkpoint")
        try:
            if other is not None:
                checkpoints.save_checkpoint(other, net, state, config)
        except (OSError, NNAccelError):
            other = None
        warnings.warn(f"could not write the checkpoint {path} ({reason}); "
                      + (f"checkpoints go to {other} instead" if other else
                         "no folder would take it, so training goes on without checkpoints"),
                      RuntimeWarning, stacklevel=stacklevel)
        return other


def restore(net, resume, template=None, optimizer=DEFAULT) -> TrainState:
    """Put a checkpoint's parameters, optimizer slots and RNG state into ``net``; return its state.

    ``template`` is the optimizer's initial state (its type receives the saved slots; default:
    the default optimizer's) and ``optimizer`` its name, which must be the one the checkpoint was trained with.
    """
    meta, arrays = checkpoints.load_checkpoint(resume) if not isinstance(resume, tuple) else resume
    if meta["network"]["sizes"] != net.sizes:
        raise NNAccelError(f"the checkpoint is of a {meta['network']['sizes']} network, not {net.sizes}")
    saved, slots = checkpoints.optimizer_slots(meta, arrays)
    if saved != optimizer:
        raise NNAccelError(f"the checkpoint was trained with --optimizer {saved}; resume it with "
                           f"--optimizer {saved}, or start afresh without --resume")
    template = default_state() if template is None else template
    if set(slots) != set(template._fields):
        raise NNAccelError(f"the checkpoint's optimizer slots {sorted(slots)} are not {optimizer}'s "
                           f"{sorted(template._fields)}; the file is corrupt, start afresh without --resume")
    net.set_parameters(arrays["w"], arrays["b"])
    state = TrainState.from_json(meta["state"])
    to_dev = lambda group: [net.backend.asarray(a, net.dtype) for a in arrays.get(group, [])]  # noqa: E731
    state.optimizer = optimizer
    state.opt_state = map_slots(lambda a: net.backend.asarray(a, net.dtype), type(template)(**slots))
    if arrays.get("bw"):
        state.best_params = (to_dev("bw"), [net.xp.reshape(b, (-1,)) for b in to_dev("bb")])
    if state.rng_state is not None:
        net.rng.bit_generator.state = state.rng_state
    return state
