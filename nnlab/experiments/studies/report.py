"""The claims lab's frame: a registry of studies and the report each writes (markdown + PNG).

A study is ``fn(ctx: StudyContext) -> StudyReport`` registered with ``@STUDIES.register("name")`` in its own
module, imported in ``nnlab/experiments/studies/__init__.py`` (one line per study).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import nnlab
from nnlab.api import Run
from nnlab.experiments.common import markdown_table, mean_std
from nnlab.registry import Registry


@dataclass
class StudyContext:
    out: Path  # the study's report folder; its training runs go to out/runs
    full: bool = False  # the long version (more data, epochs, repeats)
    repeats: int | None = None  # None: the study's default
    log: Callable[[str], None] = print
    base: str | None = None  # a base config for studies that take one (e.g. regularization)
    train_size: int | None = None  # training subset size for studies that take one
    overrides: list[str] = field(default_factory=list)  # --section.key=value applied to the base config

    def fit(self, config: dict, **kwargs: Any) -> Run:
        return nnlab.fit(config, runs_root=self.out / "runs", progress=False, **kwargs)

    def n_repeats(self, quick: int, full: int) -> int:
        return self.repeats or (full if self.full else quick)


@dataclass
class Table:
    title: str
    header: Sequence[str]
    rows: list[list[Any]]


@dataclass
class StudyReport:
    title: str
    claim: str  # what the notes say, quoted
    setup: list[str]  # data, model, epochs, repeats, seeds
    tables: list[Table]
    verdict: str
    figures: list[Path] = field(default_factory=list)
    seconds: float = 0.0


STUDIES: Registry[StudyReport] = Registry("study")


def run_study(name: str, ctx: StudyContext) -> tuple[StudyReport, Path]:
    """Run one registered study and write ``report.md`` next to its figures."""
    fn = STUDIES.get(name)
    ctx.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    report = fn(ctx)
    report.seconds = time.perf_counter() - t0
    return report, write_markdown(report, ctx)


def write_markdown(r: StudyReport, ctx: StudyContext) -> Path:
    parts = [f"# {r.title}", f"**Claim.** {r.claim}", "## Setup", *[f"- {s}" for s in r.setup],
             f"- mode: {'full' if ctx.full else 'quick (default; --full for the long version)'}, "
             f"wall time {r.seconds:.0f} s", *([f"- overrides: {' '.join(ctx.overrides)}"] if ctx.overrides else []),
             "## Results"]
    for t in r.tables:
        parts += [f"### {t.title}", markdown_table(t.header, t.rows)]
    parts += [f"![{f.stem}]({f.name})" for f in r.figures]
    parts += ["## Verdict", r.verdict]
    path = ctx.out / "report.md"
    path.write_text("\n\n".join(parts) + "\n")
    return path


def digits_config(name: str, seed: int = 0, epochs: int = 10, **sections: dict[str, Any]) -> dict[str, Any]:
    """The lab's default setup: scikit-learn digits (no download), a small MLP, momentum SGD."""
    cfg: dict[str, Any] = {"name": name, "seed": seed, "data": {"dataset": "digits", "split_seed": 0},
                           "model": {"name": "mlp", "hidden": [64]}, "optim": {"name": "momentum", "lr": 0.05},
                           "train": {"epochs": epochs, "batch_size": 32, "checkpoint": {"keep_last": 0}}}
    for section, values in sections.items():
        cfg[section] = {**cfg.get(section, {}), **values}
    return cfg


SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
SIGMAS = 2.0  # a difference counts when it exceeds this many standard errors of the difference of means


def judge(claimed_higher: Sequence[float], claimed_lower: Sequence[float]) -> str:
    """Whether results back the claim that the first group's mean is higher: ``supported`` when the difference
    exceeds ``SIGMAS`` standard errors (Welch), ``not supported`` when it is that far the other way, and
    ``inconclusive`` in between: a tie, a difference within the noise, or fewer than two repeats a side."""
    if min(len(claimed_higher), len(claimed_lower)) < 2:
        return INCONCLUSIVE
    (ma, sa), (mb, sb) = mean_std(claimed_higher), mean_std(claimed_lower)
    diff, se = ma - mb, math.sqrt(sa**2 / len(claimed_higher) + sb**2 / len(claimed_lower))
    if diff > SIGMAS * se and diff > 0:
        return SUPPORTED
    if diff < -SIGMAS * se and diff < 0:
        return NOT_SUPPORTED
    return INCONCLUSIVE


def all_of(*outcomes: str) -> str:
    """A claim made of parts: supported when every part is, not supported when any part is refuted."""
    if all(o == SUPPORTED for o in outcomes):
        return SUPPORTED
    return NOT_SUPPORTED if NOT_SUPPORTED in outcomes else INCONCLUSIVE


NOISE_NOTE = (f"(a difference counts when it exceeds {SIGMAS:g} standard errors over the repeats; otherwise, "
              "ties included, the result is inconclusive)")
