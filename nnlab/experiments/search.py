"""Hyper-parameter search on Optuna: grid | random | tpe samplers, median pruning on the per-epoch
validation metric, W worker processes sharing one SQLite file, or many machines sharing one database
URL (Optuna's own distributed mode). A killed search continues where it stopped: finished trials are
kept, and trials that were running when it died are queued again with the same parameters.

(notes: Hyperparameter Optimization — Grid Search 와 Random Search, Random 이 성능 더 좋음; coarse to fine)
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import multiprocessing as mp
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import optuna
from optuna.trial import TrialState

import nnlab
from nnlab import config as cfgmod
from nnlab.api import monitor_of, validate
from nnlab.config import Config
from nnlab.errors import TrainingStopped, UserError
from nnlab.experiments.common import ConfigLike, resolve, with_values
from nnlab.experiments.search_space import Param, grid_size, grid_space, load_space

SAMPLERS = ("grid", "random", "tpe")
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
HEARTBEAT_S, GRACE_S = 20, 120  # a trial silent for GRACE_S on a shared database is retried elsewhere


@dataclass
class SearchSpec:
    """Everything a worker process needs (plain data: it crosses process boundaries)."""

    config: dict[str, Any]
    params: list[Param]
    sampler: str
    trials: int
    storage: str
    study_name: str
    out: str  # trials.csv, plots, best.json; the trials' runs under out/runs
    seed: int = 0
    prune: bool = True
    workers: int = 1

    @property
    def runs_root(self) -> str:
        return str(Path(self.out) / "runs")

    @property
    def direction(self) -> str:
        mode = monitor_of(cfgmod.from_dict(self.config))[1]
        return "maximize" if mode == "max" else "minimize"


def prepare(config: ConfigLike, space: str | Path | dict, overrides: Sequence[str] = (), sampler: str = "tpe",
            trials: int | None = None, workers: int = 1, storage: str | None = None, out: str | Path | None = None,
            study_name: str | None = None, seed: int = 0, prune: bool = True) -> SearchSpec:
    """Check everything (config, space, sampler, storage) before any trial starts."""
    if sampler not in SAMPLERS:
        raise UserError(f"unknown sampler {sampler!r}; valid: {', '.join(SAMPLERS)}")
    if workers < 1 or (trials is not None and trials < 1):
        raise UserError("--workers and --trials must be at least 1")
    cfg = resolve(config, overrides)
    validate(cfg)
    params = load_space(space, cfg)
    if sampler == "grid":
        size = grid_size(params)
        trials = size if trials is None else min(trials, size)
    out = Path(out) if out is not None else Path("runs") / "search" / cfg.run_name
    if storage is None:
        out.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{out.resolve() / 'study.db'}"
    spec = SearchSpec(cfgmod.to_dict(cfg), params, sampler, trials or 20, storage, study_name or cfg.run_name,
                      str(out), seed, prune, workers)
    open_storage(storage)  # unreachable or misspelled storage: fail now, quickly
    return spec


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """Optuna storage for a URL, with connection time-outs so that an unreachable database fails fast."""
    connect: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        folder = Path(url.removeprefix("sqlite:///")).parent
        if not folder.is_dir():
            raise UserError(f"search storage {url}: folder {folder} does not exist")
        connect = {"timeout": 60}
    elif url.startswith(("postgresql", "mysql")):
        connect = {"connect_timeout": 10}
    try:
        with warnings.catch_warnings():  # heartbeats and retries are "experimental" in Optuna's terms
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, engine_kwargs={"connect_args": connect, "pool_pre_ping": True},
                heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                heartbeat_stale_trial_callback=_retry())
    except ImportError as e:
        raise UserError(f"search storage {safe_url(url)} needs a database driver ({e}); for PostgreSQL: "
                        "pip install 'nnlab[search-db]' (psycopg 3)") from None
    except Exception as e:  # sqlalchemy's OperationalError, ArgumentError, ...: all mean "cannot use it"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot open search storage {safe_url(url)}: {first}") from None


def search(spec: SearchSpec, on_trial: Callable[[str], None] | None = print) -> optuna.Study:
    """Run (or continue) the search until ``spec.trials`` trials have finished; return the study."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own progress lines instead of Optuna's
    with _local_lock(spec.storage) as alone:
        study = _create_study(spec)
        if alone:
            _requeue_unfinished(study)
        done = _finished(study)
        if done and on_trial is not None:
            on_trial(f"continuing study {spec.study_name!r}: {done} of {spec.trials} trials already finished")
        try:
            if spec.workers == 1:
                _work(spec, 0, on_trial)
            else:
                _run_workers(spec, on_trial)
        except KeyboardInterrupt:
            raise TrainingStopped(f"search interrupted with {_finished(study)} of {spec.trials} trials finished; "
                                  "run the same command again to continue", exit_code=130) from None
    return study


# ------------------------------------------------------------------------------------------- workers
def _work(spec: SearchSpec, index: int, on_trial: Callable[[str], None] | None) -> None:
    """One worker: run trials until the study holds ``spec.trials`` finished ones."""
    storage = open_storage(spec.storage)
    existing = len(storage.get_all_trials(storage.get_study_id_from_name(spec.study_name), deepcopy=False))
    study = optuna.load_study(study_name=spec.study_name, storage=storage, pruner=_pruner(spec),
                              sampler=_sampler(spec, index, existing))
    if _finished(study) >= spec.trials:
        return
    t0, done0 = time.perf_counter(), _finished(study)

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(_progress_line(study, trial, spec, t0, done0))

    stop = optuna.study.MaxTrialsCallback(spec.trials, states=FINISHED)
    study.optimize(_objective(spec), callbacks=[report, stop], gc_after_trial=False)


def _run_workers(spec: SearchSpec, on_trial: Callable[[str], None] | None) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker_main, args=(spec, i), daemon=False) for i in range(spec.workers)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
        raise
    failed = [f"worker {i} (exit code {p.exitcode})" for i, p in enumerate(procs) if p.exitcode]
    if failed:
        raise UserError(f"search workers failed: {', '.join(failed)}; see their messages above")


def _worker_main(spec: SearchSpec, index: int) -> None:
    """Entry point of a worker process: one share of the CPU threads, messages instead of tracebacks."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // spec.workers))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        _work(spec, index, lambda line: print(f"[worker {index}] {line}", flush=True))
    except KeyboardInterrupt:
        sys.exit(130)
    except UserError as e:
        print(f"nnlab: worker {index}: {e}", file=sys.stderr)
        sys.exit(2)


def _objective(spec: SearchSpec) -> Callable[[optuna.Trial], float]:
    base = cfgmod.from_dict(spec.config)
    monitor = monitor_of(base)[0]

    def objective(trial: optuna.Trial) -> float:
        values = {p.name: p.suggest(trial) for p in spec.params}
        cfg = with_values(base, {**values, "name": f"{base.run_name}_trial{trial.number}"})
        pruned: list[int] = []

        def on_epoch(epoch: int, metrics: dict[str, float]) -> str | None:
            value = metrics.get(monitor, metrics.get(monitor.removeprefix("val_")))
            if value is None:
                return None
            trial.report(value, epoch)
            if spec.prune and trial.should_prune():
                pruned.append(epoch)
                return f"pruned by the search at epoch {epoch}"
            return None

        try:
            run = nnlab.fit(cfg, runs_root=spec.runs_root, progress=False, on_epoch=on_epoch)
        except TrainingStopped as e:
            if e.exit_code == 130:
                raise KeyboardInterrupt from None
            trial.set_user_attr("error", str(e).splitlines()[0])  # e.g. the loss diverged: a bad setting
            raise optuna.TrialPruned(str(e)) from None
        trial.set_user_attr("run_dir", str(run.dir))
        trial.set_user_attr("epochs", run.meta.get("epochs_done"))
        trial.set_user_attr("test_acc", (run.test or {}).get("acc"))
        if pruned or run.meta.get("best") is None:
            raise optuna.TrialPruned(f"pruned at epoch {pruned[0] if pruned else '?'}")
        return float(run.meta["best"])

    return objective


# ------------------------------------------------------------------------------------------- study
def _create_study(spec: SearchSpec) -> optuna.Study:
    """Create the study, or load it when it exists and was started with the same config, space, sampler."""
    study = optuna.create_study(storage=open_storage(spec.storage), study_name=spec.study_name,
                                direction=spec.direction, pruner=_pruner(spec), load_if_exists=True)
    identity = json.loads(json.dumps({"space": [asdict(p) for p in spec.params], "sampler": spec.sampler,
                                      "config": spec.config}))
    stored = study.user_attrs.get("nnlab")
    if stored is None:
        study.set_user_attr("nnlab", identity)
    elif stored != identity:
        raise UserError(f"study {spec.study_name!r} in {safe_url(spec.storage)} was started with another config, "
                        "space or sampler; give a new --out, --study-name or --storage to start a new search")
    return study


def _pruner(spec: SearchSpec) -> optuna.pruners.BasePruner:
    """Median rule: stop a trial whose metric at epoch t is worse than the median of earlier trials at t."""
    if not spec.prune:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)


def _sampler(spec: SearchSpec, worker: int, existing: int) -> optuna.samplers.BaseSampler:
    """Random and TPE samplers of other workers and of restarts get other seeds, so that they do not propose
    the same points again; the grid keeps one seed, which fixes its (shuffled) order of grid points."""
    if spec.sampler == "grid":
        return optuna.samplers.GridSampler(grid_space(spec.params), seed=spec.seed)
    seed = spec.seed + 1000 * worker + existing
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, spec.trials // 4)))


def _requeue_unfinished(study: optuna.Study) -> None:
    """Trials left running or failed by a killed search are queued again with their parameters
    (Optuna's retry callback keeps a grid trial's grid point)."""
    storage = study._storage
    retried = {n for t in study.trials for n in t.system_attrs.get("retry_history", [])}
    retry = _retry()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.FAIL)):
        if t.state == TrialState.RUNNING:
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        if t.number not in retried:
            retry(study, storage.get_trial(t._trial_id))


def _retry() -> optuna.storages.RetryHeartbeatStaleTrialCallback:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)


def _finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


@contextlib.contextmanager
def _local_lock(url: str) -> Iterator[bool]:
    """Hold ``<db>.lock`` for a local SQLite search; yields whether this process owns the study alone."""
    if not url.startswith("sqlite:///"):
        yield False
        return
    path = Path(url.removeprefix("sqlite:///") + ".lock")
    with path.open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UserError(f"another nnlab search is running on {url}; wait for it or use its --workers") from None
        yield True


def _progress_line(study: optuna.Study, trial: optuna.trial.FrozenTrial, spec: SearchSpec, t0: float,
                   done0: int) -> str:
    done = _finished(study)
    rate = (time.perf_counter() - t0) / max(done - done0, 1)
    eta = max(spec.trials - done, 0) * rate / spec.workers
    value = f"{trial.value:.4f}" if trial.value is not None else "-"
    params = "  ".join(f"{k}={v}" for k, v in trial.params.items())
    best = study.best_value if any(t.state == TrialState.COMPLETE for t in study.trials) else float("nan")
    return (f"trial {trial.number} {trial.state.name.lower()} {value}  {params}  |  {done}/{spec.trials} done, "
            f"best {best:.4f}, ETA {eta:.0f}s")


def safe_url(url: str) -> str:
    """A database URL without its password."""
    head, sep, tail = url.partition("@")
    if not sep or "://" not in head:
        return url
    scheme, _, cred = head.partition("://")
    return f"{scheme}://{cred.split(':')[0]}:***@{tail}" if ":" in cred else url
