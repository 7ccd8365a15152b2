"""Study: the ways back up to full resolution (notes: convolution and pooling downsample, so a fully
convolutional network upsamples again by unpooling, interpolation or transposed convolution; Long et al. 2015
add skips from earlier taps: FCN-32s -> 16s -> 8s). Checkerboard artifacts: Odena et al., Distill 2016.

Measured on Penn-Fudan (96 px, 8 epochs, 3 seeds; table in the README): mIoU FCN-32s 57.7, 16s 66.8, 8s 68.5 %
(skip claim supported; boundary IoU 28.2 -> 39.3 %), FCN-8s bilinear 68.2 (learning the upsampling:
inconclusive), nearest unpooling 65.6 with the strongest stride pattern, U-Net 70.7 / 71.7 %; at 128 px and 16
epochs 64.6 / 71.8 / 71.6 / 72.0 / 69.7 %, U-Net 76.2 / 75.3 % (same verdicts)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from nnlab.api import run_data
from nnlab.experiments.common import fmt_ms, mean_std, resolve, save_figure, with_values
from nnlab.experiments.studies.report import NOISE_NOTE, STUDIES, StudyContext, StudyReport, Table, judge
from nnlab.inference import LoadedRun, load_run

FCN = {"backbone": "resnet20", "form": "imagenet", "head_width": 32, "dropout": 0.1}
VARIANTS: list[tuple[str, dict[str, Any]]] = [  # (label, model section)
    ("fcn32s transposed", {"name": "fcn32s", "upsample": "transposed", **FCN}),
    ("fcn16s transposed", {"name": "fcn16s", "upsample": "transposed", **FCN}),
    ("fcn8s transposed", {"name": "fcn8s", "upsample": "transposed", **FCN}),
    ("fcn8s bilinear", {"name": "fcn8s", "upsample": "bilinear", **FCN}),
    ("fcn8s unpool", {"name": "fcn8s", "upsample": "unpool", **FCN}),
    ("segnet max-unpool", {"name": "segnet", "widths": [8, 16, 32], "depths": [1, 1, 1]}),
    ("unet transposed", {"name": "unet", "depth": 3, "width": 8, "upsample": "transposed"}),
    ("unet bilinear", {"name": "unet", "depth": 3, "width": 8, "upsample": "bilinear"}),
]
PERIODS = (2, 4, 8)


def base_config(full: bool) -> dict[str, Any]:
    """Generated shapes (no files); --full: more scenes, larger images, more epochs."""
    return {"task": "segment", "data": {"dataset": "shapes", "image_size": [96, 96] if full else [64, 64]},
            "segment": {"shapes": 400 if full else 160, "loss": "cross_entropy+dice"},
            "optim": {"name": "adam", "lr": 0.003},
            "train": {"epochs": 15 if full else 5, "batch_size": 16, "checkpoint": {"keep_last": 0}}}


def periodic_score(probs: torch.Tensor, periods: tuple[int, ...] = PERIODS) -> tuple[float, int]:
    """Stride-aligned artifacts in probability maps (B, K, H, W). Per class, the high-pass h (map minus its 3x3
    mean, interior only) is averaged over images and positions within each of the p x p pixel phases
    (i mod p, j mod p); a pattern tied to the stride grid survives that averaging, image content does not.
    Two statistics: the spread of the phase means of h relative to h's spread (sign-consistent patterns: the
    checkerboard of uneven transposed-convolution overlap) and the spread of the phase means of h^2 relative to
    its mean (blocks: edges every p pixels, e.g. nearest-neighbour unpooling). Scale floors keep flat maps at 0.
    Returns (the larger statistic at the worst period, that period); ~0 smooth, ~1 a pure checkerboard."""
    b, k = probs.shape[:2]
    high = high_pass(probs.flatten(0, 1)[:, None].double()).view(b, k, probs.shape[-2] - 2, -1)  # (B, K, h, w)
    spread, energy = float(high.std().clamp_min(1e-3)), float(high.square().mean().clamp_min(1e-6))
    best = (0.0, periods[0])
    for p in periods:
        h, w = high.shape[-2] // p * p, high.shape[-1] // p * p
        cells = high[..., :h, :w].reshape(b, k, h // p, p, w // p, p)
        signed = float(cells.mean((0, 2, 4)).flatten(1).std(1).mean()) / spread  # (K, p, p) phase means
        blocks = float(cells.square().mean((0, 1, 2, 4)).std()) / energy  # (p, p) phase energies
        best = max(best, (max(signed, blocks), p))
    return best


def high_pass(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) minus its 3x3 mean, on the interior: (N, 1, H - 2, W - 2)."""
    return x[..., 1:-1, 1:-1] - F.avg_pool2d(x, 3, stride=1)


def measure(run: LoadedRun) -> dict[str, Any]:
    """Test-split probabilities' checkerboard score, inference images per CPU-second (batch 32; CPU seconds of
    this process: a shared machine's wall clock measures its neighbours) and the parameter count."""
    test = run.task.loader(run_data(run.dir, run.config), "test")
    probs, seconds, count = [], 0.0, 0
    with torch.inference_mode():
        for x, _ in test:
            run.model(x[:1])  # warm-up of this batch shape
            t0 = time.process_time()
            probs.append(run.model(x).float().softmax(1))
            seconds += time.process_time() - t0
            count += len(x)
    probs_all = torch.cat(probs)  # (N, K, H, W)
    score, period = periodic_score(probs_all)
    return {"checkerboard": score, "period": period, "images_s": count / max(seconds, 1e-9),
            "params": sum(p.numel() for p in run.model.parameters()), "example": probs_all[0]}


@STUDIES.register("upsampling")
def study(ctx: StudyContext) -> StudyReport:
    base = resolve(ctx.base or base_config(ctx.full), ctx.overrides)
    repeats = ctx.n_repeats(1, 3)
    results = {label: _variant(ctx, base, label, model, repeats) for label, model in VARIANTS}
    rows = [[label, fmt_ms(r["miou"]), fmt_ms(r["boundary_iou"]), f"{r['params'] / 1e3:.1f}k",
             f"{mean_std(r['images_s'])[0]:.0f}", f"{mean_std(r['checkerboard'])[0]:.3f} (p={r['period']})"]
            for label, r in results.items()]
    data = run_data(results[VARIANTS[-1][0]]["run"], base).split("test")
    return StudyReport(
        "Upsampling in segmentation networks",
        "notes: a fully convolutional network upsamples its coarse scores back to the input size by unpooling, "
        "interpolation or transposed convolution (DIGITS' FCN-Alexnet); FCN-8s's skips from earlier layers give "
        "finer masks than FCN-32s (Long et al. 2015); transposed convolutions can leave checkerboard artifacts.",
        [f"{base.data.dataset} at {base.data.image_size[0]}x{base.data.image_size[1]}, {base.train.epochs} epochs, "
         f"{base.optim.name} lr {base.optim.lr:g}, loss {base.segment.loss}; {repeats} seed(s), mean ± sample std",
         f"FCN on the zoo's resnet20 (ImageNet form: taps at strides 4 / 8 / 16, so FCN-32s / 16s / 8s keep VGG's "
         f"names but upsample 16x / 8x / 4x; head width {FCN['head_width']}): "
         "transposed = learned, bilinear-initialised; unpool = nearest-neighbour copies; SegNet unpools at the "
         "remembered max-pooling indices; U-Net 3 levels, width 8",
         "boundary IoU: IoU of a band of 2% of the diagonal around the edges (Cheng et al. 2021); images/CPU-s: "
         "inference at batch 32, fp32, per CPU-second of this process (one thread)",
         f"checkerboard: stride-aligned pattern in the high-passed test probabilities over the p x p pixel phases "
         f"(p in {PERIODS}): the larger of the phase means' spread (sign-consistent checkerboards) and the phase "
         "energies' spread (blocks, as nearest unpooling makes), relative; ~0 smooth, ~1 a pure checkerboard",
         *(["one seed (the quick default) never gives more than 'inconclusive': --repeats 3 or --full for a "
            "verdict"] if repeats == 1 else [])],
        [Table("Test mIoU, boundary IoU, size, speed and checkerboard score",
               ["model", "mIoU %", "boundary IoU %", "params", "images/CPU-s", "checkerboard"], rows)],
        verdict(results), [_figure(results, data.images[0], data.masks[0], ctx.out / "upsampling.png")])


def _variant(ctx: StudyContext, base: Any, label: str, model: dict[str, Any], repeats: int) -> dict[str, Any]:
    """Train one variant ``repeats`` times (seeds 0.., one fixed split) and measure each run."""
    r: dict[str, Any] = {"miou": [], "boundary_iou": [], "checkerboard": [], "images_s": []}
    for seed in range(repeats):
        run = ctx.fit(with_values(base, {"name": label.replace(" ", "_"), "seed": seed, "model": model,
                                         "data.split_seed": 0}))
        m = measure(load_run(run.dir))
        for k in ("miou", "boundary_iou"):
            r[k].append(run.test[k])
        r["checkerboard"].append(m["checkerboard"])
        r["images_s"].append(m["images_s"])
        r.update(params=m["params"], period=m["period"], example=m["example"], run=run.dir)
    ctx.log(f"{label}: mIoU {fmt_ms(r['miou'])} %, boundary IoU {fmt_ms(r['boundary_iou'])} %, "
            f"checkerboard {fmt_ms(r['checkerboard'], percent=False)}")
    return r


def verdict(results: dict[str, dict[str, list]]) -> str:
    """The skip claim (FCN-8s over FCN-32s, mIoU and boundary IoU), transposed vs bilinear, and where the
    checkerboard is strongest."""
    fcn8, fcn32 = results["fcn8s transposed"], results["fcn32s transposed"]
    skip, edge = judge(fcn8["miou"], fcn32["miou"]), judge(fcn8["boundary_iou"], fcn32["boundary_iou"])
    learned = judge(fcn8["miou"], results["fcn8s bilinear"]["miou"])
    worst = max(results, key=lambda k: mean_std(results[k]["checkerboard"])[0])
    m = {k: mean_std(v["miou"])[0] for k, v in results.items()}
    b = {k: mean_std(v["boundary_iou"])[0] for k, v in results.items()}
    return (f"FCN-8s reaches {100 * m['fcn8s transposed']:.1f}% mIoU vs {100 * m['fcn32s transposed']:.1f}% for "
            f"FCN-32s (skip claim {skip}; boundary IoU {100 * b['fcn8s transposed']:.1f}% vs "
            f"{100 * b['fcn32s transposed']:.1f}%, {edge}). Learned transposed vs fixed bilinear upsampling in FCN-8s: "
            f"{100 * m['fcn8s transposed']:.1f}% vs {100 * m['fcn8s bilinear']:.1f}% ({learned} that learning helps). "
            f"The strongest stride-aligned pattern is {worst}'s "
            f"({mean_std(results[worst]['checkerboard'])[0]:.3f}); bilinear-initialised transposed convolutions "
            f"start free of checkerboards, so any pattern is learned. {NOISE_NOTE}")


def _figure(results: dict[str, dict[str, Any]], image: torch.Tensor, mask: torch.Tensor, path: Path) -> Path:
    """First test image: each model's foreground probability and its high-pass (where checkerboards show)."""
    from nnlab.plots import plt

    n = len(results)
    fig, axes = plt.subplots(2, n + 1, figsize=(1.9 * (n + 1), 4.0))
    axes[0, 0].imshow(image.permute(1, 2, 0).numpy())
    axes[1, 0].imshow(mask.numpy(), cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
    axes[0, 0].set_title("image", fontsize=7)
    axes[1, 0].set_title("truth", fontsize=7)
    for i, (label, r) in enumerate(results.items(), 1):
        fg = 1 - r["example"][0][None, None].double()  # (1, 1, H, W) foreground probability
        high = high_pass(fg)
        axes[0, i].imshow(fg[0, 0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[1, i].imshow(high[0, 0].numpy(), cmap="RdBu", vmin=-0.1, vmax=0.1, interpolation="nearest")
        axes[0, i].set_title(label, fontsize=7)
        axes[1, i].set_title(f"high-pass {mean_std(r['checkerboard'])[0]:.3f}", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return save_figure(fig, path)
