"""nnaccel tune: the book's η test, the ladders' choices, and a report whose numbers reproduce."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from nnaccel import cli
from nnaccel.data import load_dataset
from nnaccel.nets.network import Network
from nnaccel.tools._tuning import holdout, strip_dataset
from nnaccel.tools.tune import cmd_tune, falls
from nnaccel.training.trainer import train


def test_a_rung_falls_only_if_the_cost_falls_every_epoch():
    assert falls([2.0, 1.0, 0.5, 0.4])
    assert not falls([2.0, 1.0, 1.1, 0.4])  # oscillates
    assert not falls([2.0, 3.0, 4.0])  # rises
    assert not falls([2.0, 1.0, math.nan])  # diverged


@pytest.mark.slow
def test_tune_on_two_classes_reports_a_choice_the_train_command_reproduces(tmp_path):
    pytest.importorskip("matplotlib", reason="--report needs matplotlib")
    lines = []
    args = cli.build_parser().parse_args(
        ["tune", "--classes", "0", "1", "--sizes", "784", "10", "2", "--report", str(tmp_path)])
    assert cmd_tune(args, out=lines.append) == 0
    assert any(line.startswith("η ladder") for line in lines) and any("λ ladder" in line for line in lines)
    assert lines[-2].startswith("reproduce (and score the test set once): nnaccel train ")
    report = json.loads((tmp_path / "tune.json").read_text())
    chosen, evidence = report["chosen"], report["evidence"]
    for figure in ("eta_ladder.png", "lmbda_ladder.png", "early_stopping.png"):
        assert (tmp_path / figure).stat().st_size > 1000

    # η is half the largest rung whose training cost fell in every first epoch...
    ladder = evidence["eta_ladder"]
    threshold = ladder["threshold"]
    assert falls(ladder["costs"][str(threshold)])
    assert not any(falls(c) for eta, c in ladder["costs"].items() if float(eta) == 10 * threshold)
    assert math.isclose(ladder["eta"], threshold / 2)
    # ...λ is the best rung of its ladder...
    scores = {float(k): v for k, v in evidence["lmbda_ladder"]["accuracy"].items()}
    assert scores[chosen["lmbda"]] == max(scores.values())
    # ...and the final training is exactly the printed command: same split, seed and settings.
    dataset = strip_dataset(load_dataset("mnist-10k"), [0, 1])
    training, validation = holdout(dataset.train, chosen["n_validation"])
    net = Network([784, 10, 2], cost="cross-entropy", seed=1)
    train(net, training, chosen["epochs"], chosen["mini_batch_size"], chosen["eta"], lmbda=chosen["lmbda"],
          evaluation_data=validation, schedule="halve" if chosen["halving"] else "constant",
          patience=evidence["early_stopping"]["patience"])
    assert net.accuracy(validation) / len(validation[1]) == chosen["validation_accuracy"]
    assert f"--eta {chosen['eta']:g}" in chosen["command"] and "--classes 0 1" in chosen["command"]
    assert chosen["validation_accuracy"] > 0.95  # 0s and 1s are easy


def nnaccel(*args):
    return subprocess.run([sys.executable, "-m", "nnaccel", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, words", [
    (["--classes", "0", "42"], "no images of class 42"),
    (["--classes", "3"], "two or more"),
    (["--validation-size", "8000"], "--validation-size"),
    (["--sizes", "784", "30", "10", "--classes", "0", "1"], "--sizes"),
])
def test_bad_input_is_one_line_and_exit_2(args, words):
    result = nnaccel("tune", *args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr, result.stderr


def test_report_without_matplotlib_is_refused_in_one_line(monkeypatch, capsys, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert cli.main(["tune", "--report", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "matplotlib" in err[0]
    assert not (tmp_path / "r").exists()
