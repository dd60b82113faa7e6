"""The NumPy fast path: one epoch of mini-batch SGD with no temporaries in the hot loop.

At the book's sizes (m = 10) an epoch is Python and per-call overhead, not arithmetic. So:
buffers for every zˡ, aˡ and δˡ are allocated once per epoch and written with ``out=``;
the gradients are written into preallocated buffers, scaled by −η/m and added in place.
Same formulas as network.backprop and optimizers.sgd_update, same results to rounding
(tests/test_fast.py). (A fused BLAS gemm update through scipy was measured and dropped:
scipy's own OpenBLAS fights NumPy's for the cores and was 3× slower.)
"""

from __future__ import annotations

import numpy as np

HIDDEN = ("sigmoid", "tanh", "relu", "linear")
OUTPUT_COSTS = {("sigmoid", "cross-entropy"), ("sigmoid", "quadratic"), ("softmax", "log-likelihood"),
                ("linear", "quadratic")}


def _sigmoid(z, out):
    # σ(z) = ½(1 + tanh(z/2)): one transcendental call and no overflow for any z.
    np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5


def _activate(name, z, out):
    if name == "sigmoid":
        _sigmoid(z, out)
    elif name == "tanh":
        np.tanh(z, out=out)
    elif name == "relu":
        np.maximum(z, 0.0, out=out)
    elif name == "softmax":
        np.subtract(z, z.max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
    else:
        out[...] = z


def _times_prime(name, delta, a, tmp):
    """delta ← delta ⊙ f'(z), with f' written from a = f(z)."""
    if name == "sigmoid":
        np.subtract(1.0, a, out=tmp)
        tmp *= a
        delta *= tmp
    elif name == "tanh":
        np.multiply(a, a, out=tmp)
        np.subtract(1.0, tmp, out=tmp)
        delta *= tmp
    elif name == "relu":
        np.greater(a, 0.0, out=tmp, casting="unsafe")
        delta *= tmp
    # linear: f' = 1


class NumpyEpoch:
    """run_epoch for NumPy networks whose layers and cost this path knows."""

    @staticmethod
    def applies(net, *, l1=0.0, nesterov=False):
        acts = [a.name for a in net.activations]
        return (not l1 and not nesterov and all(a in HIDDEN for a in acts[:-1])
                and (acts[-1], net.cost.name) in OUTPUT_COSTS)

    def __init__(self, net):
        self.net = net
        self.names = [a.name for a in net.activations]
        self.quadratic = net.cost.name == "quadratic"

    def __call__(self, net, data, mini_batch_size, eta, lmbda, state, *, shuffle=True, l1=0.0,
                 momentum=0.0, nesterov=False):
        from ..optimizers import SGDState

        n = len(data)
        x, y = data.x, data.targets
        if shuffle:
            perm = net.rng.permutation(n)
            x, y = np.take(x, perm, axis=0), np.take(y, perm, axis=0)
        weights = [np.array(w, copy=True) for w in net.weights]
        biases = [np.array(b, copy=True) for b in net.biases]
        if momentum and not state.velocity_w:
            state = SGDState([np.zeros_like(w) for w in weights], [np.zeros_like(b) for b in biases])
        vel_w = [np.array(v, copy=True) for v in state.velocity_w]
        vel_b = [np.array(v, copy=True) for v in state.velocity_b]
        dtype = weights[0].dtype
        L = len(weights)
        m = mini_batch_size
        sizes = net.sizes
        z = [np.empty((m, s), dtype) for s in sizes[1:]]
        a = [np.empty((m, s), dtype) for s in sizes[1:]]
        d = [np.empty((m, s), dtype) for s in sizes[1:]]
        tmp = [np.empty((m, s), dtype) for s in sizes[1:]]
        gw = [np.empty_like(w) for w in weights]
        gb = [np.empty_like(b) for b in biases]
        decay = 1.0 - eta * (lmbda / n)

        with np.errstate(over="ignore", under="ignore"):
            for k in range(0, n, m):
                stop = min(k + m, n)
                mb = stop - k
                if mb != m:  # the smaller last mini-batch: views of the buffers
                    z_, a_, d_, t_ = ([v[:mb] for v in bufs] for bufs in (z, a, d, tmp))
                else:
                    z_, a_, d_, t_ = z, a, d, tmp
                xb, yb = x[k:stop], y[k:stop]
                prev = xb
                for l in range(L):  # feedforward
                    np.matmul(prev, weights[l].T, out=z_[l])
                    z_[l] += biases[l]
                    _activate(self.names[l], z_[l], a_[l])
                    prev = a_[l]
                delta = d_[-1]
                np.subtract(a_[-1], yb, out=delta)  # BP1: a − y ...
                if self.quadratic:  # ... times σ'(z) for the quadratic cost
                    _times_prime(self.names[-1], delta, a_[-1], t_[-1])
                for l in range(L - 1, 0, -1):  # BP2, before any weight changes
                    np.matmul(d_[l], weights[l], out=d_[l - 1])
                    _times_prime(self.names[l - 1], d_[l - 1], a_[l - 1], t_[l - 1])
                scale = -eta / mb
                for l in range(L):  # BP3, BP4 and the update, layer by layer
                    below = xb if l == 0 else a_[l - 1]
                    np.sum(d_[l], axis=0, out=gb[l])
                    if momentum:
                        np.matmul(d_[l].T, below, out=gw[l])
                        gw[l] /= mb  # the generic path's order of operations, exactly
                        if lmbda:
                            gw[l] += (lmbda / n) * weights[l]
                        vel_w[l] *= momentum
                        vel_w[l] -= eta * gw[l]
                        weights[l] += vel_w[l]
                        gb[l] /= mb
                        vel_b[l] *= momentum
                        vel_b[l] -= eta * gb[l]
                        biases[l] += vel_b[l]
                        continue
                    gb[l] *= scale
                    biases[l] += gb[l]
                    np.matmul(d_[l].T, below, out=gw[l])
                    if decay != 1.0:
                        weights[l] *= decay
                    gw[l] *= scale
                    weights[l] += gw[l]
        net.weights = weights
        net.biases = biases
        return SGDState(vel_w, vel_b) if momentum else state
