import csv
import json

import pytest
import torch

import nnlab
from nnlab.engine import checkpoint
from nnlab.errors import ConfigError, TrainingStopped, UserError
from tests.conftest import ROOT


def test_fit_writes_a_complete_run(digits_config, tmp_path):
    run = nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    assert run.dir == tmp_path / "classify" / "t-1"
    meta = json.loads((run.dir / "meta.json").read_text())
    assert meta["status"] == "completed" and meta["epochs_done"] == 2 and meta["best_epoch"] in (1, 2)
    assert run.test["acc"] > 0.8
    rows = list(csv.DictReader((run.dir / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"] and {"loss", "val_acc", "lr"} <= set(rows[0])
    assert (run.dir / "checkpoints" / "best.pt").is_file() and (run.dir / "checkpoints" / "last.pt").is_file()
    resolved = (run.dir / "config.yaml").read_text()
    assert "hidden:" in resolved and "early_stopping:" in resolved  # the fully resolved config
    second = nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    assert second.dir.name == "t-2"  # runs never overwrite runs


def test_same_seed_same_weights(digits_config, tmp_path):
    a = nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    b = nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    wa = checkpoint.load(a.dir / "checkpoints" / "last.pt")["model"]
    wb = checkpoint.load(b.dir / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    c = nnlab.fit(digits_config, ["--seed=1"], runs_root=tmp_path, progress=False)
    wc = checkpoint.load(c.dir / "checkpoints" / "last.pt")["model"]
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_resume_from_an_earlier_checkpoint_is_exact(digits_config, tmp_path):
    """Stop after 2 of 4 epochs (as if killed), resume: same weights as an uninterrupted 4-epoch run."""
    digits_config["train"].update(epochs=4, checkpoint={"keep_last": 4})
    full = nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    part = nnlab.fit(digits_config, ["--train.epochs=2"], runs_root=tmp_path, progress=False)
    (part.dir / "meta.json").write_text(json.dumps({**part.meta, "status": "interrupted"}))
    resumed = nnlab.fit(None, ["--train.epochs=4"], resume=part.dir, runs_root=tmp_path, progress=False)
    assert resumed.dir == part.dir and resumed.meta["epochs_done"] == 4
    wa = checkpoint.load(full.dir / "checkpoints" / "last.pt")["model"]
    wb = checkpoint.load(part.dir / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert len(list(csv.DictReader((part.dir / "metrics.csv").open()))) == 4


def test_extend_starts_a_new_run_with_new_lr(digits_config, tmp_path):
    first = nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    ext = nnlab.fit(None, ["--train.epochs=1", "--optim.lr=0.01"], extend=first.dir, runs_root=tmp_path,
                    progress=False)
    assert ext.dir != first.dir and ext.meta["extended_from"] == str(first.dir)
    rows = list(csv.DictReader((ext.dir / "metrics.csv").open()))
    assert float(rows[0]["lr"]) == 0.01 and len(rows) == 1
    assert ext.test["acc"] >= first.test["acc"] - 0.05


def test_resume_refusals(digits_config, tmp_path):
    run = nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    with pytest.raises(UserError, match="already completed"):
        nnlab.fit(None, resume=run.dir, runs_root=tmp_path)
    with pytest.raises(UserError, match="takes no overrides"):
        nnlab.fit(None, ["--optim.lr=1"], resume=run.dir, runs_root=tmp_path)
    with pytest.raises(UserError, match="not an nnlab run directory"):
        nnlab.fit(None, resume=tmp_path, runs_root=tmp_path)


def test_nan_loss_keeps_last_good_checkpoint(tmp_path):
    cfg = ROOT / "configs" / "classify" / "digits_mlp.yaml"
    run = nnlab.fit(cfg, ["--train.epochs=1"], runs_root=tmp_path, progress=False)
    good = (run.dir / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(TrainingStopped, match="loss became"):
        nnlab.fit(None, ["--train.epochs=3", "--optim.lr=1e6"], extend=run.dir, runs_root=tmp_path, progress=False)
    failed = tmp_path / "classify" / "digits_mlp-2"
    assert json.loads((failed / "meta.json").read_text())["status"] == "failed"
    assert (run.dir / "checkpoints" / "last.pt").read_bytes() == good


def test_unknown_model_option_rejected_before_any_run(digits_config, tmp_path):
    digits_config["model"]["depth"] = 3
    with pytest.raises(ConfigError, match="unknown config key 'model.depth' for model 'mlp'"):
        nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    digits_config["model"] = {"name": "mlp"}
    digits_config["optim"]["betas"] = [0.9, 0.99]
    with pytest.raises(ConfigError, match="optim.betas"):
        nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    assert not (tmp_path / "classify").exists()


def test_svm_softmax_knn_and_full_batch(digits_config, tmp_path):
    for over in (["--model={name: svm}"], ["--model={name: softmax}", "--train.batch_size=full",
                                           "--train.epochs=20", "--optim.lr=0.5"]):
        run = nnlab.fit(digits_config, over, runs_root=tmp_path, progress=False)
        assert run.test["acc"] > 0.75, over
    knn = nnlab.fit(digits_config, ["--model={name: knn, k: 3}"], runs_root=tmp_path, progress=False)
    assert knn.test["acc"] > 0.95 and knn.meta["status"] == "completed"


def test_evaluate_and_predict(digits_config, tmp_path):
    from PIL import Image

    run = nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    r = nnlab.evaluate(run.dir)
    assert r["count"] == 360 and abs(r["acc"] - run.test["acc"]) < 1e-9 and r["top5"] >= r["acc"]
    assert sum(map(sum, r["confusion"])) == 360 and (run.dir / "eval" / "confusion_test.png").is_file()
    from sklearn.datasets import load_digits

    d = load_digits()
    img = Image.fromarray((d.images[0] * 255 / 16).astype("uint8")).resize((64, 48)).convert("RGB")
    img.save(tmp_path / "zero.jpg", quality=95)
    pred = nnlab.predict(run.dir, [tmp_path / "zero.jpg"], topk=3)[0]
    assert len(pred["top"]) == 3 and abs(sum(t["prob"] for t in pred["top"])) <= 1.0 + 1e-6
    assert pred["top"][0]["prob"] >= pred["top"][1]["prob"]


def test_tensorboard_event_files(digits_config, tmp_path):
    pytest.importorskip("tensorboard")
    run = nnlab.fit(digits_config, ["--train.tensorboard=true"], runs_root=tmp_path, progress=False)
    assert list((run.dir / "tensorboard").glob("events.out.tfevents.*"))


def test_out_of_memory_is_a_clear_stop(digits_config, tmp_path, monkeypatch):
    def oom(self, *a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr("nnlab.engine.trainer.Trainer.train_one_epoch", oom)
    with pytest.raises(TrainingStopped, match="out of memory.*lower train.batch_size \\(now 64\\)"):
        nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    assert json.loads((tmp_path / "classify" / "t-1" / "meta.json").read_text())["status"] == "failed"
