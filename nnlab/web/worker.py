"""One training job in its own process: ``NNLAB_WEB_DB=URL python -m nnlab.web.worker JOB_ID RUNS_DIR``.

Calls ``nnlab.fit`` with the job's config, records each epoch's metrics in the store, and stops cleanly
(checkpoint kept, resumable) on Ctrl-C / SIGINT, which is how the server aborts a job.
"""
from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

import nnlab
from nnlab.api import RunDir
from nnlab.errors import TrainingStopped, UserError
from nnlab.inference import list_runs
from nnlab.launch import finish, main_process
from nnlab.web.jobs import DB_ENV, job_root
from nnlab.web.store import Store, now


def run_dir_of(root: Path) -> str | None:
    rows = list_runs(root)
    return rows[-1]["run"] if rows else None


def main(job_id: int, db_url: str, runs: Path) -> int:
    store = Store(db_url)
    job = store.job(job_id)
    if job is None:
        print(f"job {job_id} does not exist", flush=True)
        return 2
    root = job_root(runs, job_id)
    started = time.perf_counter()

    def on_epoch(epoch: int, values: dict[str, float]) -> str | None:
        if store.job(job_id)["run_dir"] is None:
            store.update_job(job_id, run_dir=run_dir_of(root))
        store.add_metrics(job_id, epoch, {k: float(v) for k, v in values.items()})
        shown = "  ".join(f"{k} {v:.4g}" for k, v in values.items())
        print(f"epoch {epoch}: {shown}  ({time.perf_counter() - started:.1f}s)", flush=True)
        return "aborted from the workbench" if store.job(job_id)["status"] == "aborting" else None

    resume = job["run_dir"] if job["resume"] and job["run_dir"] else None
    if resume and not RunDir(resume).last.is_file():
        resume = None  # died before its first checkpoint: start over
    if not main_process():  # another process of a distributed job (`nnlab worker --nproc`): rank 0 reports
        return follow(job["config"], resume, root)
    print(f"[{now()}] job {job_id}: {'resuming ' + resume if resume else 'starting'}", flush=True)
    try:
        if resume:
            run = nnlab.fit(None, resume=resume, runs_root=root, progress=False, on_epoch=on_epoch)
        else:
            run = nnlab.fit(job["config"], runs_root=root, progress=False, on_epoch=on_epoch)
    except (TrainingStopped, KeyboardInterrupt) as e:
        aborted = store.job(job_id)["status"] == "aborting"
        print(f"stopped: {e}", flush=True)
        store.update_job(job_id, status="aborted" if aborted else "failed", message=str(e) or "interrupted",
                         finished=now(), pid=None, run_dir=run_dir_of(root) or job["run_dir"])
        return 1
    except UserError as e:
        print(f"error: {e}", flush=True)
        store.update_job(job_id, status="failed", message=str(e), finished=now(), pid=None)
        return 2
    except Exception as e:  # a bug: keep the traceback in the log, never leave the job "running"
        traceback.print_exc()
        store.update_job(job_id, status="failed", message=f"{type(e).__name__}: {e}", finished=now(), pid=None,
                         run_dir=run_dir_of(root) or job["run_dir"])
        return 1
    final = store.job(job_id)["status"]
    status = "aborted" if final == "aborting" else run.meta["status"]
    store.update_job(job_id, status=status, message=run.meta.get("message"), finished=now(), pid=None,
                     run_dir=str(run.dir))
    print(f"[{now()}] job {job_id}: {status}; test {run.test}", flush=True)
    return 0


def follow(config: dict, resume: str | None, root: Path) -> int:
    """Train in step with rank 0 of a distributed job, touching neither the store nor the log."""
    try:
        nnlab.fit(None if resume else config, resume=resume, runs_root=root, progress=False)
    except (UserError, KeyboardInterrupt):
        return 1
    finally:
        finish()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), os.environ[DB_ENV], Path(sys.argv[2])))
