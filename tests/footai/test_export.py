"""`footai export` and `run --export`: tracking data that kloppy and the CDF validators read back,
position for position, with what is missing left missing (never zeros)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cdf
import numpy as np
import pytest
from kloppy import secondspectrum
from portfolio_ml_footai.detections import Detections
from portfolio_ml_footai.io.export import FORMATS, export_match
from portfolio_ml_footai.io.run_dir import HOMOGRAPHIES, read_match
from portfolio_ml_footai.io.tracks_csv import read_tracks
from portfolio_ml_footai.match import Match
from portfolio_ml_footai.model.spec import BALL, GOALKEEPER, PLAYER, REFEREE

from .conftest import invoke
from .test_bad_inputs import _one_line_error

GAP = range(20, 30)  # frames whose homography the doctored copy removes
UNMAPPED_AT = 40  # a frame where one player keeps its row but loses its pitch position
SIDE = {0: "home", 1: "away"}
TOL = 0.01  # metres


@pytest.fixture(scope="module")
def run_dir(pan_clip, tmp_path_factory):
    """The one run of the clip: with both exports, so `run --export` is tested by it too."""
    out = tmp_path_factory.mktemp("run_export")
    res = invoke(
        "run", pan_clip.video, "--out", out, "--no-video", "--export", "secondspectrum",
        "--export", "cdf",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def gappy_run(run_dir, tmp_path_factory):
    """The run with frames 20–29 uncalibrated (no homography, empty pitch columns, as a run
    writes them) and one player unmapped in frame 40."""
    out = tmp_path_factory.mktemp("run_gappy")
    shutil.copy(run_dir / "summary.json", out / "summary.json")
    with np.load(run_dir / HOMOGRAPHIES) as z:
        frames, stack = z["frames"], z["homographies"].copy()
    stack[np.isin(frames, list(GAP))] = np.nan
    np.savez_compressed(out / HOMOGRAPHIES, frames=frames, homographies=stack)
    with (run_dir / "tracks.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    unmapped = False
    for row in rows:
        frame = int(row["frame"])
        first_player_at_40 = frame == UNMAPPED_AT and row["role"] == "player" and not unmapped
        if frame in GAP or first_player_at_40:
            row["pitch_x"] = row["pitch_y"] = ""
            unmapped = unmapped or first_player_at_40
    assert unmapped
    with (out / "tracks.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out


def _truth(run: Path):
    """From tracks.csv: frame → {side: {track id: (x, y)}} for the mapped players and keepers,
    frame → ball (x, y) or None, and every track id that has a row, per side."""
    t = read_tracks(run / "tracks.csv")
    players: dict[int, dict[str, dict[str, tuple[float, float]]]] = {}
    ball: dict[int, tuple[float, float] | None] = {}
    rows: dict[int, dict[str, set[str]]] = {}
    roster: dict[str, set[str]] = {"home": set(), "away": set()}
    for f, tid, role, team, xy in zip(t.frame, t.track_id, t.role, t.team, t.pitch, strict=True):
        frame = int(f)
        players.setdefault(frame, {"home": {}, "away": {}})
        rows.setdefault(frame, {"home": set(), "away": set()})
        ball.setdefault(frame, None)
        if role == "ball" and np.isfinite(xy).all():
            ball[frame] = (float(xy[0]), float(xy[1]))
        elif role in ("player", "goalkeeper") and team in SIDE:
            roster[SIDE[team]].add(str(tid))
            rows[frame][SIDE[team]].add(str(tid))
            if np.isfinite(xy).all():
                players[frame][SIDE[team]][str(tid)] = (float(xy[0]), float(xy[1]))
    return players, ball, rows, roster


def _load_ss(folder: Path, **kwargs):
    return secondspectrum.load(
        meta_data=folder / "secondspectrum_meta.xml",
        raw_data=folder / "secondspectrum_tracking.jsonl",
        **kwargs,
    )


def test_secondspectrum_loads_in_kloppy_position_for_position(gappy_run, tmp_path):
    match = read_match(gappy_run)
    written = export_match(match, "secondspectrum", tmp_path)
    assert [p.name for p in written] == ["secondspectrum_meta.xml", "secondspectrum_tracking.jsonl"]
    players, ball, rows, _ = _truth(gappy_run)

    ds = _load_ss(tmp_path, coordinates="secondspectrum")
    assert ds.metadata.frame_rate == 25
    dims = ds.metadata.pitch_dimensions
    assert (dims.pitch_length, dims.pitch_width) == (105, 68)
    assert (dims.x_dim.min, dims.x_dim.max) == (-52.5, 52.5)
    assert (dims.y_dim.min, dims.y_dim.max) == (-34, 34)
    home, away = ds.metadata.teams
    assert (home.team_id, away.team_id) == ("home", "away")
    mapped = {side: {tid for f in players.values() for tid in f[side]} for side in ("home", "away")}
    assert {p.player_id for p in home.players} == mapped["home"]
    assert {p.player_id for p in away.players} == mapped["away"]
    assert len(ds.records) == len(match.frames)

    for rec in ds.records:
        frame = match.frames[rec.frame_id]
        assert rec.timestamp.total_seconds() == pytest.approx(rec.frame_id / 25)
        for side in ("home", "away"):
            # kloppy's Second Spectrum y points to the far touchline: tracks.csv's is −y.
            got = {
                p.player_id: (d.coordinates.x, -d.coordinates.y)
                for p, d in rec.players_data.items()
                if p.team.ground.value == side
            }
            want = players[frame][side]
            assert set(got) == set(want), (frame, side)
            for tid, xy in want.items():
                assert np.allclose(got[tid], xy, atol=TOL), (frame, tid)
        if ball[frame] is None:
            assert rec.ball_coordinates is None, frame
        else:
            b = rec.ball_coordinates
            assert np.allclose((b.x, -b.y), ball[frame], atol=TOL), frame

    # The match figures' possession travels too: kloppy's ball-owning team is it, frame by frame.
    from portfolio_ml_footai.analytics.possession import possession

    owner = possession(match).team
    assert (owner >= 0).sum() > 10
    for rec in ds.records:
        if owner[rec.frame_id] >= 0:
            assert rec.ball_owning_team.team_id == ("home", "away")[owner[rec.frame_id]]

    # Missing is missing: the uncalibrated frames have nobody and no ball, not zeros.
    for rec in ds.records:
        if match.frames[rec.frame_id] in GAP:
            assert not rec.players_data and rec.ball_coordinates is None
    at40 = next(r for r in ds.records if match.frames[r.frame_id] == UNMAPPED_AT)
    present = {p.player_id for p in at40.players_data}
    assert len((rows[UNMAPPED_AT]["home"] | rows[UNMAPPED_AT]["away"]) - present) == 1
    assert present == set(players[UNMAPPED_AT]["home"]) | set(players[UNMAPPED_AT]["away"])

    # kloppy's own 0–1 pitch (origin top left, y down): tracks.csv shifted and scaled.
    norm = _load_ss(tmp_path)
    rec = norm.records[0]
    for p, d in rec.players_data.items():
        x, y = players[match.frames[0]][p.team.ground.value][p.player_id]
        assert np.allclose((d.coordinates.x, d.coordinates.y), ((x + 52.5) / 105, (y + 34) / 68))


def _cdf_issues(path: Path) -> list[str]:
    """Every complaint of the CDF tracking validator over the whole file (soft mode: all of
    them, as warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cdf.TrackingSchemaValidator().validate_schema(sample=path, mode="soft", limit=None)
    return [str(w.message) for w in caught]


def test_cdf_validates_and_matches_the_tracks(gappy_run, tmp_path):
    match = read_match(gappy_run)
    meta_path, tracking_path = export_match(match, "cdf", tmp_path, match_id="pan_clip")
    assert (meta_path.name, tracking_path.name) == ("cdf_meta.json", "cdf_tracking.jsonl")
    players, ball, _, roster = _truth(gappy_run)
    lines = [json.loads(line) for line in tracking_path.read_text().splitlines()]
    assert len(lines) == len(match.frames)

    # The meta data passes the strictest mode (unknown keys are errors too).
    cdf.MetaSchemaValidator().validate_schema(sample=meta_path, mode="extreme")
    # Every line meets the tracking schema itself …
    schema = cdf.TrackingSchemaValidator().validator
    for line in lines:
        assert not list(schema.iter_errors(line))
    # … and the validator's only complaint over the whole file (frame ids from 0, timestamps
    # in order, snake_case, unknown keys, coordinate ranges) is its extra check that x and y
    # are numbers, which contradicts the schema's "null when not captured" for the ball.
    no_ball = {i + 1 for i, f in enumerate(match.frames) if ball[f] is None}
    issues = _cdf_issues(tracking_path)
    pattern = re.compile(r"Coordinate '([xy])' must be a number at path '.*/line_(\d+)\.ball\.\1'")
    found = [pattern.fullmatch(m) for m in issues]
    assert all(found), [m for m, f in zip(issues, found, strict=True) if not f]
    assert {int(f.group(2)) for f in found if f} == no_ball

    meta = json.loads(meta_path.read_text())
    assert meta["venue"]["pitch_length"] == 105 and meta["venue"]["pitch_width"] == 68
    assert meta["meta"]["tracking"]["fps"] == 25
    assert meta["match"]["id"] == "pan_clip"
    for side in ("home", "away"):
        assert {p["id"] for p in meta["teams"][side]["players"]} == roster[side]
    (period,) = meta["match"]["periods"]
    assert (period["frame_id_start"], period["frame_id_end"]) == (0, len(match.frames) - 1)
    # Standardised direction: home attacks +x; a half turn when home defends the right goal.
    sign = 1.0 if period["play_direction"] == "left_right" else -1.0

    zero = datetime(1970, 1, 1, tzinfo=UTC)
    for i, line in enumerate(lines):
        frame = match.frames[i]
        assert line["frame_id"] == i
        stamp = datetime.fromisoformat(line["timestamp"])
        assert stamp - zero == timedelta(seconds=frame / 25)
        for side in ("home", "away"):
            got = {p["id"]: (sign * p["x"], -sign * p["y"]) for p in line["teams"][side]["players"]}
            want = players[frame][side]
            assert set(got) == set(want), (frame, side)
            for tid, xy in want.items():
                assert np.allclose(got[tid], xy, atol=TOL), (frame, tid)
        b = line["ball"]
        assert b["z"] is None
        if ball[frame] is None:
            assert b["x"] is None and b["y"] is None
        else:
            assert np.allclose((sign * b["x"], -sign * b["y"]), ball[frame], atol=TOL)
        if frame in GAP:
            assert not line["teams"]["home"]["players"] and not line["teams"]["away"]["players"]


def test_run_export_writes_what_export_writes(run_dir, tmp_path):
    written = sorted(p.name for p in (run_dir / "export").iterdir())
    assert written == sorted(
        f"{prefix}_{name}"
        for prefix, names in (
            ("secondspectrum", ("meta.xml", "tracking.jsonl")),
            ("cdf", ("meta.json", "tracking.jsonl")),
        )
        for name in names
    )
    out = tmp_path / run_dir.name  # the match id is the run folder's name
    for fmt in FORMATS:
        res = invoke("export", run_dir, "--format", fmt, "--out", out)
        assert res.exit_code == 0, res.output
        assert fmt in res.output
    for name in written:
        assert (out / name).read_bytes() == (run_dir / "export" / name).read_bytes(), name
    assert not [p for p in out.iterdir() if ".part" in p.name]


def _frame(rows: list[tuple[int, int, int, float, tuple[float, float]]]) -> Detections:
    """(class, track id, team, score, pitch xy) rows as one frame's detections."""
    n = len(rows)
    return Detections(
        np.tile([10.0, 10.0, 20.0, 40.0], (n, 1)),
        np.array([r[0] for r in rows]),
        np.array([r[3] for r in rows]),
        track_id=np.array([r[1] for r in rows]),
        team=np.array([r[2] for r in rows]),
        pitch_xy=np.array([r[4] for r in rows], float),
    )


def test_who_goes_where(tmp_path):
    """Keepers play for their team, referees are officials (CDF) or left out (Second
    Spectrum), a player without a team is left out, the ball with a position wins."""
    nan = (np.nan, np.nan)
    match = Match(
        12.5,
        (960, 540),
        (0, 2),
        (
            _frame(
                [
                    (GOALKEEPER, 5, 0, 0.9, (-50.0, 1.0)),
                    (PLAYER, 6, 1, 0.9, (10.0, 5.0)),
                    (PLAYER, 7, -1, 0.9, (1.0, 1.0)),
                    (REFEREE, 9, -1, 0.9, (0.0, -2.0)),
                    (BALL, -1, -1, 0.9, nan),
                    (BALL, -1, -1, 0.4, (3.0, 4.0)),
                ]
            ),
            _frame([(PLAYER, 6, 1, 0.9, nan), (BALL, -1, -1, 0.9, nan)]),
        ),
        (np.eye(3), None),
        team_colours=((40, 213, 235), (238, 239, 236)),
    )
    export_match(match, "secondspectrum", tmp_path)
    ds = _load_ss(tmp_path, coordinates="secondspectrum")
    assert ds.metadata.frame_rate == 12  # the format's rate is a whole number
    first, second = ds.records
    assert {p.player_id: p.team.team_id for p in first.players_data} == {"5": "home", "6": "away"}
    assert (first.ball_coordinates.x, first.ball_coordinates.y) == (3.0, -4.0)
    assert not second.players_data and second.ball_coordinates is None
    assert second.timestamp.total_seconds() == pytest.approx(2 / 25)  # video time, --stride 2

    _, tracking = export_match(match, "cdf", tmp_path)
    meta = json.loads((tmp_path / "cdf_meta.json").read_text())
    assert meta["match"]["periods"][0]["play_direction"] == "left_right"  # home keeper on the left
    assert meta["officials"] == [{"id": "9"}]
    assert meta["teams"]["home"]["jersey_colour"] == "#ebd528"
    assert [p["id"] for p in meta["teams"]["away"]["players"]] == ["6"]
    one, two = (json.loads(line) for line in tracking.read_text().splitlines())
    assert one["officials"] == [{"id": "9", "x": 0.0, "y": 2.0}]
    assert one["teams"]["home"]["players"] == [{"id": "5", "x": -50.0, "y": -1.0}]
    assert one["ball"] == {"x": 3.0, "y": -4.0, "z": None}
    assert two["teams"]["away"]["players"] == [] and two["ball"]["x"] is None
    assert two["timestamp"] == "1970-01-01T00:00:00.080Z"


def test_bad_inputs(run_dir, tmp_path):
    _one_line_error(
        invoke("export", tmp_path / "nope", "--format", "cdf", "--out", tmp_path / "o"),
        "not found",
    )
    _one_line_error(
        invoke("export", tmp_path, "--format", "cdf", "--out", tmp_path / "o"),
        "not a `footai run` output folder",
    )
    _one_line_error(
        invoke("export", run_dir, "--format", "tracab", "--out", tmp_path / "o"),
        "unknown export format",
        "secondspectrum",
    )
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    _one_line_error(
        invoke("export", run_dir, "--format", "cdf", "--out", a_file), "must be a folder"
    )
    # `run --export` checks the format before analysing anything.
    _one_line_error(
        invoke("run", tmp_path / "nope.mp4", "--out", tmp_path / "o", "--export", "csv"),
        "unknown export format",
    )
