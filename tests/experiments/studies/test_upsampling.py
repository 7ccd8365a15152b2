import pytest
import torch
from study_outcomes import HIGH, LOW, TIE

from nnlab.experiments.studies import StudyContext, run_study
from nnlab.experiments.studies import upsampling
from nnlab.experiments.studies.upsampling import periodic_score, verdict
from nnlab.models.segmentation.upsample import Upsample


def test_periodic_score_finds_checkerboards_and_their_period():
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    smooth = (xx.float() / 31)[None, None]  # (1, 1, 32, 32) a ramp
    board = ((yy // 2 + xx // 2) % 2).float()[None, None]  # a period-4 checkerboard of 2x2 cells
    noise = torch.rand(64, 2, 32, 32, generator=torch.Generator().manual_seed(0))  # floor ~ 1 / sqrt(samples)
    assert periodic_score(smooth)[0] < 0.05 and periodic_score(noise)[0] < 0.1
    score, period = periodic_score(board)
    assert score > 0.8 and period == 4


def test_blocks_of_nearest_unpooling_count_as_a_stride_pattern():
    x = torch.rand(16, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    score, period = periodic_score(Upsample(2, 4, "unpool")(x, (32, 32)))
    assert score > 0.5 and period == 4  # edges every 4 pixels, whatever the values


def _results(fcn8, fcn32, bilinear):
    r = lambda miou: {"miou": miou, "boundary_iou": miou, "checkerboard": [0.1, 0.1, 0.1]}  # noqa: E731
    return {"fcn8s transposed": r(fcn8), "fcn32s transposed": r(fcn32), "fcn8s bilinear": r(bilinear)}


@pytest.mark.parametrize("fcn8, fcn32, skip", [(HIGH, LOW, "supported"), (LOW, HIGH, "not supported"),
                                               (TIE, TIE, "inconclusive")])
def test_verdict(fcn8, fcn32, skip):
    text = verdict(_results(fcn8, fcn32, TIE))
    assert f"(skip claim {skip};" in text and "91.0% mIoU" in text if fcn8 is HIGH else f"claim {skip}" in text


@pytest.mark.slow  # three 1-epoch fits (~10 s)
def test_study_runs_end_to_end(tmp_path, monkeypatch):
    keep = {"fcn32s transposed", "fcn8s transposed", "fcn8s bilinear"}
    monkeypatch.setattr(upsampling, "VARIANTS", [v for v in upsampling.VARIANTS if v[0] in keep])
    monkeypatch.setattr(upsampling, "base_config", lambda full: {
        "task": "segment", "data": {"dataset": "shapes", "image_size": [32, 32]}, "segment": {"shapes": 24},
        "optim": {"name": "adam", "lr": 0.003}, "train": {"epochs": 1, "batch_size": 8,
                                                          "checkpoint": {"keep_last": 0}}})
    report, path = run_study("upsampling", StudyContext(tmp_path, log=lambda s: None))
    assert len(report.tables[0].rows) == 3 and report.figures[0].is_file() and path.is_file()
    assert "skip claim inconclusive" in report.verdict  # one seed: never more than inconclusive
    assert any(line.startswith("one seed") for line in report.setup)  # said only when it applies
