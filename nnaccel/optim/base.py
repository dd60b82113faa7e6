"""The optimizer seam, in the manner of optax: ``init(params) → state`` and
``update(grads, state, params, context) → (params, state)``, the state a NamedTuple of slots.

Every optimizer module (sgd, newton, hessian_free, lbfgs) builds an :class:`Optimizer`; the
registry (nnaccel.optim) names them. Nothing here imports an optimizer.
"""

from __future__ import annotations

from typing import Callable, NamedTuple


class Optimizer(NamedTuple):
    """An optimizer as optax has it: ``init(params) → state`` and
    ``update(grads, state, params, context) → (params, state)``, the state a NamedTuple of
    slots. A mini-batch optimizer gets params = (weights, biases), grads = (nabla_w, nabla_b)
    summed over the mini-batch and a :class:`Batch` as context. A ``full_batch`` optimizer
    makes one update per epoch on the whole training set: params and grads are flat vectors
    and the context is a second_order.Objective (value, gradient, H·v) to look further."""

    name: str
    init: Callable
    update: Callable
    full_batch: bool = False


class Batch(NamedTuple):
    """What a mini-batch update needs besides the gradients: the namespace, the mini-batch's
    size m and the training set's size n (the regularisation terms scale by 1/n).

    ``in_place``: the caller owns the parameters, the slots and the gradients, and their arrays
    may be overwritten (backend.Backend.in_place: never for JAX, whose arrays are immutable).
    """

    xp: object
    m: int
    n: int
    in_place: bool = False


def map_slots(fn, state):
    """``state`` with ``fn`` applied to every array of every slot (numbers and None kept)."""
    def one(value):
        if isinstance(value, (list, tuple)):
            return type(value)(fn(a) for a in value)
        return value if value is None or isinstance(value, (int, float)) else fn(value)
    return type(state)(*(one(v) for v in state))
