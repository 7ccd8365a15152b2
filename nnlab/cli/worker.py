"""nnlab worker --db URL --runs DIR: run workbench jobs from a job database shared by many machines."""
from __future__ import annotations

import argparse
from pathlib import Path

import sqlalchemy as sa

from nnlab.errors import UserError
from nnlab.web.fleet import DEAD_AFTER_S, Worker
from nnlab.web.store import Store

CONNECT_TIMEOUT_S = 10  # an unreachable database is named after this long, not after TCP's minutes


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="run workbench jobs from a shared job database (one worker per machine)",
                       description="Take queued workbench jobs from the job database the server uses (PostgreSQL "
                                   "for several machines) and train them here, renewing a lease while each runs.")
    p.add_argument("--db", required=True, help="the server's job-store URL, e.g. postgresql+psycopg://user@host/nnlab")
    p.add_argument("--runs", required=True, help="runs folder every machine sees at the same path (e.g. NFS)")
    p.add_argument("--heartbeat", type=float, default=5.0, help="seconds between lease renewals (default 5)")
    p.add_argument("--dead-after", type=float, default=DEAD_AFTER_S,
                   help=f"a lease not renewed for this many seconds marks its job failed (default {DEAD_AFTER_S:g})")
    p.add_argument("--nproc", type=int, default=1, help="train each job data-parallel in N processes (torchrun; "
                   "one per GPU; the job's train.batch_size is the global batch)")
    p.add_argument("--max-jobs", type=int, help="stop after this many jobs")
    p.add_argument("--until-empty", action="store_true", help="stop when the queue is empty")
    p.set_defaults(func=run)


def open_store(url: str) -> Store:
    """The job store at ``url``, or one clear message (password hidden) within seconds when it is unreachable."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise UserError(f"--db {url!r} is not a database URL (e.g. postgresql+psycopg://user@host/nnlab)") from None
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_S)})
    shown = parsed.render_as_string(hide_password=True)
    try:
        return Store(parsed.render_as_string(hide_password=False))
    except sa.exc.NoSuchModuleError as e:
        raise UserError(f"no driver for {shown} ({e}); for PostgreSQL: pip install 'psycopg[binary]'") from None
    except (sa.exc.OperationalError, ModuleNotFoundError) as e:
        raise UserError(f"cannot reach the job database {shown}: {str(e).splitlines()[0][:200]}") from None


def run(args: argparse.Namespace) -> int:
    if args.nproc < 1:
        raise UserError(f"--nproc must be at least 1 (got {args.nproc})")
    if args.heartbeat <= 0 or args.dead_after <= 2 * args.heartbeat:
        raise UserError("--heartbeat must be positive and --dead-after more than twice --heartbeat")
    store = open_store(args.db)
    worker = Worker(store, str(store.engine.url.render_as_string(hide_password=False)), Path(args.runs),
                    args.heartbeat, args.dead_after, args.nproc)
    print(f"nnlab worker {worker.name}: taking jobs from {store.engine.url} into {args.runs}", flush=True)
    try:
        done = worker.serve(max_jobs=args.max_jobs, until_empty=args.until_empty)
    except KeyboardInterrupt:
        print("nnlab worker: stopped (a running job was interrupted and is resumable)", flush=True)
        return 130
    print(f"nnlab worker {worker.name}: {done} job(s) run", flush=True)
    return 0
