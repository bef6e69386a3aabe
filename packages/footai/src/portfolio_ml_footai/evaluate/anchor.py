"""A tracker to measure ours against: Roboflow ``trackers``' ByteTrack on the same detections.

The detector runs over a clip once (`detect_clip`). The anchor (`bytetrack_tracks`) feeds
those detections, frame by frame, to ``trackers.ByteTrackTracker`` — IoU and a Kalman filter,
no camera-motion compensation, no kit colours, no after-run stitching — with the score
thresholds our tracker uses. Our pipeline gets the very same detections back through
`replayed_detector`, a detector registered for the run that returns them in order (and checks
it is shown the same frames), so the two trackers differ only in tracking.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from portfolio_ml_core.detectors import (
    DetectorRegistry,
    DetectorSpec,
    active_detector_registry,
    use_detector_registry,
)
from portfolio_ml_core.video import VideoSource

from ..detect import TASK, create_detector, detector_registry
from ..detections import Detected
from ..io.run_dir import HOMOGRAPHIES, write_homographies
from ..io.tracks_csv import TrackTable, write_tracks
from ..model.spec import CLASSES, GOALKEEPER, PERSON_CLASSES, PLAYER
from ..pipeline import TRACKER, RunOptions, analyse

REPLAY = "bench-replay"  # the name the replayed detections run under
# ByteTrack's own default: a lost track is kept 30 frames (at 30 fps; scaled to the clip's rate).
LOST_TRACK_BUFFER = 30


@dataclass(frozen=True, eq=False)
class DetectedClip:
    """What the detector found in each analysed frame of a clip."""

    frames: tuple[int, ...]  # video frame indices, as tracks.csv numbers them
    found: tuple[Detected, ...]
    fingerprints: tuple[bytes, ...]  # of each frame's pixels: the replay checks them
    fps: float  # of the analysed frames


def _fingerprint(image: np.ndarray) -> bytes:
    # A sparse sample is enough to tell frames apart and costs ~0.1 ms.
    return hashlib.blake2b(np.ascontiguousarray(image[::8, ::8]).tobytes(), digest_size=8).digest()


def detect_clip(video: str | Path, opts: RunOptions) -> DetectedClip:
    """The detector of ``opts`` over the frames ``opts`` selects (start, max frames, stride)."""
    detector = create_detector(opts.detector, opts.model)
    frames, found, prints = [], [], []
    with VideoSource(video) as source:
        fps = source.fps / opts.stride
        for frame in source.frames(
            start_s=opts.start_s, max_frames=opts.max_frames, stride=opts.stride
        ):
            frames.append(frame.index)
            found.append(detector(frame.image))
            prints.append(_fingerprint(frame.image))
    return DetectedClip(tuple(frames), tuple(found), tuple(prints), fps)


class ReplayDetector:
    """Returns a clip's cached detections in frame order; refuses a frame it did not see."""

    def __init__(self, clip: DetectedClip) -> None:
        self.clip = clip
        self.calls = 0

    def __call__(self, image: np.ndarray) -> Detected:
        k = self.calls
        if k >= len(self.clip.found) or _fingerprint(image) != self.clip.fingerprints[k]:
            raise RuntimeError(f"replayed detections do not match analysed frame {k}")
        self.calls += 1
        return self.clip.found[k]


@contextmanager
def replayed_detector(clip: DetectedClip) -> Iterator[str]:
    """For the block, a detector named `REPLAY` that returns ``clip``'s detections: pass
    ``RunOptions(detector=REPLAY)`` (with the same frame selection) to run the pipeline on
    them. The detectors registered before are restored afterwards."""
    before = active_detector_registry()
    registry = DetectorRegistry()
    for spec in detector_registry().for_task(TASK):
        registry.add(spec)

    def create(**_: Any) -> ReplayDetector:
        return ReplayDetector(clip)

    registry.add(DetectorSpec(REPLAY, TASK, "cached detections (benchmarks)", create))
    use_detector_registry(registry)
    try:
        yield REPLAY
    finally:
        # Without an active registry before, the built-in detectors are what it offered.
        restored = DetectorRegistry() if before is None else before
        if before is None:
            for spec in registry:
                if spec.name != REPLAY:
                    restored.add(spec)
        use_detector_registry(restored)


def run_on_detections(
    video: str | Path, out_dir: Path, opts: RunOptions, clip: DetectedClip
) -> Path:
    """Our whole pipeline on ``clip``'s detections (``opts`` must select the same frames), as
    the run-folder files `footai eval` reads: tracks.csv and homographies.npz. The other
    outputs (maps, figures) are left out: they cost more than the tracking and score nothing."""
    with replayed_detector(clip) as name:
        match = analyse(video, replace(opts, detector=name))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_tracks(out / "tracks.csv", match)
    write_homographies(out / HOMOGRAPHIES, match)
    return out


def bytetrack_tracks(clip: DetectedClip) -> TrackTable:
    """ByteTrack (``trackers`` package) over the clip's person detections: a tracks table
    with each track's role voted over its rows (score-weighted), no team, no pitch position."""
    import supervision as sv
    from trackers import ByteTrackTracker

    tracker = ByteTrackTracker(
        lost_track_buffer=LOST_TRACK_BUFFER,
        frame_rate=clip.fps,
        track_activation_threshold=TRACKER.new_track,
        high_conf_det_threshold=TRACKER.high,
    )
    frames, ids, classes, scores, boxes = [], [], [], [], []
    for frame, found in zip(clip.frames, clip.found, strict=True):
        people = found.detections.persons
        out = tracker.update(
            sv.Detections(
                xyxy=np.asarray(people.xyxy, np.float32).reshape(-1, 4),
                confidence=np.asarray(people.score, np.float32),
                class_id=np.asarray(people.class_id, int),
            )
        )
        if out.tracker_id is None or out.confidence is None or out.class_id is None:
            continue
        tracked = out.tracker_id >= 0  # -1: a box no confirmed track took
        n = int(tracked.sum())
        frames.append(np.full(n, frame))
        ids.append(out.tracker_id[tracked])
        classes.append(out.class_id[tracked])
        scores.append(out.confidence[tracked])
        boxes.append(out.xyxy[tracked])
    if not frames:
        return _table([], [], [], [], np.zeros((0, 4)))
    return _table(
        np.concatenate(frames),
        np.concatenate(ids),
        np.concatenate(classes),
        np.concatenate(scores),
        np.concatenate(boxes),
    )


def _table(
    frame: Sequence[int] | np.ndarray,
    track_id: Sequence[int] | np.ndarray,
    class_id: Sequence[int] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    xyxy: np.ndarray,
) -> TrackTable:
    track_id = np.asarray(track_id, np.int64)
    class_id = np.asarray(class_id, np.int64)
    score = np.asarray(score, np.float64)
    role = np.empty(len(track_id), dtype=object)
    for tid in np.unique(track_id):
        rows = track_id == tid
        weight = np.bincount(class_id[rows], weights=score[rows], minlength=len(CLASSES))
        weight[[c for c in range(len(CLASSES)) if c not in PERSON_CLASSES]] = -1
        role[rows] = CLASSES[int(np.argmax(weight))]
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    n = len(track_id)
    return TrackTable(
        frame=np.asarray(frame, np.int64),
        track_id=track_id,
        role=role,
        team=np.full(n, -1),
        box=np.c_[xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]],
        score=score,
        pitch=np.full((n, 2), np.nan),
        visibility=np.ones(n),
    )


@dataclass(frozen=True)
class IdsPerPerson:
    """Distinct player and goalkeeper ids over a clip, per person in view (1.0: one id each)."""

    ids: int
    people_in_view: float  # median over frames
    ratio: float


def people_in_view(clip: DetectedClip) -> float:
    """Median number of players and goalkeepers the detector reports in a frame: one count for
    both trackers, so their ratios share a denominator."""
    counts = [int(np.isin(f.reported.class_id, (PLAYER, GOALKEEPER)).sum()) for f in clip.found]
    return float(np.median(counts)) if counts else float("nan")


def ids_per_person(table: TrackTable, in_view: float) -> IdsPerPerson:
    ids = len(np.unique(table.track_id[np.isin(table.role, ("player", "goalkeeper"))]))
    return IdsPerPerson(ids, in_view, ids / in_view if in_view > 0 else float("nan"))
