"""Explaining a class's pixels: the score wrapper, occlusion against a direct loop, gradients only from the chosen
pixels, and the CLI on a tiny U-Net run."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from nnlab.cli.main import main
from nnlab.errors import UserError
from nnlab.explain.attribution import Options
from nnlab.explain.segmentation import PixelClassScore, explain_pixels, parse_region, pixel_mask
from tests.explain.conftest import fit_one_thread


class PixelNet(nn.Module):
    """A per-pixel segmenter (1x1 conv): each output pixel sees only its own input pixel."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)  # (B, 3, H, W)


class LocalNet(nn.Module):
    """3x3 conv -> ReLU -> 1x1 conv: a small receptive field, and a feature map for Grad-CAM."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.conv, self.act, self.head = nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.act(self.conv(x)))


def test_score_is_the_sum_or_mean_of_the_class_logits_over_the_mask():
    model, x = PixelNet(), torch.randn(2, 1, 5, 5)
    mask = torch.zeros(5, 5, dtype=torch.bool)
    mask[1:3, 2:5] = True
    logits = model(x)[:, 2]
    torch.testing.assert_close(PixelClassScore(model, 2, mask)(x)[:, 0], logits[:, mask].sum(1))
    torch.testing.assert_close(PixelClassScore(model, 2, mask, "mean")(x)[:, 0], logits[:, mask].mean(1))


def test_gradients_flow_only_from_the_chosen_pixels():
    model, x = PixelNet(), torch.randn(1, 1, 6, 6)
    mask = pixel_mask(model, x, 1, (1, 2, 4, 5), ["a", "b", "c"])  # columns 1-3, rows 2-4
    heat, used, layer, _ = explain_pixels(model, x, 1, "saliency", None, Options(), (1, 2, 4, 5))
    assert layer is None and torch.equal(used, mask)
    assert bool((heat[~mask] == 0).all() and (heat[mask] > 0).all())  # a 1x1 model: the map is the mask


def test_occlusion_equals_a_direct_loop_of_score_drops():
    model, x = LocalNet(), torch.randn(1, 1, 6, 6)
    cls = 0
    mask = model(x)[0].argmax(0) == cls
    assert mask.any()
    heat, used, _, _ = explain_pixels(model, x, cls, "occlusion", None, Options(window=2, stride=2))
    assert torch.equal(used, mask)
    score = PixelClassScore(model, cls, mask)
    expected = torch.zeros(6, 6)
    with torch.no_grad():
        base = score(x)[0, 0]
        for r in range(0, 6, 2):
            for c in range(0, 6, 2):
                z = x.clone()
                z[:, :, r:r + 2, c:c + 2] = 0
                expected[r:r + 2, c:c + 2] = (base - score(z)[0, 0]).clamp_min(0)
    torch.testing.assert_close(heat, expected)


def test_gradcam_explains_the_pixels_at_a_layer_of_the_segmenter():
    model, x = LocalNet(), torch.randn(1, 1, 6, 6)
    heat, _, layer, _ = explain_pixels(model, x, 1, "gradcam", "act", Options(), (0, 0, 3, 3))
    assert layer == "segmenter.act" and heat.shape == (6, 6) and bool((heat >= 0).all())
    assert model.act.inplace  # the caller's model is untouched


def test_bad_pixel_requests_are_refused():
    model, x = PixelNet(), torch.randn(1, 1, 4, 4)
    with pytest.raises(UserError, match="not a non-empty box inside the 4x4 input"):
        pixel_mask(model, x, 0, (0, 0, 5, 2), ["a", "b", "c"])
    with pytest.raises(UserError, match="takes x1,y1,x2,y2"):
        parse_region("1,2,3")
    always_zero = nn.Sequential(nn.Conv2d(1, 3, 1))
    with torch.no_grad():
        always_zero[0].weight.zero_()
        always_zero[0].bias.copy_(torch.tensor([1.0, 0.0, 0.0]))
    with pytest.raises(UserError, match="no pixel of this image is predicted as class 2 \\(c\\); give --region"):
        pixel_mask(always_zero, x, 2, None, ["a", "b", "c"])
    with pytest.raises(UserError, match="unknown reduction"):
        PixelClassScore(model, 0, torch.ones(4, 4), "max")


@pytest.fixture(scope="module")
def segment_run(tmp_path_factory):
    cfg = {"name": "seg", "task": "segment", "data": {"dataset": "shapes", "image_size": [16, 16]},
           "segment": {"shapes": 24}, "model": {"name": "unet", "depth": 1, "width": 4},
           "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 1, "batch_size": 8}}
    return fit_one_thread(cfg, tmp_path_factory.mktemp("runs"))


def test_explain_a_segmentation_class_from_the_cli(segment_run, tmp_path, capsys):
    img = tmp_path / "shape.png"
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[4:12, 4:12] = (200, 60, 60)
    Image.fromarray(rgb).save(img)
    for method in ("saliency", "gradcam", "occlusion"):
        assert main(["explain", str(segment_run), str(img), "--method", method, "--pixel-class", "1",
                     "--region", "4,4,12,12", "--out", str(tmp_path / "o")]) == 0
        heat = np.load(tmp_path / "o" / f"shape_class1_{method}.npy")
        assert heat.shape == (16, 16) and (heat >= 0).all()
    assert "over 64 px" in capsys.readouterr().out
    assert main(["explain", str(segment_run), str(img), "--method", "saliency"]) == 2
    assert "give --pixel-class C (0=" in capsys.readouterr().err
    assert main(["explain", str(segment_run), str(img), "--method", "saliency", "--pixel-class", "99"]) == 2
    assert "target class 99 is out of range" in capsys.readouterr().err
