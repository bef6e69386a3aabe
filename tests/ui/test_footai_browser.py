"""The Foot AI page in a real browser: render a 2-second synthetic sample, run it, read the results."""

from __future__ import annotations

import re

import pytest

from .conftest import screenshot, wait_idle

pytestmark = pytest.mark.ui


def test_footai_sample_run_shows_map_heatmaps_tracks(ui_url, page):
    page.goto(f"{ui_url}/footai")
    page.get_by_text("Players, teams, tracks and pitch positions").wait_for()
    seconds = page.get_by_label("Seconds")
    seconds.fill("2")
    seconds.press("Enter")
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Size").click()
    page.get_by_role("option", name="640x360").click()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Tactical map (middle frame)").wait_for(timeout=150_000)
    page.get_by_text(re.compile(r"\d+ of \d+ rows")).wait_for()
    wait_idle(page)

    metrics = {
        m.locator('[data-testid="stMetricLabel"]').inner_text().strip(): m.locator(
            '[data-testid="stMetricValue"]'
        )
        .inner_text()
        .strip()
        for m in page.locator('[data-testid="stMetric"]').all()
    }
    assert metrics["Frames"] == "50"  # 2 s at 25 fps
    assert int(metrics["Tracks"]) >= 10
    assert int(metrics["Team 0 players"]) >= 3 and int(metrics["Team 1 players"]) >= 3
    rows, total = map(int, re.search(r"(\d+) of (\d+) rows", page.inner_text("body")).groups())
    assert rows == total >= 50 * 10  # every box of every frame, no filter yet
    # The tactical map and both heatmaps are real, decoded images.
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stImage] img')]"
        ".filter(i => i.complete && i.naturalWidth > 100).length >= 3"
    )
    assert page.locator("video").count() >= 2  # tactical map and annotated videos
    assert page.get_by_role("button", name="tracks.csv").is_visible()
    assert not page.locator('[data-testid="stException"]').count()
    shot = screenshot(page, "footai")
    assert shot.stat().st_size > 50_000
