"""pluggy entry point: the ``footai`` sub-command, the ``footai.*`` benchmarks, the shipped net's
model file, the UI page, the batch job and the two built-in detectors."""

from __future__ import annotations

from pathlib import Path

import typer
from portfolio_ml_core.batch import BatchJobRegistry
from portfolio_ml_core.bench import BenchmarkRegistry
from portfolio_ml_core.detectors import DetectorRegistry
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

    registry.add(
        UIPage(
            "footai",
            "Foot AI",
            render,
            icon=":material/sports_soccer:",
            order=10,
            summary="Broadcast football video → players, keepers, referees and ball found by a "
            "small net trained on real broadcast frames, tracked, split into teams and mapped "
            "onto the pitch: annotated video, tactical map, heatmaps, tracks CSV.",
            picture=Path(__file__).with_name("assets") / "home.jpg",
        )
    )


@hookimpl
def register_batch_jobs(registry: BatchJobRegistry) -> None:
    from portfolio_ml_footai.batch_job import batch_job

    registry.add(batch_job())


@hookimpl
def register_detectors(registry: DetectorRegistry) -> None:
    from portfolio_ml_footai.detect import BUILTIN_DETECTORS

    for spec in BUILTIN_DETECTORS:
        registry.add(spec)
