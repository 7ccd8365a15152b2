"""Image classification: softmax (or hinge) over classes, accuracy and top-k, confusion matrix.

Owns what used to be spread over the engine: the loss with soft targets (label smoothing, mixup, CutMix),
GoogLeNet's auxiliary losses (returned from ``forward`` in training), the regularizer's step hook, the
accuracy logs, and kNN's memorizing instead of a training loop.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from nnlab import regularize
from nnlab.config import Config
from nnlab.data import Preprocess, TensorLoader, augment, load_splits
from nnlab.data.splits import make_splits, select_classes, select_subset
from nnlab.engine.trainer import Logs
from nnlab.errors import ConfigError
from nnlab.metrics.classification import confusion_matrix, hard_labels, per_class_report
from nnlab.models import MODELS, transfer
from nnlab.models.classic.knn import KNN
from nnlab.models.cnn.base import AuxLogits
from nnlab.models.losses import LOSSES
from nnlab.tasks.base import TASKS, Indices, Task, TaskData


def build_loss(name: str, model: nn.Module) -> nn.Module:
    """``auto``: the model's own loss (``default_loss``: hinge for the SVM), else cross-entropy."""
    if name == "auto":
        loss_name, options = getattr(model, "default_loss", ("cross_entropy", {}))
        return LOSSES.build(loss_name, **options)
    return LOSSES.build(name)


def build_train_hooks(cfg: Config, pre: Preprocess, num_classes: int
                      ) -> tuple[regularize.BatchTransform | None, regularize.StepRegularizer | None]:
    """The training batch transform (augmentation, input noise, soft targets) and the step regularizer
    (penalty, weight noise). Evaluation and prediction never use either."""
    step, targets = regularize.build(cfg.regularize, num_classes)
    return regularize.chain(augment.build(cfg.augment, pre), targets), step


def load_classification_data(cfg: Config, progress: bool = True, train_indices: Indices = None,
                             val_indices: Indices = None) -> TaskData:
    """The config's image splits (uint8 ``ImageDataset``s) and the preprocessing fitted on the training split."""
    d = cfg.data
    raw = load_splits(d.dataset, path=d.path, download=d.download, image_size=d.image_size,
                      channels=d.channels, resize_mode=d.resize_mode, progress=progress)
    raw = select_classes(raw, d.classes) if d.classes is not None else raw
    seed = cfg.seed if d.split_seed is None else d.split_seed
    splits = select_subset(make_splits(raw, d.val_fraction, d.test_fraction, d.train_size, seed),
                           train_indices, val_indices)
    pre = Preprocess.fit(splits["train"].images, d.resize_mode, d.normalize)
    return TaskData(splits, {"classes": splits["train"].classes, "preprocess": pre.to_dict()})


def image_loader(cfg: Config, data: TaskData, split: str, train: bool,
                 transform: regularize.BatchTransform | None = None) -> TensorLoader:
    """Batches of normalized images (B, C, H, W) and their labels from memory."""
    pre = Preprocess(**data.info["preprocess"])
    t = cfg.train
    if not train:
        return TensorLoader(data.split(split), pre, t.eval_batch_size)
    batch = None if t.batch_size == "full" else t.batch_size
    return TensorLoader(data.split(split), pre, batch, shuffle=True, seed=cfg.seed, num_workers=t.num_workers,
                        transform=transform)


class ClassifyEvaluator:
    """Loss, accuracy, top-k accuracy and the confusion matrix, accumulated on the device."""

    def __init__(self, loss_fn: nn.Module, num_classes: int, topk: int = 5) -> None:
        self.loss_fn, self.k, self.topk = loss_fn, num_classes, topk
        self.loss = self.correct = self.top = self.count = self.cm = None  # type: Any

    def update(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        x, y = batch
        out = model(x).float()  # (B, K)
        n = len(y)
        loss = self.loss_fn(out, y).double() * n
        labels = hard_labels(y)
        top = out.topk(min(self.topk, out.shape[1]), dim=1).indices  # (B, k)
        pred = top[:, 0]
        terms = (loss, (pred == labels).sum(), (top == labels[:, None]).any(1).sum(),
                 confusion_matrix(pred, labels, self.k))
        if self.loss is None:
            self.loss, self.correct, self.top, self.cm = terms
            self.count = n
        else:
            self.loss, self.correct, self.top, self.cm = (a + b for a, b in
                                                          zip((self.loss, self.correct, self.top, self.cm), terms))
            self.count += n

    def compute(self) -> dict[str, float]:
        if not self.count:
            return {"loss": float("nan"), "acc": float("nan"), f"top{self.topk}": float("nan")}
        n = self.count
        return {"loss": float(self.loss) / n, "acc": int(self.correct) / n, f"top{self.topk}": int(self.top) / n}

    def confusion(self) -> torch.Tensor:
        return self.cm.cpu() if self.cm is not None else torch.zeros(self.k, self.k, dtype=torch.int64)


@TASKS.register("classify")
class Classify(Task):
    """Assign each image one of K classes."""

    name = "classify"
    models = MODELS
    data_args = ("num_classes", "in_chans", "input_size")
    monitor, mode = "val_acc", "max"
    exportable = True

    def __init__(self, cfg: Config | None = None, *, loss: nn.Module | None = None,
                 regularizer: regularize.StepRegularizer | None = None, num_classes: int | None = None) -> None:
        """From a config (``setup`` builds the loss); or directly from a loss, for the engine's own tests."""
        super().__init__(cfg if cfg is not None else Config())
        self.loss_fn, self.regularizer, self.num_classes = loss, regularizer, num_classes
        self.train_transform: regularize.BatchTransform | None = None

    def validate(self) -> None:
        if self.cfg.data.resize_mode == "letterbox":
            raise ConfigError("config key 'data.resize_mode' letterbox is for detection; classification takes "
                              "squash, crop, fill or half_crop")
        r = self.cfg.regularize
        regularize.check_mixable(self.name, r.mixup, r.cutmix)
        augment.check(self.cfg.augment, self.cfg.data)

    def load_data(self, progress: bool = True, train_indices: Indices = None, val_indices: Indices = None) -> TaskData:
        return load_classification_data(self.cfg, progress, train_indices, val_indices)

    def build_model(self, info: dict[str, Any]) -> nn.Module:
        pre = Preprocess(**info["preprocess"])
        return MODELS.build(self.cfg.model.name, num_classes=len(info["classes"]), in_chans=pre.channels,
                            input_size=(pre.height, pre.width), **transfer.builder_options(self.cfg.model.args))

    def setup(self, model: nn.Module, info: dict[str, Any]) -> None:
        self.num_classes = len(info["classes"])
        self.loss_fn = build_loss(self.cfg.train.loss, model)
        self.train_transform, self.regularizer = build_train_hooks(
            self.cfg, Preprocess(**info["preprocess"]), self.num_classes)

    def loader(self, data: TaskData, split: str, train: bool = False) -> TensorLoader:
        return image_loader(self.cfg, data, split, train, self.train_transform if train else None)

    def learns_without_loop(self, model: nn.Module) -> bool:
        return isinstance(model, KNN)

    def learn_without_loop(self, model: KNN, data: TaskData, device: torch.device) -> None:
        train = data.split("train")
        model.memorize(Preprocess(**data.info["preprocess"]).normalize(train.images).to(device),
                       train.labels.to(device))

    def training_step(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        x, y = batch
        out = model(x) if self.regularizer is None else self.regularizer.forward(model, x)
        logits = out.logits if isinstance(out, AuxLogits) else out  # (B, K)
        loss = self.loss_fn(logits, y)
        if isinstance(out, AuxLogits):  # GoogLeNet's auxiliary classifiers, in training only
            loss = loss + out.weight * sum(self.loss_fn(a, y) for a in out.aux)
        logs = {"acc": (logits.argmax(1) == hard_labels(y)).float().mean()}
        penalty = self.regularizer.penalty(model) if self.regularizer is not None else None
        if penalty is not None:  # logged apart: the epoch's loss stays the data loss
            logs.update(loss=loss.detach(), penalty=penalty.detach())
            loss = loss + penalty
        return loss, logs

    def evaluator(self) -> ClassifyEvaluator:
        return ClassifyEvaluator(self.loss_fn, self.num_classes, self.cfg.classify.topk)

    def report(self, evaluator: ClassifyEvaluator, info: dict[str, Any], out_dir: Path, split: str,
               title: str) -> dict[str, Any]:
        """Per-class precision / recall / F1, the confusion matrix (table and PNG)."""
        from nnlab.plots import confusion_png  # matplotlib only when a plot is written

        cm, classes = evaluator.confusion(), info["classes"]
        per = per_class_report(cm)
        png = confusion_png(cm, classes, out_dir / f"confusion_{split}.png", title=title)
        return {"count": evaluator.count or 0, "classes": classes, "confusion": cm.tolist(),
                "per_class": {name: {m: per[m][i].item() for m in ("precision", "recall", "f1", "support")}
                              for i, name in enumerate(classes)}, "confusion_png": str(png)}

    def predict(self, model: nn.Module, info: dict[str, Any], paths: Sequence[str | Path],
                device: torch.device, topk: int = 5) -> list[dict[str, Any]]:
        """Top-k classes with probabilities for each image file (the run's preprocessing applied)."""
        classes, pre = info["classes"], Preprocess(**info["preprocess"])
        k = min(topk, len(classes))
        results = []
        for start in range(0, len(paths), 256):
            chunk = list(paths[start: start + 256])
            with torch.inference_mode():
                probs = model(pre.load_files(chunk).to(device)).float().cpu().softmax(1)  # (B, K)
            p, idx = probs.topk(k, dim=1)
            for path, pi, ii in zip(chunk, p.tolist(), idx.tolist()):
                results.append({"image": str(path),
                                "top": [{"class": classes[i], "index": i, "prob": q} for q, i in zip(pi, ii)]})
        return results
