"""nnlab rl solve CONFIG | nnlab rl play RUN_DIR [--episodes 10] [--gif out.gif] | nnlab rl envs

``solve`` runs the tabular methods (value / policy iteration, Q-learning, SARSA) of an rl config; deep RL
(DQN) trains with ``nnlab train`` like any other task, and ``play`` watches a trained run act."""
from __future__ import annotations

import argparse
from pathlib import Path

import nnlab
from nnlab import config as cfgmod


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rl", help="reinforcement learning: solve tabular MDPs, play a trained agent")
    rl = p.add_subparsers(dest="rl_command", required=True, metavar="SUBCOMMAND")
    s = rl.add_parser("solve", help="value/policy iteration, Q-learning or SARSA on a config's environment")
    s.add_argument("config", help="e.g. configs/rl/frozenlake_vi.yaml")
    s.add_argument("--out", default=None, help="folder for policy.png and result.json "
                   "(default: runs/rl_solve/<env>_<algorithm>)")
    s.set_defaults(func=_solve, accepts_overrides=True)
    q = rl.add_parser("play", help="greedy episodes of a trained rl run (and a GIF of the first)")
    q.add_argument("run_dir")
    q.add_argument("--episodes", type=int, default=10)
    q.add_argument("--seed", type=int, default=0, help="seed of the first episode (then +1 each)")
    q.add_argument("--gif", default=None, help="write the first episode as an animated GIF")
    q.add_argument("--weights", default="best", choices=["best", "last"])
    q.set_defaults(func=_play)
    e = rl.add_parser("envs", help="environment ids usable as rl.env")
    e.set_defaults(func=_envs)


def _solve(args: argparse.Namespace) -> int:
    from nnlab.rl.solve import solve

    cfg = cfgmod.load(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / "rl_solve" / cfg.run_name
    r = solve(cfg, out)
    print(f"{r['env']} · {r['algorithm']} · gamma {r['gamma']}")
    if "sweeps" in r:
        what = "sweeps" if r["algorithm"] == "value_iteration" else "policy improvements"
        print(f"converged after {r['sweeps']} {what}; Bellman residual {r['residual']:.2e}")
    else:
        print(f"{r['episodes']} training episodes; greedy success during training: "
              + ", ".join(f"{ep}: {rate:.2f}" for ep, rate in r["curve"]))
        if "optimal_success_rate" in r:
            print(f"value iteration's policy: {r['optimal_success_rate']:.3f}; 95% of it reached after "
                  f"{r['episodes_to_95'] or 'never within the'} episodes")
    print("V:")
    for row in r["V"]:
        print("  " + " ".join("   #  " if v != v else f"{v:6.3f}" for v in row))
    print("greedy policy:")
    print("\n".join("  " + line for line in r["policy"].splitlines()))
    print(f"success rate over {r['test_episodes']} episodes: {r['success_rate']:.3f}  ({r['seconds']:.1f} s)")
    print(f"policy figure: {r['policy_png']}")
    return 0


def _play(args: argparse.Namespace) -> int:
    results = nnlab.play(args.run_dir, args.episodes, seed=args.seed, gif=args.gif, weights=args.weights)
    for r in results:
        print(f"episode {r['episode']:3d} (seed {r['seed']})  return {r['return']:8.2f}  length {r['length']}")
    mean = sum(r["return"] for r in results) / len(results)
    print(f"mean return over {len(results)} episodes: {mean:.2f}" + (f"; GIF: {args.gif}" if args.gif else ""))
    return 0


def _envs(args: argparse.Namespace) -> int:
    from nnlab.rl.envs import available

    print("\n".join(available()))
    return 0
