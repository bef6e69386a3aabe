from __future__ import annotations

import socket

from portfolio_ml_cli.app import create_app
from portfolio_ml_cli.plugins import create_plugin_manager
from typer.testing import CliRunner

runner = CliRunner()


def test_ui_refuses_a_port_in_use():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        app = create_app(create_plugin_manager(load_entry_points=False))
        result = runner.invoke(app, ["ui", "--port", str(port)])
    assert result.exit_code == 1
    assert "already in use" in result.output


def test_ui_rejects_invalid_port():
    app = create_app(create_plugin_manager(load_entry_points=False))
    result = runner.invoke(app, ["ui", "--port", "70000"])
    assert result.exit_code == 1
    assert "not a valid port" in result.output
