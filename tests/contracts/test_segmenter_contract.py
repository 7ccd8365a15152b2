"""Every registered segmenter at several input sizes (odd ones too): logits at the input size, gradients reach
every parameter, no NaN, one optimizer step changes the weights, state-dict round trip."""
import pytest
import torch

from nnlab.models.segmentation import SEGMENTERS

# small options keep each case well under a second; a segmenter without an entry runs with its defaults
TINY = {
    "fcn32s": dict(backbone="resnet20", form="imagenet", head_width=16),
    "fcn16s": dict(backbone="resnet20", form="imagenet", head_width=16),
    "fcn8s": dict(backbone="resnet20", form="imagenet", head_width=16),
    "segnet": dict(widths=(4, 8, 8), depths=(1, 2, 1)),
    "unet": dict(depth=3, width=4),
}
SIZES = [(32, 32), (33, 47), (8, 8), (5, 64)]
CASES = [(name, size) for name in SEGMENTERS.names() for size in SIZES]


def _build(name, classes=3):
    torch.manual_seed(0)
    return SEGMENTERS.build(name, classes=classes, in_chans=3, **TINY.get(name, {}))


@pytest.mark.parametrize("name, size", CASES)
def test_segmenter_contract(name, size):
    model = _build(name)
    x = torch.randn(2, 3, *size)
    out = model(x)
    assert out.shape == (2, 3, *size) and torch.isfinite(out).all()
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no finite gradient reaches {missing}"
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    torch.optim.SGD(params, lr=1e-2).step()
    assert any(not torch.equal(a, b) for a, b in zip(before, params))
    clone = _build(name)
    clone.load_state_dict(model.state_dict())
    model.eval(), clone.eval()
    with torch.no_grad():
        assert torch.equal(model(x), clone(x))


@pytest.mark.parametrize("name", SEGMENTERS.names())
def test_segmenter_output_depends_on_every_region(name):
    """Logits at the bottom-right corner react to the input there: the crop after padding keeps the right part."""
    model = _build(name).eval()
    x = torch.randn(1, 3, 33, 47)
    y = x.clone()
    y[..., -3:, -3:] += 5.0
    with torch.no_grad():
        assert not torch.allclose(model(x)[..., -1, -1], model(y)[..., -1, -1])


@pytest.mark.slow
@pytest.mark.parametrize("name", SEGMENTERS.names())
def test_segmenter_defaults_take_an_odd_size(name):
    """The paper-sized defaults (FCN on VGG-16, SegNet's 13 convolutions, U-Net 64 wide): forward at 33x47."""
    model = SEGMENTERS.build(name, classes=4, in_chans=3).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 33, 47))
    assert out.shape == (1, 4, 33, 47) and torch.isfinite(out).all()
