"""One registry type for everything plugins register: benchmarks, UI pages, model files.

Items are keyed by their ``name``; registering a name twice is a plugin bug and an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Generic, Protocol, TypeVar


class Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


class Registry(Generic[T]):
    kind: ClassVar[str] = "item"  # in error messages: "benchmark 'x' is registered twice"

    def __init__(self) -> None:
        self.items: dict[str, T] = {}

    def add(self, item: T) -> None:
        if item.name in self.items:
            raise ValueError(f"{self.kind} {item.name!r} is registered twice")
        self.items[item.name] = item

    def get(self, name: str) -> T:
        try:
            return self.items[name]
        except KeyError:
            raise self.unknown(name) from None

    def unknown(self, name: str) -> Exception:
        known = ", ".join(sorted(self.items)) or "none"
        return LookupError(f"unknown {self.kind} {name!r} (known: {known})")

    def values(self) -> list[T]:
        return list(self.items.values())

    def __iter__(self) -> Iterator[T]:
        return iter(self.items.values())

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, name: object) -> bool:
        return name in self.items
