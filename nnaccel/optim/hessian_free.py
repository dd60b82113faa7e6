"""Hessian-free optimisation (Martens 2010): the Newton step by conjugate gradient on H·v.

CG solves (H + λI)p = −∇C using only Hessian-vector products (second_order's R-operator),
so H is never formed. The damping λ follows Levenberg–Marquardt: the reduction ratio
ρ = (C(w + p) − C(w)) / q(p), with q(p) = ∇C·p + ½pᵀHp the quadratic model's prediction,
makes λ ×3/2 when ρ < ¼ (the model promised too much) and ×2/3 when ρ > ¾. CG starts from
0.95 times the previous step, and stops early on negative curvature.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .base import Optimizer


class HessianFreeState(NamedTuple):
    previous_step: Any  # CG's warm start
    damping: float


def conjugate_gradient(xp, matvec, b, x0, iterations, tolerance=1e-10):
    """Approximately solve A x = b for symmetric A given as ``matvec``; stops on negative curvature."""
    x = x0
    r = b - matvec(x)
    d = r
    rr = float(xp.sum(r * r))
    for _ in range(iterations):
        if rr <= tolerance * tolerance:
            break
        ad = matvec(d)
        curvature = float(xp.sum(d * ad))
        if curvature <= 0:  # A is not positive along d: the quadratic model has no minimum there
            break
        alpha = rr / curvature
        x = x + alpha * d
        r = r - alpha * ad
        rr_new = float(xp.sum(r * r))
        d = r + (rr_new / rr) * d
        rr = rr_new
    return x


def hessian_free(eta=1.0, damping=1.0, cg_iterations=50):
    """Truncated-Newton steps w → w + ηp, p from CG on (H + λI)p = −∇C; λ adapted by ρ (λ > 0,
    which optim.check_options asks of the trainer's damping)."""

    def init(params):
        return HessianFreeState(params * 0, float(damping))

    def update(grads, state, params, objective):
        xp = objective.xp
        lam = state.damping
        before = objective.value()

        def damped(v):
            return objective.hvp(v) + lam * v

        p = conjugate_gradient(xp, damped, -grads, 0.95 * state.previous_step, cg_iterations)
        predicted = float(xp.sum(grads * p)) + 0.5 * float(xp.sum(p * objective.hvp(p)))
        trial = params + eta * p
        objective.set(trial)
        after = objective.value()
        rho = (after - before) / predicted if predicted < 0 else -1.0
        if rho < 0.25:
            lam *= 1.5
        elif rho > 0.75:
            lam *= 2.0 / 3.0
        if not after < before:  # reject a step that does not lower the cost
            objective.set(params)
            return params, HessianFreeState(params * 0, lam)
        return trial, HessianFreeState(p, lam)

    return Optimizer("hessian-free", init, update, full_batch=True)
