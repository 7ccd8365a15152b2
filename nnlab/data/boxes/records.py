"""The one in-memory form every box format is read into and written from, plus the helpers the formats share.

A ``BoxRecord`` is one image: its file name (relative to the dataset's ``images/`` folder), its size and its boxes
in absolute pixel xyxy with class names. Coordinates are kept to 1/100 pixel (``PRECISION``) so that formats which
store other numbers (YOLO's normalized centres, COCO's widths) round-trip exactly.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from nnlab.data.imageio import IMAGE_SUFFIXES
from nnlab.errors import DataError

PRECISION = 2  # decimals of a pixel kept in every coordinate


@dataclass
class BoxRecord:
    """One image and its boxes: ``boxes`` float64 (n, 4) xyxy pixels, ``names`` n class names."""

    file: str
    width: int
    height: int
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    names: list[str] = field(default_factory=list)
    source: Path | None = None  # where the image file is read from when the record is written elsewhere
    crowd: np.ndarray | None = None  # bool (n,): COCO's iscrowd / VOC's difficult (YOLO and KITTI drop it)

    def __post_init__(self) -> None:
        self.boxes = np.round(np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4), PRECISION) + 0.0
        self.crowd = np.zeros(len(self.boxes), bool) if self.crowd is None else np.asarray(self.crowd, bool)
        if len(self.boxes) != len(self.names) or len(self.crowd) != len(self.names):
            raise DataError(f"{self.file}: {len(self.boxes)} boxes but {len(self.names)} class names")

    def subset(self, keep: np.ndarray) -> "BoxRecord":
        return BoxRecord(self.file, self.width, self.height, self.boxes[keep],
                         [n for n, k in zip(self.names, keep) if k], self.source, self.crowd[keep])


@dataclass
class BoxSet:
    """A dataset of records; ``classes`` fixes the class ids (its order) and may hold classes with no boxes."""

    records: list[BoxRecord]
    classes: list[str]
    warnings: list[str] = field(default_factory=list)  # problems found while reading (see Issues)
    errors: list[str] = field(default_factory=list)  # only when read leniently (``nnlab data check``)

    def labels(self, record: BoxRecord) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index[n] for n in record.names], dtype=np.int64)


class Issues:
    """Collects problems while reading. Strict (reading for use): an error raises one DataError naming the file
    and line. Lenient (``nnlab data check``): errors and warnings are listed and the reader goes on."""

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict
        self.errors: list[str] = []
        self.warnings: list[str] = []

    @staticmethod
    def where(path: Path | str, line: int | None = None) -> str:
        return f"{path}" + (f", line {line}" if line is not None else "")

    def error(self, path: Path | str, message: str, line: int | None = None) -> None:
        text = f"{self.where(path, line)}: {message}"
        if self.strict:
            raise DataError(text)
        self.errors.append(text)

    def warn(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.warnings.append(f"{self.where(path, line)}: {message}")


def checked_boxes(boxes: np.ndarray, width: int, height: int, path: Path | str, issues: Issues,
                  lines: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(boxes clipped to the image, mask of the boxes to keep). Inverted or zero-area boxes are errors (dropped
    when lenient); boxes reaching outside the image are warned about and clipped."""
    boxes = np.round(boxes, PRECISION) + 0.0  # YOLO's normalized floats land on the same 1/100 pixel grid
    keep = np.ones(len(boxes), dtype=bool)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        line = lines[i] if lines else None
        if x2 <= x1 or y2 <= y1:
            issues.error(path, f"box {format_box(boxes[i])} has {'zero' if x2 == x1 or y2 == y1 else 'negative'} "
                               "size (need x1 < x2 and y1 < y2)", line)
            keep[i] = False
        elif x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            issues.warn(path, f"box {format_box(boxes[i])} reaches outside the {width}x{height} image; clipped", line)
    out = boxes
    out[:, 0::2] = out[:, 0::2].clip(0, width)
    out[:, 1::2] = out[:, 1::2].clip(0, height)
    return out, keep


def format_box(box: np.ndarray) -> str:
    return "(" + ", ".join(fmt(v) for v in box) + ")"


def fmt(value: float) -> str:
    """A coordinate as short text: integers without a point, else up to PRECISION decimals."""
    text = f"{round(float(value), PRECISION):.{PRECISION}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def shared_places(name: str, env: str) -> list[Path]:
    """Where a shared dataset may live: ``$env``, else ``../shared/datasets/NAME`` from the working directory or
    beside the repository."""
    places = [Path(os.environ[env])] if os.environ.get(env) else []
    return places + [Path("../shared/datasets") / name, Path(__file__).resolve().parents[4] / "shared/datasets" / name]


def image_files(folder: Path) -> dict[str, Path]:
    """Image files under ``folder`` by their stem (file name without suffix)."""
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


def image_size(path: Path, issues: Issues, label_path: Path | str) -> tuple[int, int] | None:
    """(width, height) from the image header (no decoding); a missing or unreadable image is an error."""
    try:
        with Image.open(path) as img:
            return img.size
    except FileNotFoundError:
        issues.error(label_path, f"labels an image that does not exist: {path}")
    except (UnidentifiedImageError, OSError) as e:
        issues.error(label_path, f"cannot read image {path}: {e}")
    return None


def images_dir(root: Path) -> Path:
    """The folder holding a dataset's images: ``images/`` (or VOC's ``JPEGImages/``), else ``root`` itself."""
    for name in ("images", "JPEGImages"):
        if (root / name).is_dir():
            return root / name
    return root


@contextmanager
def atomic_dir(out: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``out`` and rename it to ``out`` only when the block succeeds, so a failed
    write leaves nothing half-way. ``out`` must not exist or be an empty folder."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"output folder {out} already exists and is not empty; choose a new --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def copy_images(records: list[BoxRecord], folder: Path) -> None:
    """Copy each record's source image into ``folder`` under the record's file name."""
    folder.mkdir(parents=True, exist_ok=True)
    for r in records:
        if r.source is None or not Path(r.source).is_file():
            raise DataError(f"image of {r.file} not found at {r.source}")
        shutil.copyfile(r.source, folder / r.file)


def read_text(path: Path, issues: Issues) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        issues.error(path, f"cannot read: {e}")
        return None
