"""Named registries: every table of choices a user names (proxies, search spaces, probe datasets,
search algorithms, DARTS rules, named ensembles) is one `Registry`, so an unknown name is always
the same one-line error listing the valid ones, and no name can be registered twice."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from .errors import GradnasError, unknown_choice

T = TypeVar("T")


class Registry(dict[str, T]):
    """A name → item table of one `kind` ("proxy", "search space", ...). It reads like a dict;
    `add` and `register` refuse a name twice, `lookup` answers an unknown one with the choices."""

    def __init__(self, kind: str, items: Mapping[str, T] | None = None) -> None:
        super().__init__()
        self.kind = kind
        for name, item in (items or {}).items():
            self.add(name, item)

    def add(self, name: str, item: T) -> T:
        if not isinstance(name, str) or not name:
            raise GradnasError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if name in self:
            raise GradnasError(f"{self.kind} {name!r} is already registered")
        self[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """A decorator: `@registry.register("name")` adds the function or class it decorates."""
        return lambda item: self.add(name, item)

    def lookup(self, name: object) -> T:
        if not isinstance(name, str) or name not in self:
            raise unknown_choice(self.kind, name, self)
        return self[name]
