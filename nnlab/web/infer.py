"""Using a trained job beyond classification: an uploaded image through a detection run (boxes drawn; a Mask
R-CNN's instance masks blended in, their pixel counts in the table) or a segmentation run (a colour overlay),
and text from a sequence run (a language model's continuation of a prompt, a seq2seq model's translation).
Inputs are bounded here; images pass the decoding limits of ``nnlab.predict``."""
from __future__ import annotations

import base64
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import nnlab
from nnlab.api import read_meta
from nnlab.data.boxes.rle import rle_area
from nnlab.errors import UserError

IMAGE_TASKS = ("detect", "segment")  # classification has its own page section (top-k, folders)
MAX_PROMPT = 1000  # characters
MAX_LENGTH = 2000  # characters generated
MAX_TEMPERATURE = 5.0


@contextmanager
def named_errors(files: Sequence[Path], names: Sequence[str]) -> Iterator[None]:
    """A UserError about an uploaded file names it as the user did, never by the server's temporary path."""
    try:
        yield
    except UserError as e:
        message = str(e)
        for path, name in zip(files, names):
            message = message.replace(repr(str(path)), repr(name)).replace(str(path), name)
        raise type(e)(message) from None


def run_task(run_dir: Path) -> str:
    return read_meta(run_dir).get("task", "classify")


def infer_image(run_dir: Path, path: Path, name: str) -> dict[str, Any]:
    """One image through a detection (boxes) or segmentation (class shares) run, with its figure as a data URL."""
    task = run_task(run_dir)
    if task not in IMAGE_TASKS:
        raise UserError(f"this job trained a {task} model; the image upload here takes a detection or "
                        "segmentation job")
    with tempfile.TemporaryDirectory() as out, named_errors([path], [name]):
        (result,) = nnlab.predict(run_dir, [path], out=out)
        png = base64.b64encode(Path(result.pop("png")).read_bytes()).decode()
    for box in result.get("boxes", []):  # Mask R-CNN: the figure shows each mask; the table its pixel count
        if "mask" in box:
            box["mask_px"] = rle_area(box.pop("mask"))
    result["image"] = name
    return {"task": task, "png": f"data:image/png;base64,{png}", **result}


def sample_text(run_dir: Path, prompt: str, length: int, temperature: float, seed: int = 0) -> dict[str, Any]:
    """A language model's continuation of ``prompt``, or a seq2seq model's output for each line of it."""
    meta = read_meta(run_dir)
    if meta.get("task") != "sequence" or meta.get("kind") not in ("lm", "seq2seq"):
        raise UserError("text comes from a sequence job (a language model or seq2seq); this job is a "
                        f"{meta.get('task')} {meta.get('kind') or ''} run".rstrip())
    if not prompt or len(prompt) > MAX_PROMPT:
        raise UserError(f"the prompt must have 1 to {MAX_PROMPT} characters (got {len(prompt)})")
    if not 1 <= length <= MAX_LENGTH or not 0 <= temperature <= MAX_TEMPERATURE:
        raise UserError(f"length must be 1..{MAX_LENGTH} and temperature 0..{MAX_TEMPERATURE:g} "
                        f"(got {length}, {temperature:g})")
    if meta["kind"] == "lm":
        from nnlab.sampling import sample  # matplotlib comes with it: only when text is asked for

        return {"kind": "lm", **sample(run_dir, prompt=prompt, length=length, temperature=temperature, seed=seed)}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "prompt.txt"
        source.write_text(prompt, encoding="utf-8")
        (result,) = nnlab.predict(run_dir, [source])
    return {"kind": "seq2seq", "prompt": prompt, "translations": result["translations"]}
