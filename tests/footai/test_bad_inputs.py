"""Bad input ends as one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import json

import numpy as np
import pytest
from portfolio_ml_core.video import VideoSink

from .conftest import invoke


def _one_line_error(res, *words: str) -> None:
    assert res.exit_code == 1, res.output
    text = res.output.strip()
    assert text.startswith("Error:"), text
    assert len(text.splitlines()) == 1, text
    assert "Traceback" not in text
    for w in words:
        assert w in text, text


def test_missing_video(tmp_path):
    _one_line_error(invoke("run", tmp_path / "nope.mp4", "--out", tmp_path / "o"), "no such file")


def test_empty_video(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    _one_line_error(invoke("run", empty, "--out", tmp_path / "o"), "empty")


def test_not_a_video(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video at all" * 100)
    _one_line_error(invoke("run", junk, "--out", tmp_path / "o"))


def test_non_football_video(tmp_path):
    """An indoor scene (grey walls, a blue sofa): no grass, so no pitch."""
    path = tmp_path / "room.mp4"
    rng = np.random.default_rng(0)
    with VideoSink(path, 25, (320, 180)) as sink:
        for i in range(20):
            img = np.full((180, 320, 3), (120, 125, 130), np.uint8)
            img[100:160, 40 + i : 200 + i] = (150, 60, 30)
            img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
            sink.write(img)
    res = invoke("run", path, "--out", tmp_path / "o")
    _one_line_error(res, "no football pitch")
    assert not (tmp_path / "o" / "tracks.csv").exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not json", ["not valid JSON"]),
        ("[1, 2]", ["JSON object"]),
        ('{"image_points": [[0, 0]]}', ["pitch_points"]),
        (
            '{"frame": 0, "image_points": [[0,0],[10,0],[0,10]], "pitch_points": [[0,0],[1,0],[0,1]]}',
            ["at least 4"],
        ),
        (
            '{"frame": 0, "image_points": [[0,0],[10,10],[20,20],[30,30]], "pitch_points": [[0,0],[1,1],[2,2],[3,3]]}',
            ["collinear"],
        ),
        (
            '{"frame": 0, "image_points": [[0,0],[100,0],[0,100],[100,100]], "pitch_points": [[0,0],[500,0],[0,10],[10,10]]}',
            ["metres"],
        ),
        (
            '{"frame": 0, "image_points": [["a",0],[100,0],[0,100],[100,100]], "pitch_points": [[0,0],[5,0],[0,5],[5,5]]}',
            ["numbers"],
        ),
        # Mirrored: image right is pitch left.
        (
            '{"frame": 0, "image_points": [[100,0],[0,0],[100,100],[0,100]], "pitch_points": [[0,0],[10,0],[0,10],[10,10]]}',
            ["mirrors"],
        ),
        # Inconsistent pairs.
        (
            '{"frame": 0, "image_points": [[0,0],[100,0],[0,100],[100,100],[50,50]], "pitch_points": [[0,0],[10,0],[0,10],[10,10],[9,1]]}',
            ["disagree"],
        ),
    ],
)
def test_bad_calibration(static_clip, tmp_path, content, words):
    cal = tmp_path / "cal.json"
    cal.write_text(content)
    res = invoke(
        "run", static_clip.video, "--out", tmp_path / "o", "--calibration", cal, "--max-frames", "3"
    )
    _one_line_error(res, *words)


def test_missing_calibration(static_clip, tmp_path):
    res = invoke(
        "run", static_clip.video, "--out", tmp_path / "o", "--calibration", tmp_path / "c.json"
    )
    _one_line_error(res, "not found")


@pytest.mark.parametrize(
    ("flag", "value"), [("--stride", "0"), ("--max-frames", "0"), ("--start", "-1")]
)
def test_bad_numbers(static_clip, tmp_path, flag, value):
    _one_line_error(invoke("run", static_clip.video, "--out", tmp_path / "o", flag, value))


def test_start_past_the_end(static_clip, tmp_path):
    _one_line_error(
        invoke("run", static_clip.video, "--out", tmp_path / "o", "--start", "999"), "no frames"
    )


@pytest.mark.parametrize(
    "args", [["--camera", "drone"], ["--seconds", "0"], ["--size", "big"], ["--size", "10x10"]]
)
def test_bad_sample_options(tmp_path, args):
    _one_line_error(invoke("sample", "--out", tmp_path, *args))


def test_calibrate_auto_writes_a_usable_file(static_clip, tmp_path):
    out = tmp_path / "cal.json"
    res = invoke("calibrate", static_clip.video, "--out", out, "--auto")
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert len(data["image_points"]) >= 4
    # It is accepted by run, which then reports the file as its calibration.
    res = invoke(
        "run",
        static_clip.video,
        "--out",
        tmp_path / "o",
        "--calibration",
        out,
        "--max-frames",
        "5",
        "--no-video",
    )
    assert res.exit_code == 0, res.output
    assert (
        json.loads((tmp_path / "o" / "summary.json").read_text())["calibration"]["method"] == "file"
    )


def test_calibrate_without_display(static_clip, tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    _one_line_error(invoke("calibrate", static_clip.video, "--out", tmp_path / "c.json"), "--auto")
