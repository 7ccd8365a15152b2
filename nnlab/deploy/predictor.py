"""Predict with a deployed model: an exported .onnx file (ONNX Runtime), a TorchScript file, or a run
directory (eager PyTorch, or exported to ONNX on the fly). The run's own ``Preprocess`` (and a detector's
letterbox) decodes and normalizes images, so a deployed model sees exactly what ``nnlab predict`` feeds the
run; answers come back in the uploaded image's own pixels."""
from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from nnlab.data import Preprocess
from nnlab.data.imageio import DECODE_SLOTS, open_image, resize
from nnlab.deploy.answers import detection_answer, segmentation_answer
from nnlab.deploy.detection import DetectionDecoder, NotExportable, eager_graph
from nnlab.deploy.export import (INPUT, META_KEY, OUTPUT, arrays, export_run, jit_load, ort_session,
                                 read_metadata)
from nnlab.errors import UserError
from nnlab.inference import load_run
from nnlab.tasks.detect import Placement, place_image

BACKENDS = ("onnx", "torch")
SERVED = ("classify", "detect", "segment")


class _NamedBytes(io.BytesIO):
    """Uploaded bytes that print as their file name in decoding errors."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # Pillow names an undecodable file with %r
        return repr(self.name)


class Predictor:
    """A deployed model: ``forward`` maps a normalized (B, C, H, W) batch to its output arrays (logits; a
    detector's dense tensors; per-pixel logits), and the task's answers come from them: top-k classes,
    detections in the image's own pixels, or a label mask at the image's own size."""

    def __init__(self, forward: Callable[[np.ndarray], list[np.ndarray]], preprocess: Preprocess,
                 classes: list[str], backend: str, source: str, fixed_batch: int | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        self.forward, self.preprocess, self.classes = forward, preprocess, classes
        self.backend, self.source, self.fixed_batch = backend, source, fixed_batch
        self.meta = dict(meta or {})
        self.task = self.meta.get("task", "classify")
        self.decoder = DetectionDecoder(self.meta) if self.task == "detect" else None

    @classmethod
    def open(cls, target: str | Path, backend: str | None = None, weights: str = "best") -> "Predictor":
        """``target``: a run directory, a ``.onnx`` file or a TorchScript file; ``backend``: onnx | torch
        (default onnx, or eager for a classic detector, which is no network to export; torch means eager for a
        run and TorchScript for a TorchScript file)."""
        path = Path(target)
        if backend is not None and backend not in BACKENDS:
            raise UserError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
        if path.is_dir():
            if backend == "torch":
                return cls._eager(path, weights)
            with tempfile.TemporaryDirectory(prefix="nnlab-deploy-") as tmp:
                try:
                    out = export_run(path, "onnx", Path(tmp) / "model.onnx", dynamic_batch=None, weights=weights).path
                except NotExportable:  # a classic detector: no network to export, served as `nnlab predict` runs it
                    if backend == "onnx":
                        raise
                    return cls._eager(path, weights)
                return cls._onnx(out, source=str(path))
        if not path.is_file():
            raise UserError(f"{target} is neither a run directory nor a model file")
        if path.suffix == ".onnx":
            if backend == "torch":
                raise UserError(f"{target} is an ONNX file: serve it with --backend onnx, or pass the run directory")
            return cls._onnx(path, source=str(path))
        if backend == "onnx":
            raise UserError(f"{target} is not an .onnx file: use --backend torch for a TorchScript file")
        return cls._torchscript(path)

    @classmethod
    def _eager(cls, run_dir: Path, weights: str) -> "Predictor":
        """Eager PyTorch on a run: the same graph an export would trace (a detector's dense network)."""
        run = load_run(run_dir, weights)
        _serves(run.config.task, run_dir)
        meta = {"task": run.config.task, "palette": run.meta.get("palette")}
        if run.config.task != "detect":
            return cls.from_model(run.model, run.preprocess, run.classes, str(run_dir), meta)
        graph = eager_graph(run.model, run.config.model.name, run.meta, lambda x: run.task.detect(run.model, x))
        return cls.from_model(graph.module, run.preprocess, run.classes, str(run_dir), {**meta, **graph.meta},
                              1 if graph.batch_one else None)

    @classmethod
    def from_model(cls, model: torch.nn.Module, preprocess: Preprocess, classes: list[str],
                   source: str = "model", meta: dict[str, Any] | None = None,
                   fixed_batch: int | None = None) -> "Predictor":
        """Eager PyTorch on an in-memory model (put in eval mode; its own device)."""
        model.eval()
        device = next(model.parameters(), torch.empty(0)).device

        def forward(x: np.ndarray) -> list[np.ndarray]:
            with torch.inference_mode():
                out = model(torch.from_numpy(x).to(device))
            return arrays(out.cpu() if isinstance(out, torch.Tensor) else [o.cpu() for o in out])

        return cls(forward, preprocess, classes, "torch", source, fixed_batch, meta)

    @classmethod
    def _onnx(cls, path: Path, source: str) -> "Predictor":
        try:
            session = ort_session(str(path))
        except Exception as e:  # onnxruntime raises its own Fail / InvalidProtobuf types
            raise UserError(f"{path} cannot be loaded by ONNX Runtime: {e}") from None
        raw = session.get_modelmeta().custom_metadata_map.get(META_KEY)
        if not raw:
            raise UserError(f"{path} carries no nnlab metadata (not exported by `nnlab export`)")
        meta = json.loads(raw)
        _serves(meta.get("task", "classify"), path)
        batch = session.get_inputs()[0].shape[0]
        outputs = meta.get("outputs", [OUTPUT])
        return cls(lambda x: session.run(outputs, {INPUT: x}), Preprocess(**meta["preprocess"]),
                   meta["classes"], "onnx", source, batch if isinstance(batch, int) else None, meta)

    @classmethod
    def _torchscript(cls, path: Path) -> "Predictor":
        meta = read_metadata(path)
        _serves(meta.get("task", "classify"), path)
        module = jit_load(str(path))

        def forward(x: np.ndarray) -> list[np.ndarray]:
            with torch.inference_mode():
                return arrays(module(torch.from_numpy(x)))

        fixed = None if meta.get("dynamic_batch", True) else 1
        return cls(forward, Preprocess(**meta["preprocess"]), meta["classes"], "torchscript", str(path), fixed,
                   meta)

    # --------------------------------------------------------------------------------------- inputs
    def prepare(self, data: bytes, name: str = "upload") -> np.ndarray:
        """Decode, resize and normalize one uploaded image: float32 (C, H, W); DataError if undecodable."""
        return self.load(data, name)[0]

    def load(self, data: bytes | str | Path, name: str = "upload") -> tuple[np.ndarray, Placement]:
        """One image (uploaded bytes or a path) as the network's normalized input (C, H, W) and where it sits
        there (a detector letterboxes as its run did; others resize with the run's ``Preprocess``)."""
        source = _NamedBytes(data, name) if isinstance(data, bytes) else data
        pre = self.preprocess
        if self.task == "detect":
            arr, place, _ = place_image(source, pre, self.meta.get("resize_mode", "squash"))
        else:
            with DECODE_SLOTS:  # the full-size image lives only inside a decoding slot
                img = open_image(source, pre.channels)  # pixel limits checked before decoding
                arr, place = resize(img, pre.height, pre.width, pre.resize_mode), Placement(img.size)
        return pre.normalize(torch.from_numpy(np.array(arr))[None])[0].numpy(), place  # a writable copy

    def prepare_files(self, paths: Sequence[str | Path]) -> np.ndarray:
        return self.preprocess.load_files(paths).numpy()  # (N, C, H, W)

    # --------------------------------------------------------------------------------------- outputs
    def run(self, x: np.ndarray) -> list[list[np.ndarray]]:
        """The model's output arrays for a normalized batch, in chunks of its fixed batch size if it has one."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        step = self.fixed_batch or len(x)
        return [self.forward(x[i: i + step]) for i in range(0, len(x), step)]

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Softmax over classes for a normalized batch (B, C, H, W) -> (B, K), in fixed-size chunks if needed."""
        logits = np.concatenate([out[0] for out in self.run(x)])
        return torch.from_numpy(logits).float().softmax(1).numpy()

    def outputs(self, x: np.ndarray) -> Any:
        """One row per image of what the task answers from: class probabilities (B, K); a detector's raw
        outputs per image; label masks (B, H, W) uint8. Rows of a batch can be split between requests."""
        if self.task == "classify":
            return self.probabilities(x)
        chunks = self.run(x)
        if self.task == "segment":
            return np.concatenate([out[0].argmax(1).astype(np.uint8) for out in chunks])  # (B, H, W)
        if self.decoder is not None and self.decoder.whole:
            return chunks  # one image per chunk: its final boxes, scores, labels
        return [tuple(a[i: i + 1] for a in out) for out in chunks for i in range(len(out[0]))]

    def top(self, probs: np.ndarray, k: int = 5) -> list[list[dict[str, Any]]]:
        """The k most probable classes of each row, as ``nnlab.predict`` reports them."""
        p, idx = torch.from_numpy(probs).topk(min(k, len(self.classes)), dim=1)
        return [[{"class": self.classes[i], "index": i, "prob": q} for q, i in zip(pi, ii)]
                for pi, ii in zip(p.tolist(), idx.tolist())]

    def answer(self, rows: Any, places: Sequence[Placement], top: int = 5,
               score_threshold: float | None = None) -> list[dict[str, Any]]:
        """The task's answer for each image from its ``outputs`` rows (see nnlab.deploy.answers)."""
        if self.task == "classify":
            return [{"top": t} for t in self.top(rows, top)]
        if self.task == "segment":
            return [segmentation_answer(m, p, self.classes, self.meta.get("palette")) for m, p in zip(rows, places)]
        size = (self.preprocess.height, self.preprocess.width)
        return [detection_answer(self.decoder(row, size, score_threshold)[0], p, self.classes)
                for row, p in zip(rows, places)]

    def predict_files(self, paths: Sequence[str | Path], k: int = 5,
                      score_threshold: float | None = None) -> list[dict[str, Any]]:
        """Like ``nnlab.predict``: ``[{"image": path, "top": [...]}, ...]`` for a classifier, ``"detections"``
        for a detector, ``"fractions"`` and ``"mask_png"`` for a segmenter."""
        if not paths:
            raise UserError("no images given")
        loaded = [self.load(p) for p in paths]
        rows = self.outputs(np.stack([x for x, _ in loaded]))
        answers = self.answer(rows, [p for _, p in loaded], k, score_threshold)
        return [{"image": str(p), **a} for p, a in zip(paths, answers)]

    def info(self) -> dict[str, Any]:
        pre = self.preprocess
        out = {"task": self.task, "backend": self.backend, "source": self.source, "classes": self.classes,
               "input": [pre.channels, pre.height, pre.width], "fixed_batch": self.fixed_batch}
        if self.decoder is not None and self.meta.get("postprocess"):
            out["postprocess"] = {**self.decoder.spec.to_dict(), "graph": self.meta.get("graph")}
        return out


def _serves(task: str, source: str | Path) -> None:
    """The server answers classification, detection and segmentation: refuse models of other tasks."""
    if task not in SERVED:
        raise UserError(f"{source} is a {task} model; deploy serves {', '.join(SERVED)} models for now "
                        f"(use `nnlab predict RUN_DIR IMAGE...`)")
