"""The two one-text-file-per-image formats: YOLO (``class cx cy w h``, normalized to the image size, class ids
into ``classes.txt``) and KITTI as DIGITS' DetectNet reads it (15 space-separated columns: type, truncated,
occluded, alpha, x1 y1 x2 y2 in pixels, then 3-D fields DetectNet ignores). Labels live in ``labels/<stem>.txt``,
images in ``images/``; an empty label file is an image with no objects."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from nnlab.data.boxes.records import BoxRecord, Issues, checked_boxes, image_files, image_size, images_dir, read_text
from nnlab.errors import DataError

KITTI_COLUMNS = 15
YOLO_DECIMALS = 8  # normalized coordinates to 1e-8: under 1/100 pixel for images up to 10^6 pixels wide
# one label line -> (class name, xyxy box in pixels) or an error message
LineParser = Callable[[list[str], int, int, list[str]], "tuple[str, list[float]] | str"]


def parse_yolo(fields: list[str], width: int, height: int, classes: list[str]) -> tuple[str, list[float]] | str:
    if len(fields) != 5:
        return f"expected 5 fields (class cx cy w h), got {len(fields)}"
    try:
        cls = int(fields[0])
        cx, cy, w, h = (float(v) for v in fields[1:])
    except ValueError:
        return f"expected an integer class id and 4 numbers, got {' '.join(fields)!r}"
    if not 0 <= cls < len(classes):
        return f"class id {cls} is outside the class list (0..{len(classes) - 1}, classes.txt)"
    return classes[cls], [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]


def parse_kitti(fields: list[str], width: int, height: int, classes: list[str]) -> tuple[str, list[float]] | str:
    if len(fields) not in (KITTI_COLUMNS, KITTI_COLUMNS + 1):  # a 16th column is a detection score
        return f"expected {KITTI_COLUMNS} columns (type truncated occluded alpha x1 y1 x2 y2 h w l x y z ry), " \
               f"got {len(fields)}"
    try:
        box = [float(v) for v in fields[4:8]]
    except ValueError:
        return f"columns 5-8 (x1 y1 x2 y2) must be numbers, got {' '.join(fields[4:8])!r}"
    return fields[0], box


def yolo_line(box: np.ndarray, cls: int, width: int, height: int) -> str:
    x1, y1, x2, y2 = box
    values = ((x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height)
    return f"{cls} " + " ".join(f"{v:.{YOLO_DECIMALS}f}" for v in values)


def kitti_line(box: np.ndarray, name: str) -> str:
    if not name or any(ch.isspace() for ch in name):
        raise DataError(f"class name {name!r} cannot be written to KITTI (its columns are space-separated)")
    return f"{name} 0.00 0 0.00 " + " ".join(f"{v:.2f}" for v in box) + " 0.00" * 7


def read(root: Path, issues: Issues, parse: LineParser, classes: list[str]) -> list[BoxRecord]:
    labels, images = root / "labels", image_files(images_dir(root))
    out = []
    for path in sorted(labels.glob("*.txt")):
        image = images.get(path.stem)
        if image is None:
            issues.error(path, f"labels an image that does not exist: {images_dir(root) / path.stem}.*")
            continue
        record = read_one(path, image, issues, parse, classes)
        if record is not None:
            out.append(record)
    return out


def read_one(path: Path, image: Path, issues: Issues, parse: LineParser, classes: list[str]) -> BoxRecord | None:
    size, text = image_size(image, issues, path), read_text(path, issues)
    if size is None or text is None:
        return None
    boxes, names, lines = [], [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parsed = parse(line.split(), size[0], size[1], classes)
        if isinstance(parsed, str):
            issues.error(path, parsed, number)
            continue
        names.append(parsed[0])
        boxes.append(parsed[1])
        lines.append(number)
    boxes_arr, keep = checked_boxes(np.array(boxes, dtype=np.float64).reshape(-1, 4), size[0], size[1], path,
                                    issues, lines)
    return BoxRecord(image.name, size[0], size[1], boxes_arr, names, image).subset(keep)


def write_labels(records: list[BoxRecord], root: Path, classes: list[str], yolo: bool) -> None:
    folder = root / "labels"
    folder.mkdir(parents=True, exist_ok=True)
    index = {c: i for i, c in enumerate(classes)}
    for r in records:
        rows = [yolo_line(b, index[n], r.width, r.height) if yolo else kitti_line(b, n)
                for b, n in zip(r.boxes, r.names)]
        (folder / f"{Path(r.file).stem}.txt").write_text("".join(row + "\n" for row in rows), encoding="utf-8")


def sniff(root: Path) -> str | None:
    """'yolo' or 'kitti' from the first label line's field count (None when every label file is empty)."""
    for path in sorted((root / "labels").glob("*.txt")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for line in text.splitlines():
            if line.strip():
                return "yolo" if len(line.split()) == 5 else "kitti"
    return None
