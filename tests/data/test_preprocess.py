import torch

from nnlab.data import Preprocess


def test_pixels_undo_normalize():
    images = torch.randint(0, 256, (4, 3, 5, 6), dtype=torch.uint8)
    pre = Preprocess.fit(images)
    torch.testing.assert_close(pre.pixels(pre.normalize(images)), images.float() / 255)
    assert pre.pixels(torch.full((1, 3, 2, 2), 1e6)).max() == 1.0  # clamped to the pixel range
