"""The layer calculator: per-layer output shape, parameters, multiply-adds, receptive field and stride.

Convolution arithmetic (notes: CNN): output side = (N - F + 2P) / S + 1. The receptive field of a layer's
output grows by (F - 1) x (the input's stride from the image), and strides multiply. Computed by running one
forward pass with hooks on the leaf modules; branches (inception, residual adds, concatenations) take the
largest receptive field among the maps of the same size seen so far.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

WINDOWED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def conv_output_size(n: int, f: int, p: int = 0, s: int = 1, d: int = 1) -> int:
    """(N - F + 2P) / S + 1, with the effective filter size d(F - 1) + 1 for dilation d."""
    return (n - (d * (f - 1) + 1) + 2 * p) // s + 1


@dataclass
class LayerRow:
    name: str
    type: str
    shape: tuple[int, ...]  # output shape without the batch dimension
    params: int
    macs: int  # per image
    rf: int | None  # receptive field side in input pixels (None: the whole image / not spatial)
    stride: int | None  # distance in input pixels between neighbouring outputs


@dataclass
class Summary:
    input_shape: tuple[int, int, int]
    batch: int
    rows: list[LayerRow] = field(default_factory=list)
    params: int = 0
    trainable: int = 0

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def activation_bytes(self) -> int:
        """fp32 bytes of every leaf layer's output for the batch (about what training keeps for backward)."""
        return 4 * self.batch * sum(math.prod(r.shape) for r in self.rows)

    def table(self) -> str:
        head = ["layer", "type", "output", "params", "MACs", "RF", "stride"]
        body = [[r.name, r.type, "x".join(map(str, r.shape)), f"{r.params:,}", f"{r.macs:,}",
                 "-" if r.rf is None else str(r.rf), "-" if r.stride is None else str(r.stride)] for r in self.rows]
        widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
        lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                 for row in [head, *body]]
        lines.insert(1, "-" * len(lines[0]))
        c, h, w = self.input_shape
        lines += ["", f"input {c}x{h}x{w}, batch {self.batch}",
                  f"parameters: {self.params:,} ({self.trainable:,} trainable)",
                  f"multiply-adds: {self.macs:,} per image ({self.macs / 1e9:.3f} G)",
                  f"activation memory: {self.activation_bytes / 2 ** 20:.1f} MiB (fp32, forward outputs, batch "
                  f"{self.batch})"]
        return "\n".join(lines)


def _pair(v: int | tuple[int, ...]) -> int:
    return v[0] if isinstance(v, tuple) else v


def _macs(m: nn.Module, out: torch.Tensor) -> int:
    per_image = out[0].numel()
    if isinstance(m, nn.Conv2d):
        return per_image * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, nn.Linear):
        return per_image * m.in_features
    return 0


def _window(m: nn.Module, x: torch.Tensor, out: torch.Tensor) -> tuple[int, int] | None:
    """(effective kernel, stride) of a layer that slides a window; None for a layer that sees everything."""
    if isinstance(m, WINDOWED):
        dilation = _pair(getattr(m, "dilation", 1))
        return dilation * (_pair(m.kernel_size) - 1) + 1, _pair(m.stride)
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        n_in, n_out = x.shape[-1], out.shape[-1]
        return (math.ceil(n_in / n_out), n_in // n_out) if n_in >= n_out else (1, 1)
    return None if out.ndim < 4 else (1, 1)


@torch.no_grad()
def summarize(model: nn.Module, input_shape: tuple[int, int, int], batch: int = 1) -> Summary:
    """Run one image through ``model`` (eval mode) and describe every leaf layer."""
    summary = Summary(tuple(input_shape), batch)  # type: ignore[arg-type]
    known: dict[int, tuple[int | None, int | None]] = {}  # id(tensor) -> (rf, stride)
    by_size: dict[tuple[int, ...], tuple[int | None, int | None]] = {}  # (H, W) -> largest (rf, stride)
    names = {m: n for n, m in model.named_modules()}
    x0 = torch.zeros(1, *input_shape)
    known[id(x0)] = (1, 1)
    by_size[tuple(x0.shape[2:])] = (1, 1)
    kept: list[torch.Tensor] = [x0]  # keep outputs alive so their ids stay unique

    def hook(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
        if not isinstance(out, torch.Tensor) or not args or not isinstance(args[0], torch.Tensor):
            return
        x = args[0]
        rf, jump = known.get(id(x)) or by_size.get(tuple(x.shape[2:]), (None, None))
        win = _window(m, x, out)
        if win is None or rf is None or jump is None:
            rf, jump = None, None
        else:
            rf, jump = rf + (win[0] - 1) * jump, jump * win[1]
        known[id(out)] = (rf, jump)
        kept.append(out)
        if out.ndim == 4 and rf is not None:
            size = tuple(out.shape[2:])
            if size not in by_size or (by_size[size][0] or 0) < rf:
                by_size[size] = (rf, jump)
        params = sum(p.numel() for p in m.parameters(recurse=False))
        summary.rows.append(LayerRow(names.get(m, "?"), type(m).__name__, tuple(out.shape[1:]), params,
                                     _macs(m, out), rf, jump))

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        model(x0)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    summary.params = sum(p.numel() for p in model.parameters())
    summary.trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return summary
