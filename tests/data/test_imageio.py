import numpy as np
import pytest
from PIL import Image

from nnlab.data.imageio import load_image, open_image, resize
from nnlab.errors import DataError


def _img(h, w, value=200, mode="L"):
    return Image.fromarray(np.full((h, w) if mode == "L" else (h, w, 3), value, np.uint8))


def test_squash_changes_aspect():
    out = resize(_img(10, 40), 20, 20, "squash")
    assert out.shape == (1, 20, 20) and (out == 200).all()


def test_crop_covers_and_centre_crops():
    img = np.zeros((10, 40), np.uint8)
    img[:, 14:26] = 255  # a bright centre band, wider than the crop
    out = resize(Image.fromarray(img), 20, 20, "crop")  # scale 2 -> 20x80, keep the centre 20x20
    assert out.shape == (1, 20, 20) and (out == 255).all()


def test_fill_keeps_aspect_and_pads_with_noise():
    out = resize(_img(10, 40), 20, 20, "fill")  # scale 0.5 -> 5x20, placed at rows 7..11
    assert (out[0, 7:12] == 200).all()
    pad = np.concatenate([out[0, :7].ravel(), out[0, 12:].ravel()])
    assert pad.std() > 30  # noise, not a constant border


def test_half_crop_between_crop_and_fill():
    out = resize(_img(10, 40), 20, 20, "half_crop")  # scale 1.25 -> 12x50: crop width, pad height
    assert out.shape == (1, 20, 20)
    assert (out[0, 4:16] == 200).all()
    assert out[0, :4].std() > 30


def test_modes_convert_to_channels(tmp_path):
    rgba = Image.fromarray(np.full((5, 6, 4), 100, np.uint8), "RGBA")
    rgba.save(tmp_path / "a.png")
    _img(5, 6, mode="L").save(tmp_path / "g.bmp")
    assert load_image(tmp_path / "a.png", 1, 8, 8).shape == (1, 8, 8)
    assert load_image(tmp_path / "g.bmp", 3, 8, 8).shape == (3, 8, 8)
    Image.fromarray(np.arange(30, dtype=np.uint16).reshape(5, 6) * 1000).save(tmp_path / "i16.png")
    out = load_image(tmp_path / "i16.png", 1, 5, 6)
    assert out.min() == 0 and out.max() == 255


def test_corrupt_and_missing(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DataError, match="cannot decode image"):
        open_image(tmp_path / "bad.jpg", 1)
    _img(50, 50, mode="RGB").save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cannot decode"):
        open_image(tmp_path / "trunc.jpg", 3)
    with pytest.raises(DataError, match="not found"):
        open_image(tmp_path / "none.png", 1)
