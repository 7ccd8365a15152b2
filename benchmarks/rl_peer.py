"""nnlab's DQN beside Stable-Baselines3's DQN on the same environment, step budget, seeds and hyper-parameters:
the mean return of the last 100 training episodes, the mean greedy return of the final weights on the same
evaluation seeds (one shared loop plays both), and wall time, as nnlab / SB3 ratios measured in this process.

Matched from the nnlab config: network (``model.hidden``, ReLU), Adam and its lr, gamma, batch, buffer size,
learning starts, one gradient step every ``rl.train_frequency`` environment steps, the target copied every
``rl.target_update`` updates (SB3 counts environment steps: x train_frequency), the linear epsilon schedule over
the same fraction of the same total. SB3's loss is Huber with gradients clipped to norm 10, so nnlab's run uses
``rl.loss: huber`` and ``train.clip_norm: 10`` here. nnlab's wall time includes its per-epoch validation
episodes (``rl.eval_episodes``, set to 1) and one test episode; SB3's is ``learn`` alone. Stable-Baselines3 comes
from the optional ``bench`` extra (``pip install -e '.[bench]'``); without it the peer is skipped.
    python benchmarks/rl_peer.py [--config configs/rl/cartpole_dqn.yaml] [--steps 100000] [--seeds 1 2 3]
        [--eval 20] [--rl.learning_starts=1000 ...]
"""
from __future__ import annotations

import argparse
import math
import tempfile
import time
from typing import Any, Callable

import numpy as np
import torch

import nnlab
from nnlab import config as cfgmod
from nnlab.cli.main import _tune_malloc
from nnlab.config import Config
from nnlab.engine.runs import RunDir
from nnlab.inference import load_run
from nnlab.rl import envs

QFn = Callable[[torch.Tensor], torch.Tensor]  # observations (B, D) -> Q-values (B, A)


def matched(cfg: Config, steps: int) -> Config:
    """The config with SB3's loss and clipping, and ``train.epochs`` so that warm-up + epochs x
    steps_per_epoch is the step budget (rounded up to whole epochs)."""
    r = cfg.rl
    warmup = max(r.learning_starts, cfg.train.batch_size)
    epochs = max(1, math.ceil((steps - warmup) / r.steps_per_epoch))
    return cfgmod.from_dict(cfgmod.apply_overrides(cfgmod.to_dict(cfg), [
        f"train.epochs={epochs}", "rl.loss=huber", "train.clip_norm=10", "rl.eval_episodes=1",
        "rl.test_episodes=1", "train.checkpoint.keep_last=0", "train.device=cpu"]))


def total_steps(cfg: Config) -> int:
    """Environment steps nnlab takes: the warm-up, then ``epochs`` x ``steps_per_epoch``."""
    return max(cfg.rl.learning_starts, cfg.train.batch_size) + cfg.train.epochs * cfg.rl.steps_per_epoch


def greedy_returns(q: QFn, cfg: Config, seeds: list[int]) -> list[float]:
    """Return of one greedy episode per seed, played by the same loop for either library."""
    env = envs.make(cfg.rl.env, cfg.rl.env_args, cfg.rl.max_episode_steps, None)
    out = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            with torch.no_grad():
                action = int(q(torch.as_tensor(obs, dtype=torch.float32)[None]).argmax(1))
            obs, reward, terminated, truncated, _ = env.step(action)
            total, done = total + float(reward), terminated or truncated
        out.append(total)
    return out


def run_nnlab(cfg: Config, seed: int, root: str) -> tuple[float, float, QFn]:
    """nnlab.fit: (seconds, mean return of the last 100 training episodes, the final Q-network)."""
    start = time.perf_counter()
    run = nnlab.fit(cfgmod.from_dict({**cfgmod.to_dict(cfg), "seed": seed, "name": f"nnlab_s{seed}"}),
                    runs_root=root, progress=False)
    seconds = time.perf_counter() - start
    with open(RunDir(run.dir).metrics) as f:
        last = f.read().strip().splitlines()
    header, row = last[0].split(","), last[-1].split(",")
    return seconds, float(row[header.index("return_100")]), load_run(run.dir, "last").model


def run_sb3(cfg: Config, seed: int) -> tuple[float, float, QFn] | None:
    """Stable-Baselines3's DQN with the matched hyper-parameters: (seconds, last-100 return, Q-network)."""
    try:
        from stable_baselines3 import DQN
    except ImportError:
        print("stable-baselines3 is not installed (pip install -e '.[bench]'): peer skipped")
        return None
    r, t = cfg.rl, cfg.train
    model = DQN("MlpPolicy", envs.make(r.env, r.env_args, r.max_episode_steps, None), learning_rate=cfg.optim.lr,
                buffer_size=r.buffer_size, learning_starts=max(r.learning_starts, t.batch_size),
                batch_size=t.batch_size, gamma=r.gamma, train_freq=r.train_frequency, gradient_steps=1,
                target_update_interval=r.target_update * r.train_frequency, tau=r.tau,
                exploration_fraction=r.exploration_fraction, exploration_initial_eps=r.epsilon_start,
                exploration_final_eps=r.epsilon_end, max_grad_norm=10.0, seed=seed, device="cpu",
                policy_kwargs={"net_arch": list(cfg.model.args.get("hidden", (120, 84))),
                               "activation_fn": torch.nn.ReLU})
    start = time.perf_counter()
    model.learn(total_timesteps=total_steps(cfg))
    seconds = time.perf_counter() - start
    recent = [float(ep["r"]) for ep in model.ep_info_buffer]
    return seconds, float(np.mean(recent)) if recent else math.nan, model.q_net


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/rl/cartpole_dqn.yaml")
    p.add_argument("--steps", type=int, default=100_000, help="environment steps per run (rounded up to epochs)")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--eval", type=int, default=20, help="greedy evaluation episodes per run")
    args, overrides = p.parse_known_args()
    _tune_malloc()
    torch.set_num_threads(1)
    cfg = matched(cfgmod.load(args.config, overrides), args.steps)
    eval_seeds = [10**6 + i for i in range(args.eval)]
    print(f"{cfg.rl.env}, {total_steps(cfg):,} steps per run, seeds {args.seeds}, greedy eval on {args.eval} "
          f"seeds, {torch.get_num_threads()} thread(s)")
    print(f"{'seed':>4s} {'lib':6s} {'last-100':>8s} {'greedy':>7s} {'seconds':>8s} {'steps/s':>8s}")
    rows: dict[str, list[tuple[float, float, float]]] = {"nnlab": [], "sb3": []}
    with tempfile.TemporaryDirectory() as root:
        warm = cfgmod.apply_overrides(cfgmod.to_dict(cfg), ["train.epochs=1", "rl.learning_starts=0",
                                                            f"rl.steps_per_epoch={2 * cfg.rl.train_frequency}"])
        run_nnlab(cfgmod.from_dict(warm), 0, root), run_sb3(cfgmod.from_dict(warm), 0)  # imports, first calls
        for seed in args.seeds:  # interleaved, so machine noise hits both alike
            results: dict[str, Any] = {"nnlab": run_nnlab(cfg, seed, root), "sb3": run_sb3(cfg, seed)}
            for lib, res in results.items():
                if res is None:
                    continue
                seconds, last100, q = res
                greedy = float(np.mean(greedy_returns(q, cfg, eval_seeds)))
                rows[lib].append((last100, greedy, seconds))
                print(f"{seed:4d} {lib:6s} {last100:8.1f} {greedy:7.1f} {seconds:8.1f} "
                      f"{total_steps(cfg) / seconds:8.0f}", flush=True)
    _summary(rows)


def _summary(rows: dict[str, list[tuple[float, float, float]]]) -> None:
    means = {lib: np.mean(np.array(v), 0) for lib, v in rows.items() if v}
    for lib, (last100, greedy, seconds) in means.items():
        print(f"mean {lib:6s} {last100:8.1f} {greedy:7.1f} {seconds:8.1f}")
    if len(means) == 2:
        (a100, ag, asec), (b100, bg, bsec) = means["nnlab"], means["sb3"]
        print(f"nnlab / SB3: last-100 return {a100 / b100:.3f}, greedy return {ag / bg:.3f}, "
              f"wall time {asec / bsec:.3f} (below 1: nnlab faster)")


if __name__ == "__main__":
    main()
