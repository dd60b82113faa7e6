"""An Optuna study that many ``nnaccel sweep`` workers share, on any machines.

The study is created once (a grid's points enqueued, then the search space stored, which marks
it ready) and refused to sweeps with another space. Its budget of N trials is shared: a trial
runs only if it is among the first N trials that have not failed. Each worker beats a heartbeat
for its running trials; a worker that stops beating (``kill -9``) has its trials failed and
enqueued again by the next worker that looks, and completed trials are never repeated.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import threading
import time
import warnings
from collections import defaultdict

from ..data import load_dataset
from ..errors import NNAccelError
from ._search_space import hidden_widths
from ._tuning import expand_host, holdout, population_class, strip_dataset, train_members

SPACE_ATTR = "nnaccel_space"
HEARTBEAT_S = 2  # seconds between a worker's heartbeats
GRACE_S = 10  # a trial whose worker has not beaten for this long is failed and retried
SETUP_WAIT_S = 60  # how long a worker waits for the worker that created the study to set it up


# ---- the study ------------------------------------------------------------------------------

def study_description(args, space):
    """Everything that makes two sweeps comparable, as JSON; a study keeps the first and refuses others."""
    keys = ("sampler", "epochs", "early_stopping", "schedule", "patience", "expand", "validation_size",
            "train_size", "dataset", "data", "cost", "hidden_activation", "output_activation", "init",
            "dtype", "seed")
    fixed = {k: getattr(args, k) for k in keys}
    if args.sampler == "grid":
        fixed["grid_points"] = args.grid_points
    return json.dumps({**space.settings(), **fixed}, sort_keys=True)


def differences(theirs, ours):
    """'eta 0.1..5:log there, 0.1..6:log here; ...' for two study descriptions."""
    try:
        a, b = json.loads(theirs), json.loads(ours)
    except ValueError:  # not made by this version of nnaccel sweep
        return theirs[:200]
    return "; ".join(f"{k} {a.get(k)} there, {b.get(k)} here" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))


# What another worker creating the same new database at the same instant makes RDBStorage raise:
# a table or Alembic's version row that was not there when it looked (SQLite, PostgreSQL).
SCHEMA_RACE = ("already exists", "unique constraint", "duplicate key", "database is locked")
SCHEMA_TRIES = 20


def open_storage(optuna, url):
    """Optuna's RDBStorage with heartbeats and retries; NNAccelError in one line if unreachable.

    RDBStorage creates the schema on a new database by looking then creating, table by table,
    then stamps Alembic's version: two workers started at once on one new file both create, and
    one fails. The tables it finds made are skipped on the next try, so it tries again after a
    short random wait (a few times at most; any other error is reported at once).
    """
    from optuna.storages import RDBStorage, RetryFailedTrialCallback

    engine = {}
    if url.startswith("postgresql"):
        engine = {"connect_args": {"connect_timeout": 10}}
    elif url.startswith("sqlite"):
        engine = {"connect_args": {"timeout": 120}}  # wait for the other workers' writes
    for attempt in range(SCHEMA_TRIES):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # heartbeats are "experimental" in Optuna
                storage = RDBStorage(url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                                     heartbeat_stale_trial_callback=RetryFailedTrialCallback(max_retry=3))
            if url.startswith("sqlite"):
                serialise_sqlite(storage.engine)
            return storage
        except ImportError as error:
            raise NNAccelError(f"--storage {url}: {error}; for PostgreSQL: pip install 'psycopg[binary]'") from None
        except Exception as error:  # SQLAlchemy's errors for a bad URL, a refused connection, a bad path
            reason = re.sub(r" \(Background on this error.*", "", " ".join(str(error).split()))[:200]
            if attempt + 1 < SCHEMA_TRIES and any(race in str(error).lower() for race in SCHEMA_RACE):
                time.sleep(random.uniform(0.05, 0.3))  # another worker is creating the schema
                continue
            raise NNAccelError(f"cannot open --storage {url}: {reason}; check the URL and that the server is up") from None


def serialise_sqlite(engine):
    """Make every SQLite transaction take the write lock when it begins (BEGIN IMMEDIATE).

    Optuna claims a waiting trial (an enqueued grid point) by reading it WAITING and writing it
    RUNNING under SELECT … FOR UPDATE, which SQLite ignores: the driver begins a transaction at
    the write only, so two workers could both read WAITING, both claim the trial, and the
    second to finish died of UpdateFinishedTrialError. Begun IMMEDIATE, the read and the write
    are one step that the other worker waits for (sqlalchemy's recipe for pysqlite).
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection, record):
        dbapi_connection.isolation_level = None  # the driver's own BEGIN off: the one below instead

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # the connections RDBStorage opened before the listeners: reopened with them


def open_study(optuna, storage, name, description, sampler, pruner, grid=None):
    """Create the study (and enqueue the grid) or load it and check it has this search space."""
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction="maximize",
                                    sampler=sampler, pruner=pruner)
        for params in grid or ():
            study.enqueue_trial(params, skip_if_exists=False)
        study.set_user_attr(SPACE_ATTR, description)  # last: the study is ready
        return study
    except optuna.exceptions.DuplicatedStudyError:
        pass
    study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
    deadline = time.monotonic() + SETUP_WAIT_S
    while SPACE_ATTR not in study.user_attrs:
        if time.monotonic() > deadline:
            raise NNAccelError(f"study {name!r} was created but never set up (its worker died?); "
                               "use another --study name")
        time.sleep(0.5)
    theirs = study.user_attrs[SPACE_ATTR]
    if theirs != description:
        raise NNAccelError(f"study {name!r} already exists with another search space "
                           f"({differences(theirs, description)}); use another --study name or the same flags")
    return study


def make_sampler(optuna, kind, seed):
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    return optuna.samplers.RandomSampler(seed=seed)  # grid: the enqueued points come first


def counts(study):
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    by = defaultdict(int)
    for t in trials:
        by[t.state] += 1
    finished = by[TrialState.COMPLETE] + by[TrialState.PRUNED]
    return finished, by[TrialState.RUNNING], by[TrialState.WAITING]


def within_budget(study, trial, budget):
    """Whether ``trial`` is among the first ``budget`` trials that are not failed, by number.

    Trials only ever leave that list (when they fail) or join it at its end, so a trial let in
    stays in, and never more than ``budget`` trials finish.
    """
    from optuna.trial import TrialState

    alive = [t.number for t in study.get_trials(deepcopy=False)
             if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)]
    return trial.number in sorted(alive)[:budget]


class Heartbeat:
    """Records a heartbeat for each of this worker's running trials every HEARTBEAT_S seconds."""

    def __init__(self, storage):
        self.storage, self.trial_ids = storage, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self):
        while not self._stop.wait(HEARTBEAT_S):
            for trial_id in list(self.trial_ids):
                try:
                    self.storage.record_heartbeat(trial_id)
                except Exception:  # a finished trial, a busy database: the next beat retries
                    pass

    def add(self, trial_id):
        """Beat for this trial from now on; the first beat now, so that it can go stale at once."""
        self.storage.record_heartbeat(trial_id)
        self.trial_ids.add(trial_id)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# ---- one worker -----------------------------------------------------------------------------

def load_data(args):
    """(dataset, training, validation): the validation split is the last N training images."""
    dataset = strip_dataset(load_dataset(args.dataset, args.data), getattr(args, "classes", None))
    if args.validation_size is None:
        args.validation_size = min(10000, len(dataset.train[1]) // 5)
    train, validation = holdout(dataset.train, args.validation_size)
    if args.train_size:
        train = (train[0][:args.train_size], train[1][:args.train_size])
    return dataset, expand_host(train, args.expand), validation


def model_options(args):
    hidden = args.hidden_activation
    hidden = hidden[0] if isinstance(hidden, list) and len(hidden) == 1 else hidden
    return {"cost": args.cost, "hidden_activation": hidden, "output_activation": args.output_activation,
            "init": args.init, "device": args.device, "backend": args.backend, "dtype": args.dtype}


def run_worker(args, study, space, budget, data, out):
    """Ask, train and tell until the study holds ``budget`` finished trials; return how many ran here."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.storages import fail_stale_trials
    from optuna.trial import TrialState

    dataset, train, validation = data
    n_val = len(validation[1])
    storage = study._storage
    ran = 0
    with Heartbeat(storage) as heart:
        while True:
            fail_stale_trials(study)  # a killed worker's trials: failed, and enqueued again
            finished, running, waiting = counts(study)
            if finished >= budget:
                return ran
            free = budget - finished - running
            if args.sampler == "grid" and waiting == 0:
                if running == 0:
                    if not args.quiet:
                        out(f"nnaccel: the grid is done ({finished} trials)")
                    return ran
                free = 0  # a running trial may still fail and come back
            if free <= 0:
                time.sleep(HEARTBEAT_S / 2)
                continue
            batch = []
            together = args.batch if args.schedule == "constant" and population_class() else 1
            for _ in range(min(free, together)):  # trained one by one, a trial is asked when it starts
                trial = study.ask()
                heart.add(trial._trial_id)
                fixed = "fixed_params" in storage.get_trial_system_attrs(trial._trial_id)
                if (args.sampler == "grid" and not fixed) or not within_budget(study, trial, budget):
                    study.tell(trial, state=TrialState.FAIL)  # over the budget: never run
                    heart.trial_ids.discard(trial._trial_id)
                    continue
                try:
                    params = space.suggest(trial)
                    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
                except UpdateFinishedTrialError:  # failed meanwhile by another worker (no heartbeat)
                    heart.trial_ids.discard(trial._trial_id)
                    continue
                batch.append((trial, params))
            groups = defaultdict(list)
            for trial, params in batch:
                groups[(params["hidden"], params["mini_batch_size"])].append((trial, params))
            for (hidden, m), members in groups.items():
                run_group(args, study, dataset, train, validation, n_val, hidden, m, members, out)
                for trial, _ in members:
                    heart.trial_ids.discard(trial._trial_id)
                ran += len(members)


def run_group(args, study, dataset, train, validation, n_val, hidden, m, members, out):
    """Train trials of one shape and m as one population, report every epoch, tell the results."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    sizes = [dataset.n_pixels, *hidden_widths(hidden), dataset.n_classes]
    configs = [{"seed": args.seed + trial.number, "eta": p["eta"], "lmbda": p["lmbda"],
                "momentum": p["momentum"]} for trial, p in members]
    pruned, lost = set(), set()

    def report(epoch, records):
        stop = []
        for record in records:
            i = record["member"]
            accuracy = record.get("evaluation_accuracy")
            if accuracy is None or i in pruned or i in lost:
                continue
            trial = members[i][0]
            try:
                trial.report(accuracy / n_val, epoch)
            except UpdateFinishedTrialError:  # failed by another worker: no heartbeat for GRACE_S
                lost.add(i)
                stop.append(i)
                continue
            if args.prune and trial.should_prune():
                pruned.add(i)
                stop.append(i)
        return stop

    histories, nets = train_members(sizes, configs, train, validation, args.epochs, m,
                                 model=model_options(args), early_stopping=args.early_stopping,
                                 schedule=args.schedule, patience=args.patience, callback=report)
    for i, ((trial, params), history) in enumerate(zip(members, histories)):
        accuracies = history.evaluation_accuracy
        best = max(accuracies) / n_val if accuracies else 0.0
        epoch = accuracies.index(max(accuracies)) if accuracies else -1
        if args.keep_models:
            nets[i].save(os.path.join(args.keep_models, f"trial-{trial.number}.npz"))
        verdict = "pruned" if i in pruned else "done"
        try:  # every write: the trial may have been failed by another worker at any instant
            if i in lost:
                raise UpdateFinishedTrialError
            trial.set_user_attr("best_epoch", epoch)
            trial.set_user_attr("epochs_run", len(accuracies))
            trial.set_user_attr("seed", configs[i]["seed"])
            trial.set_user_attr("trained_with", len(members))  # trials trained together, as one population
            if history.stopped:
                trial.set_user_attr("stopped", history.stopped[:200])
            study.tell(trial, state=TrialState.PRUNED) if i in pruned else study.tell(trial, best)
        except UpdateFinishedTrialError:  # no heartbeat for GRACE_S (a stalled machine): failed, retried elsewhere
            verdict = f"failed by another worker after {GRACE_S} s without a heartbeat; retried there"
        if not args.quiet:
            out(f"trial {trial.number}: {format_params(params)} -> {100 * best:.2f} % "
                f"(best epoch {epoch}, {verdict})")


def format_params(params):
    return (f"hidden {params['hidden']}, m {params['mini_batch_size']}, eta {params['eta']:.4g}, "
            f"lmbda {params['lmbda']:.4g}, momentum {params['momentum']:.3g}")


# ---- results ------------------------------------------------------------------------------

def completed(study):
    from optuna.trial import TrialState

    return sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)),
                  key=lambda t: -t.value)


def study_results(study):
    """The study as plain data: its search space and every trial, best first."""
    trials = sorted(study.get_trials(deepcopy=False),
                    key=lambda t: (t.state.name != "COMPLETE", -(t.value or 0.0), t.number))
    return {"study": study.study_name, "space": json.loads(study.user_attrs.get(SPACE_ATTR, "{}")),
            "trials": [{"number": t.number, "state": t.state.name.lower(), "params": t.params,
                        "validation_accuracy": t.value, "per_epoch": [t.intermediate_values[k] for k in
                                                                      sorted(t.intermediate_values)],
                        **t.user_attrs} for t in trials]}
