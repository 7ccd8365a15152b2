import pytest
import torch
from torchvision.ops import batched_nms, nms

from nnlab.data.boxes.nms import greedy_batched_nms, greedy_nms


def _boxes(n, g):
    xy = torch.rand(n, 2, generator=g) * 50
    return torch.cat([xy, xy + 5 + torch.rand(n, 2, generator=g) * 30], 1)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_greedy_nms_equals_torchvision(seed, thr):
    g = torch.Generator().manual_seed(seed)
    boxes, scores = _boxes(60, g), torch.rand(60, generator=g)
    assert torch.equal(greedy_nms(boxes, scores, thr), nms(boxes, scores, thr))
    labels = torch.randint(0, 4, (60,), generator=g)
    assert torch.equal(greedy_batched_nms(boxes, scores, labels, thr), batched_nms(boxes, scores, labels, thr))


def test_nms_empty_and_suppresses():
    assert greedy_nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=torch.float)
    assert greedy_nms(boxes, torch.tensor([0.9, 0.8, 0.1]), 0.5).tolist() == [0, 2]
