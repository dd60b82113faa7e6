"""The first use of a path whose kernels have never run here: train a copy against run_epoch.

A GPU kernel can compile and still compute wrongly on some GPU, driver or CuPy version. So a
path with ``selfcheck = True`` is checked before it is first chosen: two copies of the
network, one trained by the path and one by run_epoch, on a few rows of random data, must
agree. The check runs every kernel that training with the options can reach: the plain or
the momentum update (whichever the options use), with or without L2, shuffled or in order,
on pixel and on float inputs, full mini-batches and a smaller last one, and for momentum a
second epoch that starts from the velocity the first returned. It costs milliseconds, and its
answer is cached. On a mismatch or a build failure the path steps aside with one warning.

The check compares two correct computations that round differently, so its own training must
be well-conditioned, or rounding alone parts them. It was not at a fixed η = 0.5: on an H200
the CUDA persistent kernel was turned off for [784, 20, 15, 10] linear/relu/softmax because its
numbers differed by 3.9e6, and the C kernel, which only rounds differently, differs as much on
the CPU (3.3e5 in float32, 3.7e-3 in float64; the weights reach 7e4). No fixed η suits every
network: at η = 0.1 the check still overflows for linear layers into a linear output, and
[784, 300, 10] tanh into a linear output parts the two by 1.3e3 in float32. So the check takes
the largest of η = 0.5, 0.25, … at which its own training is well-conditioned (check_eta), and
compares relatively (gap).
"""

from __future__ import annotations

import warnings

import numpy as np

from ...optim import SGDState
from ..generic import EpochOptions, GenericEpoch

MAX_CHECK_BATCH = 32  # mini-batches of up to this many rows in the check; two and a bit of them
CHECK_ETA = 0.5  # the check's η, where its training is well-conditioned (check_eta)
HALVINGS = 12  # else check_eta halves η, at most this often (to 1.2e-4)
TOLERANCE = {"float32": 1e-4, "float64": 1e-10}  # the largest gap a correct path may show
_VERIFIED: dict = {}


def option_kind(options):
    """What of the options decides which kernels run (η, λ and μ themselves do not)."""
    return (bool(options.momentum), bool(options.lmbda), bool(options.l1), options.nesterov, options.shuffle)


def check_options(options, eta=CHECK_ETA):
    """Options of the same kind as ``options``, for the check: clear values, a short epoch, the
    check's η (check_eta's for the network)."""
    return EpochOptions(min(options.mini_batch_size, MAX_CHECK_BATCH), eta=eta,
                        lmbda=1.0 if options.lmbda else 0.0, l1=0.1 if options.l1 else 0.0,
                        momentum=0.5 if options.momentum else 0.0, nesterov=options.nesterov,
                        shuffle=options.shuffle)


def _copy_of(net, nudge=0.0):
    """A freshly initialised network of ``net``'s shape, layers, cost, dtype and device, each
    parameter times 1 ± ``nudge`` (a random sign each)."""
    names = [a.name for a in net.activations]
    hidden = names[:-1] or "sigmoid"
    copy = type(net)(net.sizes, cost=net.cost.name, hidden_activation=hidden, output_activation=names[-1],
                     backend=net.backend, dtype=net.dtype, seed=1)
    if nudge:
        rng = np.random.default_rng(1)
        copy.set_parameters(*([a * (1 + nudge * rng.choice((-1.0, 1.0), a.shape)) for a in arrays]
                              for arrays in copy.parameters_numpy()))
    return copy


def _problems(net, options):
    """The check's data, (pixels, labels) and (floats, labels): two full mini-batches and a
    smaller last one of random rows."""
    rows = 2 * options.mini_batch_size + 3
    rng = np.random.default_rng(0)
    labels = rng.integers(0, net.sizes[-1], rows)
    pixels = rng.integers(0, 256, (rows, net.sizes[0]), dtype=np.uint8)
    floats = rng.random((rows, net.sizes[0])).astype(net.dtype)
    return [(pixels, labels), (floats, labels)]


def _train(path_cls, net, options, problem, epochs, nudge=0.0):
    """Every parameter and velocity, as NumPy arrays, after ``epochs`` epochs of ``path_cls`` from
    _copy_of(net, nudge) on ``problem``."""
    copy = _copy_of(net, nudge)
    path = path_cls(copy, options)
    data = copy.data(problem)
    state = SGDState()
    for _ in range(epochs):
        state = path(copy, data, state)
    return [copy.backend.to_numpy(a) for a in copy.weights + copy.biases + state.velocity_w + state.velocity_b]


def gap(got, want):
    """The largest |got − want| / (1 + |want|) over lists of arrays: absolute for values below 1,
    relative above, so that a weight of 7e4 may round as a float does; NaN if any is NaN."""
    if len(got) != len(want):
        return float("inf")
    return float(np.max([np.max(np.abs(g.astype(np.float64) - w) / (1 + np.abs(w.astype(np.float64))),
                                initial=0.0) for g, w in zip(got, want)], initial=0.0))


def check_eta(net, options, epochs=2):
    """The check's η for a network like ``net``: the largest of CHECK_ETA, CHECK_ETA / 2, … at which
    the check's own training is well-conditioned here, that is, run_epoch from a start nudged by
    a hundredth of the tolerance ends within a tenth of it of run_epoch from the start itself, on
    both problems (a correct path's rounding then grows tenfold at most).

    The largest, so that a wrong η, a lost λ term or a wrong order still moves the weights
    past the tolerance: 1.01 η by 3e-4 or more, λ dropped by 1.3e-4 or more, for every layer and
    cost on the networks tried, [20, 6, 4] to [784, 1000, 10] and [784, 100, 100, 10], where the
    C kernel's gap stayed within 3.6e-6 in float32 and 2e-14 in float64. Where no η is
    well-conditioned, the smallest: the check then fails, and the path steps aside."""
    tol = TOLERANCE[str(net.dtype)]
    etas = [CHECK_ETA / 2 ** k for k in range(HALVINGS + 1)]
    for eta in etas:
        opts = check_options(options, eta)
        if all(gap(_train(GenericEpoch, net, opts, p, epochs, nudge=tol / 100),
                   _train(GenericEpoch, net, opts, p, epochs)) <= tol / 10 for p in _problems(net, opts)):
            return eta
    return etas[-1]


def differences(path_cls, net, options, epochs=2):
    """The gap between the path and run_epoch over every parameter and velocity, for pixel inputs
    and for float inputs, each from the same start, at check_eta's η; raises what building or
    running the path raises."""
    opts = check_options(options, check_eta(net, options, epochs))
    return [gap(_train(path_cls, net, opts, p, epochs), _train(GenericEpoch, net, opts, p, epochs))
            for p in _problems(net, opts)]


def verified(path_cls, net, options):
    """Whether ``path_cls`` gives run_epoch's numbers for a network like ``net`` trained with
    options of this kind (a gap of at most 1e-10 in float64, 1e-4 in float32); cached."""
    key = (path_cls, tuple(net.sizes), tuple(a.name for a in net.activations), net.cost.name, str(net.dtype),
           net.backend.name, net.backend.device_name, option_kind(options))
    if key in _VERIFIED:
        return _VERIFIED[key]
    tol = TOLERANCE[str(net.dtype)]
    try:
        with np.errstate(all="ignore"):
            worst = differences(path_cls, net, options)
        ok = all(d <= tol for d in worst)  # NaN fails too
        why = f"its numbers differ from the generic path's by {float(np.max(worst)):.3g}"
    except Exception as error:  # a kernel that fails to compile or launch
        ok, why = False, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    if not ok:
        warnings.warn(f"nnaccel: turned off the {path_cls.name} ({why}); training goes on with the next "
                      "path. Please report this with `nnaccel info`.", RuntimeWarning, stacklevel=3)
    _VERIFIED[key] = ok
    return ok
