"""The CuPy fast path: fused elementwise kernels and one flat parameter buffer.

On a GPU the book's networks are launch-bound: every array operation is a kernel launch of
~10–20 µs of CPU time, and a step of the generic path makes ~40 of them. Here a step of an
L-layer network makes 6L + 2 (+1 for the quadratic cost): per layer one cuBLAS product and one fused kernel forward
(z + b and the activation), one product and one fused kernel back (BP2 with f'), the BP4
product and the BP3 sum; δᴸ (one launch, two for the quadratic cost); the two gathers of
the batch; and a single launch that updates every parameter, weights and biases, L2 or
momentum, over the flat buffer they live in.

The kernels' bodies are single assignments in the common ground of CUDA C++ and Python
(arithmetic, exp, tanh, comparisons), so the tests run this very module on the CPU through
a NumPy stand-in for ``cupy.ElementwiseKernel`` (tests/kernel_emulator.py). On a real GPU the
first use checks itself against the generic path and steps aside, with a warning, if it
does not agree (``selfcheck = True``: see nnaccel/epochs/fast/selfcheck.py).
"""

from __future__ import annotations

from ...optim import SGDState
from ..generic import EpochPath
from .common import flat_size, flat_views, supported

# The kernel bodies (T is the parameters' float type; inputs z, b, t, a, g …, outputs a, d, p, v).
ACTIVATE = {  # a = f(z + b)
    "sigmoid": "a = (1 + tanh((z + b) / 2)) / 2",  # activations.py's stable form
    "tanh": "a = tanh(z + b)",
    "relu": "a = (z + b > 0) * (z + b)",
    "linear": "a = z + b",
}
TIMES_PRIME = {  # d = t ⊙ f'(z), f' written from a = f(z)
    "sigmoid": "d = t * a * (1 - a)",
    "tanh": "d = t * (1 - a * a)",
    "relu": "d = t * (a > 0)",
    "linear": "d = t",
}
UPDATE = "p = p * keep - step * g"  # w → (1 − ηλ/n)w − (η/m)Σ∇C; keep is 1 for the biases
UPDATE_MOMENTUM = "v = mu * v - eta * (g * inv_m + l2 * p); p = p + v"  # l2 is 0 for the biases


def _cupy():
    import cupy

    return cupy


class Kernels:
    """The fused kernels, built once from a factory with ElementwiseKernel's signature."""

    def __init__(self, factory):
        self.activate = {k: factory("T z, T b", "T a", body, f"nnaccel_{k}") for k, body in ACTIVATE.items()}
        self.times_prime = {k: factory("T t, T a", "T d", body, f"nnaccel_{k}_prime")
                            for k, body in TIMES_PRIME.items()}
        self.update = factory("T g, T keep, T step", "T p", UPDATE, "nnaccel_update")
        self.update_momentum = factory("T g, T l2, T mu, T eta, T inv_m", "T p, T v", UPDATE_MOMENTUM,
                                       "nnaccel_update_momentum")


class CupyEpoch(EpochPath):
    """run_epoch for CuPy networks, with fused kernels.

    ``module`` is the array library whose matmul/take/sum take ``out=`` (cupy itself, not
    array_api_compat's wrapper) and ``factory`` its ElementwiseKernel; the CPU tests pass
    NumPy and an emulator (tests/kernel_emulator.py).
    """

    name = "CuPy fused kernels"
    optimizers = ("sgd",)  # mini-batch SGD with L2 and momentum; the state is optimizers.SGDState
    selfcheck = True

    @classmethod
    def applies(cls, net, options):
        return net.backend.name == "cupy" and supported(net, options, cls.optimizers)

    def __init__(self, net, options, factory=None, module=None):
        super().__init__(net, options)
        self.names = [a.name for a in net.activations]
        self.quadratic = net.cost.name == "quadratic"
        self.module = module or _cupy()
        self.kernels = Kernels(factory or self.module.ElementwiseKernel)

    def __call__(self, net, data, state):
        o = self.options
        shuffle, momentum, eta, lmbda, mini_batch_size = o.shuffle, o.momentum, o.eta, o.lmbda, o.mini_batch_size
        raw, k = self.module, self.kernels
        n, m, sizes, dtype = len(data), mini_batch_size, net.sizes, data.x.dtype
        L = len(sizes) - 1

        # one flat buffer for all parameters [w¹ b¹ w² b² …], one for their gradients
        params = raw.empty(flat_size(sizes), dtype)
        grads = raw.empty_like(params)
        keep = raw.ones_like(params)  # 1 − ηλ/n on the weights, 1 on the biases
        l2 = raw.zeros_like(params)  # λ/n on the weights, 0 on the biases
        pv, gv = flat_views(params, sizes), flat_views(grads, sizes)
        for view, arr in zip(pv, [x for wb in zip(net.weights, net.biases) for x in wb]):
            view[...] = arr
        for kw, lw in zip(flat_views(keep, sizes)[0::2], flat_views(l2, sizes)[0::2]):
            kw[...] = 1.0 - eta * (lmbda / n)
            lw[...] = lmbda / n
        weights, biases, gw, gb = pv[0::2], pv[1::2], gv[0::2], gv[1::2]
        velocity = None
        if momentum:
            velocity = raw.zeros_like(params)
            if state.velocity_w:
                for view, arr in zip(flat_views(velocity, sizes),
                                     [x for wb in zip(state.velocity_w, state.velocity_b) for x in wb]):
                    view[...] = arr

        # per-batch buffers, allocated once per epoch
        x_all, y_all = data.x, data.targets
        perm = net.backend.asarray(net.rng.permutation(n)) if shuffle else None
        xb = raw.empty((m, sizes[0]), dtype)
        yb = raw.empty((m, sizes[-1]), dtype)
        z = [raw.empty((m, s), dtype) for s in sizes[1:]]
        a = [raw.empty((m, s), dtype) for s in sizes[1:]]
        t = [raw.empty((m, s), dtype) for s in sizes[1:]]
        d = [raw.empty((m, s), dtype) for s in sizes[1:]]

        for start in range(0, n, m):
            stop = min(start + m, n)
            mb = stop - start
            if perm is None:
                xb_, yb_ = x_all[start:stop], y_all[start:stop]
            else:
                rows = perm[start:stop]
                xb_, yb_ = xb[:mb], yb[:mb]
                raw.take(x_all, rows, axis=0, out=xb_)
                raw.take(y_all, rows, axis=0, out=yb_)
            z_, a_, t_, d_ = ([v[:mb] for v in bufs] for bufs in (z, a, t, d))
            inputs = [xb_] + a_[:-1]
            for l in range(L):  # feedforward: aˡ = f(wˡaˡ⁻¹ + bˡ), the bias and f fused
                raw.matmul(inputs[l], weights[l].T, out=z_[l])
                if self.names[l] == "softmax":
                    zl = z_[l] + biases[l]
                    e = raw.exp(zl - raw.max(zl, axis=1, keepdims=True))
                    a_[l][...] = e / raw.sum(e, axis=1, keepdims=True)
                else:
                    k.activate[self.names[l]](z_[l], biases[l], a_[l])
            out = a_[-1]
            if self.quadratic:  # BP1: δᴸ = (aᴸ − y) ⊙ f'(zᴸ), one fused launch
                raw.subtract(out, yb_, out=t_[-1])
                k.times_prime[self.names[-1]](t_[-1], out, d_[-1])
            else:  # cross-entropy / log-likelihood: δᴸ = aᴸ − y
                raw.subtract(out, yb_, out=d_[-1])
            for l in range(L - 1, 0, -1):  # BP2: δˡ = (wˡ⁺¹ᵀδˡ⁺¹) ⊙ f'(zˡ), before any update
                raw.matmul(d_[l], weights[l], out=t_[l - 1])
                k.times_prime[self.names[l - 1]](t_[l - 1], a_[l - 1], d_[l - 1])
            for l in range(L):  # BP3 and BP4 into the flat gradient buffer
                raw.matmul(d_[l].T, inputs[l], out=gw[l])
                raw.sum(d_[l], axis=0, out=gb[l])
            if momentum:  # one launch updates every weight, bias and velocity
                k.update_momentum(grads, l2, momentum, eta, 1.0 / mb, params, velocity)
            else:
                k.update(grads, keep, eta / mb, params)

        net.weights = [raw.array(w) for w in weights]
        net.biases = [raw.array(b) for b in biases]
        if momentum:
            vv = flat_views(velocity, sizes)
            return SGDState([raw.array(v) for v in vv[0::2]], [raw.array(v) for v in vv[1::2]])
        return state

