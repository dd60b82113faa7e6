"""The one table of training parameters (nnaccel.core.parameters): every row's bounds are
refused just outside and taken just inside, by the API, by ``nnaccel train`` (one line on
stderr, exit 2, the API's words) and by the scikit-learn estimators; the help shows them; and
no second hand-written check of a table parameter appears anywhere in the package. The tables
of data and run options (OPTIONS: ``nnaccel train``'s; SWEEP_OPTIONS, TUNE_OPTIONS, SERVE_OPTIONS:
``nnaccel sweep``'s, ``tune``'s and ``serve``'s) are held to the same: refused just outside by the
command and by a resumed checkpoint, in the table's words, shown in the help, and never checked
by hand.

Table-driven: a new row is tested by every test here without a line of its own."""

from __future__ import annotations

import ast
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import nnaccel
from nnaccel import cli
from nnaccel.backend import BACKENDS, DTYPES
from nnaccel.cli.resume import check_saved_settings
from nnaccel.core import parameters
from nnaccel.core.parameters import (EXPERIMENT_OPTIONS, OPTIONS, PARAMETERS, SERVE_OPTIONS, SWEEP_OPTIONS,
                                     TUNE_OPTIONS, Parameter)
from nnaccel.data import write_idx
from nnaccel.data.datasets import NAMES
from nnaccel.errors import NNAccelError
from nnaccel.tools import tune
from nnaccel.tools._tuning import holdout
from nnaccel.training.trainer import check_hyperparameters, train

PACKAGE = Path(nnaccel.__file__).parent
TABLES = {"parameters": PARAMETERS, "options": OPTIONS, "sweep": SWEEP_OPTIONS, "tune": TUNE_OPTIONS,
          "serve": SERVE_OPTIONS, "experiment": EXPERIMENT_OPTIONS}
ALL_NAMES = {name for table in TABLES.values() for name in table}
MODEL_ROWS = ("cost", "hidden_activation", "output_activation", "init", "softmax_temperature", "seed")  # Network's
TRAIN_ROWS = tuple(name for name in PARAMETERS if name not in MODEL_ROWS)  # train's


def _step(value, kind, direction):
    """The next representable value from ``value`` towards ``direction`` (±1)."""
    return value + direction if kind is int else float(np.nextafter(value, direction * math.inf))


def outside(row: Parameter):
    """Values just outside each of the row's bounds (and a value of the wrong kind)."""
    if row.choices is not None:
        return ["bogus"]
    if row.kind is bool:
        return ["yes"]
    values = []
    if row.low is not None:
        values.append(row.low if row.closed in ("right", "neither") else _step(row.low, row.kind, -1))
    if row.high is not None:
        values.append(row.high if row.closed in ("left", "neither") else _step(row.high, row.kind, +1))
    elif row.kind is float:
        values.append(math.inf)  # unbounded above, but finite
    if row.kind is float:
        values.append(math.nan)
    else:
        values.append(row.low + 0.5)  # a fraction where a whole number belongs
    return values


def inside(row: Parameter):
    """Values just inside each of the row's bounds, every choice, and the default."""
    if row.choices is not None:
        return list(row.choices)
    if row.kind is bool:
        return [False, True]
    values = [row.default] if row.default is not None else []
    if row.low is not None:
        values.append(row.low if row.closed in ("both", "left") else _step(row.low, row.kind, +1))
    if row.high is not None:
        values.append(row.high if row.closed in ("both", "right") else _step(row.high, row.kind, -1))
    return values


def _context(name, value):
    """The other settings a value needs to apply (damping: a second-order optimizer; a softmax
    temperature or the log-likelihood: a softmax output; tanh outputs: not the cross-entropy)."""
    if name == "damping":
        return {"optimizer": "newton"}
    if name == "optimizer" and value == "hessian-free":
        return {"damping": 1.0}
    if name == "softmax_temperature" or (name == "cost" and value == "log-likelihood"):
        return {"output_activation": "softmax", "cost": "log-likelihood"}
    return {"cost": "quadratic"} if name in MODEL_ROWS else {}


def _api(name, value):
    """The API call that takes ``name``: Network for the model's rows, train for the rest."""
    rng = np.random.default_rng(0)
    x, y = rng.random((20, 4)), np.arange(20) % 2
    if name in MODEL_ROWS:
        return nnaccel.Network([4, 3, 2], device="cpu", **{"seed": 0, **_context(name, value), name: value})
    net = nnaccel.Network([4, 3, 2], cost="cross-entropy", device="cpu", seed=0)
    settings = dict(epochs=1, mini_batch_size=10, eta=0.5, evaluation_data=(x, y))
    return train(net, (x, y), **{**settings, **_context(name, value), name: value})


def _refusal(name, value, table=None):
    """The table's words for ``value``: what every caller must print."""
    with pytest.raises(NNAccelError) as e:
        parameters.check(name, value, table)
    return str(e.value)


OUTSIDE = [(name, v) for name, row in PARAMETERS.items() for v in outside(row)]
INSIDE = [(name, v) for name, row in PARAMETERS.items() for v in inside(row)]


@pytest.mark.parametrize("name, value", OUTSIDE, ids=[f"{n}={v!r}" for n, v in OUTSIDE])
def test_the_api_refuses_a_value_just_outside_in_the_tables_words(name, value):
    with pytest.raises(NNAccelError) as e:
        _api(name, value)
    assert str(e.value) == _refusal(name, value)
    message = str(e.value)
    assert message.startswith(f"{name} must be {PARAMETERS[name].bounds()}, got ") and "\n" not in message
    assert PARAMETERS[name].flag in message  # the fix, as the command line's flag


@pytest.mark.parametrize("name, value", INSIDE, ids=[f"{n}={v!r}" for n, v in INSIDE])
def test_the_api_takes_a_value_just_inside(name, value):
    """Network takes the model's rows; the trainer's check takes the rest (a p just under 1
    deletes every neuron of a layer, a rule of the layers, so train itself is run below)."""
    if name in MODEL_ROWS:
        _api(name, value)
    else:
        check_hyperparameters(**{**dict(epochs=1, mini_batch_size=10, eta=0.5), **_context(name, value), name: value})


@pytest.mark.parametrize("name", TRAIN_ROWS)
def test_train_runs_with_each_rows_example(name):
    row = PARAMETERS[name]
    value = row.example if row.example is not None else row.default
    assert _api(name, value).records


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A folder of 16-pixel, 3-class IDX files: ``nnaccel train`` reaches the API in milliseconds."""
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    for stem, n in (("train", 30), ("t10k", 9)):
        write_idx(root / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 4, 4), dtype=np.uint8))
        write_idx(root / f"{stem}-labels-idx1-ubyte.gz", (np.arange(n) % 3).astype(np.uint8))
    return ["--data", str(root), "--sizes", "16", "5", "3", "--device", "cpu", "--seed", "1"]


def _flags(name, value):
    """The command line for ``name`` = ``value``, with its context."""
    words = []
    for key, v in {**_context(name, value), name: value}.items():
        flag = PARAMETERS[key].flag
        words += [flag] if v is True else [] if v is False else [f"{flag}={v}"]  # = : argparse reads -5e-324 as a flag
    return words


# A switch takes no value, and a fraction for a whole number is argparse's to refuse (it converts the text).
CLI_OUTSIDE = [(n, v) for n, v in OUTSIDE if PARAMETERS[n].kind is not bool
               and not (PARAMETERS[n].kind is int and isinstance(v, float))]


@pytest.mark.parametrize("name, value", CLI_OUTSIDE, ids=[f"{n}={v!r}" for n, v in CLI_OUTSIDE])
def test_the_command_refuses_it_in_one_line_exit_2_in_the_apis_words(name, value, tiny, capsys, tmp_path,
                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["train", *tiny, "--epochs", "1", *_flags(name, value)])
    out, err = capsys.readouterr()
    assert code == 2 and err == f"nnaccel: error: {_refusal(name, value)}\n"
    assert out == ""  # not even the run's header: it waits for the API's checks
    assert list(tmp_path.iterdir()) == []


def test_the_command_checks_each_parameter_once_per_run(tiny, capsys, tmp_path, monkeypatch):
    """The API checks; the command line adds no check of its own (a row is looked at ≤ once)."""
    seen = []
    contains = Parameter.contains
    monkeypatch.setattr(Parameter, "contains", lambda row, value: seen.append(row.name) or contains(row, value))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", *tiny, "--epochs", "1", "--momentum", "0.5", "--schedule", "step"]) == 0
    capsys.readouterr()
    assert seen and all(seen.count(name) == 1 for name in seen), sorted(seen)
    assert set(seen) >= set(TRAIN_ROWS) | set(OPTIONS)


# ---- the tables of data and run options ---------------------------------------------------------

def _cli_outside(table):
    """(name, value) just outside each row that a command line can type (not a fraction for a whole number)."""
    return [(n, v) for n, row in table.items() for v in outside(row)
            if row.kind is not bool and not (row.kind is int and isinstance(v, float))]


OPTION_OUTSIDE = _cli_outside(OPTIONS)
SWEEP_OUTSIDE = _cli_outside(SWEEP_OPTIONS)
TUNE_OUTSIDE = _cli_outside(TUNE_OPTIONS)
SERVE_OUTSIDE = _cli_outside(SERVE_OPTIONS)
OPTION_INSIDE = [(name, table, v) for table in (OPTIONS, SWEEP_OPTIONS, TUNE_OPTIONS, SERVE_OPTIONS, EXPERIMENT_OPTIONS)
                 for name, row in table.items() for v in inside(row)]


@pytest.mark.parametrize("name, table, value", OPTION_INSIDE, ids=[f"{n}={v!r}" for n, _, v in OPTION_INSIDE])
def test_an_option_just_inside_is_taken(name, table, value):
    assert parameters.check(name, value, table) == value


@pytest.mark.parametrize("name, value", OPTION_OUTSIDE, ids=[f"{n}={v!r}" for n, v in OPTION_OUTSIDE])
def test_train_refuses_an_option_just_outside_before_reading_data_in_the_tables_words(name, value, tiny, capsys,
                                                                                        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("nnaccel.cli.train._dataset", lambda args: pytest.fail("the data was read"))
    code = cli.main(["train", *tiny, "--epochs", "1", f"{OPTIONS[name].flag}={value}"])
    out, err = capsys.readouterr()
    assert code == 2 and err == f"nnaccel: error: {_refusal(name, value)}\n" and out == ""
    assert err.startswith(f"nnaccel: error: {name} must be {OPTIONS[name].bounds()}, got ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, value", SWEEP_OUTSIDE, ids=[f"{n}={v!r}" for n, v in SWEEP_OUTSIDE])
def test_sweep_refuses_its_options_just_outside_before_any_file_in_the_tables_words(name, value, tiny, capsys,
                                                                                     tmp_path, monkeypatch):
    """sweep's rows: its own (trials, jobs, …) and those it narrows (epochs ≥ 1, schedule constant or halve)."""
    pytest.importorskip("optuna", reason="nnaccel sweep needs Optuna")
    monkeypatch.chdir(tmp_path)
    code = cli.main(["sweep", *tiny[:2], "--storage", f"sqlite:///{tmp_path / 's.db'}", "--device", "cpu",
                     f"{SWEEP_OPTIONS[name].flag}={value}"])
    err = capsys.readouterr().err
    assert code == 2 and err == f"nnaccel: error: {_refusal(name, value, SWEEP_OPTIONS)}\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, value", TUNE_OUTSIDE, ids=[f"{n}={v!r}" for n, v in TUNE_OUTSIDE])
def test_tune_refuses_its_options_just_outside_before_any_file_in_the_tables_words(name, value, capsys, tmp_path,
                                                                                    monkeypatch):
    """tune's rows: its own (budget, m-choice, data set, dtype, …) and those it narrows (a seed never
    None, held-out images ≥ 1): one line, exit 2, before the data or --report is touched."""
    monkeypatch.chdir(tmp_path)
    for reader in ("load_dataset", "data_files"):
        monkeypatch.setattr(f"nnaccel.tools.tune.{reader}", lambda *a, **k: pytest.fail("a data file was read"))
    code = cli.main(["tune", "--report", "r", f"{TUNE_OPTIONS[name].flag}={value}"])
    out, err = capsys.readouterr()
    assert code == 2 and err == f"nnaccel: error: {_refusal(name, value, TUNE_OPTIONS)}\n" and out == ""
    assert err.startswith(f"nnaccel: error: {name} must be {TUNE_OPTIONS[name].bounds()}, got ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, value", SERVE_OUTSIDE, ids=[f"{n}={v!r}" for n, v in SERVE_OUTSIDE])
def test_serve_refuses_a_port_just_outside_before_reading_the_model_in_the_tables_words(name, value, capsys, tmp_path,
                                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)  # m.npz does not exist: the port is refused first
    assert cli.main(["serve", "m.npz", f"{SERVE_OPTIONS[name].flag}={value}"]) == 2
    assert capsys.readouterr().err == f"nnaccel: error: {_refusal(name, value, SERVE_OPTIONS)}\n"


@pytest.mark.parametrize("size", [0, 10, 11])
def test_the_held_out_images_leave_some_to_train_on_in_the_tables_words(size):
    """tune's and sweep's hold-out: between 1 and n − 1 images, a bound only the data knows, refused
    as the row of --validation-size words it, with the data's reason and a fix inside the bound."""
    data = (np.zeros((10, 4)), np.arange(10) % 2)
    with pytest.raises(NNAccelError) as e:
        holdout(data, size)
    assert str(e.value) == (f"validation_size must be a whole number in [1, 9] (the training data has 10 images), "
                            f"got {size}; e.g. validation_size=2 (--validation-size 2)")
    training, validation = holdout(data, 9)
    assert len(training[1]) == 1 and len(validation[1]) == 9


@pytest.mark.parametrize("command", [["evaluate", "m.npz"], ["predict", "m.npz", "x.npy"]], ids=["evaluate", "predict"])
@pytest.mark.parametrize("value", outside(OPTIONS["scale"]))
def test_evaluate_and_predict_refuse_a_scale_just_outside_before_reading_a_file(command, value, capsys, tmp_path,
                                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)  # m.npz and x.npy do not exist: the scale is refused first
    assert cli.main([*command, f"--scale={value}"]) == 2
    assert capsys.readouterr().err == f"nnaccel: error: {_refusal('scale', value)}\n"


@pytest.mark.parametrize("value", outside(EXPERIMENT_OPTIONS["scale"]))
def test_experiment_refuses_its_scale_just_outside_in_the_tables_words(value, capsys, tmp_path, monkeypatch):
    """experiment's --scale (a fraction of the book's epochs) is its own row, checked by the API it calls."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["experiment", "saturation", f"--scale={value}", "--device", "cpu"]) == 2
    assert capsys.readouterr().err == f"nnaccel: error: {_refusal('scale', value, EXPERIMENT_OPTIONS)}\n"
    assert list(tmp_path.iterdir()) == []


def test_sweeps_narrower_rows_are_derived_from_the_shared_ones():
    """A sweep trial needs ≥ 1 epoch where train takes 0; the rest of the row is train's own."""
    assert PARAMETERS["epochs"].low == 0 and SWEEP_OPTIONS["epochs"].low == 1
    assert SWEEP_OPTIONS["epochs"].kind is PARAMETERS["epochs"].kind and SWEEP_OPTIONS["epochs"].flag == "--epochs"
    assert set(SWEEP_OPTIONS["schedule"].choices) < set(PARAMETERS["schedule"].choices)
    assert set(SWEEP_OPTIONS["expand"].choices) < set(OPTIONS["expand"].choices)
    assert not set(OPTIONS) & set(PARAMETERS)  # check() finds either table's rows by name alone


def test_tunes_rows_are_derived_from_the_shared_ones_and_name_its_procedures_choices():
    """tune holds out ≥ 1 image where train may hold out 0, gives every network one seed (never None),
    and leaves m to its own step unless given one (a default of None that no bound offers: tune fills
    it); its choices are its procedure's tables and the registries' names."""
    assert OPTIONS["validation_size"].low == 0 and TUNE_OPTIONS["validation_size"].low == 1
    assert PARAMETERS["seed"].optional and not TUNE_OPTIONS["seed"].optional
    assert TUNE_OPTIONS["mini_batch_size"].default is None and PARAMETERS["mini_batch_size"].default == 10
    assert not any(row.optional for row in TUNE_OPTIONS.values())
    for name in ("validation_size", "seed", "mini_batch_size"):
        shared = {**PARAMETERS, **OPTIONS}[name]
        assert (TUNE_OPTIONS[name].kind, TUNE_OPTIONS[name].flag, TUNE_OPTIONS[name].symbol) == (
            shared.kind, shared.flag, shared.symbol)
    assert TUNE_OPTIONS["budget"].choices == tuple(tune.BUDGETS)
    assert TUNE_OPTIONS["m_choice"].choices == tuple(tune.M_CHOICES)
    assert "among " + ", ".join(map(str, tune.MINI_BATCH_SIZES)) + ":" in TUNE_OPTIONS["m_choice"].help
    book = tune.BUDGETS["book"]
    assert f"no improvement in {book['patience']} epochs, up to {book['max_epochs']}" in TUNE_OPTIONS["budget"].help
    assert (TUNE_OPTIONS["dataset"].choices, TUNE_OPTIONS["backend"].choices, TUNE_OPTIONS["dtype"].choices) == (
        NAMES, BACKENDS, DTYPES)
    # train, evaluate, tune and sweep take --dataset, --backend and --dtype from the same rows
    assert TUNE_OPTIONS["dataset"] is OPTIONS["dataset"] and TUNE_OPTIONS["dtype"] is OPTIONS["dtype"]
    assert TUNE_OPTIONS["backend"] == replace(OPTIONS["backend"], optional=False)


TRAIN_OUTSIDE = [(n, v) for n, v in OUTSIDE + OPTION_OUTSIDE if not (PARAMETERS.get(n) and n in MODEL_ROWS)
                 or n == "seed"]


@pytest.mark.parametrize("name, value", TRAIN_OUTSIDE, ids=[f"{n}={v!r}" for n, v in TRAIN_OUTSIDE])
def test_a_resumed_checkpoints_setting_just_outside_is_refused_in_the_tables_words(name, value):
    with pytest.raises(NNAccelError) as e:
        check_saved_settings({name: value}, "run.npz")
    message = str(e.value)
    assert message.startswith(f"run.npz: the checkpoint's saved setting {ROWS_FLAG[name]} = ")
    assert f"({_refusal(name, value)})" in message and "\n" not in message


ROWS_FLAG = {name: row.flag for name, row in {**PARAMETERS, **OPTIONS}.items()}


def _help(*words):
    with pytest.raises(SystemExit):
        cli.main([*words, "--help"])


# Flags of a row that a command still writes by hand (not in files of the table's owners yet), each with its fix.
NOT_YET_FROM_ROWS = {}


@pytest.mark.parametrize("command, rows", [("train", {**PARAMETERS, **OPTIONS}), ("sweep", SWEEP_OPTIONS),
                                           ("tune", TUNE_OPTIONS), ("serve", SERVE_OPTIONS),
                                           ("experiment", EXPERIMENT_OPTIONS)])
def test_the_help_shows_each_rows_help_bounds_and_default(command, rows, capsys):
    _help(command, *(["m.npz"] if command == "serve" else []))
    text = "".join(capsys.readouterr().out.split())  # argparse wraps lines, at spaces and after hyphens
    for name, row in rows.items():
        if (command, name) in NOT_YET_FROM_ROWS:
            continue
        assert "".join(row.describe().split()) in text, name
        if row.kind is not bool:
            assert f"(default: {row.unset if row.default is None else row.default})" in row.describe()
            assert row.bounds() in row.describe()


# ---- the scikit-learn estimators ---------------------------------------------------------------

def _estimators():
    pytest.importorskip("sklearn", reason="scikit-learn not installed (pip install 'nnaccel[sklearn]')")
    from nnaccel.tools.sklearn import NNAccelClassifier, NNAccelRegressor

    return NNAccelClassifier, NNAccelRegressor


@pytest.mark.parametrize("which", [0, 1], ids=["classifier", "regressor"])
def test_the_estimators_constraints_are_the_tables_rows(which):
    """Every table row an estimator takes is refused just outside (InvalidParameterError) and
    taken just inside by scikit-learn's validation, which fit and partial_fit run first."""
    from sklearn.utils._param_validation import InvalidParameterError
    from sklearn.utils.estimator_checks import check_param_validation

    estimator = _estimators()[which]
    names = [n for n in estimator._parameter_constraints if n in PARAMETERS]
    assert {"epochs", "mini_batch_size", "eta", "lmbda", "momentum", "dropout"} <= set(names)
    rng = np.random.default_rng(0)
    x, y = rng.random((20, 4)), np.arange(20) % 2
    for name in names:
        for value in outside(PARAMETERS[name]):
            with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
                estimator(**{name: value}).fit(x, y)
        for value in inside(PARAMETERS[name]):
            if name == "cost" and which == 1 and value != "quadratic":
                continue  # the regressor's linear outputs take the quadratic cost only
            estimator(**{name: value})._validate_params()
    check_param_validation(estimator.__name__, estimator())


# ---- one check, in one place -------------------------------------------------------------------

# Comparisons of a table parameter with a number that are not a bound of it, each with its reason.
ALLOWED = {
    ("data/validate.py", "scale"): "Network.data's own check of an API caller's divisor, in the data layer, "
                                   "below the table (core); every command checks the row first, same bound",
    ("data/validate.py", "scale must"): "the same check's words",
    ("optim/__init__.py", "damping"): "hessian-free's λ is multiplied, so 0 could never grow: a rule "
                                      "between two parameters (the optimizer and its damping)",
    ("core/costs.py", "unknown cost"): "the registry's lookup, which also takes network2's class names; "
                                       "Network turns its refusal into the table's",
    ("io/models.py", "unknown cost"): "a model file's field (network2's class names), refused with the file's path",
    ("backend.py", "unknown backend"): "resolve's refusal of an API caller's name, in the bottom layer, below "
                                       "the table (core); tune checks its row first, train and sweep give "
                                       "argparse the same BACKENDS",
    ("backend.py", "unknown dtype"): "the same for the dtype (DTYPES)",
}


def _names(node, loops):
    """The parameter names a compared expression stands for: ``eta``, ``args.eta``,
    ``getattr(args, "eta")``, or ``getattr(args, flag)`` in ``for flag in ("jobs", "top")``."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    if isinstance(node, ast.Call) and _names(node.func, {}) == {"getattr"} and len(node.args) >= 2:
        key = node.args[1]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return {key.value}
        if isinstance(key, ast.Name):
            return loops.get(key.id, set())
    return set()


def _loop_names(tree):
    """``{variable: the strings it runs over}`` for each ``for variable in ("a", "b", ...)``."""
    loops = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and isinstance(node.iter, (ast.Tuple, ast.List)):
            loops.setdefault(node.target.id, set()).update(
                e.value for e in node.iter.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return loops


def _hand_written_checks(package=PACKAGE):
    """(file, parameter, line) of each ``if <parameter> <op> <number>: raise``, and each raised
    message that states a bound of a row of any table ("eta must be", "unknown schedule")."""
    names = "|".join(n.replace("_", "[_ -]") for n in sorted(ALL_NAMES))  # the keyword, the flag or the words
    wording = re.compile(r"\b(%s)\b[^;]{0,40}\bmust\b|unknown (%s)\b" % (names, names))
    found = []
    for path in sorted(package.rglob("*.py")):
        where = path.relative_to(package).as_posix()
        if where == "core/parameters.py":
            continue
        tree = ast.parse(path.read_text())
        loops = _loop_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and any(isinstance(n, ast.Raise) for n in node.body):
                for cmp in (n for n in ast.walk(node.test) if isinstance(n, ast.Compare)):
                    sides = [cmp.left, *cmp.comparators]
                    names = set().union(*(_names(s, loops) for s in sides)) & ALL_NAMES
                    numbers = [s for s in sides if isinstance(s, ast.Constant) and isinstance(s.value, (int, float))
                               and not isinstance(s.value, bool)]
                    for name in names if numbers else ():
                        if (where, name) not in ALLOWED:
                            found.append((where, name, node.lineno))
            if isinstance(node, ast.Raise) and node.exc is not None:
                text = " ".join(c.value for c in ast.walk(node.exc)
                                if isinstance(c, ast.Constant) and isinstance(c.value, str))
                match = wording.search(text)
                if match and (where, match.group(0)) not in ALLOWED:
                    found.append((where, match.group(0), node.lineno))
    return found


def test_no_second_hand_written_check_of_a_table_parameter():
    """A bound of a table parameter is written once, in its row; everything else calls check()."""
    assert _hand_written_checks() == []


def test_the_detector_finds_a_second_check(tmp_path):
    """The test above can fail: a copy of the old momentum check is found, by its comparison and its words."""
    (tmp_path / "mine.py").write_text(
        "def f(args):\n"
        "    if not 0.0 <= args.momentum < 1.0:\n"
        "        raise ValueError(f'momentum must be in [0, 1), got {args.momentum!r}')\n"
        "    if args.schedule not in SCHEDULES:\n"
        "        raise ValueError(f'unknown schedule {args.schedule!r}')\n")
    found = _hand_written_checks(tmp_path)
    assert [(w, line) for w, _, line in found] == [("mine.py", 2), ("mine.py", 3), ("mine.py", 5)]


def test_the_detector_finds_a_second_check_of_a_data_or_sweep_option(tmp_path):
    """The old hand-written checks of train's --validation-size and --scale and of sweep's --trials
    (before their rows) are found, by their comparisons and their words."""
    (tmp_path / "old_cli.py").write_text(
        "def validate(args):\n"
        "    if args.validation_size < 0:\n"
        "        raise NNAccelError(f'--validation-size {args.validation_size}: hold out N ≥ 0 images')\n"
        "    if args.scale is not None and not (args.scale > 0 and args.scale < float('inf')):\n"
        "        raise NNAccelError(f'--scale {args.scale}: the inputs are divided by it, so it must be > 0')\n"
        "    if args.trials < 1:\n"
        "        raise NNAccelError(f'--trials {args.trials}: the budget must be ≥ 1 trial')\n")
    found = _hand_written_checks(tmp_path)
    assert sorted((line, name.split()[0]) for _, name, line in found) == [
        (2, "validation_size"), (4, "scale"), (5, "scale"), (6, "trials"), (7, "trials")]


def test_the_detector_finds_the_old_checks_of_tunes_options_the_seed_and_the_port(tmp_path):
    """tune's old checks of m and of the held-out images (by its flag's words), Network's of the
    seed, and a port's range, before their rows, are found."""
    (tmp_path / "old_tune.py").write_text(
        "def check(args, labels, seed, port):\n"
        "    if args.mini_batch_size is not None and args.mini_batch_size < 1:\n"
        "        raise NNAccelError('-m: give m ≥ 1')\n"
        "    if not 0 < args.validation_size < len(labels):\n"
        "        raise NNAccelError(f'--validation-size {args.validation_size}: must be between 1 and {len(labels)}')\n"
        "    if isinstance(seed, int) and seed < 0:\n"
        "        raise NNAccelError(f'seed must be a whole number ≥ 0, got {seed!r}')\n"
        "    if args.budget not in BUDGETS:\n"
        "        raise NNAccelError(f'unknown budget {args.budget!r}')\n"
        "    if not 0 <= port <= 65535:\n"
        "        raise ValueError('a port number is 0-65535')\n")
    found = _hand_written_checks(tmp_path)
    assert sorted((line, name.split()[0]) for _, name, line in found) == [
        (2, "mini_batch_size"), (4, "validation_size"), (5, "validation-size"), (6, "seed"), (7, "seed"),
        (9, "unknown"), (10, "port")]


def test_the_detector_sees_through_getattr_in_a_loop_over_flag_names(tmp_path):
    """sweep's old ``for flag in (..., "epochs", ...): if getattr(args, flag) < 1`` hid a second
    bound of epochs (≥ 1 against the row's ≥ 0); it is found for each table name it runs over."""
    (tmp_path / "old_sweep.py").write_text(
        "def check(args):\n"
        "    for flag in ('jobs', 'batch', 'grid_points', 'epochs', 'top', 'not_a_row'):\n"
        "        if getattr(args, flag) < 1:\n"
        "            raise NNAccelError(f'--{flag} {getattr(args, flag)}: must be ≥ 1')\n"
        "    if getattr(args, 'eta') <= 0:\n"
        "        raise NNAccelError('--eta: too small')\n")
    found = _hand_written_checks(tmp_path)
    assert sorted((line, name) for _, name, line in found) == [
        (3, "batch"), (3, "epochs"), (3, "grid_points"), (3, "jobs"), (3, "top"), (5, "eta")]


def test_the_tables_choices_are_the_registries_names():
    """The optimizers' registry and the schedules' names are the table's (its choices are the lists)."""
    from nnaccel import optim

    assert set(optim.NAMES) == set(PARAMETERS["optimizer"].choices)
    assert set(optim.FACTORIES) == set(PARAMETERS["optimizer"].choices)
