"""Channel and shape bookkeeping of the necks: add keeps C, concat makes 2C and a 1x1 conv brings it back."""
from collections import OrderedDict

import pytest
import torch

from nnlab.errors import ConfigError
from nnlab.models.detection.necks import FPN, PAN, Merge, NoNeck


def _maps(channels=(8, 16, 32), side=16):
    return OrderedDict((f"c{i}", torch.randn(1, c, side >> i, side >> i)) for i, c in enumerate(channels))


def test_merge_add_keeps_channels_and_sums():
    m = Merge("add", 6)
    a, b = torch.randn(1, 6, 4, 4), torch.randn(1, 6, 4, 4)
    assert m.merged_channels == 6
    torch.testing.assert_close(m(a, b), a + b)


def test_merge_concat_doubles_then_reduces():
    m = Merge("concat", 6)
    assert m.merged_channels == 12
    conv = m.reduce[0]
    assert conv.in_channels == 12 and conv.out_channels == 6 and conv.kernel_size == (1, 1)
    assert m(torch.randn(2, 6, 4, 4), torch.randn(2, 6, 4, 4)).shape == (2, 6, 4, 4)


def test_merge_refuses_unknown_mode():
    with pytest.raises(ConfigError, match="merge"):
        Merge("mean", 4)


def test_fpn_lateral_convs_map_each_level_to_width():
    fpn = FPN([8, 16, 32], width=10, merge="concat")
    assert [(c.in_channels, c.out_channels) for c in fpn.lateral] == [(8, 10), (16, 10), (32, 10)]
    out = fpn(_maps())
    assert [tuple(x.shape) for x in out.values()] == [(1, 10, 16, 16), (1, 10, 8, 8), (1, 10, 4, 4)]


def test_fpn_top_down_carries_coarse_information_to_fine_levels():
    fpn = FPN([8, 16, 32], width=10).eval()
    maps = _maps()
    base = fpn(maps)["c0"]
    maps["c2"] = maps["c2"] + 1.0  # change only the coarsest map
    assert not torch.allclose(fpn(maps)["c0"], base)


def test_pan_bottom_up_carries_fine_information_to_coarse_levels():
    fpn, pan = FPN([8, 16, 32], width=10).eval(), PAN([8, 16, 32], width=10).eval()
    maps = _maps()
    changed = OrderedDict(maps)
    changed["c0"] = maps["c0"] + 1.0  # change only the finest map
    assert torch.allclose(fpn(changed)["c2"], fpn(maps)["c2"])  # FPN: top-down only
    assert not torch.allclose(pan(changed)["c2"], pan(maps)["c2"])


def test_pan_handles_odd_sizes():
    maps = OrderedDict([("a", torch.randn(1, 4, 9, 7)), ("b", torch.randn(1, 4, 5, 4)), ("c", torch.randn(1, 4, 3, 2))])
    out = PAN([4, 4, 4], width=6)(maps)
    assert [x.shape[-2:] for x in out.values()] == [m.shape[-2:] for m in maps.values()]


def test_no_neck_passes_maps_through():
    maps = _maps()
    neck = NoNeck([8, 16, 32])
    assert neck(maps) is maps and neck.out_channels == [8, 16, 32]
