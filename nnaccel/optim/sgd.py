"""Mini-batch SGD of network2.py with L2, L1, momentum and Nesterov, behind the optimizer seam."""

from __future__ import annotations

from typing import NamedTuple

from ..core.backprop import sgd_step
from ..core.backprop import sgd_update as _update
from .base import Optimizer


class SGDState(NamedTuple):
    """Momentum's velocities v for the weights and biases (empty lists until first used).

    The default lists are shared and never changed in place: every update builds new ones.
    """

    velocity_w: list = []
    velocity_b: list = []


def sgd_update(xp, weights, biases, nabla_w, nabla_b, state, *, eta, m, n,
               lmbda=0.0, l1=0.0, momentum=0.0, nesterov=False, in_place=False):
    """One step on a mini-batch of ``m`` examples from a training set of ``n``: the shared step
    (nnaccel.core.backprop.sgd_update, whose docstring has the update rule) with this network's
    numbers as Python floats. ``in_place=True`` overwrites the weights, biases, velocities and
    gradients; the same bits as the pure step."""
    step = sgd_step(eta, m, n, lmbda=lmbda, l1=l1, momentum=momentum, nesterov=nesterov)
    return _step(xp, weights, biases, nabla_w, nabla_b, state, step, in_place)


def _step(xp, weights, biases, nabla_w, nabla_b, state, step, in_place):
    new_w, new_b, velocity = _update(xp, weights, biases, nabla_w, nabla_b, state, step, in_place=in_place)
    return new_w, new_b, velocity if velocity is state else SGDState(*velocity)


def sgd_update_in_place(xp, weights, biases, nabla_w, nabla_b, state, *, eta, m, n,
                        lmbda=0.0, l1=0.0, momentum=0.0, nesterov=False):
    """:func:`sgd_update` for arrays the caller owns, overwriting them (NumPy, CuPy, PyTorch)."""
    return sgd_update(xp, weights, biases, nabla_w, nabla_b, state, eta=eta, m=m, n=n, lmbda=lmbda,
                      l1=l1, momentum=momentum, nesterov=nesterov, in_place=True)


def sgd(eta, lmbda=0.0, l1=0.0, momentum=0.0, nesterov=False):
    """Mini-batch SGD with L2, L1, momentum and Nesterov: :func:`sgd_update` behind the seam."""
    steps = {}  # (m, n) → the step's numbers, made once per mini-batch size

    def init(params):
        return SGDState()

    def update(grads, state, params, batch):
        (weights, biases), (nabla_w, nabla_b) = params, grads
        step = steps.get((batch.m, batch.n))
        if step is None:
            step = steps[batch.m, batch.n] = sgd_step(eta, batch.m, batch.n, lmbda=lmbda, l1=l1,
                                                      momentum=momentum, nesterov=nesterov)
        new_w, new_b, state = _step(batch.xp, weights, biases, nabla_w, nabla_b, state, step, batch.in_place)
        return (new_w, new_b), state

    return Optimizer("sgd", init, update)
