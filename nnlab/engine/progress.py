"""A progress bar over the whole run with an ETA (tqdm), silent when disabled."""
from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, done: int = 0, enabled: bool = True, desc: str = "train") -> None:
        self.enabled = enabled
        self._bar = tqdm(total=total, initial=done, desc=desc, unit="batch", dynamic_ncols=True,
                         mininterval=0.5, file=sys.stderr, disable=not enabled, leave=False)

    def update(self, loss: float) -> None:
        self._bar.update(1)
        if self._bar.n % 20 == 0:
            self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def write(self, line: str) -> None:
        if self.enabled:
            self._bar.write(line, file=sys.stderr)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bar.close()
