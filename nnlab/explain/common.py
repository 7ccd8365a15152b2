"""What every explanation needs from a run: its model, preprocessing and classes, checked image inputs, layers
by name and the class to explain. Everything here goes through the public API (``nnlab.load_run``) and checks
the user's input before any work starts, with one readable message."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from nnlab.data import Preprocess
from nnlab.errors import UserError
from nnlab.api import read_meta
from nnlab.inference import LoadedRun, load_run

# PIL modes -> the channel count a user means by them (alpha is not a channel of the image)
_MODE_CHANNELS = {"1": 1, "L": 1, "LA": 1, "I": 1, "I;16": 1, "F": 1, "P": 3, "RGB": 3, "RGBA": 3, "CMYK": 3,
                  "YCbCr": 3}


# why a tool that needs images (or objects) of a class means nothing for a task
NO_MEANING = {
    "segment": "its classes belong to pixels, not to images or objects, so there is nothing of a class to embed, "
               "match or synthesize; use nnlab explain RUN IMAGE --method M --pixel-class C, filters or activations",
    "sequence": "its inputs are token sequences, not images", "rl": "its inputs are observations, not images",
}


@dataclass
class Explained:
    """A classifier ready to be explained: the eval-mode model on CPU and what turns files into its inputs."""

    model: nn.Module
    preprocess: Preprocess
    classes: list[str]
    name: str  # the run's folder name, for titles
    run: LoadedRun | None = None  # the loaded run (its config finds the data); None for a bare model
    task: str = "classify"

    def split(self, split: str, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A split of the run's data as normalized inputs (N, C, H, W) and labels (N,), the first ``limit``."""
        if self.run is None:
            raise UserError("this explanation needs the run's data")
        from nnlab.api import run_data

        data = run_data(self.run.dir, self.run.config).split(split)  # an unknown split lists the ones there are
        images, labels = data.images[:limit], data.labels[:limit]
        return self.preprocess.normalize(images), labels

    def load_images(self, paths: Sequence[str | Path]) -> torch.Tensor:
        """Image files as the model's normalized inputs (N, C, H, W); a file of the wrong channel count or
        that does not exist is refused with one message naming it."""
        for p in paths:
            check_image_channels(p, self.preprocess.channels, self.name)
        if self.task == "detect":  # resized as the detection run's data was (squash or letterbox)
            from nnlab.explain.detection import load_box_image

            mode = self.run.meta.get("resize_mode", "squash") if self.run else "squash"
            return torch.cat([load_box_image(p, self.preprocess, mode, self.name) for p in paths])
        return self.preprocess.load_files(list(paths))

    def pixel_range(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The normalized values of pixel 0 and pixel 255 per channel, each (1, C, 1, 1): the valid box."""
        lo = self.preprocess.normalize(torch.zeros(1, self.preprocess.channels, 1, 1))
        hi = self.preprocess.normalize(torch.full((1, self.preprocess.channels, 1, 1), 255.0))
        return lo, hi

    def to_pixels(self, x: torch.Tensor) -> np.ndarray:
        """Normalized inputs (N, C, H, W) back to uint8 images (N, H, W, C) for display."""
        scale, shift = self.preprocess.scale_shift()
        img = ((x.detach().cpu() - shift) / scale).clamp(0, 255).round().to(torch.uint8)
        return img.permute(0, 2, 3, 1).numpy()


def open_classifier(run_dir: str | Path, what: str = "explain", tasks: tuple[str, ...] = ("classify",)) -> Explained:
    """A classification run's model for explanation (or one of ``tasks``); other tasks get a clear 'not yet'
    naming the task."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} does not exist")
    task = read_meta(run_dir).get("task", "classify")  # before the model is built: a clear 'not yet' for others
    if task not in tasks:
        why = NO_MEANING.get(task, f"explaining {task} runs this way is not built yet")
        raise UserError(f"nnlab {what} works on {', '.join(tasks)} runs; {run_dir.name} is a {task!r} run ({why})")
    run: LoadedRun = load_run(run_dir)
    return Explained(run.model.float().cpu().eval(), run.preprocess, run.classes, run_dir.name, run, task)


def check_image_channels(path: str | Path, channels: int, run_name: str) -> None:
    """Refuse a file whose colour channels differ from the run's (a colour photo for a grayscale model)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"image {path} does not exist")
    try:
        with Image.open(path) as im:
            mode = im.mode
    except OSError as e:
        raise UserError(f"cannot read image {path}: {e}") from None
    got = _MODE_CHANNELS.get(mode, 3)
    if got != channels:
        raise UserError(f"image {path} has {got} channel(s) ({mode}) but run {run_name} takes {channels}-channel "
                        f"images; convert it first (e.g. to {'grayscale' if channels == 1 else 'RGB'})")


def check_target(target: int | None, classes: Sequence[str]) -> int | None:
    """The class index to explain (None: each image's predicted class), refused when out of range."""
    if target is None:
        return None
    if not 0 <= target < len(classes):
        names = ", ".join(f"{i}={c}" for i, c in enumerate(classes))
        raise UserError(f"target class {target} is out of range: the run has {len(classes)} classes ({names})")
    return target


def named_layers(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """Every leaf module by its dotted name (what ``--layer`` takes), in registration order."""
    for name, m in model.named_modules():
        if name and not list(m.children()):
            yield name, m


def find_layer(model: nn.Module, name: str, kinds: tuple[type, ...] = (nn.Module,), need: str = "") -> nn.Module:
    """The module called ``name``; a typo or a layer of the wrong kind lists the valid names."""
    valid = [n for n, m in model.named_modules() if n and isinstance(m, kinds)]
    modules = dict(model.named_modules())
    if name in modules and isinstance(modules[name], kinds):
        return modules[name]
    why = f"layer {name!r} does not exist" if name not in modules else f"layer {name!r} is not {need}"
    if not valid:
        raise UserError(f"{why}; this model has no {need or 'layers'}")
    raise UserError(f"{why}; valid layers{' (' + need + ')' if need else ''}: {', '.join(valid)}")


def layer_output(model: nn.Module, layer: str, x: torch.Tensor) -> torch.Tensor:
    """The named layer's output on input x (the graph kept, for gradients)."""
    store: list[torch.Tensor] = []
    hook = model.get_submodule(layer).register_forward_hook(lambda _m, _i, out: store.append(out))
    try:
        model(x)
    finally:
        hook.remove()
    return store[0]


def collect(model: nn.Module, module: nn.Module, x: torch.Tensor, pick: Callable[[tuple, torch.Tensor], torch.Tensor],
            batch: int = 256) -> torch.Tensor:
    """``pick(inputs, output)`` of ``module`` for all of x (N, ...) in batches, concatenated, without gradients."""
    store: list[torch.Tensor] = []
    hook = module.register_forward_hook(lambda _m, inp, out: store.append(pick(inp, out).detach()))
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch):
                model(x[i:i + batch])
    finally:
        hook.remove()
    return torch.cat(store)


def check_unit(run: "Explained", layer: str, unit: int) -> None:
    """Refuse a layer that does not exist (listing the valid ones) or a unit beyond its channels / neurons."""
    find_layer(run.model, layer)
    p = run.preprocess
    with torch.no_grad():
        width = layer_output(run.model, layer, torch.zeros(1, p.channels, p.height, p.width)).shape[1]
    if not 0 <= unit < width:
        raise UserError(f"unit {unit} is out of range: layer {layer!r} has {width} units (0-{width - 1})")


def out_of_place(model: nn.Module) -> nn.Module:
    """A copy of the model whose in-place activations are out-of-place: backward hooks (guided backprop, Captum's
    layer methods) cannot see a tensor that a later in-place op overwrote. The caller's model is untouched."""
    clone = copy.deepcopy(model)
    for m in clone.modules():
        if getattr(m, "inplace", False):
            m.inplace = False
    return clone


def predicted(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Each input's top class (N,)."""
    with torch.no_grad():
        return model(x).argmax(1)
