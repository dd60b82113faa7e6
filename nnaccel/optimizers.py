"""The parameter update of stochastic gradient descent, with its state kept explicit.

``sgd_update`` takes the parameters, the gradients summed over a mini-batch of m examples,
and an :class:`SGDState`, and returns new parameters and state (optax style: nothing is
hidden in an object, so a checkpoint can save the velocity and a resume restore it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple


class Optimizer(NamedTuple):
    """An optimizer as optax has it: ``init(params) → state`` and
    ``update(grads, state, params, objective) → (params, state)``, the state a NamedTuple of
    slots. A ``full_batch`` optimizer makes one update per epoch on the whole training set and
    uses the ``objective`` (second_order.Objective: value, gradient, H·v) to look further."""

    name: str
    init: Callable
    update: Callable
    full_batch: bool = False


@dataclass
class SGDState:
    """Momentum's velocities v for the weights and biases (empty lists until first used)."""

    velocity_w: list = field(default_factory=list)
    velocity_b: list = field(default_factory=list)


def sgd_update(xp, weights, biases, nabla_w, nabla_b, state, *, eta, m, n,
               lmbda=0.0, l1=0.0, momentum=0.0, nesterov=False):
    """One step on a mini-batch of ``m`` examples from a training set of ``n``.

    Plain SGD, exactly network2.py's update with L1 beside it:
        w → (1 − ηλ/n)·w − (ηλ₁/n)·sgn(w) − (η/m)·Σ∇C_x,   b → b − (η/m)·Σ∇C_x.
    With momentum μ > 0 the step is v → μv − η∇C, w → w + v, where ∇C includes the
    regularisation gradients (λ/n)w and (λ₁/n)sgn(w); Nesterov's variant moves by
    μv − η∇C instead (the gradient taken at the look-ahead point, to first order).
    """
    if momentum == 0.0:
        decay = 1.0 - eta * (lmbda / n)
        new_w = []
        for w, nw in zip(weights, nabla_w):
            w_new = decay * w - (eta / m) * nw
            if l1:
                w_new = w_new - (eta * l1 / n) * xp.sign(w)
            new_w.append(w_new)
        new_b = [b - (eta / m) * nb for b, nb in zip(biases, nabla_b)]
        return new_w, new_b, state

    if not state.velocity_w:
        state = SGDState([xp.zeros_like(w) for w in weights], [xp.zeros_like(b) for b in biases])
    new_w, new_b, vel_w, vel_b = [], [], [], []
    for w, nw, v in zip(weights, nabla_w, state.velocity_w):
        grad = nw / m
        if lmbda:
            grad = grad + (lmbda / n) * w
        if l1:
            grad = grad + (l1 / n) * xp.sign(w)
        v = momentum * v - eta * grad
        new_w.append(w + (momentum * v - eta * grad if nesterov else v))
        vel_w.append(v)
    for b, nb, v in zip(biases, nabla_b, state.velocity_b):
        grad = nb / m
        v = momentum * v - eta * grad
        new_b.append(b + (momentum * v - eta * grad if nesterov else v))
        vel_b.append(v)
    return new_w, new_b, SGDState(vel_w, vel_b)
