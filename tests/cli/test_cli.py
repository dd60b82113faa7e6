"""The command line end to end, in a subprocess: the book's first network, saving, every refusal."""

import json
import os
import subprocess
import sys

import pytest


def nnaccel(*args, cwd=None, env=None):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "nnaccel", *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=300)


def test_train_defaults_to_the_books_first_network(tmp_path):
    r = nnaccel("train", "--epochs", "2", "--seed", "1", "--save", str(tmp_path / "m.json"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "numpy on cpu" in r.stdout and "mnist-10k (8000 training, 2000 test images)" in r.stdout
    assert "sizes [784, 30, 10]" in r.stdout and "quadratic cost" in r.stdout
    assert "mini-batch 10, eta 3.0" in r.stdout
    epochs = [line for line in lines if line.startswith("Epoch ")]
    assert len(epochs) == 2 and epochs[0].startswith("Epoch 0: ") and " / 2000, cost " in epochs[0]
    correct = int(epochs[-1].split(": ")[1].split(" / ")[0])
    assert correct > 1700  # the book's first network learns the digits within two epochs
    assert json.loads((tmp_path / "m.json").read_text())["sizes"] == [784, 30, 10]

    e = nnaccel("evaluate", str(tmp_path / "m.json"), "--device", "cpu")
    assert e.returncode == 0, e.stderr
    assert f"{correct} / 2000 correct" in e.stdout


def test_train_with_other_choices_and_a_folder_of_data(tmp_path):
    from tests.data.test_data import _write_dir

    d = _write_dir(tmp_path / "tiny")
    r = nnaccel("train", "--data", str(d), "--sizes", "16", "8", "3", "--epochs", "1", "-m", "4",
                "--cost", "log-likelihood", "--output-activation", "softmax", "--hidden-activation", "relu",
                "--backend", "array_api_strict", "--dtype", "float64", "--eta", "0.1", "--lmbda", "0.5")
    assert r.returncode == 0, r.stderr
    assert "array_api_strict on cpu" in r.stdout and "Epoch 0: " in r.stdout


@pytest.mark.parametrize("args,message", [
    (["train", "--dataset", "cifar"], "dataset must be one of mnist-10k, fashion-mnist, mnist, got 'cifar'"),
    (["train", "--sizes", "100", "30", "10"], "--sizes starts with 100 but mnist-10k has 784 pixels"),
    (["train", "--sizes", "784", "30", "9"], "--sizes ends with 9 but mnist-10k has 10 classes"),
    (["train", "--eta", "0"], "eta must be > 0"),
    (["train", "--eta", "-3"], "eta must be > 0"),
    (["train", "--mini-batch-size", "0"], "mini_batch_size must be a whole number ≥ 1"),
    (["train", "--epochs", "-1"], "epochs must be a whole number ≥ 0"),
    (["train", "--epochs", "two"], "'two' is not a whole number"),
    (["train", "--cost", "log-likelihood"], "needs a softmax output layer"),
    (["train", "--cost", "cross-entropy", "--output-activation", "tanh"], "needs outputs in (0, 1)"),
    (["train", "--device", "cuda"], "use --device cpu"),
    (["train", "--device", "quantum"], "unknown device 'quantum'"),
    (["train", "--data", "/nonexistent/dir"], "does not exist"),
    (["evaluate", "/nonexistent/model.json"], "does not exist"),
    (["train", "--dropout", "1"], "dropout must be in [0, 1), got 1.0; e.g. dropout=0.5 (--dropout 0.5)"),
    (["train", "--dropout", "-0.5"], "dropout must be in [0, 1), got -0.5"),
    (["train", "--dropout", "nan"], "dropout must be in [0, 1), got nan"),
    (["train", "--dropout", "0.5", "--dropout-mode", "per-neuron"], "dropout_mode must be one of per-batch, per-example, got 'per-neuron'"),
    (["train", "--dropout", "0.5", "--sizes", "784", "10"], "has no hidden layer"),
    (["train", "--dropout", "0.9", "--sizes", "784", "2", "10"], "would delete all 2 neurons"),
    (["train", "--optimizer", "adam"], "optimizer must be one of sgd, newton, hessian-free, lbfgs, got 'adam'"),
    (["train", "--damping", "-1"], "damping must be ≥ 0 and finite, or None, got -1.0"),
    (["train", "--damping", "inf"], "damping must be ≥ 0 and finite, or None, got inf"),
    (["train", "--optimizer", "lbfgs", "--damping", "0.1"], "--damping does not apply to --optimizer lbfgs"),
    (["train", "--optimizer", "newton", "--dropout", "0.5"], "--dropout does not apply to --optimizer newton"),
    (["train", "--softmax-temperature", "0"], "softmax_temperature must be > 0 and finite, got 0.0"),
    (["train", "--softmax-temperature", "nan", "--output-activation", "softmax"], "softmax_temperature must be > 0 and finite, got nan"),
    (["train", "--softmax-temperature", "2"], "a softmax temperature needs a softmax output layer, not sigmoid"),
    (["train", "--output-activation", "step"], "step (perceptron) neurons cannot be trained by gradient descent"),
    (["train", "--hidden-activation", "step"], "step (perceptron) neurons cannot be trained by gradient descent"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, message, tmp_path):
    r = nnaccel(*args, "--epochs", "0", cwd=tmp_path) if args[0] == "train" and "--epochs" not in args \
        else nnaccel(*args, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert list(tmp_path.iterdir()) == []


RUN_ROWS = [("--dataset", "cifar", "dataset must be one of mnist-10k, fashion-mnist, mnist, got 'cifar'"),
            ("--dtype", "float16", "dtype must be one of float32, float64, got 'float16'"),
            ("--backend", "mxnet", "backend must be one of numpy, cupy, torch, jax, array_api_strict, got 'mxnet'")]


@pytest.mark.parametrize("command", [["train"], ["evaluate", "m.npz"], ["tune"], ["sweep"]])
@pytest.mark.parametrize("flag, value, message", RUN_ROWS, ids=[r[0] for r in RUN_ROWS])
def test_the_data_set_array_library_and_float_type_are_refused_in_one_wording(command, flag, value, message,
                                                                                tmp_path):
    """train, evaluate, tune and sweep take --dataset, --dtype and --backend from the same rows, and
    refuse a value outside them in the table's words (not argparse's), before any file is read."""
    r = nnaccel(*command, flag, value, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr == f"nnaccel: error: {message}; e.g. " + r.stderr.split("; e.g. ")[1]
    assert len(r.stderr.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_corrupt_data_and_model_files(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (bad / stem).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    r = nnaccel("train", "--data", str(bad))
    assert r.returncode == 2 and "truncated" in r.stderr and len(r.stderr.splitlines()) == 1
    (tmp_path / "m.json").write_text('{"sizes": [784, 10]')
    r = nnaccel("evaluate", str(tmp_path / "m.json"))
    assert r.returncode == 2 and "m.json" in r.stderr and "JSON" in r.stderr and len(r.stderr.splitlines()) == 1


def test_save_into_a_missing_folder_fails_before_training_leaves_nothing(tmp_path):
    r = nnaccel("train", "--epochs", "1", "--sizes", "784", "5", "10", "--save", str(tmp_path / "no" / "m.json"))
    assert r.returncode == 2 and "does not exist; create it first" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_info_lists_backends():
    r = nnaccel("info")
    assert r.returncode == 0 and "numpy" in r.stdout and "array_api_compat" in r.stdout
    assert "GPU" in r.stdout
