"""The REST API (``/api``): datasets, jobs, metrics (JSON and server-sent events), inference, downloads."""
from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from contextlib import contextmanager
from typing import Annotated, Any, AsyncIterator, Iterator

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path as PathParam, Query, Request, UploadFile
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from nnlab.api import RunDir
from nnlab.web.auth import require_read, require_write
from nnlab.web.datasets import samples
from nnlab.web.infer import MAX_LENGTH, MAX_PROMPT, MAX_TEMPERATURE, infer_image, sample_text
from nnlab.web.inspect import inspect_image
from nnlab.errors import UserError
from nnlab.web.service import Workbench, confusion_report
from nnlab.web.store import FINISHED

router = APIRouter(prefix="/api")
read = [Depends(require_read)]
write = [Depends(require_write)]
SSE_POLL = 0.5
SSE_MAX_SECONDS = 3600
MAX_ID = 2**62
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]  # database ids (SQLite integers are 64-bit)


class FolderDataset(BaseModel):
    name: str = Field("", max_length=200)
    path: str = Field(..., max_length=4096, description="an image folder under one of the allowed roots")


class NewJob(BaseModel):
    name: str = Field("", max_length=200)
    dataset_id: int | None = Field(None, ge=1, le=MAX_ID)
    config: dict[str, Any] = Field(default_factory=dict, description="an nnlab config (see configs/)")
    overrides: list[str] = Field(default_factory=list, description="extra a.b=c config overrides")


class Clone(BaseModel):
    overrides: list[str] = Field(default_factory=list)


class TextQuery(BaseModel):
    prompt: str = Field(..., min_length=1, max_length=MAX_PROMPT, description="a prompt, or lines to translate")
    length: int = Field(200, ge=1, le=MAX_LENGTH, description="characters a language model adds")
    temperature: float = Field(0.8, ge=0, le=MAX_TEMPERATURE, description="0: the most likely character each step")
    seed: int = Field(0, ge=0, le=2**31 - 1)


class FolderQuery(BaseModel):
    path: str = Field(..., max_length=4096)
    topk: int = Field(5, ge=1, le=100)


def wb(request: Request) -> Workbench:
    return request.app.state.wb


@contextmanager
def saved_uploads(w: Workbench, *uploads: UploadFile) -> Iterator[list[Path]]:
    """The uploads copied to a temporary folder (removed afterwards), each refused (413) past the upload limit."""
    with tempfile.TemporaryDirectory() as tmp:
        yield [_save_upload(u, Path(tmp) / f"upload-{i}", w.settings.max_upload_bytes) for i, u in enumerate(uploads)]


def _save_upload(upload: UploadFile, stem: Path, limit: int) -> Path:
    """Copy an upload to ``stem`` + its suffix in chunks, refusing (413) once it passes ``limit`` bytes."""
    target = stem.parent / (stem.name + Path(upload.filename or "upload").suffix.lower()[:10])
    size = 0
    with target.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"upload {upload.filename!r} is larger than the limit of {limit} bytes")
            out.write(chunk)
    return target


# ---------------------------------------------------------------------------------------------- catalog
@router.get("/catalog", dependencies=read,
            summary="every task's registered models and ready configs, the optimizers and schedules with their options")
def catalog(request: Request) -> dict[str, Any]:
    return wb(request).catalog()


@router.post("/lr-preview", dependencies=read, summary="the learning rate over the run a job config would train")
def lr_preview(body: NewJob, request: Request) -> dict[str, Any]:
    return wb(request).lr_preview(body.config, body.overrides, body.dataset_id)


# ---------------------------------------------------------------------------------------------- datasets
@router.get("/datasets", dependencies=read)
def list_datasets(request: Request) -> list[dict[str, Any]]:
    return wb(request).store.datasets()


@router.post("/datasets", dependencies=write, status_code=201, summary="a dataset from a server folder")
def create_dataset(body: FolderDataset, request: Request) -> dict[str, Any]:
    return wb(request).add_folder(body.name, body.path)


@router.post("/datasets/upload", dependencies=write, status_code=201, summary="a dataset from an uploaded zip")
def upload_dataset(request: Request, file: UploadFile = File(...), name: str = Form("")) -> dict[str, Any]:
    w = wb(request)
    with saved_uploads(w, file) as [path], path.open("rb") as f:
        return w.add_upload(name, f)


@router.get("/datasets/{ds_id}", dependencies=read)
def show_dataset(ds_id: Id, request: Request) -> dict[str, Any]:
    row = wb(request).dataset(ds_id)
    return {**row, "samples": samples(Path(row["path"]))}


@router.get("/datasets/{ds_id}/image", dependencies=read, response_class=FileResponse)
def dataset_image(ds_id: Id, request: Request, path: str = Query(..., max_length=4096)) -> FileResponse:
    return FileResponse(wb(request).dataset_file(ds_id, path))


@router.delete("/datasets/{ds_id}", dependencies=write, status_code=204)
def delete_dataset(ds_id: Id, request: Request) -> None:
    wb(request).delete_dataset(ds_id)


# ---------------------------------------------------------------------------------------------- jobs
@router.get("/jobs", dependencies=read)
def list_jobs(request: Request) -> list[dict[str, Any]]:
    return wb(request).store.jobs()


@router.post("/jobs", dependencies=write, status_code=201, summary="queue a training job")
def create_job(body: NewJob, request: Request) -> dict[str, Any]:
    return wb(request).create_job(body.name, body.config, body.overrides, body.dataset_id)


@router.get("/jobs/{job_id}", dependencies=read, summary="a job with its metrics, best epoch, ETA and log tail")
def show_job(job_id: Id, request: Request) -> dict[str, Any]:
    return wb(request).job_view(job_id)


@router.post("/jobs/{job_id}/abort", dependencies=write)
def abort_job(job_id: Id, request: Request) -> dict[str, Any]:
    return wb(request).abort(job_id)


@router.post("/jobs/{job_id}/resume", dependencies=write)
def resume_job(job_id: Id, request: Request) -> dict[str, Any]:
    return wb(request).resume(job_id)


@router.post("/jobs/{job_id}/clone", dependencies=write, status_code=201)
def clone_job(job_id: Id, body: Clone, request: Request) -> dict[str, Any]:
    return wb(request).clone(job_id, body.overrides)


@router.delete("/jobs/{job_id}", dependencies=write, status_code=204)
def delete_job(job_id: Id, request: Request) -> None:
    wb(request).delete_job(job_id)


@router.get("/jobs/{job_id}/metrics", dependencies=read, summary="per-epoch metrics as JSON")
def job_metrics(job_id: Id, request: Request) -> list[dict[str, Any]]:
    wb(request).job(job_id)
    return wb(request).store.metrics(job_id)


@router.get("/jobs/{job_id}/events", dependencies=read, response_class=StreamingResponse,
            summary="live server-sent events: one 'metrics' event per new epoch, 'status' on changes")
async def job_events(job_id: Id, request: Request) -> StreamingResponse:
    w = wb(request)
    w.job(job_id)

    async def stream() -> AsyncIterator[str]:
        sent, status = 0, None
        for _ in range(int(SSE_MAX_SECONDS / SSE_POLL)):
            job = w.store.job(job_id)
            if job is None or await request.is_disconnected():
                return
            rows = w.store.metrics(job_id)
            for row in rows[sent:]:
                yield f"event: metrics\ndata: {json.dumps(row)}\n\n"
            sent = len(rows)
            if job["status"] != status:
                status = job["status"]
                yield f"event: status\ndata: {json.dumps({'status': status, 'message': job['message']})}\n\n"
            if status in FINISHED:
                return
            await asyncio.sleep(SSE_POLL)

    return StreamingResponse(stream(), media_type="text/event-stream")


@router.get("/jobs/{job_id}/model", dependencies=read, response_class=FileResponse,
            summary="download the trained weights (best checkpoint, else last)")
def download_model(job_id: Id, request: Request) -> FileResponse:
    run = RunDir(wb(request).run_dir(job_id))
    try:
        path = run.weights("best")
    except UserError:
        raise HTTPException(409, f"job {job_id} has no checkpoint yet") from None
    return FileResponse(path, filename=f"job-{job_id}-{path.name}", media_type="application/octet-stream")


@router.post("/jobs/{job_id}/export", dependencies=write, response_class=FileResponse,
             summary="export the trained model to ONNX or TorchScript (checked against PyTorch) and download it")
def export_model(job_id: Id, request: Request, format: str = Query("onnx", pattern="^(onnx|torchscript)$"),
                 dynamic_batch: bool = False) -> FileResponse:
    from nnlab.deploy import export_run

    try:
        result = export_run(wb(request).run_dir(job_id), format, dynamic_batch=dynamic_batch)
    except ImportError as e:
        raise UserError(f"exporting needs the deploy extra (pip install 'nnlab[deploy]'): {e}") from None
    return FileResponse(result.path, filename=f"job-{job_id}-{result.path.name}",
                        media_type="application/octet-stream",
                        headers={"X-Max-Abs-Diff": f"{result.max_abs_diff:.3g}"})


# ---------------------------------------------------------------------------------------------- inference
@router.post("/jobs/{job_id}/classify", dependencies=write,
             summary="classify uploaded images (top-k each); with one label per image also accuracy and a "
                     "confusion matrix")
def classify(job_id: Id, request: Request, files: list[UploadFile] = File(...),
             topk: int = Form(5, ge=1, le=100), labels: list[str] = Form([])) -> dict[str, Any]:
    w = wb(request)
    w.run_dir(job_id)
    if labels and len(labels) != len(files):
        raise UserError(f"got {len(labels)} labels for {len(files)} images (give one per image, or none)")
    with saved_uploads(w, *files) as paths:
        results = w.classify(job_id, paths, topk, [f.filename or "upload" for f in files])
    for r, f in zip(results, files):
        r["image"] = f.filename
    out: dict[str, Any] = {"count": len(results), "predictions": results}
    if labels:
        out.update(confusion_report(w.classes(job_id), labels, [r["top"][0]["class"] for r in results]))
    return out


@router.post("/jobs/{job_id}/classify-folder", dependencies=write,
             summary="classify a server folder; with class subfolders also accuracy and a confusion matrix")
def classify_folder(job_id: Id, body: FolderQuery, request: Request) -> dict[str, Any]:
    return wb(request).classify_folder(job_id, body.path, body.topk)


@router.post("/jobs/{job_id}/inspect", dependencies=write,
             summary="per-layer weight and activation statistics (and activation images) for one image")
def inspect(job_id: Id, request: Request, file: UploadFile = File(...)) -> dict[str, Any]:
    w = wb(request)
    run_dir = w.run_dir(job_id)
    with saved_uploads(w, file) as [path]:
        return inspect_image(run_dir, path)


@router.post("/jobs/{job_id}/infer", dependencies=write,
             summary="one uploaded image through a detection job (boxes) or a segmentation job (class shares); "
                     "the drawn result as a PNG data URL")
def infer(job_id: Id, request: Request, file: UploadFile = File(...)) -> dict[str, Any]:
    w = wb(request)
    run_dir = w.run_dir(job_id)
    with saved_uploads(w, file) as [path]:
        return infer_image(run_dir, path, file.filename or "upload")


@router.post("/jobs/{job_id}/sample", dependencies=write,
             summary="text from a sequence job: a language model continues the prompt, seq2seq translates each line")
def sample(job_id: Id, body: TextQuery, request: Request) -> dict[str, Any]:
    return sample_text(wb(request).run_dir(job_id), body.prompt, body.length, body.temperature, body.seed)
