"""Newton's w → w − η(H + δI)⁻¹∇C, Hessian-free CG and L-BFGS, against their formulas."""

import numpy as np
import pytest

import nnaccel
from nnaccel.core import second_order
from nnaccel.optim.hessian_free import conjugate_gradient, hessian_free
from nnaccel.optim.lbfgs import lbfgs, two_loop
from nnaccel.optim.newton import newton
from tests.conftest import BACKEND_PARAMS, make_backend

CPU_BACKENDS = [p for p in BACKEND_PARAMS if p.id in ("numpy", "array_api_strict")]


def _linear_problem(backend="numpy", lmbda=0.5):
    """A linear network with the quadratic cost: C is exactly quadratic in (w, b)."""
    net = nnaccel.Network([3, 2], cost="quadratic", output_activation="linear",
                          backend=make_backend(backend), dtype="float64", seed=4)
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, size=(20, 3))  # inputs in the range the data checks accept
    y = x @ rng.normal(size=(3, 2)) + rng.normal(size=(20, 2)) * 0.1
    return second_order.Objective(net, (x, y), lmbda), x, y


def _least_squares(x, y, lmbda):
    """The minimiser of (1/n)Σ½‖wx + b − y‖² + ½(λ/n)‖w‖², from the normal equations."""
    n = len(x)
    a = np.hstack([x, np.ones((n, 1))])
    reg = np.diag([lmbda] * x.shape[1] + [0.0])
    theta = np.linalg.solve(a.T @ a + reg, a.T @ y)
    return theta[:-1].T, theta[-1]


def _grad_norm(objective):
    return float(np.linalg.norm(objective.net.backend.to_numpy(objective.gradient())))


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_newton_minimises_a_quadratic_cost_in_one_step(backend):
    """With η = 1 and δ = 0, w − H⁻¹∇C is the minimum of a quadratic C."""
    objective, x, y = _linear_problem(backend)
    opt = newton(eta=1.0, damping=0.0)
    state = opt.init(objective.params())
    second_order.full_batch_epoch(objective, opt, state)
    w, b = objective.net.parameters_numpy()
    w_star, b_star = _least_squares(x, y, 0.5)
    assert np.allclose(w[0], w_star, atol=1e-10) and np.allclose(b[0], b_star, atol=1e-10)
    assert _grad_norm(objective) < 1e-10


def test_newton_damping_is_added_to_the_hessian():
    """Δw = −η(H + δI)⁻¹∇C exactly, for a δ > 0."""
    objective, _, _ = _linear_problem()
    h = second_order.hessian(objective.net, objective.data, 0.5)
    g = second_order.gradient(objective.net, objective.data, 0.5)
    before = np.asarray(objective.params())
    opt = newton(eta=0.7, damping=0.3)
    second_order.full_batch_epoch(objective, opt, opt.init(objective.params()))
    expected = before - 0.7 * np.linalg.solve(h + 0.3 * np.eye(len(g)), g)
    assert np.allclose(objective.params(), expected, atol=1e-12)


def test_newton_refuses_a_network_whose_hessian_is_too_large():
    net = nnaccel.Network([784, 30, 10], device="cpu")
    objective = second_order.Objective(net, (np.zeros((2, 784)), np.array([0, 1])))
    with pytest.raises(nnaccel.NNAccelError, match=r"23860² .* hessian-free"):
        newton().init(objective.params())


def test_conjugate_gradient_solves_a_positive_definite_system():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(6, 6))
    a = m @ m.T + 6 * np.eye(6)
    b = rng.normal(size=6)
    x = conjugate_gradient(np, lambda v: a @ v, b, np.zeros(6), iterations=6)
    assert np.allclose(x, np.linalg.solve(a, b), atol=1e-9)


def test_conjugate_gradient_stops_at_negative_curvature():
    """Along a direction of negative curvature the quadratic model has no minimum: stop there."""
    a = np.diag([1.0, -1.0])
    x = conjugate_gradient(np, lambda v: a @ v, np.array([1.0, 1.0]), np.zeros(2), iterations=10)
    assert np.all(np.isfinite(x))


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_hessian_free_reaches_the_minimum_of_a_quadratic_cost(backend):
    """CG on H·v with Levenberg–Marquardt damping converges to the normal equations' solution."""
    objective, x, y = _linear_problem(backend)
    opt = hessian_free(damping=1.0, cg_iterations=20)
    state = opt.init(objective.params())
    for _ in range(15):
        state = second_order.full_batch_epoch(objective, opt, state)
    w, b = objective.net.parameters_numpy()
    w_star, _ = _least_squares(x, y, 0.5)
    assert np.allclose(w[0], w_star, atol=1e-8)
    assert state.damping < 1.0  # the quadratic model was right every time: λ shrank


def test_lbfgs_two_loop_satisfies_the_secant_equation():
    """With pairs y = H s from a quadratic, the estimate maps the newest y back to its s."""
    rng = np.random.default_rng(1)
    m = rng.normal(size=(5, 5))
    h = m @ m.T + np.eye(5)
    s_list = [rng.normal(size=5) for _ in range(3)]
    y_list = [h @ s for s in s_list]
    assert np.allclose(two_loop(np, y_list[-1], s_list, y_list), s_list[-1], atol=1e-12)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_lbfgs_reaches_the_minimum_of_a_quadratic_cost(backend):
    objective, x, y = _linear_problem(backend)
    opt = lbfgs(memory=10)
    state = opt.init(objective.params())
    for _ in range(40):
        state = second_order.full_batch_epoch(objective, opt, state)
    w, _ = objective.net.parameters_numpy()
    assert np.allclose(w[0], _least_squares(x, y, 0.5)[0], atol=1e-6)


@pytest.mark.parametrize("make", [lambda: newton(damping=1.0), lambda: hessian_free(), lambda: lbfgs()],
                         ids=["newton", "hessian-free", "lbfgs"])
def test_each_step_lowers_the_cost_of_a_sigmoid_network(make):
    """Damped Newton, Hessian-free and L-BFGS each lower the cross-entropy of a small network.

    (δ = 1: where H is not positive definite a small δ lets Newton step uphill, the book's caveat.)
    """
    net = nnaccel.Network([4, 5, 3], cost="cross-entropy", device="cpu", dtype="float64", seed=0)
    rng = np.random.default_rng(3)
    objective = second_order.Objective(net, (rng.random((30, 4)), rng.integers(0, 3, 30)), 0.1)
    opt = make()
    state = opt.init(objective.params())
    costs = [objective.value()]
    for _ in range(5):
        state = second_order.full_batch_epoch(objective, opt, state)
        costs.append(objective.value())
    assert costs[-1] < 0.9 * costs[0]
    if opt.name != "newton":  # both reject a step that does not lower the cost
        assert all(b <= a for a, b in zip(costs, costs[1:]))


def test_newton_leaves_the_saturated_neurons_plateau_that_gradient_descent_crawls_along():
    """(w, b) = (2, 2), input 1 → 0: damped Newton gets the cost down 90 % in a tenth of the
    epochs gradient descent needs; with too little damping it goes uphill instead."""
    from nnaccel.book.experiments import Context
    from nnaccel.book.hessian_technique import _first_below, saturated_neuron

    runs = saturated_neuron(Context(device="cpu", backend="numpy"))
    gd = _first_below(runs["gradient descent η=0.15"]["cost"], 0.1)
    assert gd is not None and _first_below(runs["Newton δ=0.3"]["cost"], 0.1) < gd / 10
    assert runs["Newton δ=0.03"]["cost"][-1] > runs["Newton δ=0.03"]["cost"][0]
