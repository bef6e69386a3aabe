"""The UI's home page in a real browser: each demo with what it does, a picture, a link."""

from __future__ import annotations

import pytest

from .conftest import screenshot

pytestmark = pytest.mark.ui


def test_home_shows_each_demo_with_a_picture_and_a_link(ui_url, page):
    page.goto(ui_url)
    page.get_by_text("Three machine-learning demos as one tool").wait_for()
    page.get_by_text("Open Foot AI").wait_for()
    shot = screenshot(page, "home")
    assert shot.stat().st_size > 10_000
    body = page.inner_text("body")
    for title in ("Foot AI", "Squat counter", "CIFAR-10"):
        assert f"Open {title}" in body
    assert "small net trained on real broadcast frames" in body
    # One picture per demo, made by the tool and shipped in its package.
    assert page.locator("img").count() >= 3
    # The link leads to the demo's page.
    page.get_by_text("Open Foot AI").click()
    page.wait_for_url("**/footai")
