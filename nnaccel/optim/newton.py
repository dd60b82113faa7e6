"""The Hessian technique as the book states it: w → w − η(H + δI)⁻¹∇C.

From the second-order Taylor expansion C(w + Δw) ≈ C + ∇C·Δw + ½Δwᵀ H Δw, minimised by
Δw = −H⁻¹∇C. The damping δ keeps the step finite where H is singular or not positive. H has
P² entries for P parameters, so this is for small networks only, as the book explains:
[784, 30, 10] would need 23,860² numbers (4.6 GB in float64).
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import NNAccelError
from .base import Optimizer
from ..core.second_order import MAX_PARAMETERS, check_hessian_size, dense_hessian  # noqa: F401  (re-exported)


class NewtonState(NamedTuple):
    """Newton's method keeps nothing between steps."""


def check_size(parameters):
    """Refuse networks whose Hessian is too large to form (second_order.check_hessian_size)."""
    check_hessian_size(parameters, "--optimizer newton", "or --optimizer hessian-free")


def newton(eta=1.0, damping=0.0):
    """w → w − η(H + δI)⁻¹∇C, one step per epoch on the whole training set (δ ≥ 0: the
    parameter table's bound, checked by the trainer)."""

    def init(params):
        check_size(params.shape[0])
        return NewtonState()

    def update(grads, state, params, objective):
        xp = objective.xp
        h = dense_hessian(objective)
        h = h + damping * xp.eye(h.shape[0], dtype=h.dtype)
        try:
            step = xp.linalg.solve(h, xp.reshape(grads, (-1, 1)))
        except Exception as e:  # each library has its own LinAlgError (CuPy returns NaN instead)
            if "LinAlg" not in type(e).__name__:
                raise
            raise NNAccelError(f"the Hessian (+ δI, δ = {damping:g}) is singular, so the Newton step "
                               "(H + δI)⁻¹∇C does not exist; use --damping δ > 0, e.g. 1e-3") from None
        return params - eta * xp.reshape(step, (-1,)), state

    return Optimizer("newton", init, update, full_batch=True)
