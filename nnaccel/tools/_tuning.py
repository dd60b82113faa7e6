"""What ``nnaccel tune`` and ``nnaccel sweep`` share: the validation split, the book's
"strip it down" (a subset of the classes), and training many same-shaped members at once.

``train_members`` trains one network per member dict (seed, eta, lmbda, momentum) on one
shape and mini-batch size: as one :class:`nnaccel.Population` where that class is available
and applies, else one :class:`Network` after another with the same per-epoch callback.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..core import parameters
from ..core.parameters import OPTIONS, SWEEP_OPTIONS
from ..data.expand import expand_shifts
from ..errors import NNAccelError
from ..nets.network import Network
from ..nets.population import Population
from ..training.trainer import History, train


def select_classes(data, classes):
    """``(x, labels)`` keeping only the given classes, relabelled 0..k-1 in the order given.

    The book's "strip the problem down": ``select_classes(train, [0, 1])`` keeps the 0s and
    1s as classes 0 and 1 of a two-output network.
    """
    x, labels = data
    classes = [int(c) for c in classes]
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise NNAccelError(f"--classes {' '.join(map(str, classes))}: give two or more different classes, e.g. --classes 0 1")
    present = set(np.unique(labels).tolist())
    missing = [c for c in classes if c not in present]
    if missing:
        raise NNAccelError(f"--classes: the data has no images of class {missing[0]}; "
                           f"its classes are {min(present)}..{max(present)}")
    keep = np.isin(labels, classes)
    relabel = np.full(int(max(max(present), max(classes))) + 1, -1, dtype=np.int64)
    relabel[classes] = np.arange(len(classes))
    return x[keep], relabel[labels[keep]]


def strip_dataset(dataset, classes):
    """A copy of ``dataset`` with only ``classes`` (train and test), relabelled 0..k-1."""
    if not classes:
        return dataset
    return replace(dataset, train=select_classes(dataset.train, classes),
                   test=select_classes(dataset.test, classes), n_classes=len(classes),
                   name=f"{dataset.name} classes {','.join(map(str, classes))}")


def holdout(data, size):
    """(training, validation): the last ``size`` examples held out, as ``train --validation-size``.

    At least one example on each side: a bound only the data knows, so the row of
    --validation-size is narrowed here and refuses in the table's words."""
    x, labels = data
    n = len(labels)
    row = replace(OPTIONS["validation_size"], low=1, high=n - 1, example=min(max(1, n // 5), 10000),
                  because=f"the training data has {n} images")
    size = parameters.check_row(row, size)
    return (x[:-size], labels[:-size]), (x[-size:], labels[-size:])


def expand_host(data, kind):
    """The book's 1-pixel shifts of host uint8 images (5×), done once and shared by all members
    (sweep's row of --expand takes shifts only)."""
    kind = parameters.check("expand", kind, SWEEP_OPTIONS)
    return data if kind is None else expand_shifts(np, data[0], data[1])


def population_class():
    """nnaccel.Population (kept as a function: tune and sweep ask it which class trains members)."""
    return Population


class _Stop(Exception):
    """Raised from a single network's callback to stop it (pruned), keeping its history."""


def train_members(sizes, members, training_data, evaluation_data, epochs, mini_batch_size, *,
                  model=None, monitor_training_cost=False, early_stopping=None,
                  schedule="constant", patience=10, callback=None, population=True):
    """Train one network per member on ``training_data``; return (histories, networks).

    ``members``: dicts with seed, eta, lmbda and momentum. ``model``: the keyword arguments of
    Network (cost, activations, dtype, device, backend). ``callback(epoch, records)`` gets the
    epoch's record of every member still training and may return members to stop (pruned).
    The members share one mini-batch order where they train as a population.
    """
    model = dict(model or {})
    Population = population_class() if population else None
    if Population is not None and schedule == "constant":
        return _train_population(Population, sizes, members, training_data, evaluation_data, epochs,
                                 mini_batch_size, model, monitor_training_cost, early_stopping, callback)
    histories, nets = [], []
    for index, member in enumerate(members):
        net = Network(sizes, seed=member["seed"], **model)

        def each(record, index=index):
            if callback is not None:
                stop = callback(record["epoch"], [dict(record, member=index, active=True)])
                if stop and index in set(stop):
                    raise _Stop

        history = History()
        try:
            history = train(net, training_data, epochs, mini_batch_size, member["eta"],
                            lmbda=member.get("lmbda", 0.0), momentum=member.get("momentum", 0.0),
                            evaluation_data=evaluation_data, monitor_evaluation_accuracy=True,
                            monitor_training_cost=monitor_training_cost,
                            early_stopping=early_stopping, schedule=schedule, patience=patience,
                            callback=_recording(history, each))
        except _Stop:
            history.stopped = "pruned"
        except NNAccelError as error:  # divergence: this member only
            history.stopped = f"diverged: {error}"
        histories.append(history)
        nets.append(net)
    return histories, nets


def _recording(history, each):
    """A trainer callback that also keeps the records (the trainer's own history is lost on _Stop)."""
    def callback(record):
        history.add(record)
        each(record)
    return callback


def _train_population(Population, sizes, members, training_data, evaluation_data, epochs,
                      mini_batch_size, model, monitor_training_cost, early_stopping, callback):
    pop = Population(sizes, seeds=[m["seed"] for m in members], **model)

    def each(epoch, records):
        records = [r for r in records if r.get("active", True)]
        return callback(epoch, records) if callback is not None else None

    histories = pop.train(training_data, epochs, mini_batch_size,
                          eta=[m["eta"] for m in members],
                          lmbda=[m.get("lmbda", 0.0) for m in members],
                          momentum=[m.get("momentum", 0.0) for m in members],
                          evaluation_data=evaluation_data, monitor_evaluation_accuracy=True,
                          monitor_training_cost=monitor_training_cost,
                          early_stopping=early_stopping, callback=each)
    return histories, [pop[i] for i in range(len(members))]


def best_accuracy(history, n):
    """The best evaluation accuracy of a history as a fraction, and its epoch (0, -1 if none)."""
    accuracies = history.evaluation_accuracy
    if not accuracies:
        return 0.0, -1
    epoch = int(np.argmax(accuracies))
    return accuracies[epoch] / n, epoch
