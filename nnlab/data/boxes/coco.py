"""COCO json: one file (``annotations.json``) with ``images`` (id, file_name, width, height), ``annotations``
(image_id, category_id, bbox [x, y, w, h] in pixels, area, iscrowd) and ``categories`` (id, name); images in
``images/``. Categories are written with ids 1..K in class order (COCO's convention; 0 is not used)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.data.boxes.records import BoxRecord, Issues, checked_boxes, image_files, images_dir, read_text

FILE = "annotations.json"


def label_file(root: Path) -> Path | None:
    if (root / FILE).is_file():
        return root / FILE
    found = sorted(root.glob("*.json")) + sorted((root / "annotations").glob("*.json"))
    return found[0] if len(found) == 1 else None


def read(root: Path, issues: Issues) -> tuple[list[BoxRecord], list[str]]:
    path = label_file(root)
    text = read_text(path, issues) if path else None
    if text is None:
        return [], []
    try:
        data = json.loads(text)
        images, anns, cats = data["images"], data.get("annotations", []), data["categories"]
        cat_names = {int(c["id"]): str(c["name"]) for c in cats}
        info = {int(im["id"]): (str(im["file_name"]), int(im["width"]), int(im["height"])) for im in images}
    except json.JSONDecodeError as e:
        issues.error(path, f"malformed JSON: {e.msg}", e.lineno)
        return [], []
    except (KeyError, TypeError, ValueError) as e:
        issues.error(path, f"not a COCO detection file (images / categories with id, file_name, width, height, "
                           f"name): {type(e).__name__} {e}")
        return [], []
    grouped: dict[int, list[dict[str, Any]]] = {i: [] for i in info}
    for n, ann in enumerate(anns):
        problem = _ann_problem(ann, info, cat_names)
        if problem:
            issues.error(path, f"annotation {n} (id {ann.get('id') if isinstance(ann, dict) else '?'}): {problem}")
            continue
        grouped[int(ann["image_id"])].append(ann)
    on_disk = image_files(images_dir(root))
    records = []
    for image_id, (name, width, height) in info.items():
        source = images_dir(root) / name
        if Path(name).stem not in on_disk or not source.is_file():
            issues.error(path, f"labels an image that does not exist: {source}")
            continue
        group = grouped[image_id]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in group)], np.float64)
        boxes, keep = checked_boxes(boxes.reshape(-1, 4), width, height, f"{path} (image {name})", issues)
        names = [cat_names[int(a["category_id"])] for a in group]
        crowd = np.array([bool(a.get("iscrowd", 0)) for a in group], bool)
        records.append(BoxRecord(name, width, height, boxes, names, source, crowd).subset(keep))
    return records, [cat_names[k] for k in sorted(cat_names)]


def _ann_problem(ann: Any, info: dict, cat_names: dict) -> str | None:
    if not isinstance(ann, dict):
        return "is not an object"
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(isinstance(v, (int, float)) for v in bbox):
        return f"bbox must be 4 numbers [x, y, w, h], got {bbox!r}"
    if ann.get("image_id") not in info:
        return f"image_id {ann.get('image_id')!r} is not in images"
    if ann.get("category_id") not in cat_names:
        return f"category_id {ann.get('category_id')!r} is not in categories {sorted(cat_names)}"
    return None


def to_dict(records: list[BoxRecord], classes: list[str]) -> dict[str, Any]:
    images, anns = [], []
    index = {c: i + 1 for i, c in enumerate(classes)}
    for image_id, r in enumerate(records, 1):
        images.append({"id": image_id, "file_name": r.file, "width": r.width, "height": r.height})
        for (x1, y1, x2, y2), name, crowd in zip(r.boxes.tolist(), r.names, r.crowd.tolist()):
            w, h = round(x2 - x1, 2), round(y2 - y1, 2)
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": index[name],
                         "bbox": [x1, y1, w, h], "area": round(w * h, 4), "iscrowd": int(crowd)})
    return {"images": images, "annotations": anns,
            "categories": [{"id": i + 1, "name": c} for i, c in enumerate(classes)]}


def write_labels(records: list[BoxRecord], root: Path, classes: list[str]) -> None:
    (root / FILE).write_text(json.dumps(to_dict(records, classes)), encoding="utf-8")
