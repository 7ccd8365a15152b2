"""Training jobs as separate worker processes fed from the store's queue, and the watchdog over them.

A crashing job cannot take the server down; a dead worker's job is marked failed with its last log lines;
restarting the server loses nothing (queued jobs stay queued, running jobs that died become resumable).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path

from nnlab.web import fleet
from nnlab.web.store import Store, now

LOG_TAIL = 20
DB_ENV = "NNLAB_WEB_DB"  # how a worker learns the job store's URL


def job_root(runs: Path, job_id: int) -> Path:
    """Each job trains into its own runs root, so its run directory is known before training ends."""
    return runs / "web" / f"job-{job_id}"


def log_path(runs: Path, job_id: int) -> Path:
    return job_root(runs, job_id) / "worker.log"


def log_tail(runs: Path, job_id: int, lines: int = LOG_TAIL) -> str:
    path = log_path(runs, job_id)
    if not path.is_file():
        return ""
    with path.open(errors="replace") as f:
        return "".join(deque(f, maxlen=lines))


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as dead
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


class Scheduler:
    """Starts queued jobs (``concurrency`` at a time) and watches the running ones, from one thread."""

    def __init__(self, store: Store, db_url: str, runs: Path, concurrency: int = 1, poll: float = 0.5) -> None:
        self.store, self.db_url, self.runs = store, db_url, Path(runs)
        self.concurrency, self.poll = concurrency, poll
        self.procs: dict[int, subprocess.Popen] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def recover(self) -> None:
        """At start-up: jobs left running by a server that died are marked failed (and resumable)."""
        remote = fleet.leased_jobs(self.store)  # run by `nnlab worker` elsewhere: their leases tell
        for job in self.store.jobs("running", "aborting"):
            if job["id"] not in self.procs and job["id"] not in remote and not pid_alive(job["pid"]):
                self._mark_dead(job["id"], "the server stopped while this job ran")

    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="nnlab-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop scheduling; running workers keep going and are picked up (or marked) by the next server."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.poll)

    def tick(self) -> None:
        """One round: reap finished workers, mark dead ones, start queued jobs."""
        for job_id, proc in list(self.procs.items()):
            if proc.poll() is not None:
                del self.procs[job_id]
                job = self.store.job(job_id)
                if job and job["status"] in ("running", "aborting"):
                    self._mark_dead(job_id, f"the worker exited with code {proc.returncode}")
        fleet.reclaim_dead(self.store, fleet.DEAD_AFTER_S)
        remote = fleet.leased_jobs(self.store)
        for job in self.store.jobs("running", "aborting"):
            if job["id"] not in self.procs and job["id"] not in remote and not pid_alive(job["pid"]):
                self._mark_dead(job["id"], "the worker process died")
        free = self.concurrency - len(self.procs)
        for job in self.store.jobs("queued")[:max(free, 0)]:
            self._launch(job["id"])

    def _launch(self, job_id: int) -> None:
        log = log_path(self.runs, job_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            # the database URL goes by environment, not argv: it may hold a password
            proc = subprocess.Popen([sys.executable, "-m", "nnlab.web.worker", str(job_id), str(self.runs)],
                                    env={**os.environ, DB_ENV: self.db_url}, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        if self.store.claim_job(job_id, proc.pid):
            self.procs[job_id] = proc
        else:  # deleted or aborted meanwhile
            proc.kill()
            proc.wait()

    def _mark_dead(self, job_id: int, why: str) -> None:
        job = self.store.job(job_id)
        status = "aborted" if job and job["status"] == "aborting" else "failed"  # killed while stopping anyway
        tail = log_tail(self.runs, job_id)
        self.store.update_job(job_id, status=status, pid=None, finished=now(),
                              message=f"{why}; resume it to continue.\n{tail}".strip())

    def abort(self, job_id: int) -> None:
        """Ask a running worker to stop (Ctrl-C: it checkpoints and exits); a queued job just stops."""
        job = self.store.job(job_id)
        if job is None:
            return
        if job["status"] == "queued":
            self.store.update_job(job_id, status="aborted", finished=now(), message="aborted before it started")
            return
        self.store.update_job(job_id, status="aborting")  # a remote worker sees it at its next heartbeat
        if job_id not in fleet.leased_jobs(self.store) and pid_alive(job["pid"]):
            os.kill(job["pid"], signal.SIGINT)
