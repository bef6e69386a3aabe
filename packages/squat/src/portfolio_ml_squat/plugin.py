"""pluggy entry point: the ``squat`` sub-command and the ``squat.*`` benchmarks."""

from __future__ import annotations

import typer
from portfolio_ml_core.bench import BenchmarkRegistry
from portfolio_ml_core.hookspecs import hookimpl
from portfolio_ml_core.ui import UIPage, UIPageRegistry


@hookimpl
def register_commands(app: typer.Typer) -> None:
    from portfolio_ml_squat.cli import app as squat_app

    app.add_typer(squat_app, name="squat")


@hookimpl
def register_benchmarks(registry: BenchmarkRegistry) -> None:
    from portfolio_ml_squat.bench import benchmarks

    for bench in benchmarks():
        registry.add(bench)


@hookimpl
def register_ui_pages(registry: UIPageRegistry) -> None:
    from portfolio_ml_squat.ui import preload_webrtc, render

    preload_webrtc()

    registry.add(UIPage("squat", "Squat counter", render, icon="🏋️", order=20))
