from __future__ import annotations

from portfolio_ml_cli.app import create_app
from portfolio_ml_cli.plugins import create_plugin_manager
from typer.testing import CliRunner

runner = CliRunner()


def app():
    return create_app(create_plugin_manager(load_entry_points=False))


def test_models_path_uses_env_var(monkeypatch, pose_model_path):
    monkeypatch.setenv("PORTFOLIO_ML_POSE_MODEL", str(pose_model_path))
    result = runner.invoke(app(), ["models", "path", "pose_landmarker_full"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(pose_model_path)
    listed = runner.invoke(app(), ["models", "list"])
    assert "pose_landmarker_full" in listed.output and "ok" in listed.output


def test_models_path_missing_is_one_line_error(monkeypatch, tmp_path):
    monkeypatch.delenv("PORTFOLIO_ML_POSE_MODEL", raising=False)
    monkeypatch.delenv("PORTFOLIO_ML_MODELS_DIR", raising=False)
    monkeypatch.setenv("PORTFOLIO_ML_CACHE_DIR", str(tmp_path))
    result = runner.invoke(app(), ["models", "path", "pose_landmarker_full"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "PORTFOLIO_ML_POSE_MODEL" in lines[0]


def test_models_unknown_name():
    result = runner.invoke(app(), ["models", "path", "nope"])
    assert result.exit_code == 1
    assert "unknown model 'nope'" in result.output


def test_models_fetch_refuses_when_offline(monkeypatch, tmp_path):
    monkeypatch.delenv("PORTFOLIO_ML_POSE_MODEL", raising=False)
    monkeypatch.setenv("PORTFOLIO_ML_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PORTFOLIO_ML_OFFLINE", "1")
    result = runner.invoke(app(), ["models", "fetch", "pose_landmarker_full"])
    assert result.exit_code == 1
    assert "offline" in result.output.lower()
