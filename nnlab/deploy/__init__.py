"""Deployment: export a run to ONNX / TorchScript (checked against PyTorch), predict with the exported
file, and serve predictions over HTTP with dynamic micro-batching."""
from nnlab.deploy.export import ExportError, ExportResult, export_run, read_metadata
from nnlab.deploy.predictor import Predictor

__all__ = ["ExportError", "ExportResult", "Predictor", "export_run", "read_metadata"]
