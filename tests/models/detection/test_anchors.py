"""Anchors against their formulas and torchvision's generators; YOLO box coding; k-means anchors."""
import math

import pytest
import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList

from nnlab.errors import ConfigError, DataError
from nnlab.models.detection.anchors import (cell_anchors, check_anchors_fit, kmeans_anchors, mean_best_iou,
                                            pyramid_sizes, sizes_to_wh, wh_iou, yolo_decode, yolo_encode)


def test_pyramid_sizes_follow_retinanet_formula():
    sizes = pyramid_sizes([8, 16, 32], scale=4)
    assert sizes[0] == pytest.approx((32, 32 * 2 ** (1 / 3), 32 * 2 ** (2 / 3)))
    assert [s[0] for s in sizes] == [32, 64, 128]


def test_sizes_to_wh_keeps_area_and_ratio():
    wh = sizes_to_wh([16, 32], [0.5, 1.0, 2.0])
    assert torch.allclose(wh.prod(1), torch.tensor([16.0, 32.0] * 3) ** 2)
    assert torch.allclose(wh[:, 1] / wh[:, 0], torch.tensor([0.5, 0.5, 1.0, 1.0, 2.0, 2.0]))


def test_torchvision_anchor_generator_matches_the_formulas():
    """What retinanet / faster_rcnn get: per level H*W*A anchors, sizes s with h/w = ratio, centred on
    multiples of the stride."""
    sizes, ratios = ((16.0,), (32.0,)), ((0.5, 1.0, 2.0),) * 2
    gen = AnchorGenerator(sizes, ratios)
    feats = [torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 4, 4)]
    anchors = gen(ImageList(torch.zeros(1, 1, 64, 64), [(64, 64)]), feats)[0]
    assert anchors.shape == (8 * 8 * 3 + 4 * 4 * 3, 4)
    level0 = anchors[: 8 * 8 * 3].view(8, 8, 3, 4)
    wh = level0[..., 2:] - level0[..., :2]
    expected = 2 * (sizes_to_wh([16.0], [0.5, 1.0, 2.0]) / 2).round()  # torchvision rounds each half side
    assert torch.allclose(wh[0, 0], expected)
    centres = (level0[..., :2] + level0[..., 2:]) / 2
    assert torch.allclose(centres[2, 5, 0], torch.tensor([5 * 8.0, 2 * 8.0]))


def test_cell_anchors_are_torchvisions_shifted_to_cell_centres():
    wh = torch.tensor([[16.0, 16.0], [12.0, 24.0]])  # integer sizes: torchvision rounds its base anchors
    mine = cell_anchors((4, 4), 16, wh)
    sizes = tuple((float(math.sqrt(w * h)),) for w, h in wh.tolist())
    tv = [AnchorGenerator((s,), ((float(h / w),),)) for s, (w, h) in zip(sizes, wh.tolist())]
    image = ImageList(torch.zeros(1, 1, 64, 64), [(64, 64)])
    ref = torch.stack([g(image, [torch.zeros(1, 1, 4, 4)])[0] for g in tv], 1).reshape(-1, 4)  # (H*W*A, 4)
    torch.testing.assert_close(mine, ref + 8.0)


def test_ssd_default_boxes_follow_the_papers_scales():
    gen = DefaultBoxGenerator([[2]] * 3, min_ratio=0.2, max_ratio=0.9, steps=[8, 16, 32])
    boxes = gen(ImageList(torch.zeros(1, 1, 64, 64), [(64, 64)]), [torch.zeros(1, 1, 8, 8),
                                                                   torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 2, 2)])[0]
    assert gen.num_anchors_per_location() == [4, 4, 4]
    first = boxes[:4]  # the first cell of level 0: s_1, sqrt(s_1 s_2), then ratio 2 and 1/2 at s_1
    wh = (first[:, 2:] - first[:, :2]) / 64
    s1, s2 = 0.2, 0.2 + (0.9 - 0.2) / 2
    expected = torch.tensor([[s1, s1], [math.sqrt(s1 * s2)] * 2, [s1 * 2 ** 0.5, s1 / 2 ** 0.5],
                             [s1 / 2 ** 0.5, s1 * 2 ** 0.5]])
    centre = (first[0, :2] + first[0, 2:]) / 2
    torch.testing.assert_close(centre, torch.tensor([4.0, 4.0]))
    # the first cell's boxes are clipped at the image edge: compare the unclipped ones of a central cell
    centre_cell = boxes[(3 * 8 + 3) * 4:(3 * 8 + 3) * 4 + 4]
    torch.testing.assert_close((centre_cell[:, 2:] - centre_cell[:, :2]) / 64, expected, rtol=1e-4, atol=1e-4)
    assert wh.shape == (4, 2)


def test_yolo_encode_decode_round_trip():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(50, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + 4 + torch.rand(50, 2, generator=g) * 40], 1)
    anchors = 5 + torch.rand(50, 2, generator=g) * 30
    cells, t = yolo_encode(boxes, anchors, 16)
    assert ((t[:, :2] >= 0) & (t[:, :2] < 1)).all()
    assert torch.equal(cells, ((boxes[:, :2] + boxes[:, 2:]) / 2 // 16).long())
    torch.testing.assert_close(yolo_decode(t, cells, anchors, 16), boxes)


def test_kmeans_finds_tall_wide_and_square_shapes():
    g = torch.Generator().manual_seed(0)
    shapes = torch.tensor([[10.0, 30.0], [30.0, 10.0], [20.0, 20.0]])
    wh = shapes.repeat(40, 1) * (1 + 0.1 * torch.randn(120, 2, generator=g))
    boxes = torch.cat([torch.zeros(120, 2), wh], 1)
    anchors = kmeans_anchors(boxes, 3)
    found = sorted(tuple(round(v / 10) for v in a) for a in anchors.tolist())
    assert found == [(1, 3), (2, 2), (3, 1)]
    assert anchors.prod(1).tolist() == sorted(anchors.prod(1).tolist())
    assert mean_best_iou(boxes, anchors) > 0.8 > mean_best_iou(boxes, torch.tensor([[20.0, 20.0]]) .repeat(3, 1))


def test_kmeans_assignment_is_by_iou_not_euclidean_distance():
    box, centres = torch.tensor([[50.0, 50.0]]), torch.tensor([[20.0, 20.0], [90.0, 90.0]])
    assert torch.cdist(box, centres).argmin() == 0  # Euclidean: the small anchor is nearer
    assert wh_iou(box, centres).argmax() == 1  # IoU: 2500/8100 beats 400/2500
    boxes = torch.tensor([[0.0, 0.0, 20.0, 20.0], [0.0, 0.0, 50.0, 50.0], [0.0, 0.0, 90.0, 90.0]])
    anchors = kmeans_anchors(boxes.repeat(2, 1), 2)
    assert anchors[1].tolist() == [70.0, 70.0]  # the 50x50 boxes join the big cluster: mean of 50 and 90


def test_kmeans_needs_enough_boxes():
    with pytest.raises(DataError, match="at least 3"):
        kmeans_anchors(torch.tensor([[0.0, 0.0, 4.0, 4.0]]), 3)


def test_anchor_that_does_not_fit_the_input_is_refused():
    check_anchors_fit(torch.tensor([[64.0, 32.0]]), (64, 64))
    with pytest.raises(ConfigError, match="80x20 .* does not fit the 64x64 input"):
        check_anchors_fit(torch.tensor([[80.0, 20.0]]), (64, 64))
