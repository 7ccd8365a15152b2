"""Box dataset sources by name (for the ``detect`` task's ``data.dataset``): each returns its splits,
``{"train": BoxDataset, ["val": ...], ["test": ...]}``, like ``nnlab.data.sources`` does for classification."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from nnlab.data.boxes.dataset import BoxDataset, load_box_folder, raccoon
from nnlab.data.boxes.scenes import generate_scenes
from nnlab.errors import DataError
from nnlab.registry import Registry

BoxSplits = dict[str, BoxDataset]
BOX_DATASETS: Registry[BoxSplits] = Registry("box dataset")
DEFAULT_SIZE = (256, 256)
SPLITS = ("train", "val", "test")


@BOX_DATASETS.register("boxes")
def box_folder(path: str | None = None, image_size: Sequence[int] | None = None, channels: int | None = None,
               resize_mode: str = "squash", format: str | None = None, **_: Any) -> BoxSplits:
    """A box folder in any format (detected unless ``format`` is set), or one with train/ (val/, test/) box
    folders inside."""
    if not path or not Path(path).is_dir():
        raise DataError(f"box dataset folder not found: {path!r} (set data.path)")
    root, size = Path(path), tuple(image_size or DEFAULT_SIZE)
    folders = {s: root / s for s in SPLITS if (root / s).is_dir()} or {"train": root}
    if "train" not in folders:
        raise DataError(f"{root} has {sorted(folders)} subfolders but no train/")
    return {s: load_box_folder(p, size, format, channels or 3, resize_mode) for s, p in folders.items()}


@BOX_DATASETS.register("raccoon")
def raccoon_photos(path: str | None = None, image_size: Sequence[int] | None = None, resize_mode: str = "letterbox",
                   **_: Any) -> BoxSplits:
    """200 raccoon photos, one class, the source's own train (160) / test (40) split."""
    return raccoon(path, tuple(image_size or DEFAULT_SIZE), resize_mode)


@BOX_DATASETS.register("scenes")
def digit_scenes(path: str | None = None, image_size: Sequence[int] | None = None, n: int = 2000, n_test: int = 500,
                 digits: Sequence[int] = (1, 5), scale: Sequence[float] = (0.5, 2.0), clutter: bool = True,
                 seed: int = 0, **_: Any) -> BoxSplits:
    """Generated digit scenes (``path``: the MNIST folder, optional); train and test from different seeds."""
    size = (image_size or (128, 128))[0]
    if image_size is not None and image_size[0] != image_size[1]:
        raise DataError(f"digit scenes are square; got data.image_size {list(image_size)}")
    make = dict(size=size, digits=tuple(digits), scale=tuple(scale), clutter=clutter, mnist_path=path)
    return {"train": generate_scenes(n, seed=seed, **make).dataset(),
            "test": generate_scenes(n_test, seed=seed + 1_000_003, **make).dataset()}


@BOX_DATASETS.register("pennfudan")
def pennfudan_people(path: str | None = None, image_size: Sequence[int] | None = None, **_: Any) -> BoxSplits:
    """Penn-Fudan's 170 street photos read in place (never copied): one class, person, with boxes and instance
    masks (for Mask R-CNN); val and test are drawn from it."""
    from nnlab.data.pennfudan import read_pennfudan

    if not path:
        raise DataError("data.dataset: pennfudan needs data.path (the PennFudanPed folder)")
    people = read_pennfudan(path, tuple(image_size or DEFAULT_SIZE))
    return {"train": BoxDataset(people.images, people.targets, ["person"], people.files)}


def load_box_splits(name: str, **options: Any) -> BoxSplits:
    return BOX_DATASETS.build(name, **options)
