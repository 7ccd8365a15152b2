"""Study: DQN on CartPole with and without experience replay, and with and without a target network (notes:
experience replay stores (state, action, reward, next state) and trains on random samples, because consecutive
samples are correlated; Mnih et al. 2015 add a target network that follows the online one with a delay).

"Without replay" keeps everything else equal: the buffer holds only the last ``batch_size`` transitions, so every
update learns from the most recent, consecutive (correlated) steps, with the same number of updates and samples
per transition as with the full buffer. "Without a target network" copies the online network into the target
before every update (``rl.target_update: 1``), so the bootstrap uses the network being trained.
"""
from __future__ import annotations

import csv
from typing import Any

import numpy as np

from nnlab.config import Config
from nnlab.engine.runs import RunDir
from nnlab.experiments.common import fmt_ms, mean_std, resolve, save_figure, with_values
from nnlab.experiments.studies.report import NOISE_NOTE, STUDIES, StudyContext, StudyReport, Table, judge

REPLAY, ONLINE, TARGET, NO_TARGET = "replay", "no replay", "target", "no target"


def base_config(full: bool) -> dict[str, Any]:
    """configs/rl/cartpole_dqn.yaml's network, batch, update frequency and target period, with a faster
    learning rate, a shorter exploration phase and an earlier start so that a short budget shows learning."""
    return {"name": "replay", "task": "rl", "seed": 1, "model": {"name": "qmlp", "hidden": [120, 84]},
            "optim": {"name": "adam", "lr": 1e-3},
            "train": {"epochs": 32 if full else 12, "batch_size": 128, "device": "cpu",
                      "checkpoint": {"keep_last": 0}},
            "rl": {"env": "CartPole-v1", "algorithm": "dqn", "steps_per_epoch": 2500, "train_frequency": 10,
                   "learning_starts": 1000, "buffer_size": 10_000, "target_update": 50, "loss": "mse",
                   "exploration_fraction": 0.2, "epsilon_end": 0.05, "eval_episodes": 2,
                   "test_episodes": 20 if full else 5}}


def variants(base: Config) -> dict[tuple[str, str], dict[str, Any]]:
    """The four settings as config changes: replay or not x target network or not."""
    online = {"rl.buffer_size": base.train.batch_size}  # only the last batch_size (consecutive) transitions
    no_target = {"rl.target_update": 1}  # the target is the online network before every update
    return {(REPLAY, TARGET): {}, (REPLAY, NO_TARGET): no_target, (ONLINE, TARGET): online,
            (ONLINE, NO_TARGET): {**online, **no_target}}


def curve(run_dir: Any) -> tuple[list[float], list[float], float]:
    """Environment steps at the end of each epoch, the mean return of the training episodes that ended in it
    (NaN: none ended), and the mean return of the last 100 training episodes at the end of the run."""
    with open(RunDir(run_dir).metrics) as f:
        rows = list(csv.DictReader(f))
    return ([float(r["env_steps"]) for r in rows], [float(r["episode_return"]) for r in rows],
            float(rows[-1]["return_100"]))


def _runs(ctx: StudyContext, base: Config, key: tuple[str, str], values: dict[str, Any],
          seeds: list[int]) -> dict[str, list]:
    """One setting over the seeds: curves, last-100, mean and test returns."""
    res: dict[str, list] = {"final": [], "test": [], "mean": [], "curves": [], "steps": []}
    for seed in seeds:
        slug = "_".join(k.replace(" ", "") for k in key)
        run = ctx.fit(with_values(base, {**values, "name": f"{slug}_s{seed}", "seed": seed}))
        steps, returns, final = curve(run.dir)
        res["steps"] = steps
        res["curves"].append(returns)
        res["final"].append(final)
        res["mean"].append(float(np.nanmean(returns)))
        res["test"].append(run.meta["test"]["return"])
        ctx.log(f"{key[0]:9s} {key[1]:9s} seed {seed}: last-100 return {final:.1f}, "
                f"test {res['test'][-1]:.1f}")
    return res


@STUDIES.register("replay")
def study(ctx: StudyContext) -> StudyReport:
    base = resolve(ctx.base or base_config(ctx.full), ctx.overrides)
    seeds = [base.seed + i for i in range(ctx.n_repeats(2, 3))]
    results = {key: _runs(ctx, base, key, values, seeds) for key, values in variants(base).items()}
    rows = [[k[0], k[1], fmt_ms(r["final"], False), fmt_ms(r["mean"], False), fmt_ms(r["test"], False)]
            for k, r in results.items()]
    r = base.rl
    return StudyReport(
        "Experience replay and the target network in DQN (CartPole-v1)",
        "notes: experience replay는 (state, action, reward, next state)를 저장해 두고 무작위로 뽑아 학습한다 — "
        "연속된 샘플은 서로 상관되어 있기 때문이다.",
        [f"{r.env}, DQN {base.model.name} {base.model.args.get('hidden')}, Adam {base.optim.lr}, batch "
         f"{base.train.batch_size}, an update every {r.train_frequency} steps, {r.loss} loss, gamma {r.gamma}",
         f"{int(results[(REPLAY, TARGET)]['steps'][-1]):,} environment steps per run (epsilon {r.epsilon_start} -> "
         f"{r.epsilon_end} over the first {r.exploration_fraction:.0%}), seeds {seeds}",
         f"replay: a uniform buffer of {r.buffer_size:,}; no replay: a buffer of the last {base.train.batch_size} "
         "transitions (same updates and samples per transition); target: a hard copy every "
         f"{r.target_update} updates; no target: the online network bootstraps itself",
         "last-100: mean return of the last 100 training episodes (epsilon-greedy); mean: the run's mean "
         "training return (area under the curve); test: greedy episodes with the best-validation weights"],
        [Table("Return by setting (mean ± std over seeds; 500 is the maximum)",
               ["replay", "target network", "last-100 return", "mean return", "test return"], rows)],
        _verdict(results), [_figure(results, ctx)])


def _verdict(results: dict[tuple[str, str], dict[str, list]]) -> str:
    rep, onl = results[(REPLAY, TARGET)]["final"], results[(ONLINE, TARGET)]["final"]
    tgt, no_tgt = results[(REPLAY, TARGET)]["final"], results[(REPLAY, NO_TARGET)]["final"]
    (m_rep, _), (m_onl, _), (m_no, _) = mean_std(rep), mean_std(onl), mean_std(no_tgt)
    return (f"With a target network, the last-100 return is {m_rep:.1f} with replay and {m_onl:.1f} with only "
            f"the last batch of consecutive transitions: the notes' claim that replay helps is "
            f"**{judge(rep, onl)}** here. With replay, dropping the target network gives {m_no:.1f}: the claim "
            f"that the target network helps is **{judge(tgt, no_tgt)}** {NOISE_NOTE}. CartPole returns vary a "
            "lot between seeds and over a run (DQN forgets as well as learns), so read the curves too.")


def _figure(results: dict[tuple[str, str], dict[str, list]], ctx: StudyContext):
    from nnlab.plots import plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for key, res in results.items():
        curves = np.array(res["curves"], dtype=float)  # (seeds, epochs)
        mean = np.nanmean(curves, 0)
        line = ax.plot(res["steps"], mean, label=f"{key[0]}, {key[1]}")[0]
        if len(curves) > 1:
            lo, hi = np.nanmin(curves, 0), np.nanmax(curves, 0)
            ax.fill_between(res["steps"], lo, hi, color=line.get_color(), alpha=0.15)
    ax.set(xlabel="environment steps", ylabel="training episode return", ylim=(0, 510),
           title=f"DQN on CartPole: mean over {len(next(iter(results.values()))['curves'])} seeds (band: min-max)")
    ax.legend(loc="upper left")
    return save_figure(fig, ctx.out / "replay.png")
