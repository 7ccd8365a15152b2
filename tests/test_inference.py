"""`nnlab eval` / `predict` run the model in inference mode: dropout off, batch norm on running statistics,
no augmentation or mixing, whatever the run was trained with."""
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import nnlab
from nnlab.data.preprocess import Preprocess
from nnlab.engine import checkpoint
from nnlab.models import MODELS


class _NormDropoutNet(nn.Module):
    def __init__(self, num_classes: int, in_chans: int, input_size: tuple[int, int]) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_chans * input_size[0] * input_size[1], 32),
                                 nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@pytest.fixture
def trained(monkeypatch, digits_config, tmp_path):
    monkeypatch.setitem(MODELS._entries, "test_norm_dropout", _NormDropoutNet)
    cfg = {**digits_config, "model": {"name": "test_norm_dropout"}, "train": {"epochs": 1, "batch_size": 32},
           "augment": {"preset": "digits", "erase": 0.5}, "regularize": {"cutmix": 1.0, "noise": {"input_std": 0.3}}}
    run = nnlab.fit(cfg, runs_root=tmp_path / "runs", progress=False)
    model = _NormDropoutNet(10, 1, (8, 8))
    model.load_state_dict(checkpoint.load(run.dir / "checkpoints" / "best.pt")["model"])
    return run, model, Preprocess(**run.meta["preprocess"])


def test_predict_uses_dropout_off_and_running_statistics(trained, tmp_path):
    run, model, pre = trained
    bn = model.net[2]
    assert bn.num_batches_tracked > 0 and bn.running_mean.abs().sum() > 0  # trained statistics exist
    paths = []
    for i, value in enumerate((0, 90, 200)):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((8, 8), value, np.uint8)).save(paths[-1])
    probs = [[t["prob"] for t in sorted(r["top"], key=lambda t: t["index"])]
             for r in nnlab.predict(run.dir, paths, topk=10)]
    x = pre.load_files(paths)
    with torch.no_grad():
        expected = model.eval()(x).softmax(1)
        torch.manual_seed(0)
        train_mode = model.train()(x).softmax(1)  # batch statistics and dropout
    torch.testing.assert_close(torch.tensor(probs), expected, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(train_mode, expected, atol=1e-3)
    assert nnlab.load_run(run.dir).model.training is False


def test_evaluate_is_deterministic_and_unaugmented(trained):
    run, model, pre = trained
    first, second = nnlab.evaluate(run.dir), nnlab.evaluate(run.dir)
    assert first["loss"] == second["loss"] and first["confusion"] == second["confusion"]
    splits = nnlab.api.run_data(run.dir, run.config)
    x, y = pre.normalize(splits["test"].images), splits["test"].labels
    with torch.no_grad():
        out = model.eval()(x)
    assert first["acc"] == pytest.approx(float((out.argmax(1) == y).float().mean()))
    assert first["loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(out, y)), rel=1e-5)
