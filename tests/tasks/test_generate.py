"""The generate task: targets in pixel units, Bernoulli data, denoising, and a one-batch overfit."""
from __future__ import annotations

import torch

import nnlab
from nnlab.config import from_dict
from nnlab.data import Preprocess
from nnlab.tasks.generate import Generate, Reconstruction

CFG = {"task": "generate", "data": {"dataset": "digits", "train_size": 64},
       "model": {"name": "autoencoder", "hidden": [32], "latent": 8}, "optim": {"name": "adam", "lr": 0.01},
       "train": {"epochs": 1, "batch_size": 32}}


def test_target_undoes_the_normalization():
    images = torch.randint(0, 256, (5, 1, 4, 4), dtype=torch.uint8)
    pre = Preprocess.fit(images)
    rec = Reconstruction(pre, bernoulli=False)
    torch.testing.assert_close(rec.target(pre.normalize(images)), images.float() / 255)


def test_binarized_data_is_zero_or_one():
    task = Generate(from_dict({**CFG, "generate": {"binarize": 0.5}}))
    data = task.load_data(progress=False)
    assert set(data["train"].images.unique().tolist()) <= {0, 255}


def test_denoising_corrupts_inputs_but_not_targets():
    task = Generate(from_dict({**CFG, "generate": {"noise_std": 0.5}}))
    data = task.load_data(progress=False)
    model = task.build_model(data.info)
    task.setup(model, data.info)
    x, y = next(iter(task.loader(data, "train")))
    seen = []
    model.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    task.training_step(model, (x, y))
    assert not torch.equal(seen[0], x)  # the model saw a noisy input


def test_autoencoder_overfits_one_batch():
    torch.manual_seed(0)
    task = Generate(from_dict(CFG))
    data = task.load_data(progress=False)
    model = task.build_model(data.info)
    task.setup(model, data.info)
    x, y = next(iter(task.loader(data, "train")))
    opt = torch.optim.Adam(model.parameters(), 0.01)
    first = None
    for _ in range(150):
        loss, _ = task.training_step(model, (x, y))
        first = first if first is not None else float(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.15 * first


def test_predict_writes_reconstructions(tmp_path):
    import numpy as np
    from PIL import Image

    run = nnlab.fit(CFG, runs_root=tmp_path, progress=False)
    img = tmp_path / "d.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(img)
    (r,) = nnlab.predict(run.dir, [img], out=tmp_path / "out")
    assert r["mse"] >= 0 and (tmp_path / "out" / "d_reconstruction.png").is_file()
