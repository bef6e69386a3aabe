"""One counting session: frames in; rows, events, the end-of-input flush and the result out.

`squat run` (a file as fast as possible), `squat live` (a camera or a file in real time) and the
UI page's live mode are frame sources and sinks around one `Session`; the per-frame logic
(`FrameAnalyzer`: select the person → extract the angles → count), the end flush (a rep cut
short at depth counts) and the building of `RunResult` exist here only.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portfolio_ml_core.fsutil import write_json_atomic, write_text_atomic
from portfolio_ml_core.pose import PoseResult

from portfolio_ml_squat.counter import CounterUpdate, RepCounter, RepEvent, RepKind
from portfolio_ml_squat.exercises import ExerciseRule, get_exercise
from portfolio_ml_squat.features import ExtensionCalibrator, PoseSample, extract
from portfolio_ml_squat.tracking import PersonSelector

FRAME_COLUMNS = (
    "frame", "time_s", "person", "phase", "rep_index", "reps", "partial_reps",
    "angle", "angle_raw", "left_2d", "right_2d", "left_3d", "right_3d", "left_ext", "right_ext",
    "hip_left", "hip_right", "torso_lean", "frontal", "vis_left", "vis_right",
)  # fmt: skip


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


class Session:
    """Feed it frames with `step`; `result` ends the input and builds the `RunResult`."""

    def __init__(self, exercise: str, preset: str | None = None, keep_poses: bool = False) -> None:
        self.rule = get_exercise(exercise)
        self.preset = preset or self.rule.default_preset
        self.analyzer = FrameAnalyzer(self.rule, self.preset)
        self.keep_poses = keep_poses
        self.rows: list[FrameRow] = []
        self.events: list[RepEvent] = []
        self.poses: list[PoseResult | None] = []
        self._finished = False

    def step(
        self, frame: int, t: float, people: list[Any]
    ) -> tuple[Any, PoseSample, CounterUpdate]:
        person, sample, update = self.analyzer.step(people, t)
        self.events.extend(update.events)
        if self.keep_poses:
            self.poses.append(person)
        self.rows.append(
            FrameRow(
                frame, t, person is not None, update.phase.value, update.rep_index,
                update.reps, update.partial_reps, update.angle, sample,
            )
        )  # fmt: skip
        return person, sample, update

    def reset(self) -> None:
        """Start counting again (the live view's ``r`` key, the page's reset button)."""
        self.analyzer.reset()
        self.events.clear()

    def finish(self) -> None:
        """The input ended: pending reps are judged and a rep cut short at depth counts."""
        if self.rows and not self._finished:
            self.events.extend(self.analyzer.finish(self.rows[-1].time_s))
        self._finished = True

    @property
    def thresholds(self) -> dict[str, float]:
        th = self.analyzer.counter.thresholds
        return {"top": th.top, "start": th.start, "partial": th.partial, "bottom": th.bottom}

    def warnings(self) -> list[str]:
        rows = self.rows
        with_person = sum(r.person for r in rows)
        if with_person == 0:
            return ["no person was detected in any frame; nothing to count"]
        out = []
        if with_person < 0.5 * len(rows):
            out.append(f"a person was detected in only {with_person / len(rows):.1%} of the frames")
        if not any(math.isfinite(r.sample.angle) for r in rows):
            out.append(f"the landmarks {self.rule.name} needs were never clearly visible")
        return out

    def result(
        self,
        *,
        video: str,
        video_fps: float,
        fps_processed: float,
        wall_s: float,
        extra: dict[str, Any] | None = None,
        loop_cpu_s: float = 0.0,
    ) -> RunResult:
        self.finish()
        return RunResult(
            video=video,
            exercise=self.rule.name,
            preset=self.preset,
            frames=len(self.rows),
            frames_with_person=sum(r.person for r in self.rows),
            video_fps=video_fps,
            fps_processed=fps_processed,
            wall_s=wall_s,
            events=list(self.events),
            rows=self.rows,
            thresholds=self.thresholds,
            warnings=self.warnings(),
            extra=extra or {},
            poses=self.poses,
            loop_cpu_s=loop_cpu_s,
        )


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
