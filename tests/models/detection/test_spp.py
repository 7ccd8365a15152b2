"""SPPNet's spatial pyramid pooling against torchvision's roi_pool, level by level."""
import pytest
import torch
from torchvision.ops import roi_pool

from nnlab.errors import ConfigError
from nnlab.models.detection.spp import RoIPooler, SpatialPyramidPool, build_pool


def test_each_pyramid_level_equals_roi_pool():
    torch.manual_seed(0)
    fmap = torch.randn(2, 3, 8, 10)
    boxes = [torch.tensor([[0.0, 0.0, 72.0, 56.0], [12.0, 9.0, 41.0, 50.0]]), torch.tensor([[20.0, 4.0, 30.0, 14.0]])]
    # (RoIs reaching past the last cell differ: spp clips the window first, roi_pool bins then clips)
    spp = SpatialPyramidPool("p", stride=8, levels=(1, 2, 4))
    out = spp({"p": fmap}, boxes, [(64, 80)] * 2)
    assert out.shape == (3, 3 * (1 + 4 + 16))
    start = 0
    for n in (1, 2, 4):
        ref = roi_pool(fmap, boxes, n, 1 / 8)  # (R, C, n, n)
        torch.testing.assert_close(out[:, start:start + 3 * n * n], ref.flatten(1))
        start += 3 * n * n


def test_spp_gives_one_length_for_any_roi_size_and_passes_gradients():
    fmap = torch.randn(1, 4, 8, 8, requires_grad=True)
    boxes = [torch.tensor([[0.0, 0.0, 8.0, 8.0], [0.0, 0.0, 64.0, 64.0], [3.0, 3.0, 3.5, 3.5]])]
    out = SpatialPyramidPool("p", stride=8)({"p": fmap}, boxes, [(64, 64)])
    assert out.shape == (3, 4 * 21)
    out.sum().backward()
    assert fmap.grad.abs().sum() > 0


def test_roi_poolers_output_size():
    fmap = {"p": torch.randn(1, 4, 8, 8)}
    boxes = [torch.tensor([[0.0, 0.0, 32.0, 32.0]])]
    for kind in ("roi_pool", "roi_align"):
        assert RoIPooler(kind, "p", 8, size=5)(fmap, boxes, [(64, 64)]).shape == (1, 4, 5, 5)


def test_unknown_pool_is_refused():
    with pytest.raises(ConfigError, match="model.pool"):
        build_pool("avg", "p", 8)
