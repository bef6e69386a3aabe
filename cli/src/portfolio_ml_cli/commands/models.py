"""``portfolio-ml models list|path|fetch``: the model files the plugins need."""

from __future__ import annotations

import typer
from portfolio_ml_core.models import check_file, download, locate, resolve_model
from rich.console import Console
from rich.table import Table

from portfolio_ml_cli.plugins import PortfolioPluginManager


def register(app: typer.Typer, manager: PortfolioPluginManager) -> None:
    models_app = typer.Typer(help="List, locate and download model files.", no_args_is_help=True)
    app.add_typer(models_app, name="models")

    @models_app.command("list")
    def list_models() -> None:
        """Every known model, where it was found (or that it is missing)."""
        table = Table("name", "status", "path", "description")
        for spec in manager.model_registry().values():
            found = locate(spec)
            if found.path is None:
                status = "[yellow]missing[/]"
            elif found.path.is_file():
                status = f"[green]ok[/] ({found.source})"
            else:
                status = f"[red]not found[/] ({found.source})"
            table.add_row(spec.name, status, str(found.path or "-"), spec.description)
        Console().print(table)

    @models_app.command("path")
    def model_path(
        name: str = typer.Argument(..., help="Model name (see `models list`)."),
        model: str | None = typer.Option(None, "--model", help="An explicit file to check."),
    ) -> None:
        """Print the checked local path of a model (never downloads)."""
        path = resolve_model(name, model, registry=manager.model_registry(), allow_download=False)
        typer.echo(str(path))

    @models_app.command("fetch")
    def fetch(
        name: str = typer.Argument(..., help="Model name (see `models list`)."),
        force: bool = typer.Option(False, "--force", help="Download even if already present."),
    ) -> None:
        """Download a model into the user cache (with a progress bar and integrity check)."""
        registry = manager.model_registry()
        spec = registry.get(name)
        found = locate(spec)
        if found.path is not None and found.path.is_file() and not force:
            check_file(spec, found.path)
            typer.echo(f"{spec.name} already present: {found.path} ({found.source})")
            return
        typer.echo(str(download(spec)))
