"""What the REST API and the pages both do: the workbench's operations over the store and the public API."""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Sequence

import numpy as np

import nnlab
from nnlab import config as cfgmod
from nnlab.api import RunDir, lr_preview, monitor_of, read_meta, validate
from nnlab.data.folder import within
from nnlab.errors import UserError
from nnlab.web import catalog as cat
from nnlab.web import datasets as ds
from nnlab.web.infer import named_errors
from nnlab.web.views.base import FILE_KINDS
from nnlab.web.jobs import Scheduler, job_root, log_tail
from nnlab.web.store import FINISHED, RESUMABLE, Store


class NotFound(UserError):
    """An unknown dataset or job id."""


class Conflict(UserError):
    """The operation does not fit the job's state (e.g. deleting a running job)."""


@dataclass
class Settings:
    runs: Path = Path("runs")
    db_url: str | None = None  # default: sqlite:///<runs>/web/workbench.db
    allowed_roots: list[Path] = field(default_factory=list)  # server folders datasets may come from
    max_upload_bytes: int = 200 * 2**20
    concurrency: int = 1
    anonymous_read: bool = False
    scheduler: bool = True  # start the job scheduler with the app (tests may drive it by hand)
    configs: Path | None = None  # the ready configs (<task>/*.yaml) New model offers; default: catalog.default_configs

    def __post_init__(self) -> None:
        self.runs = Path(self.runs).resolve()
        self.db_url = self.db_url or f"sqlite:///{self.runs / 'web' / 'workbench.db'}"
        self.allowed_roots = [Path(r).resolve() for r in self.allowed_roots] or [Path.cwd().resolve()]
        self.configs = Path(self.configs).resolve() if self.configs else cat.default_configs()

    @property
    def uploads(self) -> Path:
        return self.runs / "web" / "uploads"


def open_store(settings: Settings) -> Store:
    """The job store; an SQLite database file is made 0600 (its folder, when new, 0700) before SQLite opens
    it: it holds the session-signing secret."""
    if settings.db_url.startswith("sqlite:///"):
        db = Path(settings.db_url.removeprefix("sqlite:///"))
        db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(db, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(db, 0o600)  # also a database made world-readable by an older nnlab
    return Store(settings.db_url)


def private_dir(path: Path) -> Path:
    """``path`` created (with its parents) and set to mode 0700: only the server's user may enter it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


class Workbench:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = open_store(settings)  # first: a database that cannot be opened leaves no folder behind
        private_dir(settings.runs / "web")  # uploads, job runs and logs, the default database: the server's only
        self.scheduler = Scheduler(self.store, settings.db_url, settings.runs, settings.concurrency)
        self._steps: dict[str, int] = {}  # lr preview: optimizer steps per epoch by data setup

    # ------------------------------------------------------------------ catalog
    def catalog(self) -> dict[str, Any]:
        """Every task with its registered models and ready configs, every optimizer and lr schedule with its
        options (the UI shows whatever is registered)."""
        return cat.catalog(self.settings.configs)

    def preset(self, name: str) -> dict[str, Any]:
        """A ready config (``<task>/<file>.yaml`` as the catalog lists it) as raw sections."""
        return cat.preset(self.settings.configs, name)

    # ------------------------------------------------------------------ datasets
    def dataset(self, ds_id: int) -> dict[str, Any]:
        row = self.store.dataset(ds_id)
        if row is None:
            raise NotFound(f"no dataset with id {ds_id}")
        return row

    def add_folder(self, name: str, path: str) -> dict[str, Any]:
        folder = ds.confine(path, self.settings.allowed_roots)
        counts = ds.folder_counts(folder)
        return self.dataset(self.store.add_dataset(name or folder.name, str(folder), "folder", counts))

    def add_upload(self, name: str, upload: BinaryIO) -> dict[str, Any]:
        self.settings.uploads.mkdir(parents=True, exist_ok=True)
        dest = Path(tempfile.mkdtemp(prefix="ds-", dir=self.settings.uploads))
        dest.rmdir()
        folder = ds.unpack_zip(upload, dest, self.settings.max_upload_bytes)
        try:
            counts = ds.folder_counts(folder)
        except UserError:
            shutil.rmtree(dest, ignore_errors=True)
            raise
        return self.dataset(self.store.add_dataset(name or "upload", str(folder), "upload", counts))

    def delete_dataset(self, ds_id: int) -> None:
        row = self.dataset(ds_id)
        if row["source"] == "upload":
            upload = ds.confine(row["path"], [self.settings.uploads])
            shutil.rmtree(self.settings.uploads / upload.relative_to(self.settings.uploads).parts[0],
                          ignore_errors=True)
        self.store.delete_dataset(ds_id)

    def dataset_file(self, ds_id: int, rel: str) -> Path:
        root = Path(self.dataset(ds_id)["path"])
        path = ds.confine(root / rel, [root])
        if not ds.is_image(path):
            raise NotFound(f"no image {rel!r} in dataset {ds_id}")
        return path

    # ------------------------------------------------------------------ jobs
    def job(self, job_id: int) -> dict[str, Any]:
        row = self.store.job(job_id)
        if row is None:
            raise NotFound(f"no job with id {job_id}")
        return row

    def create_job(self, name: str, config: dict[str, Any], overrides: Sequence[str] = (),
                   dataset_id: int | None = None) -> dict[str, Any]:
        """Validate the config fully (names, options, values) before queueing it."""
        cfg = self.resolve(name, config, overrides, dataset_id)
        return self.job(self.store.add_job(cfg.run_name, cfgmod.to_dict(cfg), dataset_id))

    def lr_preview(self, config: dict[str, Any], overrides: Sequence[str] = (), dataset_id: int | None = None,
                   points: int = 400) -> dict[str, Any]:
        """The learning rate over the run a config would train (at most ``points`` samples), x in epochs. The steps
        per epoch of a per-step schedule are remembered per data setup (reading detection scenes takes seconds)."""
        raw = cfgmod.to_dict(self.resolve("", config, overrides, dataset_id))
        key = json.dumps({**{k: v for k, v in raw.items() if k not in ("optim", "name")},
                          "train": {**raw["train"], "epochs": None}}, sort_keys=True, default=str)
        cfg, lrs, per_epoch = lr_preview(raw, steps_per_epoch=self._steps.get(key))
        if cfg.optim.schedule.per_step:
            self._steps[key] = per_epoch
        stride = max(1, -(-len(lrs) // points))
        return {"epoch": [i / len(lrs) * cfg.train.epochs for i in range(0, len(lrs), stride)],
                "lr": lrs[::stride], "schedule": cfg.optim.schedule.name}

    def resolve(self, name: str, config: dict[str, Any], overrides: Sequence[str] = (),
                dataset_id: int | None = None) -> cfgmod.Config:
        """A job's validated config: overrides applied, the dataset's folder filled in, paths confined."""
        raw = cfgmod.apply_overrides(dict(config), list(overrides))
        if dataset_id is not None:
            row = self.dataset(dataset_id)
            source = "boxes" if ds.BOXES in (row["classes"] or {}) else "folder"  # detection reads box folders
            raw["data"] = {**raw.get("data", {}), "dataset": source, "path": row["path"]}
        raw["name"] = name or raw.get("name") or None  # the name given wins over a ready config's
        cfg = cfgmod.from_dict(raw)
        if not re.fullmatch(r"\w[\w.-]{0,99}", cfg.run_name):
            raise UserError(f"job name {cfg.run_name!r}: use letters, digits, '.', '-' and '_' only")
        for key, value in config_paths(cfgmod.to_dict(cfg)):
            try:
                ds.confine(value, self.settings.allowed_roots + [self.settings.uploads])
            except ds.PathError as e:
                raise ds.PathError(f"{key}: {e}") from None
        validate(cfg)
        return cfg

    def abort(self, job_id: int) -> dict[str, Any]:
        if self.job(job_id)["status"] not in ("queued", "running"):
            raise Conflict(f"job {job_id} is not queued or running")
        self.scheduler.abort(job_id)
        return self.job(job_id)

    def resume(self, job_id: int) -> dict[str, Any]:
        job = self.job(job_id)
        if job["status"] not in RESUMABLE:
            raise Conflict(f"job {job_id} is {job['status']}; only failed or aborted jobs resume")
        self.store.update_job(job_id, status="queued", resume=job["run_dir"] is not None, message=None,
                              finished=None)
        return self.job(job_id)

    def clone(self, job_id: int, overrides: Sequence[str] = ()) -> dict[str, Any]:
        job = self.job(job_id)
        return self.create_job(job["name"], job["config"], overrides, None)

    def delete_job(self, job_id: int) -> None:
        if self.job(job_id)["status"] not in FINISHED + ("queued",):
            raise Conflict(f"job {job_id} is running; abort it first")
        shutil.rmtree(job_root(self.settings.runs, job_id), ignore_errors=True)
        self.store.delete_job(job_id)

    def job_view(self, job_id: int) -> dict[str, Any]:
        """The job with its metrics, best epoch, ETA and log tail."""
        job = self.job(job_id)
        rows = self.store.metrics(job_id)
        monitor, mode = monitor_of(cfgmod.from_dict(job["config"]))
        key = monitor if not rows or monitor in rows[0] else monitor.removeprefix("val_")
        best = None
        if rows and key in rows[0]:
            pick = min if mode == "min" else max
            best = pick(rows, key=lambda r: r[key])["epoch"]
        epochs = job["config"]["train"]["epochs"]
        eta = None
        if job["status"] == "running" and rows:
            per_epoch = float(np.mean([r.get("time", 0.0) for r in rows]))
            eta = per_epoch * (epochs - rows[-1]["epoch"])
        return {**job, "metrics": rows, "monitor": key, "best_epoch": best, "epochs": epochs, "eta_s": eta,
                "log": log_tail(self.settings.runs, job_id, 30)}

    def job_file(self, job_id: int, kind: str, name: str) -> Path:
        """A figure (PNG / GIF) in one of the job run's folders the pages show (``views.base.FILE_KINDS``)."""
        job = self.job(job_id)
        if not job["run_dir"] or kind not in FILE_KINDS or not re.fullmatch(r"\w[\w.-]{0,99}\.(png|gif)", name):
            raise NotFound(f"no file {kind}/{name} for job {job_id}")
        path = getattr(RunDir(job["run_dir"]), kind) / name
        if not path.is_file():
            raise NotFound(f"no file {kind}/{name} for job {job_id}")
        return path

    def run_dir(self, job_id: int) -> Path:
        job = self.job(job_id)
        if not job["run_dir"] or not RunDir(job["run_dir"]).checkpoints.is_dir():
            raise Conflict(f"job {job_id} has no trained model yet")
        return Path(job["run_dir"])

    # ------------------------------------------------------------------ inference
    def classes(self, job_id: int) -> list[str]:
        """The class names of a classification job's run (a clear conflict for other tasks)."""
        meta = read_meta(self.run_dir(job_id))
        task = meta.get("task", "classify")
        if task != "classify":
            raise Conflict(f"job {job_id} trained a {task} model; classifying images needs a classification job")
        return list(meta["classes"])

    def classify(self, job_id: int, files: list[Path], topk: int = 5,
                 names: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Top-k for each file; ``names``: what the user called the files (uploads), so that an error names them
        and never the server's temporary paths."""
        self.classes(job_id)  # refuses other tasks before any image is read
        with named_errors(files, names or ()):
            return nnlab.predict(self.run_dir(job_id), files, max(1, topk))

    def classify_folder(self, job_id: int, path: str, topk: int = 5) -> dict[str, Any]:
        """Predictions for every image of a folder; with class subfolders also accuracy, per-class
        precision/recall and the confusion matrix (labels are the subfolder names)."""
        folder = ds.confine(path, self.settings.allowed_roots)
        if not folder.is_dir():
            raise NotFound(f"no folder {path!r}")
        labelled = any(p.is_dir() for p in folder.iterdir())
        files = sorted(within((p for p in (folder.rglob("*") if labelled else folder.iterdir()) if ds.is_image(p)),
                              folder))
        if not files:
            raise UserError(f"{path} holds no images")
        preds = self.classify(job_id, files, topk)
        result: dict[str, Any] = {"count": len(preds), "predictions": preds}
        if labelled:
            result.update(confusion_report(self.classes(job_id), [f.relative_to(folder).parts[0] for f in files],
                                           [p["top"][0]["class"] for p in preds]))
        return result


PATH_KEYS = ("path", "weights", "file", "dir", "root", "folder")  # config keys (or their last _word) naming a path


def config_paths(raw: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Every path-like value of a config as (dotted key, value): data.path, model.weights, any *_dir or *_file
    option a builder takes; the workbench confines each one to the allowed roots."""
    found = []
    for key, value in raw.items():
        if isinstance(value, dict):
            found += config_paths(value, f"{prefix}{key}.")
        elif isinstance(value, str) and str(key).rsplit("_", 1)[-1] in PATH_KEYS:
            found.append((f"{prefix}{key}", value))
    return found


def confusion_report(classes: list[str], truth: list[str], predicted: list[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/support and the confusion matrix (rows: true class)."""
    unknown = sorted(set(truth) - set(classes))
    if unknown:
        raise UserError(f"folder classes not known to the model: {', '.join(unknown)}")
    index = {c: i for i, c in enumerate(classes)}
    cm = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(truth, predicted):
        cm[index[t], index[p]] += 1
    tp = np.diag(cm)
    per_class = {c: {"precision": float(tp[i] / max(cm[:, i].sum(), 1)), "recall": float(tp[i] / max(cm[i].sum(), 1)),
                     "support": int(cm[i].sum())} for i, c in enumerate(classes)}
    return {"accuracy": float(tp.sum() / max(cm.sum(), 1)), "classes": classes, "confusion": cm.tolist(),
            "per_class": per_class}

