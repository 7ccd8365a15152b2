"""The workbench app: FastAPI with the REST API, the server-rendered pages and the job scheduler."""
from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from nnlab.errors import ImageTooLarge, UserError
from nnlab.web import pages, routes_api
from nnlab.web.auth import CsrfError
from nnlab.web.datasets import PathError
from nnlab.web.service import Conflict, NotFound, Settings, Workbench

STATIC = Path(__file__).parent / "static"
STATUS = [(NotFound, 404), (PathError, 403), (CsrfError, 403), (Conflict, 409), (ImageTooLarge, 413), (UserError, 400)]


def create_app(settings: Settings) -> FastAPI:
    """An app over ``settings``; its lifespan starts (and stops) the job scheduler."""
    workbench = Workbench(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.scheduler:
            workbench.scheduler.start()
        yield
        workbench.scheduler.stop()

    app = FastAPI(title="nnlab workbench", version="0.1.0", lifespan=lifespan,
                  description="Datasets, training jobs, metrics, inference and inspection over nnlab's API.")
    app.state.wb = workbench
    app.state.secret = workbench.store.secret()

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> JSONResponse:
        code = next(c for cls, c in STATUS if isinstance(exc, cls))
        if not request.url.path.startswith("/api"):
            return pages.error_page(request, code, str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=code)

    @app.middleware("http")
    async def limit_body(request: Request, call_next):  # noqa: ANN001, ANN202
        """Refuse oversized uploads before reading them (the copy loop also counts, for chunked bodies)."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > settings.max_upload_bytes + 2**20:
            return JSONResponse({"detail": f"request body larger than {settings.max_upload_bytes} bytes"},
                                status_code=413)
        return await call_next(request)

    app.include_router(routes_api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
