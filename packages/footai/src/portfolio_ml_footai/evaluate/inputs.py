"""What ``footai eval --gt`` and ``--pred`` may name, read into `TrackTable`s.

``--gt``: the project's ground-truth CSV (``footai sample``'s gt.csv, or its folder), a MOT
text file, or a MOT sequence folder (``SEQ/gt/gt.txt``: SoccerNet-Tracking, SportsMOT).
``--pred``: a tracks.csv, a ``footai run`` folder, or a tracker's MOT text file.

A file is told apart by its content, not its name: the project's CSVs start with a header
(``frame,track_id,...``), MOT files with numbers. Frames are 0-based throughout (MOT's 1-based
frames are shifted on reading, `mot`). A run folder also says which frames the run analysed
(homographies.npz), so a run over part of a sequence (``--start``, ``--max-frames``,
``--stride``) is scored on those frames only.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from portfolio_ml_core.errors import InputFileError

from ..io.run_dir import HOMOGRAPHIES
from ..io.tracks_csv import TrackTable, read_tracks
from .mot import GT_FILE, MotTracks, SequenceInfo, is_sequence_folder, read_mot

TRACKS_CSV = "tracks.csv"
SAMPLE_GT = "gt.csv"
# Written by the re-identification pass when it is on: one id per player across fragments.
PLAYER_ID = "player_id"


@dataclass(frozen=True, eq=False)
class GroundTruth:
    table: TrackTable
    dont_care: np.ndarray  # (N,) bool: regions a prediction may hit for free
    info: SequenceInfo | None  # seqinfo.ini, when the MOT folder has one
    source: str  # "csv" or "mot"


@dataclass(frozen=True, eq=False)
class Prediction:
    table: TrackTable  # track_id holds the identity scored (player_id when the file has one)
    frames: np.ndarray | None  # the frames the run analysed (a run folder), else None
    identity: str  # the column scored as identity: "player_id" or "track_id"


def load_ground_truth(path: str | Path) -> GroundTruth:
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"ground truth not found: {p}")
    if p.is_dir():
        if is_sequence_folder(p):
            return _from_mot(read_mot(p))
        if (p / SAMPLE_GT).is_file():
            p = p / SAMPLE_GT
        else:
            raise InputFileError(
                f"{p}: neither a MOT sequence folder (no {GT_FILE}) nor a `footai sample` "
                f"folder (no {SAMPLE_GT})"
            )
    if _has_csv_header(p):
        table = read_tracks(p)
        return GroundTruth(table, np.zeros(len(table), bool), None, "csv")
    return _from_mot(read_mot(p))


def _from_mot(mot: MotTracks) -> GroundTruth:
    return GroundTruth(mot.table, mot.dont_care, mot.info, "mot")


def load_prediction(path: str | Path, gt: GroundTruth | None = None) -> Prediction:
    """``path`` read as predictions; with ``gt``, checked against its sequence length."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"predictions not found: {p}")
    frames = None
    if p.is_dir():
        if not (p / TRACKS_CSV).is_file():
            raise InputFileError(f"{p}: not a `footai run` folder (no {TRACKS_CSV})")
        frames = _analysed_frames(p / HOMOGRAPHIES)
        p = p / TRACKS_CSV
    if _has_csv_header(p):
        table = read_tracks(p)
        # The person is the identity scored: tracks.csv's player_id (read as the track id
        # where a file has none, so older runs score as before).
        identity = PLAYER_ID if PLAYER_ID in _header(p) else "track_id"
        table.track_id = table.player_id
    else:
        table, identity = read_mot(p, ground_truth=False).table, "track_id"
    pred = Prediction(table, frames, identity)
    if gt is not None:
        _check_alignment(pred, gt, p)
    return pred


def _check_alignment(pred: Prediction, gt: GroundTruth, path: Path) -> None:
    length = gt.info.length if gt.info is not None else None
    frames = pred.frames if pred.frames is not None else pred.table.frame
    if length is not None and len(frames) and int(np.max(frames)) >= length:
        raise InputFileError(
            f"{path}: frame {int(np.max(frames))} (0-based) is past the sequence's {length} "
            "frames: was the run made on another video, or are its frames 1-based?"
        )


def _has_csv_header(path: Path) -> bool:
    """The project's CSVs start with a named header; MOT text starts with a number."""
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    return line.lstrip().lower().startswith("frame")
    except UnicodeDecodeError:
        raise InputFileError(f"{path} is not a text file") from None
    except IsADirectoryError:
        raise InputFileError(f"{path} is a folder, not a file") from None
    raise InputFileError(f"{path} is empty")


def _analysed_frames(path: Path) -> np.ndarray | None:
    """The frame indices a run analysed; None for a folder written before it kept them."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            return np.asarray(z["frames"], np.int64)
    except (ValueError, KeyError, OSError) as exc:
        raise InputFileError(f"{path}: unreadable ({exc})") from None


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [name.strip() for name in next(csv.reader(fh), [])]
