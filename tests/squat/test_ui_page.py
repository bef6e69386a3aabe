"""The Streamlit page renders, and reports a bad input as an error instead of crashing."""

from __future__ import annotations

import pytest
from portfolio_ml_core.ui import UIPageRegistry
from portfolio_ml_squat import plugin

testing = pytest.importorskip("streamlit.testing.v1")


def test_page_is_registered() -> None:
    registry = UIPageRegistry()
    plugin.register_ui_pages(registry)
    assert [p.name for p in registry.ordered()] == ["squat"]


def test_page_renders_and_reports_a_missing_file(tmp_path, pose_model_path, monkeypatch) -> None:
    from portfolio_ml_squat.ui import render

    monkeypatch.setenv("PORTFOLIO_ML_POSE_MODEL", str(pose_model_path))
    app = testing.AppTest.from_function(render, default_timeout=30).run()
    assert not app.exception
    assert app.title[0].value == "Rep counter"
    assert app.selectbox[0].value == "squat"
    app.text_input[0].input(str(tmp_path / "missing.mp4"))
    app.button[0].click().run()
    assert not app.exception
    assert any("missing.mp4" in e.value for e in app.error)
