"""``nnaccel train``: check what only the command knows, read the data, build the network, train
it with the book's line per epoch, then report and write the outputs (model, plot, history)."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from tqdm import tqdm

from ..backend import make_rng
from ..core import memory, parameters
from ..core.parameters import OPTIONS
from ..data import load_dataset
from ..data.datasets import check_sizes_fit, data_files
from ..data.expand import expand
from ..errors import NNAccelError, TrainingDiverged
from ..io import run_files
from ..io.plot import plot_history, require_matplotlib
from ..nets.network import Network
from ..tools._tuning import strip_dataset
from ..tools.flags import EXIT_USAGE, add_train_flags
from ..training import outputs
from ..training.signals import GUARD
from ..training.trainer import train
from .resume import TRAIN_SETTINGS, resume_settings
from .summary import summary_line

MODEL_SUFFIXES = (".json", ".npz")


def add_parser(sub):
    p = sub.add_parser("train", help="train a network (the book's first one by default)")
    add_train_flags(p)
    p.set_defaults(run=run)


def _dataset(args):
    return load_dataset(args.dataset, args.data, progress=sys.stderr.isatty())


def check_suffix(path, flag, suffixes):
    """Refuse a file name whose extension would not say what the file holds."""
    if path and Path(path).suffix.lower() not in suffixes:
        raise NNAccelError(f"{flag} {path}: the name must end in {' or '.join(suffixes)}, "
                           f"which says what the file holds; e.g. {flag} {Path(path).with_suffix(suffixes[-1])}")


def validate_train_args(args):
    """Refuse, before any data is read, what only the command knows: its data and run options (their
    rows of nnaccel.core.parameters.OPTIONS) and its files. The training parameters are the API's
    to check, once, when the network is built and trained; their refusal is the same one line."""
    for name in OPTIONS:
        setattr(args, name, parameters.check(name, getattr(args, name)))
    check_train_files(args)
    check_suffix(args.save, "--save", MODEL_SUFFIXES)
    check_suffix(args.plot, "--plot", (".png",))
    if args.plot:
        require_matplotlib()


def check_train_files(args):
    """Every output of ``nnaccel train`` named, writable, distinct, and none of the files it reads."""
    inputs = [("a data file", path) for path in data_files(args.dataset, args.data)]
    inputs.append(("the checkpoint being resumed", args.resume))
    run_files.check([(f"--{flag}", getattr(args, flag)) for flag in ("save", "checkpoint", "history", "plot")],
                    inputs, may_replace={("--checkpoint", "the checkpoint being resumed")})


def split_validation(dataset, size):
    """(training, validation) with the last ``size`` training images held out."""
    x, y = dataset.train
    if size >= len(y):
        raise NNAccelError(f"--validation-size {size} leaves no training data ({len(y)} images); use a smaller N")
    return (x[:-size], y[:-size]), (x[-size:], y[-size:])


def run(args, out=print):
    resume = resume_settings(args, getattr(args, "typed", set())) if args.resume else None
    with GUARD.deferred():  # it probes each output with a temporary file: a signal never leaves one behind
        validate_train_args(args)
    if args.seed is None:
        args.seed = secrets.randbelow(2**31)  # recorded so that a resumed run can redo the expansion
    with GUARD.interruptible():  # a signal that came during the checks stops the command here
        dataset = strip_dataset(_dataset(args), args.classes)
    sizes = args.sizes or [dataset.n_pixels, 30, dataset.n_classes]
    check_sizes_fit(sizes, dataset)
    memory.check_dataset_run(sizes, len(dataset.train[1]), len(dataset.test[1]), dataset.n_pixels + dataset.n_classes,
                             args.mini_batch_size, args.dtype, args.expand)
    hidden = args.hidden_activation
    hidden = hidden[0] if isinstance(hidden, list) and len(hidden) == 1 else hidden
    net = Network(sizes, cost=args.cost, hidden_activation=hidden,
                  output_activation=args.output_activation, init=args.init,
                  device=args.device, backend=args.backend, dtype=args.dtype, seed=args.seed,
                  softmax_temperature=args.softmax_temperature)
    train_set, monitor_set = dataset.train, dataset.test
    if args.validation_size:
        train_set, monitor_set = split_validation(dataset, args.validation_size)
    train_data = net.data(train_set, scale=args.scale)
    monitor_data = net.data(monitor_set, scale=args.scale)
    if args.expand:
        train_data = expand(net.backend, train_data, args.expand, make_rng([args.seed, 1]), args.max_angle)

    header = _header(args, net, dataset, train_data, resume)

    def announce():
        """The header, once the API has taken the settings: a refused one leaves stdout empty."""
        while header:
            line = header.pop(0)
            if bar.disable:
                out(line)
            else:
                tqdm.write(line)  # above the progress bar, not inside it

    def report(record):
        bar.update(1)
        line = (f"Epoch {record['epoch']}: {record['evaluation_accuracy']} / {record['n_evaluation']}, "
                f"cost {record['evaluation_cost']:.4f}, {record['seconds']:.2f} s")
        if record["eta"] != args.eta:
            line += f", eta {record['eta']:g}"
        if bar.disable:
            out(line)
        else:
            tqdm.write(line)
        history.append(record)

    config = {key: getattr(args, key) for key in TRAIN_SETTINGS}
    with GUARD.deferred():  # from here on a signal stops at an epoch boundary, never mid-write
        # made here, not where a signal may cut them short: a half-made bar's finalizer fails at
        # exit, and a resumed run's history is rewritten
        history = outputs.HistoryFile(args.history, resume[0]["state"]["records"] if resume else None)
        bar = tqdm(total=args.epochs, unit="epoch", disable=not sys.stderr.isatty(), leave=False)
        if resume:
            bar.update(resume[0]["state"]["epoch"])
        try:
            result = train(
                net, train_data, args.epochs, args.mini_batch_size, args.eta, lmbda=args.lmbda,
                evaluation_data=monitor_data, monitor_evaluation_accuracy=True, monitor_evaluation_cost=True,
                callback=report, l1=args.l1, momentum=args.momentum, nesterov=args.nesterov,
                early_stopping=args.early_stopping, stopping_rule=args.stopping_rule,
                schedule=args.schedule, patience=args.patience, step_size=args.step_size, gamma=args.gamma,
                checkpoint=args.checkpoint, resume=resume,
                interrupt_path=args.checkpoint or "nnaccel-checkpoint.npz", config=config, fused=args.fused,
                optimizer=args.optimizer, damping=args.damping, dropout=args.dropout,
                dropout_mode=args.dropout_mode, started=announce)
        except NNAccelError as e:
            if isinstance(e, TrainingDiverged):  # the run began: its header comes before the error
                announce()
            raise
        except BaseException:  # a signal, a bug: the run began as far as its outputs go
            announce()
            raise
        finally:
            bar.close()
        announce()  # no epoch trained (a finished checkpoint's run, or --epochs 0)
        return _report_and_save(args, net, dataset, result, out)


def _header(args, net, dataset, train_data, resume):
    """The lines printed before the first epoch: the backend, the data, the network, the settings."""
    lines = [f"nnaccel: {net.backend.note}"] if net.backend.note else []
    lines.append(f"nnaccel: {net.backend.describe()}, data {dataset.describe()}, {net.describe()}")
    extras = [f"{k} {getattr(args, k)}" for k in ("l1", "momentum", "early_stopping", "expand", "scale", "damping")
              if getattr(args, k)]
    if args.dropout:
        extras.append(f"dropout {args.dropout} {args.dropout_mode}")
    if args.schedule != "constant":
        extras.append(f"schedule {args.schedule}")
    batches = (f"mini-batch {args.mini_batch_size}" if args.optimizer == "sgd"
               else f"{args.optimizer}, full batch")
    epochs = f"{args.epochs} epoch" + ("s" if args.epochs != 1 else "")
    lines.append(f"nnaccel: {epochs}, {batches}, eta {args.eta}, lmbda {args.lmbda}" + "".join(", " + e for e in extras)
                 + f", {len(train_data)} training examples" + (f", resuming {args.resume}" if resume else ""))
    if resume and resume[0]["state"]["epoch"] >= args.epochs:
        lines.append(f"nnaccel: the checkpoint's run is complete ({resume[0]['state']['epoch']} of {args.epochs} "
                     f"epochs); give --epochs N (more than {resume[0]['state']['epoch']}) to train further")
    return lines


def _report_and_save(args, net, dataset, history, out):
    """After training: the summary lines, then the model (first: it matters most), then the plot."""
    records = history.records
    if history.stopped:
        out(f"nnaccel: stopped after epoch {records[-1]['epoch'] if records else 0}: {history.stopped}")
    if args.early_stopping and records:
        best = max(records, key=lambda r: r["evaluation_accuracy"])
        monitored = "validation" if args.validation_size else "test"
        out(f"nnaccel: kept the best network, epoch {best['epoch']}: "
            f"{best['evaluation_accuracy']} / {best['n_evaluation']} on the {monitored} data")
    if args.validation_size:
        test = net.data(dataset.test, scale=args.scale)
        correct = net.accuracy(test)
        out(f"Test accuracy: {correct} / {len(test)} ({100.0 * correct / len(test):.2f} %)")
    failed, saved = [], None
    if args.save:
        saved, problem = outputs.save_model(net, args.save)
        if problem:
            failed.append(problem)
    if args.plot:
        try:
            plot_history(history.records, args.plot, f"{net.describe()}, eta {args.eta}")
            out(f"nnaccel: plotted to {args.plot}")
        except (OSError, NNAccelError) as e:
            failed.append(f"could not write the plot {args.plot} ({outputs.reason(e)}); the numbers are in --history")
    for problem in failed:
        print(f"nnaccel: error: {problem}", file=sys.stderr)
    out(summary_line(records, "validation" if args.validation_size else "test", saved,
                     save_failed=bool(args.save) and saved is None))
    return EXIT_USAGE if failed else 0
