"""`squat run`: a video file in, counts and evidence out, as fast as the pose model allows.

The frame loop is decode → pose → count → (overlay → encode). Decoding runs ahead on a thread
(`VideoSource(prefetch=...)`) and encoding on another (`_BackgroundSink`), both in OpenCV code
that releases the GIL, so the main thread spends its time in the pose model. Pose runs on a
copy of the frame no larger than ``pose_size`` on its long side: the landmarker resizes to
256×256 internally anyway, and a smaller input makes its colour conversion and copies cheaper.
"""

from __future__ import annotations

import csv
import io
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.fsutil import write_json_atomic, write_text_atomic
from portfolio_ml_core.models import ModelSource, model_file
from portfolio_ml_core.pose import PoseEstimator, PoseResult
from portfolio_ml_core.video import VideoSink, VideoSource

from portfolio_ml_squat.counter import CounterUpdate, RepCounter, RepEvent, RepKind
from portfolio_ml_squat.exercises import ExerciseRule, get_exercise
from portfolio_ml_squat.features import ExtensionCalibrator, PoseSample, extract
from portfolio_ml_squat.overlay import draw_hud
from portfolio_ml_squat.tracking import PersonSelector

FRAME_COLUMNS = (
    "frame", "time_s", "person", "phase", "rep_index", "reps", "partial_reps",
    "angle", "angle_raw", "left_2d", "right_2d", "left_3d", "right_3d", "left_ext", "right_ext",
    "hip_left", "hip_right", "torso_lean", "frontal", "vis_left", "vis_right",
)  # fmt: skip


@dataclass(frozen=True)
class RunConfig:
    exercise: str = "squat"
    preset: str | None = None
    max_frames: int | None = None
    write_video: bool = True
    write_plot: bool = True
    pose_size: int = 640  # long side of the image given to the pose model; 0 = as decoded
    num_poses: int = 1
    prefetch: int = 8
    keep_poses: bool = False  # keep every followed PoseResult in RunResult.poses (tests, tools)


@dataclass
class FrameRow:
    frame: int
    time_s: float
    person: bool
    phase: str
    rep_index: int
    reps: int
    partial_reps: int
    angle: float
    sample: PoseSample

    def values(self) -> list[Any]:
        s = self.sample
        return [
            self.frame, round(self.time_s, 4), int(self.person), self.phase, self.rep_index,
            self.reps, self.partial_reps, _r(self.angle), _r(s.angle),
            _r(s.angle_2d[0]), _r(s.angle_2d[1]), _r(s.angle_3d[0]), _r(s.angle_3d[1]),
            _r(s.angle_ext[0]), _r(s.angle_ext[1]), _r(s.hip_angle[0]), _r(s.hip_angle[1]),
            _r(s.metrics.get("torso_lean", math.nan)), _r(s.frontal),
            _r(s.visibility[0], 3), _r(s.visibility[1], 3),
        ]  # fmt: skip


def _r(value: float, digits: int = 2) -> float | str:
    return round(float(value), digits) if math.isfinite(value) else ""


@dataclass
class RunResult:
    """Everything `squat run` learnt about one video."""

    video: str
    exercise: str
    preset: str
    frames: int
    frames_with_person: int
    video_fps: float
    fps_processed: float
    wall_s: float
    events: list[RepEvent]
    rows: list[FrameRow] = field(repr=False)
    thresholds: dict[str, float]
    warnings: list[str]
    outputs: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    poses: list[PoseResult | None] = field(default_factory=list, repr=False)
    loop_cpu_s: float = 0.0

    @property
    def reps(self) -> int:
        return sum(e.kind is RepKind.FULL for e in self.events)

    @property
    def partial_reps(self) -> int:
        return sum(e.kind is RepKind.PARTIAL for e in self.events)

    def summary(self) -> dict[str, Any]:
        by_kind = {kind: [e.to_dict() for e in self.events if e.kind is kind] for kind in RepKind}
        return {
            "video": self.video,
            "exercise": self.exercise,
            "preset": self.preset,
            "reps": self.reps,
            "partial_reps": self.partial_reps,
            "rejected": len(by_kind[RepKind.REJECTED]),
            "frames": self.frames,
            "frames_with_person": self.frames_with_person,
            "video_fps": round(self.video_fps, 3),
            "duration_s": round(self.frames / self.video_fps, 3) if self.video_fps else None,
            "fps_processed": round(self.fps_processed, 2),
            "wall_s": round(self.wall_s, 2),
            "thresholds": self.thresholds,
            "last_rep_cut_short": any(e.cut_short for e in self.events),
            "rep_details": by_kind[RepKind.FULL],
            "partial_details": by_kind[RepKind.PARTIAL],
            "rejected_details": by_kind[RepKind.REJECTED],
            "warnings": self.warnings,
            **self.extra,
            "outputs": self.outputs,
        }


class _BackgroundSink:
    """A `VideoSink` fed from a queue on its own thread (encoding overlaps with inference)."""

    def __init__(self, sink: VideoSink, depth: int = 16) -> None:
        self._sink = sink
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="video-encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (image := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._sink.write(image)
                except BaseException as exc:  # report on the main thread
                    self._error = exc

    def write(self, image: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(image)

    def finish(self, ok: bool) -> None:
        self._queue.put(None)
        self._thread.join()
        if ok and self._error is None:
            self._sink.close()
        else:
            self._sink.abort()
            if ok and self._error is not None:
                raise self._error


def pose_input(image: np.ndarray, pose_size: int) -> np.ndarray:
    """The frame shrunk so its long side is at most ``pose_size`` (unchanged if already)."""
    h, w = image.shape[:2]
    long_side = max(h, w)
    if pose_size <= 0 or long_side <= pose_size:
        return image
    f = pose_size / long_side
    return cv2.resize(image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)


class FrameAnalyzer:
    """Per-frame logic shared by `squat run` and `squat live`: select → extract → count."""

    def __init__(self, rule: ExerciseRule, preset: str | None) -> None:
        self.rule = rule
        self.counter = RepCounter(rule, preset)
        self.selector = PersonSelector()
        self.calibrator = ExtensionCalibrator()

    def step(self, people: list[Any], t: float) -> tuple[Any, PoseSample, CounterUpdate]:
        person, switched = self.selector.select(people, t)
        if switched:
            self.counter.lose_track()
            self.calibrator = ExtensionCalibrator()
        sample = extract(person, t, self.rule, straight_ratio=self.calibrator.straight())
        self.calibrator.update(sample.ext_ratio, t)
        return person, sample, self.counter.update(sample)

    def finish(self, t: float) -> tuple[RepEvent, ...]:
        """End of input at ``t``: the counter's last events (`RepCounter.finish`)."""
        return self.counter.finish(t).events

    def reset(self) -> None:
        self.counter.reset()
        self.selector.reset()
        self.calibrator = ExtensionCalibrator()


def analyze_video(
    video_path: str | Path,
    out_dir: str | Path | None,
    model_path: ModelSource,
    config: RunConfig = RunConfig(),
) -> RunResult:
    """Count reps in a video file; write the outputs to ``out_dir`` (None: write nothing)."""
    rule = get_exercise(config.exercise)
    preset = config.preset or rule.default_preset
    analyzer = FrameAnalyzer(rule, preset)
    out = Path(out_dir) if out_dir is not None else None
    rows: list[FrameRow] = []
    events: list[RepEvent] = []
    poses: list[PoseResult | None] = []
    start = time.perf_counter()
    with (
        VideoSource(video_path, prefetch=config.prefetch) as video,
        PoseEstimator(model_file(model_path), mode="video", num_poses=config.num_poses) as pose,
    ):
        sink: _BackgroundSink | None = None
        if out is not None and config.write_video:
            w, h = video.size
            f = min(1.0, config.pose_size / max(w, h)) if config.pose_size > 0 else 1.0
            size = (round(w * f), round(h * f))
            sink = _BackgroundSink(VideoSink(out / "annotated.mp4", video.fps, size))
        ok = False
        loop_start = time.perf_counter()
        cpu_start = time.process_time()
        try:
            for frame in video.frames(max_frames=config.max_frames):
                image = pose_input(frame.image, config.pose_size)
                people = pose.process(image, frame.timestamp_ms)
                person, sample, update = analyzer.step(people, frame.timestamp_s)
                events.extend(update.events)
                if config.keep_poses:
                    poses.append(person)
                rows.append(
                    FrameRow(
                        frame.index, frame.timestamp_s, person is not None, update.phase.value,
                        update.rep_index, update.reps, update.partial_reps, update.angle, sample,
                    )
                )  # fmt: skip
                if sink is not None:
                    canvas = image.copy() if image is frame.image else image
                    draw_hud(
                        canvas, person, sample, update, exercise=rule.name, joint=rule.joint_name
                    )
                    sink.write(canvas)
            ok = True
        finally:
            if sink is not None:
                sink.finish(ok and bool(rows))
        loop_s = time.perf_counter() - loop_start
        loop_cpu_s = time.process_time() - cpu_start  # all threads: decode, pose, encode
        fps = video.fps
    if rows:  # the end of input: pending reps are judged, a rep cut short at depth counts
        events.extend(analyzer.finish(rows[-1].time_s))

    frames_with_person = sum(r.person for r in rows)
    warnings: list[str] = []
    if not rows:
        raise PortfolioError(f"{video_path}: no frames could be decoded")
    if frames_with_person == 0:
        warnings.append("no person was detected in any frame; nothing to count")
    elif frames_with_person < 0.5 * len(rows):
        share = frames_with_person / len(rows)
        warnings.append(f"a person was detected in only {share:.1%} of the frames")
    seen = [r for r in rows if math.isfinite(r.sample.angle)]
    if frames_with_person and not seen:
        warnings.append(f"the landmarks {rule.name} needs were never clearly visible")
    th = analyzer.counter.thresholds
    result = RunResult(
        video=str(video_path),
        exercise=rule.name,
        preset=preset,
        frames=len(rows),
        frames_with_person=frames_with_person,
        video_fps=fps,
        fps_processed=len(rows) / loop_s if loop_s > 0 else 0.0,
        wall_s=time.perf_counter() - start,
        events=events,
        rows=rows,
        thresholds={"top": th.top, "start": th.start, "partial": th.partial, "bottom": th.bottom},
        warnings=warnings,
        poses=poses,
        loop_cpu_s=loop_cpu_s,
    )
    if out is not None:
        write_outputs(result, out, video=config.write_video, plot=config.write_plot)
    return result


def write_outputs(result: RunResult, out: Path, *, video: bool, plot: bool) -> None:
    """frames.csv, angles.png and summary.json (last, so its presence means 'complete')."""
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FRAME_COLUMNS)
    writer.writerows(row.values() for row in result.rows)
    write_text_atomic(out / "frames.csv", buffer.getvalue())
    result.outputs["frames_csv"] = str(out / "frames.csv")
    if video:
        result.outputs["annotated_video"] = str(out / "annotated.mp4")
    if plot:
        from portfolio_ml_squat.plot import plot_angles

        plot_angles(result, out / "angles.png")
        result.outputs["angles_png"] = str(out / "angles.png")
    write_json_atomic(out / "summary.json", result.summary())
    result.outputs["summary_json"] = str(out / "summary.json")
