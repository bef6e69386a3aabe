"""Registry of Streamlit pages contributed by plugins (see the ``register_ui_pages`` hook)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class UIPage:
    """One page of the ``portfolio-ml ui`` app.

    ``render`` is called inside a Streamlit script run; it must import streamlit itself so that
    plugins stay importable without the UI installed.
    """

    name: str
    title: str
    render: Callable[[], None]
    icon: str = ""
    order: int = 100


@dataclass
class UIPageRegistry:
    pages: dict[str, UIPage] = field(default_factory=dict)

    def add(self, page: UIPage) -> None:
        if page.name in self.pages:
            raise ValueError(f"UI page {page.name!r} is registered twice")
        self.pages[page.name] = page

    def ordered(self) -> list[UIPage]:
        return sorted(self.pages.values(), key=lambda p: (p.order, p.title))
