"""`footai report` opened in a real headless Chromium: a self-contained page an analyst reads."""

from __future__ import annotations

import re

import pytest
from portfolio_ml_cli.app import create_app
from portfolio_ml_footai.synth import SampleConfig, render_sample
from typer.testing import CliRunner

pytestmark = pytest.mark.ui


def test_report_of_a_run_opens_offline_with_every_part(page, tmp_path):
    clip = render_sample(
        tmp_path / "clip", SampleConfig("static", seconds=3.0, seed=24, width=960, height=540)
    )
    runner, app = CliRunner(), create_app()
    run = runner.invoke(app, ["footai", "run", str(clip.video), "--out", str(tmp_path / "run"),
                              "--no-video"])  # fmt: skip
    assert run.exit_code == 0, run.output
    report = tmp_path / "report.html"
    res = runner.invoke(app, ["footai", "report", str(tmp_path / "run"), "--out", str(report)])
    assert res.exit_code == 0, res.output

    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None,
    )
    page.goto(report.as_uri())
    page.get_by_role("heading", name="Foot AI match report").wait_for()
    for heading in ("Possession", "Pitch control", "Team shape", "Players"):
        assert page.get_by_role("heading", name=heading).is_visible()
    assert outside == []  # self-contained: nothing fetched from anywhere
    # Every picture is embedded and decodes: the maps, heatmaps, control and the shape chart.
    sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.alt, i.naturalWidth])")
    assert len(sizes) == 5 and all(w > 300 for _, w in sizes), sizes
    # Two formation cards, and shares that add up to 100 %.
    body = page.inner_text("body")
    assert len(re.findall(r"Team [01] formation", body)) == 2
    for bar in page.locator(".bar").all():
        shares = [int(s) for s in re.findall(r"(\d+) %", bar.inner_text())]
        assert len(shares) == 2 and abs(sum(shares) - 100) <= 1, shares
    # Each formation card names a formation (a 3-s clip of the synthetic 4-4-2 shows one).
    cards = page.locator(".card").filter(has_text=re.compile(r"Team [01] formation")).all()
    values = [c.locator("b").inner_text() for c in cards]
    assert len(values) == 2 and all(re.fullmatch(r"\d(-\d)+", v) for v in values), values
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)


def test_report_of_a_folder_that_is_no_run_is_one_line(tmp_path):
    res = CliRunner().invoke(create_app(), ["footai", "report", str(tmp_path), "--out",
                                            str(tmp_path / "r.html")])  # fmt: skip
    assert res.exit_code != 0 and "not a `footai run` output folder" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "r.html").exists()
