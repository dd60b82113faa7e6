"""``nnaccel evaluate MODEL``: a saved model's accuracy and cost on a data set's test images."""

from __future__ import annotations

import sys

from ..core import parameters
from ..data import load_dataset
from ..data.datasets import check_sizes_fit
from ..errors import NNAccelError
from ..nets.network import load
from ..tools._tuning import strip_dataset
from ..tools.flags import _int, add_parameter, add_runtime_flags, add_scale_flag


def add_parser(sub):
    p = sub.add_parser("evaluate", help="accuracy and cost of a saved model on test data")
    p.add_argument("model", help="a model file saved by nnaccel or network2.py")
    add_runtime_flags(p)
    add_scale_flag(p)
    p.add_argument("--classes", type=_int, nargs="+", metavar="C",
                   help="the classes the model was trained on with train --classes, relabelled 0..k-1 "
                        "(default: all)")
    for name in ("lmbda", "l1"):  # the regularisation terms of the cost, as training's printed cost had them
        add_parameter(p, name)
    p.set_defaults(run=run)


def run(args, out=print):
    for name in ("scale", "dataset", "backend", "dtype"):  # before any file is read
        parameters.check(name, getattr(args, name))
    dataset = strip_dataset(load_dataset(args.dataset, args.data, progress=sys.stderr.isatty()), args.classes)
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
