"""Bilinear-initialised transposed convolutions against F.interpolate; pad / crop helpers."""
import pytest
import torch
import torch.nn.functional as F

from nnlab.models.segmentation.upsample import Upsample, bilinear_transposed, fit_to, pad_to_multiple


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
def test_bilinear_transposed_conv_equals_interpolate_on_the_interior(factor):
    x = torch.randn(2, 3, 7, 9)
    up = bilinear_transposed(3, factor)
    with torch.no_grad():
        out = up(x)  # (2, 3, 7f, 9f)
    ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    assert out.shape == ref.shape
    m = factor  # the outermost input cell on each side sees the border (interpolate clamps, the conv pads zeros)
    torch.testing.assert_close(out[..., m:-m, m:-m], ref[..., m:-m, m:-m])
    assert not torch.allclose(out[..., :1, :], ref[..., :1, :])  # the border does differ: the test can fail


def test_bilinear_transposed_conv_keeps_classes_apart():
    x = torch.zeros(1, 2, 4, 4)
    x[:, 0] = 1.0
    with torch.no_grad():
        out = bilinear_transposed(2, 2)(x)
    assert out[:, 1].abs().max() == 0


@pytest.mark.parametrize("mode", ["transposed", "bilinear", "unpool"])
def test_upsample_reaches_any_target_size(mode):
    x = torch.randn(1, 2, 5, 6)
    out = Upsample(2, 4, mode)(x, (19, 23))
    assert out.shape == (1, 2, 19, 23)
    if mode == "unpool":  # nearest-neighbour unpooling: every value fills its 4x4 cell
        assert torch.equal(out[0, :, :4, :4], x[0, :, :1, :1].expand(2, 4, 4))


def test_fixed_upsampling_is_a_buffer_not_a_parameter():
    up = Upsample(3, 8, "transposed", learnable=False)
    assert not list(up.parameters()) and "conv.weight" in up.state_dict()


def test_pad_to_multiple_and_fit_to():
    x = torch.randn(1, 1, 33, 47)
    assert pad_to_multiple(x, 16).shape[-2:] == (48, 48)
    assert pad_to_multiple(torch.randn(1, 1, 3, 5), 4, minimum=16).shape[-2:] == (16, 16)
    assert torch.equal(pad_to_multiple(x, 16)[..., :33, :47], x)
    assert fit_to(x, (30, 50)).shape[-2:] == (30, 50)
