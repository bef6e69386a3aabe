"""The hooks a portfolio-ml plugin may implement.

A plugin is a module (or object) registered under the entry-point group ``portfolio_ml``; it
implements any of the functions below, decorated with `hookimpl`. Implementations whose name
matches no spec here are rejected when the plugin is loaded (as tox's ``check_pending``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

PROJECT_NAME = "portfolio_ml"
ENTRY_POINT_GROUP = "portfolio_ml"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

if TYPE_CHECKING:
    import typer

    from portfolio_ml_core.batch import BatchJobRegistry
    from portfolio_ml_core.bench import BenchmarkRegistry
    from portfolio_ml_core.detectors import DetectorRegistry
    from portfolio_ml_core.models import ModelRegistry
    from portfolio_ml_core.ui import UIPageRegistry


@hookspec
def register_commands(app: typer.Typer) -> None:
    """Add the plugin's Typer sub-app (``app.add_typer(sub, name="squat")``) or commands."""


@hookspec
def register_benchmarks(registry: BenchmarkRegistry) -> None:
    """Add the plugin's benchmarks with ``registry.add(Benchmark(...))``."""


@hookspec
def register_ui_pages(registry: UIPageRegistry) -> None:
    """Add the plugin's Streamlit page(s) with ``registry.add(UIPage(...))``."""


@hookspec
def register_models(registry: ModelRegistry) -> None:
    """Add downloadable model files the plugin needs (``registry.add(ModelSpec(...))``)."""


@hookspec
def register_batch_jobs(registry: BatchJobRegistry) -> None:
    """Offer the plugin's per-input job to ``portfolio-ml batch`` (``registry.add(BatchJob(...))``)."""


@hookspec
def register_detectors(registry: DetectorRegistry) -> None:
    """Offer detectors by name (``registry.add(DetectorSpec("onnx", "football", ..., create))``);
    the plugin that owns the task (Foot AI for ``"football"``) resolves ``--detector NAME``."""
