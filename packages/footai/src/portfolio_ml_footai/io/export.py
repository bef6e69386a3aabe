"""A finished `Match` as tracking data that the football analytics tools read:
``footai export RUN_DIR --format F --out FOLDER`` and ``footai run ... --export F``.

Formats (``FORMATS``). OUT is always a folder; each file's name starts with its format:

``secondspectrum``: the Second Spectrum tracking feed. ``secondspectrum_meta.xml`` holds the
    frame rate and the pitch size (105 × 68 m); ``secondspectrum_tracking.jsonl`` holds one JSON
    object per analysed frame, with the home players, the away players and the ball. kloppy
    loads it with one call::

        from kloppy import secondspectrum
        dataset = secondspectrum.load(
            meta_data="OUT/secondspectrum_meta.xml",
            raw_data="OUT/secondspectrum_tracking.jsonl",
            coordinates="secondspectrum",  # metres; leave it out for kloppy's 0–1 pitch
        )

    Chosen over the other feeds kloppy 3.19 reads because it is the one that can say what
    we do not know. TRACAB's ball cannot be missing and its frame times are frame id / an
    integer rate; Sportec drops every frame without a ball; EPTS and Metrica CSV store 0–1
    coordinates, and Metrica CSV assumes 25 fps. Second Spectrum has the pitch size and
    frame rate in its metadata, gives a frame time in seconds (``gameClock``), accepts a null
    ball, leaves out players who are not in a frame, and identifies players by a string id.
    Its JSON form of the metadata needs a match date and a score, which we do not know, so
    we write the XML form.

    * Teams: kloppy's default ``home`` and ``away``. Team 0 (the darker kit) is home and
      team 1 is away. Players are the persons with role player or goalkeeper: ``playerId``
      is the player id (tracks.csv's ``player_id``: all the tracks of one person) as a
      string and ``number`` is the player id, because the shirt number is unknown. Referees and tracks without a team are left out, because the feed has no
      place for officials.
    * Coordinates: metres, origin at the centre spot, x along the length (to the right as
      the camera sees it), and y toward the far touchline. This is tracks.csv's
      (pitch_x, −pitch_y). Players and ball have z = 0: every position is where the
      ground-plane homography puts it, and the ball's height is not measured. kloppy's
      default (0–1) pitch has its origin at the top left with y pointing down, so it is
      ((pitch_x + 52.5) / 105, (pitch_y + 34) / 68).
    * Missing: a player with no pitch position in a frame is not in that frame's list, and
      a frame with no ball position has ``"ball": {"xyz": null}``. Frames without a
      homography are still written, with empty lists and a null ball, so they keep their
      place in time. Nothing missing is written as 0.
    * Frames: ``frameIdx`` i is the i-th analysed frame, so tracks.csv's ``frame`` is
      ``first_frame + i × stride`` (the same number without ``--start``/``--stride``).
      ``gameClock`` is the number of seconds since the first analysed frame. ``fps`` is
      the rate of the analysed frames rounded to a whole number, because both the format
      and kloppy store it as an integer. There is one period, covering every frame.
    * ``lastTouch`` is the team in possession (`analytics.possession`: nearest player within
      2.5 m, carried over short gaps), null where nobody has it. Unknown and written as null:
      ``live`` and speeds. kloppy reads a null ``live`` as a dead ball, so its ``ball_state``
      means nothing here, and ``only_alive=True``
      returns no frames.

``cdf``: the Common Data Format (CDF) 0.3.2, the version that the ``cdf`` package validates.
    ``cdf_meta.json`` is the meta data and ``cdf_tracking.jsonl`` holds one frame a line.

    * Known: ``frame_id`` i is the i-th analysed frame (0, 1, …). ``timestamp`` is time zero
      plus the frame's time in the video. There is one period, from the first frame to the
      last. The pitch is 105 × 68 m. Teams are ``home`` (team 0) and ``away`` (team 1),
      each with its kit colour. Players are persons with role player or goalkeeper, and
      their id is the player id. Referees appear under ``officials``. Positions are in
      metres and the ball has x and y. The tracking rate is the analysed frames' rate,
      rounded, because the field is an integer.
    * Coordinates: metres, origin at the centre spot, y toward the far touchline. The CDF
      asks for a standardised direction of play, with the home team attacking +x. The side
      each team defends is the match figures' (``analytics.attack_directions``: its
      goalkeeper's side, else where its outfield stands). If home defends the right goal,
      the frame is turned half a turn. So a CDF (x, y) is tracks.csv's (pitch_x, −pitch_y)
      when the meta says ``play_direction: left_right``, and (−pitch_x, pitch_y) when it
      says ``right_left``. ``left_team_id`` and ``right_team_id`` give the sides as seen.
    * Missing: a player or referee with no pitch position in a frame is left out of it.
      The schema would also allow null x/y, but the ``cdf`` validator (0.1.1) rejects null
      coordinates. A frame without a ball position has a ball with ``x``/``y``/``z`` null,
      because the schema requires the keys. The validator flags those lines, contradicting
      its own schema. The ball's ``z`` is always null because the height is not measured.
    * Fields that must be filled but are unknown: match date and kick-off, which half the
      clip shows, shirt numbers, who started, and the competition, season and venue ids.
      ``kickoff_time`` is time zero (1970-01-01T00:00:00Z), so a timestamp minus time zero
      is the frame's time in the video. The period is ``first_half``. ``jersey_number`` is
      the track id. ``is_starter`` is true, since everyone tracked was on the pitch.
      ``competition``, ``season`` and ``venue`` ids are ``unknown``, and ``whistles`` is
      empty. ``meta.video``, ``event``, ``landmarks`` and ``ball`` are null.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from portfolio_ml_core.errors import InputFileError, PortfolioError
from portfolio_ml_core.fsutil import atomic_path

from ..analytics.common import attack_directions
from ..analytics.possession import possession
from ..match import Match
from ..model.spec import BALL, GOALKEEPER, PLAYER, REFEREE
from ..pitch import LENGTH, WIDTH
from ..render.annotate import hex_colour, person_ids

FORMATS = ("secondspectrum", "cdf")
SIDES = {0: "home", 1: "away"}  # team → side
CDF_VERSION = "0.3.2"  # the schema the files follow (what `cdf.VERSION` 0.3.2 validates)
TIME_ZERO = datetime(1970, 1, 1, tzinfo=UTC)  # CDF: a match date we do not know
UNKNOWN_ID = "unknown"

XY = tuple[float, float]


@dataclass(frozen=True)
class _Frame:
    """What one analysed frame exports: per side, (player id, position or None) for each
    player row; the referees; the ball's position (None: not seen or not mapped)."""

    index: int  # 0-based among the analysed frames
    seconds: float  # time in the video
    players: dict[str, list[tuple[int, XY | None]]]
    officials: list[tuple[int, XY | None]]
    ball: XY | None
    possession: str | None  # "home" / "away" (`analytics.possession`), None: nobody's


def export_match(match: Match, fmt: str, out: Path, *, match_id: str = "footai") -> list[Path]:
    """Write ``match`` as ``fmt`` (one of `FORMATS`) into the folder ``out``; the files written.

    Each file is written atomically (a temporary file beside it, renamed into place).
    ``match_id`` names the match where a format asks for an id (the CDF).
    """
    fmt = check_format(fmt)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputFileError(f"export --out must be a folder, and {out} is a file")
    if not match.frames:
        raise PortfolioError("nothing to export: the run has no analysed frames")
    frames = list(_frames(match))
    if fmt == "secondspectrum":
        return _write_secondspectrum(match, frames, out)
    return _write_cdf(match, frames, out, match_id)


def check_format(fmt: str) -> str:
    """``fmt`` normalised, or a one-line error naming the formats."""
    name = fmt.strip().lower()
    if name not in FORMATS:
        raise PortfolioError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return name


# --- what a frame holds ---------------------------------------------------------------------


def _frames(match: Match) -> Iterator[_Frame]:
    owner = possession(match).team  # per analysed frame: 0, 1 or -1
    for i, (frame, dets, _) in enumerate(match):
        players: dict[str, list[tuple[int, XY | None]]] = {"home": [], "away": []}
        officials: list[tuple[int, XY | None]] = []
        ball: XY | None = None
        ball_score = -np.inf
        persons = person_ids(dets)  # a player keeps one id through all his tracks
        for cls, tid, team, score, xy in zip(
            dets.class_id, persons, dets.team, dets.score, dets.pitch_xy, strict=True
        ):
            pos = (float(xy[0]), float(xy[1])) if np.isfinite(xy).all() else None
            if cls == BALL:
                if pos is not None and score > ball_score:  # the likeliest ball with a position
                    ball, ball_score = pos, float(score)
            elif tid < 0:
                continue
            elif cls in (PLAYER, GOALKEEPER) and int(team) in SIDES:
                players[SIDES[int(team)]].append((int(tid), pos))
            elif cls == REFEREE:
                officials.append((int(tid), pos))
        for side in players.values():
            side.sort()
        officials.sort()
        yield _Frame(i, frame / match.video_fps, players, officials, ball, SIDES.get(int(owner[i])))


def _r(value: float) -> float:
    """Millimetres are plenty; ``+ 0.0`` turns −0.0 into 0.0."""
    return round(value, 3) + 0.0


def _write_lines(path: Path, lines: Iterator[dict]) -> Path:
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", newline="\n") as fh:
        for line in lines:
            fh.write(json.dumps(line, separators=(",", ":")) + "\n")
    return path


def _write_json(path: Path, data: dict) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


# --- Second Spectrum ----------------------------------------------------------------------


def _write_secondspectrum(match: Match, frames: list[_Frame], out: Path) -> list[Path]:
    fps = max(1, round(match.fps))
    # kloppy drops a period whose start and end frames are both 0, so a one-frame clip ends at 1.
    end = max(len(frames) - 1, 1)
    meta = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<MetaData sVersion="1.0">\n'
        f'  <match iFrameRateFps="{fps}" fPitchXSizeMeters="{LENGTH:.2f}" '
        f'fPitchYSizeMeters="{WIDTH:.2f}">\n'
        f'    <period iId="1" iStartFrame="0" iEndFrame="{end}"/>\n'
        "  </match>\n"
        "</MetaData>\n"
    )
    meta_path = out / "secondspectrum_meta.xml"
    with atomic_path(meta_path) as tmp:
        tmp.write_text(meta, encoding="utf-8")
    t0 = frames[0].seconds

    def player(tid: int, xy: XY) -> dict:
        return {
            "playerId": str(tid),
            "number": tid,
            "xyz": [_r(xy[0]), _r(-xy[1]), 0.0],
            "speed": None,
        }

    def lines() -> Iterator[dict]:
        for f in frames:
            home, away = (
                [player(tid, xy) for tid, xy in f.players[side] if xy is not None]
                for side in ("home", "away")
            )
            yield {
                "period": 1,
                "frameIdx": f.index,
                "gameClock": round(f.seconds - t0, 6),
                "live": None,
                "lastTouch": f.possession,  # the team in possession (match figures)
                "homePlayers": home,
                "awayPlayers": away,
                "ball": {
                    "xyz": None if f.ball is None else [_r(f.ball[0]), _r(-f.ball[1]), 0.0],
                    "speed": None,
                },
            }

    return [meta_path, _write_lines(out / "secondspectrum_tracking.jsonl", lines())]


# --- Common Data Format -------------------------------------------------------------------


def _home_defends_left(match: Match) -> bool:
    """Whether team 0 (home) defends the left goal, as the match figures see it
    (`analytics.attack_directions`: the keeper's side, else where the outfield stands)."""
    home, away = attack_directions(match)
    return home >= 0 if home else away <= 0  # nothing known: home defends the left goal


def _timestamp(seconds: float) -> str:
    t = TIME_ZERO + timedelta(seconds=round(seconds, 3))
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _package_version() -> str:
    try:
        return version("portfolio-ml-footai")
    except PackageNotFoundError:
        return "0.0.0"


def _write_cdf(match: Match, frames: list[_Frame], out: Path, match_id: str) -> list[Path]:
    left_right = _home_defends_left(match)
    sign = 1.0 if left_right else -1.0  # half a turn when home defends the right goal

    def xy(pos: XY | None) -> dict:
        # Ours: y toward the near touchline; the CDF's: toward the far one.
        if pos is None:
            return {"x": None, "y": None}
        return {"x": _r(sign * pos[0]), "y": _r(-sign * pos[1])}

    def lines() -> Iterator[dict]:
        for f in frames:
            yield {
                "frame_id": f.index,
                "timestamp": _timestamp(f.seconds),
                "period": "first_half",
                "match": {"id": match_id},
                "teams": {
                    side: {
                        "id": side,
                        "players": [
                            {"id": str(tid), **xy(pos)}
                            for tid, pos in f.players[side]
                            if pos is not None
                        ],
                    }
                    for side in ("home", "away")
                },
                "ball": {
                    **xy(f.ball),
                    "z": None,
                    **({"poss_team_id": f.possession} if f.possession else {}),
                },
                "officials": [
                    {"id": str(tid), **xy(pos)} for tid, pos in f.officials if pos is not None
                ],
            }

    tracking = _write_lines(out / "cdf_tracking.jsonl", lines())

    roster: dict[str, set[int]] = {"home": set(), "away": set()}
    referees: set[int] = set()
    for f in frames:
        for side, rows in f.players.items():
            roster[side].update(tid for tid, _ in rows)
        referees.update(tid for tid, _ in f.officials)
    teams = {}
    for team, side in SIDES.items():
        entry: dict = {
            "id": side,
            "name": f"team{team}",
            "players": [
                {"id": str(tid), "team_id": side, "jersey_number": tid, "is_starter": True}
                for tid in sorted(roster[side])
            ],
        }
        if team < len(match.team_colours):
            entry["jersey_colour"] = hex_colour(match.team_colours[team])
        teams[side] = entry
    tool = {"version": _package_version(), "name": "portfolio-ml footai"}
    meta = {
        "competition": {"id": UNKNOWN_ID},
        "season": {"id": UNKNOWN_ID},
        "match": {
            "id": match_id,
            "kickoff_time": _timestamp(0.0),
            "periods": [
                {
                    "period": "first_half",
                    "play_direction": "left_right" if left_right else "right_left",
                    "start_time": _timestamp(frames[0].seconds),
                    "end_time": _timestamp(frames[-1].seconds),
                    "frame_id_start": frames[0].index,
                    "frame_id_end": frames[-1].index,
                    "left_team_id": "home" if left_right else "away",
                    "right_team_id": "away" if left_right else "home",
                }
            ],
            "whistles": [],
        },
        "teams": teams,
        "venue": {"id": UNKNOWN_ID, "pitch_length": LENGTH, "pitch_width": WIDTH},
        "meta": {
            "video": None,
            "tracking": {
                **tool,
                "fps": max(1, round(match.fps)),
                "collection_timing": "post_match",
            },
            "event": None,
            "landmarks": None,
            "ball": None,
            "meta": tool,
            "cdf": {"version": CDF_VERSION},
        },
        "officials": [{"id": str(tid)} for tid in sorted(referees)],
    }
    return [_write_json(out / "cdf_meta.json", meta), tracking]
