"""`squat live`: the counter on a webcam, or on a file played back in real time.

A camera runs the landmarker in LIVE_STREAM mode: frames are handed over asynchronously and the
newest result is drawn, so a slow frame never makes the picture fall behind. A file runs in
VIDEO mode, paced to its own frame rate; when processing falls behind, frames are skipped as a
camera would drop them. Latency is measured per shown frame, from the moment the frame was
available (captured, or due in the file's timeline) to the moment its overlay is ready.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from portfolio_ml_core.models import ModelSource, model_file
from portfolio_ml_core.pose import PoseEstimator
from portfolio_ml_core.video import VideoSink, VideoSource

from portfolio_ml_squat.overlay import draw_hud
from portfolio_ml_squat.pipeline import pose_input
from portfolio_ml_squat.session import RunResult, Session, write_outputs

WINDOW = "portfolio-ml squat"


@dataclass
class LiveStats:
    latencies_ms: list[float] = field(default_factory=list)
    shown: int = 0
    dropped: int = 0
    wall_s: float = 0.0

    def percentile(self, p: float) -> float:
        return float(np.percentile(self.latencies_ms, p)) if self.latencies_ms else math.nan

    def to_dict(self) -> dict[str, float | int]:
        return {
            "frames_shown": self.shown,
            "frames_dropped": self.dropped,
            "latency_p50_ms": round(self.percentile(50), 2),
            "latency_p95_ms": round(self.percentile(95), 2),
            "fps_shown": round(self.shown / self.wall_s, 2) if self.wall_s else 0.0,
        }


def display_available() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


@dataclass(frozen=True)
class LiveConfig:
    exercise: str = "squat"
    preset: str | None = None
    target_reps: int | None = None
    display: bool = True
    realtime: bool = True  # files: pace to the clip's frame rate (False: as fast as possible)
    max_frames: int | None = None
    pose_size: int = 640


def run_live(
    source: int | str | Path,
    model_path: ModelSource,
    config: LiveConfig,
    out_dir: Path | None = None,
    log: Any = print,
) -> tuple[RunResult, LiveStats]:
    """Run until the source ends, ``q`` is pressed, ``max_frames`` or Ctrl-C."""
    import cv2

    session = Session(config.exercise, config.preset)
    rule = session.rule
    stats = LiveStats()
    display = config.display and display_available()
    if config.display and not display:
        log("no display available: running headless")
    with _quiet_opencv(cv2):  # probing a missing camera makes OpenCV log a page of errors
        video = VideoSource(source)
    with video:
        camera = video.is_camera
        mode = "live" if camera else "video"
        sink: VideoSink | None = None
        with PoseEstimator(model_file(model_path), mode=mode) as pose:
            t0 = time.perf_counter()
            capture_times: dict[int, float] = {}
            last_shown = t0
            fps_ema = 0.0
            try:
                for frame in video.frames(max_frames=config.max_frames):
                    arrived = time.perf_counter()
                    if not camera and config.realtime:
                        due = t0 + frame.timestamp_s
                        if arrived - due > 1.5 / video.fps:
                            stats.dropped += 1  # behind schedule: skip, as a camera would
                            continue
                        if due > arrived:
                            time.sleep(due - arrived)
                        arrived = max(arrived, due)
                    image = pose_input(frame.image, config.pose_size)
                    people = pose.process(image, frame.timestamp_ms)
                    person, sample, update = session.step(frame.index, frame.timestamp_s, people)
                    canvas = image.copy() if image is frame.image else image
                    now = time.perf_counter()
                    fps_ema = 0.9 * fps_ema + 0.1 / max(now - last_shown, 1e-6)
                    last_shown = now
                    draw_hud(
                        canvas, person, sample, update, exercise=rule.name, joint=rule.joint_name,
                        target_reps=config.target_reps, fps=fps_ema,
                    )  # fmt: skip
                    done = time.perf_counter()
                    if camera:
                        capture_times[frame.timestamp_ms] = arrived
                        ts = pose.latest_timestamp_ms
                        if ts in capture_times:
                            stats.latencies_ms.append((done - capture_times.pop(ts)) * 1000)
                            for old in [k for k in capture_times if k < ts]:
                                del capture_times[old]
                    else:
                        stats.latencies_ms.append((done - arrived) * 1000)
                    stats.shown += 1
                    if out_dir is not None:
                        if sink is None:
                            size = (canvas.shape[1], canvas.shape[0])
                            sink = VideoSink(out_dir / "annotated.mp4", video.fps, size)
                        sink.write(canvas)
                    if display:
                        try:
                            cv2.imshow(WINDOW, canvas)
                            key = cv2.waitKey(1) & 0xFF
                        except cv2.error:
                            log("cannot open a window: running headless")
                            display = False
                            key = 255
                        if key == ord("q"):
                            break
                        if key == ord("r"):
                            session.reset()
                        if key == ord(" "):
                            paused_at = time.perf_counter()
                            if _pause(cv2, canvas) == ord("q"):
                                break
                            t0 += time.perf_counter() - paused_at  # the clip waits too
            except KeyboardInterrupt:
                log("stopped")
            finally:
                stats.wall_s = time.perf_counter() - t0
                if display:
                    cv2.destroyAllWindows()
                if sink is not None:
                    sink.close()
        fps = video.fps
    result = session.result(
        video=str(source),
        video_fps=fps,
        fps_processed=stats.shown / stats.wall_s if stats.wall_s else 0.0,
        wall_s=stats.wall_s,
        extra={"live": stats.to_dict(), "source": "camera" if camera else "file"},
    )
    if out_dir is not None and session.rows:
        write_outputs(result, out_dir, video=sink is not None, plot=True)
    return result, stats


@contextlib.contextmanager
def _quiet_opencv(cv2: Any) -> Iterator[None]:
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _pause(cv2: Any, canvas: np.ndarray) -> int:
    """Hold the picture until space (resume) or q (quit); returns the key that ended it."""
    from portfolio_ml_core.draw import draw_text

    h, w = canvas.shape[:2]
    shown = canvas.copy()
    draw_text(shown, "PAUSED - space to resume", (w // 2 - 130, h // 2))
    while True:
        cv2.imshow(WINDOW, shown)
        key = int(cv2.waitKey(50) & 0xFF)
        if key in (ord(" "), ord("q")):
            return key
