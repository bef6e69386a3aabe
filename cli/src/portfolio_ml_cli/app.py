"""Build the ``portfolio-ml`` Typer app from the installed plugins."""

from __future__ import annotations

import logging
import os
import sys

import typer
from portfolio_ml_core import distribution_version
from portfolio_ml_core.detectors import use_detector_registry
from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.models import use_registry
from rich.console import Console
from typer.core import TyperGroup

from portfolio_ml_cli.commands import batch, bench, models, plugins, ui
from portfolio_ml_cli.plugins import PortfolioPluginManager, create_plugin_manager

err_console = Console(stderr=True)


class _WarningLine(logging.Handler):
    """Warnings logged by the project's packages (loggers ``portfolio_ml*``, core and plugins
    alike) as one ``warning:`` line on stderr; other libraries' logs are left alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("portfolio_ml") and record.levelno >= logging.WARNING

    def emit(self, record: logging.LogRecord) -> None:
        typer.secho(f"warning: {record.getMessage()}", fg="yellow", err=True)


def _route_library_warnings() -> None:
    root = logging.getLogger()
    if not any(isinstance(h, _WarningLine) for h in root.handlers):
        root.addHandler(_WarningLine())


class PortfolioGroup(TyperGroup):
    """The top-level group: every command, built-in or from a plugin, runs inside its invoke,
    so a `PortfolioError` raised anywhere becomes ``Error: <message>`` and its exit code."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except PortfolioError as exc:
            typer.secho(f"Error: {exc.message}", fg="red", err=True)
            raise typer.Exit(exc.exit_code) from None


def create_app(manager: PortfolioPluginManager | None = None) -> typer.Typer:
    """A fresh app: built-in commands plus whatever the plugins register.

    Tests pass their own manager (with a test plugin registered) to get an isolated app.
    """
    manager = manager or create_plugin_manager()
    app = typer.Typer(
        name="portfolio-ml",
        cls=PortfolioGroup,
        help="Three machine-learning demos as one tool: footai, squat, cifar — plus benchmarks.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    def show_version(value: bool) -> None:
        if value:
            typer.echo(f"portfolio-ml {distribution_version('portfolio-ml') or 'unknown'}")
            raise typer.Exit()

    @app.callback()
    def main_callback(
        version: bool = typer.Option(
            False,
            "--version",
            callback=show_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ) -> None:
        """Three machine-learning demos as one tool: footai, squat, cifar — plus benchmarks."""
        _route_library_warnings()
        for problem in manager.problems:
            typer.secho(f"warning: plugin {problem.name}: {problem.message}", fg="yellow", err=True)

    plugins.register(app, manager)
    models.register(app, manager)
    bench.register(app, manager)
    batch.register(app, manager)
    ui.register(app, manager)
    # A failing plugin is recorded in manager.problems and reported once, by main_callback.
    manager.call_each("register_commands", app=app)
    # Model lookups anywhere in the process (squat's pose model, …) read the plugins' models,
    # and detector lookups (footai's --detector) the plugins' detectors.
    use_registry(manager.model_registry())
    use_detector_registry(manager.detector_registry())
    return app


def main() -> None:
    """Console-script entry point: run the app; unexpected errors become one line."""
    app = create_app()
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:  # a bug, not a user mistake: still no traceback unless asked
        if os.environ.get("PORTFOLIO_ML_DEBUG"):
            raise
        err_console.print(
            f"[red]Error:[/] unexpected {type(exc).__name__}: {exc} "
            "(set PORTFOLIO_ML_DEBUG=1 for the traceback)"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
