"""``portfolio-ml ui``: start the Streamlit app with every installed plugin's page."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import typer
from portfolio_ml_core.errors import PortfolioError

from portfolio_ml_cli.plugins import PortfolioPluginManager

APP_SCRIPT = Path(__file__).resolve().parents[1] / "ui_app.py"


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def streamlit_command(host: str, port: int, open_browser: bool) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_SCRIPT),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "false" if open_browser else "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.maxUploadSize",
        "500",
        "--client.toolbarMode",
        "minimal",
    ]


def register(app: typer.Typer, manager: PortfolioPluginManager) -> None:
    @app.command("ui")
    def ui_command(
        port: int = typer.Option(8501, "--port", help="Port to serve on."),
        host: str = typer.Option(
            "127.0.0.1", "--host", help="Address to bind (loopback by default)."
        ),
        open_browser: bool = typer.Option(
            False, "--browser/--no-browser", help="Open a browser tab."
        ),
    ) -> None:
        """Start the Streamlit app (one page per installed demo plugin)."""
        try:
            import streamlit  # noqa: F401
        except ImportError:
            raise PortfolioError(
                "the UI needs streamlit: uv sync (or pip install streamlit)"
            ) from None
        if not 1 <= port <= 65535:
            raise PortfolioError(f"--port {port} is not a valid port")
        if not _port_free(host, port):
            raise PortfolioError(f"{host}:{port} is already in use; pick another with --port")
        typer.echo(f"portfolio-ml UI on http://{host}:{port} (Ctrl+C to stop)", err=True)
        sys.stderr.flush()
        sys.stdout.flush()
        # Become the Streamlit server (no child process to orphan when this one is killed).
        command = streamlit_command(host, port, open_browser)
        os.execv(command[0], command)
