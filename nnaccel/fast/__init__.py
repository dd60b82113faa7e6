"""Backend-specific fast paths, each behind the generic ``run_epoch`` interface.

``epoch_runner(net, **options)`` returns a function with run_epoch's signature when a fast
path applies to this network and these options, else None (the generic array-API path runs).
On NumPy: the C kernel (c_epoch) for mini-batches small enough that it beats BLAS, else the
NumPy fast path (numpy_epoch). On CuPy: fused elementwise kernels over a flat parameter
buffer (cupy_epoch), after a check against the generic path on first use. Tests prove each
gives the generic path's numbers.
"""

from __future__ import annotations


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

        if CupyEpoch.applies(net, l1=l1, nesterov=nesterov) and verified(net):
            return CupyEpoch(net)
    return None
