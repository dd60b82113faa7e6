"""``nnaccel``: a thin command line over the Python API (train, evaluate, info)."""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .errors import NNAccelError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and exit code 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text):
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


def add_model_flags(p):
    p.add_argument("--sizes", type=_positive_int, nargs="+", metavar="N",
                   help="layer widths, e.g. 784 30 10 (default: pixels, 30, classes)")
    p.add_argument("--cost", default="quadratic", choices=["quadratic", "cross-entropy", "log-likelihood"])
    p.add_argument("--hidden-activation", default="sigmoid", choices=["sigmoid", "tanh", "relu", "linear"])
    p.add_argument("--output-activation", default="sigmoid",
                   choices=["sigmoid", "tanh", "relu", "linear", "softmax"])
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


def build_parser():
    parser = _Parser(prog="nnaccel", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nnaccel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    train = sub.add_parser("train", help="train a network (the book's first one by default)")
    add_model_flags(train)
    train.add_argument("--epochs", type=_positive_int, default=30)
    train.add_argument("--mini-batch-size", "-m", type=_positive_int, default=10)
    train.add_argument("--eta", type=_float, default=3.0, help="learning rate η")
    train.add_argument("--lmbda", type=_float, default=0.0, help="L2 regularisation λ")
    add_runtime_flags(train)
    train.add_argument("--seed", type=_positive_int, help="fixes the initial weights and the shuffling")
    train.add_argument("--save", metavar="FILE", help="save the trained model (.json: network2 format, .npz)")

    evaluate = sub.add_parser("evaluate", help="accuracy and cost of a saved model on test data")
    evaluate.add_argument("model", help="a model file saved by nnaccel or network2.py")
    add_runtime_flags(evaluate)

    sub.add_parser("info", help="the backends, GPUs and versions this machine has")
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
    """Refuse an output path whose folder is missing now, not after an hour of training."""
    if path:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise NNAccelError(f"{flag} {path}: the folder {folder} does not exist; create it first")


def cmd_train(args, out=print):
    from tqdm import tqdm

    from .network import Network
    from .trainer import check_hyperparameters

    check_hyperparameters(args.epochs, args.mini_batch_size, args.eta, args.lmbda)
    check_writable(args.save, "--save")
    dataset = _dataset(args)
    sizes = args.sizes or [dataset.n_pixels, 30, dataset.n_classes]
    check_sizes_fit(sizes, dataset)
    net = Network(sizes, cost=args.cost, hidden_activation=args.hidden_activation,
                  output_activation=args.output_activation, init=args.init,
                  device=args.device, backend=args.backend, dtype=args.dtype, seed=args.seed)
    if net.backend.note:
        out(f"nnaccel: {net.backend.note}")
    out(f"nnaccel: {net.backend.describe()}, data {dataset.describe()}, {net.describe()}")
    out(f"nnaccel: {args.epochs} epochs, mini-batch {args.mini_batch_size}, eta {args.eta}, lmbda {args.lmbda}")
    bar = tqdm(total=args.epochs, unit="epoch", disable=not sys.stderr.isatty(), leave=False)

    def report(record):
        bar.update(1)
        line = (f"Epoch {record['epoch']}: {record['evaluation_accuracy']} / {record['n_evaluation']}, "
                f"cost {record['evaluation_cost']:.4f}, {record['seconds']:.2f} s")
        if bar.disable:
            out(line)
        else:
            tqdm.write(line)

    try:
        net.SGD(dataset.train, args.epochs, args.mini_batch_size, args.eta, lmbda=args.lmbda,
                evaluation_data=dataset.test, monitor_evaluation_accuracy=True,
                monitor_evaluation_cost=True, callback=report)
    finally:
        bar.close()
    if args.save:
        net.save(args.save)
        out(f"nnaccel: saved the model to {args.save}")
    return 0


def cmd_evaluate(args, out=print):
    from .serialization import load

    dataset = _dataset(args)
    net = load(args.model, device=args.device, backend=args.backend, dtype=args.dtype)
    check_sizes_fit(net.sizes, dataset, flag="the model's sizes")
    test = net.data(dataset.test)
    correct = net.accuracy(test)
    out(f"{args.model}: {correct} / {len(test)} correct ({100.0 * correct / len(test):.2f} %), "
        f"cost {net.total_cost(test):.4f} on {dataset.name} test data, {net.backend.describe()}")
    return 0


def cmd_info(args, out=print):
    import importlib
    import platform

    from .backend import cuda_available
    from .data.datasets import FASHION_SYSTEM_DIR, embedded_dir
    from .data.download import cache_dir

    out(f"nnaccel {__version__}, Python {platform.python_version()} on {platform.machine()}")
    for module in ("numpy", "array_api_compat", "cupy", "torch", "array_api_strict"):
        try:
            version = importlib.import_module(module).__version__
            out(f"  {module:<17} {version}")
        except Exception:
            out(f"  {module:<17} not installed")
    if cuda_available():
        import cupy

        for i in range(cupy.cuda.runtime.getDeviceCount()):
            name = cupy.cuda.runtime.getDeviceProperties(i)["name"].decode()
            out(f"  GPU cuda:{i}         {name}")
    else:
        out("  GPUs              none seen by CuPy (training runs on the CPU with NumPy)")
    out(f"  embedded data     {embedded_dir()}")
    out(f"  data cache        {cache_dir()}")
    out(f"  fashion-mnist     {FASHION_SYSTEM_DIR if FASHION_SYSTEM_DIR.is_dir() else 'not installed (downloaded on first use)'}")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "info": cmd_info}


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except NNAccelError as e:
        print(f"nnaccel: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("nnaccel: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
