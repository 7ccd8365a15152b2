"""Generative runs: the grid of samples drawn after each epoch (``samples/epoch_NNN.png``, written by the
generate task's ``SampleGrid`` callback), as a strip and a slider; shown live while the job trains."""
from __future__ import annotations

from typing import Any

from nnlab.api import RunDir
from nnlab.web.views.base import VIEWS, TaskView, figure


@VIEWS.register("generate")
class GenerateView(TaskView):
    charts = {"chart-loss": ["loss", "val_loss"], "chart-lr": ["lr"]}
    template = "views/generate.html"
    after_training = False  # its grids arrive live, epoch by epoch

    def live(self, run: RunDir, meta: dict[str, Any]) -> dict[str, Any]:
        grids = [(int(p.stem.split("_")[1]), figure("samples", p.name)) for p in run.sample_grids()]
        return {"grids": grids, "model": meta.get("model")}
