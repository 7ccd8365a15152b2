"""Workbench workers on many machines: ``nnlab worker --db URL --runs DIR`` on each of them.

Each worker takes queued jobs from the one job store, runs each as the server's scheduler does (a
``nnlab.web.worker`` process calling ``nnlab.fit``), and renews a lease (``leases``: job, worker, heartbeat)
while it runs. Taking a job is one transaction: on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` picks the
oldest queued job no other worker is looking at, then the conditional ``UPDATE ... WHERE status = 'queued'``
marks it running, so no job runs twice (on SQLite, whose writes are serialized, the conditional update alone
decides; SQLite is for one machine: do not share its file over a network file system). A job whose lease
was not renewed for ``dead_after_s`` (its machine died, or the worker was killed) is marked failed and
resumable by any worker or the server's watchdog, as a dead local worker's job is. Runs go to ``--runs``:
a folder every machine sees at the same path (NFS or the like), so any machine can resume any job.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from nnlab.launch import threads_per_process
from nnlab.web import jobs as local
from nnlab.web.store import Store, jobs, meta, now

leases = sa.Table(
    "leases", meta,
    sa.Column("job_id", sa.Integer, primary_key=True),
    sa.Column("worker", sa.String(200), nullable=False),  # host:pid of the `nnlab worker` running it
    sa.Column("heartbeat", sa.Float, nullable=False),  # unix time of the last renewal
)


DEAD_AFTER_S = 60.0  # a lease not renewed for this long: the worker is taken for dead


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def leased_jobs(store: Store) -> set[int]:
    """Jobs run by ``nnlab worker`` processes (their pids belong to other machines: never signal them)."""
    leases.create(store.engine, checkfirst=True)
    with store.engine.connect() as c:
        return {r[0] for r in c.execute(sa.select(leases.c.job_id))}


def reclaim_dead(store: Store, dead_after_s: float) -> list[int]:
    """Mark the jobs whose worker stopped renewing its lease failed (aborted if a stop was pending) and
    resumable; the ids."""
    leases.create(store.engine, checkfirst=True)
    cutoff = time.time() - dead_after_s
    with store.engine.begin() as c:
        dead = c.execute(sa.select(leases.c.job_id, leases.c.worker).where(leases.c.heartbeat < cutoff)).all()
        for job_id, worker in dead:
            status = c.execute(sa.select(jobs.c.status).where(jobs.c.id == job_id)).scalar()
            if status in ("running", "aborting"):
                c.execute(jobs.update().where(jobs.c.id == job_id).values(
                    status="aborted" if status == "aborting" else "failed", pid=None, finished=now(),
                    message=f"worker {worker} stopped renewing its lease (machine down or worker killed); "
                            "resume it to continue"))
            c.execute(leases.delete().where(leases.c.job_id == job_id))
    return [job_id for job_id, _ in dead]


class Worker:
    """One ``nnlab worker``: claim, run with a heartbeat, repeat."""

    def __init__(self, store: Store, db_url: str, runs: Path, heartbeat_s: float = 5.0,
                 dead_after_s: float = DEAD_AFTER_S, nproc: int = 1) -> None:
        """``nproc`` > 1: each job trains data-parallel in that many processes (torchrun, one per GPU)."""
        self.store, self.db_url, self.runs, self.nproc = store, db_url, Path(runs), nproc
        self.heartbeat_s, self.dead_after_s = heartbeat_s, dead_after_s
        self.name = worker_name()
        leases.create(store.engine, checkfirst=True)

    def claim(self) -> int | None:
        """The oldest queued job, now running under this worker's lease; None when the queue is empty."""
        with self.store.engine.begin() as c:
            pick = sa.select(jobs.c.id).where(jobs.c.status == "queued").order_by(jobs.c.id).limit(1)
            if c.dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            job_id = c.execute(pick).scalar()
            if job_id is None:
                return None
            taken = c.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.status == "queued")
                              .values(status="running", pid=None, started=now(), message=None)).rowcount
            if taken != 1:
                return None
            c.execute(leases.delete().where(leases.c.job_id == job_id))
            c.execute(leases.insert().values(job_id=job_id, worker=self.name, heartbeat=time.time()))
        return int(job_id)

    def beat(self, job_id: int) -> str | None:
        """Renew the lease; the job's status (``aborting`` asks the worker to stop it)."""
        with self.store.engine.begin() as c:
            c.execute(leases.update().where(leases.c.job_id == job_id).values(heartbeat=time.time()))
            return c.execute(sa.select(jobs.c.status).where(jobs.c.id == job_id)).scalar()

    def run(self, job_id: int) -> int:
        """Train one claimed job in its own process, renewing the lease until it ends; its exit code."""
        log = local.log_path(self.runs, job_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            proc = subprocess.Popen([sys.executable, *self._launcher(), "-m", "nnlab.web.worker", str(job_id),
                                     str(self.runs)], env={**os.environ, local.DB_ENV: self.db_url, **self._threads()},
                                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.store.update_job(job_id, pid=proc.pid)
        stopping = False
        while proc.poll() is None:
            if self.beat(job_id) == "aborting" and not stopping:
                proc.send_signal(signal.SIGINT)  # it checkpoints and marks itself aborted
                stopping = True
            try:
                proc.wait(self.heartbeat_s)
            except subprocess.TimeoutExpired:
                pass
        job = self.store.job(job_id)
        if job and job["status"] in ("running", "aborting"):  # the process died without saying so
            self.store.update_job(job_id, status="aborted" if job["status"] == "aborting" else "failed", pid=None,
                                  finished=now(), message=f"the worker exited with code {proc.returncode}; resume "
                                  f"it to continue.\n{local.log_tail(self.runs, job_id)}".strip())
        with self.store.engine.begin() as c:
            c.execute(leases.delete().where(leases.c.job_id == job_id))
        return proc.returncode

    def _launcher(self) -> list[str]:
        return ["-m", "torch.distributed.run", f"--nproc-per-node={self.nproc}"] if self.nproc > 1 else []

    def _threads(self) -> dict[str, str]:
        """Cores shared by the job's processes (torchrun would give each one thread)."""
        if self.nproc == 1 or "OMP_NUM_THREADS" in os.environ:
            return {}
        return {"OMP_NUM_THREADS": str(threads_per_process(self.nproc))}

    def serve(self, poll_s: float = 2.0, max_jobs: int | None = None, until_empty: bool = False) -> int:
        """Take and run jobs until ``max_jobs`` ran or, with ``until_empty``, the queue is empty; jobs run."""
        done = 0
        while max_jobs is None or done < max_jobs:
            reclaim_dead(self.store, self.dead_after_s)
            job_id = self.claim()
            if job_id is None:
                if until_empty:
                    break
                time.sleep(poll_s)
                continue
            print(f"[{now()}] {self.name}: job {job_id}", flush=True)
            code = self.run(job_id)
            print(f"[{now()}] {self.name}: job {job_id} ended ({code})", flush=True)
            done += 1
        return done
