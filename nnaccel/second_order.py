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
    if act.name == "softmax":
        return a * (dz - xp.sum(a * dz, axis=1, keepdims=True))
    return act.prime(xp, z, a) * dz


def _vjp_tangent(xp, act, z, a, g, dz, da, dg):
    """R{vjp(z, a, g)}: the direction derivative of the chain rule g ↦ ∂C/∂z (BP2's ⊙ f')."""
    if act.name == "softmax":  # vjp = a ⊙ (g − Σ g a)
        s = xp.sum(g * a, axis=1, keepdims=True)
        ds = xp.sum(dg * a + g * da, axis=1, keepdims=True)
        return da * (g - s) + a * (dg - ds)
    return dg * act.prime(xp, z, a) + g * SECOND_DERIVATIVE[act.name](xp, z, a) * dz


def _split(net, v):
    """Per-layer (vw, vb) device arrays from a flat host vector over [w¹, b¹, w², b², …]."""
    xp = net.xp
    flat = net.backend.asarray(v, net.dtype)
    expected = sum(n_out * (n_in + 1) for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:]))
    if tuple(flat.shape) != (expected,):
        from .errors import NNAccelError

        raise NNAccelError(f"v must be a flat vector of the network's {expected} weights and biases, "
                           f"got shape {tuple(flat.shape)}")
    vw, vb, k = [], [], 0
    for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:]):
        vw.append(xp.reshape(flat[k:k + n_out * n_in], (n_out, n_in)))
        k += n_out * n_in
        vb.append(flat[k:k + n_out])
        k += n_out
    return vw, vb


def _join(net, ws, bs):
    xp = net.xp
    parts = [p for w, b in zip(ws, bs) for p in (xp.reshape(w, (-1,)), b)]
    return net.backend.to_numpy(xp.concat(parts))


def _r_backprop(net, x, y, vw, vb):
    """(nabla_b, nabla_w, R{nabla_b}, R{nabla_w}) summed over the rows of x: BP1–BP4 and their R."""
    xp = net.xp
    acts = net.activations
    a, da = x, xp.zeros_like(x)
    activations, d_activations, zs, dzs = [a], [da], [], []
    for w, b, dw, db, act in zip(net.weights, net.biases, vw, vb, acts):
        z = a @ w.T + b
        dz = da @ w.T + a @ dw.T + db  # R{z} = R{a}·wᵀ + a·R{w}ᵀ + R{b}
        a = act.fn(xp, z)
        da = _jvp(xp, act, z, a, dz)
        zs.append(z), dzs.append(dz), activations.append(a), d_activations.append(da)

    out, cost = acts[-1], net.cost
    z, a, dz, da = zs[-1], activations[-1], dzs[-1], d_activations[-1]
    if (out.name, cost.name) in A_MINUS_Y:  # BP1: δᴸ = a − y, so R{δᴸ} = R{a}
        delta, d_delta = a - y, da
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
        r_w[l] = d_delta.T @ activations[l] + delta.T @ d_activations[l]
        if l:  # BP2: δˡ = vjp(δˡ⁺¹·wˡ⁺¹), and its R
            g = delta @ net.weights[l]
            dg = d_delta @ net.weights[l] + delta @ vw[l]
            z, a, act = zs[l - 1], activations[l], acts[l - 1]
            delta, d_delta = act.vjp(xp, z, a, g), _vjp_tangent(xp, act, z, a, g, dzs[l - 1],
                                                                d_activations[l], dg)
    return nabla_b, nabla_w, r_b, r_w


def gradient_and_hvp(net, data, v, lmbda=0.0):
    """(∇C, H·v) of total_cost(data, lmbda) as flat host vectors, in one R-backpropagation."""
    data = net.data(data)
    n = len(data)
    vw, vb = _split(net, v)
    nb, nw, rb, rw = _r_backprop(net, data.x, data.targets, vw, vb)
    grad_w = [g / n + (lmbda / n) * w for g, w in zip(nw, net.weights)]
    hv_w = [r / n + (lmbda / n) * dw for r, dw in zip(rw, vw)]
    return _join(net, grad_w, [g / n for g in nb]), _join(net, hv_w, [r / n for r in rb])


def hvp(net, data, v, lmbda=0.0):
    """H·v for the cost ``net.total_cost(data, lmbda)``, H its Hessian in the flat parameters."""
    return gradient_and_hvp(net, data, v, lmbda)[1]


def gradient(net, data, lmbda=0.0):
    """∇C of ``net.total_cost(data, lmbda)`` as a flat host vector."""
    size = sum(n_out * (n_in + 1) for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:]))
    zero = net.backend.to_numpy(net.xp.zeros(size, dtype=net.float))
    return gradient_and_hvp(net, data, zero, lmbda)[0]


def hessian(net, data, lmbda=0.0):
    """The full Hessian as a host (P, P) array, column i = H·e_i: for small networks only."""
    data = net.data(data)
    size = sum(n_out * (n_in + 1) for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:]))
    eye = net.backend.to_numpy(net.xp.eye(size, dtype=net.float))
    columns = [hvp(net, data, eye[i], lmbda) for i in range(size)]
    return _stack_columns(net, columns)


def _stack_columns(net, columns):
    xp = net.xp
    device_cols = [net.backend.asarray(c) for c in columns]
    return net.backend.to_numpy(xp.stack(device_cols, axis=1))
