"""Detectors that plugins offer by name (``register_detectors``), e.g. Foot AI's ``--detector``.

Core knows nothing of what a detector finds: a `DetectorSpec` names a factory and the task its
output serves (``"football"``); the plugin that runs the task checks what the factory returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portfolio_ml_core.registry import Registry


@dataclass(frozen=True)
class DetectorSpec:
    name: str  # what users type: ``--detector NAME``
    task: str  # whose pipeline reads its output, e.g. "football"
    summary: str  # one line for listings
    # Keyword options -> a detector: model=Path | None, threads=int | None (the cores it may use;
    # None: its own choice), and others later, so a factory takes **kwargs.
    create: Callable[..., Any]
    needs_model: bool = False  # True: the user must pass --model (their own weights file)


class DetectorRegistry(Registry[DetectorSpec]):
    kind = "detector"

    def for_task(self, task: str) -> list[DetectorSpec]:
        return [spec for spec in self if spec.task == task]


_ACTIVE: list[DetectorRegistry] = []


def use_detector_registry(registry: DetectorRegistry) -> None:
    """Make ``registry`` (built by the CLI from every plugin's ``register_detectors``) the one
    that `active_detector_registry` returns."""
    _ACTIVE[:] = [registry]


def active_detector_registry() -> DetectorRegistry | None:
    """The registry the plugins fed, or None in library use (a plugin then offers its own)."""
    return _ACTIVE[0] if _ACTIVE else None
