"""The JAX fast path: the whole epoch as one compiled XLA program, ``lax.scan`` over the mini-batches.

Eager JAX dispatches every array operation on its own (tens of µs each at the book's sizes),
so the generic path is slow there. Here the generic code itself — ``Network.backprop`` and
``optimizers.sgd_update``, pure array-API functions — is traced once by ``jax.jit`` into the
body of a scan, and an epoch is one call. So the path covers everything mini-batch SGD does on
any backend: every layer and cost, L2, L1, momentum, Nesterov and dropout.

The random draws stay on the host, from the network's generator, in run_epoch's order: the
permutation, then each mini-batch's dropout masks (nnaccel.core.dropout.host_masks); they go to the
device once per epoch, and each mini-batch gathers its rows inside the program (from the
uint8 pixels when the data has them, divided by 255 as ``DeviceData.x`` was). η is an
argument of the program, not a constant in it, so a schedule's new η reuses the compiled epoch.
"""

from __future__ import annotations

import copy
from functools import partial

import numpy as np

from ...core.dropout import host_masks
from ...optim import SGDState, sgd_update
from ..generic import EpochPath


class JaxEpoch(EpochPath):
    """run_epoch for JAX networks, compiled: one call per epoch."""

    name = "JAX jit + scan"
    optimizers = ("sgd",)  # mini-batch SGD with every option; the state is optimizers.SGDState

    @classmethod
    def applies(cls, net, options):
        return net.backend.name == "jax" and options.optimizer in cls.optimizers

    def __init__(self, net, options):
        super().__init__(net, options)
        import jax  # optional: only a JAX network gets here

        layout = copy.copy(net)  # the layers, cost and sizes the program is traced with
        self._epoch = jax.jit(partial(_epoch, layout, options), static_argnames=("pixels",))

    def __call__(self, net, data, state):
        o, xp = self.options, net.xp
        n, m = len(data), o.mini_batch_size
        full, last = divmod(n, m)
        order = net.rng.permutation(n) if o.shuffle else np.arange(n)  # as run_epoch draws it
        masks = _epoch_masks(net, n, m, o) if o.dropout else None
        if o.momentum and not state.velocity_w:  # the scan carries a velocity from the first step
            state = SGDState([xp.zeros_like(w) for w in net.weights], [xp.zeros_like(b) for b in net.biases])
        pixels = data.pixels is not None
        weights, biases, state = self._epoch(
            net.weights, net.biases, state, data.pixels if pixels else data.x, data.targets,
            net.backend.asarray(order[:full * m].reshape(full, m)), net.backend.asarray(order[full * m:]),
            masks, float(o.eta), pixels=pixels)
        net.weights, net.biases = list(weights), list(biases)
        return SGDState(list(state.velocity_w), list(state.velocity_b))


def _epoch_masks(net, n, m, options):
    """The epoch's dropout masks, drawn mini-batch by mini-batch as run_epoch draws them, then
    moved to the device at once: per hidden layer, the full mini-batches' stacked
    (batches, rows, n_l) (None without a full one) and the last smaller one's (None without one)."""
    full, last = divmod(n, m)
    draws = [host_masks(net, m, options.dropout, options.dropout_mode) for _ in range(full)]
    tail = host_masks(net, last, options.dropout, options.dropout_mode) if last else None
    asarray = net.backend.asarray
    stacked = [asarray(np.stack(layer)) for layer in zip(*draws)] if full else None
    return stacked, None if tail is None else [asarray(t) for t in tail]


def _epoch(layout, options, weights, biases, state, x, targets, batches, last, masks, eta, *, pixels):
    """One epoch of run_epoch, traced: scan the full mini-batches, then the smaller last one."""
    from jax import lax

    xp, o, n = layout.xp, options, x.shape[0]
    full_masks, last_masks = masks if masks is not None else (None, None)

    def step(params, rows, batch_masks):
        weights, biases, state = params
        xb = x[rows]  # a gather that trusts the indices (jnp.take would check each against n)
        if pixels:  # DeviceData.x's own division, on m rows instead of n
            xb = xp.astype(xb, weights[0].dtype) / 255.0
        net = copy.copy(layout)
        net.weights, net.biases = weights, biases
        nabla_b, nabla_w = net.backprop(xb, targets[rows], masks=batch_masks)
        weights, biases, state = sgd_update(xp, weights, biases, nabla_w, nabla_b, state, eta=eta,
                                            m=rows.shape[0], n=n, lmbda=o.lmbda, l1=o.l1,
                                            momentum=o.momentum, nesterov=o.nesterov)
        return weights, biases, state

    params = (list(weights), list(biases), state)
    if batches.shape[0]:
        params, _ = lax.scan(lambda p, b: (step(p, *b), None), params, (batches, full_masks))
    if last.shape[0]:
        params = step(params, last, last_masks)
    return params
