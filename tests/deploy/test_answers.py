"""Answers in the uploaded image's own pixels: boxes through the letterbox back, masks resized as ids."""
import base64
import io

import numpy as np
import torch
from PIL import Image

from nnlab.data import Preprocess
from nnlab.deploy.answers import detection_answer, label_mask, mask_png, segmentation_answer
from nnlab.tasks.detect import Placement, place_image


def test_letterboxed_boxes_come_back_in_the_photos_pixels(tmp_path):
    path = tmp_path / "wide.png"
    Image.fromarray(np.zeros((50, 200, 3), np.uint8)).save(path)  # 200 x 50: scale 0.32 into 64 x 64
    _, place, _ = place_image(path, Preprocess(3, 64, 64, "squash", [0.5] * 3, [0.25] * 3), "letterbox")
    assert place.size == (200, 50) and place.ox == 0 and place.oy == (64 - 16) // 2
    det = {"boxes": torch.tensor([[3.2, 24.0 + 1.6, 32.0, 24.0 + 8.0], [0.0, 0.0, 64.0, 64.0]]),
           "scores": torch.tensor([0.9, 0.5]), "labels": torch.tensor([1, 0])}
    answer = detection_answer(det, place, ["cat", "dog"])
    first, second = answer["detections"]
    assert first == {"box": [10.0, 5.0, 100.0, 25.0], "score": first["score"], "label": 1, "class": "dog"}
    assert second["box"] == [0.0, 0.0, 200.0, 50.0]  # reaching into the padding: clipped to the photo
    assert answer["size"] == [200, 50]


def test_mask_png_keeps_class_ids_and_carries_the_palette():
    mask = np.array([[0, 1], [2, 2]], np.uint8)
    img = Image.open(io.BytesIO(mask_png(mask, [[0, 0, 0], [255, 0, 0], [0, 255, 0]])))
    assert img.mode == "P" and np.array_equal(np.asarray(img), mask)
    assert img.getpalette()[:9] == [0, 0, 0, 255, 0, 0, 0, 255, 0]


def test_label_mask_resizes_by_nearest_neighbour_to_width_by_height():
    mask = np.array([[0, 1], [2, 3]], np.uint8)
    big = label_mask(mask, (4, 6))  # width 4, height 6
    assert big.shape == (6, 4) and set(np.unique(big)) == {0, 1, 2, 3}
    assert np.array_equal(big[:3, :2], np.zeros((3, 2))) and np.array_equal(big[3:, 2:], np.full((3, 2), 3))


def test_segmentation_answer_shares_are_of_the_full_size_mask():
    answer = segmentation_answer(np.array([[0, 0], [0, 1]], np.uint8), Placement((6, 4)), ["bg", "fg", "x"])
    assert answer["fractions"] == {"bg": 0.75, "fg": 0.25, "x": 0.0} and answer["size"] == [6, 4]
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["mask_png"]))))
    assert png.shape == (4, 6) and png.sum() == 6  # the bottom-right quarter: 3 x 2 pixels of class 1
