"""Issue 16, item 1: an output never destroys an input or another output. Every output of a
command is compared with every file the run reads by what the paths really are (links, ``..``,
hard links, an output not yet existing whose folder is a link), refused up front in one line with
exit 2 and nothing written; an empty name is a mistake, not "no output"."""

import os

import numpy as np
import pytest

from nnaccel import cli
from nnaccel.data import write_idx
from nnaccel.errors import NNAccelError
from nnaccel.io import run_files

TRAIN = ["train", "--data", "data", "--sizes", "16", "5", "3", "--epochs", "1", "--device", "cpu", "--seed", "1"]
DATA = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz"]


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    """A working folder with a tiny IDX data set in data/, a checkpoint c.npz and a model m.npz."""
    rng = np.random.default_rng(0)
    (tmp_path / "data").mkdir()
    write_idx(tmp_path / "data" / DATA[0], rng.integers(0, 256, (30, 4, 4), dtype=np.uint8))
    write_idx(tmp_path / "data" / DATA[1], (np.arange(30) % 3).astype(np.uint8))
    write_idx(tmp_path / "data" / DATA[2], rng.integers(0, 256, (9, 4, 4), dtype=np.uint8))
    write_idx(tmp_path / "data" / DATA[3], (np.arange(9) % 3).astype(np.uint8))
    monkeypatch.chdir(tmp_path)
    assert cli.main(TRAIN + ["--checkpoint", "c.npz", "--save", "m.npz"]) == 0
    return tmp_path


def _snapshot(root):
    return {str(p): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def _refused(capsys, root, args, *words):
    before = _snapshot(root)
    capsys.readouterr()
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    assert _snapshot(root) == before, "a refused command changed or created a file"
    return err


@pytest.mark.parametrize("flag", ["--history", "--save", "--plot", "--checkpoint"])
def test_an_output_onto_a_data_file_is_refused_and_the_data_survives(run_dir, capsys, flag):
    _refused(capsys, run_dir, TRAIN + [flag, f"data/{DATA[1]}"], flag, "a data file", "which this run reads")


def test_save_onto_the_checkpoint_being_resumed_is_refused(run_dir, capsys):
    _refused(capsys, run_dir, ["train", "--resume", "c.npz", "--epochs", "2", "--save", "c.npz"],
             "--save c.npz is the checkpoint being resumed")


def test_a_link_or_a_hard_link_is_the_same_file(run_dir, capsys):
    os.symlink("c.npz", "alias.npz")
    os.link("c.npz", "hard.npz")
    _refused(capsys, run_dir, ["train", "--resume", "c.npz", "--epochs", "2", "--history", "alias.npz"],
             "the checkpoint being resumed (c.npz)")
    _refused(capsys, run_dir, ["train", "--resume", "hard.npz", "--epochs", "2", "--save", "c.npz"],
             "the checkpoint being resumed (hard.npz)")


def test_an_output_whose_folder_is_a_link_to_the_data_is_the_data(run_dir, capsys):
    os.symlink("data", "elsewhere")
    _refused(capsys, run_dir, TRAIN + ["--history", f"elsewhere/../data/./{DATA[3]}"], "a data file")
    _refused(capsys, run_dir, TRAIN + ["--history", f"elsewhere/{DATA[2]}"], "a data file")


def test_two_outputs_on_one_file_are_refused_whatever_the_spelling(run_dir, capsys):
    _refused(capsys, run_dir, TRAIN + ["--save", "out.npz", "--checkpoint", "./data/../out.npz"],
             "--save and --checkpoint both name")


@pytest.mark.parametrize("flag", ["--save", "--checkpoint", "--history", "--plot"])
def test_an_empty_output_name_is_a_user_error(run_dir, capsys, flag):
    _refused(capsys, run_dir, TRAIN + [flag, ""], f"{flag} '': an empty file name")


def test_a_resumed_run_may_checkpoint_onto_its_own_checkpoint(run_dir, capsys):
    assert cli.main(["train", "--resume", "c.npz", "--epochs", "2", "--checkpoint", "c.npz"]) == 0
    assert "Epoch 1: " in capsys.readouterr().out


def test_export_onto_its_model_is_refused(run_dir, capsys):
    pytest.importorskip("onnx")
    os.symlink("m.npz", "m.onnx")
    _refused(capsys, run_dir, ["export", "m.npz", "m.onnx"], "the model being exported")
    _refused(capsys, run_dir, ["export", "m.npz", ""], "an empty file name")


def test_tune_report_onto_a_data_folder_file_is_refused(run_dir, capsys):
    os.symlink(f"data/{DATA[0]}", "tune.json")
    _refused(capsys, run_dir, ["tune", "--data", "data", "--sizes", "16", "5", "3", "--report", "."],
             "a data file")
    _refused(capsys, run_dir, ["tune", "--data", "data", "--report", ""], "--report '': an empty file name")


def test_experiment_out_is_probed_and_checked_before_the_experiment(run_dir, capsys):
    _refused(capsys, run_dir, ["experiment", "saturation", "--out", ""], "--out '': an empty")


def test_same_file_sees_links_missing_outputs_and_hard_links(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("x")
    (tmp_path / "link").symlink_to(tmp_path)
    os.link(a, tmp_path / "b.txt")
    assert run_files.same_file(tmp_path / "link" / "a.txt", a)
    assert run_files.same_file(tmp_path / "b.txt", a)
    assert run_files.same_file(tmp_path / "link" / "new.txt", tmp_path / "new.txt")  # neither exists yet
    assert not run_files.same_file(tmp_path / "c.txt", a)
    with pytest.raises(NNAccelError, match="--history and --plot both name"):
        run_files.check([("--history", tmp_path / "n.txt"), ("--plot", tmp_path / "link" / "n.txt")])
