"""Video input and output.

`VideoSource` reads a video file, a camera index or a folder of images and yields `Frame`s;
`VideoSink` writes an mp4 atomically. Problems a user can cause (missing file, not a video,
empty video, no camera) raise `VideoError` with a one-line message.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

# FFmpeg (inside OpenCV) prints decoder complaints about damaged files straight to stderr;
# the damage is reported by this module as one clear line instead.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from portfolio_ml_core.errors import InputFileError, PortfolioError
from portfolio_ml_core.lifetime import ClosesOnExit

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
# What `batch` looks for in a folder of videos (an explicit file is tried whatever its name).
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".ts")


class VideoError(InputFileError):
    """A video source that cannot be read."""


class CameraUnavailableError(PortfolioError):
    """No camera at the requested index."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame: BGR ``uint8`` pixels, 0-based index in the source, time in seconds."""

    index: int
    timestamp_s: float
    image: np.ndarray

    @property
    def timestamp_ms(self) -> int:
        return round(self.timestamp_s * 1000)


class VideoSource(ClosesOnExit):
    """Frames from a file path, a camera index (``0`` or ``"0"``) or a folder of images.

    >>> with VideoSource("clip.mp4") as video:
    ...     for frame in video.frames(max_frames=100):
    ...         ...

    ``prefetch`` > 0 decodes on a background thread (OpenCV releases the GIL while decoding),
    so decoding overlaps with whatever the consumer does with each frame.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | int,
        *,
        folder_fps: float = 30.0,
        prefetch: int = 0,
        warn_short: bool = True,
    ) -> None:
        self.source = source
        self.prefetch = prefetch
        # Say once that a file ends before its header's frame count (a later pass over the
        # same file, in this source or another one, passes False: it was said).
        self.warn_short = warn_short
        self.is_camera = False
        self._capture: cv2.VideoCapture | None = None
        self._images: list[Path] = []
        self._first: np.ndarray | None = None
        self._prefetchers: list[_Prefetcher] = []
        camera_index = _as_camera_index(source)
        if camera_index is not None:
            self._open_camera(camera_index)
        else:
            self._open_path(Path(source), folder_fps)  # type: ignore[arg-type]

    # -- opening -------------------------------------------------------------------------
    def _open_camera(self, index: int) -> None:
        self.is_camera = True
        capture = cv2.VideoCapture(index)
        if not capture.isOpened():
            capture.release()
            raise CameraUnavailableError(
                f"cannot open camera {index} (no camera, or it is in use); "
                "use --source FILE to read a video file instead"
            )
        ok, first = capture.read()
        if not ok or first is None:
            capture.release()
            raise CameraUnavailableError(f"camera {index} opened but delivers no frames")
        self._capture, self._first = capture, first
        self.fps = _sane_fps(capture.get(cv2.CAP_PROP_FPS))
        self.frame_count: int | None = None
        self.size = (first.shape[1], first.shape[0])

    def _open_path(self, path: Path, folder_fps: float) -> None:
        if not path.exists():
            raise VideoError(f"no such file or folder: {path}")
        if path.is_dir():
            self._images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._images:
                raise VideoError(f"folder {path} contains no images")
            first = cv2.imread(str(self._images[0]))
            if first is None:
                raise VideoError(f"cannot decode image {self._images[0]}")
            self._first = first
            self.fps = folder_fps
            self.frame_count = len(self._images)
            self.size = (first.shape[1], first.shape[0])
            return
        if path.stat().st_size == 0:
            raise VideoError(f"{path} is empty (0 bytes)")
        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise VideoError(f"{path} is an image, not a video (pass a folder to read stills)")
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            capture.release()
            raise VideoError(f"{path} is not a readable video (unknown format, or truncated)")
        ok, first = capture.read()
        if not ok or first is None:
            capture.release()
            raise VideoError(f"{path} contains no decodable frames (empty or truncated video)")
        self._capture, self._first = capture, first
        self.fps = _sane_fps(capture.get(cv2.CAP_PROP_FPS))
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        # Headers can over-claim (a cut file keeps its header); iteration stops at the real end.
        self.frame_count = count if count > 0 else None
        self.size = (first.shape[1], first.shape[0])

    # -- reading -------------------------------------------------------------------------
    def frames(
        self, *, start_s: float = 0.0, max_frames: int | None = None, stride: int = 1
    ) -> Iterator[Frame]:
        """Yield frames from ``start_s`` on, every ``stride``-th, at most ``max_frames`` of them."""
        if stride < 1:
            raise ValueError("stride must be >= 1")
        raw = self._raw_frames(start_s)
        picked = _pick(raw, stride, max_frames)
        if self.prefetch > 0:
            prefetcher = _Prefetcher(picked, self.prefetch)
            self._prefetchers.append(prefetcher)
            yield from prefetcher
        else:
            yield from picked

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def _raw_frames(self, start_s: float) -> Iterator[Frame]:
        start_index = max(0, round(start_s * self.fps))
        if self._images:
            for i in range(start_index, len(self._images)):
                image = self._first if i == 0 else cv2.imread(str(self._images[i]))
                if image is None:
                    raise VideoError(f"cannot decode image {self._images[i]}")
                yield Frame(i, i / self.fps, image)
            return
        capture = self._capture
        if capture is None:
            raise VideoError("video source is closed")
        index = 0
        if self._first is not None and start_index == 0:
            yield Frame(0, 0.0, self._first)
            index = 1
        elif not self.is_camera:
            # A later pass (or a late start) seeks: every pass over a file starts at start_s.
            capture.set(cv2.CAP_PROP_POS_FRAMES, start_index)
            index = start_index
        self._first = None  # the frame read while opening is handed out once
        while True:
            ok, image = capture.read()
            if not ok or image is None:
                break
            yield Frame(index, index / self.fps, image)
            index += 1
        claimed = self.frame_count
        short = not self.is_camera and claimed and index < 0.9 * claimed
        if short and self.warn_short:
            # Decoding ran out well before the header's count: a cut or damaged file.
            self.warn_short = False
            log.warning(
                "%s ended after %d of the %d frames its header announces (truncated or damaged?)",
                self.source,
                index,
                claimed,
            )

    # -- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        for prefetcher in self._prefetchers:
            prefetcher.stop()
        self._prefetchers.clear()
        if self._capture is not None:
            self._capture.release()
            self._capture = None


def _as_camera_index(source: str | os.PathLike[str] | int) -> int | None:
    if isinstance(source, int):
        return source
    if isinstance(source, str) and source.isdigit() and not Path(source).exists():
        return int(source)
    return None


def _sane_fps(fps: float) -> float:
    # Some containers and most webcams report 0 or absurd rates.
    return float(fps) if 1.0 <= fps <= 240.0 else 30.0


def _pick(frames: Iterator[Frame], stride: int, max_frames: int | None) -> Iterator[Frame]:
    taken = 0
    for n, frame in enumerate(frames):
        if max_frames is not None and taken >= max_frames:
            return
        if n % stride == 0:
            taken += 1
            yield frame


_END = object()


class _Prefetcher:
    """Runs a frame iterator on a thread, ``depth`` frames ahead of the consumer.

    `stop()` (also called by `VideoSource.close`) waits for the thread to leave the decoder,
    so the capture is never released while a read is in flight (FFmpeg aborts the process).
    """

    def __init__(self, frames: Iterator[Frame], depth: int) -> None:
        self._frames = frames
        self._buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="video-decode", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            for frame in self._frames:
                if self._stop.is_set():
                    return
                self._buffer.put(frame)
            self._buffer.put(_END)
        except BaseException as exc:  # hand decode errors to the consumer's thread
            self._buffer.put(exc)

    def __iter__(self) -> Iterator[Frame]:
        try:
            while True:
                item = self._buffer.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            self.stop()

    def stop(self) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                self._buffer.get_nowait()
            except queue.Empty:
                self._thread.join(timeout=0.05)


def letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Fit ``image`` inside ``size`` (width, height) keeping its aspect ratio; pad with black."""
    w, h = size
    ih, iw = image.shape[:2]
    f = min(w / iw, h / ih)
    nw, nh = round(iw * f), round(ih * f)
    canvas = np.zeros((h, w, 3), np.uint8)
    x, y = (w - nw) // 2, (h - nh) // 2
    canvas[y : y + nh, x : x + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return canvas


class VideoSink:
    """Write BGR frames to an mp4 file atomically.

    Frames go to a temporary file beside the target, renamed into place by `close()`; if the
    ``with`` block raises, the temporary file is deleted and nothing appears at ``path``.
    With ``ffmpeg`` on PATH the video is H.264 (plays in browsers); otherwise OpenCV's MPEG-4.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        size: tuple[int, int],
        *,
        codec: str = "auto",
    ) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.size = (int(size[0]) // 2 * 2, int(size[1]) // 2 * 2)  # H.264 needs even sizes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.stem}.part{self.path.suffix or '.mp4'}")
        self.frames_written = 0
        self._ffmpeg: subprocess.Popen[bytes] | None = None
        self._writer: cv2.VideoWriter | None = None
        use_ffmpeg = codec == "h264" or (codec == "auto" and shutil.which("ffmpeg") is not None)
        if use_ffmpeg:
            self._ffmpeg = subprocess.Popen(
                [
                    "ffmpeg",
                    "-loglevel",
                    "error",
                    "-y",
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    "bgr24",
                    "-s",
                    f"{self.size[0]}x{self.size[1]}",
                    "-r",
                    f"{self.fps:.3f}",
                    "-i",
                    "-",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-pix_fmt",
                    "yuv420p",
                    "-movflags",
                    "+faststart",
                    "-f",
                    "mp4",
                    str(self._tmp),
                ],
                stdin=subprocess.PIPE,
            )
        else:
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            self._writer = cv2.VideoWriter(str(self._tmp), fourcc, self.fps, self.size)
            if not self._writer.isOpened():
                raise PortfolioError(f"cannot write video {self.path}")

    def write(self, image: np.ndarray) -> None:
        if image.shape[1] != self.size[0] or image.shape[0] != self.size[1]:
            image = cv2.resize(image, self.size)
        if self._ffmpeg is not None and self._ffmpeg.stdin is not None:
            self._ffmpeg.stdin.write(np.ascontiguousarray(image).tobytes())
        elif self._writer is not None:
            self._writer.write(image)
        self.frames_written += 1

    def close(self) -> Path:
        """Finish the file and move it into place."""
        self._finish()
        if self.frames_written == 0:
            self.abort()
            raise PortfolioError(f"no frames were written to {self.path}")
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        self._finish()
        self._tmp.unlink(missing_ok=True)

    def _finish(self) -> None:
        if self._ffmpeg is not None:
            assert self._ffmpeg.stdin is not None
            self._ffmpeg.stdin.close()
            if self._ffmpeg.wait() != 0:
                self._ffmpeg = None
                self._tmp.unlink(missing_ok=True)
                raise PortfolioError(f"ffmpeg failed while writing {self.path}")
            self._ffmpeg = None
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> VideoSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
