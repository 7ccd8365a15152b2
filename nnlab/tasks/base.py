"""The task interface: what a kind of problem owns, so that the engine stays task-agnostic.

A task builds its data and model from the config, turns a batch into ``(loss, logs)``, accumulates its
metrics, and decodes outputs into results a user reads. ``nnlab.api`` (the composition root) drives it; the
trainer sees only ``training_step`` / ``manual_step`` and ``evaluator`` (``nnlab.engine.trainer.StepTask``).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import torch
from torch import nn

from nnlab.config import Config
from nnlab.engine.callbacks import Callback
from nnlab.engine.runs import RunDir
from nnlab.engine.trainer import Evaluator, Loader, Logs, StepFn
from nnlab.errors import ConfigError, UserError
from nnlab.models import transfer
from nnlab.models.registry import check_option_types
from nnlab.registry import Registry

Indices = Sequence[int] | np.ndarray | None


@dataclass
class TaskData:
    """A run's data: its splits (whatever dataset type the task uses) and ``info``, the plain-data facts
    that meta.json records and that rebuild the model later (classes, preprocessing, vocabulary, ...)."""

    splits: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> Any:
        if name not in self.splits:
            raise UserError(f"run has no {name!r} split (it has: {', '.join(self.splits)})")
        return self.splits[name]

    __getitem__ = split

    def __contains__(self, name: object) -> bool:
        return name in self.splits


class Task(ABC):
    """One kind of problem. Subclasses set the class attributes and implement the abstract methods.

    ``models``: the registry ``model.name`` is looked up in; ``data_args``: the builder keywords the task fills
    in from the data (never config keys); ``monitor`` / ``mode``: the default metric that picks ``best.pt``.
    """

    name: ClassVar[str]
    models: ClassVar[Registry]
    data_args: ClassVar[tuple[str, ...]]
    monitor: ClassVar[str] = "val_loss"
    mode: ClassVar[str] = "min"
    manual_optimization: ClassVar[bool] = False  # True: ``manual_step`` steps its own optimizers
    exportable: ClassVar[bool] = False  # ONNX / TorchScript export and ``nnlab deploy``
    takes_files: ClassVar[bool] = True  # ``predict`` reads input files (False: e.g. rl acts in its environment)
    data_parallel: ClassVar[bool] = True  # trains on torch.distributed (False: e.g. rl's loop is an environment)
    trains_through_forward: ClassVar[bool] = True  # the loss calls model(...) only, so DDP can wrap it

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    # ------------------------------------------------------------------ from the config (nnlab.api)
    def validate(self) -> None:
        """Task-specific checks of the config, before any data is read (none by default)."""

    @abstractmethod
    def load_data(self, progress: bool = True, train_indices: Indices = None,
                  val_indices: Indices = None) -> TaskData:
        """The run's splits; ``train_indices`` / ``val_indices`` pick samples of the training split."""

    @abstractmethod
    def build_model(self, info: dict[str, Any]) -> nn.Module:
        """The configured model for data described by ``info`` (a run's meta.json holds the same keys)."""

    def setup(self, model: nn.Module, info: dict[str, Any]) -> None:
        """Build the runtime parts that depend on the model (loss, regularizers); called before training,
        evaluation or prediction."""

    @abstractmethod
    def loader(self, data: TaskData, split: str, train: bool = False) -> Loader:
        """Batches of one split; ``train``: shuffled, augmented, seeded and resumable."""

    def optimizer_modules(self, model: nn.Module) -> dict[str, nn.Module]:
        """The parts of the model each optimizer trains, by optimizer name (one for most tasks; a GAN has a
        generator's and a discriminator's). Each gets the configured optimizer and schedule."""
        return {"main": model}

    def callbacks(self, run: RunDir) -> list[Callback]:
        """Callbacks the task adds to its training runs (the generate task's per-epoch sample grids); none here."""
        return []

    def learns_without_loop(self, model: nn.Module) -> bool:
        """True for models that learn without a training loop (kNN memorizes): no optimizer, no epochs."""
        return False

    def learn_without_loop(self, model: nn.Module, data: TaskData, device: torch.device) -> dict[str, float] | None:
        """How such a model learns from the training split; what it returns (statistics) goes into meta.json
        as ``fit``, with the seconds it took."""
        raise NotImplementedError(f"task {self.name!r} trains every model with the training loop")

    # ------------------------------------------------------------------ training (nnlab.engine)
    def training_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, Logs]:
        raise NotImplementedError(f"task {self.name!r} steps its optimizers itself (manual_step)")

    def manual_step(self, model: nn.Module, batch: Any, step: StepFn) -> tuple[torch.Tensor, Logs]:
        raise NotImplementedError(f"task {self.name!r} lets the trainer step (training_step)")

    @abstractmethod
    def evaluator(self) -> Evaluator:
        """A fresh metric accumulator; its ``compute()`` gives the scalar metrics fit logs and saves."""

    # ------------------------------------------------------------------ using a run
    def report(self, evaluator: Evaluator, info: dict[str, Any], out_dir: Path, split: str,
               title: str) -> dict[str, Any]:
        """Details beyond the scalar metrics for ``nnlab eval`` (tables, figures written to ``out_dir``)."""
        return {}

    @abstractmethod
    def predict(self, model: nn.Module, info: dict[str, Any], paths: Sequence[str | Path],
                device: torch.device, **options: Any) -> list[dict[str, Any]]:
        """Results a user reads for each input file."""

    def example_input(self, info: dict[str, Any], folder: Path) -> Path:
        """A small valid input file for ``predict`` (smoke tests, demos): a grey 8 x 8 PNG for image tasks."""
        from PIL import Image

        path = Path(folder) / "example.png"
        Image.fromarray(np.full((8, 8), 128, np.uint8)).save(path)
        return path

    def sample(self, model: nn.Module, info: dict[str, Any], device: torch.device, **options: Any) -> dict[str, Any]:
        """Generate from a trained model (``nnlab sample``); tasks whose models generate override this."""
        raise UserError(f"this is a {self.name} run; sampling needs a generative run (task: generate with model "
                        "vae, dcgan or pixelcnn) or a character language model (task: sequence)")

    def check_model_options(self) -> None:
        """Reject model options the builder does not take (before any work starts)."""
        opts = self.models.options(self.cfg.model.name, exclude=self.data_args)
        for key in self.cfg.model.args:
            if key not in opts and key not in transfer.KEYS:
                raise ConfigError(f"unknown config key 'model.{key}' for model {self.cfg.model.name!r} "
                                  f"(it takes: {', '.join(opts) or 'no options'})")
        check_option_types(self.cfg.model.name, transfer.builder_options(self.cfg.model.args), self.models)


TASKS: Registry[type[Task]] = Registry("task")
