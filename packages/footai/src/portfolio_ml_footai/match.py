"""The result of a run: per analysed frame, its `Detections` and its homography.

`pipeline.analyse` builds it, the after-run steps (`pipeline.finish`: overlays, teams,
stitching, gap filling, smoothing) return new ones, and every output — tracks.csv, the videos,
the tactical map, heatmaps, summary.json, the UI — reads only this. After `finish`, a person
row's ``track_id`` is its final track id, ``player_id`` the person's (the tracks of one person
joined by `track.reid`), ``team`` and ``class_id`` its track's team and role, and ``pitch_xy``
its smoothed position; the ball is the rows of class ``BALL``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .calibrate.segments import CalibrationSegment
from .detections import Detections
from .model.spec import BALL


@dataclass(frozen=True, eq=False)
class Rows:
    """Every row of a match in one columnar table, with the frame of each: the shape that
    per-track work (votes, stitching, smoothing) wants. `Match.with_rows` splits it back."""

    frame: np.ndarray  # (N,) video frame index of each row
    detections: Detections

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, index: np.ndarray | slice) -> Rows:
        return Rows(self.frame[index], self.detections[index])

    @property
    def track_id(self) -> np.ndarray:
        return self.detections.track_id

    @property
    def people(self) -> np.ndarray:
        """Mask of the rows that are people with a track."""
        return (self.detections.class_id != BALL) & (self.detections.track_id >= 0)

    def tracks(self) -> dict[int, np.ndarray]:
        """Track id → its rows' indices, in frame order (first-seen order of the ids)."""
        return self._groups(self.detections.track_id)

    @property
    def player_ids(self) -> np.ndarray:
        """Each row's person: its ``player_id`` once the re-identification has run, else its
        track id (a track is one person until it is joined to others)."""
        d = self.detections
        return np.where(d.player_id >= 0, d.player_id, d.track_id)

    def players(self) -> dict[int, np.ndarray]:
        """Player id → its rows' indices (all its tracks'), in frame order."""
        return self._groups(self.player_ids)

    def _groups(self, key: np.ndarray) -> dict[int, np.ndarray]:
        idx = np.nonzero(self.people)[0]
        idx = idx[np.argsort(self.frame[idx], kind="stable")]  # frame order
        ids = key[idx]
        by_id = np.argsort(ids, kind="stable")  # grouped by id, each group still in frame order
        uniq, start = np.unique(ids[by_id], return_index=True)
        groups = np.split(idx[by_id], start[1:])
        _, first = np.unique(ids, return_index=True)  # where each id is first seen
        return {int(uniq[k]): groups[k].astype(int) for k in np.argsort(first)}

    def with_(self, **columns: np.ndarray) -> Rows:
        return Rows(self.frame, self.detections.with_(**columns))

    @staticmethod
    def concat(parts: list[Rows]) -> Rows:
        return Rows(
            np.concatenate([p.frame for p in parts]).astype(np.int64),
            Detections.concat([p.detections for p in parts]),
        )


@dataclass(frozen=True, eq=False)
class Match:
    fps: float  # of the analysed frames (the video's, divided by --stride)
    size: tuple[int, int]  # frame width, height
    frames: tuple[int, ...]  # video frame indices analysed, in order
    detections: tuple[Detections, ...]  # one per analysed frame
    homographies: tuple[np.ndarray | None, ...]  # pitch metres → pixels, per analysed frame
    detector: str = "net"
    calibration_method: str = "none"  # file | keypoints | lines | keypoints+lines | none
    calibration_detail: str = ""
    keypoint_fits: int = 0  # frames whose homography came from the detector's pitch keypoints
    segments: tuple[CalibrationSegment, ...] = ()  # how each shot (cut to cut) was calibrated
    team_colours: tuple[tuple[int, int, int], ...] = ()  # BGR of team 0 and team 1's kits
    warnings: tuple[str, ...] = ()
    processing_seconds: float = 0.0

    def __post_init__(self) -> None:
        if not len(self.frames) == len(self.detections) == len(self.homographies):
            raise ValueError("Match: frames, detections and homographies differ in length")

    @property
    def video_fps(self) -> float:
        """Frames of the video per second: `fps` is of the analysed frames (÷ --stride), while
        frame indices count video frames."""
        return self.fps * self.frame_step

    @property
    def times(self) -> np.ndarray:
        """Each analysed frame's time in the video, seconds."""
        return np.asarray(self.frames, np.float64) / self.video_fps

    @property
    def frame_step(self) -> int:
        """Video frames between two analysed ones (``--stride``): gaps are measured in these."""
        return max(1, int(np.median(np.diff(self.frames)))) if len(self.frames) > 1 else 1

    @property
    def shot_starts(self) -> tuple[int, ...]:
        """The video frame where each shot after the first begins (a cut or a dissolve)."""
        return tuple(s.first_frame for s in self.segments[1:])

    def __iter__(self) -> Iterator[tuple[int, Detections, np.ndarray | None]]:
        return iter(zip(self.frames, self.detections, self.homographies, strict=True))

    def rows(self) -> Rows:
        frame = np.repeat(np.array(self.frames, np.int64), [len(d) for d in self.detections])
        return Rows(frame, Detections.concat(list(self.detections)))

    def with_rows(self, rows: Rows) -> Match:
        """The same match with its detections replaced by ``rows`` (grouped back by frame, each
        frame's rows in table order)."""
        order = np.argsort(rows.frame, kind="stable")
        sorted_frames = rows.frame[order]
        frames = np.array(self.frames, np.int64)
        lo = np.searchsorted(sorted_frames, frames, "left")
        hi = np.searchsorted(sorted_frames, frames, "right")
        dets = tuple(rows.detections[order[a:b]] for a, b in zip(lo, hi, strict=True))
        return replace(self, detections=dets)

    def with_(self, **changes: object) -> Match:
        return replace(self, **changes)  # type: ignore[arg-type]


def same_shot(end_frame: float, start_frame: float, shot_starts: Sequence[float]) -> bool:
    """Whether no shot begins after ``end_frame`` and by ``start_frame`` (frames or seconds,
    as long as all three agree): what ends before a cut and what starts after it are two
    moments the camera did not connect, so no track or person is joined across one."""
    starts = np.asarray(shot_starts, np.float64)
    return not bool(((starts > end_frame) & (starts <= start_frame)).any())
