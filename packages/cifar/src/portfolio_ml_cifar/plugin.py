"""pluggy entry point: the ``cifar`` sub-app and the ``cifar.*`` benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from portfolio_ml_core.batch import BatchJobRegistry
from portfolio_ml_core.hookspecs import hookimpl

if TYPE_CHECKING:
    import typer
    from portfolio_ml_core.bench import BenchmarkRegistry
    from portfolio_ml_core.ui import UIPageRegistry


@hookimpl
def register_commands(app: typer.Typer) -> None:
    from portfolio_ml_cifar.cli import app as cifar_app

    app.add_typer(cifar_app, name="cifar")


@hookimpl
def register_benchmarks(registry: BenchmarkRegistry) -> None:
    from portfolio_ml_cifar.bench import benchmarks

    for benchmark in benchmarks():
        registry.add(benchmark)


@hookimpl
def register_ui_pages(registry: UIPageRegistry) -> None:
    from portfolio_ml_core.ui import UIPage

    from portfolio_ml_cifar.ui import render

    registry.add(
        UIPage(
            "cifar",
            "CIFAR-10",
            render,
            icon=":material/image_search:",
            order=30,
            summary="A CIFAR-10 classifier trained fast on the CPU with TensorFlow/Keras: upload "
            "an image and see the ten class probabilities; the same model serves an HTTP API.",
            picture=Path(__file__).with_name("assets") / "home.jpg",
        )
    )


@hookimpl
def register_batch_jobs(registry: BatchJobRegistry) -> None:
    from portfolio_ml_core.batch import command_job

    from portfolio_ml_cifar.classify import headline

    registry.add(
        command_job(
            "cifar",
            "`cifar classify` on each image folder: predictions.csv, summary.json in OUT/<folder>/",
            "portfolio_ml_cifar.cli:app",
            headline,
            suffixes=(),
            command_name="classify",
            folder_inputs=True,
        )
    )
