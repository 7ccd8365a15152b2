"""nnlab panoptic: class pairing, the merge + PQ evaluator on known answers, the leak check, maps as colours, and
the command on two tiny runs over the digit scenes."""
from __future__ import annotations

import pytest
import torch

import nnlab
from nnlab.cli.main import main
from nnlab.errors import UserError
from nnlab.panoptic import PanopticEvaluator, _check_unseen, colorize, pair_classes


def test_pair_classes_finds_things_by_name_and_one_stuff():
    assert pair_classes(["person"], ["background", "person"]) == ([1], [0])
    assert pair_classes(["b", "a"], ["a", "bg", "b"]) == ([2, 0], [1])
    with pytest.raises(UserError, match="no class 'cat'"):
        pair_classes(["cat"], ["background", "person"])
    with pytest.raises(UserError, match="exactly one class"):
        pair_classes(["person"], ["road", "sky", "person"])


def _scene():
    """Two people (labels 0) on background in an 8x8 image, as targets and as semantic logits (B, 2, H, W)."""
    masks = torch.zeros(2, 8, 8, dtype=torch.uint8)
    masks[0, 1:4, 1:4] = 1
    masks[1, 4:8, 4:8] = 1
    target = {"boxes": torch.tensor([[1.0, 1, 4, 4], [4, 4, 8, 8]]), "labels": torch.tensor([0, 0]), "masks": masks}
    semantic = masks.amax(0).long()  # (H, W) 1 = person
    logits = torch.nn.functional.one_hot(semantic, 2).permute(2, 0, 1)[None].float()  # (1, 2, H, W)
    return torch.zeros(1, 3, 8, 8, dtype=torch.uint8), [target], logits


def test_perfect_answers_give_pq_one_and_a_missed_person_lowers_rq():
    x, targets, logits = _scene()
    found = [{**targets[0], "scores": torch.tensor([0.9, 0.8]), "masks": targets[0]["masks"].float()}]
    ev = PanopticEvaluator([1], [0], stuff_area=4)
    ev.update(x, targets, found, logits)
    r = ev.compute(["background", "person"])
    assert r["pq"] == r["sq"] == r["rq"] == 1.0 and r["per_class"]["person"]["tp"] == 2
    ev = PanopticEvaluator([1], [0], stuff_area=4)  # the second person scores under the threshold: dropped
    ev.update(x, targets, [{**found[0], "scores": torch.tensor([0.9, 0.3])}], logits)
    person = ev.compute(["background", "person"])["per_class"]["person"]
    assert (person["tp"], person["fn"], person["fp"]) == (1, 1, 0) and person["rq"] == pytest.approx(2 / 3)
    assert person["sq"] == 1.0 and len(ev.shown) == 1


def test_a_semantic_run_that_saw_the_images_is_refused():
    images = torch.randint(0, 255, (5, 3, 4, 4), dtype=torch.uint8)
    _check_unseen(images[:2], images[2:], "test")
    with pytest.raises(UserError, match="trained on 1 of the 2 test images"):
        _check_unseen(images[1:3], images[2:], "test")


def test_colorize_gives_each_instance_its_own_colour_and_void_black():
    pan = torch.zeros(2, 3, 2, dtype=torch.long)
    pan[0, :, 0], pan[1, 0] = 1, torch.tensor([255, 0])
    pan[0, 0, 1], pan[0, 1:, 1] = 1, 2
    out = colorize(pan, [(10, 20, 30), (200, 0, 0)])
    assert colorize(pan, [(0, 0, 0), (1, 2, 3)])[:, 1, 1].tolist() == [64, 64, 64]  # black stuff: not void's black
    assert out.shape == (3, 2, 3) and out.dtype == torch.uint8
    assert out[:, 1, 0].tolist() == [0, 0, 0] and out[:, 1, 1].tolist() == [10, 20, 30]  # void, stuff
    assert not torch.equal(out[:, 0, 0], out[:, 0, 1]) and torch.equal(out[:, 0, 1], out[:, 0, 2])


@pytest.mark.slow  # two tiny fits (~8 s)
def test_panoptic_command_on_two_scene_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNLAB_MNIST", str(tmp_path / "no-mnist"))  # sklearn's digits: fast and always there
    data = {"dataset": "scenes", "image_size": [64, 64]}
    scenes = {"scenes": {"n": 12, "n_test": 4, "digits": [1, 2], "scale": [1.5, 2.0]}}
    common = {"data": data, "detect": scenes, "optim": {"name": "adam", "lr": 0.01},
              "train": {"epochs": 1, "batch_size": 12}}
    inst = nnlab.fit({**common, "task": "detect", "name": "inst",
                      "model": {"name": "mask_rcnn", "width": 4, "neck_width": 8, "fc_width": 16, "mask_width": 8,
                                "anchor_scale": 2}}, runs_root=tmp_path, progress=False)
    sem = nnlab.fit({**common, "task": "segment", "name": "sem", "model": {"name": "unet", "depth": 1, "width": 4}},
                    runs_root=tmp_path, progress=False)
    assert main(["panoptic", str(inst.dir), str(sem.dir), "--score-threshold", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "test: 4 images  PQ" in out and "background" in out and (inst.dir / "eval" / "panoptic_test.png").is_file()
    assert main(["panoptic", str(sem.dir), str(inst.dir)]) == 2
    assert "takes an instance run" in capsys.readouterr().err
