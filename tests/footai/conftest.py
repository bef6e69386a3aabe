"""Shared synthetic clips for the footai tests: small, short, rendered once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from portfolio_ml_cli.app import create_app
from portfolio_ml_footai.synth import SampleConfig, SampleResult, render_sample
from typer.testing import CliRunner


@pytest.fixture(scope="session")
def static_clip(tmp_path_factory: pytest.TempPathFactory) -> SampleResult:
    out = tmp_path_factory.mktemp("static")
    return render_sample(out, SampleConfig("static", seconds=3.0, seed=11, width=960, height=540))


@pytest.fixture(scope="session")
def pan_clip(tmp_path_factory: pytest.TempPathFactory) -> SampleResult:
    out = tmp_path_factory.mktemp("pan")
    return render_sample(out, SampleConfig("pan", seconds=3.0, seed=5, width=960, height=540))


def invoke(*args: str | Path):
    runner = CliRunner()
    return runner.invoke(create_app(), ["footai", *[str(a) for a in args]])
