"""nnlab serve [--host 127.0.0.1] [--port 8000] [--runs DIR] [--db URL] [--allow-root DIR ...]"""
from __future__ import annotations

import argparse
from pathlib import Path

from nnlab.cli.options import database, listen
from nnlab.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start the workbench (web UI, REST API and job queue)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--runs", default="runs", help="runs folder; jobs train into RUNS/web/job-N/")
    p.add_argument("--db", default=None, help="job-store database URL (default: sqlite:///RUNS/web/workbench.db)")
    p.add_argument("--allow-root", action="append", default=[], metavar="DIR",
                   help="folder datasets may be read from (repeatable; default: the current folder)")
    p.add_argument("--workers", type=int, default=1, help="training jobs run at once (default 1)")
    p.add_argument("--max-upload-mb", type=int, default=200)
    p.add_argument("--anonymous-read", action="store_true", help="let visitors without a login read (not write)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from nnlab.web.app import create_app
        from nnlab.web.service import Settings
    except ImportError as e:
        raise UserError(f"the workbench needs the web extra: pip install 'nnlab[web]' ({e})") from None
    if args.workers < 1:
        raise UserError("--workers must be >= 1")
    for root in args.allow_root:
        if not Path(root).is_dir():
            raise UserError(f"--allow-root {root} is not a folder")
    sock = listen(args.host, args.port)  # a taken port is refused before the database or the banner
    settings = Settings(runs=Path(args.runs), db_url=args.db, allowed_roots=[Path(r) for r in args.allow_root],
                        max_upload_bytes=args.max_upload_mb * 2**20, concurrency=args.workers,
                        anonymous_read=args.anonymous_read)
    try:
        with database(args.db):
            app = create_app(settings)
    except BaseException:
        sock.close()
        raise
    if not app.state.wb.store.tokens():
        print(f"note: no API tokens yet; create one with: nnlab token create NAME --runs {args.runs}")
    print(f"nnlab workbench on http://{args.host}:{sock.getsockname()[1]}/  (runs: {settings.runs})", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    return 0
