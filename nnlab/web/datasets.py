"""Datasets for the workbench: image folders (one subfolder per class) or box folders (VOC / COCO / YOLO / KITTI
labels, for detection) confined to allowed roots, or uploaded zips unpacked safely."""
from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import BinaryIO, Sequence

from nnlab.data.folder import scan, split_folders
from nnlab.data.imageio import IMAGE_SUFFIXES
from nnlab.errors import DataError, UserError

BOXES = "boxes"  # the key of a box dataset's counts (boxes per class); image folders count images per split


class PathError(UserError):
    """A path outside the allowed roots (``../`` escapes, absolute paths elsewhere, symlinks out)."""


def confine(path: str | Path, roots: Sequence[Path]) -> Path:
    """The resolved path, if it lies inside one of ``roots`` (symlinks resolved first)."""
    if "\x00" in str(path):
        raise PathError("path contains a NUL byte")
    try:
        resolved = Path(path).expanduser().resolve()
    except (RuntimeError, OSError) as e:  # ~nosuchuser, loops, over-long names
        raise PathError(f"path {path!r} cannot be resolved ({e})") from None
    for root in roots:
        if resolved == root.resolve() or resolved.is_relative_to(root.resolve()):
            return resolved
    raise PathError(f"path {path!r} is outside the allowed roots ({', '.join(str(r) for r in roots)})")


def class_counts(path: Path) -> dict[str, dict[str, int]]:
    """``{split: {class: images}}`` of an image folder (one subfolder per class, or train/val/test)."""
    counts: dict[str, dict[str, int]] = {}
    for split, folder in split_folders(path).items():
        items, classes = scan(folder)
        counts[split] = {name: 0 for name in classes}
        for _, index in items:
            counts[split][classes[index]] += 1
    return counts


def folder_counts(path: Path) -> dict[str, dict[str, int]]:
    """A box folder's ``{"boxes": {class: boxes}}`` when it holds box labels, else ``class_counts``."""
    from nnlab.data.boxes import detect, read

    try:
        detect(path)
    except DataError:
        return class_counts(path)
    boxes = read(path)
    counts = {name: 0 for name in boxes.classes}
    for record in boxes.records:
        confine(record.source or path / record.file, [path])  # labels may not point at images elsewhere
        for name in record.names:
            counts[name] += 1
    return {BOXES: counts}


def box_preview(path: Path, n: int = 12, size: int = 160) -> bytes:
    """A PNG of the folder's first ``n`` labelled images (resized to ``size``) with their boxes drawn."""
    from nnlab.data.boxes import BoxSet, read
    from nnlab.data.boxes.dataset import from_boxset
    from nnlab.data.boxes.draw import box_grid

    boxes = read(path)
    first = BoxSet(boxes.records[:n], boxes.classes)
    for record in first.records:
        confine(record.source or path / record.file, [path])
    shown = from_boxset(first, (size, size))
    out = io.BytesIO()
    box_grid(shown.images, shown.targets, boxes.classes, n=n).save(out, format="PNG")
    return out.getvalue()


def samples(path: Path, per_class: int = 4) -> dict[str, list[str]]:
    """A few image files per class of the training split, relative to ``path``, for the gallery."""
    train = split_folders(path)["train"]
    items, classes = scan(train)
    out: dict[str, list[str]] = {name: [] for name in classes}
    for file, index in items:
        if len(out[classes[index]]) < per_class:
            out[classes[index]].append(str(file.relative_to(path)))
    return out


def unpack_zip(upload: BinaryIO, dest: Path, max_bytes: int, max_files: int = 100_000) -> Path:
    """Unpack an uploaded zip into ``dest`` (which must not exist): no member may escape ``dest``, be a
    link, or push the unpacked size past ``max_bytes``. Returns the dataset folder (``dest`` or its single
    top-level folder)."""
    try:
        zf = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError) as e:
        raise UserError(f"the upload is not a zip file ({e})") from None
    with zf:
        members = zf.infolist()
        if len(members) > max_files:
            raise UserError(f"the zip holds {len(members)} entries (limit {max_files})")
        if sum(m.file_size for m in members) > max_bytes:
            raise UserError(f"the zip unpacks to more than the limit of {max_bytes} bytes")
        base = dest.resolve()
        for m in members:
            target = (base / m.filename).resolve()
            if m.filename.startswith("/") or "\\" in m.filename or not target.is_relative_to(base):
                raise PathError(f"zip entry {m.filename!r} would be written outside the dataset folder")
            if (m.external_attr >> 16) & 0o170000 == 0o120000:
                raise PathError(f"zip entry {m.filename!r} is a symbolic link")
        dest.mkdir(parents=True)
        try:
            written = 0
            for m in members:
                target = (base / m.filename).resolve()
                if m.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, target.open("wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > max_bytes:  # the sizes in the zip's directory can lie
                            raise UserError(f"the zip unpacks to more than the limit of {max_bytes} bytes")
                        out.write(chunk)
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)
            raise
    entries = [p for p in dest.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
