"""The learned pipeline as a short composition of stages, one frame at a time.

detect (the net: `Detections` + pitch keypoints) → camera motion → pitch homography
(keypoint fits carried by motion) → kit colours and teams → tracking → pitch positions → ball.
Each stage is a small object with named-constant settings; `LearnedProcessor.step` is the
whole story. Nothing here draws or writes files.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
from portfolio_ml_core.video import Frame

from .ball import BallTracker
from .camera_motion import CameraMotion
from .detection import foot_point
from .detections import Detections
from .homography import HomographyTracker, fit_keypoints, image_to_pitch
from .model.runtime import FootNet, FrameResult
from .model.spec import PLAYER
from .segmentation import GrassModel
from .teams import TeamModel, shirt_colours
from .tracking import ByteTracker, Detection, Track, TrackerConfig

# A default grass range for frames where none could be learnt (close-ups, replays).
DEFAULT_GRASS = GrassModel(hue_lo=30, hue_hi=85, sat_min=40, val_min=40)
TEAM_POOL = 150  # player kit colours gathered before the two teams are fitted
COLOUR_EVERY = 2  # kit colours on every 2nd frame: votes over a track need no more, 4 ms saved
MOTION_WIDTH = 320  # camera motion on a 320-px grey copy (Lucas–Kanade needs no more)
BALL_GATE_PX = 40.0  # how far the ball may move between frames at 1280×720 (scaled)
# The ground point under a player sits this share of the box height above the box's bottom edge
# (boxes drawn like the annotators', a margin below the feet; the nearer foot lower than the
# body): the median over synthetic clips that neither training nor the benchmarks use (static
# seeds 50, pan seeds 51, 53, 55), measured with each frame's exact homography.
FOOT_LIFT = 0.01
# The net's scores are calibrated probabilities, not the classic detector's blob scores.
TRACKER = TrackerConfig(high=0.5, new_track=0.55, match_cost=0.8, low_match_cost=0.7, max_misses=30)


@dataclass
class LearnedFrame:
    """One processed frame: what each stage found."""

    index: int
    detections: Detections  # persons with team, track_id and pitch_xy filled
    tracks: list[tuple[Track, Detection]]
    roles: list[int]  # class id per pair in ``tracks``
    ball: tuple[float, float, float, float] | None  # cx, cy, radius, score
    ball_pitch: np.ndarray | None
    homography: np.ndarray | None
    keypoint_fit: bool


class TeamStage:
    """Kit colours of player boxes → team 0/1 (or -1), once enough colours are seen."""

    def __init__(self, grass: GrassModel | None) -> None:
        self.grass = grass or DEFAULT_GRASS
        self.model: TeamModel | None = None
        self.pool: list[np.ndarray] = []

    def __call__(
        self, image: np.ndarray, dets: Detections, measure: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xywh = np.c_[dets.xyxy[:, :2], dets.xyxy[:, 2:] - dets.xyxy[:, :2]]
        if measure and len(dets):
            colours = shirt_colours(image, self.grass, xywh)
        else:  # unmeasured: NaN colours; the track's team comes from its other frames
            colours = np.full((len(dets), 3), np.nan, np.float32)
        if self.model is None:
            players = colours[(dets.class_id == PLAYER) & np.isfinite(colours).all(axis=1)]
            self.pool.extend(players)
            if len(self.pool) >= TEAM_POOL:
                self.model = TeamModel.fit(np.array(self.pool))
                if self.model is None:
                    self.pool = self.pool[-TEAM_POOL:]
        if self.model is None or not len(dets):
            return np.full(len(dets), -1), np.zeros(len(dets)), colours
        team, conf = self.model.classify(colours)
        return team, conf, colours


class BallStage:
    """The net's ball peaks, followed over frames (one ball in play)."""

    def __init__(self, frame_width: int) -> None:
        self.tracker = BallTracker(confirm=2, max_gap=12)
        self.gate = BALL_GATE_PX * frame_width / 1280

    def __call__(
        self, balls: Detections, motion: np.ndarray | None
    ) -> tuple[float, float, float, float] | None:
        cands = [
            (float(c[0]), float(c[1]), float(max(2.0, (b[2] - b[0]) / 2)), float(s))
            for c, b, s in zip(balls.centres, balls.xyxy, balls.score, strict=True)
        ]
        obs = self.tracker.update(cands, motion, self.gate)
        if obs is None:
            return None
        return obs.centre[0], obs.centre[1], obs.radius, obs.score


def detect_ahead(frames: Iterable[Frame], net: FootNet) -> Iterator[tuple[Frame, FrameResult]]:
    """The net on frame n+1 (in a thread) while the caller tracks frame n.

    LiteRT releases the GIL while it runs, so the net and the Python stages (kit colours,
    motion, tracking) overlap on a 2-core machine instead of taking turns.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="footai-net") as pool:
        pending: tuple[Frame, Future[FrameResult]] | None = None
        for frame in frames:
            ahead = (frame, pool.submit(net, frame.image))
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = ahead
        if pending is not None:
            yield pending[0], pending[1].result()


class LearnedProcessor:
    def __init__(
        self,
        size: tuple[int, int],
        net: FootNet,
        grass: GrassModel | None,
        homography: np.ndarray | None = None,
    ) -> None:
        self.size = size
        self.net = net
        self.motion = CameraMotion(size, work_width=MOTION_WIDTH)
        self.pitch = HomographyTracker(size)
        self.pitch.current = homography
        # A calibration file is exact for its shot: carry it by camera motion, do not blend it
        # with the (noisier) keypoint fits.
        self.use_keypoints = homography is None
        self.teams = TeamStage(grass)
        self.tracker = ByteTracker(TRACKER)
        self.ball = BallStage(size[0])
        self.n = 0
        self.thumb: np.ndarray | None = None

    def step(self, frame: Frame, found: FrameResult | None = None) -> LearnedFrame:
        """One frame; ``found`` is the net's result when it was computed ahead (`detect_ahead`)."""
        image = frame.image
        if found is None:
            found = self.net(image)
        persons, balls = found.detections.persons, found.detections.balls
        xywh = np.c_[persons.xyxy[:, :2], persons.xyxy[:, 2:] - persons.xyxy[:, :2]]
        estimate = self.motion.update(image, xywh)
        cut = self._is_cut(self.motion.prev)  # the motion stage's small grey copy of this frame
        motion = estimate.matrix if self.n > 0 and estimate.ok and not cut else None
        if cut:  # a new shot: nothing carries over from the last one
            self.tracker = ByteTracker(TRACKER)
            self.ball = BallStage(self.size[0])
            self.pitch.current = None
            self.use_keypoints = True  # a calibration file holds for its own shot only
        fit = fit_keypoints(found.keypoints, self.size[0]) if self.use_keypoints else None
        h = self.pitch.update(fit, motion) if self.use_keypoints else self.pitch.carry(motion)
        team, conf, colours = self.teams(image, persons, measure=self.n % COLOUR_EVERY == 0)
        dets = [
            Detection(xywh[i], float(persons.score[i]), int(team[i]), float(conf[i]), colours[i])
            for i in range(len(persons))
        ]
        role_of = {id(d): int(c) for d, c in zip(dets, persons.class_id, strict=True)}
        pairs = self.tracker.update(dets, motion)
        feet = np.array([foot_point(d.box, FOOT_LIFT) for _, d in pairs]).reshape(-1, 2)
        pitch_xy = (
            image_to_pitch(h, feet)
            if h is not None and len(feet)
            else np.full((len(pairs), 2), np.nan)
        )
        tracked = Detections(
            np.array(
                [[d.box[0], d.box[1], d.box[0] + d.box[2], d.box[1] + d.box[3]] for _, d in pairs]
            ).reshape(-1, 4),
            np.array([role_of.get(id(d), PLAYER) for _, d in pairs], int),
            np.array([d.score for _, d in pairs]),
            team=np.array([d.team for _, d in pairs], int),
            track_id=np.array([t.key for t, _ in pairs], int),
            pitch_xy=pitch_xy,
        )
        ball = self.ball(balls, motion)
        ball_pitch = (
            image_to_pitch(h, np.array([[ball[0], ball[1]]]))[0]
            if ball is not None and h is not None
            else None
        )
        self.n += 1
        return LearnedFrame(
            frame.index,
            tracked,
            pairs,
            list(tracked.class_id),
            ball,
            ball_pitch,
            h,
            fit is not None,
        )

    def _is_cut(self, grey: np.ndarray | None) -> bool:
        """A hard cut between shots: the picture changes all at once."""
        if grey is None:
            return False
        thumb = cv2.resize(grey, (32, 18), interpolation=cv2.INTER_AREA).astype(np.float32)
        prev, self.thumb = self.thumb, thumb
        return prev is not None and float(np.abs(thumb - prev).mean()) > 25
