"""``nnaccel tune``: chapter 3's "How to choose a neural network's hyper-parameters", automated.

On a validation split held out from the training data (never the test set), in the book's
order: (optionally) strip the problem down to a few classes; find the threshold η, where the
training cost stops falling in the first epochs, and take half of it; choose the epochs by
early stopping; try the halving schedule; climb the λ ladder from 0 and 1.0 by factors of 10,
refine it and re-tune η; choose the mini-batch size for wall-clock speed. Every ladder's rungs
share one initialisation and batch order and train together (one population where
:class:`nnaccel.Population` is available). Each step prints its evidence; the end is the
chosen (η, epochs, λ, m) and the ``nnaccel train`` command that reproduces the final training.
"""

from __future__ import annotations

import json
import math
import os
import time

from .._files import atomic_write
from ..core import parameters
from ..core.parameters import TUNE_OPTIONS
from ..data import load_dataset
from ..data.datasets import check_sizes_fit, data_files
from ..errors import NNAccelError
from ..io import run_files
from ..io.plot import require_matplotlib, save_figure
from ..nets.network import Network
from ..training.trainer import train
from ._tuning import best_accuracy, holdout, strip_dataset, train_members

REPORT_FILES = ("tune.json", "eta_ladder.png", "lmbda_ladder.png", "early_stopping.png")
BUDGETS = {  # (epochs per η rung, early-stopping patience, most epochs, epochs per m); TUNE_OPTIONS' choices
    "quick": dict(ladder_epochs=3, patience=3, max_epochs=20, m_epochs=2),
    "book": dict(ladder_epochs=3, patience=10, max_epochs=100, m_epochs=3),
}
ETA_RUNGS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
MINI_BATCH_SIZES = (10, 20, 50, 100)
M_CHOICES = {  # how the mini-batch step picks m, and the words that say so (TUNE_OPTIONS' choices)
    "fastest": "the fastest per epoch (wall clock, this machine) within 0.5 points of the best accuracy; "
               "--m-choice accuracy or -m M gives a choice that does not depend on the machine",
    "accuracy": "the best validation accuracy after {epochs} epochs (the smaller m on a tie); "
                "the same on every machine",
}


# ---- the steps --------------------------------------------------------------------------------

def falls(costs):
    """The book's test of an η rung: the training cost falls in every one of the first epochs."""
    return all(math.isfinite(c) for c in costs) and all(b < a for a, b in zip(costs, costs[1:]))


def trend(costs):
    return " → ".join(f"{c:.3f}" if math.isfinite(c) else "nan" for c in costs)


class Tuner:
    """The procedure's state: data, model settings, budget, and the evidence of each step."""

    def __init__(self, sizes, model, train_data, validation, budget, seed, out):
        self.sizes, self.model, self.seed, self.out = sizes, model, seed, out
        self.train_data, self.validation = train_data, validation
        self.n_val = len(validation[1])
        self.budget = BUDGETS[budget]
        self.evidence = {}
        self.best_epochs = {}  # (step, value) -> best epoch of that rung

    def initial_cost(self):
        net = Network(self.sizes, seed=self.seed, **self.model)
        return net.total_cost(self.train_data)

    def members(self, etas, lmbdas):
        return [{"seed": self.seed, "eta": e, "lmbda": lam, "momentum": 0.0} for e, lam in zip(etas, lmbdas)]

    def eta_rungs(self, etas, start):
        """Train one rung per η for the first epochs; return {η: [cost before, after each epoch]}."""
        histories, _ = train_members(self.sizes, self.members(etas, [0.0] * len(etas)), self.train_data,
                                     self.validation, self.budget["ladder_epochs"], 10, model=self.model,
                                     monitor_training_cost=True)
        costs = {}
        for eta, history in zip(etas, histories):
            run = list(history.training_cost)
            run += [math.nan] * (self.budget["ladder_epochs"] - len(run))  # a diverged rung stopped early
            costs[eta] = [start, *run]
        return costs

    def eta_threshold(self):
        """Up by ×10 from 0.01 until the cost rises or oscillates; refine by 2 and 5; take half."""
        start = self.initial_cost()
        self.out(f"η ladder (training cost before and after each of the first "
                 f"{self.budget['ladder_epochs']} epochs, λ = 0, m = 10):")
        ladder = self.eta_rungs(ETA_RUNGS, start)
        threshold = None
        for eta, costs in ladder.items():
            verdict = "falls" if falls(costs) else "rises or oscillates"
            self.out(f"  η = {eta:<8g} {trend(costs)}   {verdict}")
            if falls(costs):
                threshold = eta
            else:
                break
        if threshold is None:
            raise NNAccelError("the training cost does not fall even at η = 0.01; check the data, "
                               "or use a smaller network or --cost cross-entropy")
        refine = [threshold * f for f in (2.0, 5.0)]
        refined = self.eta_rungs(refine, start)
        self.out(f"  refined between {threshold:g} and {10 * threshold:g}:")
        for eta, costs in refined.items():
            verdict = "falls" if falls(costs) else "rises or oscillates"
            self.out(f"  η = {eta:<8g} {trend(costs)}   {verdict}")
            if not falls(costs):
                break
            threshold = eta
        eta = threshold / 2
        self.out(f"  threshold η ≈ {threshold:g}; take half: η = {eta:g}")
        self.evidence["eta_ladder"] = {"costs": {str(k): v for k, v in {**ladder, **refined}.items()},
                                       "threshold": threshold, "eta": eta}
        return eta

    def early_stopping(self, eta):
        """Train until no improvement in `patience` epochs; the best epoch sets the epochs."""
        patience, most = self.budget["patience"], self.budget["max_epochs"]
        histories, _ = train_members(self.sizes, self.members([eta], [0.0]), self.train_data, self.validation,
                                     most, 10, model=self.model, early_stopping=patience)
        accuracy, epoch = best_accuracy(histories[0], self.n_val)
        run = len(histories[0].evaluation_accuracy)
        epochs = epoch + 1  # a constant η and the same seed reach that network again
        stopped = f"stopped after epoch {run - 1}" if run < most else f"no stop in {most} epochs"
        self.out(f"early stopping (no improvement in {patience}): best validation accuracy "
                 f"{100 * accuracy:.2f} % at epoch {epoch}, {stopped}; epochs = {epochs}")
        self.evidence["early_stopping"] = {"patience": patience, "best_epoch": epoch, "epochs_run": run,
                                           "accuracy": accuracy, "epochs": epochs,
                                           "curve": [a / self.n_val for a in histories[0].evaluation_accuracy]}
        return epochs, accuracy

    def halving(self, eta, lmbda, constant_accuracy):
        """The halving schedule with the chosen λ: kept if it beats a constant η on validation.

        Training is deterministic for a seed, so stopping the halving run at its best epoch
        gives that epoch's network again: epochs = best epoch + 1.
        """
        patience = self.budget["patience"]
        net = Network(self.sizes, seed=self.seed, **self.model)
        history = train(net, self.train_data, self.budget["max_epochs"], 10, eta, lmbda=lmbda,
                        evaluation_data=self.validation, schedule="halve", patience=patience)
        accuracy, epoch = best_accuracy(history, self.n_val)
        use = accuracy > constant_accuracy
        self.out(f"halving schedule (η/2 after {patience} epochs without improvement, stop at η/128): "
                 f"{100 * accuracy:.2f} % at epoch {epoch} of {len(history.evaluation_accuracy)} vs "
                 f"{100 * constant_accuracy:.2f} % with constant η: {'use it' if use else 'keep η constant'}")
        self.evidence["halving"] = {"accuracy": accuracy, "best_epoch": epoch,
                                    "epochs_run": len(history.evaluation_accuracy), "used": use,
                                    "curve": [a / self.n_val for a in history.evaluation_accuracy]}
        return use, epoch + 1

    def lmbda_rungs(self, eta, lmbdas, epochs):
        histories, _ = train_members(self.sizes, self.members([eta] * len(lmbdas), lmbdas), self.train_data,
                                     self.validation, epochs, 10, model=self.model)
        found = {lam: best_accuracy(h, self.n_val) for lam, h in zip(lmbdas, histories)}
        self.best_epochs.update({("lmbda", lam): e for lam, (_, e) in found.items()})
        return {lam: a for lam, (a, _) in found.items()}

    def lmbda_ladder(self, eta, epochs):
        """λ = 0 and 1.0, then ×10 up or down while the end rung is the best; refine by ×3 and ÷3."""
        self.out(f"λ ladder (best validation accuracy in {epochs} epochs, η = {eta:g}):")
        scores = self.lmbda_rungs(eta, [0.0, 0.1, 1.0, 10.0], epochs)
        for _ in range(4):  # at most 10⁻⁵ .. 10⁵
            best = max(scores, key=lambda lam: (scores[lam], -lam))
            rungs = sorted(lam for lam in scores if lam > 0)
            if best == rungs[-1]:
                more = [best * 10, best * 100]
            elif best == rungs[0] and len(rungs) > 1 and scores[best] > scores[0.0]:
                more = [best / 10, best / 100]
            else:
                break
            scores.update(self.lmbda_rungs(eta, more, epochs))
        for lam in sorted(scores):
            self.out(f"  λ = {lam:<8g} {100 * scores[lam]:.2f} %")
        best = max(scores, key=lambda lam: (scores[lam], -lam))
        if best > 0:
            refined = self.lmbda_rungs(eta, [best / 3, best * 3], epochs)
            for lam, accuracy in refined.items():
                self.out(f"  λ = {lam:<8.3g} {100 * accuracy:.2f} %  (refined)")
            scores.update(refined)
        best = max(scores, key=lambda lam: (scores[lam], -lam))
        self.out(f"  λ = {best:.3g} ({100 * scores[best]:.2f} %)")
        self.evidence["lmbda_ladder"] = {"accuracy": {str(k): v for k, v in scores.items()}, "lmbda": best}
        return best

    def retune_eta(self, eta, lmbda, epochs):
        """With λ fixed, try η/2, η and 2η and keep the best on validation."""
        etas = [eta / 2, eta, eta * 2]
        histories, _ = train_members(self.sizes, self.members(etas, [lmbda] * 3), self.train_data,
                                     self.validation, epochs, 10, model=self.model)
        found = {e: best_accuracy(h, self.n_val) for e, h in zip(etas, histories)}
        scores = {e: a for e, (a, _) in found.items()}
        best = max(scores, key=lambda e: (scores[e], e == eta))
        self.best_epochs[("eta", best)] = found[best][1]
        self.out("η re-tuned with λ = {:.3g}: ".format(lmbda)
                 + ", ".join(f"η = {e:g}: {100 * a:.2f} %" for e, a in scores.items()) + f" → η = {best:g}")
        self.evidence["eta_retuned"] = {"accuracy": {str(k): v for k, v in scores.items()}, "eta": best,
                                        "best_epoch": found[best][1]}
        return best, scores[best], found[best][1] + 1

    def mini_batch(self, eta, lmbda, choice="fastest"):
        """m by ``choice`` (see M_CHOICES): the fastest m (wall clock per epoch) whose accuracy after a
        few epochs is within 0.5 points of the best, or the most accurate m."""
        epochs = self.budget["m_epochs"]
        rows = {}
        for m in MINI_BATCH_SIZES:
            net = Network(self.sizes, seed=self.seed, **self.model)
            start = time.perf_counter()
            history = train(net, self.train_data, epochs, m, eta, lmbda=lmbda, evaluation_data=self.validation,
                            monitor_evaluation_accuracy=True)
            seconds = (time.perf_counter() - start) / epochs
            rows[m] = (seconds, best_accuracy(history, self.n_val)[0])
        top = max(a for _, a in rows.values())
        if choice == "accuracy":
            m = min(m for m, (_, a) in rows.items() if a == top)
        else:
            good = [m for m, (_, a) in rows.items() if a >= top - 0.005]
            m = min(good, key=lambda m: rows[m][0])
        self.out(f"mini-batch size (seconds per epoch, validation accuracy after {epochs} epochs, same η):")
        for size, (seconds, accuracy) in rows.items():
            chosen = "  ← chosen" if size == m else ""
            self.out(f"  m = {size:<4} {seconds:7.3f} s  {100 * accuracy:.2f} %{chosen}")
        self.out(f"  m = {m}: {M_CHOICES[choice].format(epochs=epochs)}")
        self.evidence["mini_batch"] = {"rows": {str(k): {"seconds": s, "accuracy": a} for k, (s, a) in rows.items()},
                                       "m": m, "choice": choice}
        return m


# ---- the command ------------------------------------------------------------------------------

def reproduce_command(args, sizes, eta, epochs, lmbda, m, halve, patience):
    parts = ["nnaccel", "train", "--dataset", args.dataset]
    if args.data:
        parts += ["--data", args.data]
    if args.classes:
        parts += ["--classes", *map(str, args.classes)]
    parts += ["--sizes", *map(str, sizes), "--cost", args.cost,
              "--hidden-activation", *args.hidden_activation, "--output-activation", args.output_activation,
              "--eta", f"{eta:g}", "--lmbda", f"{lmbda:g}", "-m", str(m), "--epochs", str(epochs)]
    if halve:
        parts += ["--schedule", "halve", "--patience", str(patience)]
    parts += ["--validation-size", str(args.validation_size), "--seed", str(args.seed)]
    if args.dtype != "float32":
        parts += ["--dtype", args.dtype]
    return parts


def cmd_tune(args, out=print):
    for name, row in TUNE_OPTIONS.items():  # before any file is read, each in its row's words
        if not (getattr(args, name) is None and row.default is None):  # None: tune's to choose
            setattr(args, name, parameters.check(name, getattr(args, name), TUNE_OPTIONS))
    run_files.check_folder("--report", args.report, REPORT_FILES,
                           [("a data file", path) for path in data_files(args.dataset, args.data)])
    if args.report:
        require_matplotlib()
    began = time.perf_counter()
    dataset = strip_dataset(load_dataset(args.dataset, args.data), args.classes)
    sizes = args.sizes or [dataset.n_pixels, 30, dataset.n_classes]
    check_sizes_fit(sizes, dataset)
    if args.validation_size is None:
        args.validation_size = min(10000, len(dataset.train[1]) // 5)
    train_data, validation = holdout(dataset.train, args.validation_size)
    hidden = args.hidden_activation[0] if len(args.hidden_activation) == 1 else args.hidden_activation
    model = {"cost": args.cost, "hidden_activation": hidden, "output_activation": args.output_activation,
             "init": args.init, "device": args.device, "backend": args.backend, "dtype": args.dtype}
    out(f"nnaccel tune: {dataset.name}, sizes {sizes}, {args.cost} cost, {len(train_data[1])} training / "
        f"{len(validation[1])} validation images (the test set is not used), budget {args.budget}")
    tuner = Tuner(sizes, model, train_data, validation, args.budget, args.seed, out)
    eta = tuner.eta_threshold()
    epochs, _ = tuner.early_stopping(eta)
    patience = tuner.budget["patience"]
    lmbda = tuner.lmbda_ladder(eta, epochs + patience)  # room for a regularised net to improve later
    eta, accuracy, epochs = tuner.retune_eta(eta, lmbda, epochs + patience)
    halve, halve_epochs = tuner.halving(eta, lmbda, accuracy)
    epochs = halve_epochs if halve else epochs
    if args.mini_batch_size is None:
        m = tuner.mini_batch(eta, lmbda, args.m_choice)
    else:
        m = args.mini_batch_size
        out(f"mini-batch size: m = {m}, given by --mini-batch-size (the timing step is skipped)")

    net = Network(sizes, seed=args.seed, **model)
    history = train(net, train_data, epochs, m, eta, lmbda=lmbda, evaluation_data=validation,
                    monitor_evaluation_accuracy=True, schedule="halve" if halve else "constant",
                    patience=patience)
    final = history.evaluation_accuracy[-1] / len(validation[1])
    command = reproduce_command(args, sizes, eta, epochs, lmbda, m, halve, patience)
    n = len(train_data[1])
    out(f"chosen: η = {eta:g}, epochs = {epochs}, λ = {lmbda:g} (at n = {n}: the book's λ = 5.0 at "
        f"n = 50,000 is λ = {5.0 * n / 50000:.3g} here), m = {m} "
        f"({'given' if args.mini_batch_size else 'by --m-choice ' + args.m_choice})"
        + (", halving schedule" if halve else ""))
    out(f"validation accuracy: {100 * final:.2f} % ({history.evaluation_accuracy[-1]} / {len(validation[1])}), "
        f"tuned in {time.perf_counter() - began:.0f} s")
    out("reproduce (and score the test set once): " + " ".join(command))
    if args.report:
        write_report(args.report, tuner.evidence, {
            "dataset": dataset.name, "sizes": sizes, "cost": args.cost, "budget": args.budget,
            "n_training": n, "n_validation": len(validation[1]), "eta": eta, "epochs": epochs,
            "lmbda": lmbda, "mini_batch_size": m, "halving": halve, "validation_accuracy": final,
            "command": " ".join(command), "seconds": time.perf_counter() - began}, out)
    return 0


def write_report(folder, evidence, chosen, out):
    """tune.json, eta_ladder.png (cost per rung), lmbda_ladder.png (accuracy per λ), early_stopping.png."""
    plt = require_matplotlib()
    os.makedirs(folder, exist_ok=True)
    with atomic_write(os.path.join(folder, "tune.json"), "w") as f:
        json.dump({"chosen": chosen, "evidence": evidence}, f, indent=1)

    fig, ax = plt.subplots(figsize=(6, 4))
    for eta, costs in sorted(evidence["eta_ladder"]["costs"].items(), key=lambda item: float(item[0])):
        ax.plot(range(len(costs)), [c if math.isfinite(c) else None for c in costs], marker="o", label=f"η = {eta}")
    ax.set(xlabel="epochs trained", ylabel="training cost", title="η ladder: cost in the first epochs", yscale="log")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    save_figure(fig, os.path.join(folder, "eta_ladder.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    scores = sorted((float(k), v) for k, v in evidence["lmbda_ladder"]["accuracy"].items())
    shown = [(lam if lam > 0 else min(x for x, _ in scores if x > 0) / 10, a) for lam, a in scores]
    ax.plot([x for x, _ in shown], [100 * a for _, a in shown], marker="o")
    ax.set(xscale="log", xlabel="λ (λ = 0 drawn at the left end)", ylabel="validation accuracy (%)",
           title="λ ladder")
    ax.grid(alpha=0.3)
    save_figure(fig, os.path.join(folder, "lmbda_ladder.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    curve = evidence["early_stopping"]["curve"]
    ax.plot(range(len(curve)), [100 * a for a in curve])
    ax.axvline(evidence["early_stopping"]["best_epoch"], color="gray", linestyle="--", label="best epoch")
    ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Early stopping")
    ax.legend()
    ax.grid(alpha=0.3)
    save_figure(fig, os.path.join(folder, "early_stopping.png"))
    out(f"nnaccel tune: wrote {folder}/tune.json, eta_ladder.png, lmbda_ladder.png, early_stopping.png")
