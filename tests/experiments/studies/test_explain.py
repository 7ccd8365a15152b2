"""The explain study's measurement on a tiny trained run: every method timed and sanity-checked."""
from __future__ import annotations

import pytest

from nnlab.experiments.studies import STUDIES
from nnlab.explain.attribution import METHODS
from nnlab.experiments.studies.explain import measure
from tests.explain.conftest import mlp_run  # noqa: F401  (session fixture)

PIXEL_METHODS = tuple(m for m in METHODS if not m.startswith("gradcam"))  # an MLP has no feature maps


def test_measure_times_and_checks_every_method(mlp_run):
    assert "explain" in STUDIES.names()
    ms, sanity, labels, threads = measure(mlp_run, mlp_run, n=4, repeats=1, methods=PIXEL_METHODS)
    assert set(ms) == set(sanity) == set(labels) == set(PIXEL_METHODS) and all(v > 0 for v in ms.values())
    assert all(abs(r - 1.0) < 1e-9 for r in labels.values())  # the "shuffled" model is the same one here
    for s in sanity.values():
        assert s.layers == ["head", "features.0"] and len(s.correlations) == 2
        assert all(-1 <= r <= 1 for r in s.correlations)
    assert sanity["saliency"].passed  # plain gradients depend on the weights (Adebayo et al.)


def test_dream_transfer_reads_each_class_model_with_both_models(mlp_run):
    from nnlab.experiments.studies.explain import dream_transfer

    rows = dream_transfer(mlp_run, mlp_run, steps=5)
    assert [r[0] for r in rows] == [str(d) for d in range(10)] + ["mean"]
    assert all(r[1] == r[2] and r[3] == r[4] for r in rows)  # the same model twice reads the same


def test_train_shuffled_fits_the_same_config_on_shuffled_labels(tmp_path):
    from nnlab.experiments.studies.explain import train_shuffled
    from nnlab.experiments.studies.report import StudyContext
    from nnlab.inference import load_run

    cfg = {"name": "mlp", "seed": 0, "data": {"dataset": "digits", "train_size": 100}, "model": {"name": "mlp"},
           "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 1, "batch_size": 32}}
    run_dir, memorized = train_shuffled(StudyContext(tmp_path, log=lambda _m: None), cfg, plan=(60, 2))
    run = load_run(run_dir)
    assert run.config.data.dataset == "cache" and run.config.model.name == "mlp" and run.config.train.epochs == 2
    assert 0.0 <= memorized <= 1.0 and run.config.data.path.endswith("shuffled_labels")


def test_pointing_rows_show_hits_against_chance_per_game():
    from nnlab.experiments.studies.explain_pointing import pointing_rows

    games = {"a": {m: (0.5, 0.25) for m in METHODS}, "b": {}}
    header, rows = pointing_rows(games)
    assert header == ["method", "a", "b"] and len(rows) == len(METHODS) + 1
    assert rows[0] == [METHODS[0], "50.0 (2.0x)", "-"] and rows[-1] == ["chance", "25.0", "-"]


def test_score_methods_counts_peaks_inside_the_boxes():
    import torch

    from nnlab.experiments.studies.explain_pointing import score_methods

    maps = torch.zeros(2, 4, 4)
    maps[0, 1, 1] = maps[1, 3, 3] = 1.0  # peaks at (row 1, col 1) and (row 3, col 3)
    boxes = [torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[0.0, 0.0, 2.0, 2.0]])]
    found = score_methods(lambda _m: maps, boxes, (4, 4), lambda _s: None, "test")
    assert set(found) == set(METHODS) and found["saliency"] == (0.5, 0.25)


def test_detector_pointing_explains_top_boxes_that_cover_a_digit(tmp_path):
    from nnlab.experiments.studies.explain_boxes import detector_pointing
    from nnlab.experiments.studies.report import StudyContext

    found, setup = detector_pointing(StudyContext(tmp_path, log=lambda _m: None), n_train=24, n_test=6, epochs=1)
    assert "of 6 held-out scenes whose top detection covers the digit" in setup
    assert not found or (set(found) == set(METHODS) and all(0 <= h <= 1 and 0 < c < 1 for h, c in found.values()))


def test_raccoon_pointing_is_skipped_without_the_photos(tmp_path, monkeypatch):
    from nnlab.experiments.studies import explain_boxes
    from nnlab.experiments.studies.report import StudyContext

    monkeypatch.setattr(explain_boxes, "raccoon_root", lambda: None)
    found, setup = explain_boxes.raccoon_pointing(StudyContext(tmp_path, log=lambda _m: None), epochs=1)
    assert found == {} and "skipped" in setup


@pytest.mark.slow
def test_raccoon_crops_are_raccoons_and_background(tmp_path):
    from nnlab.data import cache
    from nnlab.experiments.studies.explain_boxes import RACCOON, raccoon_crops, raccoon_root

    root = raccoon_root()
    if root is None:
        pytest.skip("../shared/datasets/raccoon is absent")
    data = cache.load(raccoon_crops(root, tmp_path / "crops"))["train"]
    assert data.classes == ["background", "raccoon"] and data.shape == (3, RACCOON, RACCOON)
    counts = data.labels.bincount(minlength=2)
    assert counts[1] >= 2 * 150 and counts[0] > 0  # every train raccoon twice (box, box doubled), some background


def test_matched_top_boxes_keeps_images_whose_best_box_covers_an_object():
    import torch

    from nnlab.experiments.studies.explain_boxes import matched_top_boxes

    class Fixed(torch.nn.Module):  # the best box is always [0, 0, 10, 10], whatever the image
        def forward(self, x):
            return [{"boxes": torch.tensor([[0.0, 0.0, 4.0, 4.0], [0.0, 0.0, 10.0, 10.0]]),
                     "scores": torch.tensor([0.2, 0.9]), "labels": torch.tensor([0, 1])} for _ in x]

    targets = [{"boxes": torch.tensor([[1.0, 1.0, 10.0, 10.0]])}, {"boxes": torch.tensor([[0.0, 0.0, 4.0, 4.0]])},
               {"boxes": torch.zeros(0, 4)}]
    assert matched_top_boxes(Fixed(), torch.zeros(3, 1, 10, 10), targets) == [0]  # IoU 0.81, 0.16, no object
