"""nnlab explain: every form writes its PNGs; bad input gets one message before any work (exit 2)."""
from __future__ import annotations

import numpy as np
import pytest

from nnlab.cli.main import main
from tests.explain.conftest import cnn_run, digit_pngs, mlp_run  # noqa: F401  (session fixtures)


@pytest.mark.parametrize("method", ["saliency", "guided_backprop", "integrated_gradients", "occlusion", "gradcam",
                                    "gradcam++"])
def test_every_method_writes_an_overlay_per_image(cnn_run, digit_pngs, tmp_path, capsys, method):
    assert main(["explain", str(cnn_run), *map(str, digit_pngs[:2]), "--method", method, "--out",
                 str(tmp_path)]) == 0
    stem = method.replace("+", "p")
    for p in digit_pngs[:2]:
        assert (tmp_path / f"{p.stem}_{stem}.png").stat().st_size > 0
        heat = np.load(tmp_path / f"{p.stem}_{stem}.npy")
        assert heat.shape == (8, 8) and (heat >= 0).all()
    assert "(p=" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--method", "gradcam"], "gradcam needs a layer with a spatial feature map"),
    (["--method", "saliency", "--target", "12"], "target class 12 is out of range"),
    (["--method", "saliency", "IMG_RGB"], "has 3 channel(s) (RGB) but run mlp-1 takes 1-channel"),
    (["--method", "saliency", "missing.png"], "missing.png does not exist"),
])
def test_bad_input_gets_one_message(mlp_run, digit_pngs, tmp_path, capsys, args, message):
    args = [str(digit_pngs[-1]) if a == "IMG_RGB" else a for a in args]
    assert main(["explain", str(mlp_run), str(digit_pngs[0]), *args, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before any work


def test_a_layer_typo_lists_the_feature_map_layers(cnn_run, digit_pngs, capsys):
    assert main(["explain", str(cnn_run), str(digit_pngs[0]), "--method", "gradcam", "--layer", "layer9"]) == 2
    err = capsys.readouterr().err
    assert "'layer9' does not exist" in err and "layer3.2.conv2" in err and "fc" not in err.split(":")[-1]


def test_guided_backprop_on_a_tanh_model_says_what_it_means(tmp_path, digit_pngs, capsys):
    from tests.explain.conftest import _fit

    run = _fit(tmp_path, "tanh", {"name": "mlp", "hidden": [16], "activation": "tanh"})
    assert main(["explain", str(run), str(digit_pngs[0]), "--method", "guided_backprop", "--out",
                 str(tmp_path / "o")]) == 0
    assert "no ReLU modules (activations: Tanh)" in capsys.readouterr().out


def test_tools(cnn_run, mlp_run, digit_pngs, tmp_path, capsys):
    img = str(digit_pngs[2])
    assert main(["explain", "filters", str(cnn_run), "--out", str(tmp_path / "f.png")]) == 0
    assert main(["explain", "filters", str(mlp_run), "--out", str(tmp_path / "t.png")]) == 0  # Linear templates
    assert main(["explain", "activations", str(mlp_run), img, "--out", str(tmp_path / "act")]) == 0
    assert main(["explain", "embed", str(mlp_run), "--limit", "60", "--out", str(tmp_path / "e.png")]) == 0
    assert main(["explain", "neighbours", str(mlp_run), img, "--k", "3", "--out", str(tmp_path / "n.png")]) == 0
    assert main(["explain", "dream", str(mlp_run), "--class", "4", "--steps", "20", "--out",
                 str(tmp_path / "d.png")]) == 0
    out = capsys.readouterr().out
    assert "feature space: #" in out and "pixel space: #" in out
    for name in ("f.png", "t.png", "e.png", "n.png", "d.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "act").glob("*.png")) == ["00_features.0.png", "01_features.1.png",
                                                                        "02_head.png"]


def test_tool_bad_input(cnn_run, mlp_run, tmp_path, capsys):
    f = str(tmp_path / "f.png")
    assert main(["explain", "filters", str(cnn_run), "--layer", "layer1.0.bn1", "--out", f]) == 2
    assert "is not a convolution or a linear layer; valid layers" in capsys.readouterr().err
    assert main(["explain", "embed", str(mlp_run), "--split", "tst"]) == 2
    assert "no 'tst' split (it has: train" in capsys.readouterr().err
    assert main(["explain", "dream", str(mlp_run)]) == 2
    assert "give --class C" in capsys.readouterr().err
    assert main(["explain", "filters"]) == 2
