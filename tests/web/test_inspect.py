"""Inspect: per-layer statistics agree with the layers themselves; conv activations come with map images."""
from __future__ import annotations

import base64
import io

import pytest
import torch
from PIL import Image

import nnlab
from nnlab.web.inspect import MAX_MAPS, inspect_image
from tests.conftest import write_image_folder


@pytest.mark.slow
def test_inspect_a_convnet(tmp_path):
    folder = write_image_folder(tmp_path / "imgs", {"a": 8, "b": 8}, size=(28, 28))
    run = nnlab.fit({"data": {"dataset": "folder", "path": str(folder)}, "model": {"name": "lenet5"},
                     "train": {"epochs": 1, "batch_size": 8, "device": "cpu"}}, runs_root=tmp_path / "runs",
                    progress=False)
    result = inspect_image(run.dir, folder / "a" / "0.png")
    loaded = nnlab.load_run(run.dir)
    first_conv = next(m for m in loaded.model.modules() if isinstance(m, torch.nn.Conv2d))
    conv = next(layer for layer in result["layers"] if layer["type"] == "Conv2d")
    assert conv["weight"]["shape"] == list(first_conv.weight.shape)
    assert conv["weight"]["mean"] == pytest.approx(first_conv.weight.mean().item(), abs=1e-6)
    x = loaded.preprocess.load_files([folder / "a" / "0.png"])
    with torch.no_grad():
        act = first_conv(x)
    assert conv["shape"] == list(act.shape[1:])
    assert conv["activation"]["std"] == pytest.approx(act.std(unbiased=False).item(), rel=1e-4)
    maps = Image.open(io.BytesIO(base64.b64decode(conv["maps_png"])))
    assert maps.height >= act.shape[2] and maps.width > min(act.shape[1], MAX_MAPS) * act.shape[3]
    assert sum(t["prob"] for t in result["top"]) == pytest.approx(1, abs=1e-5)
