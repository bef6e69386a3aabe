"""Footage that used to crash `footai run`: no players, a tactical camera, letterboxing, cuts."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from portfolio_ml_core.video import VideoSink, VideoSource
from portfolio_ml_footai.synth import SampleConfig, render_sample
from portfolio_ml_footai.teams import TeamModel

from .conftest import invoke


def _write(path, frames, fps=25.0):
    h, w = frames[0].shape[:2]
    with VideoSink(path, fps, (w, h)) as sink:
        for f in frames:
            sink.write(f)
    return path


def _run(video, out):
    res = invoke("run", video, "--out", out, "--no-video")
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    return json.loads((out / "summary.json").read_text()), res.output


def test_team_model_without_colours_is_none_not_a_crash():
    assert TeamModel.fit(np.empty((0, 3), np.float32)) is None
    assert TeamModel.fit(np.full((40, 3), np.nan, np.float32)) is None


def test_empty_pitch_without_players(tmp_path):
    grass = np.zeros((360, 640, 3), np.uint8)
    grass[:] = (40, 140, 50)
    cv2.line(grass, (0, 200), (640, 180), (230, 230, 230), 3)
    summary, output = _run(_write(tmp_path / "empty.mp4", [grass] * 12), tmp_path / "o")
    assert summary["tracks"] == 0 and summary["frames"] == 12
    assert summary["calibration"]["method"] == "none"  # one line fixes no homography
    assert "no players were tracked" in output
    assert (tmp_path / "o" / "tracks.csv").read_text().startswith("frame,")


def test_a_portrait_crop_is_warned_about(static_clip, tmp_path):
    with VideoSource(static_clip.video) as v:
        frames = [np.ascontiguousarray(fr.image[:, 300:500]) for fr in v.frames(max_frames=4)]
    summary, _ = _run(_write(tmp_path / "portrait.mp4", frames), tmp_path / "o")
    assert any("often metres off" in w for w in summary["warnings"])


def test_a_run_too_short_to_confirm_a_track_says_so(static_clip, tmp_path):
    with VideoSource(static_clip.video) as v:
        frames = [fr.image for fr in v.frames(max_frames=2)]
    summary, _ = _run(_write(tmp_path / "two.mp4", frames), tmp_path / "o")
    assert summary["frames"] == 2 and summary["tracks"] == 0
    assert any("confirmed after 3 frames" in w for w in summary["warnings"])
    assert not any("is this a football broadcast" in w for w in summary["warnings"])
    assert not any("often metres off" in w for w in summary["warnings"])  # 16:9


@pytest.fixture(scope="module")
def tactical_clip(tmp_path_factory):
    return render_sample(
        tmp_path_factory.mktemp("tactical"),
        SampleConfig("tactical", seconds=1.2, seed=3, width=960, height=540),
    )


def test_tactical_camera_clip(tactical_clip, tmp_path):
    summary, _ = _run(tactical_clip.video, tmp_path / "o")
    assert summary["frames"] == tactical_clip.frames


def test_letterboxed_clip_with_cuts_and_a_shot_without_a_pitch(static_clip, pan_clip, tmp_path):
    frames = []
    for clip in (static_clip, None, pan_clip):
        if clip is None:  # a close-up of nothing: dark, no grass, no markings
            frames += [np.full_like(frames[0], 30)] * 8
            continue
        with VideoSource(clip.video) as v:
            for fr in v.frames(max_frames=10):
                img = fr.image.copy()
                img[:60] = 0  # letterbox bars
                img[-60:] = 0
                frames.append(img)
    summary, _ = _run(_write(tmp_path / "cut.mp4", frames), tmp_path / "o")
    assert summary["frames"] == 28
    # Three shots, each calibrated on its own; the one without a pitch says why it has none.
    shots = summary["calibration"]["segments"]
    assert [(s["first_frame"], s["last_frame"]) for s in shots] == [(0, 9), (10, 17), (18, 27)]
    assert shots[1]["calibrated"] == 0 and shots[1]["method"] == "none"
    assert "too few pitch markings" in shots[1]["reason"]
    assert any(w.startswith("frames 10–17 (8 analysed") for w in summary["warnings"])
    assert shots[0]["calibrated"] > 0 and shots[2]["calibrated"] > 0


def test_calibrate_auto_never_writes_fewer_than_four_pairs(tmp_path):
    grass = np.zeros((360, 640, 3), np.uint8)
    grass[:] = (40, 140, 50)  # a pitch with no marking in view
    video = _write(tmp_path / "grass.mp4", [grass] * 3)
    res = invoke("calibrate", video, "--out", tmp_path / "c.json", "--auto")
    assert res.exit_code != 0
    assert "too few pitch markings" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "c.json").exists()


def test_a_clip_of_nothing_but_cuts_finishes(static_clip, tmp_path):
    with VideoSource(static_clip.video) as v:
        frames = [fr.image for fr in v.frames(max_frames=6)]
    dark = np.full_like(frames[0], 30)
    # Every frame a new shot: the pitch, then nothing, then the pitch again...
    clip = [f for pair in zip(frames, [dark] * len(frames), strict=True) for f in pair]
    summary, _ = _run(_write(tmp_path / "cuts.mp4", clip), tmp_path / "o")
    shots = summary["calibration"]["segments"]
    assert summary["frames"] == 12 and len(shots) == 12
    assert all(s["frames"] == 1 for s in shots)
    assert all(s["calibrated"] == 0 for s in shots[1::2])  # the dark frames
    assert sum("uncalibrated" in w for w in summary["warnings"]) <= 6
