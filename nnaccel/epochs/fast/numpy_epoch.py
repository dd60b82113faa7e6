"""The NumPy fast path: one epoch of mini-batch SGD with no temporaries in the hot loop.

At the book's sizes (m = 10) an epoch is Python and per-call overhead, not arithmetic: the
two large products take ~11 µs of a step and every other NumPy call ~0.5 µs. So this path
makes as few calls as it can, each writing into a buffer allocated once per epoch:

* each layer's bias is column 0 of an augmented matrix [b | w], and each layer's input
  carries a leading column of ones, so z = [1 | a]·[b | w]ᵀ is one product and BP3 and BP4
  together are one product δᵀ·[1 | a];
* δ is scaled by −η/m (a few hundred numbers) before that product, so the gradient comes
  out ready to add to the parameters in place;
* each mini-batch's rows are gathered into a reused buffer — from the uint8 pixels when the
  data came as bytes, then divided by 255 in float32 exactly as ``DeviceData.x`` was — which
  on the CPU beats permuting the whole data set each epoch (a memory-bound copy of 190 MB
  for 60,000 float images, measured 3× slower); otherwise [1 | X] is built once per run;
* σ(z) = ½(1 + tanh(z/2)) as in activations.py.

Same formulas as network.backprop and optimizers.sgd_update, same results to rounding
(tests/epochs/test_fast.py). (A fused BLAS gemm update through scipy was measured and dropped:
scipy's own OpenBLAS fights NumPy's for the cores and was 3× slower.)
"""

from __future__ import annotations

import numpy as np

from ...optim import SGDState
from ..generic import EpochPath
from .common import supported


def _activate(name, z, out):
    """out ← f(z); z may be overwritten."""
    if name == "sigmoid":
        z *= 0.5
        np.tanh(z, out=z)
        np.multiply(z, 0.5, out=out)
        out += 0.5
    elif name == "tanh":
        np.tanh(z, out=out)
    elif name == "relu":
        np.maximum(z, 0.0, out=out)
    elif name == "softmax":
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=out)
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


def _with_ones(x):
    """[1 | x]: the inputs with a leading column of ones (for the bias column)."""
    out = np.empty((x.shape[0], x.shape[1] + 1), x.dtype)
    out[:, 0] = 1.0
    out[:, 1:] = x
    return out


class NumpyEpoch(EpochPath):
    """run_epoch for NumPy networks whose layers and cost this path knows."""

    name = "NumPy fast path"
    optimizers = ("sgd",)  # mini-batch SGD with L2 and momentum; the state is optimizers.SGDState

    @classmethod
    def applies(cls, net, options):
        return net.backend.name == "numpy" and supported(net, options, cls.optimizers)

    def __init__(self, net, options):
        super().__init__(net, options)
        self.names = [a.name for a in net.activations]
        self.quadratic = net.cost.name == "quadratic"
        self._x1 = (None, None)  # (the data's x, [1 | x]), kept between epochs

    def _inputs(self, x):
        if self._x1[0] is not x:
            self._x1 = (x, _with_ones(x))
        return self._x1[1]

    def __call__(self, net, data, state):
        o = self.options
        shuffle, momentum, eta, lmbda, mini_batch_size = o.shuffle, o.momentum, o.eta, o.lmbda, o.mini_batch_size
        n = len(data)
        y = data.targets
        pixels = data.pixels if shuffle and data.pixels is not None else None
        x1 = self._inputs(data.x) if pixels is None else None
        perm = net.rng.permutation(n) if shuffle else None
        params = [np.concatenate([b[:, None], w], axis=1) for w, b in zip(net.weights, net.biases)]
        weights = [p[:, 1:] for p in params]  # views: w without its bias column
        if momentum:
            velocity = [np.concatenate([vb[:, None], vw], axis=1)
                        for vw, vb in zip(state.velocity_w, state.velocity_b)] if state.velocity_w \
                else [np.zeros_like(p) for p in params]
        L = len(params)
        m = mini_batch_size
        dtype = data.x.dtype
        sizes = net.sizes
        z = [np.empty((m, s), dtype) for s in sizes[1:]]
        a1 = [np.empty((m, s + 1), dtype) for s in sizes[1:-1]]  # hidden outputs [1 | a]
        for buf in a1:
            buf[:, 0] = 1.0
        out = np.empty((m, sizes[-1]), dtype)
        xb = np.empty((m, sizes[0] + 1), dtype)
        xb[:, 0] = 1.0
        pb = np.empty((m, sizes[0]), np.uint8)
        scale = dtype.type(255)
        yb = np.empty((m, y.shape[1]), dtype)
        d = [np.empty((m, s), dtype) for s in sizes[1:]]
        tmp = [np.empty((m, s), dtype) for s in sizes[1:]]
        gw = [np.empty_like(p) for p in params]  # each layer's gradient product
        decay = 1.0 - eta * (lmbda / n)
        names = self.names

        with np.errstate(over="ignore", under="ignore"):
            for k in range(0, n, m):
                stop = min(k + m, n)
                mb = stop - k
                if mb == m:
                    z_, a1_, out_, d_, t_, xb_, yb_, pb_ = z, a1, out, d, tmp, xb, yb, pb
                else:  # the smaller last mini-batch: views of the buffers
                    z_, a1_, d_, t_ = ([v[:mb] for v in bufs] for bufs in (z, a1, d, tmp))
                    out_, xb_, yb_, pb_ = out[:mb], xb[:mb], yb[:mb], pb[:mb]
                if perm is None:
                    xb_, yb_ = x1[k:stop], y[k:stop]
                else:
                    rows = perm[k:stop]
                    if pixels is not None:
                        np.take(pixels, rows, axis=0, out=pb_, mode="clip")
                        np.divide(pb_, scale, out=xb_[:, 1:], dtype=dtype)
                    else:
                        np.take(x1, rows, axis=0, out=xb_, mode="clip")
                    np.take(y, rows, axis=0, out=yb_, mode="clip")
                inputs = [xb_] + a1_  # [1 | aˡ⁻¹] for every layer
                acts = [v[:, 1:] for v in a1_] + [out_]  # aˡ, views
                for l in range(L):  # feedforward: zˡ = [1 | aˡ⁻¹]·[b | w]ᵀ
                    np.matmul(inputs[l], params[l].T, out=z_[l])
                    _activate(names[l], z_[l], acts[l])
                delta = d_[-1]
                np.subtract(out_, yb_, out=delta)  # BP1: a − y ...
                if self.quadratic:  # ... times σ'(z) for the quadratic cost
                    _times_prime(names[-1], delta, out_, t_[-1])
                for l in range(L - 1, 0, -1):  # BP2, before any parameter changes
                    np.matmul(d_[l], weights[l], out=d_[l - 1])
                    _times_prime(names[l - 1], d_[l - 1], acts[l - 1], t_[l - 1])
                for l in range(L):  # BP3 + BP4 in one product, then the update
                    if momentum:  # v → μv − η∇C, w → w + v (∇C with the L2 term)
                        np.matmul(d_[l].T, inputs[l], out=gw[l])
                        gw[l] /= mb
                        if lmbda:
                            gw[l][:, 1:] += (lmbda / n) * weights[l]
                        velocity[l] *= momentum
                        velocity[l] -= eta * gw[l]
                        params[l] += velocity[l]
                        continue
                    d_[l] *= -eta / mb
                    np.matmul(d_[l].T, inputs[l], out=gw[l])
                    if decay != 1.0:
                        weights[l] *= decay
                    params[l] += gw[l]
        net.weights = [np.ascontiguousarray(w) for w in weights]
        net.biases = [p[:, 0].copy() for p in params]
        if momentum:
            return SGDState([np.ascontiguousarray(v[:, 1:]) for v in velocity], [v[:, 0].copy() for v in velocity])
        return state
