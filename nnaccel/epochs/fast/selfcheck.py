"""The first use of a path whose kernels have never run here: train a copy against run_epoch.

A GPU kernel can compile and still compute wrongly on some GPU, driver or CuPy version. So a
path with ``selfcheck = True`` is checked before it is first chosen: two copies of the
network, one trained by the path and one by run_epoch, on a few rows of random data, must
agree. The check runs every kernel that training with the options can reach: the plain or
the momentum update (whichever the options use), with or without L2, shuffled or in order,
on pixel and on float inputs, full mini-batches and a smaller last one, and for momentum a
second epoch that starts from the velocity the first returned. It costs milliseconds, and its
answer is cached. On a mismatch or a build failure the path steps aside with one warning.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...optim import SGDState
from ..generic import EpochOptions, GenericEpoch

MAX_CHECK_BATCH = 32  # mini-batches of up to this many rows in the check; two and a bit of them
_VERIFIED: dict = {}


def option_kind(options):
    """What of the options decides which kernels run (η, λ and μ themselves do not)."""
    return (bool(options.momentum), bool(options.lmbda), bool(options.l1), options.nesterov, options.shuffle)


def check_options(options):
    """Options of the same kind as ``options``, for the check: clear values, a short epoch."""
    return EpochOptions(min(options.mini_batch_size, MAX_CHECK_BATCH), eta=0.5,
                        lmbda=1.0 if options.lmbda else 0.0, l1=0.1 if options.l1 else 0.0,
                        momentum=0.5 if options.momentum else 0.0, nesterov=options.nesterov,
                        shuffle=options.shuffle)


def _copy_of(net):
    """A freshly initialised network of ``net``'s shape, layers, cost, dtype and device."""
    names = [a.name for a in net.activations]
    hidden = names[:-1] or "sigmoid"
    return type(net)(net.sizes, cost=net.cost.name, hidden_activation=hidden, output_activation=names[-1],
                     backend=net.backend, dtype=net.dtype, seed=1)


def _train(path, net, inputs, labels, epochs=2):
    data = net.data((inputs, labels))
    state = SGDState()
    for _ in range(epochs):
        state = path(net, data, state)
    return [net.backend.to_numpy(a) for a in net.weights + net.biases + state.velocity_w + state.velocity_b]


def differences(path_cls, net, options, epochs=2):
    """The largest |path − run_epoch| over every parameter and velocity, for pixel inputs and for
    float inputs, each from the same start; raises what building or running the path raises."""
    opts = check_options(options)
    rows = 2 * opts.mini_batch_size + 3  # two full mini-batches and a smaller last one
    rng = np.random.default_rng(0)
    labels = rng.integers(0, net.sizes[-1], rows)
    pixels = rng.integers(0, 256, (rows, net.sizes[0]), dtype=np.uint8)
    floats = rng.random((rows, net.sizes[0])).astype(net.dtype)
    worst = []
    for inputs in (pixels, floats):
        nets = [_copy_of(net), _copy_of(net)]
        fast = _train(path_cls(nets[0], opts), nets[0], inputs, labels, epochs)
        generic = _train(GenericEpoch(nets[1], opts), nets[1], inputs, labels, epochs)
        if len(fast) != len(generic):
            return [float("inf")]
        worst.append(max(float(np.max(np.abs(f.astype(np.float64) - g), initial=0.0))
                         for f, g in zip(fast, generic)))
    return worst


def verified(path_cls, net, options):
    """Whether ``path_cls`` gives run_epoch's numbers for a network like ``net`` trained with
    options of this kind (to 1e-10 in float64, float32 rounding in float32); cached."""
    key = (path_cls, tuple(net.sizes), tuple(a.name for a in net.activations), net.cost.name, str(net.dtype),
           net.backend.name, net.backend.device_name, option_kind(options))
    if key in _VERIFIED:
        return _VERIFIED[key]
    tol = 1e-4 if str(net.dtype) == "float32" else 1e-10
    try:
        with np.errstate(over="ignore", under="ignore"):
            worst = differences(path_cls, net, options)
        ok = all(d <= tol for d in worst)  # NaN fails too
        why = f"its numbers differ from the generic path's by {max(worst):.3g}"
    except Exception as error:  # a kernel that fails to compile or launch
        ok, why = False, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    if not ok:
        warnings.warn(f"nnaccel: turned off the {path_cls.name} ({why}); training goes on with the next "
                      "path. Please report this with `nnaccel info`.", RuntimeWarning, stacklevel=3)
    _VERIFIED[key] = ok
    return ok
