"""The generate task: targets in pixel units, Bernoulli data, denoising, a one-batch overfit; the VAE's
objective and metrics, the GAN's two optimizers, PixelCNN's data check."""
from __future__ import annotations

import pytest
import torch

import nnlab
import nnlab.api
from nnlab.config import from_dict
from nnlab.errors import ConfigError, DataError
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
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.15 * first


def test_predict_writes_reconstructions(tmp_path):
    import numpy as np
    from PIL import Image

    run = nnlab.fit(CFG, runs_root=tmp_path, progress=False)
    img = tmp_path / "d.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(img)
    (r,) = nnlab.predict(run.dir, [img], out=tmp_path / "out")
    assert r["mse"] >= 0 and (tmp_path / "out" / "d_reconstruction.png").is_file()


def _ready(cfg: dict):
    task = Generate(from_dict(cfg))
    data = task.load_data(progress=False)
    model = task.build_model(data.info)
    task.setup(model, data.info)
    return task, data, model


VAE = {**CFG, "model": {"name": "vae", "hidden": [32], "latent": 4},
       "generate": {"binarize": 0.5, "beta": 2.0, "iw_samples": 4, "iw_images": 10}}


def test_vae_loss_is_the_beta_weighted_negative_elbo_in_nats_per_image():
    task, data, model = _ready(VAE)
    x, y = next(iter(task.loader(data, "train")))
    torch.manual_seed(1)
    loss, logs = task.training_step(model, (x, y))
    torch.manual_seed(1)
    rec, kl, _ = model.elbo_terms(x, task.objective.rec.target(x))
    torch.testing.assert_close(loss, (rec + 2.0 * kl).mean())
    assert float(logs["rec"]) > 64 * 0.05  # summed over the 64 pixels, not averaged


def test_vae_evaluator_reports_the_bound_its_parts_and_the_iwae_estimate():
    task, data, model = _ready(VAE)
    ev = task.evaluator()
    with torch.no_grad():
        for batch in task.loader(data, "val"):
            ev.update(model, batch)
    m = ev.compute()
    assert m["nelbo"] == pytest.approx(m["rec"] + m["kl"]) and m["loss"] == pytest.approx(m["rec"] + 2 * m["kl"])
    assert ev.sums.counts["iwae_nll"] == 10 and 0 < m["iwae_nll"] < m["nelbo"] + 5


def test_gan_steps_discriminator_then_generator_with_their_own_optimizers():
    task, data, model = _ready({**CFG, "model": {"name": "dcgan", "latent": 4, "width": 4},
                                "generate": {"label_smoothing": 0.1}})
    assert task.manual_optimization and set(task.optimizer_modules(model)) == {"d", "g"}
    order = []

    def step(name, loss):
        grads = torch.autograd.grad(loss, list(task.optimizer_modules(model)[name].parameters()))
        order.append((name, all(torch.isfinite(g).all() for g in grads)))

    x, y = next(iter(task.loader(data, "train", train=True)))
    loss, logs = task.manual_step(model, (x, y), step)
    assert order == [("d", True), ("g", True)] and "d_loss" in logs


def test_gan_checkpoint_holds_both_optimizers(tmp_path):
    from nnlab.engine import checkpoint
    from nnlab.engine.runs import RunDir

    run = nnlab.fit({**CFG, "model": {"name": "dcgan", "latent": 4, "width": 4}}, runs_root=tmp_path, progress=False)
    assert set(checkpoint.load(RunDir(run.dir).last)["optimizers"]) == {"d", "g"}
    assert {"d_real", "d_fake", "d_loss"} <= set(run.meta["test"])


def test_wgan_gp_penalty_runs_and_needs_a_critic_without_batch_norm():
    with pytest.raises(ConfigError, match="d_norm"):
        nnlab.api.validate(from_dict({**CFG, "model": {"name": "dcgan"}, "generate": {"gan_loss": "wgan-gp"}}))
    task, data, model = _ready({**CFG, "model": {"name": "dcgan", "latent": 4, "width": 4, "d_norm": "none"},
                                "generate": {"gan_loss": "wgan-gp"}})
    x, y = next(iter(task.loader(data, "train", train=True)))
    _, logs = task.manual_step(model, (x, y), lambda name, loss: loss.backward())
    assert float(logs["gp"]) >= 0


def test_pixelcnn_refuses_images_with_more_levels_than_its_output():
    with pytest.raises(DataError, match="17 grey levels.*generate.binarize"):
        _ready({**CFG, "model": {"name": "pixelcnn", "channels": 4, "blocks": 1}})
    task, data, model = _ready({**CFG, "model": {"name": "pixelcnn", "channels": 4, "blocks": 1, "levels": 256}})
    x, y = next(iter(task.loader(data, "val")))
    bpd = task.objective.per_image(model, x)["bpd"]
    assert torch.all((bpd > 0) & (bpd < 10))  # an untrained 256-way model: about log2(256) = 8 bits


@pytest.mark.parametrize("threshold", [0, 1, 1.5, -0.2])
def test_binarization_threshold_outside_0_1_is_refused(threshold):
    with pytest.raises(ConfigError, match="generate.binarize"):
        from_dict({**CFG, "generate": {"binarize": threshold}})
