"""Server-rendered pages (Jinja2): datasets, new model, jobs, compare, inference, inspect, login."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from nnlab.errors import UserError
from nnlab.explain.attribution import METHODS
from nnlab.web.auth import COOKIE, SESSION_SECONDS, authenticated, csrf_guard, csrf_token, session, sign_session
from nnlab.web.datasets import BOXES, box_preview, samples
from nnlab.web.infer import IMAGE_TASKS, infer_image, sample_text
from nnlab.web.inspect import explain_upload, inspect_image
from nnlab.web.routes_api import Id, saved_uploads
from nnlab.web.service import Workbench
from nnlab.web.store import FINISHED
from nnlab.web.views import section

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])
NEW_MODEL_FIELDS = [("model.name", "model"), ("optim.name", "optim"), ("optim.schedule.name", "schedule"),
                    ("train.epochs", "epochs"), ("train.batch_size", "batch_size"), ("seed", "seed"),
                    ("optim.lr", "lr"), ("optim.weight_decay", "weight_decay"),
                    ("train.early_stopping.patience", "patience"), ("data.image_size", "image_size")]
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"logged_in": authenticated(request),
                                                      "csrf": csrf_token(request), **context}, status_code=status)


def error_page(request: Request, code: int, message: str) -> HTMLResponse:
    return render(request, "error.html", code, code=code, message=message)


def _wb(request: Request) -> Workbench:
    return request.app.state.wb


def _gate(request: Request, write: bool = False) -> Response | None:
    """A redirect to the login page when this request may not see (or change) anything."""
    if authenticated(request) or (not write and _wb(request).settings.anonymous_read):
        return None
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def _to(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# ---------------------------------------------------------------------------------------------- login
@router.get("/login")
def login_page(request: Request, next: str = "/jobs") -> HTMLResponse:
    return render(request, "login.html", next=next)


@router.post("/login")
def login(request: Request, token: str = Form(...), next: str = Form("/jobs")) -> Response:
    store = _wb(request).store
    row = store.token_by_secret(token.strip())
    if row is None:
        return render(request, "login.html", 401, next=next, error="unknown token")
    target = next if next.startswith("/") and not next.startswith("//") else "/jobs"
    response = _to(target)
    cookie = sign_session(request.app.state.secret, row, store.session_generation(row["id"]))
    response.set_cookie(COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout(request: Request, everywhere: str = Form("")) -> Response:
    """Log out this browser; with ``everywhere``, end every session opened with the same token."""
    token_id = session(request)
    if everywhere and token_id is not None:
        _wb(request).store.end_sessions(token_id)
    response = _to("/login")
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
def home() -> Response:
    return _to("/jobs")


# ---------------------------------------------------------------------------------------------- datasets
@router.get("/datasets")
def datasets_page(request: Request) -> Response:
    return _gate(request) or render(request, "datasets.html", datasets=_wb(request).store.datasets(),
                                    roots=_wb(request).settings.allowed_roots)


@router.post("/datasets")
def datasets_create(request: Request, name: str = Form(""), path: str = Form("")) -> Response:
    return _gate(request, True) or _to(f"/datasets/{_wb(request).add_folder(name, path)['id']}")


@router.post("/datasets/upload")
def datasets_upload(request: Request, name: str = Form(""), file: UploadFile = File(...)) -> Response:
    if gate := _gate(request, True):
        return gate
    w = _wb(request)
    with saved_uploads(w, file) as [path], path.open("rb") as f:
        return _to(f"/datasets/{w.add_upload(name, f)['id']}")


@router.get("/datasets/{ds_id}")
def dataset_page(request: Request, ds_id: Id) -> Response:
    if gate := _gate(request):
        return gate
    row = _wb(request).dataset(ds_id)
    if BOXES in row["classes"]:  # a box folder: its first images with their boxes drawn
        preview = base64.b64encode(box_preview(Path(row["path"]))).decode()
        return render(request, "dataset.html", ds=row, samples={}, boxes=f"data:image/png;base64,{preview}")
    return render(request, "dataset.html", ds=row, samples=samples(Path(row["path"])))


@router.post("/datasets/{ds_id}/delete")
def dataset_delete(request: Request, ds_id: Id) -> Response:
    if gate := _gate(request, True):
        return gate
    _wb(request).delete_dataset(ds_id)
    return _to("/datasets")


# ---------------------------------------------------------------------------------------------- new model
@router.get("/models/new")
def new_model_page(request: Request, clone: int | None = None) -> Response:
    if gate := _gate(request, True):
        return gate
    w = _wb(request)
    base = w.job(clone)["config"] if clone else None
    return render(request, "new_model.html", catalog=w.catalog(), datasets=w.store.datasets(), base=base,
                  clone=clone)


def _form_job(w: Workbench, f: dict[str, str]) -> tuple[dict[str, Any], list[str], int | None]:
    """The New-model form as (base config: a ready config, the cloned job's or none; overrides; dataset id)."""
    overrides = [f"task={f['task']}"] if f.get("task") else []
    overrides += [f"{key}={f[field]}" for key, field in NEW_MODEL_FIELDS if f.get(field)]
    overrides += [line.strip() for line in f.get("overrides", "").splitlines() if line.strip()]
    if f.get("preset"):  # a ready config (configs/<task>/*.yaml) under the form's settings
        base = w.preset(f["preset"])
    else:
        base = w.job(int(f["clone"]))["config"] if f.get("clone", "").isdigit() else {}
    return base, overrides, int(f["dataset_id"]) if f.get("dataset_id", "").isdigit() else None


async def _form(request: Request) -> dict[str, str]:
    return {k: str(v).strip() for k, v in (await request.form()).items()}


@router.post("/models/lr-preview")
async def new_model_lr_preview(request: Request) -> Response:
    """The New-model form's live learning-rate curve (JSON), or the reason there is none."""
    if gate := _gate(request, True):
        return gate
    w = _wb(request)
    try:
        job = _form_job(w, await _form(request))
        return JSONResponse(await run_in_threadpool(w.lr_preview, *job))  # may read data: off the event loop
    except UserError as e:
        return JSONResponse({"detail": str(e)}, status_code=400)


@router.post("/models/new")
async def new_model(request: Request) -> Response:
    if gate := _gate(request, True):
        return gate
    f = await _form(request)
    w = _wb(request)
    try:
        job = w.create_job(f.get("name", ""), *_form_job(w, f))
    except UserError as e:
        return render(request, "new_model.html", 400, catalog=w.catalog(), datasets=w.store.datasets(),
                      base=None, clone=None, error=str(e), form=f)
    return _to(f"/jobs/{job['id']}")


# ---------------------------------------------------------------------------------------------- jobs
@router.get("/jobs")
def jobs_page(request: Request) -> Response:
    return _gate(request) or render(request, "jobs.html", jobs=_wb(request).store.jobs())


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: Id) -> Response:
    return _gate(request) or _job_page(request, job_id)


def _job_page(request: Request, job_id: int, status: int = 200, **extra: Any) -> HTMLResponse:
    """The job with its task's section (charts, figures and tables of the trained run, forms)."""
    job = _wb(request).job_view(job_id)
    return render(request, "job.html", status, job=job, view=section(job, job["status"] in FINISHED), **extra)


@router.get("/jobs/{job_id}/files/{kind}/{name}")
def job_file(request: Request, job_id: Id, kind: str, name: str) -> Response:
    """A figure of the job's run (sample grids, the views' drawings, eval plots): PNG / GIF files only."""
    return _gate(request) or FileResponse(_wb(request).job_file(job_id, kind, name))


@router.post("/jobs/{job_id}/sample")
async def job_sample(request: Request, job_id: Id) -> Response:
    """Text from a sequence job: a prompt continued (length, temperature) or translated line by line."""
    if gate := _gate(request, True):
        return gate
    f = await _form(request)
    f["prompt"] = str((await request.form()).get("prompt", ""))  # as typed: trailing spaces are part of a prompt
    try:
        length, temperature = int(f.get("length") or 200), float(f.get("temperature") or 0.8)
    except ValueError:
        return _job_page(request, job_id, 400, error="length must be a whole number and temperature a number",
                         sample_form=f)
    try:
        result = await run_in_threadpool(sample_text, _wb(request).run_dir(job_id), f["prompt"], length, temperature)
    except UserError as e:
        return _job_page(request, job_id, 400, error=str(e), sample_form=f)
    return _job_page(request, job_id, sample=result, sample_form=f)


@router.get("/compare")
def compare_page(request: Request, ids: str = "") -> Response:
    if gate := _gate(request):
        return gate
    chosen = [int(i) for i in ids.split(",") if i.strip().isdigit()]
    return render(request, "compare.html", jobs=_wb(request).store.jobs(), chosen=chosen)


# ---------------------------------------------------------------------------------------------- inference
def _task(job: dict[str, Any]) -> str:
    return (job["config"] or {}).get("task", "classify")


@router.get("/jobs/{job_id}/infer")
def infer_page(request: Request, job_id: Id) -> Response:
    if gate := _gate(request):
        return gate
    job = _wb(request).job(job_id)
    return render(request, "infer.html", job=job, task=_task(job))


@router.post("/jobs/{job_id}/infer/image")
def infer_upload(request: Request, job_id: Id, file: UploadFile = File(...)) -> Response:
    """An uploaded image: top-5 classes (classification), boxes drawn (detection) or an overlay (segmentation)."""
    if gate := _gate(request, True):
        return gate
    w = _wb(request)
    job, name = w.job(job_id), file.filename or "upload"
    task = _task(job)
    with saved_uploads(w, file) as paths:
        if task in IMAGE_TASKS:
            found = infer_image(w.run_dir(job_id), paths[0], name)
            return render(request, "infer.html", job=job, task=task, found=found, filename=file.filename)
        result = w.classify(job_id, paths, 5, [name])[0]
    return render(request, "infer.html", job=job, task=task, single=result, filename=file.filename)


@router.post("/jobs/{job_id}/infer/folder")
def infer_folder(request: Request, job_id: Id, path: str = Form(...)) -> Response:
    if gate := _gate(request, True):
        return gate
    w = _wb(request)
    return render(request, "infer.html", job=w.job(job_id), task="classify", many=w.classify_folder(job_id, path),
                  path=path)


@router.get("/jobs/{job_id}/inspect")
def inspect_page(request: Request, job_id: Id) -> Response:
    return _gate(request) or render(request, "inspect.html", job=_wb(request).job(job_id))


@router.post("/jobs/{job_id}/inspect")
def inspect_post(request: Request, job_id: Id, file: UploadFile = File(...)) -> Response:
    if gate := _gate(request, True):
        return gate
    w = _wb(request)
    with saved_uploads(w, file) as [path]:
        result = inspect_image(w.run_dir(job_id), path)
    return render(request, "inspect.html", job=w.job(job_id), result=result)


@router.get("/jobs/{job_id}/explain")
def explain_page(request: Request, job_id: Id) -> Response:
    return _gate(request) or render(request, "explain.html", job=_wb(request).job(job_id), methods=METHODS)


@router.post("/jobs/{job_id}/explain")
def explain_post(request: Request, job_id: Id, file: UploadFile = File(...), method: str = Form(...),
                 target: str = Form("")) -> Response:
    if gate := _gate(request, True):
        return gate
    w = _wb(request)
    try:
        cls = int(target) if target.strip() else None
    except ValueError:
        raise UserError(f"target must be a class index (a whole number), got {target!r}") from None
    with saved_uploads(w, file) as [path]:
        result = explain_upload(w.run_dir(job_id), path, method, cls)
    return render(request, "explain.html", job=w.job(job_id), methods=METHODS, result=result, chosen=method)


@router.post("/jobs/{job_id}/{action}")  # last: the fixed job paths above win
def job_action(request: Request, job_id: Id, action: str) -> Response:
    if gate := _gate(request, True):
        return gate
    w = _wb(request)
    if action == "clone":
        return _to(f"/models/new?clone={job_id}")
    if action == "delete":
        w.delete_job(job_id)
        return _to("/jobs")
    if action not in ("abort", "resume"):
        return error_page(request, 404, f"no action {action!r}")
    getattr(w, action)(job_id)
    return _to(f"/jobs/{job_id}")
