"""Real-data fixtures for the squat tests: one analysed run of the real clip, and clips the
tests derive from it and from a real photo (made once per session, small and short)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from portfolio_ml_core.video import VideoSink, VideoSource


def write_clip(path: Path, frames: Iterator[np.ndarray] | list[np.ndarray], fps: float) -> Path:
    sink: VideoSink | None = None
    for image in frames:
        if sink is None:
            sink = VideoSink(path, fps, (image.shape[1], image.shape[0]))
        sink.write(image)
    assert sink is not None
    sink.close()
    return path


def _scaled(image: np.ndarray, long_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    f = long_side / max(h, w)
    return cv2.resize(image, (round(w * f) // 2 * 2, round(h * f) // 2 * 2), cv2.INTER_AREA)


def _letterbox_with_overlay(image: np.ndarray, t: float) -> np.ndarray:
    """640×360 landscape with the portrait clip in the middle and broadcast-style graphics."""
    from portfolio_ml_squat.bench import letterbox

    out = letterbox(image)
    banner = out.copy()
    cv2.rectangle(banner, (0, 300), (640, 360), (40, 40, 160), -1)
    out = cv2.addWeighted(banner, 0.6, out, 0.4, 0)
    cv2.putText(out, f"GYM CAM  {t:05.1f}s", (12, 338), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                (255, 255, 255), 2)  # fmt: skip
    cv2.circle(out, (600, 30), 14, (0, 0, 255), -1)  # a "live" badge
    return out


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="session")
def clip_factory(
    tmp_path_factory: pytest.TempPathFactory, squat_clip: Path
) -> Callable[[str], Path]:
    """``make(name)`` → a derived clip of the real squat video (cached for the session)."""
    folder = tmp_path_factory.mktemp("squat_clips")
    made: dict[str, Path] = {}

    def frames(long_side: int, start_s: float = 0.0) -> Iterator[tuple[float, np.ndarray]]:
        with VideoSource(squat_clip) as video:
            for f in video.frames(start_s=start_s):
                yield f.timestamp_s, _scaled(f.image, long_side)

    def make(name: str) -> Path:
        if name in made:
            return made[name]
        path = folder / f"{name}.mp4"
        if name == "fast_mirrored":  # every 2nd frame, flipped: squats twice as fast, mirrored
            images = (cv2.flip(im, 1) for i, (_, im) in enumerate(frames(640)) if i % 2 == 0)
            write_clip(path, images, 29.97)
        elif name == "reversed":  # played backwards (at double speed, to stay short)
            images = [im for i, (_, im) in enumerate(frames(480)) if i % 2 == 0]
            write_clip(path, images[::-1], 29.97)
        elif name == "lift_only":  # only the overhead lift at the end: not a squat
            write_clip(path, (im for _, im in frames(640, start_s=18.6)), 29.97)
        elif name == "landscape_overlay":  # 640×360, small person, on-screen graphics
            images = (_letterbox_with_overlay(im, t) for t, im in frames(1080))
            write_clip(path, images, 29.97)
        else:
            raise KeyError(name)
        made[name] = path
        return path

    return make


@pytest.fixture(scope="session")
def photo_clips(tmp_path_factory: pytest.TempPathFactory, astronaut_bgr: np.ndarray) -> dict:
    """Clips made from real photos: a still person, a slow pan-and-zoom, and no person."""
    folder = tmp_path_factory.mktemp("photo_clips")
    h, w = astronaut_bgr.shape[:2]
    still = write_clip(folder / "still.mp4", [astronaut_bgr] * 60, 30.0)

    def pan(i: int) -> np.ndarray:
        z = 1.0 + 0.004 * i  # zooming in while panning right
        m = np.array([[z, 0, -0.5 * i], [0, z, -0.2 * i]], np.float32)
        return cv2.warpAffine(astronaut_bgr, m, (w, h), borderMode=cv2.BORDER_REFLECT)

    panned = write_clip(folder / "pan_zoom.mp4", (pan(i) for i in range(90)), 30.0)
    skimage_data = pytest.importorskip("skimage.data")
    scene = cv2.cvtColor(skimage_data.coffee(), cv2.COLOR_RGB2BGR)
    empty = write_clip(
        folder / "no_person.mp4", (np.roll(scene, 3 * i, axis=1) for i in range(45)), 30.0
    )
    return {"still": still, "pan_zoom": panned, "no_person": empty}
