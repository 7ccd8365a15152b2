"""Maximally activating patches: strongest images first, each patch the unit's receptive field."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from nnlab.cli.main import main
from nnlab.errors import UserError
from nnlab.explain.common import open_classifier
from nnlab.explain.patches import _outputs, max_patches, receptive_box


def test_receptive_box_of_two_stacked_3x3_convs_is_5x5():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3))
    x = torch.randn(1, 1, 9, 9)
    assert receptive_box(model, "0", x, 1, (2, 3)) == (2, 3, 5, 6)
    assert receptive_box(model, "1", x, 0, (1, 4)) == (1, 4, 6, 9)


def test_max_patches_are_the_strongest_activations_in_order(cnn_run):
    run = open_classifier(cnn_run)
    found = max_patches(run, "layer1.0.conv1", 3, k=5, limit=40)
    x, _ = run.split("train", 40)
    per_image = _outputs(run.model, "layer1.0.conv1", x)[:, 3].flatten(1).amax(1)  # (N,)
    assert [i for i, _, _ in found] == per_image.topk(5).indices.tolist()
    assert all(abs(a - float(per_image[i])) < 1e-5 for i, a, _ in found)
    assert all(0 <= t < b <= 8 and 0 <= l < r <= 8 for _, _, (t, l, b, r) in found)


def test_max_patches_cli_and_bad_unit(cnn_run, tmp_path, capsys):
    assert main(["explain", "max-patches", str(cnn_run), "--layer", "conv1", "--unit", "0", "--k", "4", "--limit",
                 "30", "--out", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").stat().st_size > 0
    with pytest.raises(UserError, match="has 16 units"):
        max_patches(open_classifier(cnn_run), "conv1", 16)
