"""The Foot AI Streamlit page (AppTest): sample → run → map, tables, filters, cache; errors in-page."""

from __future__ import annotations

import pandas as pd
import pytest
from portfolio_ml_core.ui import UIPageRegistry
from portfolio_ml_footai import plugin

testing = pytest.importorskip("streamlit.testing.v1")

SCRIPT = "from portfolio_ml_footai.ui import render\nrender()\n"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PORTFOLIO_ML_CACHE_DIR", str(tmp_path / "cache"))


def _app():
    return testing.AppTest.from_string(SCRIPT, default_timeout=120).run()


def _metric(app, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def test_page_is_registered() -> None:
    registry = UIPageRegistry()
    plugin.register_ui_pages(registry)
    page = registry.get("footai")
    assert (page.title, page.order) == ("Foot AI", 10)


def test_synthetic_sample_run_shows_results_filters_and_uses_the_cache(tmp_path) -> None:
    app = _app()
    assert not app.exception
    assert app.title[0].value == "Foot AI"
    assert app.radio[0].value == "Synthetic sample"
    seconds = next(n for n in app.number_input if n.label == "Seconds")
    seconds.set_value(2.0)
    next(s for s in app.selectbox if s.label == "Size").set_value("640x360")
    next(c for c in app.checkbox if c.label.startswith("Write the annotated")).uncheck()
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert _metric(app, "Frames") == "50"  # 2 s at 25 fps
    assert int(_metric(app, "Tracks")) >= 10  # the sample has 22 players + referees

    # The table is tracks.csv; the team filter keeps only the chosen team's rows.
    tracks = app.dataframe[0].value
    cache = tmp_path / "cache" / "ui" / "footai" / "runs"
    (run_dir,) = cache.iterdir()
    assert len(tracks) == len(pd.read_csv(run_dir / "tracks.csv"))
    assert {0, 1} <= set(tracks["team"])
    next(m for m in app.multiselect if m.label.startswith("Team")).set_value([1]).run()
    filtered = app.dataframe[0].value
    assert 0 < len(filtered) < len(tracks)
    assert set(filtered["team"]) == {1}
    some_id = int(filtered["track_id"].iloc[0])
    next(m for m in app.multiselect if m.label.startswith("Track id")).set_value([some_id]).run()
    assert set(app.dataframe[0].value["track_id"]) == {some_id}

    # Scored against the sample's ground truth.
    evaluation = app.dataframe[-1].value
    scores = dict(zip(evaluation["metric"], evaluation["value"], strict=True))
    assert 0.5 < float(scores["recall"]) <= 1.0

    # Same clip, same options: the stored result comes back instead of a second run.
    mtime = (run_dir / "summary.json").stat().st_mtime_ns
    app.button[0].click().run()
    assert not app.exception
    assert any("from the cache" in c.value for c in app.caption)
    assert (run_dir / "summary.json").stat().st_mtime_ns == mtime
    assert len(list(cache.iterdir())) == 1


@pytest.mark.parametrize("kind", ["missing", "not a video"])
def test_bad_clip_is_an_error_in_the_page(tmp_path, kind) -> None:
    path = tmp_path / "clip.mp4"
    if kind == "not a video":
        path.write_text("this is not a video\n")
    app = _app()
    app.radio[0].set_value("Upload a clip").run()
    app.text_input[0].input(str(path))
    app.button[0].click().run()
    assert not app.exception
    assert len(app.error) == 1 and "clip.mp4" in app.error[0].value
    assert not app.metric
