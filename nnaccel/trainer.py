"""The epoch loop of network2's SGD: shuffle, step through mini-batches, monitor.

The training data is copied to the device once; each epoch draws one permutation on the
host (from the network's seeded generator), gathers the shuffled data on the device with a
single ``take``, then walks contiguous slices of it — no host round trip per mini-batch.
The device is read back only for the monitored figures, once per epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from .errors import NNAccelError
from .optimizers import SGDState, sgd_update


@dataclass
class History:
    """The four per-epoch lists of network2.py, plus one record (dict) per epoch."""

    evaluation_cost: list = field(default_factory=list)
    evaluation_accuracy: list = field(default_factory=list)
    training_cost: list = field(default_factory=list)
    training_accuracy: list = field(default_factory=list)
    records: list = field(default_factory=list)

    def as_network2(self):
        return (self.evaluation_cost, self.evaluation_accuracy,
                self.training_cost, self.training_accuracy)


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


def run_epoch(net, data, mini_batch_size, eta, lmbda, state, *, shuffle=True, l1=0.0,
              momentum=0.0, nesterov=False):
    """One pass of mini-batch SGD over ``data`` (a DeviceData); returns the optimizer state."""
    xp = net.xp
    n = len(data)
    x, y = data.x, data.targets
    if shuffle:
        perm = net.backend.asarray(net.rng.permutation(n))
        x, y = xp.take(x, perm, axis=0), xp.take(y, perm, axis=0)
    for k in range(0, n, mini_batch_size):
        stop = min(k + mini_batch_size, n)  # the last mini-batch may be smaller
        x_batch, y_batch = x[k:stop, ...], y[k:stop, ...]
        nabla_b, nabla_w = net.backprop(x_batch, y_batch)
        net.weights, net.biases, state = sgd_update(
            xp, net.weights, net.biases, nabla_w, nabla_b, state,
            eta=eta, m=stop - k, n=n, lmbda=lmbda, l1=l1,
            momentum=momentum, nesterov=nesterov,
        )
    return state


def train(net, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
          monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
          monitor_training_cost=False, monitor_training_accuracy=False,
          shuffle=True, callback=None, l1=0.0, momentum=0.0, nesterov=False) -> History:
    """Train ``net`` by mini-batch SGD and return its :class:`History`."""
    check_hyperparameters(epochs, mini_batch_size, eta, lmbda, l1, momentum)
    train_data = net.data(training_data)
    eval_data = net.data(evaluation_data) if evaluation_data is not None else None
    if eval_data is None and (monitor_evaluation_cost or monitor_evaluation_accuracy):
        raise NNAccelError("monitoring evaluation cost or accuracy needs evaluation_data")
    history = History()
    state = SGDState()
    for epoch in range(epochs):
        start = time.perf_counter()
        state = run_epoch(net, train_data, mini_batch_size, eta, lmbda, state, shuffle=shuffle,
                          l1=l1, momentum=momentum, nesterov=nesterov)
        record = {"epoch": epoch, "eta": eta}
        if monitor_training_cost:
            record["training_cost"] = net.total_cost(train_data, lmbda, l1)
            history.training_cost.append(record["training_cost"])
        if monitor_training_accuracy:
            record["training_accuracy"] = net.accuracy(train_data)
            history.training_accuracy.append(record["training_accuracy"])
        if monitor_evaluation_cost:
            record["evaluation_cost"] = net.total_cost(eval_data, lmbda, l1)
            history.evaluation_cost.append(record["evaluation_cost"])
        if monitor_evaluation_accuracy:
            record["evaluation_accuracy"] = net.accuracy(eval_data)
            history.evaluation_accuracy.append(record["evaluation_accuracy"])
        record["seconds"] = time.perf_counter() - start
        record["n_training"] = len(train_data)
        record["n_evaluation"] = len(eval_data) if eval_data is not None else 0
        history.records.append(record)
        if callback is not None:
            callback(record)
    return history
