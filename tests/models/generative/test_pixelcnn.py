"""PixelCNN's masks keep the chain rule: output pixel i depends only on input pixels before i in raster order
(type A excludes i itself; type B, after A, may use position i of the previous layer). Plus sampling shapes,
a one-batch overfit and clear errors."""
from __future__ import annotations

import pytest
import torch

from nnlab.errors import ConfigError
from nnlab.models.generative import GENERATIVE
from nnlab.models.generative.pixelcnn import MaskedConv2d


def _dependency(fn, chans: int, h: int, w: int) -> torch.Tensor:
    """dep[i, j] = True when output pixel i (any channel) has a non-zero gradient w.r.t. input pixel j."""
    dep = torch.zeros(h * w, h * w, dtype=torch.bool)
    for i in range(h * w):
        x = torch.rand(1, chans, h, w, requires_grad=True)
        out = fn(x)
        out = out.flatten(1, -3) if out.dim() == 5 else out  # (1, L C, H, W)
        out[0, :, i // w, i % w].sum().backward()
        dep[i] = x.grad[0].abs().sum(0).flatten() > 0
    return dep


@pytest.mark.parametrize("levels, gated", [(2, False), (256, True)])
def test_output_pixel_i_sees_only_pixels_before_i(levels, gated):
    torch.manual_seed(0)
    model = GENERATIVE.build("pixelcnn", in_chans=2, input_size=(5, 4), channels=8, blocks=2, levels=levels,
                             gated=gated).double().float()
    dep = _dependency(model, 2, 5, 4)
    n = dep.shape[0]
    assert not torch.triu(dep).any()  # j >= i: never (i itself included: the first layer is type A)
    assert dep[n - 1, : n - 1].sum() >= 10  # and the receptive field is not empty: the last pixel sees many


def test_mask_types_a_and_b():
    a, b = MaskedConv2d("A", 1, 1, 3), MaskedConv2d("B", 1, 1, 3)
    for conv in (a, b):
        torch.nn.init.ones_(conv.weight)
    dep_a, dep_b = _dependency(a, 1, 3, 3), _dependency(b, 1, 3, 3)
    eye = torch.eye(9, dtype=torch.bool)
    assert not dep_a.diagonal().any() and dep_b.diagonal().all()  # B sees its own position, A does not
    assert not torch.triu(dep_a).any() and not torch.triu(dep_b & ~eye).any()
    with pytest.raises(ValueError, match="mask type"):
        MaskedConv2d("C", 1, 1, 3)


@pytest.mark.parametrize("levels", [2, 256])
def test_samples_are_images_on_the_output_grid(levels):
    model = GENERATIVE.build("pixelcnn", in_chans=1, input_size=(4, 4), channels=4, blocks=1, levels=levels)
    images = model.sample(3, torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 4, 4)
    assert torch.equal(images, (images * (levels - 1)).round() / (levels - 1))


@pytest.mark.parametrize("levels, gated, kernel", [(2, False, 3), (256, True, 3), (2, True, 5)])
def test_cropped_sampling_draws_the_same_images_as_the_full_image(levels, gated, kernel):
    torch.manual_seed(0)
    model = GENERATIVE.build("pixelcnn", in_chans=2, input_size=(11, 12), channels=8, blocks=1, levels=levels,
                             gated=gated, kernel_size=kernel)
    assert model.reach == 3 + kernel // 2  # the 7x7 type-A layer, then one masked block
    full = model.sample(3, torch.Generator().manual_seed(1), crop=False)
    cropped = model.sample(3, torch.Generator().manual_seed(1))
    assert torch.equal(full, cropped) and full.std() > 0


def test_a_window_of_reach_gives_the_full_image_logits_at_its_corner():
    torch.manual_seed(0)
    model = GENERATIVE.build("pixelcnn", in_chans=1, input_size=(24, 24), channels=8, blocks=3, kernel_size=5)
    r = model.reach  # 3 + 3 * 2 = 9
    x = torch.rand(2, 1, 24, 24)
    i, j = 20, 11  # far from every edge: the window's own top edge is padding
    full = model(x)[..., i, j]  # (2, 1)
    window = x[:, :, i - r:i + 1, j - r:j + r + 1]
    assert torch.allclose(model(window)[..., r, r], full, rtol=0, atol=1e-6)
    lower = x[:, :, i - r + 1:i + 1, j - r:j + r + 1]  # one row less: the padding reaches the pixel
    narrower = x[:, :, i - r:i + 1, j - r + 1:j + r]  # one column less on each side: so does it
    assert (model(lower)[..., r - 1, r] - full).abs().max() > 1e-7
    assert (model(narrower)[..., r, r - 1] - full).abs().max() > 1e-7


def overfit_ratio(model: torch.nn.Module, size: int, steps: int, lr: float) -> float:
    """Final / initial NLL after ``steps`` Adam steps on 4 random binary images (size x size)."""
    from nnlab.tasks.generate.autoregressive import pixelcnn_nll

    x = (torch.rand(4, 1, size, size, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    opt = torch.optim.Adam(model.parameters(), lr)
    first = float(pixelcnn_nll(model, x).mean().detach())
    for _ in range(steps):
        loss = pixelcnn_nll(model, x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach()) / first


def test_pixelcnn_overfits_one_batch():
    torch.manual_seed(0)
    model = GENERATIVE.build("pixelcnn", in_chans=1, input_size=(6, 6), channels=16, blocks=1)
    assert overfit_ratio(model, 6, 60, 0.01) < 0.5  # memorizes 4 random images


@pytest.mark.parametrize("options, match", [({"levels": 16}, "levels"), ({"channels": 3}, "channels"),
                                            ({"kernel_size": 2}, "kernel_size"), ({"blocks": -1}, "blocks")])
def test_bad_options_are_clear(options, match):
    with pytest.raises(ConfigError, match=match):
        GENERATIVE.build("pixelcnn", in_chans=1, input_size=(8, 8), **options)
