"""Attribution maps against direct computations on tiny hand-built models."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from nnlab.errors import UserError
from nnlab.explain.attribution import Options, attribute, guided_backprop_note, resolve_layer


class CamNet(nn.Module):
    """conv -> ReLU (in place) -> global average pool -> linear: the class score is linear in the feature map."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.act, self.fc = nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(inplace=True), nn.Linear(3, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.act(self.conv(x)).mean(dim=(2, 3)))


def mlp(act: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 16), act, nn.Linear(16, 3))


def _upsample(cam: torch.Tensor, size: int) -> torch.Tensor:
    return nn.functional.interpolate(cam[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]


def test_gradcam_plus_plus_matches_the_formula_computed_directly():
    model, x = CamNet(), torch.randn(2, 2, 5, 5)
    t = torch.tensor([1, 3])
    a = model.act(model.conv(x)).detach()  # (N, K, h, w)
    g = (model.fc.weight[t] / 25).detach()[:, :, None, None].expand_as(a)  # dS_c/dA for GAP + linear
    alpha = g ** 2 / (2 * g ** 2 + a.sum(dim=(2, 3), keepdim=True) * g ** 3)
    w = (alpha * g.clamp_min(0)).sum(dim=(2, 3), keepdim=True)
    expected = _upsample((w * a).sum(1).clamp_min(0), 5)
    got = attribute(model, x, "gradcam++", t, "act")
    torch.testing.assert_close(got, expected)
    assert model.act.inplace  # the caller's model keeps its in-place ReLU


def test_gradcam_equals_class_activation_mapping_for_a_gap_linear_head():
    model, x = CamNet(), torch.randn(2, 2, 5, 5)
    t = torch.tensor([0, 2])
    a = model.act(model.conv(x)).detach()
    cam = (model.fc.weight[t].detach()[:, :, None, None] * a).sum(1).clamp_min(0) / 25  # CAM, Zhou et al. 2016
    torch.testing.assert_close(attribute(model, x, "gradcam", t, "act"), _upsample(cam, 5))


@pytest.mark.parametrize("window,stride", [(2, 2), (3, 1)])
def test_occlusion_equals_a_direct_loop_over_patch_positions(window, stride):
    model, x = mlp(nn.ReLU()), torch.randn(2, 1, 6, 6)
    t = torch.tensor([0, 2])
    with torch.no_grad():
        p0 = model(x).softmax(1)[torch.arange(2), t]
        total, count = torch.zeros(2, 6, 6), torch.zeros(6, 6)
        for i in range(0, 6 - window + 1, stride):
            for j in range(0, 6 - window + 1, stride):
                z = x.clone()
                z[:, :, i:i + window, j:j + window] = 0.0  # the mean pixel after normalization
                drop = p0 - model(z).softmax(1)[torch.arange(2), t]
                total[:, i:i + window, j:j + window] += drop[:, None, None]
                count[i:i + window, j:j + window] += 1
    expected = (total / count.clamp_min(1)).clamp_min(0)
    got = attribute(model, x, "occlusion", t, options=Options(window=window, stride=stride))
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


def test_saliency_is_the_largest_absolute_gradient_over_channels():
    model, x = CamNet(), torch.randn(2, 2, 5, 5, requires_grad=True)
    t = torch.tensor([1, 0])
    model(x).gather(1, t[:, None]).sum().backward()
    torch.testing.assert_close(attribute(model, x, "saliency", t), x.grad.abs().amax(1))


def test_guided_backprop_handles_in_place_relu_and_keeps_only_positive_gradients():
    inplace, plain = mlp(nn.ReLU(inplace=True)), mlp(nn.ReLU())
    x, t = torch.randn(3, 1, 6, 6), torch.tensor([0, 1, 2])
    got = attribute(inplace, x, "guided_backprop", t)
    torch.testing.assert_close(got, attribute(plain, x, "guided_backprop", t))
    w1, w2 = plain[1].weight.detach(), plain[3].weight.detach()
    h = x.flatten(1) @ w1.T + plain[1].bias.detach()  # (N, 16)
    back = (w2[t] * (h > 0)).clamp_min(0)  # guided: through positive inputs, positive gradients only
    torch.testing.assert_close(got, (back @ w1).abs().view(3, 6, 6))
    assert inplace[2].inplace


def test_guided_backprop_without_relu_is_the_plain_gradient_and_says_so():
    model, x, t = mlp(nn.Tanh()), torch.randn(2, 1, 6, 6), torch.tensor([1, 2])
    torch.testing.assert_close(attribute(model, x, "guided_backprop", t), attribute(model, x, "saliency", t))
    assert "plain input gradient" in guided_backprop_note(model)
    assert guided_backprop_note(mlp(nn.ReLU())) is None


def test_integrated_gradients_completeness():
    model, x, t = mlp(nn.Softplus()), torch.randn(1, 1, 6, 6), torch.tensor([2])
    from captum.attr import IntegratedGradients

    base = torch.zeros(1, 1, 1, 1)
    ig = IntegratedGradients(model).attribute(x, baselines=base.expand_as(x).contiguous(), target=t, n_steps=200)
    with torch.no_grad():  # attributions sum to the score difference (Sundararajan et al. 2017)
        diff = model(x)[0, 2] - model(torch.zeros_like(x))[0, 2]
    assert abs(float(ig.sum()) - float(diff)) < 1e-2
    got = attribute(model, x, "integrated_gradients", t, options=Options(steps=200, baseline=base))
    torch.testing.assert_close(got, ig.abs().sum(1))


def test_layer_methods_check_the_layer_before_any_work():
    model = CamNet()
    assert resolve_layer(model, "gradcam", None, (2, 5, 5)) == "act"
    with pytest.raises(UserError, match=r"'acts' does not exist \(did you mean 'act'\?\).*conv, act"):
        resolve_layer(model, "gradcam", "acts", (2, 5, 5))
    with pytest.raises(UserError, match="has no spatial output"):
        resolve_layer(model, "gradcam++", "fc", (2, 5, 5))
    with pytest.raises(UserError, match="has none"):
        resolve_layer(mlp(nn.ReLU()), "gradcam", None, (1, 6, 6))
    with pytest.raises(UserError, match="--layer is for"):
        resolve_layer(model, "saliency", "act", (2, 5, 5))
    with pytest.raises(UserError, match="unknown method"):
        resolve_layer(model, "lrp", None, (2, 5, 5))


def test_a_sequential_model_without_an_input_attribute_works_for_every_method():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(64, 3))
    x, t = torch.randn(2, 1, 4, 4), torch.tensor([0, 1])
    for method in ("saliency", "guided_backprop", "integrated_gradients", "occlusion", "gradcam", "gradcam++"):
        layer = resolve_layer(model, method, None, (1, 4, 4))
        maps = attribute(model, x, method, t, layer)
        assert maps.shape == (2, 4, 4) and bool((maps >= 0).all()) and torch.isfinite(maps).all()
