"""Every registered neck (and merge mode): maps keep their names and sizes, channels are as declared, and
backward reaches every parameter."""
from collections import OrderedDict

import pytest
import torch

from nnlab.models.detection.necks import NECKS

CHANNELS = [8, 16, 32]
SIZES = [(16, 12), (8, 6), (4, 3)]


@pytest.mark.parametrize("name, merge", [(n, m) for n in NECKS.names() for m in ("add", "concat")
                                         if n != "none" or m == "add"])
def test_neck_contract(name, merge):
    torch.manual_seed(0)
    neck = NECKS.build(name, in_channels=CHANNELS) if name == "none" else \
        NECKS.build(name, in_channels=CHANNELS, width=12, merge=merge)
    maps = OrderedDict((f"c{i}", torch.randn(2, c, *s, requires_grad=True))
                       for i, (c, s) in enumerate(zip(CHANNELS, SIZES)))
    out = neck(maps)
    assert list(out) == list(maps)
    for (k, x), c in zip(out.items(), neck.out_channels):
        assert x.shape == (2, c, *maps[k].shape[-2:])
    sum(x.square().mean() for x in out.values()).backward()
    missing = [n for n, p in neck.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reaches {missing}"
    assert all(x.grad is not None for x in maps.values())
