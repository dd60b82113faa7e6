"""Mini-batch SGD of network2.py with L2, L1, momentum and Nesterov, behind the optimizer seam."""

from __future__ import annotations

from typing import NamedTuple

from .base import Optimizer


class SGDState(NamedTuple):
    """Momentum's velocities v for the weights and biases (empty lists until first used).

    The default lists are shared and never changed in place: every update builds new ones.
    """

    velocity_w: list = []
    velocity_b: list = []


def sgd_update(xp, weights, biases, nabla_w, nabla_b, state, *, eta, m, n,
               lmbda=0.0, l1=0.0, momentum=0.0, nesterov=False, in_place=False):
    """One step on a mini-batch of ``m`` examples from a training set of ``n``.

    Plain SGD, exactly network2.py's update with L1 beside it:
        w → (1 − ηλ/n)·w − (ηλ₁/n)·sgn(w) − (η/m)·Σ∇C_x,   b → b − (η/m)·Σ∇C_x.
    With momentum μ > 0 the step is v → μv − η∇C, w → w + v, where ∇C includes the
    regularisation gradients (λ/n)w and (λ₁/n)sgn(w); Nesterov's variant moves by
    μv − η∇C instead (the gradient taken at the look-ahead point, to first order).

    Pure by default: new arrays, nothing overwritten (what immutable JAX arrays need).
    ``in_place=True`` overwrites the weights, biases, velocities and gradients instead
    (:func:`sgd_update_in_place`): the same operations in the same order, the same bits.
    """
    if in_place:
        return sgd_update_in_place(xp, weights, biases, nabla_w, nabla_b, state, eta=eta, m=m, n=n,
                                   lmbda=lmbda, l1=l1, momentum=momentum, nesterov=nesterov)
    if momentum == 0.0:
        decay = 1.0 - eta * (lmbda / n)
        new_w = []
        for w, nw in zip(weights, nabla_w):
            w_new = (decay * w if lmbda else w) - (eta / m) * nw  # 1·w = w: no pass over w for it
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


def sgd_update_in_place(xp, weights, biases, nabla_w, nabla_b, state, *, eta, m, n,
                        lmbda=0.0, l1=0.0, momentum=0.0, nesterov=False):
    """:func:`sgd_update` for arrays the caller owns, overwriting them (NumPy, CuPy, PyTorch):
    no temporaries for the plain step. Each product and difference is sgd_update's, in its
    order, so both give the same numbers to the last bit (tests/test_jax_backend.py)."""
    if momentum == 0.0:
        decay = 1.0 - eta * (lmbda / n)
        for w, nw in zip(weights, nabla_w):
            l1_step = (eta * l1 / n) * xp.sign(w) if l1 else None  # sgn of w before the step
            if lmbda:  # as sgd_update: without L2 no pass over w for 1·w
                w *= decay
            nw *= eta / m
            w -= nw
            if l1:
                w -= l1_step
        for b, nb in zip(biases, nabla_b):
            nb *= eta / m
            b -= nb
        return weights, biases, state

    if not state.velocity_w:
        state = SGDState([xp.zeros_like(w) for w in weights], [xp.zeros_like(b) for b in biases])
    for w, grad, v in zip(weights, nabla_w, state.velocity_w):
        grad /= m
        if lmbda:
            grad += (lmbda / n) * w
        if l1:
            grad += (l1 / n) * xp.sign(w)
        _momentum_step(w, v, grad, eta, momentum, nesterov)
    for b, grad, v in zip(biases, nabla_b, state.velocity_b):
        grad /= m
        _momentum_step(b, v, grad, eta, momentum, nesterov)
    return weights, biases, state


def _momentum_step(p, v, grad, eta, momentum, nesterov):
    """v → μv − η·grad, then p → p + v (or p + μv − η·grad with Nesterov), overwriting p, v and grad."""
    grad *= eta
    v *= momentum
    v -= grad
    if nesterov:
        step = momentum * v
        step -= grad
        p += step
    else:
        p += v


def sgd(eta, lmbda=0.0, l1=0.0, momentum=0.0, nesterov=False):
    """Mini-batch SGD with L2, L1, momentum and Nesterov: :func:`sgd_update` behind the seam."""

    def init(params):
        return SGDState()

    def update(grads, state, params, batch):
        (weights, biases), (nabla_w, nabla_b) = params, grads
        new_w, new_b, state = sgd_update(batch.xp, weights, biases, nabla_w, nabla_b, state,
                                         eta=eta, m=batch.m, n=batch.n, lmbda=lmbda, l1=l1,
                                         momentum=momentum, nesterov=nesterov, in_place=batch.in_place)
        return (new_w, new_b), state

    return Optimizer("sgd", init, update)
