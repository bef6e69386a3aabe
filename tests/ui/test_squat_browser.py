"""The squat page in a real browser: upload the real clip through the file chooser, count it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .conftest import SCREENSHOTS, screenshot, wait_idle

pytestmark = [pytest.mark.ui, pytest.mark.realdata]


@pytest.fixture(scope="module")
def squat_excerpt(squat_clip, tmp_path_factory):
    """The real clip's two squats (6.5–20 s) at half size: the page's work, but a third less of it."""
    import cv2
    from portfolio_ml_core.video import VideoSink, VideoSource

    path = tmp_path_factory.mktemp("squat") / "squat_excerpt.mp4"
    with VideoSource(squat_clip) as video, VideoSink(path, video.fps, (304, 540)) as sink:
        for frame in video.frames(start_s=6.5, max_frames=round(13.5 * video.fps)):
            sink.write(cv2.resize(frame.image, (304, 540), interpolation=cv2.INTER_AREA))
    return path


def test_squat_upload_counts_the_real_clip(ui_url, page, squat_excerpt):
    squat_clip = squat_excerpt
    page.goto(f"{ui_url}/squat")
    page.get_by_text("Rep counter").first.wait_for()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(squat_clip))
    # The uploader shows the file once the upload has finished (its name shortened in the middle).
    page.get_by_text(re.compile(re.escape(squat_clip.name[-10:]) + "$")).wait_for()
    # Let the upload's own script run finish first: a click that lands during that rerun can be
    # dropped by Streamlit (seen as a rare CI hang), so it is retried until the work starts.
    wait_idle(page)
    button = page.get_by_role("button", name="Count reps")
    started = page.get_by_text(re.compile("Counting…|Form feedback")).first
    for _attempt in range(3):
        button.click()
        try:
            started.wait_for(timeout=30_000)
            break
        except PlaywrightTimeoutError:
            continue
    page.get_by_text("Form feedback").wait_for(timeout=300_000)  # generous: a loaded CI box
    wait_idle(page)
    shot = screenshot(page, "squat")

    metrics = {
        m.locator('[data-testid="stMetricLabel"]').inner_text().strip(): m.locator(
            '[data-testid="stMetricValue"]'
        )
        .inner_text()
        .strip()
        for m in page.locator('[data-testid="stMetric"]').all()
    }
    assert metrics["Reps"] == "2"  # the clip's two barbell squats
    feedback = (
        page.locator('[data-testid="stColumn"]').filter(has_text="Form feedback").last.inner_text()
    )
    assert "Rep 1" in feedback and "Rep 2" in feedback
    angle_plot = page.locator('[data-testid="stImage"] img').first
    assert angle_plot.evaluate("i => i.naturalWidth") > 500
    page.get_by_role("heading", name="Annotated video").wait_for()
    page.locator("video").wait_for()
    assert not page.locator('[data-testid="stException"]').count()
    assert shot.stat().st_size > 50_000


def test_squat_live_mode_streams_the_browser_camera(ui_url, page, pose_model_path):
    """Chromium's fake camera (a test pattern, no person) goes through pose → counter → HUD."""
    page.goto(f"{ui_url}/squat")
    page.get_by_text("Rep counter").first.wait_for()
    page.get_by_text("Live camera").click()
    component = page.frame_locator('iframe[title*="streamlit_webrtc"]')
    component.get_by_role("button", name="START").click()
    # The page redraws its counts twice a second while the stream plays: re-query each time.
    frames_seen = """() => {
        const m = [...document.querySelectorAll('[data-testid=stMetric]')]
            .find(e => e.innerText.includes('Frames seen'));
        return m && parseInt(m.querySelector('[data-testid=stMetricValue]').innerText) >= 10;
    }"""
    try:
        page.wait_for_function(frames_seen, timeout=90_000)
    finally:
        screenshot(page, "squat_live")
    video = component.locator("video").first
    assert video.evaluate("v => v.videoWidth") > 0  # the processed stream came back
    reps = page.locator('[data-testid="stMetric"]').filter(has_text="Partial reps")
    assert reps.locator('[data-testid="stMetricValue"]').inner_text().strip() == "0"
    assert not page.locator('[data-testid="stException"]').count()
    assert (SCREENSHOTS / "squat_live.png").stat().st_size > 30_000
    component.get_by_role("button", name="STOP").click()
