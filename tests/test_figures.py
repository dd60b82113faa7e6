"""The documents' figures reproduce: the fast, seeded ones rerun to the same numbers as
docs/figures.json, and every figure block of README.md and docs/ is the rendering of that file."""

from __future__ import annotations

import json
import subprocess
import sys

from docs import figures


def test_the_fast_figures_rerun_to_the_committed_numbers_and_every_block_matches():
    done = subprocess.run([sys.executable, "-m", "docs.figures", "--fast"], capture_output=True, text=True,
                          cwd=figures.ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "all agree" in done.stdout


def test_a_number_edited_by_hand_in_a_block_is_caught():
    text = (figures.ROOT / "README.md").read_text()
    committed = figures.load()
    line = next(line for line in committed["train"]["timings"]["lines"] if line.startswith("Epoch 29:"))
    assert line in text
    edited = text.replace(line, line.replace("Epoch 29: 1", "Epoch 29: 2"))
    assert figures.render_document(edited, committed) == text != edited


def test_a_committed_value_that_a_rerun_does_not_give_is_caught(tmp_path, monkeypatch):
    committed = figures.load()
    rows = committed["experiment perceptrons"]["values"]["rows"]
    rows[0][2] = "0 0 0 0"  # NAND's outputs, as if the experiment had said otherwise
    (tmp_path / "figures.json").write_text(json.dumps(committed))
    monkeypatch.setattr(figures, "FIGURES", tmp_path / "figures.json")
    monkeypatch.setattr(figures, "DOCUMENTS", [])
    problems = figures.check(["experiment perceptrons"])
    assert len(problems) == 1 and "differ from a rerun" in problems[0]


def test_timings_are_taken_out_of_what_is_compared_and_nothing_else():
    assert figures._untimed("Epoch 0: 1816 / 2000, cost 0.0804, 0.31 s") == "Epoch 0: 1816 / 2000, cost 0.0804, … s"
    assert figures._untimed("30 epochs in 8.5 s; model saved") == "30 epochs in … s; model saved"
    assert figures._untimed("0.9117 (epoch 26)") == "0.9117 (epoch 26)"
