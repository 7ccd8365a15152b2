"""Train / validation / test splits: fixed ones from the source, or stratified fractions with a seed."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence, TypeVar

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from nnlab.data.dataset import ImageDataset
from nnlab.errors import DataError

T = TypeVar("T")


def stratified_indices(labels: torch.Tensor, size: float | int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (rest, taken) with ``size`` (fraction or count) taken, class ratios kept."""
    y = labels.numpy()
    idx = np.arange(len(y))
    counts = np.bincount(y)
    return _draw(idx, size, seed, y if counts[counts > 0].min() >= 2 else None)


def make_splits(splits: dict[str, ImageDataset], val_fraction: float, test_fraction: float,
                train_size: int | None, seed: int) -> dict[str, ImageDataset]:
    """Fill in missing ``test`` / ``val`` splits from ``train`` and optionally subsample ``train``."""
    check_classes(splits["train"])
    out = dict(splits)
    if "test" not in out and test_fraction > 0:
        rest, taken = stratified_indices(out["train"].labels, test_fraction, seed)
        out["train"], out["test"] = out["train"].subset(rest), out["train"].subset(taken)
    if "val" not in out and val_fraction > 0:
        rest, taken = stratified_indices(out["train"].labels, val_fraction, seed + 1)
        out["train"], out["val"] = out["train"].subset(rest), out["train"].subset(taken)
    if train_size is not None and train_size < len(out["train"]):
        _, taken = stratified_indices(out["train"].labels, train_size, seed + 2)
        out["train"] = out["train"].subset(taken)
    return out


def check_classes(train: ImageDataset) -> None:
    """Refuse training data of a single class: every prediction would be right, so accuracy says nothing."""
    present = sorted(set(train.labels.unique().tolist()))
    if len(present) < 2:
        which = f" ({train.classes[present[0]]!r})" if present and present[0] < len(train.classes) else ""
        raise DataError(f"the training data holds only one class{which}; a classifier needs at least two "
                        "(with one, accuracy is 100% and meaningless)")


def fraction_splits(dataset: T, val_fraction: float, test_fraction: float, train_size: int | None,
                    seed: int) -> dict[str, T]:
    """``train`` / ``val`` / ``test`` drawn at random (seeded, not stratified: for samples without one class
    label, such as segmentation masks) from any dataset with ``len`` and ``subset(indices)``. The same draws
    as ``make_splits``: test with ``seed``, then val from the rest with ``seed + 1``, train subsample ``seed + 2``."""
    rest, out = np.arange(len(dataset)), {}
    for split, fraction, offset in (("test", test_fraction, 0), ("val", val_fraction, 1)):
        if fraction > 0:
            rest, taken = _draw(rest, fraction, seed + offset)
            out[split] = taken
    if train_size is not None and train_size < len(rest):
        _, rest = _draw(rest, train_size, seed + 2)
    return {"train": dataset.subset(rest), **{k: dataset.subset(v) for k, v in reversed(out.items())}}


def _draw(idx: np.ndarray, size: float | int, seed: int,
          stratify: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rest, taken) index arrays, sorted, with ``size`` (fraction or count) of ``idx`` taken."""
    try:
        rest, taken = train_test_split(idx, test_size=size, random_state=seed, stratify=stratify)
    except ValueError as e:
        raise DataError(f"cannot split {len(idx)} samples: {e}") from None
    return np.sort(rest), np.sort(taken)


def select_subset(splits: dict[str, ImageDataset], train_indices: Sequence[int] | np.ndarray | None,
                  val_indices: Sequence[int] | np.ndarray | None = None) -> dict[str, ImageDataset]:
    """Train on chosen samples of the training split (repeats allowed: bootstrap samples) and, with
    ``val_indices``, validate on other samples of it instead of the validation split (k-fold CV)."""
    out = dict(splits)
    full = splits["train"]
    if val_indices is not None:
        out["val"] = full.subset(_checked(val_indices, len(full), "val_indices"))
    if train_indices is not None:
        out["train"] = full.subset(_checked(train_indices, len(full), "train_indices"))
    return out


def save_subset(path: str | Path, train_indices: Sequence[int] | np.ndarray | None,
                val_indices: Sequence[int] | np.ndarray | None) -> None:
    """Store a run's subset indices so that evaluating or resuming it sees the same data."""
    arrays = {k: np.asarray(v, dtype=np.int64) for k, v in (("train", train_indices), ("val", val_indices))
              if v is not None}
    np.savez(Path(path), **arrays)


def load_subset(path: str | Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(train_indices, val_indices) saved by ``save_subset``; (None, None) when there is no file."""
    path = Path(path)
    if not path.is_file():
        return None, None
    with np.load(path) as f:
        return (f["train"] if "train" in f else None), (f["val"] if "val" in f else None)


def _checked(indices: Sequence[int] | np.ndarray, n: int, name: str) -> torch.Tensor:
    idx = torch.as_tensor(np.asarray(indices))
    if idx.ndim != 1 or len(idx) == 0 or idx.dtype not in (torch.int32, torch.int64):
        raise DataError(f"{name} must be a non-empty 1-D list of integer sample indices")
    if int(idx.min()) < 0 or int(idx.max()) >= n:
        raise DataError(f"{name} must lie in 0..{n - 1} (the training split has {n} samples), "
                        f"got {int(idx.min())}..{int(idx.max())}")
    return idx.long()


def select_classes(splits: dict[str, ImageDataset], names: Sequence[str | int]) -> dict[str, ImageDataset]:
    """Keep only the named classes in every split, relabelled 0..k-1 in the order given (class subsets for
    transfer learning: pretrain on digits 0-4, fine-tune on 5-9)."""
    classes = splits["train"].classes
    wanted = [str(n) for n in names]
    unknown = [n for n in wanted if n not in classes]
    if unknown or len(set(wanted)) != len(wanted) or not wanted:
        raise DataError(f"config key 'data.classes' got {list(names)}; give distinct names among: "
                        f"{', '.join(classes)}")
    old = torch.tensor([classes.index(n) for n in wanted])
    out = {}
    for split, ds in splits.items():
        keep = torch.isin(ds.labels, old)
        relabel = torch.full((len(classes),), -1, dtype=torch.int64)
        relabel[old] = torch.arange(len(old))
        out[split] = ImageDataset(ds.images[keep], relabel[ds.labels[keep]], wanted)
    return out
