"""Issue 9, item 2: SIGINT and SIGTERM stop at an epoch boundary with one consistent epoch's state.

The subprocess tests slow every file write down (os.fsync sleeps, and says so in a marker
file), send signals while a checkpoint is being written, and check that each interrupted run
resumes to weights bit-identical to an uninterrupted run.
"""

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nnaccel
import nnaccel.io.checkpoints
import nnaccel.io.models
from nnaccel.io.checkpoints import load_checkpoint
from nnaccel.training.signals import GUARD
from nnaccel.training.trainer import TrainingInterrupted, train
from tests.reliability.test_reliability_signal_windows import needs_proc, wait_for_handler

RUN = ["train", "--sizes", "784", "20", "10", "--seed", "11", "--momentum", "0.5", "--eta", "0.5",
       "--cost", "cross-entropy", "--schedule", "halve", "--patience", "1", "--device", "cpu"]

# Runs the nnaccel command with every fsync slowed down by $DELAY seconds, announced in the file
# $MARKER (its content: how many fsyncs this process has begun), removed once the fsync is done.
# Through the command's entry point, not cli.main(argv): called from Python, main() gives the
# caller's handlers back when it returns, and a signal that came late (a loaded machine) would
# meet Python's KeyboardInterrupt in the teardown instead of the command's.
SLOW_WRITES = """
import os, sys, time
real_fsync, begun = os.fsync, [0]
def slow_fsync(fd):
    begun[0] += 1
    with open(os.environ["MARKER"] + ".part", "w") as f:
        f.write(str(begun[0]))
    os.replace(os.environ["MARKER"] + ".part", os.environ["MARKER"])
    time.sleep(float(os.environ["DELAY"]))
    real_fsync(fd)
    os.unlink(os.environ["MARKER"])
os.fsync = slow_fsync
sys.argv[0] = "nnaccel"
from nnaccel.__main__ import main  # the command's own entry point: a late signal meets its teardown
sys.exit(main())
"""


def _arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files if k != "meta"}


def _assert_same_model(got, want):
    a, b = _arrays(got), _arrays(want)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])  # bit-identical


def _start_slow(args, cwd, marker, delay=0.4):
    env = dict(os.environ, PYTHONUNBUFFERED="1", MARKER=str(marker), DELAY=str(delay))
    return subprocess.Popen([sys.executable, "-c", SLOW_WRITES, *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(condition, proc, seconds=120):
    deadline = time.time() + seconds
    while not condition():
        assert proc.poll() is None, ("exited early", proc.communicate())
        assert time.time() < deadline, "timed out"
        time.sleep(0.005)


@pytest.mark.slow
def test_signals_inside_the_checkpoint_write_resume_bit_identically(tmp_path):
    epochs = 6
    ref = subprocess.run([sys.executable, "-m", "nnaccel", *RUN, "--epochs", str(epochs), "--save", "ref.npz"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    marker = tmp_path / "marks" / "fsync"
    marker.parent.mkdir()
    # (signal, how many) sent during the first checkpoint write of each run; each run adds one epoch
    plan = [(signal.SIGINT, 1), (signal.SIGTERM, 1), (signal.SIGINT, 2), (signal.SIGTERM, 2), (signal.SIGINT, 3)]
    args = [*RUN, "--epochs", str(epochs), "--checkpoint", "ckpt.npz", "--save", "final.npz"]
    for step, (sig, count) in enumerate(plan, start=1):
        proc = _start_slow(args, tmp_path, marker)
        _wait_for(marker.exists, proc)
        for _ in range(count):
            proc.send_signal(sig)
            time.sleep(0.05)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 128 + sig, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert f"interrupted by {signal.Signals(sig).name}; the last complete epoch, Epoch {step - 1} ({step} trained), is saved in ckpt.npz" in err
        assert ("a further signal came during the save, which was finished first" in err) == (count > 1), err
        assert load_checkpoint(tmp_path / "ckpt.npz")[0]["state"]["epoch"] == step
        assert not (tmp_path / "final.npz").exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left
        args = ["train", "--resume", "ckpt.npz", "--checkpoint", "ckpt.npz", "--save", "final.npz"]
    last = subprocess.run([sys.executable, "-m", "nnaccel", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert last.returncode == 0, last.stderr
    assert f"Epoch {len(plan)}: " in last.stdout and f"Epoch {len(plan) - 1}: " not in last.stdout
    _assert_same_model(tmp_path / "final.npz", tmp_path / "ref.npz")


@pytest.mark.slow
def test_sigterm_mid_epoch_exits_143_and_resumes_bit_identically(tmp_path):
    ref = subprocess.run([sys.executable, "-m", "nnaccel", *RUN, "--epochs", "4", "--save", "ref.npz"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "nnaccel", *RUN, "--epochs", "4", "--checkpoint", "c.npz"],
                            cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = ""
    while not line.startswith("Epoch 0:"):
        line = proc.stdout.readline()
        assert line or proc.poll() is None, proc.stderr.read()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted by SIGTERM; the last complete epoch" in err and len(err.strip().splitlines()) == 1
    epoch = load_checkpoint(tmp_path / "c.npz")[0]["state"]["epoch"]
    assert 1 <= epoch <= 2
    again = subprocess.run([sys.executable, "-m", "nnaccel", "train", "--resume", "c.npz", "--save", "final.npz"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    _assert_same_model(tmp_path / "final.npz", tmp_path / "ref.npz")


@pytest.mark.slow
def test_nothing_was_saved_is_said_only_when_nothing_was(tmp_path):
    """Signals at random moments around the start of training: the message always matches the disk."""
    rng = random.Random(3)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for attempt in range(6):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        sig = (signal.SIGINT, signal.SIGTERM)[attempt % 2]
        proc = subprocess.Popen([sys.executable, "-m", "nnaccel", *RUN, "--epochs", "3"], cwd=folder, env=env,
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.readline()  # the first line comes after the imports, before the data are loaded
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == 0:
            continue  # it finished first
        assert proc.returncode == 128 + sig, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        saved = folder / "nnaccel-checkpoint.npz"
        if "received after training ended" in err:  # the run had finished: nothing to save, nothing claimed
            assert not saved.exists()
            continue
        assert ("nothing was saved" in err) == (not saved.exists()), (err, list(folder.iterdir()))
        if saved.exists():
            epoch = load_checkpoint(saved)[0]["state"]["epoch"]
            assert (f"the last complete epoch, Epoch {epoch - 1} ({epoch} trained), is saved in nnaccel-checkpoint.npz"
                    if epoch else "no epoch was complete; the run so far is saved in nnaccel-checkpoint.npz") in err


def test_an_interrupt_inside_the_checkpoint_write_leaves_one_epochs_state(small_data, tmp_path, monkeypatch):
    """Counters and arrays of a checkpoint come from the same epoch, wherever a KeyboardInterrupt lands."""
    kw = dict(evaluation_data=small_data, momentum=0.7, schedule="halve", patience=1)
    whole = nnaccel.Network([12, 5, 4], device="cpu", dtype="float64", seed=2)
    train(whole, small_data, 5, 10, 0.5, **kw)
    real = nnaccel.io.checkpoints.save_checkpoint
    for after_rename in (False, True):
        calls = {"n": 0}

        def interrupted_save(path, net, state, config):
            calls["n"] += 1
            if calls["n"] == 3:  # the checkpoint of epoch 3
                if after_rename:
                    real(path, net, state, config)
                raise KeyboardInterrupt
            real(path, net, state, config)

        monkeypatch.setattr(nnaccel.io.checkpoints, "save_checkpoint", interrupted_save)
        net = nnaccel.Network([12, 5, 4], device="cpu", dtype="float64", seed=2)
        ckpt = tmp_path / f"c{after_rename}.npz"
        with pytest.raises(TrainingInterrupted) as info:
            train(net, small_data, 5, 10, 0.5, checkpoint=ckpt, **kw)
        monkeypatch.setattr(nnaccel.io.checkpoints, "save_checkpoint", real)
        meta, arrays = load_checkpoint(ckpt)
        assert meta["state"]["epoch"] == info.value.epoch == len(meta["state"]["records"])
        for got, want in zip(arrays["w"], net.weights):  # the network holds the saved epoch too
            np.testing.assert_array_equal(got, want)
        again = nnaccel.Network([12, 5, 4], device="cpu", dtype="float64", seed=99)
        train(again, small_data, 5, 10, 0.5, resume=ckpt, **kw)
        for got, want in zip(again.weights + again.biases, whole.weights + whole.biases):
            np.testing.assert_array_equal(got, want)


def test_a_signal_in_the_api_stops_at_an_epoch_boundary(small_data, tmp_path):
    """The handler only records a signal outside an epoch's body; train() then stops after the epoch."""
    net = nnaccel.Network([12, 5, 4], device="cpu", dtype="float64", seed=2)
    reference = nnaccel.Network([12, 5, 4], device="cpu", dtype="float64", seed=2)
    train(reference, small_data, 2, 10, 0.5)
    before = signal.getsignal(signal.SIGTERM)

    def signal_during_epoch_1(record):
        if record["epoch"] == 1:  # after the epoch's work, inside the deferred part: recorded only
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(TrainingInterrupted) as info:
        train(net, small_data, 5, 10, 0.5, callback=signal_during_epoch_1, interrupt_path=tmp_path / "i.npz")
    assert info.value.signum == signal.SIGTERM and info.value.epoch == 2
    assert load_checkpoint(tmp_path / "i.npz")[0]["state"]["epoch"] == 2
    for got, want in zip(net.weights, reference.weights):
        np.testing.assert_array_equal(got, want)
    assert signal.getsignal(signal.SIGTERM) == before and not GUARD.pending()  # handlers given back


@pytest.mark.slow
@pytest.mark.parametrize("args,write", [(["--save", "m.npz"], 1),  # the model's own write
                                         (["--checkpoint", "c.npz", "--save", "m.npz"], 2)])  # the last checkpoint
def test_a_signal_after_the_last_epoch_lets_the_outputs_finish(args, write, tmp_path):
    marker = tmp_path / "marks" / "fsync"
    marker.parent.mkdir()
    proc = _start_slow([*RUN, "--epochs", "2", *args], tmp_path, marker)
    _wait_for(lambda: marker.exists() and marker.read_text() == str(write), proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err == "nnaccel: SIGTERM received after training ended; its outputs were finished first\n"
    assert nnaccel.load(tmp_path / "m.npz").sizes == [784, 20, 10]
    if "--checkpoint" in args:
        assert load_checkpoint(tmp_path / "c.npz")[0]["state"]["epoch"] == 2


@pytest.mark.slow
@needs_proc
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_nnaccel_is_still_loading_is_one_line_never_a_traceback(signum, tmp_path):
    """From the first moment the command runs (before NumPy has loaded) a signal ends it with one
    line and 128 + the signal's number. Never a traceback, never a file. (Earlier still, Python
    itself is starting and answers as it does for any program, so the delays count from the
    moment nnaccel's handler is installed: at a fixed delay from the start, a loaded machine
    sometimes sent the signal before that.)"""
    for delay in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3):
        p = subprocess.Popen([sys.executable, "-m", "nnaccel", *RUN[:1], "--epochs", "50", "--device", "cpu"],
                             cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_for_handler(p)
        time.sleep(delay)
        p.send_signal(signum)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 128 + signum, (delay, p.returncode, err)
        assert "Traceback" not in err and len(err.splitlines()) == 1 and err.startswith("nnaccel: "), (delay, err)
    assert not [f for f in os.listdir(tmp_path) if not f.startswith("nnaccel-checkpoint")]
