"""The Streamlit page (AppTest): counts the real clip, shows reps, feedback and outputs, caches
the run, reports a bad input as an error instead of crashing."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from portfolio_ml_core.ui import UIPageRegistry
from portfolio_ml_squat import plugin
from portfolio_ml_squat.ui import feedback_lines, rep_rows

testing = pytest.importorskip("streamlit.testing.v1")

SCRIPT = "from portfolio_ml_squat.ui import render\nrender()\n"


@pytest.fixture(autouse=True)
def _env(tmp_path, pose_model_path, monkeypatch) -> None:
    monkeypatch.setenv("PORTFOLIO_ML_POSE_MODEL", str(pose_model_path))
    monkeypatch.setenv("PORTFOLIO_ML_CACHE_DIR", str(tmp_path / "cache"))


def _app():
    return testing.AppTest.from_string(SCRIPT, default_timeout=120).run()


def test_page_is_registered() -> None:
    registry = UIPageRegistry()
    plugin.register_ui_pages(registry)
    assert [p.name for p in registry.ordered()] == ["squat"]


def test_page_renders_and_reports_a_missing_file(tmp_path) -> None:
    app = _app()
    assert not app.exception
    assert app.title[0].value == "Rep counter"
    assert app.selectbox[0].value == "squat"
    app.text_input[0].input(str(tmp_path / "missing.mp4"))
    app.button[0].click().run()
    assert not app.exception
    assert any("missing.mp4" in e.value for e in app.error)
    assert not app.metric


def test_not_a_video_is_an_error_in_the_page(tmp_path) -> None:
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00" * 2048)
    app = _app()
    app.text_input[0].input(str(bad))
    app.button[0].click().run()
    assert not app.exception
    assert len(app.error) == 1 and "clip.mp4" in app.error[0].value


@pytest.mark.realdata
def test_real_clip_counts_tables_feedback_and_cache(squat_clip, tmp_path) -> None:
    app = _app()
    app.text_input[0].input(str(squat_clip))
    app.checkbox[0].uncheck()  # no annotated video: faster, and the page must cope without it
    app.button[0].click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    (run_dir,) = (tmp_path / "cache" / "ui" / "squat" / "runs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Reps"] == str(summary["reps"]) == "2"  # the clip's two barbell squats
    table = app.dataframe[0].value
    assert list(table["kind"]).count("rep") == 2
    assert list(table["start_s"]) == sorted(table["start_s"])
    feedback = app.markdown[-1].value
    assert feedback.count("- Rep ") == 2
    assert not (run_dir / "annotated.mp4").exists()

    mtime = (run_dir / "summary.json").stat().st_mtime_ns
    app.button[0].click().run()
    assert any("from the cache" in c.value for c in app.caption)
    assert (run_dir / "summary.json").stat().st_mtime_ns == mtime


def test_rep_rows_and_feedback_follow_the_summary() -> None:
    def event(kind: str, index: int, start: float, depth: float, faults: list[str]) -> dict:
        return {
            "kind": kind, "index": index, "start_s": start, "bottom_s": start + 1,
            "end_s": start + 2, "duration_s": 2.0, "min_angle": 80.0, "depth": depth,
            "faults": faults, "reason": "",
        }  # fmt: skip

    summary = {
        "rep_details": [event("rep", 1, 5.0, 1.1, []), event("rep", 2, 1.0, 1.0, ["knees_in"])],
        "partial_details": [event("partial", 1, 9.0, 0.6, [])],
        "rejected_details": [event("rejected", 0, 12.0, 0.2, [])],
    }
    rows = rep_rows(summary)
    assert [r["start_s"] for r in rows] == [1.0, 5.0, 9.0, 12.0]
    assert [r["faults"] for r in rows] == ["knees_in", "—", "—", "—"]
    lines = feedback_lines(summary)
    assert lines[0].startswith("Rep 1") and "clean" in lines[0]
    assert "knees in" in lines[1]
    assert "60% of the target depth" in lines[2]
    assert len(lines) == 3  # rejected reps get no feedback line


def test_live_mode_without_a_webrtc_runtime_is_an_error_in_the_page() -> None:
    """AppTest's mock runtime cannot host streamlit-webrtc (tests/ui streams a real camera):
    the page must say so in place, and the file mode must come back."""
    if importlib.util.find_spec("streamlit_webrtc") is None:  # importing it here could crash
        pytest.skip("streamlit-webrtc is not installed")
    app = _app()
    app.radio[1].set_value("Live camera").run()
    assert not app.exception
    assert not app.text_input  # no file inputs in live mode
    assert len(app.error) == 1 and app.error[0].value.startswith("live mode unavailable")
    app.radio[1].set_value("Video file").run()
    assert not app.exception and not app.error
    assert app.button[0].label == "Count reps"


@pytest.mark.slow  # a fresh interpreter importing TensorFlow; tests/ui covers the order too
def test_registering_the_page_loads_webrtc_before_tensorflow_can() -> None:
    """streamlit-webrtc's SRTP library segfaults when imported after TensorFlow; the UI
    registers pages before any page runs, so the squat hook imports it first."""
    if importlib.util.find_spec("streamlit_webrtc") is None:  # importing it here could crash
        pytest.skip("streamlit-webrtc is not installed")
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow is not installed")
    code = (
        "from portfolio_ml_core.ui import UIPageRegistry\n"
        "from portfolio_ml_squat import plugin\n"
        "plugin.register_ui_pages(UIPageRegistry())\n"
        "import tensorflow as tf\n"
        "assert float(tf.reduce_sum(tf.ones(3))) == 3.0\n"
        "from portfolio_ml_squat.ui import preload_webrtc\n"
        "assert preload_webrtc()\n"
        "from streamlit_webrtc import webrtc_streamer\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
