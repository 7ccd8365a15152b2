"""``TaskView`` (the interface), the ``VIEWS`` registry and the cache of a view's results in the run's ``web/``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, ClassVar

from nnlab.api import RunDir, read_meta
from nnlab.errors import UserError
from nnlab.registry import Registry

FILE_KINDS = ("web", "samples", "eval")  # the run folders whose figures a page may show (see ``figure``)
LIVE_CHARTS = {"chart-loss": ["loss", "val_loss"], "chart-acc": ["acc", "val_acc"], "chart-lr": ["lr"]}


class TaskView:
    """The job page's section for one task. ``charts``: chart id -> the metrics it draws (every other logged
    metric goes to one more chart); ``template``: the section (``templates/views/``), None for none;
    ``infers``: the Infer page takes an uploaded image for this task; ``after_training``: the section has more
    to show once the job has finished (an open page reloads itself then)."""

    charts: ClassVar[dict[str, list[str]]] = LIVE_CHARTS
    template: ClassVar[str | None] = None
    infers: ClassVar[bool] = False
    after_training: ClassVar[bool] = True

    def results(self, run: RunDir, meta: dict[str, Any]) -> dict[str, Any]:
        """Figures and tables of the trained run (evaluated once per checkpoint, see ``cached``)."""
        return {}

    def live(self, run: RunDir, meta: dict[str, Any]) -> dict[str, Any]:
        """What the section shows while the job still runs (cheap: on every page load)."""
        return {}


VIEWS: Registry[type[TaskView]] = Registry("job view")


def view_for(task: str) -> TaskView:
    return VIEWS.build(task) if task in VIEWS else TaskView()


def figure(kind: str, name: str) -> str:
    """The page's URL part (``/jobs/ID/files/`` + this) for a file in one of the run's folders (``FILE_KINDS``)."""
    if kind not in FILE_KINDS or Path(name).name != name:
        raise ValueError(f"not a figure a page may show: {kind}/{name}")
    return f"{kind}/{name}"


def cached(run: RunDir, name: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()`` once per checkpoint: kept in ``web/<name>.json`` with the weights' modification time."""
    stamp = run.weights("best").stat().st_mtime_ns
    path = run.web / f"{name}.json"
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
        except json.JSONDecodeError:
            saved = {}
        if saved.get("stamp") == stamp:
            return saved["data"]
    data = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"stamp": stamp, "data": data}, default=str))
    tmp.replace(path)  # atomic: a page loaded meanwhile reads the old cache or the new one
    return data


def section(job: dict[str, Any], finished: bool) -> dict[str, Any]:
    """The job page's task section: the view's charts and template, what it shows live, and once the job has
    finished with a checkpoint its results (or, for a run whose data or files went missing, why not)."""
    task = (job["config"] or {}).get("task", "classify")
    view = view_for(task)
    out: dict[str, Any] = {"task": task, "charts": view.charts, "template": view.template, "infers": view.infers,
                           "after_training": view.after_training,
                           "live": {}, "results": None, "error": None}
    if not job.get("run_dir") or not RunDir(job["run_dir"]).meta.is_file():
        return out
    run = RunDir(job["run_dir"])
    try:
        meta = read_meta(run.path)
        out["live"] = view.live(run, meta)
        if finished and view.template and (run.best.is_file() or run.last.is_file()):
            out["results"] = cached(run, task, lambda: view.results(run, meta))
    except UserError as e:
        out["error"] = str(e)
    return out
