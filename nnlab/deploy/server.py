"""A small inference server: POST /predict (one or several uploaded images), GET /health. It answers what the
deployed run does: top-k classes, detections (``score_threshold``) or segmentation masks (``format=png``).

Dynamic micro-batching (as in Triton / TorchServe): concurrent requests wait in an asyncio queue for at
most ``max_wait_ms``; the worker takes up to ``max_batch`` images, makes ONE model call in a thread and
hands each request its rows. It waits only while other requests are still being read and decoded, so a
lone request is not delayed. Batching trades a few milliseconds of latency for throughput under load;
``batching=False`` runs one model call per request instead (in a thread, so calls may overlap).
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
from dataclasses import asdict, dataclass
from typing import Any, AsyncIterator, Callable, Iterator

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from nnlab.deploy.predictor import Predictor
from nnlab.errors import DataError, ImageTooLarge, UserError

MULTIPART_SCHEMA = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "properties": {
        "file": {"type": "string", "format": "binary", "description": "one image"},
        "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                  "description": "several images, answered in order"}}}}}}}


@dataclass
class Stats:
    requests: int = 0
    images: int = 0
    model_calls: int = 0

    def as_dict(self) -> dict[str, Any]:
        mean = self.images / self.model_calls if self.model_calls else 0.0
        return {**asdict(self), "mean_batch": round(mean, 3)}


class MicroBatcher:
    """Gathers concurrent requests' images into one model call (up to ``max_batch`` or ``max_wait_ms``)."""

    def __init__(self, predictor: Predictor, stats: Stats, max_batch: int, max_wait_ms: float) -> None:
        self.predictor, self.stats = predictor, stats
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000
        self.queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future]] | None = None
        self.task: asyncio.Task | None = None
        self.arriving = 0  # requests being read and decoded: worth waiting for; none -> run at once

    @contextlib.contextmanager
    def arrival(self) -> Iterator[None]:
        """Marks a request on its way to ``submit`` (so a lone request does not wait ``max_wait_ms``)."""
        self.arriving += 1
        try:
            yield
        finally:
            self.arriving -= 1

    async def submit(self, x: np.ndarray) -> Any:
        """The predictor's output rows for a normalized batch (n, C, H, W), computed together with other requests."""
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.get_loop() is not loop:  # started in the serving loop, on first use
            self.queue = asyncio.Queue()
            self.task = loop.create_task(self._loop())
        future = loop.create_future()
        await self.queue.put((x, future))  # type: ignore[union-attr]
        return await future

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def _loop(self) -> None:
        loop, held = asyncio.get_running_loop(), None  # held: a request that would overflow the last batch
        while True:
            items = [held or await self.queue.get()]  # type: ignore[union-attr]
            held, size, deadline = None, len(items[0][0]), loop.time() + self.max_wait
            while size < self.max_batch and (left := deadline - loop.time()) > 0 and (self.arriving or
                                                                                    not self.queue.empty()):
                try:
                    item = await asyncio.wait_for(self.queue.get(), left)  # type: ignore[union-attr]
                except asyncio.TimeoutError:
                    break
                if size + len(item[0]) > self.max_batch:
                    held = item
                    break
                items.append(item)
                size += len(item[0])
            await self._run(items)

    async def _run(self, items: list[tuple[np.ndarray, asyncio.Future]]) -> None:
        try:
            rows = await infer(self.predictor, self.stats, np.concatenate([x for x, _ in items]))
        except Exception as e:  # every waiting request gets the failure, the worker lives on
            for _, future in items:
                if not future.done():
                    future.set_exception(e)
            return
        start = 0
        for x, future in items:
            if not future.done():  # a client that went away has a cancelled future
                future.set_result(rows[start: start + len(x)])
            start += len(x)


async def infer(predictor: Predictor, stats: Stats, x: np.ndarray) -> np.ndarray:
    """One model call, off the event loop: one output row per image (``Predictor.outputs``)."""
    stats.model_calls += 1
    stats.images += len(x)
    return await asyncio.to_thread(predictor.outputs, x)


def create_app(predictor: Predictor, batching: bool = True, max_batch: int = 32, max_wait_ms: float = 5.0,
               max_image_bytes: int = 10 * 2**20, max_files: int = 64, token: str | None = None) -> FastAPI:
    """The FastAPI app serving ``predictor``; uploads above ``max_image_bytes`` (per image) get 413.
    With ``token``, /predict and /health answer only requests with ``Authorization: Bearer <token>`` (401)."""
    if max_batch < 1 or max_wait_ms < 0 or max_image_bytes < 1 or max_files < 1:
        raise UserError("max_batch, max_files and max_image_bytes must be >= 1 and max_wait_ms >= 0")
    if token is not None and not token.strip():
        raise UserError("the deploy token is empty")
    stats = Stats()
    batcher = MicroBatcher(predictor, stats, max_batch, max_wait_ms) if batching else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if batcher is not None:
            await batcher.stop()

    app = FastAPI(title="nnlab inference", version="1", lifespan=lifespan)
    guard = [Depends(bearer_guard(token))] if token else []

    @app.get("/health", dependencies=guard)
    async def health() -> dict[str, Any]:
        info = predictor.info()
        return {"status": "ok", **info, "num_classes": len(info["classes"]),
                "batching": {"enabled": batching, "max_batch": max_batch, "max_wait_ms": max_wait_ms},
                "limits": {"max_image_bytes": max_image_bytes, "max_files": max_files},
                "stats": stats.as_dict()}

    @app.post("/predict", openapi_extra=MULTIPART_SCHEMA, dependencies=guard, response_model=None)
    async def predict(request: Request, top: int = Query(5, ge=1, le=1000),
                      score_threshold: float | None = Query(None, ge=0, lt=1),
                      format: str = Query("json", pattern="^(json|png)$")) -> dict[str, Any] | Response:
        """Per uploaded image (form fields ``file`` or ``files``): the top-k classes with probabilities (a
        classifier), the detections above ``score_threshold`` in the image's pixels (a detector), or the
        per-class pixel shares and the label mask PNG at the image's size (a segmenter; ``format=png``: the
        PNG itself, for one image)."""
        if format == "png" and predictor.task != "segment":
            raise HTTPException(400, "format=png serves a segmentation run's label mask")
        with batcher.arrival() if batcher is not None else contextlib.nullcontext():
            uploads = await _read_uploads(request, max_image_bytes, max_files)
            if format == "png" and len(uploads) > 1:
                raise HTTPException(400, f"format=png answers one image; {len(uploads)} were sent (use JSON)")
            try:
                loaded = await asyncio.to_thread(lambda: [predictor.load(d, n) for n, d in uploads])
            except DataError as e:  # an image over the pixel limit: 413, before any pixel was decoded
                raise HTTPException(413 if isinstance(e, ImageTooLarge) else 400, str(e)) from None
        stats.requests += 1
        x = np.stack([a for a, _ in loaded])
        rows = await (batcher.submit(x) if batcher is not None else infer(predictor, stats, x))
        answers = await asyncio.to_thread(predictor.answer, rows, [p for _, p in loaded], top, score_threshold)
        if format == "png":
            return Response(base64.b64decode(answers[0]["mask_png"]), media_type="image/png")
        return {"predictions": [{"file": n, **a} for (n, _), a in zip(uploads, answers)]}

    return app


def bearer_guard(token: str) -> Callable[[Request], None]:
    """A dependency refusing (401) requests without ``Authorization: Bearer <token>`` (checked before the body
    is read; compared in constant time)."""
    want = token.strip().encode()

    def check(request: Request) -> None:
        header = request.headers.get("authorization", "")
        given = header[7:].strip().encode() if header.lower().startswith("bearer ") else b""
        if not hmac.compare_digest(given, want):
            raise HTTPException(401, "this server needs Authorization: Bearer <token> (nnlab deploy --token-file)",
                                headers={"WWW-Authenticate": "Bearer"})

    return check


async def _read_uploads(request: Request, max_bytes: int, max_files: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of every uploaded file; 400 without any, 413 when too many or too large."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_files * max_bytes + 2**16:
        raise HTTPException(413, f"request of {int(length)} bytes exceeds the upload limit "
                                 f"({max_files} images of {max_bytes} bytes)")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(400, "send images as multipart/form-data in fields 'file' or 'files'")
    try:
        form = await request.form(max_files=max_files, max_fields=16)
    except StarletteHTTPException as e:  # starlette's own refusal (too many files, bad multipart)
        raise HTTPException(413 if "Too many" in str(e.detail) else 400, str(e.detail)) from None
    uploads = []
    for key, value in form.multi_items():
        if not isinstance(value, UploadFile):
            continue
        data = await value.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise HTTPException(413, f"image {value.filename!r} exceeds the {max_bytes}-byte upload limit")
        uploads.append((value.filename or key, data))
    if not uploads:
        raise HTTPException(400, "no image uploaded: send one in form field 'file' (or several in 'files')")
    return uploads

