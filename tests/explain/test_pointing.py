"""The pointing game's hit test and chance level on hand-placed peaks and boxes."""
from __future__ import annotations

import torch

from nnlab.explain.pointing import chance, peak, pointing_hits


def test_hits_are_peaks_inside_a_box_of_the_class():
    maps = torch.zeros(3, 10, 10)
    maps[0, 2, 3] = 1.0  # inside (x 3, y 2)
    maps[1, 9, 9] = 1.0  # outside
    maps[2, 5, 0] = 1.0  # inside the second box of image 2
    boxes = [torch.tensor([[2.0, 1.0, 5.0, 4.0]]), torch.tensor([[0.0, 0.0, 9.0, 9.0]]),
             torch.tensor([[6.0, 6.0, 8.0, 8.0], [0.0, 4.0, 2.0, 6.0]])]
    assert pointing_hits(maps, boxes).tolist() == [True, False, True]
    rows, cols = peak(maps)
    assert rows.tolist() == [2, 9, 5] and cols.tolist() == [3, 9, 0]


def test_chance_is_the_share_of_the_image_in_the_boxes():
    boxes = [torch.tensor([[0.0, 0.0, 5.0, 5.0]]), torch.tensor([[0.0, 0.0, 10.0, 5.0], [0.0, 0.0, 5.0, 10.0]])]
    assert chance(boxes, 10, 10) == (0.25 + 0.75) / 2
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(4000, 10, 10, generator=g)  # random peaks hit at the chance rate
    hits = pointing_hits(maps, [boxes[1]] * 4000).float().mean()
    assert abs(float(hits) - 0.75) < 0.03


def test_a_constant_map_points_nowhere():
    maps = torch.zeros(2, 4, 4)
    maps[1, 0, 0] = 1.0
    box = [torch.tensor([[0.0, 0.0, 2.0, 2.0]])] * 2  # covers pixel (0, 0), the argmax of an all-zero map
    assert pointing_hits(maps, box).tolist() == [False, True]
