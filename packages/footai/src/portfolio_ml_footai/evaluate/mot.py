"""MOT Challenge text files, as SoccerNet-Tracking and SportsMOT ship their ground truth.

A sequence folder holds ``gt/gt.txt`` (one box a line: ``frame,id,x,y,w,h,conf,class,
visibility``, frames 1-based, a few layouts add ``x,y,z`` or leave columns out), and sometimes
``seqinfo.ini`` (frame rate, length, image size) and, in SoccerNet-Tracking, ``gameinfo.ini``
(each track's role and side: ``trackletID_7= player team left;10``). A tracker's output is the
same text without the folder (``conf`` is then its score).

Rows are read into the project's `TrackTable`, with **0-based frames** (MOT frame − 1): frame
n of a MOT file is image ``img1/{n:06d}.jpg``, the (n − 1)-th image of the folder, which is
what ``footai run img1/`` numbers n − 1 in tracks.csv. Roles and teams come from
``gameinfo.ini`` when the folder has one (team left → 0, right → 1: labels only, team accuracy
is scored up to a swap); without it every row is a person of unknown team, and a ball the file
holds is scored as one.

Ground truth is filtered as TrackEval's MOT Challenge loader does: a row with ``conf`` 0 is not
scored, nor is one of a class other than pedestrian (1; −1 where the layout gives no class), and
rows of the distractor classes are "don't care" regions (a prediction on one costs nothing).
"""

from __future__ import annotations

import configparser
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.fsutil import atomic_path

from ..io.tracks_csv import TrackTable

# TrackEval's MOT17 distractors: person on vehicle, static person, distractor, reflection.
DISTRACTOR_CLASSES = (2, 7, 8, 12)
# Pedestrian, and -1: no class given (SoccerNet-Tracking, trackers' outputs).
PERSON_CLASSES = (1, -1)
MIN_COLUMNS, MAX_COLUMNS = 6, 10  # frame, id, box ... conf, class, visibility, (x, y, z)
GT_FILE = Path("gt") / "gt.txt"
SEQINFO, GAMEINFO = "seqinfo.ini", "gameinfo.ini"
SIDES = ("left", "right")  # gameinfo's team words, read as team 0 and 1


@dataclass(frozen=True)
class SequenceInfo:
    """``seqinfo.ini``'s [Sequence] section (None where a key is missing)."""

    name: str
    frame_rate: float | None
    length: int | None  # frames in the sequence
    width: int | None
    height: int | None


@dataclass(frozen=True, eq=False)
class MotTracks:
    """A MOT file (or sequence folder) read as a `TrackTable` with 0-based frames."""

    table: TrackTable
    dont_care: np.ndarray  # (N,) bool: a distractor region, not scored
    info: SequenceInfo | None
    roles_known: bool  # gameinfo.ini named each track's role and team


def is_sequence_folder(path: Path) -> bool:
    return path.is_dir() and (path / GT_FILE).is_file()


def read_mot(path: str | Path, ground_truth: bool = True) -> MotTracks:
    """A MOT text file, or a sequence folder holding ``gt/gt.txt``, with the folder's
    ``seqinfo.ini`` and ``gameinfo.ini`` when present."""
    p = Path(path)
    if p.is_dir():
        if not is_sequence_folder(p):
            raise InputFileError(f"{p}: not a MOT sequence folder (no {GT_FILE})")
        text, folder = p / GT_FILE, p
    else:
        text = p
        # .../SEQ/gt/gt.txt: the sequence's ini files sit two levels up; a bare file has none.
        folder = p.parent.parent if p.parent.name == "gt" else p.parent
    table, dont_care = read_mot_text(text, ground_truth)
    # A tracker's file says nothing of roles: the folder's ini files describe the truth.
    if not ground_truth:
        return MotTracks(table, dont_care, None, False)
    info = read_seqinfo(folder / SEQINFO) if (folder / SEQINFO).is_file() else None
    roles = read_gameinfo(folder / GAMEINFO) if (folder / GAMEINFO).is_file() else None
    if roles:
        for i, tid in enumerate(table.track_id):
            table.role[i], table.team[i] = roles.get(int(tid), ("player", -1))
    if info is not None and info.length is not None and len(table):
        last = int(table.frame.max()) + 1
        if last > info.length:
            raise InputFileError(
                f"{text}: frame {last} is past the sequence's {info.length} frames "
                f"({folder / SEQINFO}): are the frame numbers 1-based?"
            )
    return MotTracks(table, dont_care, info, bool(roles))


def read_mot_text(path: Path, ground_truth: bool) -> tuple[TrackTable, np.ndarray]:
    """The rows of one MOT text file, and which of them are don't-care regions.

    Ground truth keeps the scored rows and the distractor regions; a prediction keeps its
    confirmed rows (id ≥ 0; trackers write −1 for boxes that belong to no track yet)."""
    if not path.is_file():
        raise InputFileError(f"MOT file not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            lines = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise InputFileError(f"{path} is not a text file") from None
    values: list[list[float]] = []
    for number, cells in enumerate(lines, start=1):
        cells = [c.strip() for c in cells]
        while cells and cells[-1] == "":  # a trailing comma
            cells.pop()
        if not cells:
            continue
        values.append(_mot_row(path, number, cells))
    if not values:
        raise InputFileError(f"{path}: no rows (an empty MOT file)")
    width = max(len(v) for v in values)
    rows = np.array([v + [-1.0] * (width - len(v)) for v in values])
    conf = rows[:, 6] if width > 6 else np.ones(len(rows))
    cls = rows[:, 7].astype(int) if width > 7 else np.full(len(rows), -1)
    vis = rows[:, 8] if width > 8 else np.ones(len(rows))
    if ground_truth:
        dont_care = np.isin(cls, DISTRACTOR_CLASSES)
        keep = dont_care | ((conf != 0) & np.isin(cls, PERSON_CLASSES))
    else:
        dont_care = np.zeros(len(rows), bool)
        keep = rows[:, 1] >= 0
    rows, dont_care, conf, vis = rows[keep], dont_care[keep], conf[keep], vis[keep]
    n = len(rows)
    table = TrackTable(
        frame=rows[:, 0].astype(int) - 1,
        track_id=rows[:, 1].astype(int),
        role=np.full(n, "player", dtype=object),
        team=np.full(n, -1),
        box=rows[:, 2:6].copy(),
        score=np.ones(n) if ground_truth else conf.copy(),
        pitch=np.full((n, 2), np.nan),
        # -1 (SoccerNet) or any value outside [0, 1] means "not given": fully visible.
        visibility=np.where((vis >= 0) & (vis <= 1), vis, 1.0),
    )
    return table, dont_care


def _mot_row(path: Path, line: int, cells: list[str]) -> list[float]:
    if not MIN_COLUMNS <= len(cells) <= MAX_COLUMNS:
        raise InputFileError(
            f"{path} line {line}: {len(cells)} columns; a MOT file has "
            f"{MIN_COLUMNS}–{MAX_COLUMNS} (frame,id,x,y,w,h[,conf,class,visibility])"
        )
    try:
        row = [float(c) for c in cells]
    except ValueError:
        bad = next(c for c in cells if not _is_number(c))
        raise InputFileError(f"{path} line {line}: {bad!r} is not a number") from None
    if not np.isfinite(row[:6]).all():
        raise InputFileError(f"{path} line {line}: frame, id and box must be finite numbers")
    if row[0] != int(row[0]) or row[1] != int(row[1]):
        raise InputFileError(f"{path} line {line}: frame and id must be whole numbers")
    if row[0] < 1:
        raise InputFileError(
            f"{path} line {line}: frame {int(row[0])}; MOT frames start at 1 "
            "(a 0-based file? tracks.csv is read with --pred, not as MOT)"
        )
    return row


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_seqinfo(path: Path) -> SequenceInfo:
    section = _ini_section(path)

    def number(key: str, kind: type) -> float | int | None:
        raw = section.get(key.lower())
        if raw is None or raw.strip() == "":
            return None
        try:
            value = kind(float(raw))
        except ValueError:
            raise InputFileError(f"{path}: {key}={raw!r} is not a number") from None
        if value <= 0:
            raise InputFileError(f"{path}: {key} must be positive, not {raw!r}")
        return value

    return SequenceInfo(
        name=section.get("name", path.parent.name).strip(),
        frame_rate=number("frameRate", float),
        length=number("seqLength", int),  # type: ignore[arg-type]
        width=number("imWidth", int),  # type: ignore[arg-type]
        height=number("imHeight", int),  # type: ignore[arg-type]
    )


def read_gameinfo(path: Path) -> dict[int, tuple[str, int]]:
    """Track id → (role, team) from SoccerNet-Tracking's ``trackletID_N= player team left;10``."""
    out = {}
    for key, value in _ini_section(path).items():
        if not key.startswith("trackletid_"):
            continue
        try:
            tid = int(key.split("_", 1)[1])
        except ValueError:
            raise InputFileError(f"{path}: {key} does not end in a track number") from None
        words = value.split(";")[0].lower().split()
        what = words[0] if words else ""
        # "goalkeepers team left" in some files, "goalkeeper team right" in others.
        role = next(
            (r for r in ("player", "goalkeeper", "referee", "ball") if what.startswith(r)),
            "player",
        )
        side = next((SIDES.index(w) for w in words if w in SIDES), -1)
        out[tid] = (role, side if role in ("player", "goalkeeper") else -1)
    return out


def _ini_section(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise InputFileError(f"{path}: not an ini file ({first})") from None
    if not parser.has_section("Sequence"):
        raise InputFileError(f"{path}: no [Sequence] section")
    return dict(parser.items("Sequence"))


def mot_lines(table: TrackTable, ground_truth: bool) -> list[str]:
    """``table``'s rows as MOT text lines (1-based frames), ordered by frame then id.

    Ground truth is written in MOT17's layout (``conf`` 1 = scored, class 1, visibility);
    a prediction as trackers write theirs (``conf`` its score, then −1, −1, −1)."""
    order = np.lexsort((table.track_id, table.frame))
    lines = []
    for i in order:
        x, y, w, h = table.box[i]
        head = f"{table.frame[i] + 1},{table.track_id[i]},{x:.2f},{y:.2f},{w:.2f},{h:.2f}"
        if ground_truth:
            lines.append(f"{head},1,1,{table.visibility[i]:.3f}")
        else:
            lines.append(f"{head},{table.score[i]:.4f},-1,-1,-1")
    return lines


def write_mot(path: str | Path, table: TrackTable, ground_truth: bool = False) -> Path:
    """The people of ``table`` (no ball) as one MOT text file, written atomically."""
    people = table.subset(table.role != "ball")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(mot_lines(people, ground_truth)) + "\n", encoding="utf-8")
    return Path(path)


def write_sequence(folder: str | Path, table: TrackTable, info: SequenceInfo) -> Path:
    """``table`` (ground truth: people and ball) as a SoccerNet-Tracking-style sequence folder:
    ``gt/gt.txt``, ``seqinfo.ini`` and ``gameinfo.ini`` with each track's role and side.

    The ball, id 0 in tracks.csv, gets the id after the last person's (MOT ids name tracks)."""
    out = Path(folder)
    ball = table.role == "ball"
    ids = table.track_id.copy()
    people_ids = ids[~ball]
    ball_id = int(people_ids.max()) + 1 if len(people_ids) else 1
    ids[ball] = ball_id
    renamed = TrackTable(
        table.frame, ids, table.role, table.team, table.box, table.score, table.pitch,
        table.visibility,
    )  # fmt: skip
    with atomic_path(out / GT_FILE) as tmp:
        tmp.write_text("\n".join(mot_lines(renamed, ground_truth=True)) + "\n", encoding="utf-8")
    _write_ini(out / SEQINFO, _seqinfo_lines(info))
    tracklets = {}
    for tid, role, team in zip(ids, table.role, table.team, strict=True):
        side = f" team {SIDES[team]}" if role in ("player", "goalkeeper") and team in (0, 1) else ""
        tracklets[int(tid)] = f"{role}{side};{tid}"
    lines = [f"name={info.name}", f"num_tracklets={len(tracklets)}"]
    lines += [f"trackletID_{tid}= {text}" for tid, text in sorted(tracklets.items())]
    _write_ini(out / GAMEINFO, lines)
    return out


def _seqinfo_lines(info: SequenceInfo) -> list[str]:
    lines = [f"name={info.name}", "imDir=img1", "imExt=.jpg"]
    for key, value in (
        ("frameRate", info.frame_rate),
        ("seqLength", info.length),
        ("imWidth", info.width),
        ("imHeight", info.height),
    ):
        if value is not None:
            lines.append(f"{key}={value:g}")
    return lines


def _write_ini(path: Path, lines: list[str]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("[Sequence]\n" + "\n".join(lines) + "\n", encoding="utf-8")
