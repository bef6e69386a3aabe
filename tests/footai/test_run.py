"""`footai run` end to end on synthetic clips, judged by `footai eval` against exact truth."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_footai.analytics.physical import MIN_SECONDS
from portfolio_ml_footai.evaluate.tracks import evaluate
from portfolio_ml_footai.io.tracks_csv import RUN_COLUMNS, read_tracks

from .conftest import invoke


@pytest.fixture(scope="module")
def static_run(static_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("run_static")
    res = invoke("run", static_clip.video, "--out", out, "--calibration", static_clip.calibration)
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def pan_auto_run(pan_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("run_pan")
    res = invoke("run", pan_clip.video, "--out", out, "--no-video")
    assert res.exit_code == 0, res.output
    return out


def test_outputs_and_schema(static_run, static_clip):
    for name in (
        "tracks.csv",
        "annotated.mp4",
        "tactical_map.mp4",
        "tactical_map.png",
        "heatmap_team0.png",
        "heatmap_team1.png",
        "summary.json",
        "homographies.npz",
        "match_stats.csv",
        "pitch_control.png",
    ):
        assert (static_run / name).stat().st_size > 0, name
    # Nothing half-written is left behind.
    assert not [p for p in static_run.iterdir() if ".part" in p.name]
    with (static_run / "tracks.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == RUN_COLUMNS
    tracks = read_tracks(static_run / "tracks.csv")
    people = tracks.subset(tracks.role != "ball")
    assert (people.track_id >= 1).all()
    assert set(tracks.role) <= {"player", "goalkeeper", "referee", "ball"}
    assert set(tracks.subset(tracks.role == "player").team) == {0, 1}
    assert (tracks.subset(tracks.role == "ball").track_id == 0).all()
    assert (tracks.subset(tracks.role == "referee").team == -1).all()
    summary = json.loads((static_run / "summary.json").read_text())
    assert summary["calibration"]["method"] == "file"
    assert summary["frames"] == static_clip.frames
    # One shot, calibrated from the file throughout (the keypoint fits may correct it).
    (shot,) = summary["calibration"]["segments"]
    assert shot["method"].startswith("file") and shot["frames"] == shot["calibrated"]
    assert (shot["first_frame"], shot["last_frame"]) == (0, static_clip.frames - 1)
    assert len(summary["team_colours"]) == 2
    # Distance and top speed only for whom was seen long enough (fragments get nulls).
    for entry in summary["per_track"] + summary["players"]:
        long_enough = entry["seconds_seen"] >= MIN_SECONDS
        assert (entry["top_speed_kmh"] is not None) == long_enough, entry
        assert (entry["distance_m"] is not None) == long_enough, entry
        assert not long_enough or entry["top_speed_kmh"] <= 38
    # Every person row has a player id; a player's tracks never share a frame.
    assert (people.player_id >= 1).all()
    keys = people.frame * 100_000 + people.player_id
    assert len(np.unique(keys)) == len(keys)
    joined = {k for p in summary["players"] for k in p["track_ids"]}
    assert joined == set(people.track_id.tolist())


def test_a_run_folder_reads_back_as_its_match(pan_auto_run, tmp_path):
    """tracks.csv + summary.json + homographies.npz are the whole Match: writing the match read
    back gives the same tracks.csv to the byte."""
    from portfolio_ml_footai.io.run_dir import read_match
    from portfolio_ml_footai.io.tracks_csv import write_tracks

    match = read_match(pan_auto_run)
    summary = json.loads((pan_auto_run / "summary.json").read_text())
    assert len(match.frames) == summary["frames"] and match.fps == summary["video_fps"]
    assert sum(h is not None for h in match.homographies) > 0.9 * len(match.frames)
    write_tracks(tmp_path / "again.csv", match)
    assert (tmp_path / "again.csv").read_text() == (pan_auto_run / "tracks.csv").read_text()
    with pytest.raises(InputFileError, match="not a `footai run` output folder"):
        read_match(tmp_path)


def test_static_clip_accuracy(static_run, static_clip):
    r = evaluate(read_tracks(static_clip.gt), read_tracks(static_run / "tracks.csv"))
    assert r.f1 >= 0.93
    assert r.idf1 >= 0.85
    assert r.team_accuracy >= 0.97
    assert r.position_error_median_m <= 0.5


def test_pan_clip_with_automatic_calibration(pan_auto_run, pan_clip):
    summary = json.loads((pan_auto_run / "summary.json").read_text())
    assert summary["calibration"]["method"] == "keypoints"
    assert not (pan_auto_run / "annotated.mp4").exists()
    r = evaluate(read_tracks(pan_clip.gt), read_tracks(pan_auto_run / "tracks.csv"))
    assert r.f1 >= 0.88
    assert r.team_accuracy >= 0.95
    assert r.position_error_median_m <= 1.0


def test_stride_and_max_frames(static_clip, tmp_path):
    res = invoke(
        "run",
        static_clip.video,
        "--out",
        tmp_path,
        "--calibration",
        static_clip.calibration,
        "--stride",
        "2",
        "--max-frames",
        "20",
        "--no-video",
    )
    assert res.exit_code == 0, res.output
    tracks = read_tracks(tmp_path / "tracks.csv")
    assert set(tracks.frame) <= set(range(0, 40, 2))
    assert json.loads((tmp_path / "summary.json").read_text())["frames"] == 20


def test_start_needs_carried_calibration(static_clip, static_run, tmp_path):
    """Starting later than the calibration frame gives the pitch coordinates a run from the
    calibration frame gives on the same frames: the calibration is carried, not lost."""
    res = invoke(
        "run",
        static_clip.video,
        "--out",
        tmp_path,
        "--calibration",
        static_clip.calibration,
        "--start",
        "1.0",
        "--max-frames",
        "15",
        "--no-video",
    )
    assert res.exit_code == 0, res.output
    tracks = read_tracks(tmp_path / "tracks.csv")
    assert tracks.frame.min() >= 25
    gt = read_tracks(static_clip.gt)
    late = evaluate(gt, tracks)
    full = read_tracks(static_run / "tracks.csv")
    same_frames = evaluate(gt, full.subset((full.frame >= 25) & (full.frame < 40)))
    assert late.position_error_median_m <= same_frames.position_error_median_m + 0.1
    assert late.position_error_median_m <= 1.0
