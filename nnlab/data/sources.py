"""Dataset sources by name. Each returns its predefined splits: ``{"train": ..., ["val": ...], ["test": ...]}``.

MNIST and CIFAR read local files; with ``download=True`` they fetch them first through torchvision
(for users with internet; the tests never download).
"""
from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnlab.data import cache, folder
from nnlab.data.dataset import ImageDataset
from nnlab.data.idx import IMAGES, LABELS, read_idx
from nnlab.errors import DataError
from nnlab.registry import Registry

Splits = dict[str, ImageDataset]
DATASETS: Registry[Splits] = Registry("dataset")


@DATASETS.register("digits")
def digits(**_: Any) -> Splits:
    """scikit-learn's 8x8 handwritten digits (1797 images, shipped with scikit-learn)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = torch.from_numpy(np.round(d.images * (255 / 16)).astype(np.uint8))[:, None]  # (N, 1, 8, 8)
    return {"train": ImageDataset(images, torch.from_numpy(d.target).long(), [str(c) for c in range(10)])}


_MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@DATASETS.register("mnist")
def mnist(path: str | None = None, download: bool = False, **_: Any) -> Splits:
    """MNIST from the four IDX files (``.gz`` or raw) in ``path``."""
    root = _require_path(path, "mnist")
    if download:
        from torchvision.datasets import MNIST

        for train in (True, False):
            MNIST(str(root), train=train, download=True)
        root = root / "MNIST" / "raw"
    out = {}
    for split, (img_name, lbl_name) in _MNIST_FILES.items():
        images = read_idx(_find(root, img_name), IMAGES)
        labels = read_idx(_find(root, lbl_name), LABELS)
        if images.ndim != 3:
            raise DataError(f"{img_name} in {root} holds labels, not images (rank {images.ndim})")
        if len(images) != len(labels):
            raise DataError(f"MNIST {split}: {len(images)} images but {len(labels)} labels in {root}")
        out[split] = ImageDataset(torch.from_numpy(images.copy())[:, None], torch.from_numpy(labels.astype(np.int64)),
                                  [str(c) for c in range(10)])
    return out


def _cifar(path: str | None, download: bool, name: str) -> Splits:
    root = _require_path(path, name)
    if download:
        from torchvision.datasets import CIFAR10, CIFAR100

        cls = CIFAR10 if name == "cifar10" else CIFAR100
        for train in (True, False):
            cls(str(root), train=train, download=True)
    sub = "cifar-10-batches-py" if name == "cifar10" else "cifar-100-python"
    base = root / sub if (root / sub).is_dir() else root
    files = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]} if name == "cifar10" \
        else {"train": ["train"], "test": ["test"]}
    key = b"labels" if name == "cifar10" else b"fine_labels"
    meta = _unpickle(base / ("batches.meta" if name == "cifar10" else "meta"))
    classes = [c.decode() for c in meta[b"label_names" if name == "cifar10" else b"fine_label_names"]]
    out = {}
    for split, names in files.items():
        batches = [_unpickle(base / n) for n in names]
        data = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32)
        labels = np.concatenate([np.asarray(b[key]) for b in batches]).astype(np.int64)
        out[split] = ImageDataset(torch.from_numpy(data), torch.from_numpy(labels), classes)
    return out


@DATASETS.register("cifar10")
def cifar10(path: str | None = None, download: bool = False, **_: Any) -> Splits:
    """CIFAR-10 python pickles (``cifar-10-batches-py``)."""
    return _cifar(path, download, "cifar10")


@DATASETS.register("cifar100")
def cifar100(path: str | None = None, download: bool = False, **_: Any) -> Splits:
    """CIFAR-100 python pickles (``cifar-100-python``), fine labels."""
    return _cifar(path, download, "cifar100")


@DATASETS.register("folder")
def image_folder(path: str | None = None, image_size: list[int] | None = None, channels: int | None = None,
                 resize_mode: str = "squash", progress: bool = True, size_hint: str | None = None,
                 **_: Any) -> Splits:
    """One subfolder per class; or ``train/``, ``val/``, ``test/`` each holding class subfolders.
    ``size_hint``: how to give a size when the images' sizes differ (the CLI names its flag)."""
    splits = folder.split_folders(_require_path(path, "folder"))
    items, classes = folder.scan(splits["train"])
    if len(classes) < 2:  # before decoding anything (make_splits checks every source again)
        raise DataError(f"{splits['train']} has one class folder ({classes[0]}); a classifier needs at least two")
    if image_size is None or channels is None:
        hint = {"size_hint": size_hint} if size_hint else {}
        auto_channels, image_size = folder.infer_geometry(items, image_size and tuple(image_size), **hint)
        channels = channels or auto_channels
    return {name: folder.read_folder(p, channels, tuple(image_size), resize_mode, classes, progress)
            for name, p in splits.items()}


@DATASETS.register("cache")
def built_cache(path: str | None = None, **_: Any) -> Splits:
    """A dataset built by ``nnlab data build`` (memory-mapped uint8 tensors + manifest)."""
    return cache.load(_require_path(path, "cache"))


def load_splits(name: str, **options: Any) -> Splits:
    return DATASETS.build(name, **options)


def _require_path(path: str | None, name: str) -> Path:
    if not path:
        raise DataError(f"dataset '{name}' needs data.path")
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"dataset path not found: {p}")
    return p


def _find(root: Path, stem: str) -> Path:
    for cand in (root / f"{stem}.gz", root / stem, root / stem.replace("-idx", ".idx")):
        if cand.is_file():
            return cand
    raise DataError(f"MNIST file {stem}[.gz] not found in {root}")


class _CifarUnpickler(pickle.Unpickler):
    """Admits only what CIFAR batches hold (dicts, lists, bytes, ints and numeric numpy arrays): a batch
    that names any other global (``os.system``, ``builtins.eval``...) is refused before anything is called."""

    ALLOWED = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
               ("_codecs", "encode"): codecs.encode,  # bytes pickled by python 3 with protocol 2
               **{(m, "_reconstruct"): np.empty(0).__reduce__()[0]  # arrays pickled with protocol 2 (the files)
                  for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
               **{(m, "_frombuffer"): np.empty(0).__reduce_ex__(5)[0]  # ... and with protocol 5
                  for m in ("numpy.core.numeric", "numpy._core.numeric")}}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a CIFAR batch never holds; "
                                         "nnlab refuses to load it")
        return self.ALLOWED[(module, name)]


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise DataError(f"CIFAR file not found: {path}")
    try:
        with path.open("rb") as f:
            out = _CifarUnpickler(f, encoding="bytes").load()
    except Exception as e:
        raise DataError(f"CIFAR file {path} cannot be read: {e}") from None
    if not isinstance(out, dict) or any(isinstance(v, np.ndarray) and v.dtype == object for v in out.values()):
        raise DataError(f"CIFAR file {path} is not a CIFAR batch (expected a dict of arrays and lists)")
    return out


