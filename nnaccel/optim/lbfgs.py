"""L-BFGS: a quasi-Newton method that builds H⁻¹∇C from the last few steps, full batch.

The two-loop recursion (Nocedal & Wright, Algorithm 7.4) applies the inverse-Hessian estimate
of the last ``memory`` pairs s = w_{k+1} − w_k, y = ∇C_{k+1} − ∇C_k to the gradient without
forming any matrix; a backtracking line search (Armijo's sufficient decrease) picks the step.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..errors import NNAccelError
from .base import Optimizer


class LBFGSState(NamedTuple):
    s: tuple  # the last steps w_{k+1} − w_k, newest last
    y: tuple  # the matching gradient changes
    previous_params: Any
    previous_grads: Any


def two_loop(xp, grads, s_list, y_list):
    """H⁻¹·∇C by the two-loop recursion, with H₀ = (sᵀy / yᵀy)·I from the newest pair."""
    q = grads
    alphas = []
    for s, y in zip(reversed(s_list), reversed(y_list)):
        rho = 1.0 / float(xp.sum(y * s))
        alpha = rho * float(xp.sum(s * q))
        q = q - alpha * y
        alphas.append((rho, alpha))
    if s_list:
        s, y = s_list[-1], y_list[-1]
        q = (float(xp.sum(s * y)) / float(xp.sum(y * y))) * q
    for (s, y), (rho, alpha) in zip(zip(s_list, y_list), reversed(alphas)):
        beta = rho * float(xp.sum(y * q))
        q = q + (alpha - beta) * s
    return q


def lbfgs(eta=1.0, memory=10, c1=1e-4, max_halvings=30):
    """w → w − t·H⁻¹∇C, t from η halved until C falls by at least c₁·t·∇C·H⁻¹∇C."""
    if not (isinstance(memory, int) and memory >= 1):
        raise NNAccelError(f"the L-BFGS memory must be a whole number ≥ 1, got {memory!r}")

    def init(params):
        return LBFGSState((), (), None, None)

    def update(grads, state, params, objective):
        xp = objective.xp
        s_list, y_list = list(state.s), list(state.y)
        if state.previous_params is not None:
            s, y = params - state.previous_params, grads - state.previous_grads
            if float(xp.sum(s * y)) > 1e-12:  # keep H⁻¹ positive definite (curvature condition)
                s_list, y_list = (s_list + [s])[-memory:], (y_list + [y])[-memory:]
        direction = -two_loop(xp, grads, s_list, y_list)
        slope = float(xp.sum(grads * direction))
        if slope >= 0:  # not a descent direction: forget the history, go down the gradient
            s_list, y_list, direction, slope = [], [], -grads, -float(xp.sum(grads * grads))
        before, t = objective.value(), eta
        for _ in range(max_halvings):
            trial = params + t * direction
            objective.set(trial)
            if objective.value() <= before + c1 * t * slope:
                return trial, LBFGSState(tuple(s_list), tuple(y_list), params, grads)
            t /= 2
        objective.set(params)
        return params, LBFGSState(tuple(s_list), tuple(y_list), params, grads)

    return Optimizer("lbfgs", init, update, full_batch=True)
