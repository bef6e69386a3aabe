"""The frame-by-frame pipeline: pixels in, tracked players, teams, pitch positions and ball out.

Stages (each its own module): pitch segmentation → player candidates with size priors → shirt
colours and teams → camera motion → tracking → pitch coordinates → ball. `FrameProcessor` holds
the state between frames; `analyse` runs it over a video and returns everything `outputs` needs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path

import cv2
import numpy as np
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.video import Frame, VideoSource

from . import autocalib, pitch
from .ball import BallObservation, BallTracker, ball_candidates
from .calibration import (
    apply_h,
    camera_from_homography,
    height_prior,
    homography_from_calibration,
    load_calibration,
    pixels_per_metre,
)
from .camera_motion import CameraMotion
from .detection import (
    LearnedPrior,
    PlayerDetector,
    band_heights,
    foot_point,
    foreground,
    known_lines,
    off_lines,
)
from .segmentation import GrassModel, PitchMasks, learn_grass, segment
from .teams import TeamModel, kit_changes, shirt_colours, track_votes
from .tracking import ByteTracker, Detection, Track


class NotFootballError(InputFileError):
    """The video shows no football pitch."""


DETECTORS = ("learned", "classic")


@dataclass(frozen=True)
class RunOptions:
    detector: str = "learned"  # the shipped net, or the hand-tuned classic heuristics
    model: Path | None = None  # a retrained net (default: resolved by name, shipped weights)
    calibration: Path | None = None
    start_s: float = 0.0
    max_frames: int | None = None
    stride: int = 1
    work_width: int = 640
    bootstrap_frames: int = 12


@dataclass(frozen=True)
class PlayerObs:
    frame: int
    key: int
    box: np.ndarray
    score: float
    team: int
    team_conf: float
    pitch: np.ndarray | None
    colour: np.ndarray | None = None  # median Lab shirt colour (NaN when unseen)
    role: int = -1  # the net's class id (goalkeeper, player, referee); -1 classic detector


@dataclass(frozen=True)
class BallObs:
    frame: int
    centre: tuple[float, float]
    radius: float
    score: float
    pitch: np.ndarray | None


@dataclass
class FrameOutput:
    frame: int
    image: np.ndarray
    tracks: list[tuple[Track, Detection]]
    players: list[PlayerObs]
    ball: BallObs | None
    homography: np.ndarray | None


@dataclass
class Analysis:
    """Everything observed in a run, ready for `outputs`."""

    fps: float
    size: tuple[int, int]
    frames: list[int] = field(default_factory=list)
    players: list[PlayerObs] = field(default_factory=list)
    balls: list[BallObs] = field(default_factory=list)
    homographies: dict[int, np.ndarray] = field(default_factory=dict)
    track_ids: dict[int, int] = field(default_factory=dict)  # key → output id (confirmed only)
    track_votes: dict[int, np.ndarray] = field(default_factory=dict)
    team_colours: list[tuple[int, int, int]] = field(default_factory=list)
    calibration_method: str = "none"
    calibration_detail: str = ""
    detector: str = "classic"
    team_model: TeamModel | None = None  # the two kits, as decided after the run
    keypoint_fits: int = 0  # frames whose homography came from the net's pitch keypoints
    warnings: list[str] = field(default_factory=list)
    processing_seconds: float = 0.0

    @property
    def frame_step(self) -> int:
        """Video frames between two analysed ones (``--stride``): gaps are measured in these."""
        return max(1, int(np.median(np.diff(self.frames)))) if len(self.frames) > 1 else 1


class FrameProcessor:
    def __init__(
        self,
        size: tuple[int, int],
        grass: GrassModel,
        homography: np.ndarray | None,
        teams: TeamModel | None,
        work_width: int = 640,
    ) -> None:
        self.size = size
        self.scale = min(1.0, work_width / size[0])
        self.work = (round(size[0] * self.scale), round(size[1] * self.scale))
        self.grass = grass
        self.h = homography
        self.teams = teams
        self.colour_pool: list[np.ndarray] = []
        self.learned = LearnedPrior([])
        self.detector = PlayerDetector()
        self.motion = CameraMotion(size)
        self.small: np.ndarray = np.zeros((self.work[1], self.work[0], 3), np.uint8)
        self.tracker = ByteTracker()
        self.ball = BallTracker()
        self.refiner = autocalib.LineRefiner(size, work_width=work_width)
        self.n = 0
        # Re-anchoring after cuts and lost lock: a broadcast cuts between shots of one camera.
        self.use_pitch = homography is not None
        self.position = (
            autocalib.camera_position(homography, size) if homography is not None else None
        )
        self.thumb: np.ndarray | None = None
        self.last_check = 0
        self.bad_checks = 0
        self.reanchors = 0
        self.lost_frames = 0
        self.next_global = 0
        self.global_gap = 15

    def masks(self, image: np.ndarray) -> tuple[np.ndarray, PitchMasks]:
        small = cv2.resize(image, self.work, interpolation=cv2.INTER_AREA)
        self.small = small
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        return hsv, segment(hsv, self.grass)

    def candidates(self, hsv: np.ndarray, masks: PitchMasks):
        prior = (
            height_prior(self.h, self.size)
            if self.h is not None
            else (self.learned if self.learned.ready else None)
        )
        heights = band_heights(prior, self.size, self.scale)
        lines = known_lines(self.h, self.work, self.scale) if self.h is not None else None
        fg = foreground(hsv, masks.grass, masks.field, self.grass.val_median, heights, lines)
        has = masks.field.any(axis=0)
        top = np.where(has, masks.field.argmax(axis=0), -10)
        cands = self.detector.detect(
            fg, self.scale, prior, self.size[1], top if prior is not None else None
        )
        cands = self._on_grass(cands, masks.grass)
        if lines is not None:
            boxes = np.array([c.box for c in cands]).reshape(-1, 4)
            cands = [
                c for c, ok in zip(cands, off_lines(boxes, lines, self.scale), strict=True) if ok
            ]
        if self.h is None:
            # Teach the fallback prior with the confident, person-shaped blobs.
            good = [c for c in cands if c.score >= 0.5]
            if good:
                b = np.array([c.box for c in good])
                self.learned.add(b[:, 1] + b[:, 3], b[:, 3])
        return cands

    def _on_grass(self, cands: list, grass: np.ndarray) -> list:
        """Keep candidates that stand on the pitch: some grass around them, not on an overlay.

        Scorebug digits and logos are player-sized blobs inside the field's outline, but they
        sit on a panel, not on grass, and they do not move with the picture.
        """
        if not cands:
            return cands
        overlay = self.motion.overlay_mask(self.work)
        gh, gw = grass.shape
        kept = []
        for c in cands:
            x, y, w, h = (v * self.scale for v in c.box)
            cx, cy = int(x + w / 2), int(y + h / 2)
            if 0 <= cy < gh and 0 <= cx < gw and overlay[cy, cx]:
                continue
            # Bands left and right of the box (a player's feet may stand on a line or a shadow,
            # the sides of a player are usually grass, or another player).
            px = max(2, int(0.4 * w))
            y0, y1 = max(0, int(y)), min(gh, int(y + h))
            left = grass[y0:y1, max(0, int(x) - px) : max(0, int(x))]
            right = grass[y0:y1, min(gw, int(x + w)) : min(gw, int(x + w) + px)]
            n_side = left.size + right.size
            if n_side > 0 and np.count_nonzero(left) + np.count_nonzero(right) < 0.25 * n_side:
                continue
            kept.append(c)
        return kept

    def step(self, frame: Frame) -> FrameOutput:
        image = frame.image
        hsv, masks = self.masks(image)
        cands = self.candidates(hsv, masks)
        boxes = np.array([c.box for c in cands]).reshape(-1, 4)
        colours = shirt_colours(image, self.grass, boxes)
        if self.teams is None:
            self.colour_pool.extend(colours[np.isfinite(colours).all(axis=1)])
            if len(self.colour_pool) >= 150:
                self.teams = TeamModel.fit(np.array(self.colour_pool))
                self.colour_pool = [] if self.teams is None else self.colour_pool
        if self.teams is not None and len(colours):
            team, conf = self.teams.classify(colours)
        else:
            team, conf = np.full(len(cands), -1), np.zeros(len(cands))
        dets = [
            Detection(np.array(c.box), c.score, int(t), float(k), colours[i])
            for i, (c, t, k) in enumerate(zip(cands, team, conf, strict=True))
        ]
        focal = None
        if self.h is not None:
            cam = camera_from_homography(self.h, self.size)
            focal = float(cam.k[0, 0]) if cam is not None else None
        est = self.motion.update(self.small, boxes, focal, masks.field)
        motion = est.matrix if self.n > 0 else None
        if self.h is not None and motion is not None:
            self.h = motion @ self.h
            self.h /= self.h[2, 2]
        if self.use_pitch:
            motion = self._check_lock(image, masks, boxes, est.ok, motion)
        if self.h is not None and self.refiner is not None:
            self.h = self.refiner.update(image, masks, self.h, boxes, self.scale)
        pairs = self.tracker.update(dets, motion)
        hinv = np.linalg.inv(self.h) if self.h is not None else None
        players = []
        for t, d in pairs:
            ground = apply_h(hinv, np.array([foot_point(d.box)]))[0] if hinv is not None else None
            players.append(
                PlayerObs(frame.index, t.key, d.box, d.score, d.team, d.team_conf, ground, d.colour)
            )
        ball = self._ball(image, hsv, masks, boxes, motion, hinv)
        self.n += 1
        return FrameOutput(frame.index, image, pairs, players, ball, self.h)

    def _check_lock(self, image, masks, boxes, motion_ok: bool, motion):
        """Detect cuts and lost lock (projected lines no longer on the painted ones); re-fit."""
        thumb = cv2.resize(
            cv2.cvtColor(self.small, cv2.COLOR_BGR2GRAY), (32, 18), interpolation=cv2.INTER_AREA
        )
        jump = (
            self.thumb is not None
            and float(np.abs(thumb.astype(np.float32) - self.thumb).mean()) > 12
        )
        self.thumb = thumb.astype(np.float32)
        due = self.n - self.last_check >= (10 if self.h is not None else 15)
        if not (due or jump or not motion_ok):
            return motion
        self.last_check = self.n
        overlay = self.motion.overlay_mask(self.work)
        cost = (
            autocalib.fit_cost(image, masks, self.h, boxes, overlay)
            if self.h is not None
            else float("inf")
        )
        if os.environ.get("FOOTAI_DEBUG"):
            print("check", self.n, round(cost, 2))
        if cost <= autocalib.LOST_FIT:
            self.bad_checks = 0
            return motion
        self.bad_checks += 1
        if self.h is not None and self.bad_checks < 2 and not jump:
            return motion  # one bad look (players over the lines) is not enough
        fit = None
        if self.h is not None and not jump:
            fit = autocalib.local_refit(image, masks, self.h, boxes, overlay)  # drift, not a cut
        if fit is None and (jump or self.n >= self.next_global):
            fit = autocalib.auto_calibrate(
                image, masks, boxes, position=self.position, overlay=overlay, thorough=False
            )
            # A failed global search is slow: back off before the next one.
            self.global_gap = min(self.global_gap * 2, 240) if fit is None else 15
            self.next_global = self.n + self.global_gap
        if os.environ.get("FOOTAI_DEBUG"):
            print(
                "lock",
                self.n,
                round(cost, 2),
                "jump" if jump else "",
                "refit" if fit else "none",
                fit and fit.detail,
            )
        if fit is None:
            if self.h is not None:
                self.lost_frames += 1
            self.h = None
            return motion
        self.h = fit.homography
        self.reanchors += 1
        self.bad_checks = 0
        if not jump:
            return motion
        # A new shot: old tracks and the ball would be matched to unrelated positions.
        self.tracker = ByteTracker()
        self.ball = BallTracker()
        return None

    def _ball(self, image, hsv, masks, boxes, motion, hinv) -> BallObs | None:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        sat = hsv[:, :, 1]
        radius = None
        if self.h is not None and hinv is not None:
            centre = apply_h(hinv, np.array([[self.size[0] / 2, self.size[1] / 2]]))
            radius = 0.11 * float(pixels_per_metre(self.h, centre)[0])
        cands = ball_candidates(gray, sat, masks.field, masks.grass, self.scale, radius, boxes)
        if hinv is not None and cands:
            # Painted spots look like a ball; drop candidates on them.
            spots = np.array([[0.0, 0.0], [-41.5, 0.0], [41.5, 0.0]])
            g = apply_h(hinv, np.array([c[:2] for c in cands]))
            far = np.linalg.norm(g[:, None] - spots[None], axis=2).min(axis=1) > 0.7
            # The ball in play is on the pitch (boards and their white lettering are not).
            on_pitch = (np.abs(g[:, 0]) < pitch.HALF_L + 1.5) & (
                np.abs(g[:, 1]) < pitch.HALF_W + 1.5
            )
            cands = [c for c, ok in zip(cands, far & on_pitch, strict=True) if ok]
        gate = max(12.0, 2.5 * (radius or 3.0) * 4)
        obs: BallObservation | None = self.ball.update(cands, motion, gate)
        if obs is None:
            return None
        ground = apply_h(hinv, np.array([obs.centre]))[0] if hinv is not None else None
        return BallObs(-1, obs.centre, obs.radius, obs.score, ground)


def _revote_teams(analysis: Analysis) -> None:
    """Replace the online team votes by ones from whole-track kit colours (see `track_votes`).

    Tracks that change kit for good mid-life (an identity swapped between opponents) are cut
    in two first, so that each piece gets its own team.
    """

    def by_track() -> dict[int, list[PlayerObs]]:
        out: dict[int, list[PlayerObs]] = {}
        for p in analysis.players:
            if p.key in analysis.track_ids and p.colour is not None:
                out.setdefault(p.key, []).append(p)
        return out

    def vote(tracks: dict[int, list[PlayerObs]]):
        return track_votes(
            {k: np.array([p.colour for p in v]) for k, v in tracks.items()},
            {k: np.array([p.frame for p in v]) for k, v in tracks.items()},
        )

    tracks = by_track()
    votes, model = vote(tracks)
    if model is None:
        return  # too little seen: keep the online votes
    next_key = max(chain(analysis.track_votes, analysis.track_ids), default=0) + 1
    next_id = max(analysis.track_ids.values(), default=0) + 1
    new_key: dict[tuple[int, int], int] = {}  # (old key, frame) → new key
    for key, obs in tracks.items():
        obs.sort(key=lambda p: p.frame)
        for cut in kit_changes(model, np.array([p.colour for p in obs])):
            for p in obs[cut:]:
                new_key[(key, p.frame)] = next_key
            analysis.track_ids[next_key] = next_id
            next_key, next_id = next_key + 1, next_id + 1
    if new_key:
        analysis.players = [
            replace(p, key=new_key.get((p.key, p.frame), p.key)) for p in analysis.players
        ]
        votes, model = vote(by_track())
        if model is None:
            return
    analysis.track_votes.update(votes)
    analysis.team_colours = model.bgr()
    analysis.team_model = model


def _initial_homography(
    opts: RunOptions,
    first: list[Frame],
    video: VideoSource,
    masks: PitchMasks | None,
    analysis: Analysis,
) -> np.ndarray | None:
    if opts.calibration is not None:
        cal = load_calibration(opts.calibration)
        h = homography_from_calibration(cal, source=str(opts.calibration))
        start = first[0].index
        if cal.frame != start:
            h = _carry(video.source, cal.frame, start, h, video.size)
        analysis.calibration_method = "file"
        analysis.calibration_detail = (
            f"{opts.calibration} (frame {cal.frame}, {len(cal.image_points)} points)"
        )
        return h
    fit = autocalib.auto_calibrate(first[0].image, masks) if masks is not None else None
    if fit is None:
        analysis.calibration_method = "none"
        analysis.warnings.append(
            "no homography: the pitch markings could not be matched to the pitch model; "
            "pitch coordinates are left empty (pass --calibration CALIB.json, see `footai calibrate`)"
        )
        return None
    analysis.calibration_method = "auto"
    analysis.calibration_detail = (
        f"fitted to the pitch markings of frame {first[0].index} ({fit.detail})"
    )
    return fit.homography


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


def analyse(
    video_path: str | Path,
    opts: RunOptions,
    on_frame: Callable[[FrameOutput, Analysis], None] | None = None,
) -> Analysis:
    """Run the pipeline over a video. ``on_frame`` sees each frame (for the annotated video)."""
    if opts.stride < 1:
        raise InputFileError("--stride must be at least 1")
    if opts.max_frames is not None and opts.max_frames < 1:
        raise InputFileError("--max-frames must be at least 1")
    if opts.start_s < 0:
        raise InputFileError("--start must be >= 0")
    if opts.detector not in DETECTORS:
        raise InputFileError(f"--detector must be one of {', '.join(DETECTORS)}")
    if opts.detector == "learned":
        return analyse_learned(video_path, opts, on_frame)
    with VideoSource(video_path, prefetch=4) as video:
        fps = video.fps / opts.stride
        analysis = Analysis(fps=fps, size=video.size)
        first, frames = _bootstrap(video, opts, video_path)
        grass = learn_grass([f.image for f in first])
        if grass is None:
            raise NotFootballError(
                f"{video_path}: no football pitch found (no dominant grass colour in the first "
                "frames); is this a football broadcast?"
            )
        probe = FrameProcessor(video.size, grass, None, None, opts.work_width)
        _, masks0 = probe.masks(first[0].image)
        if masks0.grass_fraction < 0.12:
            raise NotFootballError(
                f"{video_path}: no football pitch found (grass covers only "
                f"{100 * masks0.grass_fraction:.0f}% of the picture)"
            )
        h0 = _initial_homography(opts, first, video, masks0, analysis)
        # Learn the kits from the bootstrap frames before tracking starts. A throwaway processor
        # runs them in full, so that a panning camera carries the homography along and the
        # painted lines stay masked (line fragments are white blobs that can pass for a kit).
        warm = FrameProcessor(video.size, grass, h0, None, opts.work_width)
        pool = [
            np.array([p.colour for p in warm.step(fr).players if p.colour is not None])
            for fr in first
        ]
        colours = np.concatenate([c.reshape(-1, 3) for c in pool]) if pool else np.empty((0, 3))
        proc = FrameProcessor(video.size, grass, h0, TeamModel.fit(colours), opts.work_width)
        proc.detector = warm.detector  # keeps what it learnt of one player's blob size
        start = time.perf_counter()
        for fr in chain(first, frames):
            out = proc.step(fr)
            analysis.frames.append(fr.index)
            analysis.players.extend(out.players)
            if out.ball is not None:
                ob = out.ball
                analysis.balls.append(BallObs(fr.index, ob.centre, ob.radius, ob.score, ob.pitch))
            if out.homography is not None:
                analysis.homographies[fr.index] = out.homography
            for t, _ in out.tracks:
                if t.confirmed:
                    analysis.track_ids[t.key] = t.track_id
                analysis.track_votes[t.key] = t.votes.copy()
            if proc.teams is not None and not analysis.team_colours:
                analysis.team_colours = proc.teams.bgr()
            if on_frame is not None:
                on_frame(out, analysis)
        _revote_teams(analysis)
        analysis.processing_seconds = time.perf_counter() - start
        if proc.teams is None:
            analysis.warnings.append("could not find two kit colours: team labels are unreliable")
    return analysis


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


def analyse_learned(
    video_path: str | Path,
    opts: RunOptions,
    on_frame: Callable[[FrameOutput, Analysis], None] | None = None,
) -> Analysis:
    """The learned pipeline (`stages.LearnedProcessor`) over a video.

    Nothing about the footage stops a run: frames without a pitch fit get empty pitch
    columns, a clip without players gets empty tracks, and the summary says so.
    """
    from .model.runtime import FootNet
    from .model.weights import resolve_footai_model
    from .stages import LearnedProcessor, detect_ahead
    from .stitching import drop_overlay_tracks  # it imports this module's value types

    with VideoSource(video_path, prefetch=4) as video:
        analysis = Analysis(fps=video.fps / opts.stride, size=video.size, detector="learned")
        first, frames = _bootstrap(video, opts, video_path)
        grass = learn_grass([f.image for f in first])
        h0 = None
        if opts.calibration is not None:
            h0 = _initial_homography(opts, first, video, None, analysis)
        else:
            analysis.calibration_method = "keypoints"
        # The model is looked up after the inputs are checked: a bad file is reported as such.
        net = FootNet(resolve_footai_model(opts.model))
        proc = LearnedProcessor(video.size, net, grass, h0)
        start = time.perf_counter()
        no_pitch = 0
        for fr, found in detect_ahead(chain(first, frames), net):
            out = proc.step(fr, found)
            analysis.frames.append(fr.index)
            d = out.detections
            for (t, det), role, xy in zip(out.tracks, d.class_id, d.pitch_xy, strict=True):
                ground = xy if np.isfinite(xy).all() else None
                analysis.players.append(
                    PlayerObs(
                        fr.index,
                        t.key,
                        det.box,
                        det.score,
                        det.team,
                        det.team_conf,
                        ground,
                        det.colour,
                        int(role),
                    )
                )
                if t.confirmed:
                    analysis.track_ids[t.key] = t.track_id
                analysis.track_votes[t.key] = t.votes.copy()
            if out.ball is not None:
                cx, cy, r, score = out.ball
                analysis.balls.append(BallObs(fr.index, (cx, cy), r, score, out.ball_pitch))
            if out.homography is not None:
                analysis.homographies[fr.index] = out.homography
            else:
                no_pitch += 1
            analysis.keypoint_fits += out.keypoint_fit
            if on_frame is not None:
                on_frame(
                    FrameOutput(fr.index, fr.image, out.tracks, [], None, out.homography), analysis
                )
        # A logo or crest the net takes for a person sits on the overlay the run has learnt.
        analysis = drop_overlay_tracks(analysis, proc.motion.overlay_mask(video.size))
        # Every track votes, whatever role the net gave it: the kits are the two worn by two
        # people at once, so referees and keepers stay outliers, and a mislabelled player shows.
        _revote_teams(analysis)
        analysis.processing_seconds = time.perf_counter() - start
    n = len(analysis.frames)
    if grass is None and not analysis.track_ids and not analysis.keypoint_fits:
        # Close-ups and replays inside a broadcast are fine; a clip with no grass, nobody and no
        # marking anywhere is something else.
        raise NotFootballError(
            f"{video_path}: no football pitch found (no grass, no players and no pitch "
            f"markings in {n} frames); is this a football broadcast?"
        )
    if opts.calibration is None:
        analysis.calibration_detail = f"pitch keypoints fitted in {analysis.keypoint_fits} of {n} frames, carried by camera motion in between"
    if no_pitch:
        analysis.warnings.append(
            f"{no_pitch} of {n} frames have no pitch homography (too few pitch markings in view, "
            "close-ups or replays): their pitch columns are empty"
        )
    if not analysis.track_ids:
        analysis.warnings.append(
            "no players were tracked: is this a football broadcast (main camera)?"
        )
    elif not analysis.team_colours:
        analysis.warnings.append("could not find two kit colours: team labels are unreliable")
    return analysis
