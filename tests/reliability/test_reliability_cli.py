"""Issue 9, items 5, 6 (the CLI side) and 8: resume semantics, --scale, --history, evaluate's cost,
--help's defaults, one-line errors, and the plot tests without matplotlib."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import nnaccel
from nnaccel import cli
from nnaccel.io.checkpoints import load_checkpoint

SMALL = ["--sizes", "784", "8", "10", "--seed", "4", "--eta", "0.5", "--momentum", "0.5",
         "--cost", "cross-entropy", "--device", "cpu"]


def _main(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files if k != "meta"}


# ---- item 5: resume ---------------------------------------------------------------------

def test_epochs_on_resume_extends_a_finished_run_bit_identically(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _main(capsys, "train", *SMALL, "--epochs", "4", "--save", "ref.npz")[0] == 0
    assert _main(capsys, "train", *SMALL, "--epochs", "2", "--checkpoint", "c.npz")[0] == 0
    code, out, err = _main(capsys, "train", "--resume", "c.npz", "--epochs", "4", "--save", "more.npz")
    assert code == 0, err
    assert "Epoch 2: " in out and "Epoch 3: " in out and "Epoch 1: " not in out
    got, want = _arrays("more.npz"), _arrays("ref.npz")
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def test_resuming_a_finished_run_says_how_to_extend_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _main(capsys, "train", *SMALL, "--epochs", "1", "--checkpoint", "c.npz")[0] == 0
    code, out, err = _main(capsys, "train", "--resume", "c.npz")
    assert code == 0 and "the checkpoint's run is complete (1 of 1 epochs); give --epochs N" in out
    code, out, err = _main(capsys, "train", "--resume", "c.npz", "--epochs", "0")
    assert code == 2 and "--epochs 0 is fewer than the 1 epochs" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("flag", [["--eta", "0.1"], ["--sizes", "784", "9", "10"], ["--seed", "5"],
                                  ["--cost", "quadratic"], ["--nesterov"], ["-m", "20"], ["--scale", "2"]])
def test_resume_refuses_a_typed_flag_that_differs_from_the_checkpoint(flag, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _main(capsys, "train", *SMALL, "--epochs", "1", "--checkpoint", "c.npz")[0] == 0
    code, out, err = _main(capsys, "train", "--resume", "c.npz", "--epochs", "2", *flag)
    assert code == 2, (out, err)
    assert "differs from the checkpoint's" in err and "a resumed run keeps its checkpoint's settings" in err
    assert len(err.strip().splitlines()) == 1 and "Epoch" not in out
    assert load_checkpoint("c.npz")[0]["state"]["epoch"] == 1


@pytest.mark.parametrize("key, value", [("seed", "x"), ("sizes", "784 8 10"), ("eta", [0.5]), ("nesterov", 1),
                                        ("cost", "bogus"), ("classes", []), ("mini_batch_size", 2.5),
                                        ("dropout_mode", None)])
def test_a_checkpoint_whose_saved_settings_no_flag_could_give_is_refused(key, value, tmp_path, monkeypatch, capsys):
    """The settings a resume adopts are checked against the flags' own types and choices."""
    from nnaccel.data.npz import read_meta, read_npz

    monkeypatch.chdir(tmp_path)
    assert _main(capsys, "train", *SMALL, "--epochs", "1", "--checkpoint", "c.npz")[0] == 0
    members = read_npz("c.npz")
    meta = read_meta(members, "c.npz")
    meta["config"][key] = value
    np.savez("bad.npz", meta=np.array(json.dumps(meta)), **members)
    code, out, err = _main(capsys, "train", "--resume", "bad.npz", "--epochs", "2")
    assert code == 2 and f"saved setting --{key.replace('_', '-')} = " in err and "corrupt" in err
    assert len(err.strip().splitlines()) == 1 and "Epoch" not in out


def test_classes_keeps_only_those_classes_relabelled(tmp_path, monkeypatch, capsys):
    """--classes 3 5: the book's strip-down, a 2-class network, recorded for --resume."""
    monkeypatch.chdir(tmp_path)
    code, out, err = _main(capsys, "train", "--classes", "3", "5", "--epochs", "1", "--seed", "1",
                           "--checkpoint", "c.npz", "--device", "cpu")
    assert code == 0, err
    assert "sizes [784, 30, 2]" in out
    n_test = int(out.split("Epoch 0: ")[1].split(" / ")[1].split(",")[0])
    labels = nnaccel.data.load_dataset("mnist-10k").test[1]
    assert n_test == int(np.sum((labels == 3) | (labels == 5)))
    assert load_checkpoint("c.npz")[0]["config"]["classes"] == [3, 5]


def test_resume_accepts_typed_flags_equal_to_the_checkpoints(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _main(capsys, "train", *SMALL, "--epochs", "1", "--checkpoint", "c.npz")[0] == 0
    code, out, err = _main(capsys, "train", "--resume", "c.npz", "--epochs", "2", "--eta", "0.5",
                           "--sizes", "784", "8", "10", "--checkpoint", "c.npz")
    assert code == 0, err
    assert load_checkpoint("c.npz")[0]["state"]["epoch"] == 2


def test_help_states_the_resume_rules_and_the_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split("options:", 1)[1].split())  # past the usage line
    assert "--epochs N sets the total to reach, so a finished run can be extended" in text
    assert "refused if it differs from the checkpoint's value" in text
    for flag, default in (("--epochs N", "30"), ("-m M", "10"), ("--eta ETA", "3.0")):
        assert f"{flag} " in text and f"(default: {default})" in text.split(flag, 1)[1][:120], flag


# ---- item 6, the CLI side: --scale ---------------------------------------------------------

def test_scale_reaches_the_data_and_the_checkpoint(tmp_path, monkeypatch, capsys):
    """uint8 pixels are divided by 255 anyway, so --scale 255 trains exactly as without it."""
    monkeypatch.chdir(tmp_path)
    code, plain, err = _main(capsys, "train", *SMALL, "--epochs", "1")
    assert code == 0, err
    code, scaled, err = _main(capsys, "train", *SMALL, "--epochs", "1", "--scale", "255", "--checkpoint", "c.npz")
    assert code == 0, err
    epoch = [line.rsplit(",", 1)[0] for line in plain.splitlines() if line.startswith("Epoch 0")]
    assert epoch and epoch == [line.rsplit(",", 1)[0] for line in scaled.splitlines() if line.startswith("Epoch 0")]
    assert load_checkpoint("c.npz")[0]["config"]["scale"] == 255.0


@pytest.mark.parametrize("value", ["0", "-255", "nan", "inf"])
def test_a_scale_that_is_not_positive_is_refused(value, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = _main(capsys, "train", *SMALL, "--epochs", "1", "--scale", value)
    assert code == 2 and "--scale" in err and "must be > 0" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("args,message", [
    (["train", "--seed", "-1", "--epochs", "0"], "seed must be a whole number ≥ 0"),
    (["train", "--validation-size", "-5", "--epochs", "0"], "validation_size must be a whole number ≥ 0, got -5"),
    (["experiment", "saturation", "--seed", "-1", "--scale", "0.01"], "seed must be a whole number ≥ 0"),
])
def test_flag_values_that_once_leaked_a_traceback_are_one_line(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = _main(capsys, *args)
    assert code == 2 and message in err and len(err.splitlines()) == 1, err


def test_network_data_divides_by_scale():
    net = nnaccel.Network([4, 3, 2], device="cpu", dtype="float64", seed=1)
    x = np.array([[0.0, 51.0, 102.0, 255.0], [255.0, 0.0, 0.0, 25.5]])
    np.testing.assert_array_equal(net.data((x, [0, 1]), scale=255).x, net.data((x / 255, [0, 1])).x)


# ---- item 8: --history, evaluate's cost ----------------------------------------------------

def test_history_appends_and_a_resume_rewrites_it_from_the_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "h.jsonl").write_text('{"run": "an earlier one"}\n')
    assert _main(capsys, "train", *SMALL, "--epochs", "2", "--history", "h.jsonl", "--checkpoint", "c.npz")[0] == 0
    lines = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert lines[0] == {"run": "an earlier one"} and [r["epoch"] for r in lines[1:]] == [0, 1]
    with open(tmp_path / "h.jsonl", "a") as f:  # an epoch a killed run wrote after its last checkpoint
        f.write('{"epoch": 2, "lost": true}\n')
    assert _main(capsys, "train", "--resume", "c.npz", "--epochs", "3", "--history", "h.jsonl")[0] == 0
    lines = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [0, 1, 2] and "lost" not in lines[2]


def test_evaluate_adds_the_l2_term_training_printed_when_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = _main(capsys, "train", *SMALL, "--epochs", "1", "--lmbda", "5", "--save", "m.npz")
    assert code == 0, err
    trained = [line for line in out.splitlines() if line.startswith("Epoch 0")][0].split("cost ")[1].split(",")[0]
    code, out, err = _main(capsys, "evaluate", "m.npz", "--device", "cpu", "--lmbda", "5")
    assert code == 0 and f"cost {trained} with the L2 term" in out, (trained, out)
    code, out, err = _main(capsys, "evaluate", "m.npz", "--device", "cpu")
    assert code == 0 and "without regularisation terms (give --lmbda to add L2)" in out
    assert float(out.split("cost ")[1].split()[0]) < float(trained)
    code, out, err = _main(capsys, "evaluate", "m.npz", "--lmbda", "-1")
    assert code == 2 and "lmbda must be ≥ 0" in err


# ---- every user error is one line: the last resorts in main --------------------------------

def test_an_os_error_is_one_line_and_exit_2(monkeypatch, capsys):
    def unreadable(args, out=print):
        raise PermissionError(13, "Permission denied", "/data/train-images")

    monkeypatch.setattr("nnaccel.cli.info.run", unreadable)
    code, out, err = _main(capsys, "info")
    assert code == 2 and err == ("nnaccel: error: /data/train-images: Permission denied; "
                                 "check the path and its permissions\n")


def test_a_bug_is_one_line_and_exit_1_with_the_traceback_on_request(monkeypatch, capsys):
    def buggy(args, out=print):
        return {}["missing"]

    monkeypatch.setattr("nnaccel.cli.info.run", buggy)
    code, out, err = _main(capsys, "info")
    assert code == 1 and len(err.splitlines()) == 1
    assert err.startswith("nnaccel: internal error: KeyError: 'missing'; please report it")
    monkeypatch.setenv("NNACCEL_DEBUG", "1")
    with pytest.raises(KeyError):
        cli.main(["info"])


# ---- item 8: the plot tests without matplotlib ---------------------------------------------

@pytest.mark.slow
def test_the_plot_tests_skip_or_adapt_without_matplotlib(tmp_path):
    """Hide matplotlib (a package of that name whose import fails, first on the path) and run them."""
    hidden = tmp_path / "hidden"
    (hidden / "matplotlib").mkdir(parents=True)
    (hidden / "matplotlib" / "__init__.py").write_text('raise ImportError("matplotlib is hidden by a test")\n')
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(hidden), root, os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                        "tests/cli/test_cli_chapter3.py", "-k", "techniques or saturation or (validated and create)"],
                       cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " failed" not in r.stdout and "passed" in r.stdout
    plot = subprocess.run([sys.executable, "-m", "nnaccel", "train", "--epochs", "1", "--plot", "p.png"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert plot.returncode == 2 and plot.stderr == ("nnaccel: error: plotting needs matplotlib; "
                                                    "pip install 'nnaccel[plot]'\n")
