"""``nnaccel``: a thin command line over the Python API (train, evaluate, info).

Exit codes: 0 done; 2 a user error (one line naming the fix, nothing half-written); 3 training
diverged; 130 / 143 stopped by SIGINT / SIGTERM (the last complete epoch saved); 1 a bug.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import signal
import sys
import warnings
from pathlib import Path

from . import __version__, files, optimizers, outputs
from .activations import ACTIVATIONS, UNTRAINABLE
from .costs import COSTS
from .dropout import MODES as DROPOUT_MODES
from .dropout import check_dropout
from .errors import NNAccelError, TrainingDiverged, TrainingInterrupted
from .signals import GUARD, exit_code
from .signals import name as signal_name
from .tuning import strip_dataset

EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130  # SIGINT; SIGTERM gives 143 (128 + the signal's number)
MODEL_SUFFIXES = (".json", ".npz")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and exit code 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    return value


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


HIDDEN_ACTIVATIONS = [name for name, act in ACTIVATIONS.items() if act.hidden_ok]


def add_model_flags(p):
    p.add_argument("--sizes", type=_int, nargs="+", metavar="N",
                   help="layer widths, e.g. 784 30 10 (default: pixels, 30, classes)")
    p.add_argument("--cost", default="quadratic", choices=list(COSTS))
    p.add_argument("--hidden-activation", default=["sigmoid"], nargs="+", metavar="NAME",
                   choices=HIDDEN_ACTIVATIONS,
                   help=f"{', '.join(HIDDEN_ACTIVATIONS)}: one for all hidden layers, or one per layer "
                        "(step neurons evaluate but cannot be trained)")
    p.add_argument("--output-activation", default="sigmoid", choices=list(ACTIVATIONS))
    p.add_argument("--init", default="default", choices=["default", "large"],
                   help="default: N(0,1)/sqrt(n_in); large: N(0,1)")


def add_runtime_flags(p):
    from .data.datasets import NAMES

    p.add_argument("--dataset", default="mnist-10k", choices=list(NAMES),
                   help="a named data set (default: the embedded 10,000 MNIST digits)")
    p.add_argument("--data", metavar="PATH", help="a folder of IDX files, or Nielsen's mnist.pkl.gz")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--backend", choices=["numpy", "cupy", "torch", "array_api_strict"])
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])


def add_training_flags(p):
    p.add_argument("--epochs", type=_int, default=30, metavar="N",
                   help="epochs to train (default: %(default)s); with --resume, the total to reach")
    p.add_argument("--mini-batch-size", "-m", type=_int, default=10, metavar="M",
                   help="examples per mini-batch (default: %(default)s)")
    p.add_argument("--eta", type=_float, default=3.0, help="learning rate η (default: %(default)s)")
    p.add_argument("--lmbda", type=_float, default=0.0, help="L2 regularisation λ (default: %(default)s)")
    p.add_argument("--l1", type=_float, default=0.0, help="L1 regularisation λ (default: %(default)s)")
    p.add_argument("--momentum", type=_float, default=0.0,
                   help="momentum coefficient μ in [0, 1) (default: %(default)s)")
    p.add_argument("--nesterov", action="store_true", help="Nesterov's variant of momentum")
    p.add_argument("--early-stopping", type=_int, metavar="N",
                   help="stop when the evaluation accuracy has not improved for N epochs; keep the best network")
    p.add_argument("--stopping-rule", default="no-improvement", choices=["no-improvement", "average"],
                   help="average: the mean of the last N epochs is no better than the N before")
    p.add_argument("--schedule", default="constant", choices=["constant", "halve", "step", "exponential"],
                   help="halve: η/2 when no improvement in --patience epochs, stop at η/128")
    p.add_argument("--patience", type=_int, default=10, metavar="N",
                   help="epochs without improvement before --schedule halve halves η (default: %(default)s)")
    p.add_argument("--step-size", type=_int, default=10, metavar="N",
                   help="epochs between steps of --schedule step (default: %(default)s)")
    p.add_argument("--gamma", type=_float, default=0.5,
                   help="factor of the step/exponential schedule (default: %(default)s)")
    p.add_argument("--expand", choices=["shifts", "rotations"],
                   help="expand the training data: the book's 1-pixel shifts (5x) or random rotations (2x)")
    p.add_argument("--max-angle", type=_float, default=15.0, help="largest rotation, in degrees (default: %(default)s)")
    p.add_argument("--validation-size", type=_int, default=0, metavar="N",
                   help="hold out the last N training images to monitor; the test set is scored once at the end")
    p.add_argument("--seed", type=_int, help="fixes the initial weights, expansion and shuffling")
    p.add_argument("--no-fused", dest="fused", action="store_false",
                   help="use the generic array-API path even where a backend-specific fast path applies")


def add_method_flags(p):
    """Chapter 3's further methods, for ``nnaccel train``: the optimizer, dropout, softmax's temperature."""
    p.add_argument("--optimizer", default="sgd", choices=list(optimizers.NAMES),
                   help="sgd: mini-batch SGD (with --lmbda, --l1, --momentum, --nesterov); newton, hessian-free, "
                        "lbfgs: one full-batch step per epoch, the book's Hessian technique and its relatives")
    p.add_argument("--damping", type=_float, metavar="D",
                   help="δ ≥ 0 of newton's (H + δI) and hessian-free's initial Levenberg-Marquardt λ "
                        "(default: each optimizer's own)")
    p.add_argument("--dropout", type=_float, default=0.0, metavar="P",
                   help="delete a fraction P of the hidden neurons for each mini-batch (the book: 0.5); "
                        "evaluation and --save scale the weights out of them by 1 - P (default: 0)")
    p.add_argument("--dropout-mode", default="per-batch", choices=list(DROPOUT_MODES),
                   help="per-batch: one set of deleted neurons per mini-batch, as the book; per-example: "
                        "a set per example (default: %(default)s)")
    p.add_argument("--softmax-temperature", type=_float, default=1.0, metavar="C",
                   help="c in a_j = e^(c z_j) / sum_k e^(c z_k), with --output-activation softmax; "
                        "larger c is closer to the max (default: 1, the book's softmax)")


def add_scale_flag(p):
    p.add_argument("--scale", type=_float, metavar="S",
                   help="divide the inputs by S, e.g. 255 for raw pixels stored as floats (uint8 pixels are "
                        "divided by 255 without it)")


RESUME_HELP = (
    "continue the run saved in this checkpoint, with the checkpoint's settings; --epochs N sets the total "
    "to reach, so a finished run can be extended; another training flag is refused if it differs from the "
    "checkpoint's value; --history is rewritten from the checkpoint's epochs")


def add_train_flags(train):
    """Every flag of ``nnaccel train`` (also used to tell the flags a user typed from defaults)."""
    add_model_flags(train)
    add_training_flags(train)
    add_method_flags(train)
    add_runtime_flags(train)
    add_scale_flag(train)
    train.add_argument("--classes", type=_int, nargs="+", metavar="C",
                       help="keep only these classes, relabelled 0..k-1: the book's 'strip the problem down'")
    train.add_argument("--save", metavar="FILE", help="save the trained model (.json: network2 format, or .npz)")
    train.add_argument("--checkpoint", metavar="FILE", help="save the whole run after every epoch (atomically)")
    train.add_argument("--resume", metavar="FILE", help=RESUME_HELP)
    train.add_argument("--history", metavar="FILE.jsonl", help="append one JSON line per epoch")
    train.add_argument("--plot", metavar="FILE.png", help="cost and accuracy per epoch, as in the book")


def build_parser():
    parser = _Parser(prog="nnaccel", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nnaccel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    train = sub.add_parser("train", help="train a network (the book's first one by default)")
    add_train_flags(train)

    evaluate = sub.add_parser("evaluate", help="accuracy and cost of a saved model on test data")
    evaluate.add_argument("model", help="a model file saved by nnaccel or network2.py")
    add_runtime_flags(evaluate)
    add_scale_flag(evaluate)
    evaluate.add_argument("--lmbda", type=_float, default=0.0,
                          help="add the L2 term ½(λ/n)Σw² to the cost, as training's printed cost did (default: 0)")
    evaluate.add_argument("--l1", type=_float, default=0.0,
                          help="add the L1 term (λ/n)Σ|w| to the cost (default: 0)")

    experiment = sub.add_parser("experiment", help="re-run one of the book's experiments (chapters 1-3)")
    from .experiments import EXPERIMENTS

    experiment.add_argument("name", choices=list(EXPERIMENTS))
    experiment.add_argument("--out", default=".", metavar="DIR", help="where NAME.json and NAME.png go")
    experiment.add_argument("--scale", type=_float, default=1.0,
                            help="fraction of the book's epochs to run (for a quick look)")
    experiment.add_argument("--dataset", default="mnist-10k", choices=["mnist-10k", "fashion-mnist", "mnist"])
    experiment.add_argument("--device", default="auto")
    experiment.add_argument("--backend", choices=["numpy", "cupy", "torch", "array_api_strict"])
    experiment.add_argument("--seed", type=_int, default=1)

    bench = sub.add_parser("bench", help="time one epoch on every backend this machine has")
    bench.add_argument("--sizes", type=_int, nargs="+", default=[784, 30, 10], metavar="N")
    bench.add_argument("--mini-batch-size", "-m", type=_int, default=10)
    bench.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    bench.add_argument("--examples", type=_int, default=6000, help="examples timed per backend")

    sub.add_parser("info", help="the backends, GPUs and versions this machine has")
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).add_parser(sub)
    return parser


def _dataset(args):
    from .data import load_dataset

    return load_dataset(args.dataset, args.data, progress=sys.stderr.isatty())


def check_sizes_fit(sizes, dataset, flag="--sizes"):
    """Raise NNAccelError unless the first layer matches the pixels and the last the classes."""
    if sizes[0] != dataset.n_pixels:
        raise NNAccelError(
            f"{flag} starts with {sizes[0]} but {dataset.name} has {dataset.n_pixels} pixels per image; "
            f"use {flag} {dataset.n_pixels} ... {sizes[-1]}"
        )
    if sizes[-1] != dataset.n_classes:
        raise NNAccelError(
            f"{flag} ends with {sizes[-1]} but {dataset.name} has {dataset.n_classes} classes; "
            f"use {flag} {sizes[0]} ... {dataset.n_classes}"
        )


def check_writable(path, flag):
    """Refuse an output path that cannot be written now, not after an hour of training."""
    if path:
        files.check_writable(path, flag)


def check_suffix(path, flag, suffixes):
    """Refuse a file name whose extension would not say what the file holds."""
    if path and Path(path).suffix.lower() not in suffixes:
        raise NNAccelError(f"{flag} {path}: the name must end in {' or '.join(suffixes)}, "
                           f"which says what the file holds; e.g. {flag} {Path(path).with_suffix(suffixes[-1])}")


TRAIN_SETTINGS = (
    "sizes", "cost", "hidden_activation", "output_activation", "init", "epochs", "mini_batch_size",
    "eta", "lmbda", "l1", "momentum", "nesterov", "early_stopping", "stopping_rule", "schedule",
    "patience", "step_size", "gamma", "expand", "max_angle", "validation_size", "seed", "dataset",
    "data", "dtype", "scale", "optimizer", "damping", "dropout", "dropout_mode", "softmax_temperature",
    "classes",
)


def typed_flags(argv):
    """The dests of the ``nnaccel train`` flags present in ``argv`` (the words after "train").

    Parsed again with every default replaced by SUPPRESS, so only what the user typed appears.
    """
    probe = _Parser(prog="nnaccel train", add_help=False)
    add_train_flags(probe)
    for action in probe._actions:  # argparse lists its actions nowhere public; set_defaults would convert
        action.default = argparse.SUPPRESS
    typed, _ = probe.parse_known_args(argv)
    return set(vars(typed))


def _saved_value_ok(action, value):
    """Whether a setting read back from a checkpoint is a value its flag could have given."""
    if value is None:
        return action.default is None
    if action.nargs == 0:  # store_true / store_false
        return isinstance(value, bool)
    many = action.nargs in ("+", "*")
    if many and not (isinstance(value, list) and value):
        return False
    for item in value if many else [value]:
        if isinstance(item, (bool, list, dict)):
            return False
        try:
            if action.type is not None and action.type(str(item)) != item:
                return False
        except (argparse.ArgumentTypeError, TypeError, ValueError):
            return False
        if action.choices is not None and item not in action.choices:
            return False
    return True


def check_saved_settings(saved, path):
    """Refuse a checkpoint whose saved settings are not values of ``nnaccel train``'s own flags
    (a hand-edited or damaged file), in one line, before any of them is used."""
    probe = _Parser(prog="nnaccel train", add_help=False)
    add_train_flags(probe)
    actions = {a.dest: a for a in probe._actions}
    for key in TRAIN_SETTINGS:
        if key in saved and not _saved_value_ok(actions[key], saved[key]):
            raise NNAccelError(f"{path}: the checkpoint's saved setting {_flag(key)} = {str(saved[key])[:40]!r} is "
                               "not a value that flag takes; the file is corrupt: start a new run without --resume")


def _flag(key):
    return "--" + key.replace("_", "-")


def _shown(value):
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def _resume_settings(args, typed):
    """Take the run's settings from the --resume checkpoint; refuse typed flags that differ from them.

    ``--epochs N`` is the exception: the total the resumed run trains to, so a finished run
    can be extended.
    """
    from .checkpoint import load_checkpoint

    meta, arrays = load_checkpoint(args.resume)
    saved, done = meta["config"], meta["state"]["epoch"]
    check_saved_settings(saved, args.resume)
    for key in TRAIN_SETTINGS:
        if key == "epochs" or key not in saved:
            continue
        if key in typed and getattr(args, key) != saved[key]:
            raise NNAccelError(
                f"{_flag(key)} {_shown(getattr(args, key))} differs from the checkpoint's {_shown(saved[key])}; "
                f"a resumed run keeps its checkpoint's settings (only --epochs may change): "
                f"drop {_flag(key)}, or start a new run without --resume")
        setattr(args, key, saved[key])
    if "epochs" not in typed:
        args.epochs = saved.get("epochs", args.epochs)
    elif args.epochs < done:
        raise NNAccelError(f"--epochs {args.epochs} is fewer than the {done} epochs the checkpoint has already "
                           f"trained; give --epochs {done + 1} or more to train further")
    elif meta["state"]["stopped"] and args.epochs > done:
        raise NNAccelError(f"the checkpoint's run stopped by itself ({meta['state']['stopped']}), so --epochs "
                           "cannot extend it; start a new run")
    return meta, arrays


def validate_train_args(args):
    from .expand import check_expansion
    from .schedules import check_schedule
    from .trainer import check_hyperparameters

    check_methods(args)
    check_hyperparameters(args.epochs, args.mini_batch_size, args.eta, args.lmbda, args.l1, args.momentum,
                          optimizer=args.optimizer, nesterov=args.nesterov, damping=args.damping,
                          dropout=args.dropout, dropout_mode=args.dropout_mode)
    check_schedule(args.schedule, args.patience, args.step_size, args.gamma, args.early_stopping,
                   args.stopping_rule)
    check_expansion(args.expand, args.max_angle)
    if args.validation_size < 0:
        raise NNAccelError(f"--validation-size {args.validation_size}: hold out N ≥ 0 training images, e.g. 1000")
    if args.scale is not None and not (args.scale > 0 and args.scale < float("inf")):
        raise NNAccelError(f"--scale {args.scale}: the inputs are divided by it, so it must be > 0; e.g. --scale 255")
    named = {}  # real path → the flag that named it
    for flag in ("save", "checkpoint", "history", "plot"):
        path = getattr(args, flag)
        if not path:
            continue
        check_writable(path, "--" + flag)
        if os.path.realpath(path) in named:
            raise NNAccelError(f"--{named[os.path.realpath(path)]} and --{flag} both name {path}; "
                               "give each output a file of its own")
        named[os.path.realpath(path)] = flag
    check_suffix(args.save, "--save", MODEL_SUFFIXES)
    check_suffix(args.plot, "--plot", (".png",))
    if args.plot:
        from .plot import require_matplotlib

        require_matplotlib()


def check_methods(args):
    """Refuse, before anything runs, step neurons, and values of the chapter-3 method flags out of range."""
    hidden = args.hidden_activation if isinstance(args.hidden_activation, list) else [args.hidden_activation]
    if not all(ACTIVATIONS[name].trainable for name in hidden + [args.output_activation]):
        raise NNAccelError(UNTRAINABLE)
    if not 0.0 <= args.dropout < 1.0:
        raise NNAccelError(f"--dropout {args.dropout}: the fraction of hidden neurons deleted must be in [0, 1); "
                           "the book's is 0.5")
    if args.damping is not None and not 0.0 <= args.damping < float("inf"):
        raise NNAccelError(f"--damping {args.damping}: δ must be a finite number ≥ 0; e.g. --damping 0.001")
    c = args.softmax_temperature
    if not 0.0 < c < float("inf"):
        raise NNAccelError(f"--softmax-temperature {c}: c must be a finite number > 0; 1 is the book's softmax")
    if c != 1.0 and args.output_activation != "softmax":
        raise NNAccelError(f"--softmax-temperature is for a softmax output layer, not {args.output_activation}; "
                           "add --output-activation softmax --cost log-likelihood, or drop it")


def split_validation(dataset, size):
    """(training, validation) with the last ``size`` training images held out."""
    x, y = dataset.train
    if size >= len(y):
        raise NNAccelError(f"--validation-size {size} leaves no training data ({len(y)} images); use a smaller N")
    return (x[:-size], y[:-size]), (x[-size:], y[-size:])


def cmd_train(args, out=print):
    import secrets

    from tqdm import tqdm

    from .backend import make_rng
    from .expand import expand
    from .network import Network
    from .trainer import train

    resume = _resume_settings(args, getattr(args, "typed", set())) if args.resume else None
    validate_train_args(args)
    if args.seed is None:
        args.seed = secrets.randbelow(2**31)  # recorded so that a resumed run can redo the expansion
    dataset = strip_dataset(_dataset(args), args.classes)
    sizes = args.sizes or [dataset.n_pixels, 30, dataset.n_classes]
    check_sizes_fit(sizes, dataset)
    check_dropout(args.dropout, args.dropout_mode, sizes)
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

    if net.backend.note:
        out(f"nnaccel: {net.backend.note}")
    out(f"nnaccel: {net.backend.describe()}, data {dataset.describe()}, {net.describe()}")
    extras = [f"{k} {getattr(args, k)}" for k in ("l1", "momentum", "early_stopping", "expand", "scale", "damping")
              if getattr(args, k)]
    if args.dropout:
        extras.append(f"dropout {args.dropout} {args.dropout_mode}")
    if args.schedule != "constant":
        extras.append(f"schedule {args.schedule}")
    batches = (f"mini-batch {args.mini_batch_size}" if args.optimizer == "sgd"
               else f"{args.optimizer}, full batch")
    out(f"nnaccel: {args.epochs} epochs, {batches}, eta {args.eta}, "
        f"lmbda {args.lmbda}" + "".join(", " + e for e in extras)
        + f", {len(train_data)} training examples" + (f", resuming {args.resume}" if resume else ""))
    if resume and resume[0]["state"]["epoch"] >= args.epochs:
        out(f"nnaccel: the checkpoint's run is complete ({resume[0]['state']['epoch']} of {args.epochs} epochs); "
            f"give --epochs N (more than {resume[0]['state']['epoch']}) to train further")
    history = outputs.HistoryFile(args.history, resume[0]["state"]["records"] if resume else None)
    bar = tqdm(total=args.epochs, unit="epoch", disable=not sys.stderr.isatty(), leave=False)
    if resume:
        bar.update(resume[0]["state"]["epoch"])

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
                dropout_mode=args.dropout_mode)
        finally:
            bar.close()
        return _report_and_save(args, net, dataset, result, out)


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
    failed = []
    if args.save:
        saved, problem = outputs.save_model(net, args.save)
        if problem:
            failed.append(problem)
        else:
            out(f"nnaccel: saved the model to {saved}")
    if args.plot:
        from .plot import plot_history

        try:
            plot_history(history.records, args.plot, f"{net.describe()}, eta {args.eta}")
            out(f"nnaccel: plotted to {args.plot}")
        except (OSError, NNAccelError) as e:
            failed.append(f"could not write the plot {args.plot} ({outputs.reason(e)}); the numbers are in --history")
    for problem in failed:
        print(f"nnaccel: error: {problem}", file=sys.stderr)
    return EXIT_USAGE if failed else 0


def cmd_evaluate(args, out=print):
    from .serialization import load

    dataset = _dataset(args)
    net = load(args.model, device=args.device, backend=args.backend, dtype=args.dtype)
    check_sizes_fit(net.sizes, dataset, flag="the model's sizes")
    from .trainer import check_hyperparameters

    check_hyperparameters(0, 1, 1.0, args.lmbda, args.l1)
    test = net.data(dataset.test, scale=args.scale)
    correct = net.accuracy(test)
    cost = net.total_cost(test, args.lmbda, args.l1)
    terms = [t for t, v in (("L2", args.lmbda), ("L1", args.l1)) if v]
    which = f"with the {' and '.join(terms)} term" if terms else "without regularisation terms (give --lmbda to add L2)"
    out(f"{args.model}: {correct} / {len(test)} correct ({100.0 * correct / len(test):.2f} %), "
        f"cost {cost:.4f} {which}, on {dataset.name} test data, {net.backend.describe()}")
    return 0


def cmd_info(args, out=print):
    import importlib
    import platform

    from .backend import gpu_names
    from .data.datasets import FASHION_SYSTEM_DIR, embedded_dir
    from .data.download import cache_dir

    out(f"nnaccel {__version__}, Python {platform.python_version()} on {platform.machine()}")
    for module in ("numpy", "array_api_compat", "cupy", "torch", "array_api_strict"):
        try:
            version = importlib.import_module(module).__version__
            out(f"  {module:<17} {version}")
        except Exception:
            out(f"  {module:<17} not installed")
    names = gpu_names()
    for i, name in enumerate(names):
        out(f"  GPU cuda:{i}         {name}")
    if not names:
        out("  GPUs              none seen by CuPy (training runs on the CPU with NumPy)")
    from .fast.c_epoch import available

    level = available()
    out(f"  CPU kernel        {f'C, {level} instructions' if level else 'not compiled (the NumPy fast path runs; install with a C compiler for the C kernel)'}")
    out(f"  embedded data     {embedded_dir()}")
    out(f"  data cache        {cache_dir()}")
    out(f"  fashion-mnist     {FASHION_SYSTEM_DIR if FASHION_SYSTEM_DIR.is_dir() else 'not installed (downloaded on first use)'}")
    return 0


def cmd_experiment(args, out=print):
    from .experiments import run_experiment

    run_experiment(args.name, out_dir=args.out, scale=args.scale, dataset=args.dataset,
                   device=args.device, backend=args.backend, seed=args.seed, out=out)
    return 0


def cmd_bench(args, out=print):
    from .bench import run

    if len(args.sizes) < 2 or min(args.sizes) < 1 or args.mini_batch_size < 1:
        raise NNAccelError("--sizes needs two or more widths ≥ 1 and --mini-batch-size ≥ 1")
    run(args.sizes, args.mini_batch_size, args.dtype, args.examples, out=out)
    return 0


# Subcommands that live in modules of their own: each has add_parser(sub), whose parser sets
# defaults(run=function(args, out=print) -> exit code).
COMMAND_MODULES = ("nnaccel.selftest", "nnaccel.export", "nnaccel.serve", "nnaccel.tune", "nnaccel.sweep")

COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "experiment": cmd_experiment,
            "bench": cmd_bench, "info": cmd_info}


def main(argv=None):
    """Run one command; every failure is one line on stderr and an exit code (see the module's doc)."""
    program = argv is None  # the whole process, not a call from Python
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "train":  # which flags were typed, not defaulted: --resume refuses conflicts
        args.typed = typed_flags(argv[argv.index("train") + 1:])
    if program:  # what GUARD gives back when the command ends: the process exits then, with nothing to stop
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
    return _main(args)


def _main(args):
    with GUARD, warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        # NumPy's overflow and invalid-value warnings come before a divergence, which is reported itself
        warnings.filterwarnings("ignore", message=".* encountered in ", category=RuntimeWarning)
        code = _run(args)
        if code in (0, EXIT_USAGE) and GUARD.pending():  # a signal after training: outputs were written first
            signum = GUARD.pending()[0]
            print(f"nnaccel: {signal_name(signum)} received after training ended; "
                  "its outputs were finished first", file=sys.stderr)
            return exit_code(signum)
        return code


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"nnaccel: warning: {message}", file=sys.stderr)


def _run(args):
    try:
        with GUARD.interruptible():  # until a command defers signals itself, one stops it at once
            command = COMMANDS.get(args.command) or args.run
            return command(args)
    except TrainingDiverged as e:
        print(f"nnaccel: error: {e}", file=sys.stderr)
        return EXIT_DIVERGED
    except NNAccelError as e:
        print(f"nnaccel: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingInterrupted as e:
        if e.path:
            where = (f"the last complete epoch ({e.epoch}) is saved in {e.path}; "
                     f"continue with: nnaccel train --resume {e.path}")
        else:
            where = f"nothing was saved (the last complete epoch was {e.epoch})"
        if e.waited and e.path:
            where += " (a further signal came during the save, which was finished first)"
        print(f"nnaccel: interrupted by {signal_name(e.signum)}; {where}", file=sys.stderr)
        return exit_code(e.signum)
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"nnaccel: interrupted by {signal_name(signum)}; nothing was saved", file=sys.stderr)
        return exit_code(signum)
    except OSError as e:  # a file or device the user named: unreadable, a folder, gone
        what = f"{e.filename}: " if e.filename else ""
        print(f"nnaccel: error: {what}{e.strerror or e}; check the path and its permissions", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print("nnaccel: error: out of memory; use smaller --sizes, a smaller --mini-batch-size or less data",
              file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # a bug: one line, and the traceback on request
        if os.environ.get("NNACCEL_DEBUG"):
            raise
        print(f"nnaccel: internal error: {type(e).__name__}: {e}; please report it "
              "(NNACCEL_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
