"""`squat run`: a video file in, counts and evidence out, as fast as the pose model allows.

The frame loop is decode → pose → count → (overlay → encode). The pose model runs in a child
process (`PoseProcess`): MediaPipe holds the GIL through each inference, so in one process every
line of Python beside it (counting, drawing, feeding the encoder) delayed it — on an AMD EPYC
(Zen 4) `squat run` reached 0.82× the bare model's frames/s with the video, 0.89× without.
That process gets a core of its own where there are two or more (the scheduler otherwise put
the encoder's threads beside it: 0.87× → 1.02–1.06× the bare model, same VM). Frames are
pipelined: while the model works on frame i, this process counts and draws frame i − 1 and
decodes i + 1. Decoding runs ahead on a thread (`VideoSource(prefetch=...)`); drawing
the overlay and encoding run on another (`_BackgroundSink`). Pose runs on a copy of the frame no
larger than ``pose_size`` on its long side: the landmarker resizes to 256×256 internally anyway,
and a smaller input makes its colour conversion and copies cheaper.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.models import ModelSource, model_file
from portfolio_ml_core.pose import PoseEstimator, PoseResult
from portfolio_ml_core.pose_process import PoseProcess
from portfolio_ml_core.video import Frame, VideoSink, VideoSource

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
    pose_process: bool = True  # the pose model in a child process (False: in this one)
    own_core: bool = True  # that process on a core of its own (core's `affinity`)


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
    with VideoSource(video_path, prefetch=config.prefetch) as video:
        w, h = video.size
        f = min(1.0, config.pose_size / max(w, h)) if config.pose_size > 0 else 1.0
        size = (round(w * f), round(h * f))
        model = model_file(model_path)
        shape = (size[1], size[0], 3)
        pose: PoseProcess | PoseEstimator = (
            PoseProcess(model, shape, num_poses=config.num_poses, own_core=config.own_core)
            if config.pose_process and PoseProcess.supported(shape)
            else PoseEstimator(model, mode="video", num_poses=config.num_poses)
        )
        # Which core the model had to itself (None: none, or the model in this process).
        model_core = pose.model_cpu if isinstance(pose, PoseProcess) else None
        with pose:
            if isinstance(pose, PoseProcess):
                pose.wait_ready()  # before the sink: a model that will not load leaves no file
            sink: _BackgroundSink | None = None
            if out is not None and config.write_video:
                sink = _BackgroundSink(VideoSink(out / "annotated.mp4", video.fps, size))
            ok = False
            loop_start = time.perf_counter()
            cpu_start = time.process_time()
            try:
                frames = video.frames(max_frames=config.max_frames)
                for frame, image, people in _posed(frames, pose, config.pose_size):
                    person, sample, update = session.step(frame.index, frame.timestamp_s, people)
                    if sink is not None:
                        # The frame is not used here again (pose read its own copy), so the
                        # sink may draw on it; person, sample and update are frozen values.
                        sink.write(image, partial(draw_hud, pose=person, sample=sample,
                                                  update=update, exercise=rule.name,
                                                  joint=rule.joint_name))  # fmt: skip
                ok = True
            finally:
                if sink is not None:
                    sink.finish(ok and bool(session.rows))
            loop_s = time.perf_counter() - loop_start
            # All threads (decode, count, encode) and, when it has one, the pose's process.
            loop_cpu_s = time.process_time() - cpu_start
            if isinstance(pose, PoseProcess) and ok:
                loop_cpu_s += pose.cpu_seconds()
        fps = video.fps
    if not session.rows:
        raise PortfolioError(f"{video_path}: no frames could be decoded")
    result = session.result(
        video=str(video_path),
        video_fps=fps,
        fps_processed=len(session.rows) / loop_s if loop_s > 0 else 0.0,
        wall_s=time.perf_counter() - start,
        loop_cpu_s=loop_cpu_s,
        extra={"pose_model_core": model_core},
    )
    if out is not None:
        write_outputs(result, out, video=config.write_video, plot=config.write_plot)
    return result


def _posed(
    frames: Iterator[Frame], pose: PoseProcess | PoseEstimator, pose_size: int
) -> Iterator[tuple[Frame, np.ndarray, list[PoseResult]]]:
    """Each frame with its pose input and the people found, in order. With a `PoseProcess`,
    up to its depth of frames are in the model's hands at once, so it never waits for us."""
    if isinstance(pose, PoseEstimator):
        for frame in frames:
            image = pose_input(frame.image, pose_size)
            yield frame, image, pose.process(image, frame.timestamp_ms)
        return
    waiting: deque[tuple[Frame, np.ndarray]] = deque()
    for frame in frames:
        if len(waiting) == pose.depth:
            done, image = waiting.popleft()
            yield done, image, pose.result()
        image = pose_input(frame.image, pose_size)
        pose.submit(image, frame.timestamp_ms)
        waiting.append((frame, image))
    while waiting:
        done, image = waiting.popleft()
        yield done, image, pose.result()
