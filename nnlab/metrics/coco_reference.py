"""The same inputs through pycocotools' COCOeval: the reference ``nnlab.metrics.detection`` is tested and
benchmarked against (pycocotools is in the ``test`` extra; imported only here)."""
from __future__ import annotations

import contextlib
import io
from typing import Any, Sequence

import numpy as np

from nnlab.metrics.detection import _np


def _xywh(boxes: np.ndarray) -> list[list[float]]:
    return [[x1, y1, x2 - x1, y2 - y1] for x1, y1, x2, y2 in boxes.tolist()]


def _rle(mask: np.ndarray) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def to_coco(predictions: Sequence[dict[str, Any]], targets: Sequence[dict[str, Any]], n_classes: int,
            iou_type: str = "bbox") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(ground-truth dataset dict, detection results list): image ids 1..N, category ids 1..K."""
    images, anns, dets = [], [], []
    for i, (pred, tgt) in enumerate(zip(predictions, targets), 1):
        boxes, labels = _np(tgt["boxes"], np.float64).reshape(-1, 4), _np(tgt["labels"], np.int64).reshape(-1)
        crowd = _np(tgt.get("iscrowd", np.zeros(len(labels))), bool).reshape(-1)
        masks = _np(tgt["masks"], bool) if iou_type == "segm" else None
        h, w = masks.shape[-2:] if masks is not None else (1000, 1000)
        images.append({"id": i, "width": int(w), "height": int(h), "file_name": f"{i}.png"})
        for j, (box, label) in enumerate(zip(_xywh(boxes), labels.tolist())):
            ann = {"id": len(anns) + 1, "image_id": i, "category_id": label + 1, "bbox": box,
                   "iscrowd": int(crowd[j]), "area": box[2] * box[3]}
            if masks is not None:
                ann["segmentation"], ann["area"] = _rle(masks[j]), float(masks[j].sum())
            if "area" in tgt:
                ann["area"] = float(_np(tgt["area"], np.float64)[j])
            anns.append(ann)
        p_boxes = _xywh(_np(pred["boxes"], np.float64).reshape(-1, 4))
        p_masks = _np(pred["masks"], bool).reshape(len(p_boxes), h, w) if masks is not None else None
        for j, (box, score, label) in enumerate(zip(p_boxes, _np(pred["scores"], np.float64).tolist(),
                                                    _np(pred["labels"], np.int64).tolist())):
            det = {"image_id": i, "category_id": label + 1, "bbox": box, "score": score}
            if p_masks is not None:  # without "bbox": with it, loadRes takes the area from the box, not the mask
                det["segmentation"] = _rle(p_masks[j])
                del det["bbox"]
            dets.append(det)
    cats = [{"id": k + 1, "name": str(k)} for k in range(n_classes)]
    return {"images": images, "annotations": anns, "categories": cats}, dets


def cocoeval(predictions: Sequence[dict[str, Any]], targets: Sequence[dict[str, Any]], n_classes: int,
             iou_type: str = "bbox", max_dets: Sequence[int] = (1, 10, 100)) -> Any:
    """A ``COCOeval`` run through evaluate() and accumulate() (its ``eval`` dict holds precision / recall)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_dict, dets = to_coco(predictions, targets, n_classes, iou_type)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_dict
        gt.createIndex()
        dt = gt.loadRes(dets) if dets else COCO()
        ev = COCOeval(gt, dt, iou_type)
        ev.params.maxDets = sorted(max_dets)
        ev.evaluate()
        ev.accumulate()
    return ev
