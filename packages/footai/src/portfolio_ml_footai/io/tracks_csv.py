"""The tracks CSV format shared by ``run`` (predictions), ``sample`` (ground truth) and ``eval``:
reading it, and writing a finished `Match` as one.

``COLUMNS`` are the ones every tracks file has. ``run`` writes `RUN_COLUMNS`: the same plus
``player_id``, the person (the tracks of one person joined by `track.reid`; the ball's is 0),
after ``track_id``. A file without it (ground truth, a run of an older version) reads as one
person per track.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.fsutil import atomic_path

from ..match import Match
from ..model.spec import BALL, CLASSES

COLUMNS = ("frame", "track_id", "role", "team", "x", "y", "w", "h", "score", "pitch_x", "pitch_y")
RUN_COLUMNS = (*COLUMNS[:2], "player_id", *COLUMNS[2:])
GT_COLUMNS = (*COLUMNS, "visibility")
ROLES = ("player", "goalkeeper", "referee", "ball")


@dataclass
class TrackTable:
    """Column arrays of a tracks file (pitch_x / pitch_y NaN where empty)."""

    frame: np.ndarray
    track_id: np.ndarray
    role: np.ndarray  # str
    team: np.ndarray
    box: np.ndarray  # (N, 4) x, y, w, h
    score: np.ndarray
    pitch: np.ndarray  # (N, 2)
    visibility: np.ndarray  # 1.0 when the file has no visibility column
    # The person of each row: the track id when the file has no player_id column (or when None
    # is given: a table built by hand).
    player_id: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.player_id is None:
            self.player_id = self.track_id.copy()

    def __len__(self) -> int:
        return len(self.frame)

    def subset(self, mask: np.ndarray) -> TrackTable:
        return TrackTable(
            self.frame[mask],
            self.track_id[mask],
            self.role[mask],
            self.team[mask],
            self.box[mask],
            self.score[mask],
            self.pitch[mask],
            self.visibility[mask],
            self.player_id[mask],
        )


def read_tracks(path: str | Path) -> TrackTable:
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"tracks file not found: {p}")
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise InputFileError(
                    f"{p} is not a tracks CSV (missing columns: {', '.join(missing)})"
                )
            rows = list(reader)
    except UnicodeDecodeError:
        raise InputFileError(f"{p} is not a text CSV file") from None

    def num(key: str, row: dict, line: int) -> float:
        value = (row.get(key) or "").strip()
        if value == "":
            return float("nan")
        try:
            return float(value)
        except ValueError:
            raise InputFileError(f"{p} line {line}: {key}={value!r} is not a number") from None

    n = len(rows)
    out = TrackTable(
        np.zeros(n, int),
        np.zeros(n, int),
        np.empty(n, dtype=object),
        np.zeros(n, int),
        np.zeros((n, 4)),
        np.zeros(n),
        np.full((n, 2), np.nan),
        np.ones(n),
        np.zeros(n, int),
    )
    for i, row in enumerate(rows):
        line = i + 2
        out.frame[i] = int(num("frame", row, line))
        out.track_id[i] = int(num("track_id", row, line))
        role = (row.get("role") or "").strip()
        if role not in ROLES:
            raise InputFileError(f"{p} line {line}: role {role!r} is not one of {', '.join(ROLES)}")
        out.role[i] = role
        out.team[i] = int(num("team", row, line))
        out.box[i] = [num(k, row, line) for k in ("x", "y", "w", "h")]
        out.score[i] = num("score", row, line)
        out.pitch[i] = [num("pitch_x", row, line), num("pitch_y", row, line)]
        if "visibility" in header:
            out.visibility[i] = num("visibility", row, line)
        # An empty player_id (a row nothing re-identified) is its track's person.
        player = num("player_id", row, line) if "player_id" in header else np.nan
        out.player_id[i] = int(player) if np.isfinite(player) else out.track_id[i]
    if n and not np.isfinite(out.box).all():
        raise InputFileError(f"{p}: every row needs a numeric x, y, w, h")
    return out


def format_row(
    frame: int,
    track_id: int,
    player_id: int,
    role: str,
    team: int,
    box: tuple[float, float, float, float],
    score: float,
    pitch_xy: tuple[float, float] | None,
) -> list[str]:
    px = "" if pitch_xy is None else f"{pitch_xy[0]:.2f}"
    py = "" if pitch_xy is None else f"{pitch_xy[1]:.2f}"
    x, y, w, h = box
    return [
        str(frame),
        str(track_id),
        str(player_id),
        role,
        str(team),
        f"{x:.1f}",
        f"{y:.1f}",
        f"{w:.1f}",
        f"{h:.1f}",
        f"{score:.3f}",
        px,
        py,
    ]


def match_rows(match: Match) -> list[list[str]]:
    """One CSV row (`RUN_COLUMNS`) per person and ball row of ``match``, ordered by frame then
    track id (ball: 0)."""
    rows = []
    for frame, dets, _ in match:
        # A track not joined by the re-identification (or never offered to it) is its own person.
        players = np.where(dets.player_id >= 0, dets.player_id, dets.track_id)
        for (x0, y0, x1, y1), cls, tid, pid, team, score, xy in zip(
            dets.xyxy,
            dets.class_id,
            dets.track_id,
            players,
            dets.team,
            dets.score,
            dets.pitch_xy,
            strict=True,
        ):
            ball = cls == BALL
            tid, pid = (0, 0) if ball else (int(tid), int(pid))
            pxy = (float(xy[0]), float(xy[1])) if np.isfinite(xy).all() else None
            box = (x0, y0, x1 - x0, y1 - y0)
            team = -1 if ball else int(team)
            line = format_row(frame, tid, pid, CLASSES[cls], team, box, score, pxy)
            rows.append((frame, tid, line))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r[2] for r in rows]


def write_tracks(path: Path, match: Match) -> int:
    """tracks.csv, written atomically; returns the number of rows."""
    rows = match_rows(match)
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(RUN_COLUMNS)
        w.writerows(rows)
    return len(rows)
