"""Registry of Streamlit pages contributed by plugins (see the ``register_ui_pages`` hook)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portfolio_ml_core.fsutil import file_sha256
from portfolio_ml_core.registry import Registry


@dataclass(frozen=True)
class UIPage:
    """One page of the ``portfolio-ml ui`` app.

    ``render`` is called inside a Streamlit script run; it must import streamlit itself so that
    plugins stay importable without the UI installed.
    """

    name: str
    title: str
    render: Callable[[], None]
    icon: str = ""  # a Material icon (":material/sports_soccer:"): no emoji font needed
    order: int = 100
    summary: str = ""  # one or two sentences for the home page: what the demo does
    picture: Path | None = None  # an image the tool made, shipped in the plugin package


class UIPageRegistry(Registry[UIPage]):
    kind = "UI page"

    def ordered(self) -> list[UIPage]:
        return sorted(self, key=lambda p: (p.order, p.title))


@dataclass(frozen=True)
class PageCache:
    """A page's on-disk cache under the project cache: uploads stored once by content, and one
    output folder per (input file, options), so a rerun with the same inputs is served from disk."""

    name: str

    @property
    def root(self) -> Path:
        from portfolio_ml_core.models import cache_dir

        return cache_dir() / "ui" / self.name

    def save_upload(self, filename: str, data: bytes) -> Path:
        from portfolio_ml_core.fsutil import atomic_path

        sha = hashlib.sha256(data).hexdigest()
        path = self.root / "uploads" / f"{sha[:24]}{Path(filename).suffix.lower() or '.mp4'}"
        if not path.exists():
            with atomic_path(path) as tmp:
                tmp.write_bytes(data)
        return path

    def run_dir(self, source: Path, options: dict[str, Any]) -> Path:
        blob = json.dumps({"source": file_sha256(source), **options}, sort_keys=True, default=str)
        return self.root / "runs" / hashlib.sha256(blob.encode()).hexdigest()[:24]
