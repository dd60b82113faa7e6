"""Neuron activations a = f(z), each with its derivative, as pure functions of arrays.

Arrays hold one example per row, along the last axis (a population's member axis may stand in
front). ``fn(xp, z)`` is the activation; ``prime(xp, z, a)`` is f'(z), given a = f(z) too so
that σ'(z) = σ(z)(1 − σ(z)) reuses the forward pass.
``vjp(xp, z, a, g)`` is the chain rule ∂C/∂z from g = ∂C/∂a: g·f'(z) for the elementwise
activations, the full Jacobian product for softmax, whose outputs depend on each other.
"""

from __future__ import annotations

from ..errors import NNAccelError


class Activation:
    name = ""
    hidden_ok = True
    trainable = True  # False for step neurons, whose derivative carries no signal

    def fn(self, xp, z):
        raise NotImplementedError

    def prime(self, xp, z, a):
        raise NotImplementedError

    def vjp(self, xp, z, a, g):
        return g * self.prime(xp, z, a)

    def __repr__(self):
        return f"{type(self).__name__}()"


class Sigmoid(Activation):
    """σ(z) = 1/(1 + e^{−z}), computed as ½(1 + tanh(z/2)).

    The same function, but nothing overflows for any z, and a saturated neuron gives exactly
    0 or 1 rather than a subnormal number (which slows x86 arithmetic 10–100×: an epoch of a
    saturated [784, 1024, 1024, 10] network took 80 s instead of 4 with e^{−|z|}). The price
    is absolute rather than relative precision for σ(z) < ~1e-8 (float64: 1e-16 absolute).
    """

    name = "sigmoid"

    def fn(self, xp, z):
        return 0.5 * (1.0 + xp.tanh(0.5 * z))

    def prime(self, xp, z, a):
        return a * (1.0 - a)


class Tanh(Activation):
    """tanh(z), with tanh'(z) = 1 − tanh²(z)."""

    name = "tanh"

    def fn(self, xp, z):
        return xp.tanh(z)

    def prime(self, xp, z, a):
        return 1.0 - a * a


class ReLU(Activation):
    """max(0, z), with derivative 1 for z > 0 and 0 otherwise."""

    name = "relu"

    def fn(self, xp, z):
        return xp.maximum(z, xp.zeros_like(z))

    def prime(self, xp, z, a):
        return xp.astype(z > 0, z.dtype)


class Linear(Activation):
    """The identity a = z (the book's linear output neurons)."""

    name = "linear"

    def fn(self, xp, z):
        return z

    def prime(self, xp, z, a):
        return xp.ones_like(z)

    def vjp(self, xp, z, a, g):
        return g


class Softmax(Activation):
    """a_j = e^{c z_j} / Σ_k e^{c z_k}, shifted by max z so the exponentials cannot overflow.

    c is the temperature parameter of chapter 3's exercise (default 1, the book's softmax); as
    c → ∞ the output tends to the one-hot of argmax z, the "max" the name softens. An output
    layer only: its Jacobian ∂a_j/∂z_k = c·a_j(δ_jk − a_k) is not diagonal, so the chain rule
    is ``vjp`` = c·a ⊙ (g − Σ_k g_k a_k), and ``prime`` (the diagonal) is not enough for
    backpropagation.
    """

    name = "softmax"
    hidden_ok = False

    def __init__(self, temperature=1.0):
        self.temperature = float(temperature)  # c > 0: checked by Network (nnaccel.core.parameters)

    def fn(self, xp, z):
        e = xp.exp(self.temperature * (z - xp.max(z, axis=-1, keepdims=True)))
        return e / xp.sum(e, axis=-1, keepdims=True)

    def prime(self, xp, z, a):
        return self.temperature * a * (1.0 - a)

    def vjp(self, xp, z, a, g):
        return self.temperature * a * (g - xp.sum(g * a, axis=-1, keepdims=True))

    def __repr__(self):
        return "Softmax()" if self.temperature == 1.0 else f"Softmax(temperature={self.temperature!r})"


class Step(Activation):
    """The perceptron's rule: output 1 if z = w·x + b > 0, else 0 (chapter 1).

    It can be evaluated but not trained: its derivative is 0 wherever it exists, so a small
    change in any weight never changes the output and gradient descent gets no signal. That
    is the book's reason for sigmoid neurons, which are smoothed-out perceptrons.
    """

    name = "step"
    trainable = False

    def fn(self, xp, z):
        return xp.astype(z > 0, z.dtype)

    def prime(self, xp, z, a):
        raise NNAccelError(UNTRAINABLE)


UNTRAINABLE = ("step (perceptron) neurons cannot be trained by gradient descent: their derivative "
               "is 0 wherever it exists, so no small change of a weight changes the output; use "
               "sigmoid neurons, the book's smoothed perceptrons")

ACTIVATIONS = {cls.name: cls() for cls in (Sigmoid, Tanh, ReLU, Linear, Softmax, Step)}


def check_trainable(activations):
    """Refuse, before any training, layers gradient descent cannot train (step neurons)."""
    if not all(get(a).trainable for a in activations):
        raise NNAccelError(UNTRAINABLE)


def get(name_or_activation) -> Activation:
    """Look an activation up by name ("sigmoid", "tanh", "relu", "linear", "softmax", "step")."""
    if isinstance(name_or_activation, Activation):
        return name_or_activation
    try:
        return ACTIVATIONS[str(name_or_activation).lower()]
    except KeyError:
        raise NNAccelError(
            f"unknown activation {name_or_activation!r}; use one of {', '.join(ACTIVATIONS)}"
        ) from None
