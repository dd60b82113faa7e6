"""The CuPy fast path (fused kernels, flat parameter buffer) gives the generic path's numbers.

Without a GPU its very code runs on NumPy arrays with tests/kernel_emulator.py standing in
for cupy.ElementwiseKernel; on a GPU the last test runs it on CuPy for real.
"""

import warnings
from dataclasses import replace

import numpy as np
import pytest

import nnaccel
from nnaccel.backend import cuda_available
from nnaccel.epochs.fast import cupy_epoch, selfcheck
from nnaccel.epochs.fast.c_epoch import CEpoch
from nnaccel.epochs.fast.cupy_epoch import CupyEpoch
from nnaccel.epochs.generic import EpochOptions, GenericEpoch
from nnaccel.optim import SGDState
from tests.kernel_emulator import ElementwiseKernel
from tests.epochs.test_fast import CASES, needs_c


def emulated(factory=ElementwiseKernel, label="emulated"):
    """CupyEpoch on NumPy arrays, its kernels built by ``factory`` (the emulator, or a broken one)."""

    class Emulated(CupyEpoch):
        name = f"CuPy fused kernels ({label})"

        def __init__(self, net, options):
            super().__init__(net, options, factory, np)

    return Emulated


def _train(case, data, fused, dtype="float64", epochs=2):
    case = dict(case)
    lmbda, momentum, eta = case.pop("lmbda", 0.0), case.pop("momentum", 0.0), case.pop("eta", 0.1)
    m = case.pop("m", 10)
    hidden = case.pop("hidden_activation", ["sigmoid", "sigmoid"])
    net = nnaccel.Network([784, 20, 15, 10], device="cpu", dtype=dtype, seed=3, hidden_activation=hidden, **case)
    d = net.data(data)
    options = EpochOptions(m, eta, lmbda=lmbda, momentum=momentum)
    step = (emulated() if fused else GenericEpoch)(net, options)
    state = SGDState()
    with np.errstate(over="ignore"):
        for _ in range(epochs):
            state = step(net, d, state)
    return net.parameters_numpy(), state


@pytest.mark.gpu_emulated
@pytest.mark.parametrize("case", CASES)
def test_fused_kernels_equal_the_generic_path_after_two_epochs(case, mnist10k):
    data = (mnist10k.train[0][:1005], mnist10k.train[1][:1005])  # a smaller last mini-batch too
    (fw, fb), fstate = _train(case, data, fused=True)
    (gw, gb), gstate = _train(case, data, fused=False)
    for got, want in zip(fw + fb + fstate.velocity_w + fstate.velocity_b,
                         gw + gb + gstate.velocity_w + gstate.velocity_b):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.gpu_emulated
def test_float32_fused_kernels_stay_float32_and_within_rounding(mnist10k):
    data = (mnist10k.train[0][:500], mnist10k.train[1][:500])
    (fw, _), _ = _train(dict(cost="quadratic"), data, fused=True, dtype="float32", epochs=1)
    (gw, _), _ = _train(dict(cost="quadratic"), data, fused=False, dtype="float32", epochs=1)
    for got, want in zip(fw, gw):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


@pytest.mark.gpu_emulated
def test_one_launch_updates_every_parameter():
    """[784, 20, 15, 10], quadratic: per step 3 fused activations, 1 fused δᴸ, 2 fused BP2, 1 update."""
    net = nnaccel.Network([784, 20, 15, 10], device="cpu", seed=0, cost="quadratic")
    rng = np.random.default_rng(0)
    data = net.data((rng.integers(0, 256, (40, 784), dtype=np.uint8), rng.integers(0, 10, 40)))
    step = emulated()(net, EpochOptions(10, 0.5))
    before = ElementwiseKernel.launches
    step(net, data, SGDState())
    assert ElementwiseKernel.launches - before == 4 * (3 + 1 + 2 + 1)


def broken(kernel, body):
    """An emulated CuPy path whose kernel ``kernel`` computes ``body`` instead."""

    def factory(in_params, out_params, operation, name):
        return ElementwiseKernel(in_params, out_params, body if name == kernel else operation, name)

    return emulated(factory, f"{kernel} broken")


@pytest.fixture(autouse=True)
def _fresh_selfcheck_cache(monkeypatch):
    monkeypatch.setattr(selfcheck, "_VERIFIED", {})


@pytest.mark.gpu_emulated
def test_a_wrong_kernel_is_caught_on_first_use_and_turned_off():
    net = nnaccel.Network([784, 30, 10], device="cpu", seed=0)
    options = EpochOptions(10, 0.5)
    assert selfcheck.verified(emulated(), net, options)
    wrong_sigmoid = broken("nnaccel_sigmoid", "a = 1 / (1 + exp(z + b))")  # the sign of z lost: σ(−z)
    with pytest.warns(RuntimeWarning, match=r"turned off the CuPy fused kernels .*\(its numbers differ"):
        assert not selfcheck.verified(wrong_sigmoid, net, options)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # cached: no second check, no second warning
        assert not selfcheck.verified(wrong_sigmoid, net, options)


@pytest.mark.gpu_emulated
def test_a_broken_plain_sgd_update_is_caught_for_default_training():
    """Default training (no momentum) runs the plain update, so the check must run it too."""
    net = nnaccel.Network([784, 30, 10], device="cpu", seed=0)
    wrong_update = broken("nnaccel_update", "p = p * keep + step * g")  # uphill
    with pytest.warns(RuntimeWarning, match="differ from the generic path's"):
        assert not selfcheck.verified(wrong_update, net, EpochOptions(10, 0.5))
    # momentum training never runs the plain update: that check passes
    assert selfcheck.verified(wrong_update, net, EpochOptions(10, 0.5, momentum=0.9))


@pytest.mark.gpu_emulated
def test_a_broken_momentum_update_is_caught_for_momentum_training():
    net = nnaccel.Network([784, 30, 10], device="cpu", seed=0)
    wrong = broken("nnaccel_update_momentum", "v = mu * v - eta * g * inv_m; p = p + v")  # L2 term lost
    assert selfcheck.verified(wrong, net, EpochOptions(10, 0.5, momentum=0.9))  # λ = 0: same numbers
    with pytest.warns(RuntimeWarning):
        assert not selfcheck.verified(wrong, net, EpochOptions(10, 0.5, lmbda=5.0, momentum=0.9))


@pytest.mark.gpu_emulated
def test_the_l2_path_is_checked_when_training_uses_l2():
    net = nnaccel.Network([784, 30, 10], device="cpu", seed=0)
    no_decay = broken("nnaccel_update", "p = p - step * g")  # the factor 1 − ηλ/n forgotten
    assert selfcheck.verified(no_decay, net, EpochOptions(10, 0.5))
    with pytest.warns(RuntimeWarning):
        assert not selfcheck.verified(no_decay, net, EpochOptions(10, 0.5, lmbda=5.0))


@pytest.mark.gpu_emulated
def test_a_kernel_that_fails_to_build_is_turned_off_too():
    def failing(*args):
        raise RuntimeError("NVRTC_ERROR_COMPILATION")

    net = nnaccel.Network([784, 30, 10], device="cpu", seed=0, cost="quadratic")
    with pytest.warns(RuntimeWarning, match="NVRTC_ERROR_COMPILATION"):
        assert not selfcheck.verified(emulated(failing), net, EpochOptions(10, 0.5))


@pytest.mark.gpu_emulated
def test_choose_steps_past_a_path_that_fails_its_selfcheck(monkeypatch):
    """A registered path with selfcheck = True that computes wrongly is never the one chosen."""
    from nnaccel.epochs import fast

    wrong = broken("nnaccel_update", "p = p * keep + step * g")
    always = classmethod(lambda cls, net, options: True)
    wrong_everywhere = type("WrongEverywhere", (wrong,), {"applies": always})
    right_everywhere = type("RightEverywhere", (emulated(),), {"applies": always})
    monkeypatch.setitem(fast.REGISTRY, "numpy", (wrong_everywhere, right_everywhere))
    net = nnaccel.Network([20, 6, 4], device="cpu", seed=0)
    with pytest.warns(RuntimeWarning, match=r"turned off .* \(its numbers differ"):
        assert type(fast.choose(net, EpochOptions(5, 0.5))) is right_everywhere


def _case_net(case, dtype):
    """The network of a tests/epochs/test_fast.py case, and options of its kind: plain SGD, then L2 and momentum."""
    case = dict(case)
    lmbda, momentum, eta = case.pop("lmbda", 0.0), case.pop("momentum", 0.0), case.pop("eta", 0.1)
    m = case.pop("m", 10)
    net = nnaccel.Network([784, 20, 15, 10], device="cpu", dtype=dtype, seed=3,
                          hidden_activation=case.pop("hidden_activation", ["sigmoid", "sigmoid"]), **case)
    return net, (EpochOptions(m, eta), EpochOptions(m, eta, lmbda=lmbda or 1.0, momentum=momentum or 0.5))


# Linear layers into a linear output under the quadratic cost: the check's training diverges here
# at any fixed η from 0.1 up, so only an η chosen for the network passes it.
EVERY_CASE = CASES + [dict(cost="quadratic", output_activation="linear", hidden_activation=["linear", "linear"])]


class OffByOnePercentEta(CEpoch):
    name = "C kernel at 1.01 η"

    def __call__(self, net, data, state):
        return CEpoch(net, replace(self.options, eta=1.01 * self.options.eta))(net, data, state)


class WithoutWeightDecay(CEpoch):
    name = "C kernel without the L2 term"

    def __call__(self, net, data, state):
        return CEpoch(net, replace(self.options, lmbda=0.0))(net, data, state)


@needs_c
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", EVERY_CASE)
def test_a_correct_path_that_only_rounds_differently_passes_the_check_for_every_case(case, dtype):
    """The C kernel passes the check for every case of tests/epochs/test_fast.py and a linear network: the
    check's own training is well-conditioned (on an H200 its fixed η = 0.5 turned off the CUDA
    kernel for case 3, linear and relu into a softmax)."""
    net, kinds = _case_net(case, dtype)
    for options in kinds:
        assert selfcheck.verified(CEpoch, net, options), (options, selfcheck.differences(CEpoch, net, options))


@needs_c
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", EVERY_CASE)
def test_a_path_with_a_wrong_eta_or_no_l2_term_still_fails_the_check(case, dtype):
    """1.01 η, or λ dropped, moves the weights well past the tolerance: the check catches both."""
    net, (plain, l2_momentum) = _case_net(case, dtype)
    with pytest.warns(RuntimeWarning, match=r"turned off the C kernel at 1.01 η \(its numbers differ"):
        assert not selfcheck.verified(OffByOnePercentEta, net, plain)
    with pytest.warns(RuntimeWarning, match=r"turned off the C kernel without the L2 term \(its numbers differ"):
        assert not selfcheck.verified(WithoutWeightDecay, net, l2_momentum)


def test_the_fused_path_steps_aside_where_it_does_not_apply():
    net = nnaccel.Network([4, 3, 2], device="cpu")
    assert not CupyEpoch.applies(net, EpochOptions(10, 0.5))  # a NumPy network
    assert cupy_epoch.supported(net, EpochOptions(10, 0.5))
    assert not cupy_epoch.supported(net, EpochOptions(10, 0.5, l1=0.1))
    assert not cupy_epoch.supported(net, EpochOptions(10, 0.5, momentum=0.5, nesterov=True))
    tanh_out = nnaccel.Network([4, 3, 2], cost="quadratic", output_activation="tanh", device="cpu")
    assert not cupy_epoch.supported(tanh_out, EpochOptions(10, 0.5))


@pytest.mark.gpu_emulated
def test_every_kernel_body_is_one_the_emulator_and_cuda_both_read():
    """Bodies use only T's arithmetic, comparisons, exp and tanh: no double literals (slow on GPUs)."""
    import re

    bodies = list(cupy_epoch.ACTIVATE.values()) + list(cupy_epoch.TIMES_PRIME.values())
    bodies += [cupy_epoch.UPDATE, cupy_epoch.UPDATE_MOMENTUM]
    for body in bodies:
        assert not re.search(r"\d\.\d|\?|\bif\b", body), body
        ElementwiseKernel("T z, T b, T t, T a, T g, T keep, T step, T l2, T mu, T eta, T inv_m",
                          "T p, T v, T d", body.replace("a = ", "d = "), "check")


@pytest.mark.cuda
@pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU (cupy.cuda.is_available() is false)")
@pytest.mark.parametrize("case", CASES)
def test_on_a_gpu_the_fused_path_gives_the_generic_paths_weights(case, mnist10k):
    """On CuPy for real: fused and generic paths agree to float32 rounding after an epoch."""
    case = dict(case)
    lmbda, momentum, eta = case.pop("lmbda", 0.0), case.pop("momentum", 0.0), case.pop("eta", 0.1)
    m = case.pop("m", 10)
    hidden = case.pop("hidden_activation", ["sigmoid", "sigmoid"])
    data = (mnist10k.train[0][:1005], mnist10k.train[1][:1005])
    results = []
    for fused in (True, False):
        net = nnaccel.Network([784, 20, 15, 10], device="cuda", backend="cupy", seed=3,
                              hidden_activation=hidden, **case)
        net.SGD(data, 1, m, eta, lmbda=lmbda, momentum=momentum, fused=fused)
        results.append(net.parameters_numpy())
    for got, want in zip(results[0][0] + results[0][1], results[1][0] + results[1][1]):
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-4)
