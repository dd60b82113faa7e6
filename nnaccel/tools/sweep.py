"""``nnaccel sweep``: grid, random or Bayesian (TPE) search on Optuna, shared by many workers.

The study lives in a SQLAlchemy database (a SQLite file by default; PostgreSQL to share it
between machines). ``--trials N`` is the study's budget: every worker stops once the study
holds N finished (complete or pruned) trials. Each worker asks for a batch of trials, trains
those that share a shape and mini-batch size as one population, reports the validation
accuracy after every epoch (the median pruner stops the poor ones) and tells the results
(nnaccel.tools._studies). A worker killed with ``kill -9`` stops sending heartbeats; GRACE_S later,
the next worker to look marks its trials failed and runs them again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections import defaultdict

from .._files import atomic_write
from ..core import parameters
from ..core.parameters import SWEEP_OPTIONS
from ..core.activations import check_trainable
from ..data import load_dataset
from ..errors import NNAccelError
from ..io.plot import require_matplotlib
from ..nets.network import Network
from ._search_space import SearchSpace, hidden_widths
from ._studies import (completed, load_data, make_sampler, model_options, open_storage, open_study,
                       run_worker, study_description, study_results)
from ..training.trainer import train
from ._sweep_outputs import check_output_paths, check_outputs_against_inputs
from ._tuning import expand_host, holdout, strip_dataset

WORKER_STOP_S = 10  # how long a local worker may take to finish its write after SIGTERM
INSTALL = "nnaccel sweep needs Optuna: pip install 'nnaccel[sweep]' (or: pip install optuna 'psycopg[binary]')"


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise NNAccelError(INSTALL) from None
    return optuna


# ---- the command ----------------------------------------------------------------------------

def check_args(args, space):
    if args.sizes:
        raise NNAccelError("--sizes: a sweep takes its hidden layers from --hidden, e.g. --hidden 100,300x100")
    activations = args.hidden_activation
    for widths in space.hidden.values:
        if len(activations) > 1 and len(activations) != len(widths):
            raise NNAccelError(f"--hidden-activation names {len(activations)} layers but --hidden "
                               f"{'x'.join(map(str, widths))} has {len(widths)}; give one name for all layers")
    # the settings every trial shares, checked before the storage exists: a refusal leaves no file;
    # sweep's own rows first (its epochs, schedule and expansion are narrower than train's)
    for name in SWEEP_OPTIONS:
        parameters.check(name, getattr(args, name), SWEEP_OPTIONS)
    for name in ("early_stopping", "patience", "dataset", "backend", "dtype"):
        parameters.check(name, getattr(args, name))
    for widths in space.hidden.values:  # the layers and the cost, on a network of the same depth
        check_trainable(Network([1, *([1] * len(widths)), 2], **model_options(args)).activations)
    check_output_paths(args)
    if args.plot:
        require_matplotlib()


def worker_command(args):
    """The command line of one local worker process for ``--jobs``."""
    cmd = [sys.executable, "-m", "nnaccel", "sweep", "--worker", "--jobs", "1"]
    for key, value in sorted(vars(args).items()):
        if key in ("run", "command", "jobs", "worker", "plot", "save", "results", "sizes", "func", "classes") \
                or value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            if key == "prune" and not value:
                cmd.append("--no-prune")
            elif key == "quiet" and value:
                cmd.append("--quiet")
            continue
        if isinstance(value, list):
            cmd += [flag, *map(str, value)]
        else:
            cmd += [flag, str(value)]
    return cmd


def cmd_sweep(args, out=print):
    optuna = require_optuna()
    # Heartbeats and fail_stale_trials are "experimental", and meant for study.optimize; this
    # worker records its own heartbeats, which is what they need.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage")
    space = SearchSpace.parse(args.eta, args.lmbda, args.momentum, args.hidden, args.mini_batch_size)
    check_args(args, space)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = load_data(args)  # before the storage: bad input leaves nothing behind
    check_outputs_against_inputs(args, data[0])
    storage = open_storage(optuna, args.storage)
    grid = space.grid(args.grid_points) if args.sampler == "grid" else None
    pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2) if args.prune \
        else optuna.pruners.NopPruner()
    study = open_study(optuna, storage, args.study, study_description(args, space),
                       make_sampler(optuna, args.sampler, None), pruner, grid)
    if args.jobs > 1:
        run_local_workers(args)
    else:
        if not args.quiet:
            out(f"nnaccel: study {args.study!r} in {args.storage}: {space.describe()}, "
                f"{args.trials} trials in all, {args.sampler} sampler"
                + (f" ({len(grid)} grid points)" if grid else "")
                + f", {len(data[1][1])} training / {len(data[2][1])} validation images")
        run_worker(args, study, space, args.trials, data, out)
    if args.worker:
        return 0
    print_table(study, args.top, out)
    if args.results:
        with atomic_write(args.results, "w") as f:
            json.dump(study_results(study), f, indent=1)
        out(f"nnaccel: wrote {args.results}")
    if args.plot:
        plot_study(optuna, study, args.plot, out)
    if args.save:
        retrain_best(args, study, out)
    return 0


def run_local_workers(args):
    """``--jobs N``: N worker processes on the study. Whatever stops this process (a signal, an
    error) stops them too, each losing only its trial in flight, so none outlives the command."""
    workers = []
    try:
        workers += [subprocess.Popen(worker_command(args)) for _ in range(args.jobs)]
        codes = [w.wait() for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
        for w in workers:
            try:
                w.wait(timeout=WORKER_STOP_S)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
    if any(codes):
        raise NNAccelError(f"a worker exited with code {max(codes)}; see its message above")


def print_table(study, top, out):
    trials = study.get_trials(deepcopy=False)
    states = defaultdict(int)
    for t in trials:
        states[t.state.name.lower()] += 1
    out(f"study {study.study_name!r}: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items())))
    best = completed(study)[:top]
    if not best:
        return
    out(f"{'trial':>5}  {'hidden':>9}  {'m':>4}  {'eta':>9}  {'lmbda':>9}  {'momentum':>8}  "
        f"{'epoch':>5}  validation")
    for t in best:
        p = t.params
        out(f"{t.number:>5}  {p['hidden']:>9}  {p['mini_batch_size']:>4}  {p['eta']:>9.4g}  "
            f"{p['lmbda']:>9.4g}  {p['momentum']:>8.3g}  {t.user_attrs.get('best_epoch', -1):>5}  "
            f"{100 * t.value:.2f} %")


def plot_study(optuna, study, folder, out):
    """Optuna's matplotlib figures: optimisation history, parameter importances, slices."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(folder, exist_ok=True)
    values = defaultdict(set)
    for t in completed(study):
        for key, value in t.params.items():
            values[key].add(value)
    varied = [key for key, seen in values.items() if len(seen) > 1] or None  # fixed settings: no panel
    vis = optuna.visualization.matplotlib
    figures = {"history": vis.plot_optimization_history,
               "importances": lambda s: vis.plot_param_importances(s, params=varied),
               "slices": lambda s: vis.plot_slice(s, params=varied)}
    for name, draw in figures.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna's "experimental" warnings
            try:
                draw(study)
            except (ValueError, RuntimeError) as error:  # e.g. importances need 2+ varied params
                out(f"nnaccel: no {name} figure: {error}")
                plt.close("all")
                continue
        path = os.path.join(folder, f"{name}.png")
        plt.gcf().savefig(path, dpi=100, bbox_inches="tight")
        plt.close("all")
        out(f"nnaccel: plotted {path}")


def train_command(args, sizes, params, epochs, seed, validation):
    """The ``nnaccel train`` command that trains this configuration."""
    parts = ["nnaccel", "train", "--dataset", args.dataset]
    if args.data:
        parts += ["--data", args.data]
    parts += ["--sizes", *map(str, sizes)]
    parts += ["--cost", args.cost, "--hidden-activation", *args.hidden_activation,
              "--output-activation", args.output_activation, "--eta", repr(params["eta"]),
              "--lmbda", repr(params["lmbda"]), "--momentum", repr(params["momentum"]),
              "-m", str(params["mini_batch_size"]), "--epochs", str(epochs), "--seed", str(seed)]
    if args.schedule != "constant":
        parts += ["--schedule", args.schedule, "--patience", str(args.patience)]
    if args.expand:
        parts += ["--expand", args.expand]
    if validation:
        parts += ["--validation-size", str(validation)]
    if args.dtype != "float32":
        parts += ["--dtype", args.dtype]
    return parts


def retrain_best(args, study, out):
    """Train the best trial's configuration again, on all the training data, and save it.

    With a constant η it trains for the trial's best number of epochs on train + validation;
    the halving schedule needs the validation images, so it keeps the split. The test set is
    scored once, at the end.
    """
    best = completed(study)
    if not best:
        raise NNAccelError(f"study {study.study_name!r} has no completed trial to save; run more --trials")
    trial = best[0]
    params = trial.params
    dataset = strip_dataset(load_dataset(args.dataset, args.data), getattr(args, "classes", None))
    seed = trial.user_attrs.get("seed", args.seed + trial.number)
    sizes = [dataset.n_pixels, *hidden_widths(params["hidden"]), dataset.n_classes]
    net = Network(sizes, seed=seed, **model_options(args))
    if args.schedule == "constant":
        epochs = trial.user_attrs.get("best_epoch", args.epochs - 1) + 1
        train_data, evaluation, validation = expand_host(dataset.train, args.expand), None, 0
    else:
        epochs, validation = args.epochs, args.validation_size
        train_data, evaluation = holdout(dataset.train, validation)
        train_data = expand_host(train_data, args.expand)
    command = train_command(args, sizes, params, epochs, seed, validation)
    out(f"nnaccel: retraining trial {trial.number} ({100 * trial.value:.2f} % on validation): "
        + " ".join(command))
    train(net, train_data, epochs, params["mini_batch_size"], params["eta"], lmbda=params["lmbda"],
          momentum=params["momentum"], evaluation_data=evaluation, schedule=args.schedule,
          patience=args.patience)
    correct = net.accuracy(dataset.test)
    out(f"Test accuracy: {correct} / {len(dataset.test[1])} ({100.0 * correct / len(dataset.test[1]):.2f} %)")
    net.save(args.save)
    out(f"nnaccel: saved the model to {args.save}")
    return {"trial": trial.number, "validation_accuracy": trial.value, "params": params, "epochs": epochs,
            "seed": seed, "test_accuracy": correct / len(dataset.test[1]), "command": command}

