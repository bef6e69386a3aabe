"""The real LaLiga clip redrawn as a camera the net never saw, and how well a run calibrates it.

A run on the real clip gives each frame's homography (pitch → pixels, checked on its painted
lines). A virtual camera placed in the world and aimed, smoothly, at the pitch point the real
camera looks at gives another; each real frame is warped through ``H_new · H_frame⁻¹`` into what
that camera would see (real pixels, players and boards lean; what the real frame did not show is
black). ``H_new`` is then the clip's ground truth, as good as the real run's homographies
(~0.3–0.7 m). The redrawn clip is run through `footai run --no-video` and scored: per frame,
the median distance between where the run's homography and the truth put the covered pixels
on the pitch. The figures are in docs/footai.md (pipeline, step 4). Not part of the product.

    uv run portfolio-ml footai run ../shared/videos/football_broadcast_laliga.mp4 -o /tmp/laliga --no-video
    uv run python docs/experiments/footai_redrawn_clip.py /tmp/laliga /tmp/redrawn high

Kinds: ``high`` (a gantry 28 m back, 32 m up, 40° wide) and ``tactical`` (35 m back, 38 m up,
62° wide). Frames 200–449 (the live shot). ``tactical-painted`` (or ``high-painted``): what the
real frame did not show is grass with the pitch's markings painted on (`synth.views`' training
fill) instead of black, as a real tactical camera shows markings everywhere; the players and
boards are still only those of the real frame. ``tv``: the clip as a phone films it off a TV
screen (the issue's Serie A clip): the picture through a fixed perspective (the screen seen a
little from the side and below), a dark surround, a slight blur, a moiré pattern and a duller
colour; the truth is that perspective times the real run's homography.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from portfolio_ml_core.video import VideoSink, VideoSource
from portfolio_ml_footai.calibrate.keypoints import image_to_pitch
from portfolio_ml_footai.synth.camera import BroadcastCamera
from portfolio_ml_footai.synth.views import _fill, _paint_lines, _validity, plane_homography

CLIP = Path(__file__).parents[2].parent / "shared" / "videos" / "football_broadcast_laliga.mp4"
KINDS = {"high": ((0.0, 62.0, 32.0), 40.0), "tactical": ((0.0, 69.0, 38.0), 62.0)}
FIRST, LAST = 200, 450
SIZE = (1280, 720)


# Where the screen's corners land in the filmed picture (top-left, top-right, bottom-right,
# bottom-left): seen from a little to the left and below, filling most of the picture.
SCREEN = np.float32([[95, 75], [1205, 40], [1235, 690], [60, 655]])


def off_a_tv(image: np.ndarray, screen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` (SIZE) as a phone films it off a TV: through ``screen`` (3×3), a dark room
    around it, blur, moiré and duller colours."""
    w, h = SIZE
    filmed = cv2.warpPerspective(image, screen, SIZE).astype(np.float32)
    on_screen = cv2.warpPerspective(np.ones((h, w), np.uint8), screen, SIZE)[..., None] > 0
    filmed = cv2.GaussianBlur(filmed, (0, 0), 1.0)
    ys, xs = np.mgrid[0:h, 0:w]
    moire = 7.0 * np.sin(2 * np.pi * (0.23 * xs + 0.11 * ys))[..., None]
    grey = filmed.mean(axis=2, keepdims=True)
    filmed = 0.8 * filmed + 0.2 * grey + moire + rng.normal(0, 3, filmed.shape)
    # The room around the screen stays dark (under the scorer's "shown" level of 10).
    room = np.full_like(filmed, 7.0)
    return np.clip(np.where(on_screen, filmed, room), 0, 255).astype(np.uint8)


def _live_shot(run: Path) -> tuple[float, Iterator[tuple[np.ndarray, np.ndarray]]]:
    """The clip's frame rate, and its frames FIRST..LAST-1 at SIZE with the real run's
    homography of each (pitch → SIZE pixels)."""
    saved = np.load(run / "homographies.npz")
    index = {int(f): h for f, h in zip(saved["frames"], saved["homographies"], strict=True)}
    with VideoSource(CLIP) as src:
        fps = src.fps

    def frames() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        w, h = SIZE
        with VideoSource(CLIP) as src:
            for frame in src.frames():
                if frame.index < FIRST:
                    continue
                if frame.index >= LAST:
                    break
                sx, sy = w / frame.image.shape[1], h / frame.image.shape[0]
                yield cv2.resize(frame.image, SIZE), np.diag([sx, sy, 1.0]) @ index[frame.index]

    return fps, frames()


def redraw(run: Path, out: Path, kind: str) -> np.ndarray:
    fps, shot = _live_shot(run)
    if kind == "tv":
        return _redraw_tv(fps, shot, out)
    painted = kind.endswith("-painted")
    (x, y, z), fov = KINDS[kind.removesuffix("-painted")]
    rng = np.random.default_rng(0)
    w, h = SIZE
    focal = w / 2 / math.tan(math.radians(fov) / 2)
    aim, truth = None, []
    with VideoSink(out / f"{kind}.mp4", fps, SIZE) as sink:
        for image, h_frame in shot:
            centre = image_to_pitch(h_frame, np.array([[w / 2, h * 0.6]]))[0]
            aim = centre if aim is None else aim + 0.1 * (centre - aim)  # a smooth follow
            camera = BroadcastCamera(x, y, z, 0.0, 0.0, focal, w, h).looking_at(*map(float, aim))
            h_new = plane_homography(camera)
            warp = h_new @ np.linalg.inv(h_frame)
            drawn = cv2.warpPerspective(image, warp / warp[2, 2], SIZE)
            if painted:
                on_pitch, seen = _validity(h_new, h_frame)
                grass = np.median(drawn[seen & on_pitch].reshape(-1, 3), axis=0)
                fill = _fill(grass, on_pitch, rng)
                _paint_lines(fill, h_new, tuple(map(float, aim)), grass)
                cv2.copyTo(fill, (~seen).astype(np.uint8), drawn)
            sink.write(drawn)
            truth.append(h_new / h_new[2, 2])
    return np.array(truth)


def _redraw_tv(fps: float, shot: Iterator[tuple[np.ndarray, np.ndarray]], out: Path) -> np.ndarray:
    w, h = SIZE
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    screen = cv2.getPerspectiveTransform(corners, SCREEN)
    rng = np.random.default_rng(0)
    truth = []
    with VideoSink(out / "tv.mp4", fps, SIZE) as sink:
        for image, h_frame in shot:
            sink.write(off_a_tv(image, screen, rng))
            h_tv = screen @ h_frame
            truth.append(h_tv / h_tv[2, 2])
    return np.array(truth)


def score(run: Path, video: Path, truth: np.ndarray) -> dict[str, float]:
    found = np.load(run / "homographies.npz")["homographies"]
    w, h = SIZE
    us, vs = np.meshgrid(np.linspace(20, w - 20, 25), np.linspace(20, h - 20, 15))
    grid = np.c_[us.ravel(), vs.ravel()]
    errors = []
    with VideoSource(video) as src:
        for frame, t, f in zip(src.frames(), truth, found, strict=False):
            shown = frame.image.max(axis=2)[grid[:, 1].astype(int), grid[:, 0].astype(int)] > 10
            if not np.isfinite(f).all():
                errors.append(np.inf)
                continue
            a, b = image_to_pitch(t, grid), image_to_pitch(f, grid)
            on_pitch = shown & (np.abs(a[:, 0]) <= 52.5) & (np.abs(a[:, 1]) <= 34)
            errors.append(float(np.median(np.linalg.norm(a - b, axis=1)[on_pitch])))
    e = np.array(errors)
    finite = e[np.isfinite(e)]
    return {
        "frames": len(e),
        "calibrated": len(finite),
        "median_m": round(float(np.median(finite)), 3) if len(finite) else float("nan"),
        "within_1.5m": round(float(np.mean(e <= 1.5)), 3),
        "over_3m": round(float(np.mean(np.isfinite(e) & (e > 3))), 3),
    }


def main(run: Path, out: Path, kind: str) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    truth = redraw(run, out, kind)
    result = out / f"run-{kind}"
    subprocess.run(
        [
            "portfolio-ml",
            "footai",
            "run",
            str(out / f"{kind}.mp4"),
            "-o",
            str(result),
            "--no-video",
        ],
        check=True,
    )
    summary = json.loads((result / "summary.json").read_text())
    return {"kind": kind, **score(result, out / f"{kind}.mp4", truth)} | {
        "detail": summary["calibration"]["detail"]
    }


if __name__ == "__main__":
    print(
        json.dumps(
            main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "high")
        )
    )
