"""Detection runs: test images with the predicted boxes (and a Mask R-CNN's instance masks) beside the ground
truth, the evaluator's table (mAP, mAP@0.5, ... with their interpolation), AP per class and the PR curves."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nnlab.data.boxes.draw import draw_boxes
from nnlab.api import RunDir
from nnlab.inference import evaluation
from nnlab.web.views.base import VIEWS, TaskView, figure

SHOWN = 8  # test images drawn
MIN_SCORE = 0.5  # predictions drawn (the evaluator scores all of them)


@VIEWS.register("detect")
class DetectView(TaskView):
    charts = {"chart-loss": ["loss"], "chart-map": ["val_mAP", "val_mAP50", "mAP", "mAP50"], "chart-lr": ["lr"]}
    template = "views/detect.html"
    infers = True

    def results(self, run: RunDir, meta: dict[str, Any]) -> dict[str, Any]:
        result, evaluator, data = evaluation(run.path, "test")
        test, classes = data.split("test"), list(meta["classes"])
        run.web.mkdir(parents=True, exist_ok=True)
        pairs = []
        for i in range(min(SHOWN, len(test))):
            truth, pred = test.targets[i], evaluator.predictions[i]
            keep = pred["scores"] >= MIN_SCORE
            names = (f"detect_{i}_truth.png", f"detect_{i}_predicted.png")
            masks = pred["masks"][keep] if "masks" in pred else None  # Mask R-CNN: overlays on both sides
            draw_boxes(test.images[i], truth["boxes"], truth["labels"], classes,
                       masks=truth.get("masks") if masks is not None else None).save(run.web / names[0])
            draw_boxes(test.images[i], pred["boxes"][keep], pred["labels"][keep], classes, pred["scores"][keep],
                       masks).save(run.web / names[1])
            pairs.append({"file": Path(test.files[i]).name, "truth": figure("web", names[0]),
                          "predicted": figure("web", names[1]), "objects": len(truth["boxes"]),
                          "found": int(keep.sum())})
        return {"metrics": {k: result[k] for k in ("mAP", "mAP50", "mAP75") if k in result},
                "count": result.get("count"), "table_header": result["table_header"], "table": result["table"],
                "per_class": result["per_class"], "pr": figure("eval", Path(result["pr_png"]).name),
                "images": pairs, "min_score": MIN_SCORE}
