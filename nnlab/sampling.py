"""Use a trained generative run: draw samples (VAE, GAN, PixelCNN), explore a VAE's latent space
(interpolation between two images, traversal of single dimensions), and measure samples with the Fréchet
distance on a classifier run's penultimate features (``nnlab sample`` / ``nnlab explore``)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from nnlab.api import run_data
from nnlab.errors import UserError
from nnlab.inference import LoadedRun, load_run
from nnlab.metrics.frechet import class_score, frechet_distance
from nnlab.models.cnn.base import Classifier
from nnlab.models.generative.vae import VAE
from nnlab.plots import image_grid_png


def _generative(run_dir: str | Path, weights: str = "best") -> LoadedRun:
    run = load_run(run_dir, weights)
    if run.config.task != "generate":
        raise UserError(f"{run.dir} is a {run.config.task} run; sampling needs a generative run "
                        f"(task: generate with model vae, dcgan, pixelcnn or pixelrnn)")
    return run


def _generator(run: LoadedRun, seed: int) -> torch.Generator:
    return torch.Generator(device=run.device).manual_seed(seed)


def sample(run_dir: str | Path, n: int = 64, out: str | Path | None = None, seed: int = 0,
           weights: str = "best", cols: int = 8, grid: int = 64, **options: Any) -> dict[str, Any]:
    """n samples of a VAE, GAN or PixelCNN run (``images`` (n, C, H, W) in [0, 1]); with ``out``, a PNG grid
    of the first ``grid`` of them. ``seconds``: the time the sampling took (PixelCNN draws pixel by pixel).
    Runs of other tasks that generate (a character language model: ``prompt``, ``length``, ``temperature``)
    answer through their task's ``sample``; the rest say they need a generative run."""
    run = load_run(run_dir, weights)
    if run.config.task != "generate":  # the task's own sampling, or its clear refusal
        return run.task.sample(run.model, run.meta, run.device, seed=seed, **options)
    start = time.perf_counter()
    with torch.inference_mode():
        images = run.task.draw(run.model, n, _generator(run, seed)).cpu()
    result: dict[str, Any] = {"images": images, "seconds": time.perf_counter() - start}
    if out is not None:
        shown = images[:grid]
        title = f"{run.dir.name} · {len(shown)} samples"
        result["png"] = str(image_grid_png(list(shown), out, cols=cols, title=title))
    return result


def _vae(run_dir: str | Path, weights: str) -> tuple[LoadedRun, VAE]:
    run = _generative(run_dir, weights)
    if not isinstance(run.model, VAE):
        raise UserError(f"{run.dir} is a {run.config.model.name} run; latent exploration needs a vae run")
    return run, run.model


def _image(run: LoadedRun, ref: str) -> torch.Tensor:
    """An image given as a file path or as an index into the run's test split: normalized (1, C, H, W)."""
    if ref.isdigit():
        test = run_data(run.dir, run.config).split("test")
        if int(ref) >= len(test.images):
            raise UserError(f"test image {ref} is out of range (the test split has {len(test.images)} images)")
        return run.preprocess.normalize(test.images[int(ref)][None])
    if not Path(ref).is_file():
        raise UserError(f"{ref!r} is neither an image file nor an index into the test split")
    return run.preprocess.load_files([ref])


def interpolate(run_dir: str | Path, a: str, b: str, steps: int = 10, out: str | Path | None = None,
                weights: str = "best") -> dict[str, Any]:
    """Decoded images along the straight line between the posterior means of images ``a`` and ``b`` (file
    paths or test-split indices): (steps, C, H, W)."""
    if steps < 2:
        raise UserError(f"--steps must be at least 2 (got {steps})")
    run, vae = _vae(run_dir, weights)
    with torch.inference_mode():
        za = vae.encode(_image(run, a).to(run.device))[0]
        zb = vae.encode(_image(run, b).to(run.device))[0]
        t = torch.linspace(0, 1, steps, device=run.device)[:, None]  # (steps, 1)
        images = vae.mean(vae.decode((1 - t) * za + t * zb)).cpu()  # (steps, C, H, W)
    result: dict[str, Any] = {"images": images}
    if out is not None:
        result["png"] = str(image_grid_png(list(images), out, cols=steps, title=f"{a} -> {b}"))
    return result


def traverse(run_dir: str | Path, dims: Sequence[int] | None = None, steps: int = 9, span: float = 3.0,
             start: str | None = None, out: str | Path | None = None, weights: str = "best") -> dict[str, Any]:
    """One row per latent dimension: that coordinate swept over [-span, span] (others at the prior mean, or at
    the posterior mean of image ``start``): (len(dims) * steps, C, H, W). Default dims: the 8 most active."""
    run, vae = _vae(run_dir, weights)
    dims = active_dims(run, vae)[:8] if not dims else list(dims)
    bad = [d for d in dims if not 0 <= d < vae.latent]
    if bad:
        raise UserError(f"latent dimension {bad[0]} is out of range: this vae has {vae.latent} "
                        f"(0..{vae.latent - 1})")
    if steps < 2 or span <= 0:
        raise UserError(f"--steps must be at least 2 and --span positive (got {steps}, {span})")
    with torch.inference_mode():
        base = (vae.encode(_image(run, start).to(run.device))[0] if start is not None
                else torch.zeros(1, vae.latent, device=run.device))  # (1, latent)
        values = torch.linspace(-span, span, steps, device=run.device)
        z = base.repeat(len(dims) * steps, 1)  # (rows * steps, latent)
        for r, d in enumerate(dims):
            z[r * steps:(r + 1) * steps, d] = values
        images = vae.mean(vae.decode(z)).cpu()
    result: dict[str, Any] = {"images": images, "dims": dims}
    if out is not None:
        titles = [f"z{d}={v:+.1f}" for d in dims for v in values.tolist()]
        result["png"] = str(image_grid_png(list(images), out, cols=steps, titles=titles))
    return result


def _cnn(classifier: LoadedRun) -> LoadedRun:
    if not isinstance(classifier.model, Classifier):
        raise UserError(f"{classifier.dir} is a {classifier.config.model.name} run; the Fréchet distance needs "
                        "a CNN classifier run (e.g. lenet5) for its penultimate features")
    return classifier


def active_dims(run: LoadedRun, vae: VAE, images: int = 1000) -> list[int]:
    """Latent dimensions by decreasing activity Var_x(E_q[z|x]) over the first test images (Burda et al. 2016:
    a dimension whose posterior mean does not move with x is unused, its KL pushed to zero)."""
    test = run_data(run.dir, run.config).split("test").images[:images]
    with torch.inference_mode():
        mu = vae.encode(run.preprocess.normalize(test).to(run.device))[0]  # (N, latent)
    return mu.var(0).argsort(descending=True).tolist()


def classifier_outputs(classifier: LoadedRun, images: torch.Tensor,
                       batch: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features (N, D) and logits (N, K) of a classification run's CNN for images in [0, 1]."""
    model, pre = _cnn(classifier).model, classifier.preprocess
    if images.shape[1] != pre.channels:
        raise UserError(f"the classifier takes {pre.channels}-channel images, the samples have {images.shape[1]}")
    feats, logits = [], []
    with torch.inference_mode():
        for chunk in images.split(batch):
            x = chunk.to(classifier.device).float()
            if x.shape[-2:] != (pre.height, pre.width):
                x = F.interpolate(x, size=(pre.height, pre.width), mode="bilinear", align_corners=False)
            f = model.forward_features(pre.normalize(x * 255))
            feats.append(model.forward_head(f, pre_logits=True).float().cpu())  # (B, D)
            logits.append(model.forward_head(f).float().cpu())  # (B, K)
    return torch.cat(feats), torch.cat(logits)


def frechet(run_dir: str | Path, classifier_dir: str | Path, n: int = 5000, seed: int = 0,
            weights: str = "best", images: torch.Tensor | None = None) -> dict[str, Any]:
    """Fréchet distance of n samples to one half of the real test split (``fd``), of the other half to it
    (``fd_floor``: what a perfect generator would score with that many images), and the classifier's view of
    the samples and of real images (``samples_*`` / ``real_*``: confidence, class entropy). ``images``: samples
    already drawn from the run (n, C, H, W) in [0, 1], so a slow sampler (PixelCNN) runs once."""
    classifier = _cnn(load_run(classifier_dir))
    run = _generative(run_dir, weights)
    real = run_data(run.dir, run.config).split("test").images.float() / 255  # (N, C, H, W)
    half = len(real) // 2
    if half < 2:
        raise UserError("the test split is too small for a Fréchet distance")
    n = min(n, half)
    fake = sample(run.dir, n, seed=seed, weights=weights)["images"] if images is None else images[:n]
    perm = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))
    f_ref, l_ref = classifier_outputs(classifier, real[perm[:half]])
    f_other, _ = classifier_outputs(classifier, real[perm[half:half + n]])
    f_fake, l_fake = classifier_outputs(classifier, fake)
    return {"n": n, "reference": half, "fd": frechet_distance(f_fake, f_ref),
            "fd_floor": frechet_distance(f_other, f_ref),
            **{f"samples_{k}": v for k, v in class_score(l_fake).items()},
            **{f"real_{k}": v for k, v in class_score(l_ref).items()}}
