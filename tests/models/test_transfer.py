import pytest
import torch
import torchvision

import nnlab
from nnlab.api import build_model
from nnlab.errors import UserError
from nnlab.inference import load_run
from nnlab.models.transfer import apply, freeze, load_weights


def test_torchvision_weights_with_a_new_head(tmp_path):
    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "r18.pth")
    model = build_model("resnet18", 5, 3, (32, 32), form="imagenet")
    head = model.fc.weight.detach().clone()
    report = apply(model, str(tmp_path / "r18.pth"), ["up_to:layer3"], reset_head=True)
    assert torch.equal(model.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    assert torch.equal(model.fc.weight, head) and report.skipped_head == ["fc.weight", "fc.bias"]
    assert report.frozen == ["conv1", "bn1", "layer1", "layer2", "layer3"]
    assert report.trainable == sum(p.numel() for p in [*model.layer4.parameters(), *model.fc.parameters()])
    assert "frozen: conv1, bn1, layer1, layer2, layer3" in report.describe()


def test_mismatching_weights_name_the_keys_and_shapes():
    state = build_model("resnet18", 10, 3, (32, 32)).state_dict()
    with pytest.raises(UserError, match=r"fc.weight: file \(10, 512\) vs model \(5, 512\).*reset_head"):
        load_weights(build_model("resnet18", 5, 3, (32, 32)), state)
    with pytest.raises(UserError, match=r"shape mismatch conv1.weight: file \(64, 3, 3, 3\)"):
        load_weights(build_model("resnet18", 10, 3, (224, 224)), state)
    with pytest.raises(UserError, match="missing in the file: layer1.0.conv1.weight"):
        load_weights(build_model("resnet18", 10, 3, (32, 32)), {k: v for k, v in state.items() if "layer1" not in k})


def test_freeze_matching_nothing_lists_the_modules():
    with pytest.raises(UserError, match=r"'layer9' matches no module.*conv1, bn1, layer1"):
        freeze(build_model("resnet18", 10, 3, (32, 32)), ["layer9"])


def test_frozen_batch_norm_stays_in_eval_mode():
    model = build_model("resnet20", 10, 1, (8, 8))
    freeze(model, ["layer1"])
    model.train()
    assert not model.layer1[0].bn1.training and model.layer2[0].bn1.training


def _digits(name, **model):
    return {"name": name, "data": {"dataset": "digits", "train_size": 300, "split_seed": 0},
            "model": {"name": "resnet20", **model}, "optim": {"name": "momentum", "lr": 0.05},
            "train": {"epochs": 1, "batch_size": 64, "device": "cpu"}}


def test_fit_keeps_frozen_parameters_and_bn_statistics_bit_identical(tmp_path):
    base = nnlab.fit(_digits("base"), runs_root=tmp_path, progress=False)
    before = load_run(base.dir, "last").model.state_dict()
    run = nnlab.fit(_digits("ft", weights=str(base.dir), freeze=["up_to:layer2"], reset_head=True),
                    runs_root=tmp_path, progress=False)
    after = load_run(run.dir, "last").model.state_dict()
    frozen = [k for k in before if k.split(".")[0] in ("conv1", "bn1", "layer1", "layer2")]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)  # incl. running_mean / running_var
    assert not torch.equal(before["layer3.0.conv1.weight"], after["layer3.0.conv1.weight"])
    assert run.meta["transfer"]["frozen"] == ["conv1", "bn1", "layer1", "layer2"]


def test_bad_transfer_config_fails_before_a_run_starts(tmp_path):
    with pytest.raises(UserError, match="model.weights"):
        nnlab.fit(_digits("x", weights=str(tmp_path / "nope.pt")), runs_root=tmp_path, progress=False)
    with pytest.raises(UserError, match="model.freeze"):
        nnlab.fit(_digits("x", freeze=["head"]), runs_root=tmp_path, progress=False)
    assert not any(tmp_path.rglob("config.yaml"))


def test_model_weights_that_would_run_code_are_refused_by_fit(tmp_path):
    import nnlab
    from tests.conftest import malicious_checkpoint

    marker = tmp_path / "pwned"
    malicious_checkpoint(tmp_path / "evil.pt", marker)
    cfg = {"model": {"name": "mlp", "hidden": [4], "weights": str(tmp_path / "evil.pt")},
           "train": {"epochs": 1, "device": "cpu"}, "data": {"train_size": 100}}
    with pytest.raises(UserError, match="refuses to load"):
        nnlab.fit(cfg, runs_root=tmp_path / "runs", progress=False)
    assert not marker.exists()
