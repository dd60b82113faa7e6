"""One epoch loop (nnaccel.training.loop) trains a network, a population and the Hessian demo:
its schedule and stopping rules are the same for a network and a population of one."""

import numpy as np
import pytest

from nnaccel.errors import NNAccelError
from nnaccel.nets.network import Network
from nnaccel.nets.population import Population
from nnaccel.training import loop
from nnaccel.training.trainer import TrainState, train


@pytest.fixture(scope="module")
def split(mnist10k):
    """300 training and 200 evaluation images, scaled to [0, 1]."""
    x, y = mnist10k.train[0][:500] / 255.0, mnist10k.train[1][:500]
    return (x[:300], y[:300]), (x[300:], y[300:])


@pytest.mark.parametrize("fused", [True, False])
def test_early_stopping_stops_a_network_and_a_population_of_one_at_the_same_epoch_with_the_same_best(split, fused):
    """No improvement in n = 3 epochs stops both after epoch best + 3, and both keep the best network."""
    training, evaluation = split
    net = Network([784, 12, 10], seed=4, dtype="float64")
    alone = train(net, training, 30, 10, 0.5, evaluation_data=evaluation, early_stopping=3, fused=fused)
    pop = Population([784, 12, 10], seeds=[4], dtype="float64")
    (member,) = pop.train(training, 30, 10, 0.5, evaluation_data=evaluation, early_stopping=3, fused=fused)

    accuracies = alone.evaluation_accuracy
    best = int(np.argmax(accuracies))
    assert len(accuracies) == best + 1 + 3 < 30  # stopped three epochs after its best, before the last
    assert alone.stopped == member.stopped == "early stopping: no improvement in 3 epochs"
    assert member.evaluation_accuracy == accuracies
    assert net.accuracy(evaluation) == pop.accuracy(evaluation)[0] == accuracies[best]  # the best network, kept
    for a, b in zip(net.parameters_numpy()[0], pop[0].parameters_numpy()[0]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert pop.active == [False]


class Scripted(loop.Model):
    """A model whose members' evaluation accuracies follow given lists (one per member)."""

    def __init__(self, accuracies):
        self.accuracies, self.trained = accuracies, []

    def train(self, members, etas):
        self.trained.append(dict(zip(members, etas)))

    def records(self, epoch, members, etas):
        return [{"epoch": epoch, "eta": eta, "evaluation_accuracy": self.accuracies[i][epoch]}
                for i, eta in zip(members, etas)]

    def finite(self, members):
        return [True] * len(members)

    def diverged(self, member, record, cost):
        raise AssertionError("no member diverges here")


def test_the_halving_schedule_halves_each_members_eta_on_its_own_plateau():
    """η/2 after `patience` epochs without improvement, for member 0 alone or beside a member that improves."""
    plateau, rising = [5, 6, 6, 6, 6, 6, 6, 6], [1, 2, 3, 4, 5, 6, 7, 8]
    rules = dict(schedule="halve", patience=2)

    one = [TrainState(eta=1.0)]
    loop.run(Scripted([plateau]), one, 8, loop.Rules((1.0,), **rules))
    two = [TrainState(eta=1.0), TrainState(eta=0.5)]
    model = Scripted([plateau, rising])
    loop.run(model, two, 8, loop.Rules((1.0, 0.5), **rules))

    assert [r["eta"] for r in one[0].history.records] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert two[0].history.evaluation_accuracy == one[0].history.evaluation_accuracy
    assert [r["eta"] for r in two[0].history.records] == [r["eta"] for r in one[0].history.records]
    assert [r["eta"] for r in two[1].history.records] == [0.5] * 8  # never on a plateau
    assert [epoch[1] for epoch in model.trained] == [0.5] * 8


def test_train_says_it_has_started_once_every_setting_is_taken_and_before_the_first_epoch():
    """The command prints its header from ``started``: at once for a slow first epoch, and never
    for a refused setting."""
    x, y = np.random.default_rng(0).random((30, 4)), np.arange(30) % 3
    events = []
    train(Network([4, 3], seed=1), (x, y), 2, 10, 0.5,
          started=lambda: events.append("started"), callback=lambda record: events.append("epoch"))
    assert events == ["started", "epoch", "epoch"]
    events.clear()
    with pytest.raises(NNAccelError):
        train(Network([4, 3], seed=1), (x, y), 2, 10, 0.5, momentum=1.0, started=lambda: events.append("started"))
    assert events == []
