"""Object detection: boxes, scores and labels per image, measured by COCO mAP (and VOC AP).

Data are ``BoxDataset``s (nnlab/data/boxes: box folders in VOC / COCO / YOLO / KITTI, the raccoon photos,
generated digit scenes); batches are ``(images (B, C, H, W), [target dict per image])`` in torchvision's
convention with 0-based labels. Models come from ``DETECTORS``: learned detectors (and ``cls_loc``) return a
dict of losses in training, which the engine sums and steps; the classic detectors that fit themselves
(sliding window, HOG + SVM, R-CNN) or come pretrained (OpenCV's HOG people detector, Haar cascades) learn
without the training loop, like kNN does for classification.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nnlab.config import Config
from nnlab.data import Preprocess, TensorLoader
from nnlab.data import augment
from nnlab.data.boxes import BoxDataset, load_box_splits
from nnlab.data.boxes import augment as box_augment
from nnlab.data.boxes.draw import blend_mask, draw_boxes
from nnlab.data.boxes.rle import encode_rle
from nnlab.data.imageio import DECODE_SLOTS, open_image
from nnlab.data.splits import fraction_splits
from nnlab.engine.trainer import Logs
from nnlab.errors import ConfigError, DataError
from nnlab.metrics.detection import TABLE_HEADER, evaluate_detections
from nnlab.models import transfer
from nnlab.models.registry import DETECTORS
from nnlab.tasks.base import TASKS, Indices, Task, TaskData

Targets = list[dict[str, torch.Tensor]]


def split_boxes(splits: dict[str, BoxDataset], val_fraction: float, test_fraction: float, train_size: int | None,
                seed: int) -> dict[str, BoxDataset]:
    """The source's splits, with val / test drawn from train (seeded) where the source has none."""
    given = {k: v for k, v in splits.items() if k != "train"}
    drawn = fraction_splits(splits["train"], 0.0 if "val" in given else val_fraction,
                            0.0 if "test" in given else test_fraction, train_size, seed)
    return {**drawn, **given}


class DetectEvaluator:
    """Collects every image's detections and targets (on the CPU); ``compute`` runs the COCO-exact evaluator, and
    for models that predict instance masks (Mask R-CNN) also its segm mode: mask AP."""

    def __init__(self, task: "Detect") -> None:
        self.task = task
        self.predictions: Targets = []
        self.targets: Targets = []
        self.result: Any = None
        self.masks: Any = None  # the segm evaluation, when the model predicts masks

    def update(self, model: nn.Module, batch: tuple[torch.Tensor, Targets]) -> None:
        x, targets = batch
        preds = self.task.detect(model, x)
        self.predictions += [{k: _stored(k, v) for k, v in p.items()} for p in preds]
        self.targets += [{k: v.cpu() for k, v in t.items() if k != "masks" or "masks" in p}
                         for t, p in zip(targets, preds)]

    def compute(self) -> dict[str, float]:
        max_dets = self.task.cfg.detect.max_dets
        self.result = evaluate_detections(self.predictions, self.targets, self.task.num_classes, max_dets=max_dets)
        s = self.result.stats
        out = {"mAP": s["mAP"], "mAP50": s["mAP50"], "mAP75": s["mAP75"], f"AR{self.result.max_dets[-1]}":
               s[f"AR{self.result.max_dets[-1]}"], "top_iou": top_box_iou(self.predictions, self.targets)}
        if self.targets and all("masks" in t for t in self.targets):
            self.masks = evaluate_detections(self.predictions, self.targets, self.task.num_classes, "segm", max_dets)
            out.update({f"mask_{k}": self.masks.stats[k] for k in ("mAP", "mAP50", "mAP75")})
        return out


def _stored(key: str, value: torch.Tensor) -> torch.Tensor:
    """A prediction kept for the evaluation, on the CPU: masks as uint8 0/1 (probabilities cut at 0.5)."""
    if key == "masks":
        return (value.detach() >= 0.5).to(torch.uint8).cpu() if value.is_floating_point() else value.cpu()
    return value.cpu() if key == "labels" else value.detach().float().cpu()


def top_box_iou(predictions: Targets, targets: Targets) -> float:
    """Mean over images with objects of the IoU between the highest-scoring box and the object it overlaps most
    (0 when nothing is detected): classification + localization's figure, one box per image."""
    from torchvision.ops import box_iou  # torchvision.ops costs ~2 s at import: only once a detector is evaluated

    ious = []
    for p, t in zip(predictions, targets):
        if not len(t["boxes"]):
            continue
        if not len(p["scores"]):
            ious.append(0.0)
            continue
        best = p["boxes"][p["scores"].argmax()][None]  # (1, 4)
        ious.append(float(box_iou(best, t["boxes"].float()).max()))
    return sum(ious) / len(ious) if ious else float("nan")


@TASKS.register("detect")
class Detect(Task):
    """Find every object: a box, a class and a score each."""

    name = "detect"
    models = DETECTORS
    data_args = ("classes", "in_chans", "input_size", "train_boxes")
    monitor, mode = "val_mAP50", "max"
    exportable = True  # learned detectors (nnlab.deploy.detection); classic ones are refused with the reason

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        import nnlab.models.detection  # noqa: F401  registers every detector; deferred because torchvision.ops
        # costs about 2 s of start-up that no other task needs
        self.num_classes = 0
        self.pre: Preprocess | None = None
        self.train_boxes: torch.Tensor | None = None
        self.train_transform: box_augment.BoxAugment | None = None

    def validate(self) -> None:
        augment.check(self.cfg.augment, self.cfg.data)

    def load_data(self, progress: bool = True, train_indices: Indices = None, val_indices: Indices = None) -> TaskData:
        d, s = self.cfg.data, self.cfg.detect.scenes
        options = dict(path=d.path, image_size=d.image_size, channels=d.channels, seed=self.cfg.seed, n=s.n,
                       n_test=s.n_test, digits=s.digits, scale=s.scale, clutter=s.clutter)
        if d.resize_mode in ("squash", "letterbox"):
            options["resize_mode"] = d.resize_mode
        splits = load_box_splits(d.dataset, **options)
        seed = self.cfg.seed if d.split_seed is None else d.split_seed
        splits = split_boxes(splits, d.val_fraction, d.test_fraction, d.train_size, seed)
        if train_indices is not None or val_indices is not None:
            raise ConfigError("detection runs do not train on sample subsets (cross-validation, bagging)")
        train = splits["train"]
        if not len(train):
            raise DataError("the detection dataset has no training images")
        self.train_boxes = torch.cat([t["boxes"] for t in train.targets]) if train.targets else None
        pre = Preprocess.fit(train.images, "squash", d.normalize)
        return TaskData(splits, {"classes": list(train.classes), "preprocess": pre.to_dict(),
                                 "resize_mode": options.get("resize_mode", "squash")})

    def build_model(self, info: dict[str, Any]) -> nn.Module:
        pre = Preprocess(**info["preprocess"])
        accepted = DETECTORS.options(self.cfg.model.name)
        given = {"classes": len(info["classes"]), "in_chans": pre.channels, "input_size": (pre.height, pre.width),
                 "train_boxes": self.train_boxes}
        given = {k: v for k, v in given.items() if k in accepted and v is not None}
        return DETECTORS.build(self.cfg.model.name, **given, **transfer.builder_options(self.cfg.model.args))

    def setup(self, model: nn.Module, info: dict[str, Any]) -> None:
        self.num_classes = len(info["classes"])
        self.pre = Preprocess(**info["preprocess"])
        self.train_transform = box_augment.build(self.cfg.augment, self.pre, self.cfg.data,
                                                 min_visibility=self.cfg.detect.min_visibility)

    def loader(self, data: TaskData, split: str, train: bool = False) -> TensorLoader:
        t = self.cfg.train
        if not train:
            return TensorLoader(data.split(split), self.pre, t.eval_batch_size)
        batch = None if t.batch_size == "full" else t.batch_size
        return TensorLoader(data.split(split), self.pre, batch, shuffle=True, seed=self.cfg.seed,
                            num_workers=t.num_workers, transform=self.train_transform)

    def learns_without_loop(self, model: nn.Module) -> bool:
        return _fits_itself(model)

    def learn_without_loop(self, model: nn.Module, data: TaskData, device: torch.device) -> dict[str, float]:
        """``fit`` on the training split's raw pixels (the detector's own statistics: patches, proposal recall,
        hard negatives ...); nothing for pretrained references."""
        if model.fit_mode != "fit":
            return {}
        train = data.split("train")
        return model.fit(train.images, train.targets)

    def training_step(self, model: nn.Module, batch: tuple[torch.Tensor, Targets]) -> tuple[torch.Tensor, Logs]:
        x, targets = batch
        losses = model(x, targets)  # {name: scalar}
        return sum(losses.values()), {k: v.detach() for k, v in losses.items()}

    def detect(self, model: nn.Module, x: torch.Tensor) -> Targets:
        """Detections for a normalized batch; detectors that take raw pixels get them back in [0, 1]."""
        if _fits_itself(model):
            return model.predict(self.pre.pixels(x))
        return model(x)

    def evaluator(self) -> DetectEvaluator:
        return DetectEvaluator(self)

    def report(self, evaluator: DetectEvaluator, info: dict[str, Any], out_dir: Path, split: str,
               title: str) -> dict[str, Any]:
        """Every COCO / VOC figure with its interpolation named, per-class AP and the PR curves (PNG)."""
        result = evaluator.result
        out_dir.mkdir(parents=True, exist_ok=True)
        png = result.plot_pr(out_dir / f"pr_{split}.png")
        out = {"count": len(evaluator.targets), "table_header": TABLE_HEADER, "table": result.table(),
               "per_class": result.per_class(), "pr_png": str(png)}
        if evaluator.masks is not None:  # Mask R-CNN: the same table with mask IoU
            out["table"] += [[f"mask_{row[0]}", *row[1:]] for row in evaluator.masks.table()]
            out["mask_pr_png"] = str(evaluator.masks.plot_pr(out_dir / f"mask_pr_{split}.png"))
        return out

    def predict(self, model: nn.Module, info: dict[str, Any], paths: Sequence[str | Path],
                device: torch.device, out: str | Path | None = None) -> list[dict[str, Any]]:
        """Boxes in each image's own pixel coordinates (Mask R-CNN: each with its ``mask`` as COCO RLE in those
        pixels, see ``instance_masks``); with ``out``, the image with the boxes (and masks) drawn."""
        pre, classes = Preprocess(**info["preprocess"]), info["classes"]
        self.pre, self.num_classes = pre, len(classes)
        results = []
        for path in paths:
            arr, place, img = place_image(path, pre, info.get("resize_mode", "squash"))
            x = pre.normalize(torch.from_numpy(arr)[None]).to(device)
            with torch.inference_mode():
                (det,) = self.detect(model, x)
            det = {k: v.cpu() for k, v in det.items()}
            boxes = place.to_image(det["boxes"])
            found = [{"class": classes[int(c)], "score": float(s), "box": [round(float(v), 1) for v in b]}
                     for b, s, c in zip(boxes, det["scores"], det["labels"])]
            pixels = np.array(img.convert("RGB")) if out is not None else None  # (H, W, 3) uint8
            if "masks" in det:
                for f, rle in zip(found, instance_masks(det["masks"], place, pixels)):
                    f["mask"] = rle
            result = {"image": str(path), "boxes": found}
            if pixels is not None:
                png = Path(out) / f"{Path(path).stem}_boxes.png"
                png.parent.mkdir(parents=True, exist_ok=True)
                draw_boxes(torch.from_numpy(pixels).permute(2, 0, 1), boxes, det["labels"], classes,
                           det["scores"]).save(png)
                result["png"] = str(png)
            results.append(result)
        return results


@dataclass(frozen=True)
class Placement:
    """Where an image of ``size`` (width, height) sits in the network's input: input = image * s + o per axis."""

    size: tuple[int, int]
    sx: float = 1.0
    sy: float = 1.0
    ox: float = 0.0
    oy: float = 0.0

    def to_image(self, boxes: torch.Tensor) -> torch.Tensor:
        """(m, 4) xyxy boxes in input pixels -> the image's own pixels; a box reaching into letterbox padding
        is clipped to the photo."""
        o, s = torch.tensor([self.ox, self.oy] * 2), torch.tensor([self.sx, self.sy] * 2)
        boxes = (boxes.float() - o) / s
        w, h = self.size
        return torch.stack([boxes[:, 0].clamp(0, w), boxes[:, 1].clamp(0, h), boxes[:, 2].clamp(0, w),
                            boxes[:, 3].clamp(0, h)], 1)

    def mask_to_image(self, mask: torch.Tensor) -> np.ndarray:
        """(H, W) mask probabilities in input pixels -> bool (h, w) in the image's own pixels: the letterbox
        padding cut away, the rest resized bilinearly (pixel centres aligned), then cut at 0.5."""
        w, h = self.size
        x0, y0 = round(self.ox), round(self.oy)
        crop = mask[y0: y0 + max(1, round(h * self.sy)), x0: x0 + max(1, round(w * self.sx))]  # the photo's part
        full = F.interpolate(crop[None, None].float(), size=(h, w), mode="bilinear", align_corners=False)
        return (full[0, 0] >= 0.5).numpy()


def instance_masks(masks: torch.Tensor, place: Placement, pixels: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Each detection's mask, (m, H, W) probabilities in input pixels, as COCO RLE (``{"size": [h, w], "counts":
    str}``, nnlab.data.boxes.rle) in the image's own pixels; with ``pixels`` (h, w, 3) uint8, each is also blended
    in (its own colour). One full-size mask at a time: a large photo's masks are never all held at once."""
    rles = []
    for i, mask in enumerate(masks):
        full = place.mask_to_image(mask)  # (h, w) bool
        rles.append(encode_rle(full))
        if pixels is not None:
            blend_mask(pixels, full, i)
    return rles


def place_image(source: Any, pre: Preprocess, mode: str = "squash") -> tuple[np.ndarray, Placement, Any]:
    """Decode an image (a path or a file object; pixel limits checked before decoding) and resize it into the
    network's input as training did (squash or letterbox): uint8 (C, H, W), its placement, the decoded image."""
    from nnlab.data.boxes.dataset import resize_record
    from nnlab.data.boxes.records import BoxRecord

    with DECODE_SLOTS:  # the full-size image lives only inside a decoding slot
        img = open_image(source, pre.channels)
        empty = BoxRecord(Path(str(source)).name, img.size[0], img.size[1])
        arr, _, (sx, sy, ox, oy) = resize_record(img, empty, pre.height, pre.width, mode)
    return arr, Placement(img.size, sx, sy, ox, oy), img


def _fits_itself(model: nn.Module) -> bool:
    """Classic detectors that fit themselves or come pretrained (they also take raw pixels in [0, 1])."""
    from nnlab.models.detection.classic.base import ClassicDetector

    return isinstance(model, ClassicDetector) and model.fit_mode != "loss"
