"""The UI's home page in a real browser: it lists the installed plugins."""

from __future__ import annotations

import pytest

from .conftest import screenshot

pytestmark = pytest.mark.ui


def test_home_lists_plugins_and_pages(ui_url, page):
    page.goto(ui_url)
    page.get_by_text("Three machine-learning demos as one tool").wait_for()
    page.get_by_text("register_benchmarks").first.wait_for()
    shot = screenshot(page, "home")
    assert shot.stat().st_size > 10_000
    body = page.inner_text("body")
    assert "portfolio-ml" in body and "core" in body
