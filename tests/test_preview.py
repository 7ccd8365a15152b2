import torch

from nnlab.config import from_dict
from nnlab.preview import augmented_samples, label_text


def test_label_text_hard_and_soft():
    classes = ["a", "b", "c"]
    assert label_text(torch.tensor(1), classes) == "b"
    assert label_text(torch.tensor([0.0, 1.0, 0.0]), classes) == "b"
    assert label_text(torch.tensor([0.3, 0.0, 0.7]), classes) == "c 0.70 / a 0.30"


def test_samples_are_mixed_pixels_with_soft_labels(digits_config):
    cfg = from_dict({**digits_config, "augment": {"preset": "digits"}, "regularize": {"cutmix": 1.0}})
    x, y, classes = augmented_samples(cfg, 5)
    assert x.shape == (5, 1, 8, 8) and 0 <= x.min() and x.max() <= 1
    assert y.shape == (5, 10) and torch.allclose(y.sum(1), torch.ones(5)) and len(classes) == 10
    x2, y2, _ = augmented_samples(cfg, 5)
    assert torch.equal(x, x2) and torch.equal(y, y2)  # seeded
