"""``nnlab worker`` on many machines: each queued job is taken by exactly one worker (row locks on PostgreSQL,
the conditional update on SQLite), leases are renewed while a job runs, and a dead worker's job is reclaimed."""
from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nnlab.cli.main import main
from nnlab.web import fleet
from nnlab.web.jobs import Scheduler
from nnlab.web.store import Store

ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("NNLAB_TEST_POSTGRES")
URLS = ["sqlite"] + (["postgres"] if PG else [])
TINY = {"name": "w", "data": {"dataset": "digits", "train_size": 64}, "model": {"name": "mlp", "hidden": [4]},
        "train": {"epochs": 1, "batch_size": 32, "device": "cpu"}}


def _url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    store = Store(PG)  # a fresh queue on the shared test database
    with store.engine.begin() as c:
        for table in (fleet.leases, *[t for t in fleet.meta.sorted_tables if t.name in ("metrics", "jobs")]):
            c.execute(table.delete())
    return PG


def _claim_all(url: str, runs: str, out: mp.Queue) -> None:
    worker = fleet.Worker(Store(url), url, Path(runs))
    taken = []
    while (job := worker.claim()) is not None:
        taken.append(job)
        time.sleep(0.01)  # give the other worker a chance at the queue
    out.put(taken)


@pytest.mark.parametrize("kind", URLS)
def test_two_workers_take_six_jobs_exactly_once(tmp_path: Path, kind: str) -> None:
    url = _url(kind, tmp_path)
    store = Store(url)
    ids = [store.add_job(f"j{i}", TINY, None) for i in range(6)]
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(url, str(tmp_path), out)) for _ in range(2)]
    for p in procs:
        p.start()
    taken = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
    assert sorted(taken[0] + taken[1]) == ids  # every job once, none twice
    assert all(j["status"] == "running" for j in store.jobs())
    assert fleet.leased_jobs(store) == set(ids)


def test_a_dead_workers_job_is_reclaimed_and_the_server_leaves_live_leases_alone(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'jobs.db'}")
    a, b = store.add_job("a", TINY, None), store.add_job("b", TINY, None)
    worker = fleet.Worker(store, "unused", tmp_path)
    assert worker.claim() == a and worker.claim() == b
    store.update_job(a, pid=2**22 + 12345)  # another machine's pid: not alive here
    store.update_job(b, pid=2**22 + 12346)
    with store.engine.begin() as c:  # a's worker last renewed its lease long ago
        c.execute(fleet.leases.update().where(fleet.leases.c.job_id == a).values(heartbeat=time.time() - 600))
    Scheduler(store, "unused", tmp_path, concurrency=0).tick()  # the server's watchdog
    assert store.job(a)["status"] == "failed" and "stopped renewing its lease" in store.job(a)["message"]
    assert store.job(b)["status"] == "running"  # leased and renewed: not judged by a local pid
    assert fleet.leased_jobs(store) == {b}


def test_an_unreachable_database_is_named_with_its_password_hidden(capsys: pytest.CaptureFixture) -> None:
    assert main(["worker", "--db", "postgresql+psycopg://me:secret@127.0.0.1:1/nnlab", "--runs", "r"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the job database postgresql+psycopg://me:***@127.0.0.1:1/nnlab" in err
    assert "secret" not in err


@pytest.mark.slow
@pytest.mark.skipif(not PG, reason="2-5 min on 2 cores (12 processes import torch); set NNLAB_TEST_POSTGRES to a "
                    "postgresql+psycopg://user@host/db URL to run it on PostgreSQL and SQLite")
@pytest.mark.parametrize("kind", URLS)
def test_two_nnlab_worker_processes_train_six_queued_jobs_once_each(tmp_path: Path, kind: str) -> None:
    url = _url(kind, tmp_path)
    store = Store(url)
    ids = [store.add_job(f"j{i}", TINY, None) for i in range(6)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "nnlab", "worker", "--db", url, "--runs", str(tmp_path / "runs"), "--until-empty",
           "--heartbeat", "0.5", "--dead-after", "30"]
    workers = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    jobs = {j["id"]: j for j in store.jobs()}
    assert all(jobs[i]["status"] == "completed" for i in ids), [(j["status"], j["message"]) for j in jobs.values()]
    runs = sorted(p.parent for p in (tmp_path / "runs").rglob("meta.json"))
    assert len(runs) == 6 and {str(jobs[i]["run_dir"]) for i in ids} == {str(p) for p in runs}
    ran = [line for out in outputs for line in out.splitlines() if line.endswith("ended (0)")]
    assert len(ran) == 6


@pytest.mark.slow
@pytest.mark.skipif(not PG, reason="half a minute on 2 cores; opt in with NNLAB_TEST_POSTGRES (see above)")
@pytest.mark.parametrize("kind", URLS)
def test_a_worker_trains_a_job_in_two_processes(tmp_path: Path, kind: str) -> None:
    url = _url(kind, tmp_path)
    store = Store(url)
    job = store.add_job("ddp", {**TINY, "data": {"dataset": "digits", "train_size": 256}}, None)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-m", "nnlab", "worker", "--db", url, "--runs", str(tmp_path / "runs"),
                          "--until-empty", "--nproc", "2", "--heartbeat", "0.5", "--dead-after", "30"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    done = store.job(job)
    assert done["status"] == "completed", done["message"]
    log = (tmp_path / "runs" / "web" / f"job-{job}" / "worker.log").read_text()
    assert "distributed: 2 processes (gloo), 1 threads each" in log
    assert [m["epoch"] for m in store.metrics(job)] == [1]  # rank 0 alone reports each epoch
