"""Attribution maps: which input pixels drive a class score (CS231n, Visualizing and Understanding).

Captum does the methods it has (Saliency, GuidedBackprop, IntegratedGradients, Occlusion, LayerGradCam);
Grad-CAM++ (Chattopadhyay et al. 2018) is ours. Every method returns one non-negative map per image at the
input's size, (N, H, W), so the overlay, the sanity check and the pointing game treat them alike.
"""
from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from nnlab.errors import UserError
from nnlab.explain.common import out_of_place

METHODS = ("saliency", "guided_backprop", "integrated_gradients", "occlusion", "gradcam", "gradcam++")
LAYER_METHODS = ("gradcam", "gradcam++")  # need a layer with spatial output (N, K, h, w)
RELU_KINDS = (nn.ReLU, nn.ReLU6)


@dataclass
class Options:
    """Per-method settings (defaults follow each paper's usual choice at small image sizes)."""

    steps: int = 32  # integrated gradients: Riemann steps from the baseline
    window: int | None = None  # occlusion: patch side (None: about a sixth of the image side, at least 2)
    stride: int | None = None  # occlusion: patch step (None: half the window)
    baseline: torch.Tensor | None = None  # integrated gradients: (1, C, 1, 1) black (None: the inputs' minimum)
    probability: bool = True  # occlusion: the drop of the softmax probability (False: of the raw output, a box score)


def spatial_layers(model: nn.Module, shape: tuple[int, int, int]) -> dict[str, tuple[int, int]]:
    """The modules whose output on an input of ``shape`` (C, H, W) is a feature map (1, K, h, w): name -> (h, w)."""
    found: dict[str, tuple[int, int]] = {}

    def record(name: str, out: object) -> None:  # a forward hook must return None (else it replaces the output)
        if isinstance(out, torch.Tensor) and out.dim() == 4:
            found.setdefault(name, (out.shape[2], out.shape[3]))

    hooks = [m.register_forward_hook(lambda _m, _i, out, n=n: record(n, out)) for n, m in model.named_modules() if n]
    try:
        with torch.no_grad():
            model(torch.zeros(1, *shape))
    finally:
        for h in hooks:
            h.remove()
    return found


def resolve_layer(model: nn.Module, method: str, layer: str | None, shape: tuple[int, int, int]) -> str | None:
    """The layer a layer method explains (default: the last layer with a feature map); refused with the valid
    names for a typo, and with a clear message for a model without feature maps (an MLP)."""
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method not in LAYER_METHODS:
        if layer is not None:
            raise UserError(f"--layer is for {' and '.join(LAYER_METHODS)}; {method} explains the input pixels")
        return None
    valid = spatial_layers(model, shape)
    if not valid:
        raise UserError(f"{method} needs a layer with a spatial feature map (a convolution); this model "
                        f"({type(model).__name__}) has none — use saliency, guided_backprop, integrated_gradients "
                        "or occlusion")
    if layer is None:  # the last map with more than one position (a global pool's 1x1 cannot localize)
        return ([n for n, hw in valid.items() if hw[0] * hw[1] > 1] or list(valid))[-1]
    if layer not in valid:
        exists = layer in dict(model.named_modules())
        close = difflib.get_close_matches(layer, list(valid), n=1)
        raise UserError(f"layer {layer!r} {'has no spatial output' if exists else 'does not exist'}"
                        f"{f' (did you mean {close[0]!r}?)' if close else ''}; layers with feature maps: "
                        f"{', '.join(valid)}")
    return layer


def guided_backprop_note(model: nn.Module) -> str | None:
    """What guided backprop means for this model: it rewrites only ReLU's backward (pass positive gradients
    through positive inputs). Without ReLU modules it is the plain gradient (saliency with sign)."""
    kinds = sorted({type(m).__name__ for m in model.modules()
                    if type(m).__module__.startswith("torch.nn.modules.activation")})
    if not any(isinstance(m, RELU_KINDS) for m in model.modules()):
        return (f"this model has no ReLU modules (activations: {', '.join(kinds) or 'none'}): guided backprop only "
                "changes ReLU's backward pass, so here it is the plain input gradient (signed saliency)")
    others = [k for k in kinds if k not in ("ReLU", "ReLU6", "Softmax", "LogSoftmax")]
    if others:
        return (f"guided backprop rewrites the ReLUs only; the model's {', '.join(others)} layers pass their "
                "ordinary gradient")
    return None


def attribute(model: nn.Module, x: torch.Tensor, method: str, target: torch.Tensor, layer: str | None = None,
              options: Options | None = None) -> torch.Tensor:
    """Non-negative maps (N, H, W) of ``method`` for class ``target`` (N,) on inputs ``x`` (N, C, H, W)."""
    o = options or Options()
    model = model.eval()
    x = x.detach().float().requires_grad_(True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(backward hooks on ReLU|did not already require gradients).*")
        return _RUNNERS[method](model, x, target.long(), layer, o).detach()


def explain_score(score: nn.Module, x: torch.Tensor, method: str, layer: str | None, prefix: str,
                  options: Options) -> tuple[torch.Tensor, str | None]:
    """The map (H, W) of ``method`` for a one-output model ``score`` (B, C, H, W) -> (B, 1) that wraps the run's
    model as ``score.<prefix>`` (a detected box's score, a class's pixels): ``layer`` is named as in the run's
    model; occlusion measures the drop of the raw score (there is no softmax over one output)."""
    layer = resolve_layer(score, method, None if layer is None else f"{prefix}.{layer}", tuple(x.shape[1:]))
    opts = Options(options.steps, options.window, options.stride, options.baseline, probability=False)
    maps = attribute(score, x, method, torch.zeros(len(x), dtype=torch.long), layer, opts)
    return maps[0], layer


def _saliency(model: nn.Module, x: torch.Tensor, t: torch.Tensor, _l: str | None, _o: Options) -> torch.Tensor:
    from captum.attr import Saliency

    return Saliency(model).attribute(x, target=t, abs=True).amax(1)  # Simonyan: max |grad| over channels


def _guided(model: nn.Module, x: torch.Tensor, t: torch.Tensor, _l: str | None, _o: Options) -> torch.Tensor:
    from captum.attr import GuidedBackprop

    # on a copy with out-of-place ReLUs: an in-place ReLU breaks the backward hooks guided backprop relies on
    return GuidedBackprop(out_of_place(model)).attribute(x, target=t).abs().amax(1)


def _integrated(model: nn.Module, x: torch.Tensor, t: torch.Tensor, _l: str | None, o: Options) -> torch.Tensor:
    from captum.attr import IntegratedGradients

    black = o.baseline if o.baseline is not None else x.amin(dim=(0, 2, 3), keepdim=True)  # (1, C, 1, 1)
    ig = IntegratedGradients(model).attribute(x, baselines=black.expand_as(x).contiguous(), target=t,
                                              n_steps=o.steps)
    return ig.abs().sum(1)


def occlusion_geometry(h: int, w: int, o: Options) -> tuple[int, int]:
    """The patch side and step: the options', else about a sixth of the smaller side (>= 2) and half that."""
    window = o.window or max(2, round(min(h, w) / 6))
    if window > min(h, w):
        raise UserError(f"occlusion window {window} is larger than the image ({h}x{w})")
    return window, o.stride or max(1, window // 2)


def _occlusion(model: nn.Module, x: torch.Tensor, t: torch.Tensor, _l: str | None, o: Options) -> torch.Tensor:
    """Zeiler & Fergus: slide a patch of the mean pixel (0 after normalization) and record the drop of the
    class probability; each pixel gets the mean drop over the patches covering it."""
    from captum.attr import Occlusion

    c, h, w = x.shape[1:]
    window, stride = occlusion_geometry(h, w, o)
    probs = Occlusion((lambda z: model(z).softmax(1)) if o.probability else model)
    drop = probs.attribute(x, sliding_window_shapes=(c, window, window), strides=(c, stride, stride),
                           baselines=0.0, target=t, perturbations_per_eval=16)
    return drop.mean(1).clamp_min(0)  # (N, H, W): equal over channels; a rise in probability is not evidence


def _gradcam(model: nn.Module, x: torch.Tensor, t: torch.Tensor, layer: str | None, _o: Options) -> torch.Tensor:
    from captum.attr import LayerAttribution, LayerGradCam

    clone = out_of_place(model)
    cam = LayerGradCam(clone, clone.get_submodule(layer)).attribute(x, target=t, relu_attributions=True)
    return LayerAttribution.interpolate(cam, tuple(x.shape[2:]), "bilinear").squeeze(1).clamp_min(0)


def gradcam_plus_plus(model: nn.Module, x: torch.Tensor, target: torch.Tensor, layer: str) -> torch.Tensor:
    """Grad-CAM++ (Chattopadhyay et al. 2018, eq. 19 with the exponential score): at the layer's map A (N, K, h, w)
    with g = dS_c/dA, alpha = g^2 / (2 g^2 + sum_ab A g^3), w_k = sum_ab alpha relu(g), map = relu(sum_k w_k A_k),
    upsampled to the input. Captum has no Grad-CAM++."""
    clone = out_of_place(model).eval()
    store: dict[str, torch.Tensor] = {}

    def keep(_m: nn.Module, _i: tuple, out: torch.Tensor) -> None:
        out.retain_grad()
        store["a"] = out

    hook = clone.get_submodule(layer).register_forward_hook(keep)
    try:
        scores = clone(x.detach().requires_grad_(True))  # (N, K_classes)
        scores.gather(1, target[:, None]).sum().backward()
    finally:
        hook.remove()
    a, g = store["a"].detach(), store["a"].grad  # (N, K, h, w)
    g2, g3 = g.pow(2), g.pow(3)
    denom = 2 * g2 + a.sum(dim=(2, 3), keepdim=True) * g3
    alpha = torch.where(denom != 0, g2 / torch.where(denom != 0, denom, torch.ones_like(denom)), torch.zeros_like(g))
    weights = (alpha * g.clamp_min(0)).sum(dim=(2, 3), keepdim=True)  # (N, K, 1, 1)
    cam = (weights * a).sum(1, keepdim=True).clamp_min(0)  # (N, 1, h, w)
    return nn.functional.interpolate(cam, size=tuple(x.shape[2:]), mode="bilinear", align_corners=False).squeeze(1)


def _gradcampp(model: nn.Module, x: torch.Tensor, t: torch.Tensor, layer: str | None, _o: Options) -> torch.Tensor:
    return gradcam_plus_plus(model, x, t, layer)


_RUNNERS: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor, str | None, Options], torch.Tensor]] = {
    "saliency": _saliency, "guided_backprop": _guided, "integrated_gradients": _integrated,
    "occlusion": _occlusion, "gradcam": _gradcam, "gradcam++": _gradcampp,
}
