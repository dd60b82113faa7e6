"""Never lose work: checkpoints, bit-identical resume after SIGKILL, Ctrl-C, divergence."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

import nnaccel
from nnaccel.io.checkpoints import load_checkpoint
from nnaccel.training.trainer import TrainingInterrupted, train

RUN = ["train", "--sizes", "784", "40", "10", "--expand", "shifts", "--epochs", "4", "--seed", "5",
       "--momentum", "0.5", "--eta", "0.5", "--cost", "cross-entropy", "--schedule", "halve",
       "--patience", "1", "--device", "cpu"]


def _start(*args, cwd):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "nnaccel", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files if k != "meta"}


def test_killed_mid_epoch_and_resumed_gives_bit_identical_weights(tmp_path):
    ref = subprocess.run([sys.executable, "-m", "nnaccel", *RUN, "--save", "ref.npz"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr

    proc = _start(*RUN, "--checkpoint", "ckpt.npz", "--history", "h.jsonl", cwd=tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (tmp_path / "ckpt.npz").exists() and load_checkpoint(tmp_path / "ckpt.npz")[0]["state"]["epoch"] >= 2:
            break
        time.sleep(0.02)
    time.sleep(0.1)  # into the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL  # it did not finish on its own
    epoch = load_checkpoint(tmp_path / "ckpt.npz")[0]["state"]["epoch"]  # intact, whenever the kill came
    assert 2 <= epoch < 4

    resumed = subprocess.run([sys.executable, "-m", "nnaccel", "train", "--resume", "ckpt.npz",
                              "--checkpoint", "ckpt.npz", "--history", "h.jsonl", "--save", "final.npz"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    # a kill inside a write leaves its temporary file; the resumed run's first write removes it
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]
    assert f"Epoch {epoch}: " in resumed.stdout and "Epoch 0: " not in resumed.stdout
    want, got = _arrays(tmp_path / "ref.npz"), _arrays(tmp_path / "final.npz")
    assert want.keys() == got.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])  # bit-identical
    lines = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [0, 1, 2, 3]


def test_a_write_removes_the_temporary_files_of_killed_writers_of_its_target(tmp_path):
    """SIGKILL cannot be cleaned up after at once: the next write of that file does it, and leaves
    the temporary files of live processes and of other files alone."""
    from nnaccel._files import atomic_write

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f".ckpt.npz.{dead.pid}.abc.tmp"
    live = tmp_path / f".ckpt.npz.{os.getppid()}.abc.tmp"
    other = tmp_path / f".other.npz.{dead.pid}.abc.tmp"
    for p in (orphan, live, other):
        p.write_bytes(b"half")
    with atomic_write(tmp_path / "ckpt.npz") as f:
        f.write(b"whole")
    assert not orphan.exists() and live.exists() and other.exists()
    assert (tmp_path / "ckpt.npz").read_bytes() == b"whole"


def test_ctrl_c_saves_the_last_complete_epoch_and_exits_130(tmp_path):
    proc = _start(*RUN[:-6], "--epochs", "50", "--device", "cpu", cwd=tmp_path)
    line = ""
    while not line.startswith("Epoch 1:"):
        line = proc.stdout.readline()
        assert line or proc.poll() is None, proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted by SIGINT; the last complete epoch" in err and "nnaccel-checkpoint.npz" in err
    assert len(err.strip().splitlines()) == 1
    meta, arrays = load_checkpoint(tmp_path / "nnaccel-checkpoint.npz")
    assert meta["state"]["epoch"] >= 2 and len(arrays["vw"]) == 2  # velocity saved for momentum


def test_checkpoint_holds_velocity_eta_counters_and_rng(small_data, tmp_path):
    net = nnaccel.Network([12, 5, 4], device="cpu", dtype="float64", seed=3)
    train(net, small_data, 3, 10, 0.5, evaluation_data=small_data, momentum=0.9,
          schedule="halve", patience=1, checkpoint=tmp_path / "c.npz", config={"note": "x"})
    meta, arrays = load_checkpoint(tmp_path / "c.npz")
    assert meta["state"]["epoch"] == 3 and meta["config"] == {"note": "x"}
    assert set(meta["state"]) >= {"eta", "rng_state", "since_change", "best_accuracy", "records"}
    assert meta["state"]["rng_state"] == net.rng.bit_generator.state
    for got, want in zip(arrays["w"], net.weights):
        np.testing.assert_array_equal(got, want)
    assert np.any(arrays["vw"][0] != 0)


def test_resume_in_process_equals_an_uninterrupted_run(small_data, tmp_path):
    kw = dict(evaluation_data=small_data, momentum=0.8, l1=0.1, lmbda=0.5)
    whole = nnaccel.Network([12, 5, 4], device="cpu", seed=8)
    train(whole, small_data, 6, 7, 0.3, **kw)
    part = nnaccel.Network([12, 5, 4], device="cpu", seed=8)
    train(part, small_data, 3, 7, 0.3, checkpoint=tmp_path / "c.npz", **kw)
    again = nnaccel.Network([12, 5, 4], device="cpu", seed=999)  # different init, overwritten
    train(again, small_data, 6, 7, 0.3, resume=tmp_path / "c.npz", **kw)
    for got, want in zip(again.weights + again.biases, whole.weights + whole.biases):
        np.testing.assert_array_equal(got, want)


def test_interrupt_restores_the_last_complete_epoch(small_data, tmp_path):
    net = nnaccel.Network([12, 5, 4], device="cpu", dtype="float64", seed=3)
    calls = {"n": 0}
    real = net.backprop

    def flaky(x, y):
        calls["n"] += 1
        if calls["n"] == 6 * 2 + 3:  # mid-way through the third epoch (6 batches each)
            raise KeyboardInterrupt
        return real(x, y)

    net.backprop = flaky
    reference = nnaccel.Network([12, 5, 4], device="cpu", dtype="float64", seed=3)
    train(reference, small_data, 2, 10, 0.5, fused=False)
    try:  # the generic path calls net.backprop, where the interrupt is planted
        train(net, small_data, 5, 10, 0.5, interrupt_path=tmp_path / "i.npz", fused=False)
    except TrainingInterrupted as e:
        assert e.epoch == 2 and e.path == tmp_path / "i.npz"
    else:
        raise AssertionError("no interrupt")
    for got, want in zip(net.weights, reference.weights):
        np.testing.assert_array_equal(got, want)
    assert load_checkpoint(tmp_path / "i.npz")[0]["state"]["epoch"] == 2


def test_divergence_keeps_the_last_good_checkpoint_and_exits_3(tmp_path):
    r = subprocess.run([sys.executable, "-m", "nnaccel", "train", "--sizes", "784", "30", "10",
                        "--hidden-activation", "relu", "--output-activation", "linear", "--eta", "100",
                        "--epochs", "5", "--checkpoint", "c.npz", "--device", "cpu"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 3
    assert "training diverged at epoch 0: the cost became" in r.stderr and "smaller eta" in r.stderr
    assert "became nan" in r.stderr or "became inf" in r.stderr
    assert not (tmp_path / "c.npz").exists()  # no epoch was good, so nothing was written


def test_a_bad_checkpoint_is_refused(tmp_path):
    (tmp_path / "c.npz").write_bytes(b"PK nonsense")
    r = subprocess.run([sys.executable, "-m", "nnaccel", "train", "--resume", "c.npz"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "is not an nnaccel checkpoint" in r.stderr
