"""Pascal VOC XML: ``annotations/<stem>.xml`` per image (``<filename>``, ``<size>``, ``<object>`` with ``<name>``
and ``<bndbox>`` xmin/ymin/xmax/ymax in pixels), images in ``images/`` (or ``JPEGImages/``). ``<difficult>1``
objects become ``crowd`` (both are regions evaluation ignores) and are written back as difficult."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from nnlab.data.boxes.records import BoxRecord, Issues, checked_boxes, fmt, image_size, images_dir

LABEL_DIRS = ("annotations", "Annotations")


def label_dir(root: Path) -> Path | None:
    return next((root / d for d in LABEL_DIRS if (root / d).is_dir() and any((root / d).glob("*.xml"))), None)


def read(root: Path, issues: Issues) -> list[BoxRecord]:
    folder, images = label_dir(root), images_dir(root)
    if folder is None:
        return []
    out = []
    for path in sorted(folder.glob("*.xml")):
        record = read_one(path, images, issues)
        if record is not None:
            out.append(record)
    return out


def read_one(path: Path, images: Path, issues: Issues) -> BoxRecord | None:
    try:
        tree = ET.parse(path).getroot()
    except ET.ParseError as e:
        issues.error(path, f"malformed XML: {e}", e.position[0])
        return None
    name = (tree.findtext("filename") or "").strip()
    image = images / name
    if not name or not image.is_file():  # a <filename> without its suffix, or none: the image with the XML's stem
        image = next(iter(sorted(images.glob(path.stem + ".*"))), image if name else images / path.stem)
    size = image_size(image, issues, path)
    if size is None:
        return None
    width, height = _int(tree.findtext("size/width")) or size[0], _int(tree.findtext("size/height")) or size[1]
    boxes, names, difficult = [], [], []
    for i, obj in enumerate(tree.iter("object")):
        box = obj.find("bndbox")
        values = [_float(box.findtext(k)) if box is not None else None for k in ("xmin", "ymin", "xmax", "ymax")]
        label = (obj.findtext("name") or "").strip()
        if None in values or not label:
            issues.error(path, f"object {i + 1} lacks a <name> or one of <bndbox> xmin/ymin/xmax/ymax as numbers")
            continue
        boxes.append(values)
        names.append(label)
        difficult.append((obj.findtext("difficult") or "0").strip() == "1")
    boxes_arr, keep = checked_boxes(np.array(boxes, dtype=np.float64).reshape(-1, 4), width, height, path, issues)
    return BoxRecord(image.name, width, height, boxes_arr, names, image, np.array(difficult, bool)).subset(keep)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    value = _float(text)
    return int(value) if value else None


def write_labels(records: list[BoxRecord], root: Path, channels: int = 3) -> None:
    folder = root / "annotations"
    folder.mkdir(parents=True, exist_ok=True)
    for r in records:
        ann = ET.Element("annotation")
        ET.SubElement(ann, "folder").text = "images"
        ET.SubElement(ann, "filename").text = r.file
        size = ET.SubElement(ann, "size")
        for key, value in (("width", r.width), ("height", r.height), ("depth", channels)):
            ET.SubElement(size, key).text = str(value)
        for box, name, crowd in zip(r.boxes, r.names, r.crowd.tolist()):
            obj = ET.SubElement(ann, "object")
            ET.SubElement(obj, "name").text = name
            ET.SubElement(obj, "difficult").text = str(int(crowd))
            bnd = ET.SubElement(obj, "bndbox")
            for key, value in zip(("xmin", "ymin", "xmax", "ymax"), box):
                ET.SubElement(bnd, key).text = fmt(value)
        ET.indent(ann)
        ET.ElementTree(ann).write(folder / f"{Path(r.file).stem}.xml", encoding="utf-8", xml_declaration=False)
