"""SegNet: max-unpooling puts values back at the remembered argmax positions; the model overfits one batch."""
import torch
import torch.nn.functional as F

from nnlab.models.segmentation import SEGMENTERS
from tests.models.segmentation.conftest import overfit


def test_max_unpooling_places_values_at_the_remembered_indices():
    x = torch.randn(2, 3, 6, 8)
    pooled, idx = F.max_pool2d(x, 2, 2, return_indices=True)  # (2, 3, 3, 4)
    up = F.max_unpool2d(pooled, idx, 2, 2, output_size=x.shape[-2:])
    flat_x, flat_up = x.flatten(2), up.flatten(2)
    assert torch.equal(flat_up.gather(2, idx.flatten(2)), pooled.flatten(2))  # the maxima, where they were
    assert torch.equal(flat_x.gather(2, idx.flatten(2)), pooled.flatten(2))
    assert int((up != 0).sum()) == pooled.numel()  # everything else is zero
    for b in range(2):  # each 2x2 window keeps exactly its argmax
        win = up[b, :, :2, :2].flatten(1)
        assert (win != 0).sum(1).eq(1).all()


def test_segnet_decoder_uses_the_encoder_indices(monkeypatch):
    model = SEGMENTERS.build("segnet", classes=2, in_chans=3, widths=(4, 8), depths=(1, 1)).eval()
    seen = []
    real = F.max_unpool2d
    monkeypatch.setattr(F, "max_unpool2d", lambda x, idx, *a, **k: seen.append(idx) or real(x, idx, *a, **k))
    model(torch.randn(1, 3, 8, 8))
    assert [tuple(i.shape) for i in seen] == [(1, 8, 2, 2), (1, 4, 4, 4)]


def test_segnet_overfits_one_batch():
    model = SEGMENTERS.build("segnet", classes=2, in_chans=3, widths=(8, 16, 32), depths=(1, 1, 2))
    assert overfit(model) > 0.95
