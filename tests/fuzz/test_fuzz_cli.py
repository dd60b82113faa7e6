"""Fuzzing the command line (issue 9): argument vectors drawn from the real flag set.

Flags and their types come from nnaccel.cli.build_parser() itself, so a new flag is fuzzed
the day it is added. Values are drawn from what users mistype: negative, huge, NaN, empty,
unicode digits, paths into odd places (/proc, missing folders, existing folders, non-UTF-8
names). The property: exit 0, or exit 2 (3 for a diverged run) with exactly one line on
stderr; no traceback; no temporary file anywhere; no new file at all after an exit 2.
Runs in-process through nnaccel.cli.main (fast), plus a few real subprocess runs (< 1 s each).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nnaccel
from nnaccel.cli import build_parser, main
from nnaccel.data import write_idx
from tests.fuzz_support import FAILED, Clock, fuzz_settings, listing

pytestmark = pytest.mark.fuzz

INTS = ["0", "1", "2", "3", "-1", "10", "2147483648", "99999999999999999999", "1e3", "nan", "", "٣", "0x10",
        " 5", "-0"]
FLOATS = ["0", "0.5", "3", "-1", "nan", "inf", "-inf", "1e308", "1e-320", "", "1,5", "0.1", "٣", "1e999"]
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12)
ALLOWED_EXITS = {0, 2, 3}
SECONDS_PER_RUN = 5.0


def _subcommands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def _flags(subparser):
    """(option strings, action) of a subparser's flags, --help excluded."""
    return [(a.option_strings, a) for a in subparser._actions
            if a.option_strings and not isinstance(a, argparse._HelpAction)]


class _Timeout(BaseException):
    """A fuzzed run that trains for longer than SECONDS_PER_RUN is stopped: not a failure."""


@contextlib.contextmanager
def _time_limit(seconds):
    def stop(signum, frame):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


BAD_CONFIGS = {
    "cfg-sizes.npz": {"sizes": "16 5 3"},
    "cfg-eta.npz": {"eta": "fast"},
    "cfg-epochs.npz": {"epochs": -3},
    "cfg-data.npz": {"data": "/nonexistent"},
    "cfg-dataset.npz": {"dataset": "cifar", "data": None},
    "cfg-cost.npz": {"cost": 5},
    "cfg-hidden.npz": {"hidden_activation": ["softmax"]},
    "cfg-dtype.npz": {"dtype": "float16"},
    "cfg-seed.npz": {"seed": "x"},
    "cfg-scale.npz": {"scale": -1},
}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A working folder with a tiny IDX data set, a model, a checkpoint and an output folder."""
    root = tmp_path_factory.mktemp("cli-fuzz")
    rng = np.random.default_rng(0)
    data = root / "data"
    data.mkdir()
    write_idx(data / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (30, 4, 4), dtype=np.uint8))
    write_idx(data / "train-labels-idx1-ubyte.gz", (np.arange(30) % 3).astype(np.uint8))
    write_idx(data / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (9, 4, 4), dtype=np.uint8))
    write_idx(data / "t10k-labels-idx1-ubyte.gz", (np.arange(9) % 3).astype(np.uint8))
    (root / "out").mkdir()
    net = nnaccel.Network([16, 5, 3], device="cpu", seed=0)
    net.save(root / "model.json")
    net.save(root / "model.npz")
    with contextlib.chdir(root), contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "--data", "data", "--sizes", "16", "5", "3", "--epochs", "2", "--device", "cpu",
                     "--checkpoint", "ckpt.npz", "--seed", "1"]) == 0
    (root / "empty.npz").write_bytes(b"")
    (root / "cut.npz").write_bytes((root / "ckpt.npz").read_bytes()[:200])
    for name, change in BAD_CONFIGS.items():  # checkpoints whose saved settings a resume adopts
        with np.load(root / "ckpt.npz", allow_pickle=False) as z:
            meta = json.loads(str(z["meta"][()]))
            arrays = {k: z[k] for k in z.files if k != "meta"}
        meta["config"].update(change)
        np.savez(root / name, meta=np.array(json.dumps(meta)), **arrays)
    return root




PATHS = ["out/m.json", "out/m.npz", "out/m.txt", "out/h.jsonl", "out/p.png", "out/c.npz", "out", ".",
         "/proc/self/status", "/proc/nnaccel-fuzz.npz", "/nonexistent/dir/x.npz", "", "ü名.npz", "a" * 300,
         "-", "model.json", "model.npz", "ckpt.npz", "empty.npz", "cut.npz", "data", "out/\udcff.npz",
         *BAD_CONFIGS]


def _value(draw, action):
    """Mostly a value the flag accepts (so that runs get past argparse), sometimes anything."""
    odd = draw(st.integers(0, 5)) == 0
    if action.choices:
        return draw(TEXT) if odd else draw(st.sampled_from(list(action.choices)))
    kind = getattr(action.type, "__name__", "")
    if kind == "_int":
        return draw(st.sampled_from(INTS)) if odd else str(draw(st.integers(0, 12)))
    if kind == "_float":
        return draw(st.sampled_from(FLOATS) | st.floats(allow_nan=True).map(repr)) if odd \
            else str(draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0, 3.0, 255.0])))
    return draw(TEXT) if odd else draw(st.sampled_from(PATHS))


@st.composite
def argv(draw):
    commands = _subcommands()
    name = draw(st.sampled_from(["train"] * 6 + ["evaluate"] * 3 + sorted(commands) + ["--version", "nope", ""]))
    if name not in commands:
        return [name] + draw(st.lists(TEXT, max_size=2))
    args = [name]
    if name == "evaluate":
        args.append(draw(st.sampled_from(PATHS)))
    if name == "experiment":
        args.append(draw(st.sampled_from(list(_flags_positional(commands[name]))) | TEXT))
    if name in ("train", "evaluate") and draw(st.integers(0, 9)):
        args += ["--data", "data", "--device", "cpu"]
    if name == "train" and draw(st.integers(0, 3)):
        args += ["--epochs", draw(st.sampled_from(["1", "2", "0"]))]
    flags = _flags(commands[name])
    for _ in range(draw(st.integers(0, 6)) if flags else 0):
        options, action = draw(st.sampled_from(flags))
        args.append(draw(st.sampled_from(options)))
        if action.nargs == 0:
            continue
        count = draw(st.integers(1, 4)) if action.nargs in ("+", "*") else 1
        args += [_value(draw, action) for _ in range(count)]
    if name == "export":
        args += draw(st.lists(st.sampled_from(PATHS), max_size=2))
    return args


def _flags_positional(subparser):
    for a in subparser._actions:
        if not a.option_strings and a.choices:
            yield from a.choices


def run_in_process(args, cwd):
    """(exit code, stdout, stderr) of nnaccel.cli.main(args) run in ``cwd``, or None on timeout."""
    out, err = io.StringIO(), io.StringIO()
    code = None
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with _time_limit(SECONDS_PER_RUN):
                code = main(args)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        except _Timeout:
            return None
    if "_Timeout" in err.getvalue():  # the alarm landed where Python ignores exceptions (a gc callback)
        return None
    return code, out.getvalue(), err.getvalue()


def _remove(paths):
    for new in sorted(paths, reverse=True):  # files before the folders that hold them
        path = Path(new)
        if path.is_file() or path.is_symlink():
            path.unlink()
        elif path.is_dir():
            path.rmdir()


def assert_cli_property(args, code, stderr, before, after):
    where = f"nnaccel {' '.join(map(repr, args))}"
    assert code in ALLOWED_EXITS, f"{where}: exit {code}, stderr {stderr[-2000:]!r}"
    assert "Traceback" not in stderr, f"{where}: {stderr[-2000:]}"
    if code != 0:
        assert stderr.count("\n") == 1 and stderr.strip(), f"{where}: exit {code} with stderr {stderr!r}"
    leftovers = [p for p in after - before if p.endswith((".tmp", ".probe"))]
    assert not leftovers, f"{where}: temporary files left: {leftovers}"
    if code == 2:
        assert after == before, f"{where}: exit 2 but new files {sorted(after - before)}"


CLI_CLOCK = Clock()


@fuzz_settings(per_second=4)
@given(args=argv())
def test_fuzz_cli_in_process(sandbox, args):
    """Every drawn command line exits 0, or 2/3 with one line on stderr, and leaves no debris."""
    if CLI_CLOCK.spent():
        return
    before = listing(sandbox)
    result = run_in_process(args, sandbox)
    after = listing(sandbox)
    _remove(after - before)  # the next example starts from the same folder
    if result is None:
        return
    code, _, stderr = result
    try:
        assert_cli_property(args, code, stderr, before, after)
    except AssertionError:
        FAILED.append(True)
        raise


SUBPROCESS_CASES = [
    ["train", "--data", "data", "--device", "cpu", "--epochs", "1", "--sizes", "16", "5", "200"],
    ["train", "--resume", "model.json"],
    ["train", "--resume", "cut.npz"],
    ["train", "--data", "data", "--device", "cpu", "--eta", "nan"],
    ["train", "--data", "data", "--device", "cpu", "--epochs", "1", "--save", "out/m.txt"],
    ["evaluate", "empty.npz", "--data", "data"],
    ["evaluate", "/proc/self/status", "--data", "data"],
    ["train", "--data", "/nonexistent", "--device", "cpu"],
]


@pytest.mark.parametrize("args", SUBPROCESS_CASES, ids=lambda a: " ".join(a)[:60])
def test_cli_subprocess_errors_are_one_line(sandbox, args):
    """The same property with a real interpreter: warnings and exit codes as a user sees them."""
    before = listing(sandbox)
    r = subprocess.run([sys.executable, "-m", "nnaccel", *args], cwd=sandbox, capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, PYTHONWARNINGS="default"))
    assert_cli_property(args, r.returncode, r.stderr, before, listing(sandbox))


FOUND = [  # what the fuzzer found in modules other helpers own; see /tmp/drafts/fuzz-findings.md
    pytest.param(["train", "--resume", "cfg-seed.npz"], id="resume-config-seed-is-text"),
    pytest.param(["sweep", "--early-stopping", "0", "--quiet"], id="sweep-leaves-its-db-on-exit-2"),
]


@pytest.mark.parametrize("args", FOUND)
def test_fuzzer_findings_reproduced(sandbox, args):
    if args[0] not in _subcommands():
        pytest.skip(f"nnaccel {args[0]} is not installed here")
    before = listing(sandbox)
    result = run_in_process(args, sandbox)
    after = listing(sandbox)
    _remove(after - before)
    assert result is not None
    assert_cli_property(args, result[0], result[2], before, after)


# ---- issue 16: outputs × inputs --------------------------------------------------------------

DATA_FILES = ["data/train-images-idx3-ubyte.gz", "data/train-labels-idx1-ubyte.gz",
              "data/t10k-images-idx3-ubyte.gz", "data/t10k-labels-idx1-ubyte.gz"]
TRAIN_OUTPUTS = ["--save", "--checkpoint", "--history", "--plot"]


CLASH_INPUTS = [*DATA_FILES, "clash-ckpt.npz", "clash-model.npz"]  # files no other fuzz test writes


@pytest.fixture(scope="module")
def aliases(sandbox, tmp_path_factory):
    """Other spellings of the sandbox's files, kept outside it (a link to its folder; hard links,
    made afresh by each example), and a checkpoint and a model of the sandbox's data for this test alone."""
    root = tmp_path_factory.mktemp("aliases")
    (root / "to-sandbox").symlink_to(sandbox)
    (root / "hard").mkdir()
    with contextlib.chdir(sandbox), contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "--data", "data", "--sizes", "16", "5", "3", "--epochs", "2", "--device", "cpu",
                     "--checkpoint", "clash-ckpt.npz", "--save", "clash-model.npz", "--seed", "1"]) == 0
    return root


def _hard_link(aliases, sandbox, name):
    link = aliases / "hard" / Path(name).name
    link.unlink(missing_ok=True)
    os.link(sandbox / name, link)
    return str(link)


def _spellings(aliases, name):
    """Ways to name the sandbox's file ``name`` (relative to it) without writing it as given."""
    return [name, f"./{name}", f"out/../{name}", str(aliases / "to-sandbox" / name), "HARD",
            f"{Path(name).parent}/./{Path(name).name}"]


@st.composite
def clashing_runs(draw, aliases):
    """(argv, the sandbox file it must not write): an output spelt as one of the run's inputs."""
    kind = draw(st.sampled_from(["train", "resume", "export"]))
    if kind == "export":
        target, flags = "clash-model.npz", None
    elif kind == "resume":
        target = draw(st.sampled_from(["clash-ckpt.npz", *DATA_FILES]))
        flags = [f for f in TRAIN_OUTPUTS if not (f == "--checkpoint" and target == "clash-ckpt.npz")]
    else:
        target, flags = draw(st.sampled_from(DATA_FILES)), TRAIN_OUTPUTS
    spelt = draw(st.sampled_from(_spellings(aliases, target)))
    if kind == "export":
        return ["export", "clash-model.npz", spelt], target
    base = (["train", "--resume", "clash-ckpt.npz", "--epochs", "3"] if kind == "resume"
            else ["train", "--data", "data", "--device", "cpu", "--sizes", "16", "5", "3", "--epochs", "1"])
    others = draw(st.lists(st.sampled_from(["--history", "--plot"]), max_size=1))
    extra = [arg for flag in others for arg in (flag, f"out/o{flag[2:]}{'.png' if flag == '--plot' else '.jsonl'}")]
    return [*base, *extra, draw(st.sampled_from(flags)), spelt], target


OUTPUTS_CLOCK = Clock()


@fuzz_settings(per_second=8)
@given(data=st.data())
def test_fuzz_an_output_spelt_as_an_input_is_refused(sandbox, aliases, data):
    """Whatever the spelling (./, .., a linked folder, a hard link), an output that is one of the
    run's inputs is refused with exit 2 and one line, and every input keeps its bytes."""
    if OUTPUTS_CLOCK.spent():
        return
    args, target = data.draw(clashing_runs(aliases))
    args = [_hard_link(aliases, sandbox, target) if a == "HARD" else a for a in args]
    inputs = {name: (sandbox / name).read_bytes() for name in CLASH_INPUTS}
    before = listing(sandbox)
    result = run_in_process(args, sandbox)
    after = listing(sandbox)
    _remove(after - before)
    try:
        assert result is not None, f"nnaccel {args}: ran past the time limit instead of refusing at once"
        code, _, stderr = result
        assert code == 2 and "which this run reads" in stderr, f"nnaccel {args}: exit {code}, {stderr!r}"
        assert_cli_property(args, code, stderr, before, after)
        for name, blob in inputs.items():
            assert (sandbox / name).read_bytes() == blob, f"nnaccel {args} changed {name}"
    except AssertionError:
        FAILED.append(True)
        raise
