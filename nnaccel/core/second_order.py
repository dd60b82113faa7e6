"""Second-order information of chapter 3's "Hessian technique": H·v without forming H.

``hvp(net, data, v)`` is Pearlmutter's R-operator (1994): every quantity of BP1–BP4 is
differentiated in the direction v, R{q} = d/dε q(w + εv) at ε = 0, alongside the quantity
itself (forward over reverse). It costs about two backpropagations and never stores H, which
for the book's [784, 30, 10] network would hold 23,860² ≈ 5.7·10⁸ numbers. ``hessian`` builds
H column by column (H·e_i) for networks small enough to look at.

v and the results are flat host vectors over [w¹, b¹, w², b², …], each w row-major of shape
(n_l, n_{l−1}); the function differentiated is the cost that ``net.total_cost(data, lmbda)``
reports: (1/n)Σ_x C_x + ½(λ/n)Σw².
"""

from __future__ import annotations

from ..errors import NNAccelError

# f''(z) written from a = f(z), as the activations write f'(z).
SECOND_DERIVATIVE = {
    "sigmoid": lambda xp, z, a: a * (1.0 - a) * (1.0 - 2.0 * a),  # σ'' = σ'(1 − 2σ)
    "tanh": lambda xp, z, a: -2.0 * a * (1.0 - a * a),  # tanh'' = −2 tanh (1 − tanh²)
    "relu": lambda xp, z, a: xp.zeros_like(z),
    "linear": lambda xp, z, a: xp.zeros_like(z),
}

# R{∂C/∂a} from R{a}: the cost's second derivative in a, which is diagonal for all three.
COST_SECOND = {
    "quadratic": lambda xp, a, y: xp.ones_like(a),  # ∂²/∂a² ½(a − y)² = 1
    "cross-entropy": lambda xp, a, y: y / (a * a) + (1.0 - y) / ((1.0 - a) * (1.0 - a)),
    "log-likelihood": lambda xp, a, y: y / (a * a),  # ∂²/∂a² (−y ln a)
}

# (output, cost) pairs whose BP1 is the book's simplification δᴸ = aᴸ − y (costs.py).
A_MINUS_Y = {("sigmoid", "cross-entropy"), ("softmax", "log-likelihood")}


def _jvp(xp, act, z, a, dz):
    """R{a} = f'(z)·R{z}: the activation's Jacobian times the direction."""
    if act.name == "softmax":  # ∂a_j/∂z_k = c·a_j(δ_jk − a_k) at temperature c
        return act.temperature * a * (dz - xp.sum(a * dz, axis=1, keepdims=True))
    return act.prime(xp, z, a) * dz


def _vjp_tangent(xp, act, z, a, g, dz, da, dg):
    """R{vjp(z, a, g)}: the direction derivative of the chain rule g ↦ ∂C/∂z (BP2's ⊙ f')."""
    if act.name == "softmax":  # vjp = c·a ⊙ (g − Σ g a)
        s = xp.sum(g * a, axis=1, keepdims=True)
        ds = xp.sum(dg * a + g * da, axis=1, keepdims=True)
        return act.temperature * (da * (g - s) + a * (dg - ds))
    return dg * act.prime(xp, z, a) + g * SECOND_DERIVATIVE[act.name](xp, z, a) * dz


def _size(sizes):
    return sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def _split(net, flat):
    """Per-layer (w, b) device views of a flat device vector over [w¹, b¹, w², b², …]."""
    xp = net.xp
    if tuple(flat.shape) != (_size(net.sizes),):
        raise NNAccelError(f"v must be a flat vector of the network's {_size(net.sizes)} weights and "
                           f"biases, got shape {tuple(flat.shape)}")
    ws, bs, k = [], [], 0
    for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:]):
        ws.append(xp.reshape(flat[k:k + n_out * n_in], (n_out, n_in)))
        k += n_out * n_in
        bs.append(flat[k:k + n_out])
        k += n_out
    return ws, bs


def _join(xp, ws, bs):
    return xp.concat([p for w, b in zip(ws, bs) for p in (xp.reshape(w, (-1,)), b)])


def _r_backprop(net, x, y, vw, vb):
    """(nabla_b, nabla_w, R{nabla_b}, R{nabla_w}) summed over the rows of x: BP1–BP4 and their R."""
    xp = net.xp
    acts = net.activations
    a, da = x, None  # the inputs do not depend on the parameters: R{x} = 0
    activations, d_activations, zs, dzs = [a], [da], [], []
    for w, b, dw, db, act in zip(net.weights, net.biases, vw, vb, acts):
        z = a @ w.T + b
        dz = a @ dw.T + db  # R{z} = R{a}·wᵀ + a·R{w}ᵀ + R{b}
        if da is not None:
            dz = dz + da @ w.T
        a = act.fn(xp, z)
        da = _jvp(xp, act, z, a, dz)
        zs.append(z), dzs.append(dz), activations.append(a), d_activations.append(da)

    out, cost = acts[-1], net.cost
    z, a, dz, da = zs[-1], activations[-1], dzs[-1], d_activations[-1]
    if (out.name, cost.name) in A_MINUS_Y:  # BP1: δᴸ = c(a − y), so R{δᴸ} = c·R{a} (c = 1 but for softmax)
        c = getattr(out, "temperature", 1.0)
        delta, d_delta = c * (a - y), c * da
    else:  # BP1: δᴸ = vjp(∇ₐC), differentiated through both factors
        g = cost.grad(xp, a, y)
        dg = COST_SECOND[cost.name](xp, a, y) * da
        delta, d_delta = out.vjp(xp, z, a, g), _vjp_tangent(xp, out, z, a, g, dz, da, dg)

    L = len(net.weights)
    nabla_b, nabla_w, r_b, r_w = [None] * L, [None] * L, [None] * L, [None] * L
    for l in range(L - 1, -1, -1):
        nabla_b[l] = xp.sum(delta, axis=0)  # BP3
        r_b[l] = xp.sum(d_delta, axis=0)
        nabla_w[l] = delta.T @ activations[l]  # BP4
        r_w[l] = d_delta.T @ activations[l]
        if d_activations[l] is not None:
            r_w[l] = r_w[l] + delta.T @ d_activations[l]
        if l:  # BP2: δˡ = vjp(δˡ⁺¹·wˡ⁺¹), and its R
            g = delta @ net.weights[l]
            dg = d_delta @ net.weights[l] + delta @ vw[l]
            z, a, act = zs[l - 1], activations[l], acts[l - 1]
            delta, d_delta = act.vjp(xp, z, a, g), _vjp_tangent(xp, act, z, a, g, dzs[l - 1],
                                                                d_activations[l], dg)
    return nabla_b, nabla_w, r_b, r_w


class Objective:
    """``net.total_cost(data, lmbda)`` as a function of flat device vectors of the parameters:
    its value, gradient and Hessian-vector products, for the second-order optimizers."""

    def __init__(self, net, data, lmbda=0.0):
        self.net, self.data, self.lmbda = net, net.data(data), lmbda
        self.xp, self.n = net.xp, len(self.data)

    def params(self):
        """The network's parameters as one flat device vector (a copy)."""
        return _join(self.xp, self.net.weights, self.net.biases)

    def set(self, flat):
        """Make ``flat`` the network's parameters."""
        ws, bs = _split(self.net, flat)
        self.net.weights = [self.xp.asarray(w, copy=True) for w in ws]
        self.net.biases = [self.xp.asarray(b, copy=True) for b in bs]

    def value(self):
        return self.net.total_cost(self.data, self.lmbda)

    def gradient_and_hvp(self, v):
        """(∇C, H·v) at the network's parameters, in one R-backpropagation."""
        net, n, lmbda = self.net, self.n, self.lmbda
        vw, vb = _split(net, v)
        nb, nw, rb, rw = _r_backprop(net, self.data.x, self.data.targets, vw, vb)
        grad_w = [g / n + (lmbda / n) * w for g, w in zip(nw, net.weights)]
        hv_w = [r / n + (lmbda / n) * dw for r, dw in zip(rw, vw)]
        return _join(self.xp, grad_w, [g / n for g in nb]), _join(self.xp, hv_w, [r / n for r in rb])

    def gradient(self):
        return self.gradient_and_hvp(self.xp.zeros(_size(self.net.sizes), dtype=self.net.float))[0]

    def hvp(self, v):
        return self.gradient_and_hvp(v)[1]


def hvp(net, data, v, lmbda=0.0):
    """H·v for the cost ``net.total_cost(data, lmbda)``, H its Hessian in the flat parameters;
    v and the result are host vectors."""
    objective = Objective(net, data, lmbda)
    return net.backend.to_numpy(objective.hvp(net.backend.asarray(v, net.dtype)))


def gradient(net, data, lmbda=0.0):
    """∇C of ``net.total_cost(data, lmbda)`` as a flat host vector."""
    return net.backend.to_numpy(Objective(net, data, lmbda).gradient())


MAX_PARAMETERS = 5000  # H of 25 M numbers: 200 MB in float64


def check_hessian_size(parameters, who="second_order.hessian", other="or second_order.hvp for H·v products"):
    """Refuse a network whose Hessian is too large to form, saying how large it would be."""
    if parameters > MAX_PARAMETERS:
        gigabytes = parameters * parameters * 8 / 1e9
        raise NNAccelError(
            f"{who} forms the full Hessian: {parameters}² = {parameters * parameters:.3g} "
            f"numbers ({gigabytes:.3g} GB in float64) for this network's {parameters} parameters; "
            f"use it up to {MAX_PARAMETERS} parameters, {other}"
        )


def hessian(net, data, lmbda=0.0):
    """The full Hessian as a host (P, P) array, column i = H·e_i: for small networks only."""
    check_hessian_size(_size(net.sizes))
    objective = Objective(net, data, lmbda)
    return net.backend.to_numpy(dense_hessian(objective))


def dense_hessian(objective):
    """H on the device, column by column: P Hessian-vector products."""
    xp, net = objective.xp, objective.net
    eye = xp.eye(_size(net.sizes), dtype=net.float)
    return xp.stack([objective.hvp(eye[i, :]) for i in range(eye.shape[0])], axis=1)


def full_batch_epoch(objective, optimizer, state):
    """One update of a full-batch optimizer (newton, hessian_free, lbfgs) on the whole data set."""
    params, state = optimizer.update(objective.gradient(), state, objective.params(), objective)
    objective.set(params)
    return state
