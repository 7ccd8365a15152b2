"""Data-parallel training on gloo (CPU): N processes equal one on the same global batch, rank 0 alone writes,
a run resumes with another number of processes, and the failures a user can cause read clearly."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
from pathlib import Path
from typing import Any

import pytest
import torch

import nnlab
from nnlab.engine import checkpoint, distributed
from nnlab.engine.distributed import Dist, ShardedLoader, take_slice
from nnlab.engine.runs import RunDir
from nnlab.errors import ConfigError, UserError

TINY = {"task": "classify", "name": "ddp", "seed": 0, "data": {"dataset": "digits", "train_size": 256},
        "model": {"name": "mlp", "hidden": [16]}, "optim": {"name": "adam", "lr": 0.01},
        "train": {"epochs": 2, "batch_size": 64, "device": "cpu"}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, cfg: Any, runs: str, resume: str | None, out: Any,
               die_at_step: int | None = None) -> None:
    if die_at_step is not None and rank == world - 1:  # this rank is killed mid-epoch at that optimizer step
        from nnlab.engine.trainer import Trainer

        step = Trainer._train_step

        def dying(self: Trainer, batch: Any, last: bool) -> Any:
            if self.state.step == die_at_step:
                os._exit(9)
            return step(self, batch, last)

        Trainer._train_step = dying  # type: ignore[method-assign]
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    try:
        run = nnlab.fit(None if resume else cfg, resume=resume, runs_root=runs, progress=False)
        out.put((rank, str(run.dir), run.meta))
    except Exception as e:  # reported to the test, which fails with it
        out.put((rank, "error", f"{type(e).__name__}: {e}"))
    finally:
        distributed.teardown()


def launch(world: int, cfg: Any, runs: Path, resume: str | None = None, port: int | None = None,
           wait: int | None = None, die_at_step: int | None = None) -> dict[int, Any]:
    """``world`` training processes on this machine (gloo), as torchrun would start them; ``wait``: collect only
    that many results, then stop the rest. Forked from a fork server that has imported this module (torch, nnlab)
    but run nothing: a plain fork of the pytest process inherits the OpenMP pool of earlier tests and deadlocks."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    out = ctx.Queue()
    port = port or free_port()
    procs = [ctx.Process(target=_rank_main, args=(r, world, port, cfg, str(runs), resume, out, die_at_step)) for r in range(world)]
    for p in procs:
        p.start()
    results = {}
    for _ in range(wait or world):
        rank, where, meta = out.get(timeout=120)
        results[rank] = (where, meta)
    for p in procs:
        p.join(30 if wait is None else 0.1)
        if p.is_alive():
            p.kill()
    return results


def weights(run_dir: str) -> dict[str, torch.Tensor]:
    return checkpoint.load(RunDir(run_dir).last)["model"]


AUTOENCODER = {**TINY, "task": "generate", "model": {"name": "autoencoder", "hidden": [16], "latent": 4}}


@pytest.mark.slow
@pytest.mark.parametrize("cfg", [TINY, AUTOENCODER], ids=["ddp", "averaged-gradients"])
def test_two_processes_train_like_one_on_the_same_global_batch_and_only_rank_0_writes(tmp_path: Path,
                                                                                      cfg: dict) -> None:
    one = nnlab.fit(cfg, runs_root=tmp_path / "one", progress=False)
    two = launch(2, cfg, tmp_path / "two")
    assert two[0][0] != "error", two[0][1]
    assert two[1][0] != "error", two[1][1]
    assert two[1][1] == {}  # rank 1 returns no meta: it wrote nothing
    runs = list((tmp_path / "two").rglob("meta.json"))
    assert len(runs) == 1 and str(runs[0].parent) == two[0][0]
    a, b = weights(str(one.dir)), weights(two[0][0])
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-6)  # float reduction order only
    assert two[0][1]["test"] == pytest.approx(one.meta["test"], abs=1e-6)
    with open(Path(one.dir) / "metrics.csv") as f1, open(Path(two[0][0]) / "metrics.csv") as f2:
        rows1, rows2 = f1.read().splitlines(), f2.read().splitlines()
    loss1 = [float(r.split(",")[1]) for r in rows1[1:]]
    loss2 = [float(r.split(",")[1]) for r in rows2[1:]]
    assert loss2 == pytest.approx(loss1, abs=1e-5)  # the epoch logs are the group's, not rank 0's


@pytest.mark.slow
def test_a_two_process_run_resumes_in_one_process_exactly(tmp_path: Path) -> None:
    cfg = {**TINY, "train": {**TINY["train"], "epochs": 1}}
    two = launch(2, cfg, tmp_path)
    assert two[0][0] != "error", two[0][1]
    resumed = nnlab.fit(None, ["--train.epochs=2"], resume=two[0][0], runs_root=tmp_path, progress=False)
    straight = nnlab.fit(TINY, runs_root=tmp_path / "straight", progress=False)
    a, b = weights(str(straight.dir)), weights(str(resumed.dir))
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_a_killed_rank_stops_the_run_with_a_message_and_it_resumes_from_the_last_checkpoint(tmp_path: Path) -> None:
    res = launch(2, TINY, tmp_path, die_at_step=5, wait=1)  # 4 steps an epoch: dies in epoch 2
    where, message = res[0]
    assert where == "error" and "another process of this distributed run stopped" in message, message
    run = next(tmp_path.rglob("meta.json")).parent
    assert "another process" in json.loads((run / "meta.json").read_text())["message"]
    assert checkpoint.load(RunDir(run).last)["train_state"]["epoch"] == 1
    resumed = nnlab.fit(None, resume=run, runs_root=tmp_path, progress=False)
    assert resumed.meta["status"] == "completed" and resumed.meta["epochs_done"] == 2


@pytest.mark.slow
def test_a_taken_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = launch(2, TINY, tmp_path, port=port, wait=1)
    assert res[0][0] == "error" and f"port {port}" in res[0][1] and "is taken" in res[0][1]


def test_a_rank_keeps_its_slice_and_the_ranks_cover_each_batch_once() -> None:
    x, y, first = torch.arange(12).view(6, 2), torch.arange(6), True
    targets = [{"i": i} for i in range(6)]
    parts = [take_slice((x, y, first, targets), r, 3) for r in range(3)]
    assert torch.equal(torch.cat([p[0] for p in parts]), x) and torch.equal(torch.cat([p[1] for p in parts]), y)
    assert all(p[2] is True for p in parts) and sum((p[3] for p in parts), []) == targets


def test_the_sharded_loader_covers_the_epoch_once_with_a_new_permutation_each_epoch() -> None:
    from nnlab.data import ImageDataset, Preprocess
    from nnlab.data.loader import TensorLoader

    images = torch.arange(40, dtype=torch.uint8).view(40, 1, 1, 1).expand(40, 1, 2, 2).clone()  # sample i: i
    ds = ImageDataset(images, torch.arange(40) % 4, ["a", "b", "c", "d"])
    pre = Preprocess.fit(images, normalize=False)
    ranks = [ShardedLoader(TensorLoader(ds, pre, 8, shuffle=True, seed=3), Dist(r, 2)) for r in range(2)]
    epochs = []
    for _ in range(2):
        seen = [torch.cat([(x[:, 0, 0, 0] * 255).round().long() for x, _ in loader]) for loader in ranks]
        assert len(seen[0]) == len(seen[1]) == 20
        assert sorted(torch.cat(seen).tolist()) == list(range(40))  # every sample once per epoch
        epochs.append(torch.cat(seen))
    assert not torch.equal(epochs[0], epochs[1])


def test_bad_batch_splits_and_sync_bn_on_cpu_are_refused() -> None:
    with pytest.raises(ConfigError, match="smaller than the 4 processes"):
        distributed.check_batch(2, 4)
    with pytest.raises(ConfigError, match="multiple of 2"):
        distributed.check_batch(65, 2)
    distributed.check_batch(64, 2)
    with pytest.raises(ConfigError, match="sync_bn needs CUDA"):
        distributed.wrap(torch.nn.BatchNorm1d(2), Dist(0, 2), True, sync_bn=True)


def test_the_environment_describes_the_group() -> None:
    assert distributed.from_env({}) == Dist()
    d = distributed.from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    assert (d.rank, d.world, d.local_rank, d.local_world, d.main, d.enabled) == (3, 4, 1, 2, False, True)
    assert distributed.threads_per_process(2) >= 1
    assert "unreachable" not in distributed.rendezvous_message("connect timed out")
    assert "reachable" in distributed.rendezvous_message("connect timed out")


def test_rl_refuses_distributed_training() -> None:
    with pytest.raises(UserError, match="'rl' does not support distributed training"):
        distributed.check_task("rl", False, 8, 2)
    distributed.check_task("classify", True, "full", 2)


def test_an_unreachable_rendezvous_endpoint_is_named_within_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()  # nothing listens there
    for k, v in dict(RANK="1", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                     NNLAB_CONNECT_TIMEOUT_S="0.3", OMP_NUM_THREADS="1").items():
        monkeypatch.setenv(k, v)
    with pytest.raises(UserError, match=f"could not join the distributed group at 127.0.0.1:{port}"):
        distributed.setup(torch.device("cpu"))
