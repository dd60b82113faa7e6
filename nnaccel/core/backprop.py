"""The network's mathematics, written once for K networks of one shape: feedforward,
backpropagation (BP1–BP4) and the SGD step, over a member axis in front.

Member k's weights are ``weights[l][k]`` of shape (n_l, n_{l−1}) exactly as in the book, its
biases ``biases[l][k]`` a (1, n_l) row; a mini-batch is an (m, n_0) matrix of rows shared by
every member (it broadcasts against the stack), so a layer is Z = A·wᵀ + b for all K at once
and the sums over the mini-batch in BP3/BP4 are one column sum and one matrix product. Every
line broadcasts over the member axis, as a gufunc does over its loop axes, so the same lines
run K = 1 without the axis: a Network (nnaccel.nets.network) passes its own (n_l, n_{l−1})
weights and (n_l,) biases and gets a network's operations, and a population
(nnaccel.epochs.population) passes (K, …) stacks. Pure functions of arrays: the caller passes ``xp``.
"""

from __future__ import annotations

from typing import NamedTuple


def _matmul(a, b):
    """a @ b. A stack of one member is multiplied as the 2-D matrix it holds: PyTorch sends a
    batched product of little work (under 400 multiply-adds) through a loop of its own whose
    sums round differently from the 2-D product's BLAS call, and a population of one must give
    its network's numbers to the last bit."""
    stack = a if a.ndim == 3 else b if b.ndim == 3 else None
    if stack is not None and stack.shape[0] == 1:
        return ((a[0, ...] if a.ndim == 3 else a) @ (b[0, ...] if b.ndim == 3 else b))[None, ...]
    return a @ b


def feedforward(xp, weights, biases, activations, a):
    """aᴸ of every member (K, m, n_L) for the inputs ``a`` (m, n_0); biases (K, 1, n_l). One
    network's arrays, without the member axis, give its (m, n_L)."""
    for w, b, act in zip(weights, biases, activations):
        a = act.fn(xp, _matmul(a, w.mT) + b)
    return a


def backprop(xp, weights, biases, activations, cost, x, y, masks=None):
    """(nabla_b, nabla_w) of every member: ∇C summed over the mini-batch rows ``x`` (m, n_0) with
    targets ``y`` (m, n_L), stacked (K, 1, n_l) and (K, n_l, n_{l−1}); biases come as (K, 1, n_l).
    One network's arrays, without the member axis, give its (1, n_l) and (n_l, n_{l−1}).

    ``masks`` (nnaccel.core.dropout.draw_masks: one 0/1 array per hidden layer, shared by the
    members) thins the network: a deleted neuron outputs 0 and gets δ = 0, so neither its
    incoming nor its outgoing weights get a gradient.
    """
    activation = x
    acts = [x]  # aˡ for every layer, one row per example
    zs = []  # zˡ for every layer
    for l, (w, b, act) in enumerate(zip(weights, biases, activations)):
        z = _matmul(activation, w.mT) + b
        zs.append(z)
        activation = act.fn(xp, z)
        if masks is not None and l < len(masks):
            activation = activation * masks[l]
        acts.append(activation)
    nabla_b = [None] * len(weights)
    nabla_w = [None] * len(weights)
    delta = cost.delta(xp, zs[-1], acts[-1], y, activations[-1])  # BP1
    nabla_b[-1] = xp.sum(delta, axis=-2, keepdims=True)  # BP3, summed over the batch
    nabla_w[-1] = _matmul(delta.mT, acts[-2])  # BP4, summed over the batch
    for l in range(2, len(weights) + 1):
        delta = activations[-l].vjp(xp, zs[-l], acts[-l], _matmul(delta, weights[-l + 1]))  # BP2
        if masks is not None:
            delta = delta * masks[-l + 1]  # a deleted neuron passes no error back
        nabla_b[-l] = xp.sum(delta, axis=-2, keepdims=True)  # BP3
        nabla_w[-l] = _matmul(delta.mT, acts[-l - 1])  # BP4
    return nabla_b, nabla_w


class SGDStep(NamedTuple):
    """The numbers of one SGD step on a mini-batch of m from a training set of n: Python floats
    for one network, (K, 1, 1) arrays (one per member) for a population. A term no member uses
    is None, and the step skips it: without L2 no pass over w for 1·w."""

    m: int
    eta: object  # η
    eta_m: object  # η/m
    decay: object = None  # 1 − ηλ/n
    l2: object = None  # λ/n
    l1: object = None  # λ₁/n
    eta_l1: object = None  # ηλ₁/n
    momentum: object = None  # μ
    nesterov: bool = False
    with_momentum: object = None  # (K, 1, 1) booleans where only some members have μ ≠ 0


def sgd_step(eta, m, n, lmbda=0.0, l1=0.0, momentum=0.0, nesterov=False) -> SGDStep:
    """One network's step as Python floats, each computed as network2.py computes it."""
    return SGDStep(m, eta, eta / m,
                   decay=1.0 - eta * (lmbda / n) if lmbda else None,
                   l2=lmbda / n if lmbda else None,
                   l1=l1 / n if l1 else None,
                   eta_l1=eta * l1 / n if l1 else None,
                   momentum=momentum if momentum else None,
                   nesterov=nesterov)


def sgd_update(xp, weights, biases, nabla_w, nabla_b, velocity, step, in_place=False):
    """(weights, biases, velocity) after one step of every member; ``velocity`` is momentum's
    (velocity_w, velocity_b), empty lists until first used. Elementwise, so the arrays may
    carry the member axis or not: the step's numbers broadcast against them.

    Plain SGD, network2.py's update with L1 beside it:
        w → (1 − ηλ/n)·w − (ηλ₁/n)·sgn(w) − (η/m)·Σ∇C_x,   b → b − (η/m)·Σ∇C_x.
    With momentum μ the step is v → μv − η∇C, w → w + v, where ∇C includes the regularisation
    gradients (λ/n)w and (λ₁/n)sgn(w); Nesterov's variant moves by μv − η∇C instead (the
    gradient taken at the look-ahead point, to first order). Members with μ = 0 in a stack
    where others have one take the plain step and keep their velocity.

    Pure by default: new arrays, nothing overwritten (what immutable JAX arrays need).
    ``in_place=True`` overwrites the parameters, velocities and gradients (NumPy, CuPy,
    PyTorch): the same operations in the same order, the same bits.
    """
    if in_place and step.with_momentum is None:
        return _update_in_place(xp, weights, biases, nabla_w, nabla_b, velocity, step)
    if step.momentum is None:
        return ([_plain(xp, w, nw, step) for w, nw in zip(weights, nabla_w)],
                [b - step.eta_m * nb for b, nb in zip(biases, nabla_b)], velocity)

    velocity_w, velocity_b = velocity if velocity[0] else _zero_velocity(xp, weights, biases)
    moved_w = [_momentum(xp, w, _gradient(xp, w, nw, step), v, step, lambda: _plain(xp, w, nw, step))
               for w, nw, v in zip(weights, nabla_w, velocity_w)]
    moved_b = [_momentum(xp, b, nb / step.m, v, step, lambda: b - step.eta_m * nb)
               for b, nb, v in zip(biases, nabla_b, velocity_b)]
    return ([p for p, _ in moved_w], [p for p, _ in moved_b],
            ([v for _, v in moved_w], [v for _, v in moved_b]))


def _gradient(xp, w, nw, step):
    """∇C of the weights: Σ∇C_x/m + (λ/n)·w + (λ₁/n)·sgn(w), the terms in use only."""
    grad = nw / step.m
    if step.l2 is not None:
        grad = grad + step.l2 * w
    if step.l1 is not None:
        grad = grad + step.l1 * xp.sign(w)
    return grad


def _momentum(xp, p, grad, v0, step, plain):
    """(p, v) after v → μv − η·grad, p → p + v (p + μv − η·grad with Nesterov); where only some
    members have μ, the others take ``plain()`` and keep v0."""
    v = step.momentum * v0 - step.eta * grad
    new = p + (step.momentum * v - step.eta * grad if step.nesterov else v)
    if step.with_momentum is None:
        return new, v
    return xp.where(step.with_momentum, new, plain()), xp.where(step.with_momentum, v, v0)


def _plain(xp, w, nw, step):
    """(1 − ηλ/n)·w − (η/m)·Σ∇C_x − (ηλ₁/n)·sgn(w), the terms in use only."""
    new = (step.decay * w if step.decay is not None else w) - step.eta_m * nw
    if step.l1 is not None:
        new = new - step.eta_l1 * xp.sign(w)
    return new


def _zero_velocity(xp, weights, biases):
    return [xp.zeros_like(w) for w in weights], [xp.zeros_like(b) for b in biases]


def _update_in_place(xp, weights, biases, nabla_w, nabla_b, velocity, step):
    """:func:`sgd_update` overwriting the arrays, with no temporaries for the plain step. Each
    product and difference is the pure step's, in its order, so both give the same bits."""
    if step.momentum is None:
        for w, nw in zip(weights, nabla_w):
            l1_step = step.eta_l1 * xp.sign(w) if step.l1 is not None else None  # sgn of w before the step
            if step.decay is not None:
                w *= step.decay
            nw *= step.eta_m
            w -= nw
            if l1_step is not None:
                w -= l1_step
        for b, nb in zip(biases, nabla_b):
            nb *= step.eta_m
            b -= nb
        return weights, biases, velocity

    velocity_w, velocity_b = velocity if velocity[0] else _zero_velocity(xp, weights, biases)
    for w, grad, v in zip(weights, nabla_w, velocity_w):
        grad /= step.m
        if step.l2 is not None:
            grad += step.l2 * w
        if step.l1 is not None:
            grad += step.l1 * xp.sign(w)
        _momentum_step(w, v, grad, step)
    for b, grad, v in zip(biases, nabla_b, velocity_b):
        grad /= step.m
        _momentum_step(b, v, grad, step)
    return weights, biases, (velocity_w, velocity_b)


def _momentum_step(p, v, grad, step):
    """v → μv − η·grad, then p → p + v (or p + μv − η·grad with Nesterov), overwriting p, v and grad."""
    grad *= step.eta
    v *= step.momentum
    v -= grad
    if step.nesterov:
        move = step.momentum * v
        move -= grad
        p += move
    else:
        p += v
