"""pluggy entry point: the ``footai`` sub-command and the ``footai.*`` benchmarks."""

from __future__ import annotations

import typer
from portfolio_ml_core.bench import BenchmarkRegistry
from portfolio_ml_core.hookspecs import hookimpl
from portfolio_ml_core.models import ModelRegistry
from portfolio_ml_core.ui import UIPageRegistry


@hookimpl
def register_commands(app: typer.Typer) -> None:
    from portfolio_ml_footai.cli import app as footai_app

    app.add_typer(footai_app, name="footai")


@hookimpl
def register_benchmarks(registry: BenchmarkRegistry) -> None:
    from portfolio_ml_footai.bench import benchmarks

    for bench in benchmarks():
        registry.add(bench)


@hookimpl
def register_models(registry: ModelRegistry) -> None:
    from portfolio_ml_footai.model.weights import FOOTAI_NET

    registry.add(FOOTAI_NET)


@hookimpl
def register_ui_pages(registry: UIPageRegistry) -> None:
    from portfolio_ml_core.ui import UIPage

    from portfolio_ml_footai.ui import render

    registry.add(UIPage("footai", "Foot AI", render, icon="⚽", order=10))
