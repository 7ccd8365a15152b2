"""One small generic registry: ``register(name)`` at the definition site, ``build``, ``names``."""
from __future__ import annotations

import difflib
import inspect
from typing import Any, Callable, Generic, TypeVar

from nnlab.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to builders (classes or functions). Duplicate names raise."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(fn: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise KeyError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = fn
            return fn

        return deco

    def get(self, name: str) -> Callable[..., T]:
        if name not in self._entries:
            close = difflib.get_close_matches(name, self.names(), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UserError(f"unknown {self.kind} {name!r}.{hint} Valid names: {', '.join(self.names())}")
        return self._entries[name]

    def build(self, name: str, **kwargs: Any) -> T:
        return self.get(name)(**kwargs)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def options(self, name: str, exclude: tuple[str, ...] = ()) -> dict[str, inspect.Parameter]:
        """Keyword options the builder ``name`` accepts (for validating config keys)."""
        params = inspect.signature(self.get(name)).parameters
        return {k: p for k, p in params.items()
                if k not in exclude and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
