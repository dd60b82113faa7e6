"""A signal at any moment of ``nnaccel train`` is answered in order: one line, a documented exit
code, every file on disk whole.

Two kinds of test. The sweep sends SIGINT or SIGTERM at delays spread over a whole run, from the
moment nnaccel's own handler is installed to past the process's exit, and checks the invariants
that must hold whatever the moment. The windows make each moment where a signal used to go
wrong (lost, a probe file left behind, a traceback from a finalizer) last long enough to hit every
time: a harness runs the real entry point (nnaccel.__main__.main) with one step slowed down and
announced in a marker file. Two tests in-process check the finalizers themselves.

Before nnaccel's first line runs, Python is still starting (site, runpy): there SIGTERM ends the
process silently and SIGINT is Python's own KeyboardInterrupt, which no code of nnaccel can
answer. So every delay here counts from the handler's installation, read from /proc/PID/status.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import nnaccel
from nnaccel.errors import Interrupted
from nnaccel.io.checkpoints import load_checkpoint
from nnaccel.training.signals import GUARD

needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux's /proc")

RUN = ["train", "--epochs", "1", "--sizes", "784", "20", "10", "--device", "cpu", "--seed", "1",
       "--checkpoint", "c.npz", "--save", "m.npz", "--history", "h.json"]
CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def handles(pid, signum):
    """Whether process ``pid`` has a handler of its own for ``signum`` (its SigCgt mask)."""
    with open(f"/proc/{pid}/status") as f:
        mask = next(line for line in f if line.startswith("SigCgt:")).split()[1]
    return bool(int(mask, 16) >> (signum - 1) & 1)


def wait_for_handler(proc, seconds=60):
    """Wait until nnaccel's entry point has installed its handlers (Python itself never catches
    SIGTERM, so a handler for it is nnaccel's); the time it was seen."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if handles(proc.pid, signal.SIGTERM):
                return time.monotonic()
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            pass  # not started yet, or gone
        assert proc.poll() is None, ("exited before its handler was installed", proc.communicate())
        assert time.monotonic() < deadline, "no handler installed"
        time.sleep(0.001)


def start(args, cwd, harness=None, env=None):
    command = [sys.executable, "-m", "nnaccel"] if harness is None else [sys.executable, "-c", harness]
    return subprocess.Popen([*command, *args], cwd=cwd, env=dict(os.environ, **(env or {})), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def check_outcome(sig, code, err, folder):
    """What must hold whenever the signal came: one line from nnaccel or none, never a traceback, a
    documented exit code, no temporary file, every file whole, and the message true to the disk."""
    assert "Traceback" not in err and "Exception ignored" not in err, err
    lines = err.splitlines()
    assert len(lines) <= 1 and all(line.startswith("nnaccel: ") for line in lines), err
    assert code in (0, CODES[sig]), (code, err)
    names = sorted(os.listdir(folder))
    assert not [n for n in names if n.startswith(".") or n.endswith((".tmp", ".probe", ".part"))], names
    if "m.npz" in names:
        assert nnaccel.load(folder / "m.npz").sizes == [784, 20, 10]
    if "c.npz" in names:
        load_checkpoint(folder / "c.npz")
    if "h.json" in names:
        [json.loads(line) for line in (folder / "h.json").read_text().splitlines()]
    if code == 0:
        assert err == "" and "m.npz" in names, (err, names)  # finished first: the model is there
    elif "is saved in c.npz" in err:
        assert "c.npz" in names, (err, names)
    elif "received after training ended" in err:
        assert "m.npz" in names, (err, names)
    else:  # before the command started, or nothing was saved
        assert "nothing was" in err and "m.npz" not in names and "c.npz" not in names, (err, names)


@pytest.mark.slow
@needs_proc
def test_a_signal_at_any_moment_of_a_run_is_answered_in_order(tmp_path):
    """Delays from the handler's installation to past the run's end, SIGINT and SIGTERM in turn."""
    folder = tmp_path / "reference"
    folder.mkdir()
    proc = start(RUN, folder)
    began = wait_for_handler(proc)
    _, err = proc.communicate(timeout=120)
    length = time.monotonic() - began
    assert proc.returncode == 0 and err == "", err
    n = 20
    for k in range(n):
        sig = (signal.SIGINT, signal.SIGTERM)[k % 2]
        delay = 1.1 * length * k / (n - 1)
        folder = tmp_path / f"{k}-{sig.name}-{delay:.3f}s"
        folder.mkdir()
        proc = start(RUN, folder)
        wait_for_handler(proc)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        check_outcome(sig, proc.returncode, err, folder)


# The real entry point, with the step named by $WINDOW slowed by $DELAY s, announced in $MARKER.
WIDEN = """
import os, sys, time

def announce_and_wait(os=os, time=time, open=open):  # bound now: a finalizer at exit may outlive the globals
    if not os.path.exists(os.environ["MARKER"]):  # once: the first time the step comes
        open(os.environ["MARKER"], "w").close()
        time.sleep(float(os.environ["DELAY"]))

window = os.environ["WINDOW"]
if window == "before the guard":  # the last moment before the command's handler takes over
    from nnaccel.training import signals
    enter = signals.Guard.__enter__
    def slow_enter(self):
        if self._depth == 0:
            announce_and_wait()
        return enter(self)
    signals.Guard.__enter__ = slow_enter
elif window == "the output checks":  # a probe file made, not yet removed
    import tempfile
    mkstemp = tempfile.mkstemp
    def slow_mkstemp(*args, **kwargs):
        made = mkstemp(*args, **kwargs)
        if kwargs.get("suffix") == ".probe":
            announce_and_wait()
        return made
    tempfile.mkstemp = slow_mkstemp
elif window == "a finalizer while loading":  # the garbage collector runs a __del__ mid-load
    import nnaccel.cli.train as command
    load = command._dataset
    class Finalized:
        def __del__(self):
            announce_and_wait()
    def dataset(args):
        Finalized()  # dropped at once: its __del__ runs here
        return load(args)
    command._dataset = dataset
elif window == "a finalizer at exit":  # like a progress bar's __del__ in the interpreter's teardown
    class Finalized:
        def __del__(self, announce=announce_and_wait):
            announce()
    LEFT_FOR_TEARDOWN = Finalized()

sys.argv[0] = "nnaccel"
from nnaccel.__main__ import main
sys.exit(main())
"""

WINDOWS = [  # (the window, the signal, the one line expected, or None where any orderly outcome will do)
    ("before the guard", signal.SIGINT, "nnaccel: SIGINT before the command started; nothing was done"),
    ("the output checks", signal.SIGTERM, "nnaccel: interrupted by SIGTERM; nothing was saved"),
    ("a finalizer while loading", signal.SIGINT, None),
    ("a finalizer at exit", signal.SIGTERM, ""),
]


@pytest.mark.slow
@needs_proc
@pytest.mark.parametrize("window,sig,line", WINDOWS, ids=[w[0] for w in WINDOWS])
def test_a_signal_inside_each_window_is_answered_in_order(window, sig, line, tmp_path):
    folder, marker = tmp_path / "run", tmp_path / "marker"
    folder.mkdir()
    proc = start(RUN, folder, WIDEN, {"WINDOW": window, "MARKER": str(marker), "DELAY": "0.3"})
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, ("exited before the window", proc.communicate())
        assert time.monotonic() < deadline, "the window never came"
        time.sleep(0.002)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    check_outcome(sig, proc.returncode, err, folder)
    if line is not None:
        assert err.strip() == line, err


class SlowFinalizer:
    """Its __del__ takes a signal: the guard's handler raises Interrupted inside it."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)  # the handler runs here


class HalfMade:
    """Like a progress bar whose __init__ a signal cut short: its __del__ fails on what is missing."""

    def __init__(self):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)  # the handler raises Interrupted here
        self.position = 0

    def __del__(self):
        abs(self.position)


def test_a_signal_inside_a_finalizer_is_recorded_not_printed(monkeypatch):
    """Python cannot raise from a __del__ and would print the Interrupted; the guard records it instead."""
    printed = []  # what would reach Python's "Exception ignored in ..." (pytest's own hook is set aside)
    monkeypatch.setattr(sys, "unraisablehook", printed.append)
    with GUARD, GUARD.interruptible():
        SlowFinalizer()  # dropped at once
        assert GUARD.pending() == [signal.SIGTERM]  # still here: the run stops at its next boundary
    assert printed == [] and sys.unraisablehook == printed.append


def test_an_object_a_signal_cut_short_fails_in_its_finalizer_silently(monkeypatch):
    """An __init__ stopped by Interrupted leaves a half-made object, whose __del__ then fails unseen."""
    printed = []
    monkeypatch.setattr(sys, "unraisablehook", printed.append)
    with GUARD, pytest.raises(Interrupted), GUARD.interruptible():
        HalfMade()
    assert printed == []
