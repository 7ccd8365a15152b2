"""Predict with a deployed model: an exported .onnx file (ONNX Runtime), a TorchScript file, or a run
directory (eager PyTorch, or exported to ONNX on the fly). The run's own ``Preprocess`` decodes and
normalizes images, so a deployed model sees exactly what ``nnlab predict`` feeds the run."""
from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from nnlab.data import Preprocess
from nnlab.deploy.export import INPUT, META_KEY, OUTPUT, export_run, jit_load, read_metadata
from nnlab.errors import UserError
from nnlab.inference import load_run

BACKENDS = ("onnx", "torch")


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
    """Top-k classes for images, from logits computed by ``forward`` on a normalized (B, C, H, W) batch."""

    def __init__(self, forward: Callable[[np.ndarray], np.ndarray], preprocess: Preprocess, classes: list[str],
                 backend: str, source: str, fixed_batch: int | None = None) -> None:
        self.forward, self.preprocess, self.classes = forward, preprocess, classes
        self.backend, self.source, self.fixed_batch = backend, source, fixed_batch

    @classmethod
    def open(cls, target: str | Path, backend: str | None = None, weights: str = "best") -> "Predictor":
        """``target``: a run directory, a ``.onnx`` file or a TorchScript file; ``backend``: onnx | torch
        (default onnx; torch means eager for a run and TorchScript for a TorchScript file)."""
        path = Path(target)
        if backend is not None and backend not in BACKENDS:
            raise UserError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
        if path.is_dir():
            if backend == "torch":
                return cls._eager(path, weights)
            with tempfile.TemporaryDirectory(prefix="nnlab-deploy-") as tmp:
                out = export_run(path, "onnx", Path(tmp) / "model.onnx", dynamic_batch=True, weights=weights).path
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
        run = load_run(run_dir, weights)
        _serves(run.config.task, run_dir)
        return cls.from_model(run.model, run.preprocess, run.classes, str(run_dir))

    @classmethod
    def from_model(cls, model: torch.nn.Module, preprocess: Preprocess, classes: list[str],
                   source: str = "model") -> "Predictor":
        """Eager PyTorch on an in-memory model (put in eval mode; its own device)."""
        model.eval()
        device = next(model.parameters(), torch.empty(0)).device

        def forward(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return model(torch.from_numpy(x).to(device)).float().cpu().numpy()

        return cls(forward, preprocess, classes, "torch", source)

    @classmethod
    def _onnx(cls, path: Path, source: str) -> "Predictor":
        import onnxruntime as ort

        try:
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own Fail / InvalidProtobuf types
            raise UserError(f"{path} cannot be loaded by ONNX Runtime: {e}") from None
        raw = session.get_modelmeta().custom_metadata_map.get(META_KEY)
        if not raw:
            raise UserError(f"{path} carries no nnlab metadata (not exported by `nnlab export`)")
        meta = json.loads(raw)
        _serves(meta.get("task", "classify"), path)
        batch = session.get_inputs()[0].shape[0]
        return cls(lambda x: session.run([OUTPUT], {INPUT: x})[0], Preprocess(**meta["preprocess"]),
                   meta["classes"], "onnx", source, batch if isinstance(batch, int) else None)

    @classmethod
    def _torchscript(cls, path: Path) -> "Predictor":
        meta = read_metadata(path)
        _serves(meta.get("task", "classify"), path)
        module = jit_load(str(path))

        def forward(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return module(torch.from_numpy(x)).float().numpy()

        fixed = None if meta.get("dynamic_batch", True) else 1
        return cls(forward, Preprocess(**meta["preprocess"]), meta["classes"], "torchscript", str(path), fixed)

    # --------------------------------------------------------------------------------------- inputs
    def prepare(self, data: bytes, name: str = "upload") -> np.ndarray:
        """Decode, resize and normalize one uploaded image: float32 (C, H, W); DataError if undecodable."""
        return self.preprocess.load_files([_NamedBytes(data, name)])[0].numpy()  # type: ignore[list-item]

    def prepare_files(self, paths: Sequence[str | Path]) -> np.ndarray:
        return self.preprocess.load_files(paths).numpy()  # (N, C, H, W)

    # --------------------------------------------------------------------------------------- outputs
    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Softmax over classes for a normalized batch (B, C, H, W) -> (B, K), in fixed-size chunks if needed."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        step = self.fixed_batch or len(x)
        logits = np.concatenate([self.forward(x[i: i + step]) for i in range(0, len(x), step)])
        return torch.from_numpy(logits).float().softmax(1).numpy()

    def top(self, probs: np.ndarray, k: int = 5) -> list[list[dict[str, Any]]]:
        """The k most probable classes of each row, as ``nnlab.predict`` reports them."""
        p, idx = torch.from_numpy(probs).topk(min(k, len(self.classes)), dim=1)
        return [[{"class": self.classes[i], "index": i, "prob": q} for q, i in zip(pi, ii)]
                for pi, ii in zip(p.tolist(), idx.tolist())]

    def predict_files(self, paths: Sequence[str | Path], k: int = 5) -> list[dict[str, Any]]:
        """Same result format as ``nnlab.predict``: ``[{"image": path, "top": [...]}, ...]``."""
        if not paths:
            raise UserError("no images given")
        tops = self.top(self.probabilities(self.prepare_files(paths)), k)
        return [{"image": str(p), "top": t} for p, t in zip(paths, tops)]

    def info(self) -> dict[str, Any]:
        pre = self.preprocess
        return {"backend": self.backend, "source": self.source, "classes": self.classes,
                "input": [pre.channels, pre.height, pre.width], "fixed_batch": self.fixed_batch}


def _serves(task: str, source: str | Path) -> None:
    """The server answers with top-k classes: refuse models of other tasks (a segmenter exports fine)."""
    if task != "classify":
        raise UserError(f"{source} is a {task} model; deploy serves classification models for now "
                        f"(use `nnlab predict RUN_DIR IMAGE...`)")
