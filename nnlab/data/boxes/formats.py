"""Read any of the four box formats from a folder (detected, or named) and write any of them atomically.

Layout (all formats): images in ``images/``; labels in ``annotations/*.xml`` (voc), ``annotations.json`` (coco),
``labels/*.txt`` + ``classes.txt`` (yolo) or ``labels/*.txt`` (kitti). voc and kitti also write ``classes.txt``
so the class order (the ids) survives; without it their classes are the sorted names found.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from nnlab.data.boxes import coco, textlabels, voc
from nnlab.data.boxes.records import BoxRecord, BoxSet, Issues, atomic_dir, copy_images, image_files, images_dir
from nnlab.errors import DataError

FORMATS = ("voc", "coco", "yolo", "kitti")
CLASSES_FILE = "classes.txt"


def detect(root: str | Path) -> str:
    """The format of a folder, from which label files it holds."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}")
    if voc.label_dir(root) is not None:
        return "voc"
    if coco.label_file(root) is not None:
        return "coco"
    if (root / "labels").is_dir():
        return textlabels.sniff(root) or ("yolo" if (root / CLASSES_FILE).is_file() else "kitti")
    raise DataError(f"{root} holds no box labels: expected annotations/*.xml (voc), annotations.json (coco) or "
                    "labels/*.txt (yolo with classes.txt, or kitti)")


def read_classes(root: Path, issues: Issues) -> list[str] | None:
    path = root / CLASSES_FILE
    if not path.is_file():
        return None
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(set(names)) != len(names):
        issues.error(path, "lists a class name twice")
    return names


def read(root: str | Path, fmt: str | None = None, strict: bool = True) -> BoxSet:
    """Every labelled image of the folder. Strict: the first problem raises a DataError naming the file (and
    line); lenient: errors are collected in ``BoxSet.errors`` (their boxes or files left out) for
    ``nnlab data check``. Warnings (boxes clipped to the image) are collected either way."""
    root = Path(root)
    fmt = fmt or detect(root)
    if fmt not in FORMATS:
        raise DataError(f"unknown box format {fmt!r}; valid: {', '.join(FORMATS)}")
    issues = Issues(strict)
    listed = read_classes(root, issues)
    if fmt == "coco":
        records, classes = coco.read(root, issues)
    elif fmt == "voc":
        records, classes = voc.read(root, issues), listed
    else:
        if fmt == "yolo" and listed is None:
            issues.error(root / CLASSES_FILE, "YOLO labels need classes.txt (one class name per line, id = line - 1)")
            listed = []
        parse = textlabels.parse_yolo if fmt == "yolo" else textlabels.parse_kitti
        records, classes = textlabels.read(root, issues, parse, listed or []), listed
    if not records and not issues.errors:
        issues.error(root, f"empty dataset: no labelled images found ({fmt} layout)")
    classes = _known_classes(records, classes, root, issues)
    return BoxSet(records, classes, issues.warnings, issues.errors)


def _known_classes(records: list[BoxRecord], classes: list[str] | None, root: Path, issues: Issues) -> list[str]:
    """The given class list, with every name outside it reported as an unknown class (and its box dropped when
    lenient); without a list, the sorted names found."""
    found = sorted({n for r in records for n in r.names})
    if classes is None:
        return found
    known = set(classes)
    for i, r in enumerate(records):
        unknown = [n for n in r.names if n not in known]
        if unknown:
            issues.error(r.source or r.file, f"unknown class(es) {sorted(set(unknown))} (not in {classes})")
            records[i] = r.subset([n in known for n in r.names])
    return list(classes)


def write_labels(boxes: BoxSet, root: Path, fmt: str, channels: int = 3) -> None:
    """Write only the label files of ``fmt`` into ``root`` (the images are the caller's)."""
    writers: dict[str, Callable[[], None]] = {
        "voc": lambda: voc.write_labels(boxes.records, root, channels),
        "coco": lambda: coco.write_labels(boxes.records, root, boxes.classes),
        "yolo": lambda: textlabels.write_labels(boxes.records, root, boxes.classes, yolo=True),
        "kitti": lambda: textlabels.write_labels(boxes.records, root, boxes.classes, yolo=False)}
    if fmt not in writers:
        raise DataError(f"unknown box format {fmt!r}; valid: {', '.join(FORMATS)}")
    unknown = {n for r in boxes.records for n in r.names} - set(boxes.classes)
    if unknown:
        raise DataError(f"boxes name classes {sorted(unknown)} missing from the class list {boxes.classes}")
    writers[fmt]()
    if fmt != "coco":
        (root / CLASSES_FILE).write_text("".join(c + "\n" for c in boxes.classes), encoding="utf-8")


def write(boxes: BoxSet, out: str | Path, fmt: str) -> Path:
    """Images (copied from each record's source) and labels in ``fmt`` into the new folder ``out``, atomically."""
    if not boxes.records:
        raise DataError("empty dataset: nothing to write")
    with atomic_dir(out) as tmp:
        copy_images(boxes.records, tmp / "images")
        write_labels(boxes, tmp, fmt)
    return Path(out)


def convert(src: str | Path, out: str | Path, to: str, fmt: str | None = None) -> BoxSet:
    boxes = read(src, fmt)
    write(boxes, out, to)
    return boxes


def check(root: str | Path, fmt: str | None = None) -> BoxSet:
    """Read leniently and add a warning for every image file that no label refers to."""
    boxes = read(root, fmt, strict=False)
    root = Path(root)
    label_files = [*root.glob("annotations/*.xml"), *root.glob("Annotations/*.xml"), *root.glob("labels/*.txt")]
    used = {Path(r.file).stem for r in boxes.records} | {p.stem for p in label_files}
    folder = images_dir(root)
    boxes.warnings += [f"{p}: image without labels (no label file refers to it)"
                       for stem, p in image_files(folder).items() if stem not in used]
    return boxes
