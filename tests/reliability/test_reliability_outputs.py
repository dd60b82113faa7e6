"""Issue 9, items 3 and 8: output paths are checked before training, a trained model is never lost
to a bad one, and files get the permissions the umask says."""

import json
import os
import shutil
import stat

import numpy as np
import pytest

import nnaccel
import nnaccel.training.trainer
from nnaccel import cli
from nnaccel.io.checkpoints import load_checkpoint
from nnaccel.nets.network import load
from nnaccel.training.trainer import train
from tests.cli.test_cli import nnaccel as run_cli

QUICK = ["--sizes", "784", "5", "10", "--epochs", "1", "--device", "cpu"]


@pytest.mark.parametrize("flag,target,message", [
    ("--save", "/proc/m.json", "cannot create a file in /proc"),
    ("--checkpoint", "/proc/c.npz", "cannot create a file in /proc"),
    ("--history", "/proc/h.jsonl", "cannot create a file in /proc"),
    ("--plot", "/proc/p.png", "cannot create a file in /proc"),
    ("--save", "/sys/m.npz", "cannot create a file in /sys"),
    ("--save", "{tmp}", "is a folder; give a file name"),
    ("--checkpoint", "{tmp}", "is a folder; give a file name"),
    ("--history", "{tmp}", "is a folder; give a file name"),
    ("--save", "{tmp}/missing/m.json", "does not exist; create it first"),
    ("--save", "m.txt", "--save m.txt: the name must end in .json or .npz"),
    ("--save", "model", "the name must end in .json or .npz"),
    ("--plot", "p.pdf", "--plot p.pdf: the name must end in .png"),
    ("--checkpoint", "m.npz --save m.npz", "--save and --checkpoint both name m.npz"),
])
def test_an_unwritable_output_is_refused_before_training(flag, target, message, tmp_path):
    r = run_cli("train", *QUICK, flag, *target.format(tmp=tmp_path).split(), cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Epoch" not in r.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_before_training(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        r = run_cli("train", *QUICK, "--save", str(folder / "m.json"), cwd=tmp_path)
    finally:
        folder.chmod(0o755)
    assert r.returncode == 2 and "cannot create a file in" in r.stderr and "Permission denied" in r.stderr


def test_experiment_out_is_checked_before_the_experiment(tmp_path):
    r = run_cli("experiment", "saturation", "--out", "/proc", "--scale", "0.01", cwd=tmp_path)
    assert r.returncode == 2 and "--out /proc/saturation.json: cannot create a file in /proc" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "book" not in r.stdout


def test_a_model_whose_folder_vanished_is_saved_to_a_fallback(tmp_path, monkeypatch, capsys):
    """The folder passes the check, then disappears during training: the model goes to the working folder."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    real = nnaccel.training.trainer.train

    def train_then_remove_the_folder(*args, **kw):
        history = real(*args, **kw)
        shutil.rmtree(folder)
        return history

    monkeypatch.setattr("nnaccel.cli.train.train", train_then_remove_the_folder)
    code = cli.main(["train", *QUICK, "--seed", "3", "--save", str(folder / "m.npz")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"could not save the model to {folder / 'm.npz'}" in err and "saved it to " in err
    fallback = err.split("saved it to ")[1].split(" instead")[0]
    assert os.path.dirname(fallback) == str(tmp_path) and fallback.endswith(".npz")
    net = load(fallback, device="cpu")
    assert net.sizes == [784, 5, 10] and all(np.all(np.isfinite(w)) for w in net.weights)


def test_a_history_whose_folder_vanished_goes_on_in_a_fallback(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "logs"
    folder.mkdir()
    real = nnaccel.training.trainer.train

    def train_removing_the_folder_after_epoch_0(*args, callback, **kw):
        def callback_then_remove(record):
            callback(record)
            if record["epoch"] == 0:
                shutil.rmtree(folder)
        return real(*args, callback=callback_then_remove, **kw)

    monkeypatch.setattr("nnaccel.cli.train.train", train_removing_the_folder_after_epoch_0)
    code = cli.main(["train", *QUICK[:4], "--epochs", "3", "--device", "cpu", "--history", str(folder / "h.jsonl")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"nnaccel: warning: could not append to --history {folder / 'h.jsonl'}" in err
    fallback = err.split("the history goes to ")[1].split()[0]
    records = [json.loads(line) for line in open(fallback)]
    assert [r["epoch"] for r in records] == [0, 1, 2]


def test_a_checkpoint_whose_folder_vanished_goes_on_in_a_fallback(small_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    net = nnaccel.Network([12, 5, 4], device="cpu", dtype="float64", seed=3)
    with pytest.warns(RuntimeWarning, match="could not write the checkpoint .*checkpoints go to "):
        train(net, small_data, 3, 10, 0.5, checkpoint=folder / "c.npz",
              callback=lambda r: r["epoch"] == 0 and shutil.rmtree(folder))
    [fallback] = list(tmp_path.glob("nnaccel-checkpoint-*.npz"))
    meta, arrays = load_checkpoint(fallback)
    assert meta["state"]["epoch"] == 3
    for got, want in zip(arrays["w"], net.weights):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_mode_the_umask_says(umask, mode, small_data, tmp_path):
    from nnaccel.io.checkpoints import save_checkpoint
    from nnaccel.training.trainer import TrainState

    net = nnaccel.Network([12, 5, 4], device="cpu", seed=1)
    old = os.umask(umask)
    try:
        net.save(tmp_path / "m.json")
        net.save(tmp_path / "m.npz")
        save_checkpoint(tmp_path / "c.npz", net, TrainState(eta=0.5), {})
    finally:
        os.umask(old)
    for name in ("m.json", "m.npz", "c.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    net = nnaccel.Network([12, 5, 4], device="cpu", seed=1)
    (tmp_path / "m.json").write_text("{}")
    (tmp_path / "m.json").chmod(0o640)
    net.save(tmp_path / "m.json")
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o640
    assert load(tmp_path / "m.json").sizes == [12, 5, 4]


def test_experiment_results_whose_folder_vanished_go_to_a_fallback(tmp_path, monkeypatch):
    from nnaccel.book import experiments

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "results"
    folder.mkdir()
    real = experiments.EXPERIMENTS["saturation"]

    def run_then_remove_the_folder(ctx):
        result = real(ctx)
        shutil.rmtree(folder)
        return result

    monkeypatch.setitem(experiments.EXPERIMENTS, "saturation", run_then_remove_the_folder)
    with pytest.raises(nnaccel.NNAccelError, match="could not write .*saturation.json .*the results are in ") as info:
        experiments.run_experiment("saturation", out_dir=folder, scale=0.01, device="cpu", out=lambda *_: None)
    fallback = str(info.value).split("the results are in ")[1]
    assert json.loads(open(fallback).read())["experiment"] == "saturation"
