import math

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from nnlab.config import AugmentConfig, DataConfig, from_dict
from nnlab.data.augment import PRESETS, BatchAugment, _uniform, build, check, resolve
from nnlab.data.preprocess import Preprocess
from nnlab.errors import ConfigError

ALL_OPS = dict(hflip=0.5, vflip=0.5, rot90=0.5, rotate=20.0, scale=[0.8, 1.2], translate=0.1,
               resized_crop=[0.3, 1.0], pad_crop=2, hue=0.1, saturation=0.3, value=0.3, noise=0.05, erase=0.5)


def _aug(seed: int = 0, channels: int = 3, **ops) -> BatchAugment:
    return BatchAugment(AugmentConfig(**ops), [0.5] * channels, [0.25] * channels, torch.Generator().manual_seed(seed))


def _smooth(b: int = 6, c: int = 3, size: int = 16) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    img = torch.stack([torch.sin(6 * xx + k) * torch.cos(4 * yy) * 0.4 + 0.5 for k in range(c)])
    return img[None].repeat(b, 1, 1, 1)  # (B, C, H, W) in [0.1, 0.9]


@pytest.mark.parametrize("ops", [ALL_OPS, *[{k: v} for k, v in ALL_OPS.items()],
                                 *[{"preset": p} for p in PRESETS]])
def test_shapes_and_labels_kept_and_reproducible(ops):
    x, y = torch.randn(8, 3, 12, 10), torch.arange(8)
    out, labels = _aug(1, **ops)(x, y)
    assert out.shape == x.shape and out.dtype == x.dtype and labels is y and torch.isfinite(out).all()
    torch.testing.assert_close(_aug(1, **ops)(x, y)[0], out)  # same seed, same batch


def test_different_seeds_differ_per_sample():
    x = torch.randn(8, 3, 12, 12)
    a, b = _aug(1, **ALL_OPS)(x, None)[0], _aug(2, **ALL_OPS)(x, None)[0]
    assert not torch.allclose(a, b)
    # per-sample parameters: identical inputs come out different within one batch
    same = _aug(3, rotate=30.0)(x[:1].repeat(4, 1, 1, 1), None)[0]
    assert not torch.allclose(same[0], same[1])


def test_free_rotation_matches_torchvision_rotate():
    img = _smooth()
    aug = _aug(0, rotate=40.0)
    out = aug.pixels(img)
    theta = _aug(0, rotate=40.0).affine_matrices(len(img), 16, 16)
    angles = torch.atan2(theta[:, 1, 0], theta[:, 0, 0]) * 180 / math.pi
    for i in range(len(img)):
        ref = TF.rotate(img[i], float(angles[i]), interpolation=TF.InterpolationMode.BILINEAR)
        torch.testing.assert_close(out[i, :, 3:13, 3:13], ref[:, 3:13, 3:13], atol=1e-5, rtol=0)


def test_flips_and_quarter_turns_are_exact():
    img = torch.rand(32, 1, 5, 5)
    for ops, choices in (({"hflip": 0.5}, lambda t: [t, t.flip(-1)]), ({"vflip": 0.5}, lambda t: [t, t.flip(-2)]),
                         ({"rot90": 0.75}, lambda t: [torch.rot90(t, k, (1, 2)) for k in range(4)])):
        out = _aug(0, channels=1, **ops).pixels(img)
        hits = [[torch.equal(o, c) for c in choices(t)].index(True) for o, t in zip(out, img)]
        assert len(set(hits)) == len(choices(img[0]))  # every outcome occurs


def test_pad_crop_is_an_integer_shift_with_zero_fill():
    img = torch.rand(16, 1, 8, 8) + 0.1
    out = _aug(0, channels=1, pad_crop=2).pixels(img)
    padded = torch.nn.functional.pad(img, (2, 2, 2, 2))
    for o, p in zip(out, padded):
        crops = [p[:, i:i + 8, j:j + 8] for i in range(5) for j in range(5)]
        assert any(torch.allclose(o, c, atol=1e-6) for c in crops)


def test_hue_shift_matches_torchvision_adjust_hue():
    img = _smooth(b=5)
    out = _aug(4, hue=0.3).pixels(img)
    dh = _uniform(5, -0.3, 0.3, torch.Generator().manual_seed(4))
    for i in range(5):
        torch.testing.assert_close(out[i], TF.adjust_hue(img[i], float(dh[i])), atol=1e-5, rtol=0)


def test_value_on_grey_images_is_brightness():
    img = _smooth(b=4, c=1) * 0.5
    out = _aug(2, channels=1, value=0.4).pixels(img)
    g = torch.Generator().manual_seed(2)
    dv = [_uniform(4, -m, m, g) for m in (0.0, 0.0, 0.4)][2]  # hue, saturation, value are drawn in order
    for i in range(4):
        torch.testing.assert_close(out[i], TF.adjust_brightness(img[i], 1 + float(dv[i])))


def test_random_erasing_zeroes_one_box_of_the_right_size():
    img = torch.rand(200, 1, 20, 20) + 0.1
    out = _aug(5, channels=1, erase=0.5).pixels(img)
    frac = (out == 0).float().mean((1, 2, 3))
    erased = frac > 0
    assert 0.35 < erased.float().mean() < 0.65
    assert frac[erased].min() >= 0.01 and frac[erased].max() <= 0.4


def test_presets_resolve_with_own_keys_winning():
    cfg = resolve(AugmentConfig(preset="cifar", pad_crop=2))
    assert cfg.hflip == 0.5 and cfg.pad_crop == 2
    with pytest.raises(ConfigError, match="augment.preset"):
        resolve(AugmentConfig(preset="nope"))
    pre = Preprocess(1, 8, 8, "squash", [0.0], [1.0])
    assert build(AugmentConfig(), pre) is None and build(AugmentConfig(preset="none"), pre) is None
    assert build(AugmentConfig(preset="digits"), pre) is not None


def test_a_key_set_to_zero_turns_the_presets_op_off():
    from nnlab import config as cfgmod
    cfg = cfgmod.from_dict({"augment": {"preset": "cifar"}})
    assert resolve(cfg.augment).hflip == 0.5
    off = cfgmod.from_dict(cfgmod.apply_overrides({"augment": {"preset": "cifar"}}, ["--augment.hflip=0"]))
    assert resolve(off.augment).hflip == 0.0 and resolve(off.augment).pad_crop == 4
    again = cfgmod.from_dict(cfgmod.to_dict(off))  # the saved config reloads to the same augmentation
    assert resolve(again.augment) == resolve(off.augment)


@pytest.mark.parametrize("ops, key", [({"hflip": 0.5}, "hflip"), ({"vflip": 1.0}, "vflip"), ({"rot90": 0.5}, "rot90"),
                                      ({"rotate": 90.0}, "rotate"), ({"preset": "cifar"}, "hflip")])
def test_label_changing_ops_refused_on_orientation_sensitive_data(ops, key):
    with pytest.raises(ConfigError, match=f"augment.{key}.*orientation-sensitive"):
        check(AugmentConfig(**ops), DataConfig(dataset="mnist"))
    check(AugmentConfig(**ops), DataConfig(dataset="mnist", orientation_sensitive=False))
    check(AugmentConfig(**ops), DataConfig(dataset="folder"))
    with pytest.raises(ConfigError):
        check(AugmentConfig(**ops), DataConfig(dataset="folder", orientation_sensitive=True))
    check(AugmentConfig(preset="digits"), DataConfig(dataset="mnist"))  # small tilts, shifts, zooms are fine


@pytest.mark.parametrize("raw, key", [({"hflip": 1.5}, "augment.hflip"), ({"erase": -0.1}, "augment.erase"),
                                      ({"rotate": -5}, "augment.rotate"), ({"scale": [1.2, 0.8]}, "augment.scale"),
                                      ({"resized_crop": [0.5, 2.0]}, "augment.resized_crop"),
                                      ({"hue": 0.7}, "augment.hue")])
def test_bad_values_name_the_key(raw, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        from_dict({"augment": raw})


def test_hsv_shift_matches_torchvision_hsv_round_trip():
    from torchvision.transforms.v2.functional._color import _hsv_to_rgb, _rgb_to_hsv

    from nnlab.data.augment import hsv_shift

    img = torch.rand(4, 3, 9, 9)
    img[0, :, 0, 0] = 0.5  # grey pixel: no hue
    dh, ds, dv = (torch.tensor([0.1, -0.2, 0.45, 0.0]).view(-1, 1, 1), torch.tensor([0.3, -0.5, 0.0, 0.2]).view(-1, 1, 1),
                  torch.tensor([-0.3, 0.2, 0.0, 0.5]).view(-1, 1, 1))
    h, s, v = _rgb_to_hsv(img).unbind(1)
    ref = _hsv_to_rgb(torch.stack([(h + dh) % 1, (s * (1 + ds)).clamp(0, 1), (v * (1 + dv)).clamp(0, 1)], 1))
    torch.testing.assert_close(hsv_shift(img, dh, ds, dv), ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("shape", [(5, 1, 28, 28), (3, 3, 17, 40)])
def test_affine_grid_equals_torch(shape):
    from nnlab.data.augment import affine_grid
    aug = BatchAugment(AugmentConfig(rotate=30.0, scale=[0.8, 1.2], translate=0.1), [0.0], [1.0])
    theta = aug.affine_matrices(shape[0], shape[2], shape[3])
    want = torch.nn.functional.affine_grid(theta, list(shape), align_corners=False)
    torch.testing.assert_close(affine_grid(theta, shape[2], shape[3]), want, atol=1e-6, rtol=0)
