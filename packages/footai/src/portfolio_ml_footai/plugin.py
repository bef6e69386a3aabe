"""pluggy entry point: the ``footai`` sub-command and the ``footai.*`` benchmarks."""

from __future__ import annotations

import typer

from portfolio_ml_core.bench import BenchmarkRegistry
from portfolio_ml_core.hookspecs import hookimpl


@hookimpl
def register_commands(app: typer.Typer) -> None:
    from portfolio_ml_footai.cli import app as footai_app

    app.add_typer(footai_app, name="footai")


@hookimpl
def register_benchmarks(registry: BenchmarkRegistry) -> None:
    from portfolio_ml_footai.bench import benchmarks

    for bench in benchmarks():
        registry.add(bench)
