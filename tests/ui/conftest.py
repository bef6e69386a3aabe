"""A real `portfolio-ml ui` server and a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A synthetic camera, granted without a prompt: the squat page's live mode can be exercised.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def ui_url(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("ui") / "server.log"
    # A private cache: the pages cache runs there, and a test must never be served an old result.
    cache = tmp_path_factory.mktemp("ui-cache")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PORTFOLIO_ML_CACHE_DIR": str(cache)}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "portfolio_ml_cli.app", "ui", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"UI server did not start:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        message = "Debian chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    p.set_default_timeout(60_000)
    yield p
    context.close()


def wait_idle(page, timeout_ms: int = 150_000) -> None:
    """Until the script run has finished and every element has drawn (no loading skeletons:
    Streamlit loads each element type's code on first use, slowly on a busy machine)."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms
    )
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stSkeleton], [data-testid=stSkeletonElement]')",
        timeout=timeout_ms,
    )


# Streamlit scrolls inside its own container, so a "full page" shot would stop at the viewport.
_CONTENT_HEIGHT = """() => Math.max(document.body.scrollHeight,
    document.querySelector('[data-testid=stMain]')?.scrollHeight ?? 0)"""


def screenshot(page, name: str) -> Path:
    """Save the whole page (grown to its content, at most 6000 px tall) under out/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    viewport = page.viewport_size
    height = min(6000, int(page.evaluate(_CONTENT_HEIGHT)) + 40)
    if height > viewport["height"]:
        page.set_viewport_size({"width": viewport["width"], "height": height})
        page.wait_for_timeout(800)  # let images re-lay out
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(viewport)
    return path
