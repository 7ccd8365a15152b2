"""The panoptic merge rules (score order, overlap threshold, stuff area), and PQ of merged outputs."""
import torch

from nnlab.metrics.segmentation import PanopticQuality
from nnlab.models.segmentation.panoptic import VOID, instances_to_panoptic, merge_panoptic


def _box(h, w, y0, y1, x0, x1):
    m = torch.zeros(h, w, dtype=torch.bool)
    m[y0:y1, x0:x1] = True
    return m


def test_higher_score_wins_the_overlap_and_low_scores_are_dropped():
    semantic = torch.zeros(20, 20, dtype=torch.long)
    masks = torch.stack([_box(20, 20, 0, 10, 0, 10), _box(20, 20, 5, 15, 5, 15), _box(20, 20, 15, 20, 15, 20)])
    scores = torch.tensor([0.6, 0.9, 0.3])
    pan, segs = merge_panoptic(semantic, masks, scores, torch.tensor([1, 1, 1]), stuff_classes=[0], stuff_area=1)
    assert pan[7, 7].tolist() == [1, 1]  # the 0.9 instance is pasted first and keeps the overlap
    assert pan[2, 2].tolist() == [1, 2]  # the 0.6 one keeps only its free pixels (25 % taken <= 50 %)
    assert pan[17, 17].tolist() == [0, 0]  # score 0.3 < 0.5: dropped, stuff takes the pixels
    assert [s["area"] for s in segs if s["isthing"]] == [100, 75]


def test_instance_mostly_covered_is_dropped():
    masks = torch.stack([_box(10, 10, 0, 10, 0, 10), _box(10, 10, 0, 4, 0, 4)])
    semantic = torch.zeros(10, 10, dtype=torch.long)
    pan, segs = merge_panoptic(semantic, masks, torch.tensor([0.9, 0.8]), torch.tensor([1, 2]), [0])
    assert len(segs) == 1 and (pan[..., 1] == 1).all()
    pan, segs = merge_panoptic(semantic, masks, torch.tensor([0.9, 0.8]), torch.tensor([1, 2]), [0],
                               overlap_threshold=1.0)  # allowed to survive, but has no free pixel left
    assert len(segs) == 2 and segs[1]["area"] == 0


def test_small_stuff_becomes_void_and_probabilities_are_thresholded():
    semantic = torch.zeros(10, 10, dtype=torch.long)
    semantic[:2, :2] = 2  # 4 pixels of stuff class 2
    logits = torch.nn.functional.one_hot(semantic, 3).permute(2, 0, 1).float()
    probs = torch.zeros(1, 10, 10)
    probs[0, 5:, 5:] = 0.7
    pan, segs = merge_panoptic(logits, probs, torch.tensor([0.99]), torch.tensor([1]), [0, 2], stuff_area=5)
    assert pan[0, 0].tolist() == [VOID, 0]
    assert pan[9, 9].tolist() == [1, 1] and pan[4, 4].tolist() == [0, 0]
    assert sorted(s["category"] for s in segs) == [0, 1]


def test_merging_the_ground_truth_gives_pq_one():
    semantic = torch.zeros(16, 16, dtype=torch.long)
    masks = torch.stack([_box(16, 16, 1, 8, 1, 8), _box(16, 16, 8, 15, 6, 12)])
    semantic[masks.any(0)] = 1
    semantic[0, :] = 255
    target = instances_to_panoptic(semantic, masks, torch.tensor([1, 1]), [0])
    pred, _ = merge_panoptic(semantic, masks, torch.tensor([0.8, 0.9]), torch.tensor([1, 1]), [0], stuff_area=1)
    pq = PanopticQuality(things={1}, stuffs={0})
    pq.update(pred[None], target[None])
    r = pq.compute()
    assert r["pq"] == 1.0 and r["sq"] == 1.0 and r["rq"] == 1.0
