"""JAX as its documentation writes a training loop: a loss, ``jax.grad``, a pytree SGD update,
the whole epoch one ``jax.jit`` call with ``lax.scan`` over the mini-batches (each gathers its
rows from the shuffled order inside the program). The permutation is drawn on the host."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def make(sizes, cost="cross-entropy", dtype="float32", seed=0):
    """Parameters [(w, b), …] of a sigmoid network, w of shape (n_out, n_in), N(0, 1/n_in) as the book's."""
    rng = np.random.default_rng(seed)
    return [(jnp.asarray((rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(dtype)),
             jnp.asarray(rng.standard_normal(n_out).astype(dtype)))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def _loss(params, x, y, cost):
    a = x
    for w, b in params:
        a = jax.nn.sigmoid(a @ w.T + b)
    if cost == "quadratic":
        return 0.5 * jnp.sum((a - y) ** 2)
    return -jnp.sum(y * jnp.log(a) + (1 - y) * jnp.log1p(-a))


@partial(jax.jit, static_argnames=("cost",))
def epoch(params, x, y, batches, eta, cost="cross-entropy"):
    """One epoch: ``batches`` is the shuffled order as (n_batches, m) row indices."""
    def step(params, rows):
        grads = jax.grad(_loss)(params, x[rows], y[rows], cost)
        return jax.tree_util.tree_map(lambda p, g: p - (eta / rows.shape[0]) * g, params, grads), None

    return lax.scan(step, params, batches)[0]


def runner(sizes, cost, dtype, x, y, m, device=None, seed=0):
    """A function training one epoch per call (waits for the result), the data already on the device."""
    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)  # without it JAX makes float32 arrays of float64 data
    device = device or jax.devices("cpu")[0]
    params = jax.device_put(make(sizes, cost, dtype, seed), device)
    xd = jax.device_put((np.asarray(x) / 255.0).astype(dtype), device)
    yd = jax.device_put(np.eye(sizes[-1], dtype=dtype)[np.asarray(y)], device)
    rng = np.random.default_rng(seed)
    n = len(xd) // m * m
    eta = 3.0 if cost == "quadratic" else 0.5
    state = {"params": params}

    def run():
        batches = jax.device_put(rng.permutation(len(xd))[:n].reshape(-1, m), device)
        state["params"] = epoch(state["params"], xd, yd, batches, eta, cost=cost)
        jax.block_until_ready(state["params"])

    return run

