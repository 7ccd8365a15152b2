"""The workbench's job store: datasets, training jobs, their metrics, and API tokens.

SQLAlchemy Core over plain tables, so the embedded SQLite default can be swapped for any database URL.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math

import secrets
from typing import Any

import sqlalchemy as sa

meta = sa.MetaData()
datasets = sa.Table(
    "datasets", meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("source", sa.String(20), nullable=False),  # folder | upload
    sa.Column("classes", sa.JSON, nullable=False),  # {split: {class: count}}
    sa.Column("created", sa.String(32), nullable=False),
)
jobs = sa.Table(
    "jobs", meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("dataset_id", sa.Integer, nullable=True),
    sa.Column("config", sa.JSON, nullable=False),
    # queued -> running -> completed | stopped_early | failed | aborted; aborting while a stop is pending
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("resume", sa.Boolean, nullable=False, default=False),
    sa.Column("run_dir", sa.Text, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("started", sa.String(32), nullable=True),
    sa.Column("finished", sa.String(32), nullable=True),
    sqlite_autoincrement=True,  # a deleted job's id is never given to a new job (links and logs stay true)
)
metrics = sa.Table(
    "metrics", meta,
    sa.Column("job_id", sa.Integer, primary_key=True),
    sa.Column("epoch", sa.Integer, primary_key=True),
    sa.Column("values", sa.JSON, nullable=False),
)
tokens = sa.Table(
    "tokens", meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created", sa.String(32), nullable=False),
)
settings = sa.Table(
    "settings", meta,
    sa.Column("key", sa.String(50), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

FINISHED = ("completed", "stopped_early", "failed", "aborted")
RESUMABLE = ("failed", "aborted")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    """Thin typed access to the tables; every method is one short transaction."""

    def __init__(self, url: str) -> None:
        kw = {"connect_args": {"check_same_thread": False, "timeout": 30}} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, **kw)
        meta.create_all(self.engine)
        _autoincrement_jobs(self.engine)

    # ------------------------------------------------------------------ generic rows
    def _insert(self, table: sa.Table, **values: Any) -> int:
        with self.engine.begin() as c:
            return int(c.execute(table.insert().values(**values)).inserted_primary_key[0])

    def _get(self, table: sa.Table, row_id: int) -> dict[str, Any] | None:
        if not 0 < row_id < 2**63:  # beyond SQLite's integers: no such row
            return None
        with self.engine.connect() as c:
            row = c.execute(table.select().where(table.c.id == row_id)).mappings().first()
        return dict(row) if row else None

    def _list(self, table: sa.Table, *where: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(table.select().where(*where).order_by(table.c.id)).mappings()]

    def _delete(self, table: sa.Table, row_id: int) -> None:
        with self.engine.begin() as c:
            c.execute(table.delete().where(table.c.id == row_id))

    # ------------------------------------------------------------------ datasets
    def add_dataset(self, name: str, path: str, source: str, classes: dict[str, dict[str, int]]) -> int:
        return self._insert(datasets, name=name, path=path, source=source, classes=classes, created=now())

    def dataset(self, ds_id: int) -> dict[str, Any] | None:
        return self._get(datasets, ds_id)

    def datasets(self) -> list[dict[str, Any]]:
        return self._list(datasets)

    def delete_dataset(self, ds_id: int) -> None:
        self._delete(datasets, ds_id)

    # ------------------------------------------------------------------ jobs
    def add_job(self, name: str, config: dict[str, Any], dataset_id: int | None) -> int:
        return self._insert(jobs, name=name, config=config, dataset_id=dataset_id, status="queued", resume=False,
                            created=now())

    def job(self, job_id: int) -> dict[str, Any] | None:
        return self._get(jobs, job_id)

    def jobs(self, *statuses: str) -> list[dict[str, Any]]:
        return self._list(jobs, jobs.c.status.in_(statuses)) if statuses else self._list(jobs)

    def update_job(self, job_id: int, **values: Any) -> None:
        with self.engine.begin() as c:
            c.execute(jobs.update().where(jobs.c.id == job_id).values(**values))

    def claim_job(self, job_id: int, pid: int) -> bool:
        """Mark a queued job running (atomic: only one scheduler wins)."""
        with self.engine.begin() as c:
            res = c.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.status == "queued")
                            .values(status="running", pid=pid, started=now(), message=None))
            return res.rowcount == 1

    def delete_job(self, job_id: int) -> None:
        with self.engine.begin() as c:
            c.execute(metrics.delete().where(metrics.c.job_id == job_id))
            c.execute(jobs.delete().where(jobs.c.id == job_id))

    # ------------------------------------------------------------------ metrics
    def add_metrics(self, job_id: int, epoch: int, values: dict[str, float]) -> None:
        with self.engine.begin() as c:
            c.execute(metrics.delete().where(metrics.c.job_id == job_id, metrics.c.epoch >= epoch))
            c.execute(metrics.insert().values(job_id=job_id, epoch=epoch, values=_finite(values)))

    def metrics(self, job_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(metrics.select().where(metrics.c.job_id == job_id).order_by(metrics.c.epoch))
            return [{"epoch": r.epoch, **_finite(r.values)} for r in rows]

    # ------------------------------------------------------------------ tokens and secrets
    def create_token(self, name: str) -> str:
        """A new random API token; only its hash is stored, so it is shown once."""
        token = "nnl_" + secrets.token_urlsafe(32)
        self._insert(tokens, name=name, hash=hash_token(token), created=now())
        return token

    def tokens(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in t.items() if k != "hash"} for t in self._list(tokens)]

    def revoke_token(self, token_id: int) -> bool:
        with self.engine.begin() as c:
            return c.execute(tokens.delete().where(tokens.c.id == token_id)).rowcount == 1

    def check_token(self, token: str) -> bool:
        return self.token_by_secret(token) is not None

    def token_by_secret(self, token: str) -> dict[str, Any] | None:
        """The token row (id, name, hash) of a presented token, or None when it is unknown or revoked."""
        with self.engine.connect() as c:
            row = c.execute(tokens.select().where(tokens.c.hash == hash_token(token))).mappings().first()
        return dict(row) if row else None

    def token(self, token_id: int) -> dict[str, Any] | None:
        return self._get(tokens, token_id)

    def session_generation(self, token_id: int) -> int:
        """Sessions opened with a token carry this number; ``end_sessions`` raises it, ending them all."""
        with self.engine.connect() as c:
            row = c.execute(settings.select().where(settings.c.key == f"sessions:{token_id}")).first()
        return int(row.value) if row else 0

    def end_sessions(self, token_id: int | None = None) -> list[int]:
        """Log out everywhere: end every browser session of one token (or of all tokens); returns their ids."""
        ids = [token_id] if token_id is not None else [t["id"] for t in self._list(tokens)]
        with self.engine.begin() as c:
            for tid in ids:
                key = f"sessions:{tid}"
                row = c.execute(settings.select().where(settings.c.key == key)).first()
                value = str(int(row.value) + 1 if row else 1)
                c.execute(settings.update().where(settings.c.key == key).values(value=value) if row
                          else settings.insert().values(key=key, value=value))
        return ids

    def secret(self) -> str:
        """The server's session-signing secret, made once and kept in the database."""
        with self.engine.begin() as c:
            row = c.execute(settings.select().where(settings.c.key == "secret")).first()
            if row:
                return row.value
            value = secrets.token_hex(32)
            c.execute(settings.insert().values(key="secret", value=value))
            return value


def _autoincrement_jobs(engine: sa.Engine) -> None:
    """Move a jobs table made before ids were AUTOINCREMENT into one that is (SQLite reuses the largest rowid
    after a delete otherwise). Ids of jobs deleted before this migration cannot be known and may recur once."""
    if engine.dialect.name != "sqlite":
        return  # other databases' sequences never hand out an id twice
    with engine.begin() as c:
        sql = c.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type='table' AND name='jobs'").scalar()
        if not sql or "AUTOINCREMENT" in sql.upper():
            return
        columns = ", ".join(f'"{col.name}"' for col in jobs.columns)
        for index in jobs.indexes:
            c.exec_driver_sql(f'DROP INDEX IF EXISTS "{index.name}"')
        c.exec_driver_sql("ALTER TABLE jobs RENAME TO _jobs_before_autoincrement")
        jobs.create(c)
        c.exec_driver_sql(f"INSERT INTO jobs ({columns}) SELECT {columns} FROM _jobs_before_autoincrement")
        c.exec_driver_sql("DROP TABLE _jobs_before_autoincrement")


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    """NaN / infinite metrics (an rl epoch that finished no episode, a bound not computed) as None: JSON has no
    NaN, so the API, the live event stream and databases other than SQLite could not carry them."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in values.items()}
