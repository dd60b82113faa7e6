"""Backend-specific fast paths, each behind the generic ``run_epoch`` interface.

``epoch_runner(net, **options)`` returns a function with run_epoch's signature when a fast
path applies to this network and these options, else None (the generic array-API path runs).
On NumPy: the C kernel (c_epoch) for mini-batches small enough that it beats BLAS, else the
NumPy fast path (numpy_epoch). On CuPy: fused elementwise kernels over a flat parameter
buffer (cupy_epoch), after a check against the generic path on first use. Tests prove each
gives the generic path's numbers.
"""

from __future__ import annotations

HIDDEN = ("sigmoid", "tanh", "relu", "linear")
OUTPUT_COSTS = {("sigmoid", "cross-entropy"), ("sigmoid", "quadratic"), ("softmax", "log-likelihood"),
                ("linear", "quadratic")}


def supported(net, *, l1=0.0, nesterov=False):
    """The networks and options every fast path handles: no L1 or Nesterov, these layers and costs."""
    acts = [a.name for a in net.activations]
    return (not l1 and not nesterov and all(a in HIDDEN for a in acts[:-1])
            and (acts[-1], net.cost.name) in OUTPUT_COSTS)


def flat_views(flat, sizes):
    """[w¹, b¹, w², b², …] as views of one flat buffer that holds them in that order, w of
    shape (n_l, n_{l-1}): the layout the C kernel and the CuPy update both work on."""
    views, k = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        views.append(flat[k:k + n_out * n_in].reshape(n_out, n_in))
        k += n_out * n_in
        views.append(flat[k:k + n_out])
        k += n_out
    return views


def flat_size(sizes):
    """How many numbers flat_views' buffer holds: every weight and bias."""
    return sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def epoch_runner(net, *, l1=0.0, nesterov=False, mini_batch_size=None):
    if net.backend.name == "numpy":
        from .c_epoch import CEpoch
        from .numpy_epoch import NumpyEpoch

        if CEpoch.applies(net, l1=l1, nesterov=nesterov, mini_batch_size=mini_batch_size):
            return CEpoch(net)
        if NumpyEpoch.applies(net, l1=l1, nesterov=nesterov):
            return NumpyEpoch(net)
    if net.backend.name == "cupy":
        from .cupy_epoch import CupyEpoch, verified

        if supported(net, l1=l1, nesterov=nesterov) and verified(net):
            return CupyEpoch(net)
    return None
