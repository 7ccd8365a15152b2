"""The segmentation model registry. Every builder takes ``classes`` and ``in_chans`` plus its own options by
keyword, and returns a module mapping images (B, C, H, W) to logits (B, classes, H, W) for any H, W."""
from torch import nn

from nnlab.registry import Registry

SEGMENTERS: Registry[nn.Module] = Registry("segmenter")
