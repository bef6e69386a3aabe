"""Turning an `Analysis` into files: tracks.csv, tactical map, heatmaps, summary.json.

Per-track decisions that need the whole run (team and role by vote, smoothed positions) are made
here, after the pass over the video, so that the CSV never flips a player's team mid-track.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from portfolio_ml_core.fsutil import atomic_path, write_image_atomic, write_json_atomic
from portfolio_ml_core.video import VideoSink, VideoSource

from . import pitch, render
from .calibration import apply_h
from .kinematics import motion_stats, smooth_track
from .labels import TrackLabel, label_tracks
from .pipeline import Analysis, RunOptions
from .stitching import fill_gaps, stitch
from .tracks_io import COLUMNS, format_row

OFF_PITCH_M = 6.0  # positions further outside the lines are dropped as errors


def smoothed_positions(
    a: Analysis, window_s: float = 0.5
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """key → (frames, smoothed pitch xy) for confirmed tracks."""
    raw: dict[int, tuple[list[int], list[np.ndarray]]] = {}
    for p in a.players:
        if p.key in a.track_ids and p.pitch is not None:
            f, xy = raw.setdefault(p.key, ([], []))
            f.append(p.frame)
            xy.append(p.pitch)
    window = max(1, round(window_s * a.fps)) * a.frame_step
    out = {}
    for key, (f, xy) in raw.items():
        fr = np.array(f)
        pts = np.array(xy, dtype=np.float64)
        # Nobody stands beyond the advertising boards: such a point is a homography error.
        off = (np.abs(pts[:, 0]) > pitch.HALF_L + OFF_PITCH_M) | (
            np.abs(pts[:, 1]) > pitch.HALF_W + OFF_PITCH_M
        )
        pts[off] = np.nan
        out[key] = (fr, smooth_track(fr, pts, window))
    return out


def write_tracks_csv(
    path: Path,
    a: Analysis,
    labels: dict[int, TrackLabel],
    smooth: dict[int, tuple[np.ndarray, np.ndarray]],
) -> int:
    lookup: dict[tuple[int, int], np.ndarray] = {}
    for key, (fr, xy) in smooth.items():
        for f, p in zip(fr, xy, strict=True):
            lookup[(key, int(f))] = p
    rows = []
    for p in a.players:
        lab = labels.get(p.key)
        if lab is None:
            continue
        found = lookup.get((p.key, p.frame))
        pxy = (
            (float(found[0]), float(found[1]))
            if found is not None and np.isfinite(found).all()
            else None
        )
        rows.append(
            (
                p.frame,
                lab.track_id,
                format_row(p.frame, lab.track_id, lab.role, lab.team, tuple(p.box), p.score, pxy),
            )
        )
    for b in a.balls:
        r = b.radius
        box = (b.centre[0] - r, b.centre[1] - r, 2 * r, 2 * r)
        pxy = (float(b.pitch[0]), float(b.pitch[1])) if b.pitch is not None else None
        rows.append((b.frame, 0, format_row(b.frame, 0, "ball", -1, box, b.score, pxy)))
    rows.sort(key=lambda r: (r[0], r[1]))
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        w.writerows(r[2] for r in rows)
    return len(rows)


def team_colour(labels: dict[int, TrackLabel], a: Analysis, key: int) -> tuple[int, int, int]:
    lab = labels.get(key)
    if lab is None or lab.team < 0:
        return render.REFEREE
    if a.team_colours and lab.role == "player":
        return a.team_colours[lab.team]
    return (0, 200, 255) if lab.team == 0 else (255, 120, 0)


def write_tactical(out_dir: Path, a: Analysis, labels, smooth, write_video: bool) -> None:
    canvas = render.pitch_canvas()
    per_frame: dict[int, list] = {}
    for key, (fr, xy) in smooth.items():
        colour = team_colour(labels, a, key)
        tid = labels[key].track_id if key in labels else 0
        for f, p in zip(fr, xy, strict=True):
            if np.isfinite(p).all():
                per_frame.setdefault(int(f), []).append((float(p[0]), float(p[1]), colour, tid))
    balls = {
        b.frame: (float(b.pitch[0]), float(b.pitch[1])) for b in a.balls if b.pitch is not None
    }
    w, h = a.size
    corners = np.array([[0, h * 0.05], [w, h * 0.05], [w, h], [0, h]], float)
    last = canvas.image.copy()
    sink = (
        VideoSink(
            out_dir / "tactical_map.mp4", a.fps, (canvas.image.shape[1], canvas.image.shape[0])
        )
        if write_video
        else None
    )
    try:
        for f in a.frames:
            hm = a.homographies.get(f)
            view = _footprint(hm, corners) if hm is not None else None
            last = render.tactical_frame(canvas, per_frame.get(f, []), balls.get(f), view)
            if sink is not None:
                sink.write(last)
        if sink is not None:
            sink.close()
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    # The still: the middle frame of the clip, the moment most likely to show a full shape.
    mid = a.frames[len(a.frames) // 2] if a.frames else 0
    hm = a.homographies.get(mid)
    still = render.tactical_frame(
        canvas,
        per_frame.get(mid, []),
        balls.get(mid),
        _footprint(hm, corners) if hm is not None else None,
    )
    write_image_atomic(out_dir / "tactical_map.png", still if a.frames else last)
    for team in (0, 1):
        pts = [
            xy
            for key, (_, xy) in smooth.items()
            if key in labels and labels[key].team == team and labels[key].role == "player"
        ]
        allpts = np.concatenate(pts) if pts else np.empty((0, 2))
        write_image_atomic(
            out_dir / f"heatmap_team{team}.png", render.heatmap(canvas, allpts, f"team {team}")
        )


def _footprint(h: np.ndarray, corners: np.ndarray) -> np.ndarray | None:
    try:
        g = apply_h(np.linalg.inv(h), corners)
    except np.linalg.LinAlgError:
        return None
    g[:, 0] = np.clip(g[:, 0], -pitch.HALF_L - 4, pitch.HALF_L + 4)
    g[:, 1] = np.clip(g[:, 1], -pitch.HALF_W - 4, pitch.HALF_W + 4)
    return g


def _hex(bgr: tuple[int, int, int]) -> str:
    b, g, r = bgr
    return f"#{r:02x}{g:02x}{b:02x}"


def summary(a: Analysis, labels, smooth, video: str) -> dict[str, Any]:
    players = []
    for key, lab in sorted(labels.items(), key=lambda kv: kv[1].track_id):
        fr, xy = smooth.get(key, (np.empty(0), np.empty((0, 2))))
        m = motion_stats(fr, xy, a.fps)
        players.append(
            {
                "track_id": lab.track_id,
                "role": lab.role,
                "team": lab.team,
                "frames": int(sum(1 for p in a.players if p.key == key)),
                "distance_m": round(m.distance_m, 1),
                "top_speed_kmh": round(m.top_speed_ms * 3.6, 1),
            }
        )
    n = len(a.frames)
    return {
        "video": video,
        "frames": n,
        "first_frame": a.frames[0] if n else None,
        "last_frame": a.frames[-1] if n else None,
        "video_fps": round(a.fps, 3),
        "processing_fps": round(n / a.processing_seconds, 1) if a.processing_seconds > 0 else None,
        "processing_seconds": round(a.processing_seconds, 2),
        "frame_size": list(a.size),
        "calibration": {"method": a.calibration_method, "detail": a.calibration_detail},
        "team_colours": {f"team{i}": _hex(c) for i, c in enumerate(a.team_colours)},
        "tracks": len(labels),
        "players_per_team": {
            f"team{t}": sum(1 for lab in labels.values() if lab.team == t and lab.role == "player")
            for t in (0, 1)
        },
        "ball_frames": len(a.balls),
        "warnings": a.warnings,
        "per_track": players,
    }


def write_annotated(
    path: Path, video: str, opts: RunOptions, a: Analysis, labels: dict[int, TrackLabel]
) -> None:
    """annotated.mp4, drawn after the run from the same labels as tracks.csv (one truth).

    The video is decoded a second time instead of keeping every frame in memory.
    """
    by_frame: dict[int, list[render.DrawnPlayer]] = {}
    for p in a.players:
        lab = labels.get(p.key)
        if lab is None:
            continue
        by_frame.setdefault(p.frame, []).append(
            render.DrawnPlayer(lab.track_id, tuple(p.box), team_colour(labels, a, p.key), lab.role)
        )
    balls = {b.frame: b.centre for b in a.balls}
    with VideoSource(video) as source, VideoSink(path, a.fps, a.size) as sink:
        for fr in source.frames(
            start_s=opts.start_s, max_frames=opts.max_frames, stride=opts.stride
        ):
            sink.write(render.annotate(fr.image, by_frame.get(fr.index, []), balls.get(fr.index)))


def write_outputs(
    out_dir: Path, a: Analysis, video: str, write_video: bool, opts: RunOptions | None = None
) -> dict[str, Any]:
    a = fill_gaps(stitch(a))
    labels = label_tracks(a)
    smooth = smoothed_positions(a)
    write_tracks_csv(out_dir / "tracks.csv", a, labels, smooth)
    if write_video:
        write_annotated(out_dir / "annotated.mp4", video, opts or RunOptions(), a, labels)
    write_tactical(out_dir, a, labels, smooth, write_video)
    data = summary(a, labels, smooth, video)
    write_json_atomic(out_dir / "summary.json", data)
    return data
