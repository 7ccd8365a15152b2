"""nnlab sample / explore on tiny digits runs: grids are written, the Fréchet distance is printed beside its
floor, and every bad input is one clear message (exit 2, no traceback)."""
from __future__ import annotations

import pytest

import nnlab
from tests.cli.test_train_cli import _fails, main

_DATA = {"dataset": "digits", "train_size": 128}
_TRAIN = {"epochs": 1, "batch_size": 64}


def _fit(root, name: str, model: dict, generate: dict | None = None, task: str = "generate", data=None):
    cfg = {"name": name, "task": task, "seed": 0, "data": data or _DATA, "model": model,
           "optim": {"name": "adam", "lr": 0.01}, "train": _TRAIN, "generate": generate or {}}
    return nnlab.fit(cfg, runs_root=root, progress=False).dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample_cli")
    return {"vae": _fit(root, "vae", {"name": "vae", "hidden": [16], "latent": 3}, {"binarize": 0.5}),
            "gan": _fit(root, "gan", {"name": "dcgan", "latent": 4, "width": 4}),
            "pixelcnn": _fit(root, "pixelcnn", {"name": "pixelcnn", "channels": 4, "blocks": 1}, {"binarize": 0.5}),
            "pixelrnn": _fit(root, "pixelrnn", {"name": "pixelrnn", "channels": 4, "layers": 1}, {"binarize": 0.5}),
            "ae": _fit(root, "ae", {"name": "autoencoder", "hidden": [16], "latent": 3}),
            "mlp": _fit(root, "mlp", {"name": "mlp", "hidden": [8]}, task="classify"),
            "cnn": _fit(root, "cnn", {"name": "resnet20"}, task="classify")}  # lenet5 needs 28x28


@pytest.mark.parametrize("kind", ["vae", "gan", "pixelcnn", "pixelrnn"])
def test_sample_writes_a_grid(runs, kind, tmp_path):
    out = tmp_path / "grid.png"
    r = main("sample", str(runs[kind]), "--n", "6", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.is_file() and "6 samples in" in r.stdout


def test_sample_with_frechet_prints_the_distance_and_its_floor(runs, tmp_path):
    r = main("sample", str(runs["gan"]), "--n", "20", "--out", str(tmp_path / "g.png"), "--frechet",
             str(runs["cnn"]))
    assert r.returncode == 0, r.stderr
    assert "Fréchet distance (20 samples vs" in r.stdout and "floor (real vs real" in r.stdout
    assert "class entropy" in r.stdout


def test_frechet_measures_samples_already_drawn_as_it_would_draw_them(runs):
    drawn = nnlab.sample(runs["gan"], 20, seed=3)["images"]
    given = nnlab.frechet(runs["gan"], runs["cnn"], 20, seed=3, images=drawn)
    assert given == nnlab.frechet(runs["gan"], runs["cnn"], 20, seed=3)  # the same seed draws the same images
    assert given["fd"] != nnlab.frechet(runs["gan"], runs["cnn"], 20, seed=3, images=drawn.flip(-1))["fd"]


def test_explore_interpolates_and_traverses(runs, tmp_path):
    r = main("explore", str(runs["vae"]), "--interpolate", "0", "1", "--steps", "5", "--out", str(tmp_path / "i.png"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "i.png").is_file()
    r = main("explore", str(runs["vae"]), "--traverse", "0", "2", "--out", str(tmp_path / "t.png"))
    assert r.returncode == 0 and "dimensions 0, 2" in r.stdout


@pytest.mark.parametrize("args, needles", [
    (["sample", "{mlp}"], ["is a classify run", "needs a generative run"]),
    (["sample", "{ae}"], ["autoencoder has no prior"]),
    (["sample", "{vae}", "--n", "0"], ["--n must be at least 1"]),
    (["explore", "{vae}", "--traverse", "3"], ["latent dimension 3 is out of range", "this vae has 3"]),
    (["explore", "{gan}", "--traverse"], ["latent exploration needs a vae run"]),
    (["explore", "{vae}", "--interpolate", "0", "nosuch.png"], ["neither an image file nor an index"]),
    (["explore", "{vae}", "--interpolate", "0", "99999"], ["out of range"]),
    (["sample", "{gan}", "--frechet", "{mlp}"], ["needs a CNN classifier run"]),
])
def test_bad_input_is_one_clear_message(runs, args, needles, tmp_path):
    args = [a.format(**{k: str(v) for k, v in runs.items()}) for a in args]
    _fails(main(*args, "--out", str(tmp_path / "x.png")), *needles)


def test_train_refuses_a_binarization_threshold_outside_0_1(tmp_path):
    r = main("train", "configs/generate/digits_vae.yaml", "--generate.binarize=1.5", "--runs", str(tmp_path))
    _fails(r, "generate.binarize", "must be in (0, 1)")


def test_train_refuses_pixelcnn_on_grey_images(tmp_path):
    r = main("train", "configs/generate/digits_pixelcnn.yaml", "--generate.binarize=null", "--runs", str(tmp_path))
    _fails(r, "17 grey levels", "generate.binarize")


def test_traverse_defaults_to_the_most_active_dimensions(runs):
    from nnlab.inference import load_run
    from nnlab.sampling import active_dims

    run = load_run(runs["vae"])
    order = active_dims(run, run.model)
    assert sorted(order) == [0, 1, 2]
    assert nnlab.traverse(runs["vae"], steps=3)["dims"] == order
