"""Semantic segmentation: a class for every pixel (FCN, SegNet, U-Net from ``SEGMENTERS``).

Data: a DIGITS segmentation folder (``data.dataset: masks``), Penn-Fudan read in place as person / background
(``pennfudan``), generated shapes (``shapes``) or the detect task's digit scenes (``scenes``), resized to
``data.image_size`` (masks by nearest neighbour) and split at random with the run's seed. The ``augment``
section works as in detection (``BoxAugment``: the masks move with the pixels, nearest neighbour; pixels a warp
uncovers become 255 = ignore). Batches are (normalized images (B, C, H, W), int64 masks (B, H, W)) with
255 = ignore. Metrics: pixel accuracy, mean IoU, Dice and boundary IoU; ``val_miou`` picks ``best.pt``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from nnlab.config import Config
from nnlab.data import Preprocess, TensorLoader, augment
from nnlab.data.boxes import augment as box_augment
from nnlab.data.boxes.sources import load_box_splits
from nnlab.data.masks import MaskDataset, overlay_grid, read_mask_folder, semantic_from_instances, voc_palette
from nnlab.data.pennfudan import read_pennfudan
from nnlab.data.shapes import make_shapes
from nnlab.engine.trainer import Logs
from nnlab.errors import ConfigError
from nnlab.metrics.segmentation import SegmentationMetrics
from nnlab.models import transfer
from nnlab.models.segmentation import SEGMENTERS, build_segmentation_loss
from nnlab.tasks.base import TASKS, Indices, Task, TaskData
from nnlab.tasks.detect import split_boxes

SOURCES = ("masks", "pennfudan", "shapes", "scenes")
DEFAULT_SIZE = (128, 128)  # (H, W) when data.image_size is not set
SCALAR_METRICS = ("pixel_accuracy", "miou", "dice", "boundary_iou")


def read_mask_splits(cfg: Config) -> dict[str, MaskDataset]:
    """The configured mask dataset at ``data.image_size`` (H, W): ``{"train": ...}``, plus ``"test"`` for the
    digit scenes, generated as the detect task does (``detect.scenes``; the test scenes from another seed)."""
    d = cfg.data
    size = tuple(d.image_size or DEFAULT_SIZE)
    if d.dataset == "shapes":
        return {"train": make_shapes(cfg.segment.shapes, size, d.channels or 3, cfg.seed)}
    if d.dataset == "scenes":
        s = cfg.detect.scenes
        splits = load_box_splits("scenes", path=d.path, image_size=size, seed=cfg.seed, n=s.n, n_test=s.n_test,
                                 digits=s.digits, scale=s.scale, clutter=s.clutter)
        classes = ["background", *splits["train"].classes]
        return {k: MaskDataset(v.images, semantic_from_instances(v.targets, size), classes, v.files,
                               voc_palette(len(classes)), v.targets) for k, v in splits.items()}
    if d.path is None:
        raise ConfigError(f"data.dataset: {d.dataset} needs data.path (the dataset's folder)")
    if d.dataset == "pennfudan":
        return {"train": read_pennfudan(d.path, size)}
    return {"train": read_mask_folder(d.path, size, channels=d.channels or 3)}


def load_segmentation_data(cfg: Config, train_indices: Indices = None, val_indices: Indices = None) -> TaskData:
    """Random seeded splits (``data.val_fraction`` / ``test_fraction`` / ``train_size``) of the mask dataset
    (a source's own test split is kept), the preprocessing fitted on the training images, the class names and
    colours."""
    d = cfg.data
    given = read_mask_splits(cfg)
    seed = cfg.seed if d.split_seed is None else d.split_seed
    splits = split_boxes(given, d.val_fraction, d.test_fraction, d.train_size, seed)
    train, full = splits["train"], given["train"]
    if val_indices is not None:
        splits["val"] = train.subset(val_indices)
    if train_indices is not None:
        splits["train"] = train.subset(train_indices)
    pre = Preprocess.fit(splits["train"].images, "squash", d.normalize)
    return TaskData(splits, {"classes": full.classes, "palette": [list(c) for c in full.palette],
                             "preprocess": pre.to_dict()})


def to_uint8(x: torch.Tensor, pre: Preprocess) -> torch.Tensor:
    """Normalized images (B, C, H, W) back to uint8 pixels (for overlays)."""
    return (pre.pixels(x) * 255).round().to(torch.uint8)


class SegmentEvaluator:
    """Loss and the confusion-matrix metrics over a split, plus the first images, masks and predictions
    (for the report's overlay grid)."""

    def __init__(self, loss_fn: nn.Module, num_classes: int, pre: Preprocess, ignore_index: int,
                 boundary_ratio: float, keep: int) -> None:
        self.loss_fn, self.pre, self.keep = loss_fn, pre, keep
        self.metrics = SegmentationMetrics(num_classes, ignore_index, boundary_ratio)
        self.loss: Any = None
        self.count = 0
        self.shown: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (image, truth, prediction)

    def update(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        x, y = batch
        logits = model(x).float()  # (B, K, H, W)
        term = self.loss_fn(logits, y).double() * len(y)
        self.loss = term if self.loss is None else self.loss + term
        self.count += len(y)
        pred = logits.argmax(1)  # (B, H, W)
        self.metrics.update(pred, y)
        take = self.keep - len(self.shown)
        if take > 0:
            self.shown += list(zip(to_uint8(x[:take], self.pre).cpu(), y[:take].cpu(), pred[:take].cpu()))

    def compute(self) -> dict[str, float]:
        if not self.count:
            return {k: float("nan") for k in ("loss", *SCALAR_METRICS)}
        m = self.metrics.compute()
        return {"loss": float(self.loss) / self.count, **{k: float(m[k]) for k in SCALAR_METRICS}}

    def per_class(self, classes: list[str]) -> dict[str, dict[str, float]]:
        """IoU, Dice and boundary IoU of every class (NaN: the class is in neither truth nor prediction)."""
        m = self.metrics.compute()
        support = self.metrics.confusion.sum(1).cpu()
        return {name: {"iou": m["iou"][i].item(), "dice": m["dice_per_class"][i].item(),
                       "boundary_iou": m["boundary_iou_per_class"][i].item(), "pixels": int(support[i])}
                for i, name in enumerate(classes)}


@TASKS.register("segment")
class Segment(Task):
    """Assign every pixel one of K classes."""

    name = "segment"
    models = SEGMENTERS
    data_args = ("classes", "in_chans", "input_size")
    monitor, mode = "val_miou", "max"
    exportable = True

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.loss_fn: nn.Module | None = None
        self.info: dict[str, Any] = {}
        self.train_transform: box_augment.BoxAugment | None = None

    def validate(self) -> None:
        if self.cfg.data.dataset not in SOURCES:
            raise ConfigError(f"task segment reads data.dataset {' | '.join(SOURCES)}, got {self.cfg.data.dataset!r}")
        augment.check(self.cfg.augment, self.cfg.data)
        a = augment.resolve(self.cfg.augment)
        warps = a.rotate or a.scale or a.translate or a.resized_crop or a.pad_crop
        if warps and self.cfg.segment.ignore_index != box_augment.IGNORE:
            raise ConfigError(f"augment warps fill uncovered mask pixels with {box_augment.IGNORE}; set "
                              f"segment.ignore_index: {box_augment.IGNORE} (got {self.cfg.segment.ignore_index})")
        if self.cfg.train.loss != "auto":
            raise ConfigError("task segment takes its loss from segment.loss (e.g. cross_entropy+dice), not train.loss")
        build_segmentation_loss(self.cfg.segment.loss)  # unknown loss names fail before any data is read

    def load_data(self, progress: bool = True, train_indices: Indices = None, val_indices: Indices = None) -> TaskData:
        return load_segmentation_data(self.cfg, train_indices, val_indices)

    def build_model(self, info: dict[str, Any]) -> nn.Module:
        pre = Preprocess(**info["preprocess"])
        data = {"classes": len(info["classes"]), "in_chans": pre.channels, "input_size": (pre.height, pre.width)}
        takes = self.models.options(self.cfg.model.name)
        return self.models.build(self.cfg.model.name, **{k: v for k, v in data.items() if k in takes},
                                 **transfer.builder_options(self.cfg.model.args))

    def setup(self, model: nn.Module, info: dict[str, Any]) -> None:
        s = self.cfg.segment
        k = len(info["classes"])
        if s.class_weights is not None and len(s.class_weights) != k:
            raise ConfigError(f"segment.class_weights has {len(s.class_weights)} weights for {k} classes")
        self.loss_fn = build_segmentation_loss(s.loss, class_weights=s.class_weights, ignore_index=s.ignore_index,
                                               gamma=s.focal_gamma, smooth=s.dice_smooth)
        self.loss_fn.to(next(model.parameters()).device)
        self.info = info
        self.train_transform = box_augment.build(self.cfg.augment, Preprocess(**info["preprocess"]), self.cfg.data)

    def loader(self, data: TaskData, split: str, train: bool = False) -> TensorLoader:
        ds, pre, t = data.split(split), Preprocess(**data.info["preprocess"]), self.cfg.train
        if not train:
            return TensorLoader(ds, pre, t.eval_batch_size, targets=ds.masks)
        return TensorLoader(ds, pre, None if t.batch_size == "full" else t.batch_size, shuffle=True,
                            seed=self.cfg.seed, num_workers=t.num_workers, transform=self.train_transform,
                            targets=ds.masks)

    def training_step(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        x, y = batch
        logits = model(x)  # (B, K, H, W)
        valid = y != self.cfg.segment.ignore_index
        correct = ((logits.argmax(1) == y) & valid).sum() / valid.sum().clamp_min(1)
        return self.loss_fn(logits, y), {"pixel_accuracy": correct}

    def evaluator(self) -> SegmentEvaluator:
        s = self.cfg.segment
        return SegmentEvaluator(self.loss_fn, len(self.info["classes"]), Preprocess(**self.info["preprocess"]),
                                s.ignore_index, s.boundary_ratio, s.samples)

    def report(self, evaluator: SegmentEvaluator, info: dict[str, Any], out_dir: Path, split: str,
               title: str) -> dict[str, Any]:
        """Per-class IoU / Dice / boundary IoU and a grid of overlays: each image's truth, then the prediction."""
        out: dict[str, Any] = {"count": evaluator.count, "classes": info["classes"],
                               "per_class": evaluator.per_class(info["classes"])}
        if evaluator.shown:
            images = torch.stack([img for img, _, _ in evaluator.shown for _ in range(2)])  # (2n, C, H, W)
            masks = torch.stack([m for _, truth, pred in evaluator.shown for m in (truth, pred)])  # (2n, H, W)
            palette = [tuple(c) for c in info.get("palette") or []]
            out["overlays_png"] = str(overlay_grid(images, masks, out_dir / f"overlays_{split}.png", palette))
        return out

    def predict(self, model: nn.Module, info: dict[str, Any], paths: Sequence[str | Path], device: torch.device,
                out: str | Path | None = None) -> list[dict[str, Any]]:
        """Each image's share of pixels per predicted class (at the run's input size); with ``out``, a PNG of
        the prediction as a colour overlay on the image (``<stem>_overlay.png``)."""
        classes, pre = info["classes"], Preprocess(**info["preprocess"])
        palette = [tuple(c) for c in info.get("palette") or []]
        results = []
        for start in range(0, len(paths), 32):
            chunk = list(paths[start: start + 32])
            x = pre.load_files(chunk).to(device)  # (B, C, H, W)
            with torch.inference_mode():
                pred = model(x).float().argmax(1).cpu()  # (B, H, W)
            shares = torch.stack([torch.bincount(p.flatten(), minlength=len(classes)) for p in pred]) / pred[0].numel()
            for i, path in enumerate(chunk):
                r: dict[str, Any] = {"image": str(path), "fractions": dict(zip(classes, shares[i].tolist()))}
                if out is not None:
                    png = Path(out) / f"{Path(path).stem}_overlay.png"
                    r["png"] = str(overlay_grid(to_uint8(x[i: i + 1].cpu(), pre), pred[i: i + 1], png, palette))
                results.append(r)
        return results
