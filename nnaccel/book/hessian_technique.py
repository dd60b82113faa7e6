"""Chapter 3's Hessian technique, tried: first on the saturated neuron of the learning-slowdown
experiment, then against SGD on [784, 30, 10] with 1,000 images, per epoch and per second."""

from __future__ import annotations

import time

from ..core import second_order
from ..optim.hessian_free import hessian_free
from ..optim.lbfgs import lbfgs
from ..optim.newton import newton
from ..training import loop
from ..training.trainer import TrainState


class _FullBatch(loop.Model):
    """One network and a full-batch optimizer object as the training loop's model (the demo
    sets the optimizers' own settings, such as Hessian-free's CG iterations, which train() does not)."""

    def __init__(self, objective, optimizer):
        self.objective, self.optimizer = objective, optimizer
        self.state = optimizer.init(objective.params())
        self.costs, self.seconds, self.start = [objective.value()], [0.0], time.perf_counter()

    def train(self, members, etas):
        self.state = second_order.full_batch_epoch(self.objective, self.optimizer, self.state)
        self.seconds.append(time.perf_counter() - self.start)

    def records(self, epoch, members, etas):
        self.costs.append(self.objective.value())
        return [{"epoch": epoch, "training_cost": self.costs[-1]}]

    def finite(self, members):
        return [True]  # the cost, checked by the loop, says when a step went astray

    def diverged(self, member, record, cost):
        return f"the cost became {record[cost]} at epoch {record['epoch']}"


def _minimise(net, data, optimizer, epochs, lmbda=0.0):
    """Train with a full-batch optimizer; (costs, seconds) after every epoch, epoch 0 first."""
    run = _FullBatch(second_order.Objective(net, data, lmbda), optimizer)
    loop.run(run, [TrainState(eta=1.0)], epochs, loop.Rules((1.0,)))
    return run.costs, run.seconds


def _first_below(costs, fraction):
    return next((t for t, c in enumerate(costs) if c < fraction * costs[0]), None)


def _never(epoch):
    """An epoch number, or "never" where the run did not get there (None)."""
    return "never" if epoch is None else str(epoch)


def saturated_neuron(ctx, epochs=300):
    """Input 1 → output 0 from (w, b) = (2, 2), quadratic cost: gradient descent (η = 0.15, the
    book's) crawls off the plateau; damped Newton rescales each step by the curvature. On the
    plateau the cost is concave along w + b (σ'² + σσ'' < 0), so with too small a δ Newton's
    step goes uphill, into the opposite saturation: the book's warning about H."""
    runs = {}
    one = ([[1.0]], [[0.0]])
    for label, damping in (("gradient descent η=0.15", None), ("Newton δ=0.3", 0.3), ("Newton δ=0.03", 0.03)):
        net = ctx.net([1, 1], cost="quadratic", dtype="float64")
        net.set_parameters([[[2.0]]], [[2.0]])
        if damping is not None:
            costs, _ = _minimise(net, one, newton(eta=1.0, damping=damping), ctx.epochs(epochs))
        else:
            costs = [net.total_cost(one)]
            net.SGD(one, ctx.epochs(epochs), 1, 0.15, callback=lambda r, net=net: costs.append(net.total_cost(one)))
        runs[label] = {"cost": costs}
    return runs


def mnist_1000(ctx, epochs=30):
    """SGD (m = 10, η = 0.5) against Hessian-free and L-BFGS (full batch) on [784, 30, 10],
    cross-entropy, 1,000 training images: training cost against epochs and seconds."""
    data = ctx.train_subset(1000)
    runs = {}
    sgd_net = ctx.net([784, 30, 10], cost="cross-entropy")
    costs, seconds, start = [sgd_net.total_cost(data)], [0.0], time.perf_counter()

    def record(_):
        seconds.append(time.perf_counter() - start)
        costs.append(sgd_net.total_cost(data))

    sgd_net.SGD(data, ctx.epochs(epochs), 10, 0.5, callback=record)
    runs["SGD m=10 η=0.5"] = {"cost": costs, "seconds": seconds}
    for label, optimizer in (("Hessian-free", hessian_free(damping=1.0, cg_iterations=10)),
                             ("L-BFGS", lbfgs(memory=10))):
        net = ctx.net([784, 30, 10], cost="cross-entropy")
        costs, seconds = _minimise(net, data, optimizer, ctx.epochs(epochs))
        runs[label] = {"cost": costs, "seconds": seconds}
    return runs


def hessian(ctx):
    neuron = saturated_neuron(ctx)
    mnist = mnist_1000(ctx)
    book = {"gradient descent η=0.15": "slow start (plateau)", "Newton δ=0.3": "no plateau",
            "Newton δ=0.03": "H not positive: may go uphill"}
    summary = [[f"saturated neuron, {k}: epochs to cost −90 % (final cost)", book[k],
                f"{_never(_first_below(v['cost'], 0.1))} (final cost {v['cost'][-1]:.3g})"] for k, v in neuron.items()]
    for label, run in mnist.items():
        summary.append([f"[784,30,10], 1,000 images, {label}: training cost after "
                        f"{len(run['cost']) - 1} epochs ({run['seconds'][-1]:.1f} s)", "–", f"{run['cost'][-1]:.4f}"])
    return {"runs": {"neuron": neuron, "mnist": mnist}, "summary": summary}


def plot(result, plt):
    """Left: the saturated neuron's cost per epoch. Middle and right: [784,30,10]'s training
    cost against epochs and against seconds."""
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4))
    for label, run in result["runs"]["neuron"].items():
        a.plot(run["cost"], label=label)
    a.set(xlabel="epoch", ylabel="cost", title="Saturated neuron, (w, b) = (2, 2)")
    for label, run in result["runs"]["mnist"].items():
        b.plot(run["cost"], label=label)
        c.plot(run["seconds"], run["cost"], label=label)
    b.set(xlabel="epoch", ylabel="training cost", yscale="log", title="[784,30,10], 1,000 images")
    c.set(xlabel="seconds", ylabel="training cost", yscale="log", title="… against time")
    for ax in (a, b, c):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig
