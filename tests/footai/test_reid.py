"""The re-identification pass (`track.reid`) on hand-built tracklets, the ``player_id`` column of
tracks.csv, and physical figures per player."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from portfolio_ml_footai.analytics.physical import physical
from portfolio_ml_footai.detections import APPEARANCE_DIM, Detections
from portfolio_ml_footai.io.tracks_csv import COLUMNS, RUN_COLUMNS, read_tracks, write_tracks
from portfolio_ml_footai.match import Match, Rows
from portfolio_ml_footai.model.spec import PLAYER
from portfolio_ml_footai.track.reid import Views, reidentify

FPS = 25.0
SIZE = (1050, 680)
PX_PER_M = 10.0
SEEN_ALL = np.array([[PX_PER_M, 0, 52.5 * PX_PER_M], [0, PX_PER_M, 34 * PX_PER_M], [0, 0, 1]])
# The camera turned to the far right: only x in [30, 52.5] m is in the picture.
ZOOM = SIZE[0] / 22.5
LOOKING_AWAY = np.array([[ZOOM, 0, -30 * ZOOM], [0, PX_PER_M, 34 * PX_PER_M], [0, 0, 1]])
# Team-mates with looks of their own (Lab stripes: head, shirt, shorts, legs); they stand at
# x = 40 m, in every view, and teach the pass how much looks vary within one person.
MATES = {10: (40.0, -20.0), 11: (40.0, -5.0), 12: (40.0, 10.0), 13: (40.0, 25.0)}
SHIRT_SHORTS = [120.0, 150.0, 140.0, 60.0, 128.0, 128.0]


def _look(skin: float, hair: float, rng: np.random.Generator) -> np.ndarray:
    base = np.array([hair, 140.0, 150.0, *SHIRT_SHORTS, skin, 145.0, 150.0])
    return base + rng.normal(0, 2.0, APPEARANCE_DIM)


LOOKS = {"p": (170.0, 60.0), 10: (120.0, 40.0), 11: (200.0, 90.0), 12: (150.0, 30.0), 13: (90.0, 110.0)}  # fmt: skip


def _rows(
    pieces: list[tuple[int, int, range, tuple[float, float], str | int]], seed: int = 0
) -> Rows:
    """People rows: (track id, team, frames, pitch position, look key) per piece, plus the
    team-mates of team 0 in every frame."""
    rng = np.random.default_rng(seed)
    n_frames = max(max(r) for _, _, r, _, _ in pieces) + 1
    every = [(k, 0, range(n_frames), xy, k) for k, xy in MATES.items()]
    frame, tid, team, xy, look = [], [], [], [], []
    for key, t, frames, pos, who in [*pieces, *every]:
        for f in frames:
            frame.append(f)
            tid.append(key)
            team.append(t)
            xy.append(pos)
            look.append(_look(*LOOKS[who], rng) if f % 2 else np.full(APPEARANCE_DIM, np.nan))
    xy_a = np.array(xy)
    px = xy_a * PX_PER_M + [525, 340]
    boxes = np.c_[px[:, 0] - 8, px[:, 1] - 40, px[:, 0] + 8, px[:, 1]]
    dets = Detections(
        boxes,
        np.full(len(frame), PLAYER),
        np.full(len(frame), 0.9),
        track_id=np.array(tid),
        team=np.array(team),
        pitch_xy=xy_a,
        appearance=np.array(look),
    )
    return Rows(np.array(frame), dets)


def _views(n_frames: int, away: range = range(0)) -> Views:
    hs = tuple(LOOKING_AWAY if f in away else SEEN_ALL for f in range(n_frames))
    return Views(np.arange(n_frames) / FPS, hs, SIZE)


def _players(rows: Rows, views: Views) -> dict[int, int]:
    out, identities = reidentify(rows, views, FPS)
    ids = {int(t): int(p) for t, p in zip(out.track_id, out.detections.player_id, strict=True)}
    assert ids == identities.player_of
    return ids


def test_two_halves_of_one_person_across_a_gap_are_joined():
    """He leaves while the camera looks away for 3 s, and comes back 2 m on: one player."""
    rows = _rows(
        [(1, 0, range(0, 100), (-10.0, 0.0), "p"), (2, 0, range(175, 275), (-8.0, 1.0), "p")]
    )
    players = _players(rows, _views(275, away=range(100, 175)))
    assert players[2] == players[1] == 1
    assert all(players[k] == k for k in MATES)


def test_nothing_is_joined_across_a_shot_change():
    """The same two halves, but a new shot begins in the gap: another moment of the match,
    where nothing says where he had gone."""
    rows = _rows(
        [(1, 0, range(0, 100), (-10.0, 0.0), "p"), (2, 0, range(175, 275), (-8.0, 1.0), "p")]
    )
    views = _views(275, away=range(100, 175))
    cut = Views(views.times, views.homographies, views.size, shot_starts=(150 / FPS,))
    assert _players(rows, cut)[2] == 2
    later = Views(views.times, views.homographies, views.size, shot_starts=(260 / FPS,))
    assert _players(rows, later)[2] == 1  # a shot change elsewhere changes nothing


def test_tracklets_that_overlap_in_time_are_never_joined():
    rows = _rows(
        [(1, 0, range(0, 100), (-10.0, 0.0), "p"), (2, 0, range(95, 200), (-9.0, 0.0), "p")]
    )
    assert _players(rows, _views(200))[2] == 2


def test_different_teams_are_never_joined():
    rows = _rows(
        [(1, 0, range(0, 100), (-10.0, 0.0), "p"), (2, 1, range(175, 275), (-8.0, 1.0), "p")]
    )
    assert _players(rows, _views(275, away=range(100, 175)))[2] == 2


def test_an_implausible_jump_is_never_joined():
    """60 m in 3 s: no player runs that."""
    rows = _rows(
        [(1, 0, range(0, 100), (-40.0, 0.0), "p"), (2, 0, range(175, 275), (20.0, 0.0), "p")]
    )
    assert _players(rows, _views(275, away=range(100, 175)))[2] == 2


def test_a_look_alike_where_the_camera_watched_is_not_joined():
    """The camera kept every place he could have reached in view for the 3 s and nobody was
    there: the look-alike who then appears is someone else."""
    rows = _rows(
        [(1, 0, range(0, 100), (-10.0, 0.0), "p"), (2, 0, range(175, 275), (-8.0, 1.0), "p")]
    )
    assert _players(rows, _views(275))[2] == 2


def test_a_look_alike_far_away_is_not_joined_to_the_near_one():
    """Two candidates after the gap, with the same look: the one where he was heading is him."""
    rows = _rows(
        [
            (1, 0, range(0, 100), (-10.0, 0.0), "p"),
            (2, 0, range(175, 275), (-9.0, 0.5), "p"),
            (3, 0, range(175, 275), (5.0, 12.0), "p"),
        ]
    )
    players = _players(rows, _views(275, away=range(100, 175)))
    assert players[2] == 1 and players[3] == 3


def test_two_equally_good_candidates_are_both_left_alone():
    """Two look-alikes reappear side by side: either could be him, so neither is joined."""
    rows = _rows(
        [
            (1, 0, range(0, 100), (-10.0, 0.0), "p"),
            (2, 0, range(175, 275), (-9.0, 1.0), "p"),
            (3, 0, range(175, 275), (-9.0, -1.0), "p"),
        ]
    )
    players = _players(rows, _views(275, away=range(100, 175)))
    assert players[2] == 2 and players[3] == 3


def _match(rows: Rows, n_frames: int) -> Match:
    frames = tuple(range(n_frames))
    m = Match(FPS, SIZE, frames, tuple(Detections.empty() for _ in frames), (SEEN_ALL,) * n_frames)
    return m.with_rows(rows)


def test_tracks_csv_carries_player_id_and_reads_back_exactly(tmp_path: Path):
    rows = _rows(
        [(1, 0, range(0, 100), (-10.0, 0.0), "p"), (2, 0, range(175, 275), (-8.0, 1.0), "p")]
    )
    rows, _ = reidentify(rows, _views(275, away=range(100, 175)), FPS)
    match = _match(rows, 275)
    path = tmp_path / "tracks.csv"
    write_tracks(path, match)
    with path.open(newline="") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == RUN_COLUMNS
    table = read_tracks(path)
    assert set(table.player_id[table.track_id == 2]) == {1}
    assert set(table.player_id[table.track_id == 11]) == {11}
    # A file of an older run (no player_id column): one person per track.
    old = tmp_path / "old.csv"
    with path.open(newline="") as src, old.open("w", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(reader)
    legacy = read_tracks(old)
    assert (legacy.player_id == legacy.track_id).all()


def test_a_run_folder_with_player_ids_round_trips(tmp_path: Path):
    from portfolio_ml_core.fsutil import write_json_atomic
    from portfolio_ml_footai.io.run_dir import read_match, write_homographies

    rows = _rows(
        [(1, 0, range(0, 100), (-10.0, 0.0), "p"), (2, 0, range(175, 275), (-8.0, 1.0), "p")]
    )
    rows, _ = reidentify(rows, _views(275, away=range(100, 175)), FPS)
    match = _match(rows, 275)
    write_tracks(tmp_path / "tracks.csv", match)
    write_homographies(tmp_path / "homographies.npz", match)
    write_json_atomic(tmp_path / "summary.json", {"video_fps": FPS, "frame_size": list(SIZE)})
    again = read_match(tmp_path)
    assert set(again.rows().detections.player_id[again.rows().track_id == 2]) == {1}
    write_tracks(tmp_path / "again.csv", again)
    assert (tmp_path / "again.csv").read_text() == (tmp_path / "tracks.csv").read_text()


def test_summary_lists_each_player_with_his_tracks_and_time_seen():
    from portfolio_ml_footai.io.outputs import summary

    rows = _rows([(1, 0, range(0, 20), (-10.0, 0.0), "p"), (2, 0, range(40, 60), (-9.0, 0.0), "p")])
    person = np.where(rows.track_id == 2, 1, rows.track_id)
    data = summary(_match(rows.with_(player_id=person), 60), "clip.mp4")
    players = {p["player_id"]: p for p in data["players"]}
    assert players[1]["track_ids"] == [1, 2] and players[1]["seconds_seen"] == 40 / FPS
    assert players[11]["track_ids"] == [11] and players[11]["seconds_seen"] == 60 / FPS
    assert {t["track_id"]: t["player_id"] for t in data["per_track"]}[2] == 1
    assert data["players_per_team"] == {"team0": 5, "team1": 0}  # persons, not tracks


def test_physical_figures_per_player_with_the_seconds_seen():
    """One player in two tracks (4 s + 4 s, 3 s out of view between) and one seen for 2 s:
    the first gets figures over his 8 s, the gap counting for nothing; the second none."""
    walk = 1.5  # m/s along x
    pieces = []
    for key, frames, x0 in ((1, range(0, 100), -20.0), (2, range(175, 275), -12.0)):
        pieces.append((key, frames, x0))
    frame, tid, xy = [], [], []
    for key, frames, x0 in pieces:
        for i, f in enumerate(frames):
            frame.append(f)
            tid.append(key)
            xy.append((x0 + walk * i / FPS, 0.0))
    for f in range(50):
        frame.append(f)
        tid.append(5)
        xy.append((10.0, 10.0))
    n = len(frame)
    xy_a = np.array(xy)
    dets = Detections(
        np.tile([100.0, 100.0, 110.0, 130.0], (n, 1)),
        np.full(n, PLAYER),
        np.full(n, 0.9),
        track_id=np.array(tid),
        team=np.zeros(n, int),
        pitch_xy=xy_a,
        player_id=np.where(np.array(tid) == 2, 1, np.array(tid)),
    )
    match = _match(Rows(np.array(frame), dets), 275)
    ph = physical(match)
    (p,) = ph.players
    assert (p.player_id, p.track_ids, p.seconds) == (1, (1, 2), 8.0)
    # 4 s at 1.5 m/s twice: 12 m, not the 8 m + 3 s "walk" the gap would add if it counted.
    assert p.distance_m == pytest.approx(2 * 99 * walk / FPS, abs=0.05)
    assert p.top_speed_kmh == pytest.approx(walk * 3.6, abs=0.05)
    assert [(s.player_id, s.track_ids, s.seconds) for s in ph.too_short] == [(5, (5,), 2.0)]
    # summary.json says the same: figures for player 1, nulls for the 2-s player and for each
    # 4-s track on its own (a fragment's "top speed" is not a figure), seconds for all.
    from portfolio_ml_footai.io.outputs import summary

    data = summary(match, "clip.mp4")
    players = {q["player_id"]: q for q in data["players"]}
    assert players[1]["seconds_seen"] == 8.0
    assert players[1]["distance_m"] == pytest.approx(p.distance_m, abs=0.05)
    assert players[1]["top_speed_kmh"] == pytest.approx(p.top_speed_kmh, abs=0.05)
    assert players[5]["seconds_seen"] == 2.0
    assert players[5]["distance_m"] is None and players[5]["top_speed_kmh"] is None
    tracks = {q["track_id"]: q for q in data["per_track"]}
    assert tracks[1]["seconds_seen"] == 4.0 and tracks[1]["top_speed_kmh"] is None


def test_no_pitch_in_view_or_nobody_leaves_every_track_its_own_player():
    """Without a homography nothing is mapped, so nothing can be judged: no join, no crash."""
    rows = _rows(
        [(1, 0, range(0, 100), (-10.0, 0.0), "p"), (2, 0, range(175, 275), (-8.0, 1.0), "p")]
    )
    unmapped = rows.with_(pitch_xy=np.full((len(rows), 2), np.nan))
    no_views = Views(np.arange(275) / FPS, (None,) * 275, SIZE)
    assert all(k == p for k, p in _players(unmapped, no_views).items())
    empty, identities = reidentify(Rows(np.zeros(0, np.int64), Detections.empty()), no_views, FPS)
    assert len(empty) == 0 and identities.player_of == {} and identities.joins == ()


def test_exports_key_players_by_player_id(tmp_path: Path):
    import json

    from portfolio_ml_footai.io.export import export_match

    rows = _rows(
        [(1, 0, range(0, 100), (-10.0, 0.0), "p"), (2, 0, range(175, 275), (-8.0, 1.0), "p")]
    )
    rows, _ = reidentify(rows, _views(275, away=range(100, 175)), FPS)
    export_match(_match(rows, 275), "secondspectrum", tmp_path)
    lines = (tmp_path / "secondspectrum_tracking.jsonl").read_text().splitlines()
    ids = {p["playerId"] for line in lines for p in json.loads(line)["homePlayers"]}
    assert ids == {"1", "10", "11", "12", "13"}  # track 2 is player 1
