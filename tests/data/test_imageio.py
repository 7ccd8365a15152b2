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


@pytest.mark.parametrize("side", [8000, 30000])  # over our 50 MP limit; 30000^2 is also over Pillow's own
def test_decompression_bomb_is_refused_from_its_header(tmp_path, side):
    from nnlab.errors import ImageTooLarge
    from tests.conftest import huge_png

    path = huge_png(tmp_path / "bomb.png", side, side)
    assert path.stat().st_size < 10_000
    with pytest.raises(ImageTooLarge, match=rf"bomb.png .*{side * side / 1e6:.1f} megapixels.*limit of 50 megapixels"):
        load_image(path, 1, 8, 8)


def test_pixel_limit_is_configurable(tmp_path, monkeypatch):
    from nnlab.errors import ImageTooLarge

    _img(20, 30).save(tmp_path / "a.png")
    monkeypatch.setenv("NNLAB_MAX_IMAGE_PIXELS", "599")
    with pytest.raises(ImageTooLarge, match="20 pixels|30x20 pixels"):
        load_image(tmp_path / "a.png", 1, 4, 4)
    monkeypatch.setenv("NNLAB_MAX_IMAGE_PIXELS", "600")
    assert load_image(tmp_path / "a.png", 1, 4, 4).shape == (1, 4, 4)


def test_decoding_is_bounded_by_the_decode_slots(tmp_path, monkeypatch):
    """Threads decoding at once never exceed DECODE_SLOTS (servers decode each request in a thread)."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from nnlab.data import imageio

    _img(4, 4).save(tmp_path / "a.png")
    busy, peak, lock = [0], [0], threading.Lock()
    real_open = imageio.open_image

    def slow_open(path, channels):
        with lock:
            busy[0] += 1
            peak[0] = max(peak[0], busy[0])
        time.sleep(0.02)
        with lock:
            busy[0] -= 1
        return real_open(path, channels)

    monkeypatch.setattr(imageio, "DECODE_SLOTS", threading.BoundedSemaphore(2))
    monkeypatch.setattr(imageio, "open_image", slow_open)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: load_image(tmp_path / "a.png", 1, 4, 4), range(16)))
    assert peak[0] == 2
