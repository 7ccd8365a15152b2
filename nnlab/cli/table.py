"""Plain-text tables for the terminal."""
from __future__ import annotations

from typing import Any, Sequence


def format_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> None:
    print(format_table(header, rows))
