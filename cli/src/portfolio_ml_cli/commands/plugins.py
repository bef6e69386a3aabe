"""``portfolio-ml plugins``: what is installed and which hooks each plugin implements."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.console import Console
from rich.table import Table

from portfolio_ml_cli.plugins import PortfolioPluginManager


def register(app: typer.Typer, manager: PortfolioPluginManager) -> None:
    @app.command("plugins")
    def plugins_command(
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """List installed plugins, their versions and hooks (and any that failed to load)."""
        infos = manager.plugins()
        if as_json:
            data = {
                "plugins": [asdict(info) for info in infos],
                "problems": [asdict(p) for p in manager.problems],
            }
            typer.echo(json.dumps(data, indent=2))
            return
        table = Table("plugin", "version", "hooks")
        for info in infos:
            table.add_row(info.name, info.version or "-", ", ".join(info.hooks))
        for problem in manager.problems:
            table.add_row(f"[red]{problem.name}[/]", "-", f"[red]not loaded: {problem.message}[/]")
        Console().print(table)
