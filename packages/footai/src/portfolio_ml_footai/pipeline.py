"""The one frame loop: a video in, a `Match` out.

Per frame (`FrameAnalyser.step`), each stage takes the frame's `Detections` and returns it
with one more column filled:

    detector (boxes, roles, scores + pitch keypoints, one frame ahead in a thread)
      → camera motion and cuts → homography (keypoint fits carried by the motion, checked and
        corrected on the painted lines, searched in them where the keypoints fail)
      → kit colours (``kit``, ``team``; every 2nd frame) or appearance (``appearance``; every 4th)
      → tracker (``track_id``) → calibration (``pitch_xy``) → ball

After the run (`finish`), once per track: tracks on screen overlays dropped, unconfirmed ones
dropped, kits voted and teams fixed, broken tracks stitched, short gaps filled, team and role
decided, positions smoothed; then the tracklets of one person joined (``player_id``). Nothing
here draws or writes files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import chain
from pathlib import Path

import numpy as np
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.native import opencv_threads
from portfolio_ml_core.video import Frame, VideoSource

from . import teams
from .calibrate.cuts import CutDetector
from .calibrate.geometry import homography_from_calibration, load_calibration, rescaled
from .calibrate.keypoints import HomographyTracker, carry_back, image_to_pitch
from .calibrate.line_search import SearchableFrameLines
from .calibrate.lines import fit_keypoints_on_lines
from .calibrate.motion import CameraMotion
from .calibrate.segments import FrameCalibration, run_method, segment_warnings, segments
from .detect import DEFAULT_DETECTOR, Detector, check_detector_name, create_detector
from .detections import Detected, Detections
from .grass import GrassModel, learn_grass
from .kinematics import smooth_positions
from .match import Match
from .model.runtime import default_threads
from .model.spec import BALL
from .track.appearance import appearance
from .track.ball import BallTracker
from .track.reid import Views, reidentify
from .track.stitch import (
    OverlaysByShot,
    drop_flickers,
    drop_goal_frame_tracks,
    drop_overlay_tracks,
    fill_gaps,
    keep_confirmed,
    stitch,
)
from .track.tracker import ByteTracker, TrackerConfig


class NotFootballError(InputFileError):
    """The video shows no football pitch."""


@dataclass(frozen=True)
class RunOptions:
    detector: str = DEFAULT_DETECTOR  # a name from `footai detectors`
    model: Path | None = None  # the detector's weights (default: the shipped net)
    calibration: Path | None = None
    start_s: float = 0.0
    max_frames: int | None = None
    stride: int = 1
    bootstrap_frames: int = 12  # frames read first to learn the grass colour

    def check(self) -> None:
        if self.stride < 1:
            raise InputFileError("--stride must be at least 1")
        if self.max_frames is not None and self.max_frames < 1:
            raise InputFileError("--max-frames must be at least 1")
        if self.start_s < 0:
            raise InputFileError("--start must be >= 0")
        check_detector_name(self.detector)


COLOUR_EVERY = 2  # kit colours on every 2nd frame: votes over a track need no more, 4 ms saved
# The appearance on every 4th frame, one the kit colours skip (each frame's cost stays even): a
# tracklet's median look needs a few rows, not every one. Every 2nd frame would cost twice as
# much for no better joins (five 20-s synthetic clips: 4 right joins with every 2nd, 5 with 4th).
APPEARANCE_EVERY = 4
MOTION_WIDTH = 320  # camera motion on a 320-px grey copy (Lucas–Kanade needs no more)
# The ground point under a player sits this share of the box height above the box's bottom edge
# (boxes drawn like the annotators', a margin below the feet; the nearer foot lower than the
# body): the median over synthetic clips that neither training nor the benchmarks use (static
# seeds 50, pan seeds 51, 53, 55), measured with each frame's exact homography.
FOOT_LIFT = 0.01
# The net's scores are calibrated probabilities: its weak boxes feed ByteTrack's second stage.
TRACKER = TrackerConfig(high=0.5, new_track=0.55, match_cost=0.8, low_match_cost=0.7, max_misses=30)


@dataclass(frozen=True, eq=False)
class FrameResult:
    detections: Detections  # people with kit, track_id and pitch_xy filled, then the ball row
    homography: np.ndarray | None
    keypoint_fit: bool  # the homography was fitted to this frame's keypoints
    calibration: FrameCalibration  # how (cut, fit, from the user's file), for summary.json
    motion: np.ndarray | None = None  # last frame's pixels → this frame's (None: unknown, a cut)


class FrameAnalyser:
    """The stages' state between frames; `step` is the whole per-frame story."""

    def __init__(
        self, size: tuple[int, int], grass: GrassModel | None, homography: np.ndarray | None
    ) -> None:
        self.size = size
        self.motion = CameraMotion(size, work_width=MOTION_WIDTH)
        self.cuts = CutDetector()
        self.pitch = HomographyTracker(size, search=True)
        if homography is not None:  # a user's calibration: corrected by the fits that agree
            self.pitch.start_from(homography)
        self.kits = teams.KitStage(grass)
        self.tracker = ByteTracker(TRACKER)
        self.ball = BallTracker(size[0])
        self.n = 0
        self.keypoint_fits = 0
        self.found_by_lines = 0  # frames whose homography the line search found
        # Each finished shot's first frame and screen overlays, as cells (`drop_overlay_tracks`).
        self.shot_start = -1
        self.finished_shots: list[tuple[int, np.ndarray]] = []

    def shot_overlays(self) -> tuple[tuple[int, np.ndarray], ...]:
        """Per shot, its first frame and its screen overlays in cells of `CameraMotion.cell_px`
        frame pixels (the last shot's: as learnt so far)."""
        return (*self.finished_shots, (self.shot_start, self.motion.overlay_cells()))

    def step(self, image: np.ndarray, found: Detected, frame: int = -1) -> FrameResult:
        """``frame``: the video frame index, recorded in the result's calibration."""
        people, balls = found.detections.persons, found.detections.balls
        estimate = self.motion.update(image, people.xyxy)
        grey = self.motion.prev  # the motion stage's small grey copy of this frame
        assert grey is not None  # set by every update
        known = estimate.matrix if self.n > 0 and estimate.ok else None
        cut = self.cuts.update(grey, None if known is None else rescaled(known, self.motion.scale))
        motion = None if cut else known
        if self.n == 0:
            self.shot_start = frame
        if cut:  # a new shot: nothing carries over from the last one
            self.finished_shots.append((self.shot_start, self.motion.overlay_cells()))
            self.shot_start = frame
            self.tracker.reset()
            self.ball = BallTracker(self.size[0])
            self.pitch.reset()  # a calibration file holds for its own shot only
        fit = None
        lines = SearchableFrameLines(image, people.xyxy, self.kits.grass)
        if found.keypoints is not None:
            fit = fit_keypoints_on_lines(found.keypoints, self.size[0], lines)
        h = self.pitch.update(fit, motion, lines)
        # The fit counts only where it stands: not rejected by the lines, not given way to them.
        fitted, by_lines = self.pitch.fitted, self.pitch.by_lines
        people = self.kits(image, people, measure=self.n % COLOUR_EVERY == 0)
        if self.n % APPEARANCE_EVERY == 1:
            people = people.with_(appearance=appearance(image, self.kits.grass, people.xywh))
        tracked = self.tracker.update(people, motion)
        ball = self.ball.update(balls, motion)
        tracked, ball = with_pitch_positions(tracked, h), with_pitch_positions(ball, h)
        self.n += 1
        self.keypoint_fits += fitted
        self.found_by_lines += by_lines
        how = FrameCalibration(
            frame,
            cut,
            fitted,
            h is not None,
            h is not None and self.pitch.trusted,
            self.pitch.rejected,
            by_lines,
        )
        return FrameResult(Detections.concat([tracked, ball]), h, fitted, how, motion)


def with_pitch_positions(found: Detections, homography: np.ndarray | None) -> Detections:
    """Pitch positions through ``homography``: people where they stand, the ball at its centre."""
    if homography is None or len(found) == 0:
        return found
    where = np.where((found.class_id == BALL)[:, None], found.centres, found.foot_points(FOOT_LIFT))
    return found.with_(pitch_xy=image_to_pitch(homography, where))


def detector_threads() -> int:
    """The net's share of the cores: all but the one the stages keep busy beside it
    (`detect_ahead`). Measured on 2 cores, real LaLiga clip, whole command without video: the
    net on both cores 29.1 s, on one 24.6 s, and 21.4 s with OpenCV's pool off as well (the
    interpreter's and OpenCV's workers were taking the stages' core in turns)."""
    return max(1, default_threads() - 1)


def detect_ahead(frames: Iterable[Frame], detector: Detector) -> Iterator[tuple[Frame, Detected]]:
    """The detector on frame n+1 (in a thread) while the caller tracks frame n.

    LiteRT and onnxruntime release the GIL while they run, so the net and the Python stages
    (kit colours, motion, tracking) overlap on a 2-core machine instead of taking turns.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="footai-detect") as pool:
        pending: tuple[Frame, Future[Detected]] | None = None
        for frame in frames:
            ahead = (frame, pool.submit(detector, frame.image))
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = ahead
        if pending is not None:
            yield pending[0], pending[1].result()


def analyse(
    video_path: str | Path, opts: RunOptions, progress: Callable[[int], None] | None = None
) -> Match:
    """Run the pipeline over a video: the finished `Match`. ``progress`` gets the number of
    frames analysed so far.

    Nothing about the footage stops a run: frames without a pitch fit get empty pitch
    columns, a clip without players gets empty tracks, and the match's warnings say so.
    """
    opts.check()
    with VideoSource(video_path, prefetch=4) as video:
        first, rest = _bootstrap(video, opts, video_path)
        grass = learn_grass([f.image for f in first])
        fps = video.fps / opts.stride
        h0, detail = None, ""
        if opts.calibration is not None:
            h0, detail = _calibration_file(opts.calibration, first[0].index, video)
        # The model is looked up after the inputs are checked: a bad file is reported as such.
        detector = create_detector(opts.detector, opts.model, threads=detector_threads())
        analyser = FrameAnalyser(video.size, grass, h0)
        frames: list[int] = []
        detections: list[Detections] = []
        homographies: list[np.ndarray | None] = []
        calibration: list[FrameCalibration] = []
        motions: list[np.ndarray | None] = []
        start = time.perf_counter()
        # The stages' OpenCV calls work on small images, one at a time, beside the net's thread.
        with opencv_threads(1):
            for frame, found in detect_ahead(chain(first, rest), detector):
                result = analyser.step(frame.image, found, frame.index)
                frames.append(frame.index)
                detections.append(result.detections)
                homographies.append(result.homography)
                calibration.append(result.calibration)
                motions.append(result.motion)
                if progress is not None:
                    progress(len(frames))
        # A shot's frames before its first fit: the homography carried back to them.
        for i in carry_back(
            homographies, motions, [c.cut or i == 0 for i, c in enumerate(calibration)]
        ):
            detections[i] = with_pitch_positions(detections[i], homographies[i])
            calibration[i] = replace(calibration[i], calibrated=True)
        shots = segments(calibration)
        raw = Match(
            fps,
            video.size,
            tuple(frames),
            tuple(detections),
            tuple(homographies),
            detector=opts.detector,
            calibration_method=run_method(shots, from_file=opts.calibration is not None),
            calibration_detail=detail,
            keypoint_fits=analyser.keypoint_fits,
            segments=shots,
        )
        # A logo or crest the net takes for a person sits on the overlay the run has learnt.
        overlays = OverlaysByShot(analyser.shot_overlays(), analyser.motion.cell_px)
        match = finish(raw, overlays, analyser.tracker.confirmed)
        match = match.with_(processing_seconds=time.perf_counter() - start)
    _check_football(match, grass, video_path)
    fitted = f"pitch keypoints fitted in {match.keypoint_fits} of {len(match.frames)} frames"
    if analyser.found_by_lines:
        fitted += f", the painted lines alone found the pitch in {analyser.found_by_lines}"
    if opts.calibration is None:
        detail = f"{fitted}, carried by camera motion in between"
    else:
        detail = f"{detail}, corrected by the fits that agree with it ({fitted})"
    return match.with_(calibration_detail=detail, warnings=_warnings(match))


def finish(raw: Match, overlays: OverlaysByShot, confirmed: dict[int, int]) -> Match:
    """The after-run steps, once per track: overlays, confirmation, kits, stitching, gaps,
    team and role, smoothing; then the tracks of one person joined (`track.reid`)."""
    rows = drop_overlay_tracks(raw.rows(), overlays)
    rows = drop_goal_frame_tracks(rows, raw.video_fps)
    rows = keep_confirmed(rows, confirmed)
    # Every track votes, whatever role the net gave it: the kits are the two worn by two people
    # at once, so referees and keepers stay outliers, and a mislabelled player shows.
    rows, votes, kits = teams.vote_kits(rows)
    step = raw.frame_step
    rows, votes = stitch(rows, votes, raw.fps, step, raw.shot_starts)
    rows = drop_flickers(rows, raw.frames, raw.fps)
    rows = fill_gaps(rows, raw.frames, raw.fps, step)
    rows = teams.decide(rows, votes, kits)
    rows = smooth_positions(rows, raw.fps, step)
    # Team and role are hard constraints of the joins, so they are decided first.
    starts = tuple(f / raw.video_fps for f in raw.shot_starts)
    views = Views(raw.times, raw.homographies, raw.size, starts)
    rows, _ = reidentify(rows, views, raw.video_fps)
    colours = tuple(kits.bgr()) if kits is not None else ()
    return raw.with_rows(rows).with_(team_colours=colours)


def _bootstrap(
    video: VideoSource, opts: RunOptions, video_path: str | Path
) -> tuple[list[Frame], Iterator[Frame]]:
    frames: Iterator[Frame] = video.frames(
        start_s=opts.start_s, max_frames=opts.max_frames, stride=opts.stride
    )
    first: list[Frame] = []
    for fr in frames:
        first.append(fr)
        if len(first) >= opts.bootstrap_frames:
            break
    if not first:
        raise InputFileError(f"{video_path}: no frames at --start {opts.start_s:g} s")
    return first, frames


def _calibration_file(path: Path, start: int, video: VideoSource) -> tuple[np.ndarray, str]:
    """The file's homography, carried from its frame to the first analysed one."""
    cal = load_calibration(path)
    h = homography_from_calibration(cal, source=str(path))
    if cal.frame != start:
        h = _carry(video.source, cal.frame, start, h, video.size)
    return h, f"{path} (frame {cal.frame}, {len(cal.image_points)} points)"


def _carry(source, from_frame: int, to_frame: int, h: np.ndarray, size) -> np.ndarray:
    """Carry a homography from the calibration frame to another frame through camera motion."""
    lo, hi = sorted((from_frame, to_frame))
    motion = CameraMotion(size)
    total: np.ndarray = np.eye(3)
    with VideoSource(source) as v:
        for fr in v.frames(start_s=lo / v.fps, max_frames=hi - lo + 1):
            total = motion.update(fr.image).matrix @ total
    if to_frame < from_frame:
        total = np.linalg.inv(total)
    out = total @ h
    return out / out[2, 2]


def _tracked(match: Match) -> int:
    return len({int(k) for d in match.detections for k in d.persons.track_id})


def _check_football(match: Match, grass: GrassModel | None, video_path: str | Path) -> None:
    # Close-ups and replays inside a broadcast are fine; a clip with no grass, nobody and no
    # marking anywhere is something else.
    if grass is None and not _tracked(match) and not match.keypoint_fits:
        raise NotFootballError(
            f"{video_path}: no football pitch found (no grass, no players and no pitch "
            f"markings in {len(match.frames)} frames); is this a football broadcast?"
        )


# Frames narrower than this (width / height) are outside what the calibration was built and
# measured on: broadcast frames are 16:9 (1.78), and 4:3 ones (1.33) were measured as good.
MIN_ASPECT = 1.3


def _warnings(match: Match) -> tuple[str, ...]:
    n = len(match.frames)
    out = []
    width, height = match.size
    if width < MIN_ASPECT * height:
        # Crops of the real LaLiga clip (session 20): 4:3 0.28 m median, 180 of 200 frames
        # within 1.5 m; square 106 of 200; portrait 0 of 90 (all 4-13 m off).
        out.append(
            f"the frames are {width}×{height}: pitch positions are made for broadcast frames (16:9 or "
            "4:3) and on narrower crops (square, portrait) are often metres off"
        )
    no_pitch = sum(h is None for h in match.homographies)
    if no_pitch:
        out.append(
            f"{no_pitch} of {n} frames have no pitch homography (too few pitch markings in view, "
            "close-ups or replays): their pitch columns are empty"
        )
        out += segment_warnings(match.segments)
    if not _tracked(match):
        if n < TRACKER.confirm_hits:
            out.append(
                f"no players were tracked: a track is confirmed after {TRACKER.confirm_hits} "
                f"frames and this run analysed {n} (`footai detect` finds people on still images)"
            )
        else:
            out.append("no players were tracked: is this a football broadcast (main camera)?")
    elif not match.team_colours:
        out.append("could not find two kit colours: team labels are unreliable")
    return tuple(out)
