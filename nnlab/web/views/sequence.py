"""Sequence runs: text generated on demand from the run (a language model continues a prompt at a chosen length
and temperature; a seq2seq model translates each line), through a CSRF-protected form."""
from __future__ import annotations

from typing import Any

from nnlab.api import RunDir
from nnlab.web.views.base import VIEWS, TaskView


@VIEWS.register("sequence")
class SequenceView(TaskView):
    charts = {"chart-loss": ["loss", "val_loss"], "chart-acc": ["acc", "val_acc", "val_exact_acc"],
              "chart-lr": ["lr"]}
    template = "views/sequence.html"

    def live(self, run: RunDir, meta: dict[str, Any]) -> dict[str, Any]:
        chars = [c for c in meta.get("vocab") or [] if len(c) == 1]
        return {"kind": meta.get("kind"), "vocab": len(meta.get("vocab") or []), "example": "".join(chars[-3:])}
