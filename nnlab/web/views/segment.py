"""Segmentation runs: test overlays (each image's truth, then the prediction), mIoU and IoU per class."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nnlab.api import RunDir
from nnlab.inference import evaluate
from nnlab.web.views.base import VIEWS, TaskView, figure

METRICS = ("miou", "pixel_accuracy", "dice", "boundary_iou")


@VIEWS.register("segment")
class SegmentView(TaskView):
    charts = {"chart-loss": ["loss", "val_loss"], "chart-iou": ["pixel_accuracy", "val_pixel_accuracy", "val_miou"],
              "chart-lr": ["lr"]}
    template = "views/segment.html"
    infers = True

    def results(self, run: RunDir, meta: dict[str, Any]) -> dict[str, Any]:
        result = evaluate(run.path, "test")
        overlays = result.get("overlays_png")
        return {"metrics": {k: result[k] for k in METRICS if k in result}, "count": result.get("count"),
                "per_class": result["per_class"],
                "overlays": figure("eval", Path(overlays).name) if overlays else None}
