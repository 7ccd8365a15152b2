"""Reinforcement-learning runs: the episode-return curve over environment steps (from the run's metrics.csv)
and a GIF of the trained policy (``nnlab rl play``'s rendering; it needs the ``render`` extra, pygame)."""
from __future__ import annotations

import csv
import importlib.util
import math
from typing import Any

from nnlab.api import RunDir
from nnlab.errors import UserError
from nnlab.inference import play
from nnlab.web.views.base import VIEWS, TaskView, figure

CURVE = ("epoch", "env_steps", "episode_return", "return_100", "val_return")
RENDER_HINT = "pip install 'nnlab[render]' (pygame renders the classic-control environments)"


def return_curve(run: RunDir) -> dict[str, list[float | None]]:
    """The return columns of metrics.csv (one row per epoch; empty cells and NaN as None)."""
    if not run.metrics.is_file():
        return {k: [] for k in CURVE}
    with run.metrics.open(newline="") as f:
        rows = list(csv.DictReader(f))

    def number(text: str | None) -> float | None:
        try:
            value = float(text) if text not in (None, "") else math.nan
        except ValueError:
            return None
        return None if math.isnan(value) else value

    return {k: [number(r.get(k)) for r in rows] for k in CURVE}


@VIEWS.register("rl")
class RLView(TaskView):
    charts = {"chart-return": ["episode_return", "return_100", "val_return"], "chart-loss": ["loss"],
              "chart-lr": ["lr"]}
    template = "views/rl.html"

    def live(self, run: RunDir, meta: dict[str, Any]) -> dict[str, Any]:
        return {"curve": return_curve(run), "env": meta.get("env"), "algorithm": meta.get("algorithm")}

    def results(self, run: RunDir, meta: dict[str, Any]) -> dict[str, Any]:
        """One greedy episode of the trained policy, rendered to ``web/policy.gif``."""
        if importlib.util.find_spec("pygame") is None:
            raise UserError(f"the policy GIF needs pygame, which is not installed here: {RENDER_HINT}")
        run.web.mkdir(parents=True, exist_ok=True)
        (episode,) = play(run.path, episodes=1, seed=0, gif=run.web / "policy.gif")
        return {"gif": figure("web", "policy.gif"), "return": episode["return"], "length": episode["length"]}
