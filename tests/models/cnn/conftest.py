"""Helpers for the zoo tests: torchvision parity (same state dict, same logits) and parameter counts."""
import pytest
import torch
import torchvision

from nnlab.api import build_model


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def imagenet_count(name: str, **options) -> int:
    """Parameters at 3x224x224 with 1000 classes, built on the meta device (no memory, no init time)."""
    with torch.device("meta"):
        return count(build_model(name, 1000, 3, (224, 224), **options))


def torchvision_count(name: str) -> int:
    with torch.device("meta"):
        return count(getattr(torchvision.models, name)(weights=None))


def random_torchvision(name: str) -> torch.nn.Module:
    """A torchvision model with random weights and random BN statistics, filled directly (its own init of
    100M+ parameters would dominate the test time)."""
    torch.manual_seed(0)
    with torch.device("meta"):
        model = getattr(torchvision.models, name)(weights=None, num_classes=10)
    model.to_empty(device="cpu")
    for key, t in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            t.zero_()
        elif key.endswith("running_var"):
            t.uniform_(0.5, 1.5)
        elif t.ndim > 1:
            t.normal_(0, (2 / t[0].numel()) ** 0.5)  # He scale: logits stay O(1) through deep nets
        else:
            t.normal_(0, 0.1)
    return model.eval()


def assert_matches_torchvision(name: str, side: int = 64) -> None:
    """A randomly initialised torchvision model's state dict loads by the same names; logits agree to 1e-5."""
    reference = random_torchvision(name)
    with torch.device("meta"):
        ours = build_model(name, 10, 3, (side, side), form="imagenet")
    ours.load_state_dict(reference.state_dict(), strict=True, assign=True)
    ours.eval()
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-5)


@pytest.fixture
def parity():
    return assert_matches_torchvision
