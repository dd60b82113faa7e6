"""The chapter-3 flags and the book's experiments from the command line."""

import json

import numpy as np
import pytest

from nnaccel.data import write_idx
from tests.cli.test_cli import nnaccel


def has_matplotlib():
    """Whether matplotlib imports (find_spec is not enough: a broken or hidden install has a spec)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_techniques_together_with_history_and_plot(tmp_path):
    plot = ["--plot", "p.png"] if has_matplotlib() else []
    r = nnaccel("train", "--sizes", "784", "20", "10", "--epochs", "3", "--cost", "cross-entropy",
                "--eta", "0.5", "--lmbda", "1", "--l1", "0.1", "--momentum", "0.5", "--nesterov",
                "--early-stopping", "5", "--schedule", "step", "--step-size", "1", "--gamma", "0.5",
                "--expand", "rotations", "--max-angle", "10", "--validation-size", "1000",
                "--history", "h.jsonl", *plot, "--seed", "2", "--device", "cpu", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "14000 training examples" in r.stdout  # 7,000 after the hold-out, doubled by rotations
    assert " / 1000, cost" in r.stdout and "Test accuracy: " in r.stdout and "/ 2000" in r.stdout
    records = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert [r["eta"] for r in records] == [0.5, 0.25, 0.125]
    assert set(records[0]) >= {"epoch", "eta", "evaluation_cost", "evaluation_accuracy", "seconds"}
    if plot:
        assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(has_matplotlib(), reason="matplotlib is installed: the refusal needs it absent")
def test_plot_without_matplotlib_is_one_line_before_training(tmp_path):
    r = nnaccel("train", "--epochs", "1", "--plot", "p.png", cwd=tmp_path)
    assert r.returncode == 2 and "plotting needs matplotlib; pip install 'nnaccel[plot]'" in r.stderr
    assert "Epoch" not in r.stdout and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args,message", [
    (["--momentum", "1.0"], "momentum must be in [0, 1)"),
    (["--early-stopping", "0"], "early_stopping must be a whole number ≥ 1, or None, got 0"),
    (["--patience", "0"], "patience must be a whole number ≥ 1, got 0"),
    (["--gamma", "0"], "gamma must be in (0, 1]"),
    (["--expand", "rotations", "--max-angle", "180"], "max_angle must be in (0, 45], got 180.0"),
    (["--l1", "-2"], "l1 must be ≥ 0"),
    (["--validation-size", "8000"], "leaves no training data"),
    (["--schedule", "cosine"], "schedule must be one of constant, halve, step, exponential, got 'cosine'"),
    (["--resume", "missing.npz"], "does not exist"),
    (["--plot", "no/dir/p.png"], "does not exist; create it first"),
])
def test_every_new_flag_is_validated(args, message, tmp_path):
    r = nnaccel("train", "--epochs", "1", *args, cwd=tmp_path)
    assert r.returncode == 2, r.stdout
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["saturation", "overfitting", "init", "more-data", "regularization",
                                  "perceptrons", "bitwise", "hessian", "decay", "dropout"])
def test_each_experiment_runs_and_writes_its_numbers_and_figure(name, tmp_path):
    r = nnaccel("experiment", name, "--scale", "0.005", "--out", str(tmp_path), "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "book" in r.stdout and "nnaccel" in r.stdout
    result = json.loads((tmp_path / f"{name}.json").read_text())
    assert result["experiment"] == name and result["summary"]
    if has_matplotlib():
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    else:
        assert "no figure: plotting needs matplotlib" in r.stdout and not (tmp_path / f"{name}.png").exists()


def test_the_saturation_experiment_reproduces_the_books_numbers(tmp_path):
    """Quadratic cost from (w, b) = (0.6, 0.9) ends at output 0.09, from (2, 2) at 0.20 (300 epochs)."""
    from nnaccel.book.experiments import run_experiment

    result = run_experiment("saturation", out_dir=tmp_path, device="cpu", out=lambda *_: None)
    runs = result["runs"]
    assert round(runs["quadratic w=0.6 b=0.9"]["output"][-1], 2) == 0.09
    assert round(runs["quadratic w=2.0 b=2.0"]["output"][-1], 2) == 0.20
    slow = runs["quadratic w=2.0 b=2.0"]["cost"]
    assert slow[100] > 0.9 * slow[0]  # the learning slowdown: a flat start
    assert runs["cross-entropy w=2.0 b=2.0"]["cost"][10] < 0.5 * runs["cross-entropy w=2.0 b=2.0"]["cost"][0]


def _epoch_lines(stdout):
    return [line.rsplit(", ", 1)[0] for line in stdout.splitlines() if line.startswith("Epoch ")]  # without seconds


@pytest.mark.slow
def test_dropout_trains_saves_scaled_weights_and_resumes_with_its_settings(tmp_path):
    """--dropout 0.5: the saved model scores what the last epoch reported; a resume restores p and the
    mode from the checkpoint and continues exactly as an uninterrupted run; a different p is refused."""
    common = ["--sizes", "784", "20", "10", "--cost", "cross-entropy", "--eta", "0.5", "--seed", "3",
              "--dropout", "0.5", "--dropout-mode", "per-example", "--device", "cpu"]
    whole = nnaccel("train", *common, "--epochs", "3", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    assert "dropout 0.5 per-example" in whole.stdout
    part = nnaccel("train", *common, "--epochs", "2", "--checkpoint", "c.npz", "--save", "m.json", cwd=tmp_path)
    assert part.returncode == 0, part.stderr
    last = _epoch_lines(part.stdout)[-1]
    e = nnaccel("evaluate", "m.json", "--device", "cpu", cwd=tmp_path)
    assert e.returncode == 0 and f"{last.split(': ')[1].split(',')[0]} correct" in e.stdout
    resumed = nnaccel("train", "--resume", "c.npz", "--epochs", "3", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "dropout 0.5 per-example" in resumed.stdout
    assert _epoch_lines(resumed.stdout) == _epoch_lines(whole.stdout)[2:]
    refused = nnaccel("train", "--resume", "c.npz", "--epochs", "3", "--dropout", "0.3", cwd=tmp_path)
    assert refused.returncode == 2 and "--dropout 0.3 differs from the checkpoint's 0.5" in refused.stderr


@pytest.mark.slow
def test_softmax_temperature_is_used_saved_and_restored(tmp_path):
    common = ["--sizes", "784", "20", "10", "--cost", "log-likelihood", "--output-activation", "softmax",
              "--softmax-temperature", "2", "--eta", "0.5", "--seed", "3", "--device", "cpu"]
    r = nnaccel("train", *common, "--epochs", "1", "--save", "m.json", "--checkpoint", "c.npz", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "softmax (temperature 2) output" in r.stdout
    assert json.loads((tmp_path / "m.json").read_text())["softmax_temperature"] == 2.0
    resumed = nnaccel("train", "--resume", "c.npz", "--epochs", "2", cwd=tmp_path)
    assert resumed.returncode == 0 and "softmax (temperature 2) output" in resumed.stdout
    other = nnaccel("train", *common[:-4], "--softmax-temperature", "1", "--eta", "0.5", "--seed", "3",
                    "--device", "cpu", "--epochs", "1", cwd=tmp_path)
    assert other.returncode == 0 and _epoch_lines(other.stdout) != _epoch_lines(r.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer,extra", [("newton", ["--damping", "1"]), ("hessian-free", []), ("lbfgs", [])])
def test_full_batch_optimizers_train_from_the_command_line(optimizer, extra, tmp_path):
    """Each full-batch optimizer trains from the command line and resumes from its checkpoint.

    On 4×4 images and [16, 2, 10] (64 parameters, 60 images): Newton forms H by P Hessian-vector
    products over the whole training set, so [784, 2, 10] on 10,000 images took minutes here."""
    rng = np.random.default_rng(0)
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    write_idx(tiny / "train-images-idx3-ubyte", rng.integers(0, 256, (60, 4, 4), dtype=np.uint8))
    write_idx(tiny / "train-labels-idx1-ubyte", (np.arange(60) % 10).astype(np.uint8))
    write_idx(tiny / "t10k-images-idx3-ubyte", rng.integers(0, 256, (20, 4, 4), dtype=np.uint8))
    write_idx(tiny / "t10k-labels-idx1-ubyte", (np.arange(20) % 10).astype(np.uint8))
    r = nnaccel("train", "--data", str(tiny), "--sizes", "16", "2", "10", "--cost", "cross-entropy", "--epochs", "2",
                "--eta", "1", "--optimizer", optimizer, *extra, "--seed", "1", "--device", "cpu",
                "--checkpoint", "c.npz", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"{optimizer}, full batch" in r.stdout and len(_epoch_lines(r.stdout)) == 2
    resumed = nnaccel("train", "--resume", "c.npz", "--epochs", "3", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{optimizer}, full batch" in resumed.stdout and _epoch_lines(resumed.stdout)[0].startswith("Epoch 2: ")
