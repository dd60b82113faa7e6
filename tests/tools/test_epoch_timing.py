"""What selftest measures of issue 15's goals (nnaccel/tools/epoch_timing.py), as far as a CPU can run it:
the 60k rows, the rounds and their spread, the verdicts, why a path stepped aside."""

from __future__ import annotations

import types

import numpy as np
import pytest

import nnaccel
from nnaccel.data.datasets import load_dataset
from nnaccel.epochs.fast import persistent_epoch, selfcheck
from nnaccel.epochs.fast.persistent_epoch import PersistentEpoch
from nnaccel.epochs.generic import EpochOptions
from nnaccel.tools import epoch_timing

GOAL_30, GOAL_100, GOAL_POPULATION = epoch_timing.GOALS


def test_an_epoch_is_sixty_thousand_distinct_rows_of_the_embedded_sample():
    x, labels = epoch_timing.sixty_thousand()
    sample, sample_labels = load_dataset("mnist-10k").train
    n = len(sample)
    assert x.shape == (60_000, 784) and x.dtype == np.uint8 and labels.shape == (60_000,)
    assert np.array_equal(x[n:2 * n], sample) and np.array_equal(labels[:n], sample_labels)
    assert not np.shares_memory(x[n:], x[:n])


class FakeCuda:
    """cupy.cuda's Event, Device and get_elapsed_time: each launch takes 20 ms more than the last."""

    def __init__(self):
        self.recorded, self.synced = [], 0

    def Event(self):
        cuda = self
        return types.SimpleNamespace(record=lambda: cuda.recorded.append(len(cuda.recorded)),
                                     synchronize=lambda: None)

    def Device(self):
        return types.SimpleNamespace(synchronize=lambda: setattr(self, "synced", self.synced + 1))

    def get_elapsed_time(self, start, end):
        return 20.0 * len(self.recorded) / 2  # ms


def test_rounds_follow_a_warm_up_and_report_median_min_and_max_of_events_and_wall():
    runs, ticks = [], iter(range(100))
    cuda = FakeCuda()
    timing = epoch_timing.time_rounds(lambda: runs.append(1), rounds=5, warmup=2, cuda=cuda,
                                      clock=lambda: float(next(ticks)))
    assert len(runs) == 7 and cuda.synced == 1 and len(cuda.recorded) == 10
    assert timing["events"] == {"median": 0.06, "min": 0.02, "max": 0.1, "rounds": 5}
    assert timing["wall"] == {"median": 1.0, "min": 1.0, "max": 1.0, "rounds": 5}
    assert epoch_timing.time_rounds(lambda: None, rounds=3, warmup=0)["events"] is None  # the C kernel: wall only


def test_a_goal_whose_path_stepped_aside_is_not_met_and_says_why():
    assert epoch_timing.verdict(GOAL_30, 0.01, 0.12, aside="its self-check turned it off") == \
        "not met (path turned off: its self-check turned it off)"
    assert epoch_timing.verdict(GOAL_30, 0.02, 0.12) == "met"  # ≤ 0.024 s and 6 × the C kernel
    assert epoch_timing.verdict(GOAL_30, 0.03, 0.2) == "not met"  # 6.7 × the C kernel but above 0.024 s
    assert epoch_timing.verdict(GOAL_100, 0.1, 0.29) == "not met"  # 2.9 ×
    assert epoch_timing.verdict(GOAL_POPULATION, per_second=5200) == "met"
    assert epoch_timing.verdict(GOAL_30, 0.02, 0.12, quick=True).startswith("not measured (--quick")


def _cupy_net(sizes):
    """A NumPy network that says its backend is CuPy: what applies() looks at."""
    net = nnaccel.Network(list(sizes), device="cpu", dtype="float32", seed=0)
    return types.SimpleNamespace(**{**vars(net), "backend": types.SimpleNamespace(name="cupy")})


def test_the_reason_names_max_work_or_the_self_check(monkeypatch):
    monkeypatch.setattr(persistent_epoch, "opt_in_shared_limit", lambda: 163 * 1024)  # an A100:
    monkeypatch.setattr(persistent_epoch, "has_clusters", lambda: False)  # no clusters, so epoch.cu
    reason = epoch_timing.stepped_aside(PersistentEpoch, _cupy_net((784, 100, 10)), EpochOptions(32, 0.5))
    assert reason.startswith("m × weights = 2,540,800 is above persistent_epoch.MAX_WORK")
    monkeypatch.setattr(PersistentEpoch, "applies", classmethod(lambda cls, net, options: True))
    monkeypatch.setattr(selfcheck, "verified", lambda path, net, options: False)
    reason = epoch_timing.stepped_aside(PersistentEpoch, _cupy_net((784, 30, 10)), EpochOptions(10, 0.5))
    assert "self-check turned the CUDA persistent kernel off" in reason
    monkeypatch.setattr(selfcheck, "verified", lambda path, net, options: True)
    assert epoch_timing.stepped_aside(PersistentEpoch, _cupy_net((784, 30, 10)), EpochOptions(10, 0.5)) is None


def test_the_host_is_described_without_a_gpu():
    env = epoch_timing.environment()
    assert env["cpu"] and isinstance(env["cpu"], str)
    if "nvidia_smi" not in env:
        assert env["gpu"].startswith("none") or env.get("sms")


@pytest.mark.parametrize("goal", epoch_timing.GOALS)
def test_every_goal_is_issue_15s(goal):
    assert goal.sizes in ((784, 30, 10), (784, 100, 10))
    assert (goal.seconds, goal.versus_c, goal.per_second) in ((0.024, 5.0, None), (None, 3.0, None),
                                                              (None, None, 5000.0))
