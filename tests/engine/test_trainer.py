import pytest
import torch
from torch import nn

from nnlab.data import ImageDataset, Preprocess, TensorLoader
from nnlab.engine import checkpoint
from nnlab.engine.callbacks import Callback, Checkpoint, CSVLogger, EarlyStopping
from nnlab.models.losses import LOSSES
from nnlab.engine.runs import RunDir
from nnlab.engine.trainer import Trainer
from nnlab.tasks.classify import Classify
from nnlab.errors import TrainingStopped


def _data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 4, 4), generator=g, dtype=torch.uint8)
    labels = (images.float().mean((1, 2, 3)) > 127).long()
    return ImageDataset(images, labels, ["lo", "hi"])


def _trainer(model, lr=0.1, epochs=1, **kw):
    kw = {"monitor": "val_acc", "mode": "max", **kw}  # the classification task's defaults
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    return Trainer(model, Classify(loss=LOSSES.build("cross_entropy"), num_classes=2), opt, epochs=epochs, device=torch.device("cpu"),
                   progress=False, **kw)


class Steps(Callback):
    def __init__(self):
        self.batches = 0

    def on_batch_end(self, trainer, loss):
        self.batches += 1


@pytest.mark.parametrize("batch, steps", [(None, 1), (1, 64), (16, 4)])
def test_gradient_descent_regimes(batch, steps):
    ds = _data()
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    counter = Steps()
    t = _trainer(model, callbacks=[counter])
    t.fit(TensorLoader(ds, Preprocess.fit(ds.images), batch, shuffle=True))
    assert t.state.step == steps and counter.batches == steps


def test_full_batch_step_equals_manual_gradient_descent():
    ds = _data()
    pre = Preprocess.fit(ds.images)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    ref = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    ref.load_state_dict(model.state_dict())
    _trainer(model, lr=0.5).fit(TensorLoader(ds, pre, None))
    x = pre.normalize(ds.images)
    loss = nn.functional.cross_entropy(ref(x), ds.labels)
    loss.backward()
    with torch.no_grad():
        for p in ref.parameters():
            p -= 0.5 * p.grad
    for a, b in zip(model.parameters(), ref.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_accumulation_equals_larger_batch():
    ds = _data()
    pre = Preprocess.fit(ds.images)
    torch.manual_seed(0)
    a = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    b = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    b.load_state_dict(a.state_dict())
    _trainer(a).fit(TensorLoader(ds, pre, 32))
    _trainer(b, accumulate=2).fit(TensorLoader(ds, pre, 16))
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_non_finite_loss_stops_with_message():
    ds = _data()
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        model[1].weight.fill_(float("nan"))
    with pytest.raises(TrainingStopped, match="loss became nan at epoch 1, batch 1"):
        _trainer(model).fit(TensorLoader(ds, Preprocess.fit(ds.images), 16))


def test_nan_in_a_later_epoch_keeps_the_last_good_checkpoint(tmp_path):
    ds = _data()
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    ce = LOSSES.build("cross_entropy")
    calls = iter(range(10**6))

    def loss_fn(out, y):  # finite for the 4 batches of epoch 1, then NaN
        return ce(out, y) * (float("nan") if next(calls) >= 4 else 1.0)

    t = Trainer(model, Classify(loss=loss_fn, num_classes=2), torch.optim.SGD(model.parameters(), lr=0.1), epochs=3,
                device=torch.device("cpu"), progress=False, callbacks=[Checkpoint(RunDir(tmp_path))])
    with pytest.raises(TrainingStopped, match="epoch 2, batch 1"):
        t.fit(TensorLoader(ds, Preprocess.fit(ds.images), 16))
    saved = checkpoint.load(RunDir(tmp_path).last)
    assert saved["train_state"]["epoch"] == 1 and torch.isfinite(saved["model"]["1.weight"]).all()


def test_early_stopping_records_best_epoch(monkeypatch):
    ds = _data()
    pre = Preprocess.fit(ds.images)
    vals = iter([0.5, 0.9, 0.8, 0.85, 0.7, 0.95])  # a validation accuracy that peaks at epoch 2
    monkeypatch.setattr("nnlab.engine.trainer.evaluate", lambda *a, **k: {"loss": 0.0, "acc": next(vals)})
    t = _trainer(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), epochs=6, callbacks=[EarlyStopping(patience=2)])
    st = t.fit(TensorLoader(ds, pre, 32), val_loader=TensorLoader(ds, pre, 32))
    assert st.epoch == 4 and st.best_epoch == 2 and st.best == 0.9
    assert "did not improve" in st.stop_reason


def test_csv_logger_drops_rows_past_checkpoint(tmp_path):
    path = tmp_path / "metrics.csv"
    log = CSVLogger(path)
    for e in (1, 2, 3):
        log.log(e, {"loss": e / 10})
    t = _trainer(nn.Linear(1, 1))
    t.state.epoch = 2
    log.on_fit_start(t)
    assert path.read_text().splitlines() == ["epoch,loss", "1,0.1", "2,0.2"]


def test_bf16_channels_last_lenet_trains():
    from nnlab.api import build_model

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64, 1, 28, 28), generator=g, dtype=torch.uint8)
    ds = ImageDataset(images, (images.float().mean((1, 2, 3)) > 127).long(), ["a", "b"])
    model = build_model("lenet5", 2, 1, (28, 28)).to(memory_format=torch.channels_last)
    t = _trainer(model, epochs=2, precision="bf16", channels_last=True)
    t.fit(TensorLoader(ds, Preprocess.fit(ds.images), 16))
    assert t.state.step == 8 and all(torch.isfinite(p).all() for p in model.parameters())
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast keeps fp32 master weights


def test_cuda_without_gpu_is_a_clear_error():
    from nnlab.engine.trainer import resolve_device

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(TrainingStopped, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"
