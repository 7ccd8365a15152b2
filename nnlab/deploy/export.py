"""Export a trained run to ONNX or TorchScript, and prove the file computes what the run computes.

The exported graph maps a normalized float batch (B, C, H, W) to whatever the run's ``model`` returns: logits
(B, K) for a classifier, per-pixel logits (B, K, H, W) for a segmenter; the preprocessing that produces that batch (``Preprocess``) and the class names travel in the
file's metadata (ONNX ``metadata_props``; a TorchScript extra file), so a file alone is enough to serve.
At export time the file is run (ONNX Runtime / ``torch.jit.load``) on sample inputs and compared with the
eager model; a difference above the tolerance is an error, never a silent warning.
"""
from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from nnlab.data import Preprocess
from nnlab.engine.checkpoint import atomic_write_bytes
from nnlab.errors import UserError
from nnlab.inference import load_run

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
META_KEY = "nnlab"  # ONNX metadata key / TorchScript extra-file name holding the JSON metadata
INPUT, OUTPUT = "input", "logits"
OPSET = 17


class ExportError(UserError):
    """The model cannot be exported, or the exported file disagrees with the PyTorch model."""


@dataclass
class ExportResult:
    path: Path
    format: str
    dynamic_batch: bool
    max_abs_diff: float  # over all checked samples and batch sizes
    tolerance: float
    checked_batches: list[int]


def export_run(run_dir: str | Path, fmt: str = "onnx", out: str | Path | None = None, dynamic_batch: bool = False,
               weights: str = "best", tolerance: float = 1e-4, samples: int = 8) -> ExportResult:
    """Export a run's model and check it against the eager model on ``samples`` inputs.

    ``tolerance`` bounds max |exported - eager| relative to the logits' scale (atol = rtol = tolerance).
    A fixed-batch export takes batch 1; ``dynamic_batch`` takes any batch size (checked on 1, 3 and 8).
    """
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")
    if tolerance <= 0:
        raise UserError(f"export tolerance must be positive, got {tolerance}")
    run = load_run(run_dir, weights)
    if not run.task.exportable:
        raise ExportError(f"{run.dir} is a {run.config.task} run; export serves classification and segmentation "
                          "runs for now")
    if getattr(run.model, "needs_training", True) is False:
        raise ExportError(f"model {run.config.model.name!r} memorizes its training set (a lookup, not a "
                          "network) and cannot be exported; train a network to deploy it")
    path = Path(out) if out is not None else run.dir / "export"
    path = path / f"model{SUFFIX[fmt]}" if path.is_dir() or out is None else path  # a folder: default name
    info = {"task": run.config.task, "model": run.config.model.name, "run": str(run.dir.resolve()),
            "weights": weights}
    return export_model(run.model, run.preprocess, run.classes, fmt, path, dynamic_batch, tolerance, samples, info)


def export_model(model: nn.Module, preprocess: Preprocess, classes: list[str], fmt: str, out: str | Path,
                 dynamic_batch: bool = False, tolerance: float = 1e-4, samples: int = 8,
                 info: dict[str, Any] | None = None) -> ExportResult:
    """Export any model taking ``preprocess``-normalized input (its output tensor, whatever its shape, is
    checked); ``info`` is added to the metadata."""
    meta = {"format": fmt, "model": type(model).__name__, **(info or {}), "preprocess": preprocess.to_dict(),
            "classes": classes, "dynamic_batch": dynamic_batch, "input": INPUT, "output": OUTPUT}
    model = model.cpu().float().eval()
    example = sample_inputs(preprocess, 2 if dynamic_batch else 1, seed=0)
    data = (_onnx_bytes if fmt == "onnx" else _torchscript_bytes)(model, example, meta)
    batches = [1, 3, samples] if dynamic_batch else [1]
    diff = _check(model, _runner(fmt, data), preprocess, batches, samples, tolerance)
    meta["max_abs_diff"] = diff
    data = _with_metadata(fmt, data, meta)
    atomic_write_bytes(Path(out), lambda f: f.write(data))
    return ExportResult(Path(out), fmt, dynamic_batch, diff, tolerance, batches)


def sample_inputs(pre: Preprocess, n: int, seed: int = 0) -> torch.Tensor:
    """Random uint8 images put through the run's normalization: realistic (N, C, H, W) inputs."""
    g = torch.Generator().manual_seed(seed)
    return pre.normalize(torch.randint(0, 256, (n, pre.channels, pre.height, pre.width), generator=g,
                                       dtype=torch.uint8))


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The nnlab metadata (format, preprocess, classes, ...) stored in an exported .onnx or TorchScript file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"exported model not found: {path}")
    if path.suffix == ".onnx":
        import onnx

        try:
            props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        except Exception as e:  # onnx raises DecodeError and friends
            raise UserError(f"{path} is not a readable ONNX file: {e}") from None
        raw = props.get(META_KEY)
    else:
        extra = {META_KEY: ""}
        try:
            jit_load(str(path), _extra_files=extra)
        except (RuntimeError, ValueError) as e:
            raise UserError(f"{path} is not a readable TorchScript file: {e}") from None
        raw = extra[META_KEY] or None
    if not raw:
        raise UserError(f"{path} carries no nnlab metadata (not exported by `nnlab export`)")
    return json.loads(raw)


def jit_load(source: str | io.BytesIO, **kwargs: Any) -> torch.jit.ScriptModule:
    """``torch.jit.load`` on CPU, without its deprecation notice (TorchScript still runs fine here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(source, map_location="cpu", **kwargs)


def _onnx_bytes(model: nn.Module, example: torch.Tensor, meta: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    axes = {INPUT: {0: "batch"}, OUTPUT: {0: "batch"}} if meta["dynamic_batch"] else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy (TorchScript-based) exporter's deprecation notice
            torch.onnx.export(model, (example,), buf, input_names=[INPUT], output_names=[OUTPUT],
                              dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    except Exception as e:  # the exporter raises many types for unsupported operations
        raise ExportError(f"cannot export model {meta['model']!r} to ONNX: {type(e).__name__}: {e}") from None
    return buf.getvalue()


def _torchscript_bytes(model: nn.Module, example: torch.Tensor, meta: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit's deprecation notice
            traced = torch.jit.trace(model, example, check_trace=False)
            torch.jit.save(traced, buf)
    except Exception as e:  # tracing raises many types for untraceable models
        raise ExportError(f"cannot export model {meta['model']!r} to TorchScript: {type(e).__name__}: {e}") \
            from None
    return buf.getvalue()


def _with_metadata(fmt: str, data: bytes, meta: dict[str, Any]) -> bytes:
    """The exported bytes with the JSON metadata attached (the graph itself unchanged)."""
    if fmt == "onnx":
        import onnx

        proto = onnx.load_from_string(data)
        entry = proto.metadata_props.add()
        entry.key, entry.value = META_KEY, json.dumps(meta)
        proto.producer_name = "nnlab"
        return proto.SerializeToString()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation notice
        torch.jit.save(jit_load(io.BytesIO(data)), buf, _extra_files={META_KEY: json.dumps(meta)})
    return buf.getvalue()


def _runner(fmt: str, data: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """A function running the exported bytes on a float32 (B, C, H, W) array, as deployment will."""
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        return lambda x: session.run([OUTPUT], {INPUT: x})[0]
    module = jit_load(io.BytesIO(data))
    return lambda x: module(torch.from_numpy(x)).detach().numpy()


def _check(model: nn.Module, run: Callable[[np.ndarray], np.ndarray], pre: Preprocess, batches: list[int],
           samples: int, tolerance: float) -> float:
    """Max |exported - eager| over ``samples`` inputs fed in each batch size; raise above the tolerance."""
    x = sample_inputs(pre, samples, seed=1)
    with torch.inference_mode():
        ref = model(x).float().numpy()  # (N, ...): (N, K) logits, (N, K, H, W) per pixel
    worst = 0.0
    for b in batches:
        got = np.concatenate([run(x[i: i + b].numpy()) for i in range(0, samples, b)])
        diff = np.abs(got - ref)
        worst = max(worst, float(diff.max()))
        bound = tolerance + tolerance * np.abs(ref)
        if (diff > bound).any():
            raise ExportError(f"exported model disagrees with PyTorch at batch size {b}: max abs difference "
                              f"{diff.max():.3g} exceeds tolerance {tolerance:g} (+{tolerance:g} x |logit|)")
    return worst
