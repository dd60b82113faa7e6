"""The book's experiments (chapters 1–3), one function each, on the data available here.

Each returns a JSON-able dict: ``runs`` (the per-epoch curves) and ``summary`` (rows of
quantity, the book's figure, ours). :func:`run_experiment` writes NAME.json and NAME.png and
prints the summary beside the book's figures.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .._files import atomic_write, fallback_path
from ..backend import resolve
from ..core import parameters
from ..core.parameters import EXPERIMENT_OPTIONS
from ..data import load_dataset
from ..data.datasets import data_files
from ..errors import NNAccelError
from ..io import run_files
from ..io.plot import require_matplotlib, save_figure
from ..nets.network import Network
from ..training.trainer import train
from . import bitwise, decay, hessian_technique, perceptrons


class Context:
    """What every experiment needs: the data set, where to compute, a seed, and a time scale."""

    def __init__(self, dataset="mnist-10k", device="auto", backend=None, seed=1, scale=1.0):
        scale = parameters.check("scale", scale, EXPERIMENT_OPTIONS)
        self.backend = resolve(device, backend)
        self.dataset_name = dataset
        self.data = load_dataset(dataset, progress=False)
        self.seed, self.scale = seed, scale

    def epochs(self, n):
        return max(1, int(round(n * self.scale)))

    def train_subset(self, size):
        x, y = self.data.train
        return x[:size], y[:size]

    def net(self, sizes, **kw):
        return Network(sizes, backend=self.backend, seed=self.seed, **kw)

    def run(self, net, training, epochs, m, eta, **kw):
        """Train with evaluation on the test set every epoch; the per-epoch records."""
        history = train(net, training, epochs, m, eta, evaluation_data=self.data.test,
                        monitor_evaluation_accuracy=True, monitor_evaluation_cost=True,
                        monitor_training_cost=True, monitor_training_accuracy=True, **kw)
        return history.records


def _pct(correct, n):
    return round(100.0 * correct / n, 2)


def saturation(ctx):
    """One sigmoid neuron learning input 1 → output 0: quadratic cost slows down, cross-entropy doesn't."""
    runs = {}
    for cost in ("quadratic", "cross-entropy"):
        for w0, b0 in ((0.6, 0.9), (2.0, 2.0)):
            net = ctx.net([1, 1], cost=cost, dtype="float64")
            net.set_parameters([[[w0]]], [[b0]])
            one = ([[1.0]], [[0.0]])  # input 1, desired output 0
            curve = {"w": [w0], "b": [b0], "output": [float(net.feedforward([[1.0]])[0, 0])],
                     "cost": [net.total_cost(one)]}

            def observe(record, net=net, curve=curve):
                w, b = net.parameters_numpy()
                curve["w"].append(float(w[0][0, 0]))
                curve["b"].append(float(b[0][0]))
                curve["output"].append(float(net.feedforward([[1.0]])[0, 0]))
                curve["cost"].append(net.total_cost(one))

            net.SGD(one, ctx.epochs(300), 1, 0.15, callback=observe)
            runs[f"{cost} w={w0} b={b0}"] = curve
    book = {"quadratic w=0.6 b=0.9": "0.82 → 0.09", "quadratic w=2.0 b=2.0": "0.98 → 0.20 (flat start)",
            "cross-entropy w=0.6 b=0.9": "learns fast", "cross-entropy w=2.0 b=2.0": "learns fast (no plateau)"}
    summary = []
    for label, curve in runs.items():
        flat = next((i for i, c in enumerate(curve["cost"]) if c < 0.9 * curve["cost"][0]), None)
        summary.append([f"{label}: output first → last", book[label],
                        f"{curve['output'][0]:.2f} → {curve['output'][-1]:.2f} "
                        + (f"(cost −10% by epoch {flat})" if flat is not None else "(cost never −10%)")])
    return {"runs": runs, "summary": summary, "settings": {"eta": 0.15, "epochs": ctx.epochs(300)}}


def overfitting(ctx):
    """[784,30,10] on 1,000 images for 400 epochs, cross-entropy, η = 0.5, λ = 0 and 0.1.

    Like the book (overfitting.py), with N(0,1) weights: the better initialisation comes later.
    """
    runs = {}
    for lmbda in (0.0, 0.1):
        net = ctx.net([784, 30, 10], cost="cross-entropy", init="large")
        runs[f"lmbda={lmbda}"] = ctx.run(net, ctx.train_subset(1000), ctx.epochs(400), 10, 0.5, lmbda=lmbda)
    n_test = runs["lmbda=0.0"][0]["n_evaluation"]
    peak = {k: _pct(max(r["evaluation_accuracy"] for r in v), n_test) for k, v in runs.items()}
    train_final = _pct(runs["lmbda=0.0"][-1]["training_accuracy"], 1000)
    summary = [["peak test accuracy, λ = 0", "82.27 %", f"{peak['lmbda=0.0']} %"],
               ["peak test accuracy, λ = 0.1", "87.1 %", f"{peak['lmbda=0.1']} %"],
               ["final training accuracy, λ = 0", "100 %", f"{train_final} %"]]
    return {"runs": runs, "summary": summary}


def init(ctx):
    """Default N(0,1)/√n_in against large N(0,1) initialisation, 30 and 100 hidden neurons."""
    runs = {}
    n = len(ctx.data.train[1])
    lmbda = 5.0 * n / 50000  # the book's λ = 5.0 for 50,000 images, same decay per step
    for hidden in (30, 100):
        for init_name in ("default", "large"):
            net = ctx.net([784, hidden, 10], cost="cross-entropy", init=init_name)
            runs[f"{hidden} hidden, {init_name}"] = ctx.run(net, ctx.data.train, ctx.epochs(30), 10, 0.1,
                                                            lmbda=lmbda)
    summary = []
    for label, records in runs.items():
        first = _pct(records[0]["evaluation_accuracy"], records[0]["n_evaluation"])
        best = _pct(max(r["evaluation_accuracy"] for r in records), records[0]["n_evaluation"])
        book = "~92.7 % after epoch 1" if "default" in label else "~86.4 % after epoch 1"
        summary.append([f"{label}: after epoch 1 (best)", book, f"{first} % ({best} %)"])
    return {"runs": runs, "summary": summary, "settings": {"eta": 0.1, "lmbda": lmbda}}


def more_data(ctx):
    """Accuracy against training-set size, with the book's budget of 1.5 M examples and λ ∝ n.

    As the book's more_data.py: N(0,1) weights, η = 0.5, λ = 0.0001·n, 1,500,000/n epochs.
    """
    n_total = len(ctx.data.train[1])
    sizes = [s for s in (100, 200, 500, 1000, 2000, 5000, 8000, 10000, 20000, 50000) if s <= n_total]
    test = ctx.data.test
    points = []
    for size in sizes:
        net = ctx.net([784, 30, 10], cost="cross-entropy", init="large")
        epochs = ctx.epochs(max(1, 1_500_000 // size))
        net.SGD(ctx.train_subset(size), epochs, 10, 0.5, lmbda=size * 0.0001)
        points.append({"size": size, "epochs": epochs, "accuracy": _pct(net.accuracy(test), len(test[1]))})
    book = {1000: "88.85 %", 5000: "93.24 %", 10000: "94.89 %"}
    summary = [[f"{p['size']} training images", book.get(p["size"], "–"), f"{p['accuracy']} %"] for p in points]
    return {"runs": {"points": points}, "summary": summary}


def regularization(ctx):
    """No regularisation, L2 and L1 at an equal budget: the same λ = 0.1, 1,000 images, 400 epochs, η = 0.5."""
    runs = {}
    for label, kw in (("none", {}), ("L2 λ=0.1", {"lmbda": 0.1}), ("L1 λ=0.1", {"l1": 0.1})):
        net = ctx.net([784, 30, 10], cost="cross-entropy", init="large")
        runs[label] = ctx.run(net, ctx.train_subset(1000), ctx.epochs(400), 10, 0.5, **kw)
    n_test = runs["none"][0]["n_evaluation"]
    book = {"none": "82.27 %", "L2 λ=0.1": "87.1 %", "L1 λ=0.1": "–"}
    summary = [[f"peak test accuracy, {k}", book[k], f"{_pct(max(r['evaluation_accuracy'] for r in v), n_test)} %"]
               for k, v in runs.items()]
    return {"runs": runs, "summary": summary}


def dropout(ctx):
    """Dropout (p = ½, the book's halving) against no regularisation and L2 (λ = 0.1) on the
    overfitting setup: [784,30,10], 1,000 images, 400 epochs, cross-entropy, η = 0.5, N(0,1) weights."""
    runs = {}
    for label, kw in (("none", {}), ("L2 λ=0.1", {"lmbda": 0.1}), ("dropout p=0.5", {"dropout": 0.5})):
        net = ctx.net([784, 30, 10], cost="cross-entropy", init="large")
        runs[label] = ctx.run(net, ctx.train_subset(1000), ctx.epochs(400), 10, 0.5, **kw)
    n_test = runs["none"][0]["n_evaluation"]
    book = {"none": "82.27 %", "L2 λ=0.1": "87.1 %", "dropout p=0.5": "–"}
    summary = [[f"peak test accuracy, {k}", book[k], f"{_pct(max(r['evaluation_accuracy'] for r in v), n_test)} %"]
               for k, v in runs.items()]
    summary += [[f"final training accuracy, {k}", "100 %" if k == "none" else "–",
                 f"{_pct(v[-1]['training_accuracy'], v[-1]['n_training'])} %"] for k, v in runs.items()]
    summary.append(["dropout on full MNIST, large nets (Hinton et al., quoted by the book)",
                    "98.4 % → 98.7 %", "– (not this setup)"])
    return {"runs": runs, "summary": summary}


EXPERIMENTS = {"saturation": saturation, "overfitting": overfitting, "init": init,
               "more-data": more_data, "regularization": regularization,
               "perceptrons": perceptrons.perceptrons, "bitwise": bitwise.bitwise,
               "hessian": hessian_technique.hessian, "decay": decay.decay, "dropout": dropout}


def _plot_saturation(result, plt):
    """The single neuron's cost, output, w and b per epoch, one line per (cost, start)."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, key in zip(axes.flat, ("cost", "output", "w", "b")):
        for label, curve in result["runs"].items():
            ax.plot(curve[key], label=label)
        ax.set(xlabel="epoch", title=key)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    return fig


def _plot_more_data(result, plt):
    """Test accuracy against the number of training images, log x axis."""
    fig, ax = plt.subplots(figsize=(6, 4))
    pts = result["runs"]["points"]
    ax.plot([p["size"] for p in pts], [p["accuracy"] for p in pts], "o-")
    ax.set(xscale="log", xlabel="training images", ylabel="test accuracy (%)", title="More training data")
    ax.grid(alpha=0.3)
    return fig


def _plot_curves(result, plt):
    """The book's two panels per run: test accuracy and training cost against epochs."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for label, records in result["runs"].items():
        n = records[0]["n_evaluation"]
        left.plot([100.0 * r["evaluation_accuracy"] / n for r in records], label=f"{label} (test)")
        right.plot([r["training_cost"] for r in records], label=f"{label} (training)")
    left.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy on the test data")
    right.set(xlabel="epoch", ylabel="cost", title="Cost on the training data")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


# Each experiment's figure, as plot(result, plt) -> figure; the per-epoch curves otherwise.
PLOTS = {"saturation": _plot_saturation, "more-data": _plot_more_data, "perceptrons": perceptrons.plot,
         "bitwise": bitwise.plot, "hessian": hessian_technique.plot, "decay": decay.plot}


def plot_experiment(name, result, path):
    plt = require_matplotlib()
    fig = PLOTS.get(name, _plot_curves)(result, plt)
    fig.suptitle(f"nnaccel experiment: {name}")
    save_figure(fig, path)


def _write_result(result, path):
    """NAME.json; if its folder cannot take it after all, a fallback file, and an error naming it."""
    def write(target):
        with atomic_write(target, "w") as f:
            json.dump(result, f, indent=1, default=lambda v: None if isinstance(v, float) and math.isnan(v) else v)

    try:
        write(path)
    except (OSError, NNAccelError) as e:
        other = fallback_path(path, "experiment")
        if other is None:
            raise
        write(other)
        why = (e.strerror if isinstance(e, OSError) else None) or str(e)
        raise NNAccelError(f"could not write {path} ({why}); the results are in {other}") from None


def run_experiment(name, out_dir=".", scale=1.0, dataset="mnist-10k", device="auto", backend=None,
                   seed=1, out=print):
    """Run experiment ``name``, write ``NAME.json`` (and ``NAME.png`` with matplotlib), print the table."""
    if name not in EXPERIMENTS:
        raise NNAccelError(f"unknown experiment {name!r}; use one of {', '.join(EXPERIMENTS)}")
    if out_dir is not None and os.fspath(out_dir) and not os.path.isdir(out_dir):
        if os.path.exists(out_dir):
            raise NNAccelError(f"--out {out_dir} is a file, not a folder; give the folder for {name}.json and {name}.png")
        if os.path.islink(out_dir):
            raise NNAccelError(f"--out {out_dir} is a link to nothing (its target is missing, or it is a loop); "
                               "give a folder")
        raise NNAccelError(f"--out {out_dir}: the folder does not exist; create it first")
    run_files.check_folder("--out", out_dir, (f"{name}.json", f"{name}.png"),  # before the experiment's hours
                           [("a data file", path) for path in data_files(dataset)])
    out_dir = Path(out_dir)
    ctx = Context(dataset, device, backend, seed, scale)
    result = EXPERIMENTS[name](ctx)
    result.update(experiment=name, dataset=ctx.data.describe(), backend=ctx.backend.describe(),
                  seed=seed, scale=scale)
    _write_result(result, out_dir / f"{name}.json")
    width = max(len(row[0]) for row in result["summary"])
    out(f"{name} on {result['dataset']}, {result['backend']}:")
    out(f"  {'':<{width}}  {'book':<26}  nnaccel")
    for quantity, book, ours in result["summary"]:
        out(f"  {quantity:<{width}}  {book:<26}  {ours}")
    try:
        plot_experiment(name, result, out_dir / f"{name}.png")
        out(f"  wrote {out_dir / (name + '.json')} and {out_dir / (name + '.png')}")
    except NNAccelError as e:
        out(f"  wrote {out_dir / (name + '.json')}; no figure: {e}")
    return result
