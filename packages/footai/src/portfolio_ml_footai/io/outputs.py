"""A finished `Match` as files: tracks.csv, homographies.npz, annotated.mp4, tactical map,
heatmaps, match_stats.csv, summary.json.

Every file reads the same match, so they cannot disagree about who is who; each is written
atomically (temporary file, then rename).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from portfolio_ml_core.fsutil import atomic_path, write_image_atomic, write_json_atomic
from portfolio_ml_core.video import VideoSink, VideoSource

from ..analytics import FRAME_COLUMNS, MatchFigures, match_figures
from ..analytics.common import gap_limit
from ..analytics.physical import MIN_SECONDS, track_physical
from ..analytics.pitch_control import cell_centres, frame_control
from ..calibrate.geometry import view_footprint
from ..detections import Detections
from ..match import Match, Rows
from ..model.spec import CLASSES, PLAYER
from ..render import figures, tactical
from ..render.annotate import annotate, hex_colour, person_colour, person_ids, track_label
from .run_dir import HOMOGRAPHIES, write_homographies
from .tracks_csv import write_tracks


def write_tactical_video(out_dir: Path, match: Match) -> None:
    """tactical_map.mp4, drawn with OpenCV: a frame costs 1 ms, not matplotlib's 100."""
    canvas = tactical.pitch_canvas()

    def picture(dets, hm) -> np.ndarray:
        people, colours, ball = _on_pitch(dets, match.team_colours)
        dots = [
            (float(x), float(y), c, int(i))
            for (x, y), c, i in zip(people.pitch_xy, colours, person_ids(people), strict=True)
        ]
        ball_xy = (float(ball[0]), float(ball[1])) if ball is not None else None
        view = view_footprint(hm, match.size) if hm is not None else None
        return tactical.tactical_frame(canvas, dots, ball_xy, view)

    size = (canvas.image.shape[1], canvas.image.shape[0])
    with VideoSink(out_dir / "tactical_map.mp4", match.fps, size) as sink:
        for _, dets, hm in match:
            sink.write(picture(dets, hm))


def write_pictures(out_dir: Path, match: Match) -> None:
    """With mplsoccer: tactical_map.png (the middle frame), one heatmap per team and
    pitch_control.png."""
    mid = len(match.frames) // 2  # the middle frame: the moment most likely to show a full shape
    write_image_atomic(out_dir / "tactical_map.png", _still(match, mid))
    rows = match.rows()
    d = rows.detections
    for team in (0, 1):
        mine = rows.people & (d.team == team) & (d.class_id == PLAYER)
        title = f"team {team}: where its players stood ({_seconds(match)})"
        write_image_atomic(
            out_dir / f"heatmap_team{team}.png", figures.heatmap(d.pitch_xy[mine], title)
        )
    write_image_atomic(out_dir / "pitch_control.png", _control_picture(match, mid))


def _seconds(match: Match) -> str:
    return f"{len(match.frames) / match.fps:.0f} s" if match.fps > 0 else "?"


def _on_pitch(
    dets: Detections, team_colours: tuple[tuple[int, int, int], ...]
) -> tuple[Detections, list[tuple[int, int, int]], np.ndarray | None]:
    """A frame's people with a pitch position, their colours, and the ball's position (or None)."""
    people = dets.persons
    people = people[np.isfinite(people.pitch_xy).all(axis=1)]
    colours = [
        person_colour(int(r), int(t), team_colours)
        for r, t in zip(people.class_id, people.team, strict=True)
    ]
    balls = dets.balls.pitch_xy
    balls = balls[np.isfinite(balls).all(axis=1)]
    return people, colours, (balls[0] if len(balls) else None)


def _still(match: Match, index: int) -> np.ndarray:
    if not match.frames:
        return figures.tactical_still(np.empty((0, 2)), [], [], None, None, "no frames")
    people, colours, ball = _on_pitch(match.detections[index], match.team_colours)
    hm = match.homographies[index]
    labels = [
        track_label(int(i), int(r))
        for i, r in zip(person_ids(people), people.class_id, strict=True)
    ]
    view = view_footprint(hm, match.size) if hm is not None else None
    title = f"frame {match.frames[index]}" + ("" if hm is not None else " (no homography)")
    return figures.tactical_still(
        people.pitch_xy, colours, labels, None if ball is None else ball[None], view, title
    )


def _control_picture(match: Match, index: int) -> np.ndarray:
    grid = frame_control(match, index) if match.frames else None
    if grid is None:
        x, y = cell_centres()
        empty = np.full((len(y), len(x)), 0.5)
        return figures.pitch_control(
            x,
            y,
            empty,
            np.empty((0, 2)),
            np.empty(0, int),
            match.team_colours,
            "pitch control: nobody mapped in the middle frame",
        )
    people = match.detections[index].persons
    share = grid.share[0]
    title = f"pitch control, frame {match.frames[index]}: team 0 {100 * share:.0f} % · team 1 {100 * (1 - share):.0f} %"
    return figures.pitch_control(
        grid.x, grid.y, grid.team0, people.pitch_xy, people.team, match.team_colours, title
    )


def write_annotated(
    path: Path, video: str, match: Match, start_s: float, max_frames: int | None, stride: int
) -> None:
    """annotated.mp4: the analysed frames, decoded a second time (not kept in memory), with
    the match drawn on them."""
    by_frame = dict(zip(match.frames, match.detections, strict=True))
    # Decoding runs ahead in a thread while frames are drawn here (both release the GIL). A
    # file that ends early was reported by the analysis' pass.
    with (
        VideoSource(video, prefetch=4, warn_short=False) as source,
        VideoSink(path, match.fps, match.size) as sink,
    ):
        for fr in source.frames(start_s=start_s, max_frames=max_frames, stride=stride):
            dets = by_frame.get(fr.index)
            if dets is not None:  # the decoded frame is ours: drawn on, not copied first
                annotate(fr.image, dets, match.team_colours, in_place=True)
            sink.write(fr.image)


def write_match_stats(path: Path, figures: MatchFigures) -> None:
    """match_stats.csv: one row per analysed frame (`analytics.FRAME_COLUMNS`), empty cells
    where a figure was not measurable."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(FRAME_COLUMNS)
        w.writerows(["" if v is None else v for v in row] for row in figures.frame_rows())


def summary(match: Match, video: str, figures: MatchFigures | None = None) -> dict[str, Any]:
    """summary.json's content; ``figures`` (computed when not given) fill its "match" section."""
    if figures is None:
        figures = match_figures(match)
    rows = match.rows()
    d = rows.detections
    persons = rows.player_ids
    per_track = []
    for tid, idx in sorted(rows.tracks().items()):
        role, team = int(d.class_id[idx[0]]), int(d.team[idx[0]])
        per_track.append(
            {
                "track_id": tid,
                "player_id": int(persons[idx[0]]),
                "role": CLASSES[role],
                "team": team,
                "frames": len(idx),
                **_physical_entry(match, rows, idx),
            }
        )
    players = [_player_entry(match, rows, pid, idx) for pid, idx in sorted(rows.players().items())]
    n = len(match.frames)
    return {
        "video": video,
        "detector": match.detector,
        "frames": n,
        "first_frame": match.frames[0] if n else None,
        "last_frame": match.frames[-1] if n else None,
        "video_fps": round(match.fps, 3),
        "processing_fps": round(n / match.processing_seconds, 1)
        if match.processing_seconds > 0
        else None,
        "processing_seconds": round(match.processing_seconds, 2),
        "frame_size": list(match.size),
        "calibration": {
            "method": match.calibration_method,
            "detail": match.calibration_detail,
            "segments": [s.to_json() for s in match.segments],
        },
        "team_colours": {f"team{i}": hex_colour(c) for i, c in enumerate(match.team_colours)},
        "tracks": len(per_track),
        "players": players,
        # Persons (player ids), not tracks: a player whose tracks were joined counts once.
        "players_per_team": {
            f"team{t}": sum(1 for p in players if p["team"] == t and p["role"] == "player")
            for t in (0, 1)
        },
        "ball_frames": sum(len(dets.balls) > 0 for dets in match.detections),
        "warnings": list(match.warnings),
        "per_track": per_track,
        "match": figures.to_json(),
    }


def _physical_entry(match: Match, rows: Rows, idx: np.ndarray) -> dict[str, Any]:
    """How long some rows of one person were seen (frames with a pitch position, as the match
    figures count it), and his distance covered and top speed (the match figures' speeds) —
    null below `MIN_SECONDS`: a fragment's "top speed" is one noisy step, not a figure."""
    d = rows.detections
    seen = idx[np.isfinite(d.pitch_xy[idx]).all(axis=1)]
    seconds = len(seen) / match.fps if match.fps > 0 else 0.0
    if seconds < MIN_SECONDS:
        return {"seconds_seen": round(seconds, 2), "distance_m": None, "top_speed_kmh": None}
    distance, top_kmh, _, _ = track_physical(
        rows.frame[seen] / match.video_fps, d.pitch_xy[seen], match.fps, gap_limit(match)
    )
    return {
        "seconds_seen": round(seconds, 2),
        "distance_m": round(distance, 1),
        "top_speed_kmh": round(top_kmh, 1),
    }


def _player_entry(match: Match, rows: Rows, player_id: int, idx: np.ndarray) -> dict[str, Any]:
    """One person of summary.json's "players": the tracks joined into him, how long he was seen
    and, when that is long enough, his distance and top speed."""
    d = rows.detections
    tracks = list(dict.fromkeys(int(k) for k in d.track_id[idx]))
    return {
        "player_id": player_id,
        "track_ids": tracks,
        "role": CLASSES[int(d.class_id[idx[0]])],
        "team": int(d.team[idx[0]]),
        "first_frame": int(rows.frame[idx[0]]),
        "last_frame": int(rows.frame[idx[-1]]),
        "frames": len(idx),
        **_physical_entry(match, rows, idx),
    }


def write_outputs(
    out_dir: Path,
    match: Match,
    video: str,
    write_video: bool,
    start_s: float = 0.0,
    max_frames: int | None = None,
    stride: int = 1,
    made_elsewhere: Callable[[], MatchFigures] | None = None,
) -> dict[str, Any]:
    """Every output file of ``footai run`` in ``out_dir``; returns summary.json's content.
    ``start_s``, ``max_frames`` and ``stride`` say which frames of ``video`` were analysed.

    ``made_elsewhere`` waits for the match figures and the mplsoccer pictures being made in
    another process (`io.figure_worker`), called once the videos are written; without it they
    are made here, afterwards."""
    write_tracks(out_dir / "tracks.csv", match)
    write_homographies(out_dir / HOMOGRAPHIES, match)
    if write_video:
        # The radar video beside the annotated one: each spends much of its time in OpenCV
        # drawing and in its ffmpeg pipe, which release the GIL.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="footai-radar") as pool:
            radar = pool.submit(write_tactical_video, out_dir, match)
            write_annotated(out_dir / "annotated.mp4", video, match, start_s, max_frames, stride)
            radar.result()
    if made_elsewhere is not None:
        figures = made_elsewhere()
    else:
        write_pictures(out_dir, match)
        figures = match_figures(match)
    write_match_stats(out_dir / "match_stats.csv", figures)
    data = summary(match, video, figures)
    write_json_atomic(out_dir / "summary.json", data)
    return data
