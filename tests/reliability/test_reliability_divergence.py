"""Issue 9, item 1: a diverged run is caught, whatever is monitored, and never saved as a success."""

import math
import subprocess
import sys

import numpy as np
import pytest

import nnaccel
from nnaccel.core import costs
from nnaccel.data.arrays import DeviceData
from nnaccel.errors import NNAccelError
from nnaccel.training.divergence import likely_cause
from nnaccel.training.trainer import TrainingDiverged, train


@pytest.mark.parametrize("name", ["quadratic", "cross-entropy", "log-likelihood"])
def test_a_nan_output_or_target_gives_a_nan_cost(name):
    """The costs propagate NaN: network2's nan_to_num must not turn a diverged net into a finite cost."""
    cost = costs.get(name)
    a = np.full((2, 3), 0.25)
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert math.isfinite(float(cost.fn(np, a, y)))
    for where in ((0, 0), (1, 2)):  # under a target 1 and under a target 0
        bad_a = a.copy()
        bad_a[where] = np.nan
        assert math.isnan(float(cost.fn(np, bad_a, y))), where
    bad_y = y.copy()
    bad_y[0, 1] = np.nan
    assert math.isnan(float(cost.fn(np, a, bad_y)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_cap_for_saturated_terms_stays_for_finite_outputs(dtype):
    """A saturated output (a = 0 where y = 1) costs −ln(smallest normal) per term, not inf (README)."""
    cap = -math.log(np.finfo(dtype).smallest_normal)
    a = np.array([[0.0, 1.0]], dtype=dtype)  # both terms saturated the wrong way
    y = np.array([[1.0, 0.0]], dtype=dtype)
    got = float(costs.get("cross-entropy").fn(np, a, y))
    assert got == pytest.approx(2 * cap, rel=1e-6)  # one capped term per neuron
    half = np.array([[0.5, 0.5]], dtype=dtype)
    assert float(costs.get("cross-entropy").fn(np, half, y)) == pytest.approx(2 * math.log(2), rel=1e-6)


def test_the_issues_reproduction_exits_3_in_one_line_and_saves_nothing(tmp_path):
    r = subprocess.run([sys.executable, "-m", "nnaccel", "train", "--hidden-activation", "linear",
                        "--cost", "cross-entropy", "--eta", "10", "--epochs", "3", "--save", "x.json"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "training diverged at epoch 0: the cost became nan" in r.stderr and "smaller eta" in r.stderr
    assert list(tmp_path.iterdir()) == []  # no model, no temporary file


def _diverging_net():
    return nnaccel.Network([12, 6, 4], cost="quadratic", hidden_activation="linear",
                           output_activation="linear", device="cpu", dtype="float64", seed=4)


@pytest.mark.parametrize("monitor", [{}, {"monitor_evaluation_accuracy": True},
                                     {"monitor_training_accuracy": True}])
def test_parameters_are_checked_whatever_is_monitored(small_data, monitor):
    net = _diverging_net()
    kw = dict(monitor, evaluation_data=small_data) if monitor else {}
    with pytest.raises(TrainingDiverged, match="diverged at epoch \\d+: the weights became nan or infinite"):
        train(net, small_data, 60, 10, 100.0, **kw)


def test_after_a_divergence_the_network_holds_its_last_good_epoch(small_data):
    seen = []
    net = _diverging_net()
    with pytest.raises(TrainingDiverged) as info:
        train(net, small_data, 60, 10, 100.0, callback=lambda r: seen.append(
            [w.copy() for w in net.weights]))
    epoch = int(str(info.value).split("epoch ")[1].split(":")[0])
    assert len(seen) == epoch  # every complete epoch before the bad one was reported
    assert all(np.all(np.isfinite(w)) for w in net.weights + net.biases)
    if seen:
        for got, want in zip(net.weights, seen[-1]):
            np.testing.assert_array_equal(got, want)


def _device_data(net, x, y):
    """Data on the device as it is, past any validation at the door: what likely_cause must judge."""
    good = net.data((np.clip(x, 0, 1), y))
    return DeviceData(net.backend.asarray(x, net.dtype), good.labels, good.targets)


def test_likely_cause_names_non_finite_inputs_not_eta(small_data):
    x, y = small_data
    net = nnaccel.Network([12, 6, 4], device="cpu", dtype="float64", seed=1)
    bad = x.copy()
    bad[3, 5] = np.inf
    message = likely_cause(np, 0.5, _device_data(net, bad, y))
    assert "training inputs hold NaN or infinite values" in message and "eta" not in message
    message = likely_cause(np, 0.5, _device_data(net, x, y), _device_data(net, bad, y))
    assert "evaluation inputs hold NaN" in message
    assert likely_cause(np, 0.5, _device_data(net, x * 255, y)).startswith("the training inputs reach 2")
    assert likely_cause(np, 0.5, _device_data(net, x, y)) == "try a smaller eta than 0.5 (e.g. 0.05)"


def test_nan_pixels_are_not_blamed_on_eta(small_data):
    """Refused at the door (data validation) or diagnosed after the divergence: either way, the data is named."""
    x, y = small_data
    x = x.copy()
    x[3, 5] = np.nan
    net = nnaccel.Network([12, 6, 4], device="cpu", dtype="float64", seed=1)
    with pytest.raises(NNAccelError, match="NaN") as info:
        train(net, (x, y), 2, 10, 0.5)
    assert "eta" not in str(info.value)


def test_unscaled_pixels_ask_for_scaling(small_data):
    x, y = small_data
    net = nnaccel.Network([12, 30, 4], hidden_activation="linear", output_activation="linear", cost="quadratic",
                          device="cpu", dtype="float64", seed=1)
    with pytest.raises(NNAccelError, match="--scale 255"):
        train(net, (np.round(x * 255), y), 20, 10, 3.0)


def test_divergence_is_caught_and_undone_on_every_backend(backend, small_data):
    """The costs keep NaN and the parameter check is one array-API reduction: the same on each backend."""
    net = nnaccel.Network([12, 6, 4], cost="cross-entropy", hidden_activation="linear", backend=backend,
                          dtype="float64", seed=4)
    with pytest.raises(TrainingDiverged, match="diverged at epoch \\d+: the cost became nan"):
        train(net, small_data, 60, 10, 200.0, evaluation_data=small_data, monitor_evaluation_cost=True)
    xp = net.xp
    assert all(bool(xp.all(xp.isfinite(w))) for w in net.weights + net.biases)
