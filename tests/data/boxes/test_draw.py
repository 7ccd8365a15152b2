"""Drawing detections: boxes in class colours, instance masks blended semi-transparently, each its own colour."""
import numpy as np
import torch

from nnlab.data.boxes.draw import MASK_ALPHA, PALETTE, blend_mask, draw_boxes


def test_blend_mask_tints_only_the_masked_pixels_with_the_instances_colour():
    pixels = np.full((4, 5, 3), 100, np.uint8)
    mask = np.zeros((4, 5), bool)
    mask[1:3, 2:4] = True
    blend_mask(pixels, mask, index=1)
    want = np.round(100 * (1 - MASK_ALPHA) + np.array(PALETTE[1]) * MASK_ALPHA)
    assert (pixels[mask] == want).all() and (pixels[~mask] == 100).all()


def test_draw_boxes_blends_one_colour_per_instance_under_the_outlines():
    image = torch.zeros(1, 30, 30, dtype=torch.uint8)  # grey image: expanded to RGB
    masks = torch.zeros(2, 30, 30, dtype=torch.uint8)
    masks[0, 18:24, 2:6] = 1
    masks[1, 18:24, 12:16] = 1
    boxes = torch.tensor([[1.0, 16.0, 7.0, 26.0], [11.0, 16.0, 17.0, 26.0]])  # labels are written above them
    arr = np.asarray(draw_boxes(image, boxes, torch.tensor([0, 0]), ["a"], masks=masks))
    assert tuple(arr[20, 4]) != tuple(arr[20, 14]) and tuple(arr[20, 4]) != (0, 0, 0)  # same class, two colours
    assert tuple(arr[28, 25]) == (0, 0, 0)  # outside every mask and box
    plain = np.asarray(draw_boxes(image, boxes, torch.tensor([0, 0]), ["a"]))
    assert tuple(plain[20, 4]) == (0, 0, 0)


def test_a_box_under_a_pixel_wide_is_drawn_without_error():
    img = draw_boxes(torch.zeros(3, 10, 10, dtype=torch.uint8), torch.tensor([[4.0, 2.0, 4.5, 8.0]]),
                     torch.tensor([0]), ["a"])
    assert img.size == (10, 10)
