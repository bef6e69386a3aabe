"""`squat run`: a video file in, counts and evidence out, as fast as the pose model allows.

The frame loop is decode → pose → count → (overlay → encode). Decoding runs ahead on a thread
(`VideoSource(prefetch=...)`); drawing the overlay and encoding run on another
(`_BackgroundSink`), both mostly in OpenCV code that releases the GIL, so the main thread
spends its time in the pose model (single-threaded in MediaPipe's CPU build): on two cores
every millisecond left on the main thread is a millisecond the pose model waits. Pose runs on a
copy of the frame no larger than ``pose_size`` on its long side: the landmarker resizes to
256×256 internally anyway, and a smaller input makes its colour conversion and copies cheaper.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.models import ModelSource, model_file
from portfolio_ml_core.pose import PoseEstimator
from portfolio_ml_core.video import VideoSink, VideoSource

from portfolio_ml_squat.overlay import draw_hud
from portfolio_ml_squat.session import RunResult, Session, write_outputs


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


Draw = Callable[[np.ndarray], object]  # draws on the image in place


class _BackgroundSink:
    """A `VideoSink` fed from a queue on its own thread: each frame is drawn on there and
    encoded, so neither holds up inference. The image handed over belongs to the sink."""

    def __init__(self, sink: VideoSink, depth: int = 16) -> None:
        self._sink = sink
        self._queue: queue.Queue[tuple[np.ndarray, Draw | None] | None] = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="video-encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                image, draw = item
                try:
                    if draw is not None:
                        draw(image)
                    self._sink.write(image)
                except BaseException as exc:  # report on the main thread
                    self._error = exc

    def write(self, image: np.ndarray, draw: Draw | None = None) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((image, draw))

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


def analyze_video(
    video_path: str | Path,
    out_dir: str | Path | None,
    model_path: ModelSource,
    config: RunConfig = RunConfig(),
) -> RunResult:
    """Count reps in a video file; write the outputs to ``out_dir`` (None: write nothing)."""
    session = Session(config.exercise, config.preset, keep_poses=config.keep_poses)
    rule = session.rule
    out = Path(out_dir) if out_dir is not None else None
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
                person, sample, update = session.step(frame.index, frame.timestamp_s, people)
                if sink is not None:
                    # The frame is not used here again (pose read its own RGB copy), so the
                    # sink may draw on it; person, sample and update are frozen values.
                    sink.write(image, partial(draw_hud, pose=person, sample=sample,
                                              update=update, exercise=rule.name,
                                              joint=rule.joint_name))  # fmt: skip
            ok = True
        finally:
            if sink is not None:
                sink.finish(ok and bool(session.rows))
        loop_s = time.perf_counter() - loop_start
        loop_cpu_s = time.process_time() - cpu_start  # all threads: decode, pose, encode
        fps = video.fps
    if not session.rows:
        raise PortfolioError(f"{video_path}: no frames could be decoded")
    result = session.result(
        video=str(video_path),
        video_fps=fps,
        fps_processed=len(session.rows) / loop_s if loop_s > 0 else 0.0,
        wall_s=time.perf_counter() - start,
        loop_cpu_s=loop_cpu_s,
    )
    if out is not None:
        write_outputs(result, out, video=config.write_video, plot=config.write_plot)
    return result
