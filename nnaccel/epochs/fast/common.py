"""What every fast path shares: the networks and options they handle, and one flat layout of
the parameters [w¹ b¹ w² b² …] (the C kernel and the CuPy update both work on it)."""

from __future__ import annotations

HIDDEN = ("sigmoid", "tanh", "relu", "linear")
OUTPUT_COSTS = {("sigmoid", "cross-entropy"), ("sigmoid", "quadratic"), ("softmax", "log-likelihood"),
                ("linear", "quadratic")}


def supported(net, options, optimizers=("sgd",)):
    """Whether the fast paths' formulas cover this network and these options: these layers and
    costs (a softmax of temperature 1), one of ``optimizers`` (the path's own declaration; all
    implement mini-batch SGD only), and neither L1, Nesterov nor dropout (no fast path implements
    them; run_epoch does)."""
    acts = [a.name for a in net.activations]
    return (options.optimizer in optimizers and not options.l1 and not options.nesterov
            and not options.dropout and all(a in HIDDEN for a in acts[:-1])
            and getattr(net.activations[-1], "temperature", 1.0) == 1.0
            and (acts[-1], net.cost.name) in OUTPUT_COSTS)


def flat_views(flat, sizes):
    """[w¹, b¹, w², b², …] as views of one flat buffer that holds them in that order, w of
    shape (n_l, n_{l-1}): the layout every fast path works on (the C kernels, the CUDA kernels,
    the CuPy update). ``flat`` is one network's row (P,) or K members' rows (K, P), whose views
    then have a leading K axis."""
    lead = tuple(flat.shape[:-1])
    views, k = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        views.append(flat[..., k:k + n_out * n_in].reshape(lead + (n_out, n_in)))
        k += n_out * n_in
        views.append(flat[..., k:k + n_out])
        k += n_out
    return views


def pack(flat, weights, biases, sizes):
    """``flat`` (a row or K rows, as flat_views takes it) with weights and biases written in.
    Its rows must be contiguous, so that each layer's reshape is a view (not a copy)."""
    for view, array in zip(flat_views(flat, sizes), [a for wb in zip(weights, biases) for a in wb]):
        view[...] = array
    return flat


def unpack(flat, sizes, copy=lambda a: a.copy()):
    """(weights, biases): each layer's own copy (``copy``: e.g. xp.ascontiguousarray) out of ``flat``."""
    views = flat_views(flat, sizes)
    return [copy(w) for w in views[0::2]], [copy(b) for b in views[1::2]]


def flat_size(sizes):
    """How many numbers flat_views' buffer holds: every weight and bias."""
    return sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
