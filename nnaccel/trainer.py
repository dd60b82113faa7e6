"""The epoch loop of network2's SGD: shuffle, step through mini-batches, monitor — and never
lose work: checkpoints, resume, early stopping, schedules, divergence and Ctrl-C.

The training data is copied to the device once; each epoch draws one permutation on the
host (from the network's seeded generator), gathers the shuffled data on the device with a
single ``take``, then walks contiguous slices of it — no host round trip per mini-batch.
The device is read back only for the monitored figures, once per epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from . import fast, schedules
from .epoch import EpochOptions, GenericEpoch, run_epoch  # noqa: F401  (re-exported)
from .errors import NNAccelError
from .optimizers import SGDState


class TrainingDiverged(NNAccelError):
    """The cost became NaN or infinite."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C: the last complete epoch was saved to ``path``."""

    def __init__(self, path, epoch):
        super().__init__(path)
        self.path, self.epoch = path, epoch


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
    sgd: SGDState = field(default_factory=SGDState)
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
                "records": self.history.records}

    @classmethod
    def from_json(cls, doc):
        state = cls(eta=doc["eta"], epoch=doc["epoch"], rng_state=doc["rng_state"],
                    best_accuracy=doc["best_accuracy"], best_epoch=doc["best_epoch"],
                    since_change=doc["since_change"], stopped=doc["stopped"])
        for record in doc["records"]:
            state.history.add(record)
        return state


def check_hyperparameters(epochs, mini_batch_size, eta, lmbda=0.0, l1=0.0, momentum=0.0):
    """Raise NNAccelError naming the first hyper-parameter out of range, and the fix."""
    if not isinstance(epochs, int) or epochs < 0:
        raise NNAccelError(f"epochs must be a whole number ≥ 0, got {epochs!r}")
    if not isinstance(mini_batch_size, int) or mini_batch_size < 1:
        raise NNAccelError(f"mini_batch_size must be a whole number ≥ 1, got {mini_batch_size!r}")
    if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
        raise NNAccelError(f"the learning rate eta must be > 0, got {eta!r}; the book uses 0.5 or 3.0")
    for name, value in (("lmbda", lmbda), ("l1", l1)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise NNAccelError(f"{name} must be ≥ 0, got {value!r}")
    if not (isinstance(momentum, (int, float)) and 0.0 <= momentum < 1.0):
        raise NNAccelError(f"momentum must be in [0, 1), got {momentum!r}; try 0.9")


def _copy(xp, arrays):
    return [xp.asarray(a, copy=True) for a in arrays]


def _snapshot(net, state):
    """Copies of what Ctrl-C restores: parameters, velocities and RNG state of the last epoch.

    Copies, because a fast path may update parameters in place; once per epoch, on the device.
    """
    xp = net.xp
    sgd = type(state.sgd)(_copy(xp, state.sgd.velocity_w), _copy(xp, state.sgd.velocity_b))
    return _copy(xp, net.weights), _copy(xp, net.biases), sgd, net.rng.bit_generator.state


def _all_finite(net):
    xp = net.xp
    return all(bool(xp.all(xp.isfinite(w))) for w in net.weights)


def train(net, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
          monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
          monitor_training_cost=False, monitor_training_accuracy=False,
          shuffle=True, callback=None, l1=0.0, momentum=0.0, nesterov=False,
          early_stopping=None, stopping_rule="no-improvement", schedule="constant", patience=10,
          step_size=10, gamma=0.5, checkpoint=None, resume=None, interrupt_path=None,
          config=None, fused=True) -> History:
    """Train ``net`` by mini-batch SGD and return its :class:`History`.

    ``early_stopping=n`` stops when the evaluation accuracy has not improved for n epochs
    (``stopping_rule="average"``: the mean of the last n is no better than the n before) and
    keeps the best network. ``schedule="halve"`` halves η when there is no improvement in
    ``patience`` epochs and stops at η₀/128; "step" and "exponential" multiply η by
    ``gamma`` every ``step_size`` epochs or every epoch. ``checkpoint`` is a path written
    atomically after every epoch; ``resume`` a path (or loaded checkpoint) to continue from.
    On Ctrl-C the last complete epoch is saved (to ``checkpoint`` or ``interrupt_path``) and
    :class:`TrainingInterrupted` raised; on a NaN or infinite cost, :class:`TrainingDiverged`.
    ``fused=False`` turns off the backend-specific fast paths (nnaccel.fast).
    """
    check_hyperparameters(epochs, mini_batch_size, eta, lmbda, l1, momentum)
    schedules.check_schedule(schedule, patience, step_size, gamma, early_stopping, stopping_rule)
    train_data = net.data(training_data)
    eval_data = net.data(evaluation_data) if evaluation_data is not None else None
    needs_accuracy = early_stopping is not None or schedule == "halve"
    if eval_data is None and (monitor_evaluation_cost or monitor_evaluation_accuracy or needs_accuracy):
        raise NNAccelError("monitoring, early stopping and the halving schedule need evaluation_data")
    monitor_evaluation_accuracy = monitor_evaluation_accuracy or needs_accuracy
    config = dict(config or {})

    state = TrainState(eta=eta)
    if resume is not None:
        state = restore(net, resume)
    if state.stopped:
        state.history.stopped = state.stopped
        return state.history
    from .checkpoint import save_checkpoint

    options = EpochOptions(mini_batch_size, state.eta, lmbda, l1, momentum, nesterov, shuffle)
    path = fast.choose(net, options, fused)  # bound once; rebound only when the schedule moves η
    done = _snapshot(net, state)
    try:
        while state.epoch < epochs:
            epoch = state.epoch
            start = time.perf_counter()
            if schedule in ("step", "exponential"):
                state.eta = schedules.scheduled_eta(eta, epoch, schedule, step_size, gamma)
            if path.options.eta != state.eta:
                path = path.rebind(eta=state.eta)
            state.sgd = path(net, train_data, state.sgd)
            record = {"epoch": epoch, "eta": state.eta}
            if monitor_training_cost:
                record["training_cost"] = net.total_cost(train_data, lmbda, l1)
            if monitor_training_accuracy:
                record["training_accuracy"] = net.accuracy(train_data)
            if monitor_evaluation_cost:
                record["evaluation_cost"] = net.total_cost(eval_data, lmbda, l1)
            if monitor_evaluation_accuracy:
                record["evaluation_accuracy"] = net.accuracy(eval_data)
            costs = [v for k, v in record.items() if k.endswith("_cost")]
            bad = [c for c in costs if not math.isfinite(c)]
            if bad or (not costs and not _all_finite(net)):
                what = f"the cost became {bad[0]}" if bad else "the weights became nan or infinite"
                raise TrainingDiverged(
                    f"training diverged at epoch {epoch}: {what}; "
                    f"try a smaller eta than {state.eta:g} (e.g. {state.eta / 10:g})"
                )
            record["seconds"] = time.perf_counter() - start
            record["n_training"] = len(train_data)
            record["n_evaluation"] = len(eval_data) if eval_data is not None else 0
            state.history.add(record)
            state.epoch += 1
            state.since_change += 1
            _after_epoch(net, state, record, eta, early_stopping, stopping_rule, schedule, patience)
            state.rng_state = net.rng.bit_generator.state
            if checkpoint:
                save_checkpoint(checkpoint, net, state, config)
            done = _snapshot(net, state)
            if callback is not None:
                callback(record)
            if state.stopped:
                break
    except KeyboardInterrupt:
        net.weights, net.biases, state.sgd = done[0], done[1], done[2]
        net.rng.bit_generator.state = state.rng_state = done[3]
        path = checkpoint or interrupt_path
        if path:
            save_checkpoint(path, net, state, config)
        raise TrainingInterrupted(path, state.epoch) from None
    if state.best_params is not None and early_stopping is not None:
        net.weights, net.biases = list(state.best_params[0]), list(state.best_params[1])
    state.history.stopped = state.stopped
    return state.history


def _after_epoch(net, state, record, eta0, early_stopping, rule, schedule, patience):
    """Update the best network, η and the stopping decision from the epoch's accuracy."""
    accuracy = record.get("evaluation_accuracy")
    if accuracy is None:
        return
    if state.best_accuracy is None or accuracy > state.best_accuracy:
        state.best_accuracy, state.best_epoch = accuracy, record["epoch"]
        if early_stopping is not None:
            state.best_params = (_copy(net.xp, net.weights), _copy(net.xp, net.biases))
    accuracies = state.history.evaluation_accuracy
    if early_stopping is not None and schedules.should_stop_early(accuracies, early_stopping, rule):
        state.stopped = f"early stopping: no improvement in {early_stopping} epochs"
    if schedule == "halve":
        state.eta, state.since_change, stop = schedules.halve_on_plateau(
            state.eta, eta0, accuracies, state.since_change, patience)
        if stop:
            state.stopped = f"the learning rate fell to eta0/128 = {state.eta:g}"


def restore(net, resume) -> TrainState:
    """Put a checkpoint's parameters, velocities and RNG state into ``net``; return its state."""
    from .checkpoint import load_checkpoint

    meta, arrays = load_checkpoint(resume) if not isinstance(resume, tuple) else resume
    if meta["network"]["sizes"] != net.sizes:
        raise NNAccelError(f"the checkpoint is of a {meta['network']['sizes']} network, not {net.sizes}")
    net.set_parameters(arrays["w"], arrays["b"])
    state = TrainState.from_json(meta["state"])
    to_dev = lambda group: [net.backend.asarray(a, net.dtype) for a in arrays.get(group, [])]  # noqa: E731
    state.sgd = SGDState(to_dev("vw"), to_dev("vb"))
    if arrays.get("bw"):
        state.best_params = (to_dev("bw"), [net.xp.reshape(b, (-1,)) for b in to_dev("bb")])
    if state.rng_state is not None:
        net.rng.bit_generator.state = state.rng_state
    return state
