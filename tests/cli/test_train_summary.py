"""`nnaccel train` ends with one summary line that says where the model went (or that it was
not saved); `evaluate` scores a model trained on a few classes with the same --classes;
`tune` says how it chose m, and -m or --m-choice accuracy make that choice machine-independent;
the experiments print words, never Python reprs."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from nnaccel import cli
from nnaccel.book.experiments import run_experiment
from nnaccel.tools.tune import MINI_BATCH_SIZES, cmd_tune


def nnaccel(*args):
    return subprocess.run([sys.executable, "-m", "nnaccel", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


SUMMARY = re.compile(r"nnaccel: done: best (\d+) / 2000 \([\d.]+ %\) at epoch (\d+), final (\d+) / 2000 "
                     r"\([\d.]+ %\) on the test data, (\d+) epochs in [\d.]+ s; (.*)")


def test_train_ends_with_one_summary_line_of_best_final_epochs_and_the_model(tmp_path):
    r = nnaccel("train", "--epochs", "3", "--seed", "1", "--device", "cpu", "--save", tmp_path / "m.npz")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    match = SUMMARY.fullmatch(lines[-1])
    assert match, lines[-1]
    epochs = {int(line.split(":")[0].split()[1]): int(line.split(": ")[1].split(" / ")[0])
              for line in lines if line.startswith("Epoch ")}
    best = max(epochs, key=lambda e: (epochs[e], -e))
    assert (int(match[1]), int(match[2]), int(match[3]), int(match[4])) == (epochs[best], best, epochs[2], 3)
    assert match[5] == f"model saved to {tmp_path / 'm.npz'}" and (tmp_path / "m.npz").is_file()


def test_a_model_not_saved_is_said_so_with_the_fix():
    r = nnaccel("train", "--epochs", "1", "--seed", "1", "--device", "cpu", "--sizes", "784", "10")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1].endswith("; not saved: add --save FILE")
    assert "nnaccel: 1 epoch, mini-batch 10," in r.stdout  # the header counts as the summary does


def test_a_refused_setting_prints_no_header(capsys):
    """The header waits for the API's checks: ``train --momentum 1`` is one line on stderr, nothing on stdout."""
    assert cli.main(["train", "--epochs", "1", "--device", "cpu", "--sizes", "784", "10", "--momentum", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("nnaccel: error: momentum must be in [0, 1), got 1.0")


def test_evaluate_scores_a_classes_model_on_those_classes(tmp_path):
    model = tmp_path / "two.json"
    r = nnaccel("train", "--classes", "3", "8", "--epochs", "1", "--seed", "1", "--device", "cpu", "--save", model)
    assert r.returncode == 0, r.stderr
    final = re.findall(r"Epoch 0: (\d+) / (\d+),", r.stdout)[0]
    e = nnaccel("evaluate", model, "--classes", "3", "8", "--device", "cpu")
    assert e.returncode == 0, e.stderr
    assert f"{final[0]} / {final[1]} correct" in e.stdout and "classes 3,8" in e.stdout
    bad = nnaccel("evaluate", model, "--device", "cpu")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--classes" in bad.stderr, bad.stderr


def _tune(*flags):
    lines = []
    args = cli.build_parser().parse_args(["tune", "--classes", "0", "1", "--sizes", "784", "10", "2", *flags])
    assert cmd_tune(args, out=lines.append) == 0
    return lines


@pytest.mark.slow
def test_tune_by_accuracy_chooses_the_most_accurate_m_and_says_how():
    lines = _tune("--m-choice", "accuracy")
    rows = {int(m): float(a) for m, a in re.findall(r"^  m = (\d+) +[\d.]+ s +([\d.]+) %", "\n".join(lines), re.M)}
    assert sorted(rows) == list(MINI_BATCH_SIZES)
    m = min(k for k, a in rows.items() if a == max(rows.values()))
    assert any(line.startswith(f"  m = {m}: the best validation accuracy after") for line in lines), lines
    chosen = next(line for line in lines if line.startswith("chosen:"))
    assert f"m = {m} (by --m-choice accuracy)" in chosen and f"-m {m} " in lines[-1]


@pytest.mark.slow
def test_tune_with_a_given_m_skips_the_timing_step():
    lines = _tune("-m", "20")
    assert not any(line.startswith("  m = 10 ") for line in lines)
    assert "m = 20 (given)" in next(line for line in lines if line.startswith("chosen:")) and "-m 20 " in lines[-1]


@pytest.mark.parametrize("name", ["saturation", "hessian", "decay", "perceptrons"])
def test_experiments_print_words_not_python_reprs(name, tmp_path):
    lines = []
    run_experiment(name, out_dir=tmp_path, scale=0.02, device="cpu", out=lines.append)
    text = "\n".join(lines)
    assert not re.search(r"\bNone\b|\bTrue\b|\bFalse\b|\bnan\b|[\[\]{}]", text.replace("[784,30,10]", "")), text


def test_tune_refuses_a_mini_batch_below_one_in_one_line():
    r = nnaccel("tune", "-m", "0")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "mini_batch_size must be a whole number ≥ 1, got 0" in r.stderr
