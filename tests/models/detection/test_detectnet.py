"""DetectNet: coverage / bbox targets, clustering of covered cells, overfitting one batch."""
import pytest
import torch

from nnlab.models.detection import DETECTORS
from nnlab.models.detection.detectnet import cluster, coverage_targets

from .conftest import digit_scenes, mean_ap


def test_coverage_covers_the_central_cells_and_bbox_points_at_the_corners():
    t = [{"boxes": torch.tensor([[8.0, 8.0, 40.0, 24.0]]), "labels": torch.tensor([1])}]
    cov, box = coverage_targets(t, 2, (8, 8), 8, cover=0.5, norm=32.0)
    # centre (24, 16), central region 16 x 8 px: cell centres x in {20, 28}, y = 12 or 20 -> |y - 16| <= 4
    covered = torch.nonzero(cov[0, 1]).tolist()
    assert covered == [[1, 2], [1, 3], [2, 2], [2, 3]]
    assert cov[0, 0].sum() == 0
    torch.testing.assert_close(box[0, :, 1, 2] * 32, torch.tensor([8 - 20.0, 8 - 12.0, 40 - 20.0, 24 - 12.0]))


def test_a_small_box_still_covers_the_cell_of_its_centre():
    t = [{"boxes": torch.tensor([[17.0, 1.0, 19.0, 3.0]]), "labels": torch.tensor([0])}]
    cov, _ = coverage_targets(t, 1, (4, 4), 16, cover=0.5, norm=64.0)
    assert torch.nonzero(cov[0, 0]).tolist() == [[0, 1]]


def test_clustering_merges_overlapping_votes_of_one_class():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [40, 40, 50, 50]])
    scores = torch.tensor([0.9, 0.5, 0.8, 0.6])
    labels = torch.tensor([0, 0, 1, 0])
    out = cluster(boxes, scores, labels, iou=0.4, min_cells=1)
    assert out["labels"].tolist() == [0, 1, 0]
    torch.testing.assert_close(out["boxes"][0], (boxes[0] * 0.9 + boxes[1] * 0.5) / 1.4)
    assert len(cluster(boxes, scores, labels, iou=0.4, min_cells=2)["boxes"]) == 1


@pytest.mark.slow  # about 2 s: 140 steps
def test_detectnet_overfits_one_batch():
    torch.manual_seed(0)
    x, targets = digit_scenes(n=4, side=64)
    m = DETECTORS.build("detectnet", classes=3, in_chans=1, input_size=(64, 64), width=8)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    ap = 0.0
    for step in range(300):
        loss = sum(m.train()(x, targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 19:
            with torch.no_grad():
                ap = mean_ap(m.eval()(x), targets, 3)
            if ap == 1.0:
                break
    assert ap == 1.0
