"""The sliding-window classifier made fully convolutional (DIGITS' second approach, notes: Fully convolutional
network): its Linear layers become convolutions with the same weights (the first one a conv whose kernel covers the
whole feature map of a patch, the rest 1x1), so one forward pass over the image gives the whole heatmap.

Converts plain chains: conv / pool / batch-norm / elementwise-activation / dropout layers, then Flatten, then
Linear / BatchNorm1d / activation / dropout layers: nnlab's ``lenet5``, ``mlp``, ``softmax`` / ``svm`` and any
``nn.Sequential`` of those. Refused, with the reason: global pooling heads and branches (resnet, densenet,
googlenet, vgg, alexnet), LayerNorm / GroupNorm after Flatten, padded convs or pools (a window sees zeros at its
border where the one-pass form sees neighbouring pixels; ``strict=False`` accepts them, scores then differ near
window borders), and a stride that is not a multiple of the network's own stride."""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

from nnlab.errors import UserError
from nnlab.models.classic.linear import LinearClassifier
from nnlab.models.classic.mlp import MLP
from nnlab.models.cnn.lenet import LeNet5
from nnlab.models.detection.classic.base import Images, Target
from nnlab.models.detection.classic.sliding_window import SlidingWindow, window_classifier
from nnlab.models.registry import DETECTORS
from nnlab.models.layers import ACTIVATIONS

ELEMENTWISE = (*ACTIVATIONS.values(), nn.Identity)
DROPOUT = (nn.Dropout, nn.Dropout2d)
SPATIAL = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.BatchNorm2d, *ELEMENTWISE, *DROPOUT)


def layer_chain(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The classifier as the ordered list of layers its forward applies, for the architectures that are one."""
    if isinstance(model, LeNet5):
        return [(f"features.{n}", m) for n, m in model.features.named_children()] + \
            [(f"classifier.{n}", m) for n, m in model.classifier.named_children()]
    if isinstance(model, MLP):
        return [("flatten", nn.Flatten())] + [(f"features.{n}", m) for n, m in model.features.named_children()] + \
            [("head", model.head)]
    if isinstance(model, LinearClassifier):
        return [("flatten", nn.Flatten()), ("fc", model.fc)]
    if type(model) is nn.Sequential:
        chain = []
        for name, m in model.named_children():
            chain += [(f"{name}.{n}", c) for n, c in layer_chain(m)] if type(m) is nn.Sequential else [(name, m)]
        return chain
    raise UserError(f"the convolutional rewrite handles lenet5, mlp, softmax/svm and nn.Sequential chains of "
                    f"conv/pool/activation then Flatten + Linear layers; {type(model).__name__} is not one "
                    "(global pooling or branches): use the sliding_window detector for it")


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _check_spatial(name: str, m: nn.Module, strict: bool) -> tuple[int, int]:
    """Refuse what cannot be rewritten exactly; return the layer's stride."""
    if not isinstance(m, SPATIAL):
        raise UserError(f"layer {name} ({type(m).__name__}) cannot be rewritten as a convolution")
    if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        if getattr(m, "ceil_mode", False):
            raise UserError(f"layer {name} pools with ceil_mode=True: windows and the one-pass form would differ")
        pad = m.padding
        if strict and (pad != "valid" if isinstance(pad, str) else any(_pair(pad))):
            raise UserError(f"layer {name} pads its input (padding={m.padding}): a sliding window sees zeros at its "
                            "border where the one-pass form sees the neighbouring pixels, so the scores differ. "
                            "Use a classifier without padding (e.g. lenet5 on 32x32 patches) or strict=False")
        return _pair(m.stride)
    return 1, 1


def _head_layer(name: str, m: nn.Module, shape: tuple[int, int, int], first: bool,
                step: tuple[int, int]) -> nn.Module:
    """One layer after Flatten as its convolutional twin (weights copied)."""
    if isinstance(m, nn.Linear):
        c, h, w = shape if first else (m.in_features, 1, 1)
        conv = nn.Conv2d(c, m.out_features, (h, w), stride=step if first else 1, bias=m.bias is not None)
        with torch.no_grad():
            conv.weight.copy_(m.weight.reshape(m.out_features, c, h, w))
            if m.bias is not None:
                conv.bias.copy_(m.bias)
        return conv
    if isinstance(m, nn.BatchNorm1d):
        bn = nn.BatchNorm2d(m.num_features, eps=m.eps, affine=m.affine)
        bn.load_state_dict(m.state_dict())
        return bn
    if isinstance(m, DROPOUT):
        return nn.Identity()
    if isinstance(m, ELEMENTWISE):
        return copy.deepcopy(m)
    raise UserError(f"layer {name} ({type(m).__name__}) after Flatten cannot be rewritten as a convolution")


def fully_convolutional(classifier: nn.Module, patch: Sequence[int], stride: int, strict: bool = True) -> nn.Sequential:
    """``classifier`` (patches -> logits) rewritten so that an image (1, C, H, W) gives logits (1, K, ny, nx) at
    the windows ``stride`` pixels apart; the weights are copied, nothing is retrained. Eval mode."""
    chain = layer_chain(classifier)
    split = next((i for i, (_, m) in enumerate(chain) if isinstance(m, nn.Flatten)), None)
    if split is None or not any(isinstance(m, nn.Linear) for _, m in chain[split:]):
        raise UserError("the convolutional rewrite needs a Flatten followed by Linear layers in the classifier")
    sy, sx = 1, 1
    for name, m in chain[:split]:
        ly, lx = _check_spatial(name, m, strict)
        sy, sx = sy * ly, sx * lx
    if stride % sy or stride % sx:
        raise UserError(f"the window stride {stride} must be a multiple of the network's own stride {sy}x{sx}")
    body = nn.Sequential(*[copy.deepcopy(m) for _, m in chain[:split]]).eval()
    first_linear = next(m for _, m in chain[split:] if isinstance(m, nn.Linear))
    c = _in_chans(chain, first_linear, patch)
    with torch.no_grad():
        shape = tuple(body(torch.zeros(1, c, *patch)).shape[1:])  # (C', h, w) of one patch
    head, first = [], True
    for name, m in chain[split + 1:]:
        head.append(_head_layer(name, m, shape, first, (stride // sy, stride // sx)))
        first = first and not isinstance(m, nn.Linear)
    return nn.Sequential(*body, *head).eval()


def _in_chans(chain: list[tuple[str, nn.Module]], first_linear: nn.Linear, patch: Sequence[int]) -> int:
    conv = next((m for _, m in chain if isinstance(m, nn.Conv2d)), None)
    return conv.in_channels if conv is not None else first_linear.in_features // (patch[0] * patch[1])


class Convolutional(SlidingWindow):
    """The sliding-window detector with the one-pass heatmap. Same constructor, plus ``strict``; ``fit`` trains
    the classifier as windows, then rewrites it again."""

    def __init__(self, classifier: nn.Module, patch: Sequence[int], classes: int, *args, strict: bool = True,
                 **kwargs) -> None:
        super().__init__(classifier, patch, classes, *args, **kwargs)
        self.strict = strict
        self.fcn = fully_convolutional(classifier, self.patch, self.stride, strict)

    def fit(self, images: Images, targets: list[Target]) -> dict[str, float]:
        stats = super().fit(images, targets)
        self.fcn = fully_convolutional(self.classifier, self.patch, self.stride, self.strict)
        return stats

    def score_map(self, x: torch.Tensor) -> torch.Tensor:
        """One forward pass of the (C, h, w) level: probabilities (classes + 1, ny, nx)."""
        (ph, pw), s = self.patch, self.stride
        ny, nx = (x.shape[1] - ph) // s + 1, (x.shape[2] - pw) // s + 1
        self.fcn.eval()
        logits = self.fcn(x[None])[0]  # (K+1, >=ny, >=nx)
        self._check_outputs(logits.shape[0])
        return logits[:, :ny, :nx].softmax(0)


@DETECTORS.register("convolutional")
def convolutional(*, classes: int, in_chans: int = 3, patch: tuple[int, int] = (32, 32),
                  classifier: str = "lenet5", scales: Sequence[float] = (1.0,), stride: int = 4,
                  score_threshold: float = 0.5, iou_threshold: float = 0.3, epochs: int = 10, lr: float = 1e-3,
                  strict: bool = True) -> Convolutional:
    """A zoo ``classifier`` trained on windows (``fit``) and run fully convolutionally."""
    net = window_classifier(classifier, classes, in_chans, patch)
    return Convolutional(net, patch, classes, None, scales, stride, score_threshold, iou_threshold, epochs=epochs,
                         lr=lr, strict=strict)
