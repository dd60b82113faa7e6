"""``nnaccel``: a thin command line over the Python API; ``nnaccel --help`` lists the commands
(its texts are in helptext.py).

Exit codes: 0 done; 2 a user error (one line naming the fix, nothing half-written); 3 training
diverged; 130 / 143 stopped by SIGINT / SIGTERM (the last complete epoch saved); 1 a bug.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import signal
import sys
import warnings
from pathlib import Path

from .. import _files as files
from .._version import __version__
from ..backend import BACKENDS, gpu_names, make_rng
from ..book.experiments import EXPERIMENTS, run_experiment
from ..core import memory
from ..core import parameters
from ..data import load_dataset
from ..data.datasets import FASHION_SYSTEM_DIR, check_sizes_fit, data_files, embedded_dir
from ..data.download import cache_dir
from ..data.expand import check_expansion, expand
from ..epochs.fast.c_epoch import available as c_kernel_level
from ..errors import NNAccelError, TrainingDiverged, TrainingInterrupted
from ..io import run_files
from ..tools.bench import run as run_bench
from ..training import outputs
from . import helptext
from ..tools.flags import (EXIT_USAGE, _float, _int, _Parser, add_parameter, add_runtime_flags,
                           add_scale_flag, add_train_flags)
from ..io.plot import plot_history, require_matplotlib
from ..nets.network import Network, load
from ..tools._tuning import strip_dataset
from ..training.signals import GUARD, exit_code
from ..training.signals import name as signal_name
from ..training.trainer import train
from .pipes import ClosedPipeSafe
from .resume import TRAIN_SETTINGS, resume_settings, typed_flags
from .summary import summary_line

EXIT_BUG = 1
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130  # SIGINT; SIGTERM gives 143 (128 + the signal's number)
MODEL_SUFFIXES = (".json", ".npz")


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
    evaluate.add_argument("--classes", type=_int, nargs="+", metavar="C",
                          help="the classes the model was trained on with train --classes, relabelled 0..k-1 "
                               "(default: all)")
    for name in ("lmbda", "l1"):  # the regularisation terms of the cost, as training's printed cost had them
        add_parameter(evaluate, name)

    experiment = sub.add_parser("experiment", help="re-run one of the book's experiments (chapters 1-3)")
    experiment.add_argument("name", choices=list(EXPERIMENTS))
    experiment.add_argument("--out", default=".", metavar="DIR", help="where NAME.json and NAME.png go")
    experiment.add_argument("--scale", type=_float, default=1.0,
                            help="fraction of the book's epochs to run (for a quick look)")
    experiment.add_argument("--dataset", default="mnist-10k", choices=["mnist-10k", "fashion-mnist", "mnist"])
    experiment.add_argument("--device", default="auto")
    experiment.add_argument("--backend", choices=BACKENDS)
    experiment.add_argument("--seed", type=_int, default=1)

    bench = sub.add_parser("bench", help="time one epoch on every backend this machine has")
    bench.add_argument("--sizes", type=_int, nargs="+", default=[784, 30, 10], metavar="N")
    add_parameter(bench, "mini_batch_size", "-m")
    bench.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    bench.add_argument("--examples", type=_int, default=6000, help="examples timed per backend")

    sub.add_parser("info", help="the backends, GPUs and versions this machine has")
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).add_parser(sub)
    return helptext.finish(parser)


def _dataset(args):
    return load_dataset(args.dataset, args.data, progress=sys.stderr.isatty())


def check_writable(path, flag):
    """Refuse an output path that cannot be written now, not after an hour of training."""
    if path:
        files.check_writable(path, flag)


def check_suffix(path, flag, suffixes):
    """Refuse a file name whose extension would not say what the file holds."""
    if path and Path(path).suffix.lower() not in suffixes:
        raise NNAccelError(f"{flag} {path}: the name must end in {' or '.join(suffixes)}, "
                           f"which says what the file holds; e.g. {flag} {Path(path).with_suffix(suffixes[-1])}")


def validate_train_args(args):
    """Refuse, before any data is read, what only the command knows: its files, the expansion, the
    held-out images. The training parameters are the API's to check (nnaccel.core.parameters),
    once, when the network is built and trained; their refusal is the same one line."""
    check_expansion(args.expand, args.max_angle)
    if args.validation_size < 0:
        raise NNAccelError(f"--validation-size {args.validation_size}: hold out N ≥ 0 training images, e.g. 1000")
    if args.scale is not None and not (args.scale > 0 and args.scale < float("inf")):
        raise NNAccelError(f"--scale {args.scale}: the inputs are divided by it, so it must be > 0; e.g. --scale 255")
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


def cmd_train(args, out=print):
    import secrets

    from tqdm import tqdm

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


def cmd_evaluate(args, out=print):
    dataset = strip_dataset(_dataset(args), args.classes)
    net = load(args.model, device=args.device, backend=args.backend, dtype=args.dtype)
    if not args.classes and net.sizes[-1] < dataset.n_classes:
        raise NNAccelError(f"{args.model} has {net.sizes[-1]} outputs but {dataset.name} has {dataset.n_classes} "
                           "classes; for a model trained with --classes, give evaluate the same --classes")
    check_sizes_fit(net.sizes, dataset, flag="the model's sizes")
    lmbda, l1 = parameters.check("lmbda", args.lmbda), parameters.check("l1", args.l1)
    test = net.data(dataset.test, scale=args.scale)
    correct = net.accuracy(test)
    cost = net.total_cost(test, lmbda, l1)
    terms = [t for t, v in (("L2", lmbda), ("L1", l1)) if v]
    which = f"with the {' and '.join(terms)} term" if terms else "without regularisation terms (give --lmbda to add L2)"
    out(f"{args.model}: {correct} / {len(test)} correct ({100.0 * correct / len(test):.2f} %), "
        f"cost {cost:.4f} {which}, on {dataset.name} test data, {net.backend.describe()}")
    return 0


def cmd_info(args, out=print):
    import importlib
    import platform

    out(f"nnaccel {__version__}, Python {platform.python_version()} on {platform.machine()}")
    for module in ("numpy", "array_api_compat", "cupy", "torch", "jax", "array_api_strict"):
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
    level = c_kernel_level()
    out(f"  CPU kernel        {f'C, {level} instructions' if level else 'not compiled (the NumPy fast path runs; install with a C compiler for the C kernel)'}")
    out(f"  embedded data     {embedded_dir()}")
    out(f"  data cache        {cache_dir()}")
    out(f"  fashion-mnist     {FASHION_SYSTEM_DIR if FASHION_SYSTEM_DIR.is_dir() else 'not installed (downloaded on first use)'}")
    return 0


def cmd_experiment(args, out=print):
    run_experiment(args.name, out_dir=args.out, scale=args.scale, dataset=args.dataset,
                   device=args.device, backend=args.backend, seed=args.seed, out=out)
    return 0


def cmd_bench(args, out=print):
    if len(args.sizes) < 2 or min(args.sizes) < 1:
        raise NNAccelError("--sizes needs two or more widths ≥ 1, e.g. --sizes 784 30 10")
    parameters.check("mini_batch_size", args.mini_batch_size)
    run_bench(args.sizes, args.mini_batch_size, args.dtype, args.examples, out=out)
    return 0


# Subcommands that live in modules of their own: each has add_parser(sub), whose parser sets
# defaults(run=function(args, out=print) -> exit code).
COMMAND_MODULES = (
    "nnaccel.tools.predict",
    "nnaccel.tools.selftest",
    "nnaccel.tools.export",
    "nnaccel.tools.serve",
    "nnaccel.tools.tune",
    "nnaccel.tools.sweep",
)

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
    if program and sys.stdout is not None:  # the process's own stdout: a reader may close it early
        sys.stdout = ClosedPipeSafe(sys.stdout)
    return _main(args, program)


def _main(args, program=False):
    # the whole process: GUARD takes over from the entry point's handler with no moment between,
    # and when the command ends the signals are ignored until the process has exited
    with GUARD.command() if program else GUARD, warnings.catch_warnings():
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
        last = (f"the last complete epoch, Epoch {e.epoch - 1} ({e.epoch} trained)" if e.epoch
                else "no epoch was complete")  # epochs print from Epoch 0: e.epoch counts them
        if e.path:
            where = (f"{last}, is saved in {e.path}; " if e.epoch else f"{last}; the run so far is saved in {e.path}; ")
            where += f"continue with: nnaccel train --resume {e.path}"
        else:
            where = f"nothing was saved ({last})"
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
