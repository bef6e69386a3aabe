"""pluggy entry point: the ``squat`` sub-command and the ``squat.*`` benchmarks."""

from __future__ import annotations

from pathlib import Path

import typer
from portfolio_ml_core.batch import BatchJobRegistry
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

    registry.add(
        UIPage(
            "squat",
            "Squat counter",
            render,
            icon=":material/fitness_center:",
            order=20,
            summary="Counts squats, push-ups and lunges from a webcam or a video with MediaPipe "
            "Pose: joint angles, a hysteresis state machine, form feedback and a live gauge.",
            picture=Path(__file__).with_name("assets") / "home.jpg",
        )
    )


@hookimpl
def register_batch_jobs(registry: BatchJobRegistry) -> None:
    from portfolio_ml_squat.batch_job import batch_job

    registry.add(batch_job())
