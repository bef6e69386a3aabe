"""Human pose with MediaPipe's Tasks `PoseLandmarker`, returned as typed numpy results.

`PoseEstimator` wraps the landmarker in its three running modes and always closes it (mediapipe
complains at interpreter exit otherwise). Results carry 33 image landmarks as an ``(33, 5)``
array of ``x, y, z, visibility, presence`` (x, y normalised to the image) and 33 world
landmarks as ``(33, 3)`` metres around the hips.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from portfolio_ml_core.errors import ModelNotFoundError
from portfolio_ml_core.lifetime import ClosesOnExit
from portfolio_ml_core.native import quiet_native_stderr

# MediaPipe's C++ side logs model-loading chatter to stderr; keep the CLI's output readable.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def import_mediapipe_vision() -> Any:
    """Import MediaPipe's vision tasks without dragging TensorFlow in.

    mediapipe imports TensorFlow, when installed, only for API-doc decorators and remote file
    access (both optional, guarded by ImportError); that costs ~7 s of start-up on these
    machines. Blocking the import for the duration makes mediapipe use its built-in fallbacks;
    TensorFlow stays importable afterwards for code that really needs it (the cifar plugin).
    """
    if "mediapipe.tasks.python.vision" in sys.modules or "tensorflow" in sys.modules:
        from mediapipe.tasks.python import vision

        return vision
    sys.modules["tensorflow"] = None  # type: ignore[assignment]
    try:
        from mediapipe.tasks.python import vision
    finally:
        del sys.modules["tensorflow"]
    return vision


class PoseLandmark(IntEnum):
    """The 33 BlazePose landmarks, in the model's output order."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


NUM_LANDMARKS = len(PoseLandmark)

# Bones of the BlazePose skeleton, for drawing.
POSE_CONNECTIONS: tuple[tuple[PoseLandmark, PoseLandmark], ...] = tuple(
    (PoseLandmark[a], PoseLandmark[b])
    for a, b in [
        ("LEFT_SHOULDER", "RIGHT_SHOULDER"),
        ("LEFT_HIP", "RIGHT_HIP"),
        ("LEFT_SHOULDER", "LEFT_HIP"),
        ("RIGHT_SHOULDER", "RIGHT_HIP"),
        ("LEFT_SHOULDER", "LEFT_ELBOW"),
        ("LEFT_ELBOW", "LEFT_WRIST"),
        ("RIGHT_SHOULDER", "RIGHT_ELBOW"),
        ("RIGHT_ELBOW", "RIGHT_WRIST"),
        ("LEFT_HIP", "LEFT_KNEE"),
        ("LEFT_KNEE", "LEFT_ANKLE"),
        ("RIGHT_HIP", "RIGHT_KNEE"),
        ("RIGHT_KNEE", "RIGHT_ANKLE"),
        ("LEFT_ANKLE", "LEFT_HEEL"),
        ("LEFT_HEEL", "LEFT_FOOT_INDEX"),
        ("LEFT_ANKLE", "LEFT_FOOT_INDEX"),
        ("RIGHT_ANKLE", "RIGHT_HEEL"),
        ("RIGHT_HEEL", "RIGHT_FOOT_INDEX"),
        ("RIGHT_ANKLE", "RIGHT_FOOT_INDEX"),
        ("NOSE", "LEFT_EYE"),
        ("NOSE", "RIGHT_EYE"),
        ("LEFT_EYE", "LEFT_EAR"),
        ("RIGHT_EYE", "RIGHT_EAR"),
        ("MOUTH_LEFT", "MOUTH_RIGHT"),
    ]
)


class RunningMode(StrEnum):
    IMAGE = "image"  # independent stills: detection on every call
    VIDEO = "video"  # a file: tracking between frames, synchronous
    LIVE = "live"  # a camera: asynchronous, drops frames rather than falling behind


@dataclass(frozen=True)
class PoseResult:
    """One person's pose in one image.

    ``landmarks``: ``(33, 5)`` float32 — x, y normalised to [0, 1] of width/height (may fall
    outside when a joint is off-screen), z relative depth, visibility, presence.
    ``world``: ``(33, 3)`` float32 metres, origin between the hips.
    ``image_size``: (width, height) of the analysed image, for converting to pixels.
    """

    landmarks: np.ndarray
    world: np.ndarray
    image_size: tuple[int, int]

    @property
    def visibility(self) -> np.ndarray:
        return self.landmarks[:, 3]

    def xy(self, landmark: PoseLandmark | int) -> np.ndarray:
        """Normalised (x, y) of one landmark."""
        return self.landmarks[int(landmark), :2]

    def pixels(self) -> np.ndarray:
        """``(33, 2)`` image coordinates in pixels."""
        w, h = self.image_size
        return self.landmarks[:, :2] * np.array([w, h], dtype=np.float32)

    def bbox(self, min_visibility: float = 0.5) -> tuple[float, float, float, float] | None:
        """Normalised (x0, y0, x1, y1) around visible landmarks, or None when none are visible."""
        seen = self.landmarks[self.visibility >= min_visibility, :2]
        if len(seen) == 0:
            return None
        x0, y0 = seen.min(axis=0)
        x1, y1 = seen.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)


def _to_result(landmarks: Any, world: Any, size: tuple[int, int]) -> PoseResult:
    image = np.array(
        [(p.x, p.y, p.z, p.visibility or 0.0, p.presence or 0.0) for p in landmarks],
        dtype=np.float32,
    )
    world_xyz = np.array([(p.x, p.y, p.z) for p in world], dtype=np.float32)
    return PoseResult(image, world_xyz, size)


class PoseEstimator(ClosesOnExit):
    """MediaPipe PoseLandmarker in image, video or live-stream mode.

    >>> with PoseEstimator(model_path, mode=RunningMode.VIDEO) as pose:
    ...     people = pose.process(frame_bgr, timestamp_ms)

    ``process`` takes BGR (OpenCV) images and returns a list of `PoseResult` (one per person,
    at most ``num_poses``). In LIVE mode it returns the newest result available, which may
    belong to an earlier frame: the landmarker runs asynchronously and never queues up.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        mode: RunningMode | str = RunningMode.VIDEO,
        num_poses: int = 1,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        vision = import_mediapipe_vision()
        from mediapipe.tasks.python import BaseOptions

        path = Path(model_path)
        if not path.is_file():
            raise ModelNotFoundError(f"pose model not found: {path}")
        self.mode = RunningMode(mode)
        self._latest: list[PoseResult] = []
        self.latest_timestamp_ms = -1  # LIVE mode: the frame the newest result belongs to
        self._latest_lock = threading.Lock()
        self._last_timestamp_ms = -1
        running_mode = {
            RunningMode.IMAGE: vision.RunningMode.IMAGE,
            RunningMode.VIDEO: vision.RunningMode.VIDEO,
            RunningMode.LIVE: vision.RunningMode.LIVE_STREAM,
        }[self.mode]
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=running_mode,
            num_poses=num_poses,
            min_pose_detection_confidence=min_detection_confidence,
            min_pose_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence,
            result_callback=self._on_live_result if self.mode is RunningMode.LIVE else None,
        )
        try:
            with quiet_native_stderr():
                self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ModelNotFoundError(
                f"{path} is not a usable PoseLandmarker model: {str(exc).splitlines()[0]}"
            ) from None

    def process(self, image_bgr: np.ndarray, timestamp_ms: int | None = None) -> list[PoseResult]:
        import cv2
        import mediapipe as mp

        # cv2.cvtColor is ~100x faster than a numpy flip + contiguous copy (1.5 ms at 640x360).
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        size = (rgb.shape[1], rgb.shape[0])
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        if self.mode is RunningMode.IMAGE:
            return self._results(self._landmarker.detect(mp_image), size)
        # Video and live modes need strictly increasing timestamps.
        ts = self._last_timestamp_ms + 1 if timestamp_ms is None else int(timestamp_ms)
        ts = max(ts, self._last_timestamp_ms + 1)
        self._last_timestamp_ms = ts
        if self.mode is RunningMode.VIDEO:
            return self._results(self._landmarker.detect_for_video(mp_image, ts), size)
        self._landmarker.detect_async(mp_image, ts)
        with self._latest_lock:
            return list(self._latest)

    @staticmethod
    def _results(raw: Any, size: tuple[int, int]) -> list[PoseResult]:
        return [
            _to_result(lms, world, size)
            for lms, world in zip(raw.pose_landmarks, raw.pose_world_landmarks, strict=False)
        ]

    def _on_live_result(self, raw: Any, image: Any, timestamp_ms: int) -> None:
        results = self._results(raw, (image.width, image.height))
        with self._latest_lock:
            self._latest = results
            self.latest_timestamp_ms = timestamp_ms

    def close(self) -> None:
        landmarker = getattr(self, "_landmarker", None)
        if landmarker is not None:
            with quiet_native_stderr():
                landmarker.close()
            self._landmarker = None
