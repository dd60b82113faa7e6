"""The chapter 1–3 experiments of issue 11, run in-process at a small scale: what each one's
numbers must say, and that each has its own figure."""

import json
import math

import pytest

from nnaccel.book import experiments
from nnaccel.book.experiments import EXPERIMENTS, PLOTS, Context, run_experiment

NEW = ["perceptrons", "bitwise", "hessian", "decay", "dropout"]


@pytest.fixture(scope="module")
def ctx():
    return Context(device="cpu", seed=1, scale=0.01)


def test_every_new_experiment_is_registered_and_the_old_ones_stay():
    assert list(EXPERIMENTS)[:5] == ["saturation", "overfitting", "init", "more-data", "regularization"]
    assert set(NEW) <= set(EXPERIMENTS)
    assert all(name in PLOTS for name in NEW if name != "dropout")  # dropout: the book's per-epoch curves


def test_perceptrons_the_nand_gate_the_adder_and_the_two_exercises(ctx):
    result = EXPERIMENTS["perceptrons"](ctx)
    runs = result["runs"]
    assert [row[2] for row in runs["nand"]] == [1.0, 1.0, 1.0, 0.0]
    assert all(2 * carry + total == x1 + x2 for x1, x2, total, carry in runs["adder"])
    gaps = [p["largest_gap"] for p in runs["limit"]]
    assert gaps == sorted(gaps, reverse=True) and gaps[0] > 0.1 and gaps[-1] == 0.0
    assert all(t["sigmoid"] == 0.5 and t["perceptron"] == 0.0 for t in runs["tie"])
    assert result["summary"][2][2] == "true"  # scaling every w, b by c > 0 changes no perceptron output


def test_bitwise_the_four_bits_spell_almost_every_prediction(ctx):
    runs = EXPERIMENTS["bitwise"](ctx)["runs"]
    assert runs["n"] == 2000 and runs["agree"] / runs["n"] > 0.9
    assert sum(d["n"] for d in runs["per_digit"]) == runs["n"]
    assert sum(d["agree"] for d in runs["per_digit"]) == runs["agree"]


def test_decay_the_first_epochs_shrink_w_by_about_exp_minus_eta_lambda_over_m(ctx):
    """Epoch 1 from N(0,1) weights: the measured RMS falls by exp(−ηλ/m) = 0.905, within 2 %."""
    result = EXPERIMENTS["decay"](ctx)
    measured, s = result["runs"]["measured"], result["settings"]
    factor = math.exp(-s["eta"] * s["lmbda"] / s["m"])
    assert measured[1] / measured[0] == pytest.approx(factor, rel=0.02)


def test_hessian_damped_newton_leaves_the_plateau_that_holds_gradient_descent(ctx):
    neuron = experiments.hessian_technique.saturated_neuron(ctx, epochs=2000)  # 20 epochs at scale 0.01
    gd, newton = neuron["gradient descent η=0.15"]["cost"], neuron["Newton δ=0.3"]["cost"]
    assert gd[-1] > 0.9 * gd[0]  # still on the plateau
    assert newton[-1] < 0.1 * newton[0]  # −90 % in 20 epochs (the full run: in 11)


def test_dropout_compares_three_runs_on_the_1000_image_setup(ctx):
    result = EXPERIMENTS["dropout"](ctx)
    assert list(result["runs"]) == ["none", "L2 λ=0.1", "dropout p=0.5"]
    assert all(records[-1]["n_training"] == 1000 for records in result["runs"].values())
    assert [row[1] for row in result["summary"][:3]] == ["82.27 %", "87.1 %", "–"]


@pytest.mark.parametrize("name", NEW)
def test_each_new_experiment_writes_its_json_and_its_own_figure(name, tmp_path):
    pytest.importorskip("matplotlib", reason="the figures need matplotlib (pip install 'nnaccel[plot]')")
    run_experiment(name, out_dir=tmp_path, scale=0.005, device="cpu", out=lambda *_: None)
    assert json.loads((tmp_path / f"{name}.json").read_text())["experiment"] == name
    assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_the_old_experiments_keep_their_figures(tmp_path):
    """The committed results draw the same panels as before the per-experiment table."""
    plt = pytest.importorskip("matplotlib.pyplot", reason="the figures need matplotlib")
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "experiments"
    shapes = {"saturation": (4, ["cost", "output", "w", "b"]), "more-data": (1, ["More training data"]),
              "overfitting": (2, ["Accuracy on the test data", "Cost on the training data"])}
    for name, (panels, titles) in shapes.items():
        result = json.loads((docs / f"{name}.json").read_text())
        fig = experiments.PLOTS.get(name, experiments._plot_curves)(result, plt)
        assert [ax.get_title() for ax in fig.axes] == titles and len(fig.axes) == panels
        plt.close(fig)
