"""Export a trained run to ONNX or TorchScript, and prove the file computes what the run computes.

The exported graph maps a normalized float batch (B, C, H, W) to whatever the run's ``model`` returns: logits
(B, K) for a classifier, per-pixel logits (B, K, H, W) for a segmenter, a detector's dense tensors (see
``nnlab.deploy.detection``: post-processing stays outside the graph); the preprocessing that produces that
batch (``Preprocess``), the class names (and a detector's post-processing options) travel in the file's
metadata (ONNX ``metadata_props``; a TorchScript extra file), so a file alone is enough to serve.
At export time the file is run (ONNX Runtime / ``torch.jit.load``) on sample inputs and compared with the
eager model; a difference above the tolerance is an error, never a silent warning.
"""
from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from nnlab.data import Preprocess
from nnlab.engine.checkpoint import atomic_write_bytes
from nnlab.errors import UserError
from nnlab.deploy.detection import Graph, detection_graph
from nnlab.inference import LoadedRun, load_run

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
META_KEY = "nnlab"  # ONNX metadata key / TorchScript extra-file name holding the JSON metadata
INPUT, OUTPUT = "input", "logits"
OPSET = 17


Compare = Callable[[Sequence[np.ndarray], Sequence[np.ndarray]], float]  # (exported, eager) -> max difference


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


def export_run(run_dir: str | Path, fmt: str = "onnx", out: str | Path | None = None,
               dynamic_batch: bool | None = False, weights: str = "best", tolerance: float = 1e-4,
               samples: int = 8) -> ExportResult:
    """Export a run's model and check it against the eager model on ``samples`` inputs.

    ``tolerance`` bounds max |exported - eager| relative to the outputs' scale (atol = rtol = tolerance).
    A fixed-batch export takes batch 1; ``dynamic_batch`` takes any batch size (checked on 1, 3 and 8);
    None: any batch size where the model allows it (a two-stage detector exports at batch 1 only).
    """
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")
    if tolerance <= 0:
        raise UserError(f"export tolerance must be positive, got {tolerance}")
    run = load_run(run_dir, weights)
    if not run.task.exportable:
        raise ExportError(f"{run.dir} is a {run.config.task} run; export serves classification, detection and "
                          "segmentation runs for now")
    if getattr(run.model, "needs_training", True) is False:
        raise ExportError(f"model {run.config.model.name!r} memorizes its training set (a lookup, not a "
                          "network) and cannot be exported; train a network to deploy it")
    graph = _graph(run)
    if graph.batch_one and dynamic_batch:
        raise ExportError(f"{run.config.model.name} exports at batch 1 only (its second stage runs on the first "
                          "stage's selected proposals, so post-processing is inside the graph): drop --dynamic-batch")
    path = Path(out) if out is not None else run.dir / "export"
    path = path / f"model{SUFFIX[fmt]}" if path.is_dir() or out is None else path  # a folder: default name
    info = {"task": run.config.task, "model": run.config.model.name, "run": str(run.dir.resolve()),
            "weights": weights, **graph.meta}
    if run.meta.get("palette"):
        info["palette"] = run.meta["palette"]
    dynamic = bool(dynamic_batch or (dynamic_batch is None and not graph.batch_one))
    return export_model(graph.module, run.preprocess, run.classes, fmt, path, dynamic, tolerance, samples, info,
                        graph.outputs, graph.compare)


def _graph(run: LoadedRun) -> Graph:
    """The module to export: a detector's dense network (or whole graph), any other run's model as it is."""
    if run.config.task == "detect":
        return detection_graph(run.model, run.config.model.name, run.meta)
    return Graph(run.model, (OUTPUT,), False, {})


def export_model(model: nn.Module, preprocess: Preprocess, classes: list[str], fmt: str, out: str | Path,
                 dynamic_batch: bool = False, tolerance: float = 1e-4, samples: int = 8,
                 info: dict[str, Any] | None = None, outputs: Sequence[str] = (OUTPUT,),
                 compare: Compare | None = None) -> ExportResult:
    """Export any model taking ``preprocess``-normalized input (its output tensors, named ``outputs``, whatever
    their shapes, are checked element by element, or by ``compare``); ``info`` is added to the metadata."""
    meta = {"format": fmt, "model": type(model).__name__, **(info or {}), "preprocess": preprocess.to_dict(),
            "classes": classes, "dynamic_batch": dynamic_batch, "input": INPUT, "output": outputs[0],
            "outputs": list(outputs)}
    model = model.cpu().float().eval()
    example = sample_inputs(preprocess, 2 if dynamic_batch else 1, seed=0)
    data = (_onnx_bytes if fmt == "onnx" else _torchscript_bytes)(model, example, meta)
    batches = [1, 3, samples] if dynamic_batch else [1]
    diff = _check(model, _runner(fmt, data, meta["outputs"]), preprocess, batches, samples, tolerance, compare)
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
    names = meta["outputs"]
    axes = {name: {0: "batch"} for name in [INPUT, *names]} if meta["dynamic_batch"] else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy (TorchScript-based) exporter's deprecation notice
            torch.onnx.export(model, (example,), buf, input_names=[INPUT], output_names=names,
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


def ort_session(model: str | bytes, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session (a file path or the bytes; ``threads``: intra- and inter-op, default ORT's) whose
    log shows errors only: Mask R-CNN's paste loop would otherwise warn, once per detection, that the loop's
    result outgrew its traced shape (it is meant to)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = options.inter_op_num_threads = threads
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _runner(fmt: str, data: bytes, outputs: Sequence[str]) -> Callable[[np.ndarray], list[np.ndarray]]:
    """A function running the exported bytes on a float32 (B, C, H, W) array, as deployment will: one array
    per output."""
    if fmt == "onnx":
        session = ort_session(data)
        return lambda x: session.run(list(outputs), {INPUT: x})
    module = jit_load(io.BytesIO(data))
    return lambda x: arrays(module(torch.from_numpy(x)))


def arrays(out: torch.Tensor | Sequence[torch.Tensor]) -> list[np.ndarray]:
    """A model's output tensor (or tuple of tensors) as a list of numpy arrays."""
    outs = [out] if isinstance(out, torch.Tensor) else list(out)
    return [o.detach().float().numpy() if o.is_floating_point() else o.detach().numpy() for o in outs]


def _check(model: nn.Module, run: Callable[[np.ndarray], list[np.ndarray]], pre: Preprocess, batches: list[int],
           samples: int, tolerance: float, compare: Compare | None = None) -> float:
    """Max |exported - eager| over ``samples`` inputs fed in each batch size; raise above the tolerance."""
    x = sample_inputs(pre, samples, seed=1)
    worst = 0.0
    for b in batches:
        for i in range(0, samples, b):
            with torch.inference_mode():
                refs = arrays(model(x[i: i + b]))  # (b, K) logits, (b, K, H, W) per pixel, dense boxes ...
            got = run(x[i: i + b].numpy())
            if compare is not None:  # e.g. detections, whose order may differ where scores tie
                diff, scale = compare(got, refs), max((float(np.abs(r).max(initial=0.0)) for r in refs), default=0)
                if diff == float("inf"):
                    raise ExportError(f"exported model's outputs do not pair up with PyTorch's at batch size {b} "
                                      f"(shapes {[o.shape for o in got]} vs {[r.shape for r in refs]})")
                _refuse_above(diff, tolerance + tolerance * scale, b, tolerance)
                worst = max(worst, diff)
                continue
            for ref, out in zip(refs, got):
                if out.shape != ref.shape:
                    raise ExportError(f"exported model returns shape {out.shape} where PyTorch returns "
                                      f"{ref.shape} (batch size {b})")
                diff = np.abs(out.astype(np.float64) - ref)
                worst = max(worst, float(diff.max(initial=0.0)))
                _refuse_above(diff - tolerance * np.abs(ref), tolerance, b, tolerance, float(diff.max(initial=0)))
    return worst


def _refuse_above(excess: Any, bound: float, batch: int, tolerance: float, shown: float | None = None) -> None:
    if (np.asarray(excess) > bound).any():
        diff = float(np.max(excess)) if shown is None else shown
        raise ExportError(f"exported model disagrees with PyTorch at batch size {batch}: max abs difference "
                          f"{diff:.3g} exceeds tolerance {tolerance:g} (+{tolerance:g} x |output|)")
