"""Smoke test on real broadcast footage (LaLiga, panning main camera, scorebug)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from portfolio_ml_footai.io.tracks_csv import read_tracks

from .conftest import invoke

pytestmark = pytest.mark.realdata

# Where the big bottom scorebug sits during the first seconds (1280×720 pixels): the panel
# with the team names and score, and the tab with the league logo on top of it.
SCOREBUG = [(144, 582, 1136, 663), (482, 537, 797, 582)]


@pytest.fixture(scope="module")
def real_run(football_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("real")
    res = invoke("run", football_clip, "--out", out, "--max-frames", "90", "--no-video")
    assert res.exit_code == 0, res.output
    return out


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], float)


def test_two_teams_white_and_red(real_run):
    summary = json.loads((real_run / "summary.json").read_text())
    colours = [_rgb(c) for c in summary["team_colours"].values()]
    assert len(colours) == 2
    white = [c for c in colours if c.min() > 150]
    red = [c for c in colours if c[0] > c[1] + 30 and c[0] > c[2] + 30]
    assert len(white) == 1 and len(red) == 1, summary["team_colours"]
    assert min(summary["players_per_team"].values()) >= 5


def test_scorebug_and_crowd_are_not_players(real_run):
    tracks = read_tracks(real_run / "tracks.csv")
    people = tracks.subset(tracks.role != "ball")
    assert len(people) > 500
    cx = people.box[:, 0] + people.box[:, 2] / 2
    cy = people.box[:, 1] + people.box[:, 3] / 2
    in_bug = np.zeros(len(people), bool)
    for x0, y0, x1, y1 in SCOREBUG:
        in_bug |= (cx > x0) & (cx < x1) & (cy > y0) & (cy < y1)
    # A player walking behind the panel's end is half hidden for a frame or two; a track on the
    # scorebug itself (the league logo) lives there.
    for track in np.unique(people.track_id[in_bug]):
        mine = people.track_id == track
        assert in_bug[mine].mean() < 0.5, people.box[mine & in_bug][:5]
    assert in_bug.mean() < 0.01
    # The stands end well above y = 140 in these frames: nobody stands up there.
    assert (people.box[:, 1] + people.box[:, 3] > 140).all()


def test_automatic_calibration_gives_plausible_positions(real_run):
    summary = json.loads((real_run / "summary.json").read_text())
    assert summary["calibration"]["method"] == "keypoints"
    tracks = read_tracks(real_run / "tracks.csv")
    people = tracks.subset(tracks.role != "ball")
    ok = np.isfinite(people.pitch).all(axis=1)
    assert ok.mean() > 0.9
    inside = (np.abs(people.pitch[ok, 0]) < 55.5) & (np.abs(people.pitch[ok, 1]) < 37)
    assert inside.mean() > 0.97
    # Kick-off phase: the players are spread over both halves around the centre circle.
    assert people.pitch[ok, 0].min() < -5 and people.pitch[ok, 0].max() > 5
