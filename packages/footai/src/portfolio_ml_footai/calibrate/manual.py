"""`footai calibrate`: pick point pairs by hand (OpenCV window) or write the automatic fit."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.fsutil import write_json_atomic
from portfolio_ml_core.video import VideoSource

from .. import pitch
from ..render import tactical
from .geometry import Calibration, CalibrationError, general_position, homography_from_calibration
from .keypoints import image_to_pitch

if TYPE_CHECKING:
    from .line_search import LineSearch


def read_frame(video: str | Path, frame: int) -> np.ndarray:
    with VideoSource(video) as src:
        for fr in src.frames(start_s=frame / src.fps, max_frames=1):
            return fr.image
    raise PortfolioError(f"{video}: no frame {frame}")


def auto_calibration(video: str | Path, frame: int, model: Path | None = None) -> dict[str, Any]:
    """Point pairs for the frame, found as a run finds a shot's pitch: the net's pitch
    keypoints (the RANSAC inliers; never fewer than 4), or where they are too few or weak, the
    painted lines alone (`line_search`: the pitch keypoints in view, placed by what it found)."""
    from ..detect.net import NetDetector
    from .keypoints import MIN_INLIERS
    from .line_search import calibrate_frame

    image = read_frame(video, frame)
    seen = NetDetector(model)(image)
    found = seen.keypoints
    assert found is not None  # the shipped net always gives its 32 keypoints
    calibration = calibrate_frame(found, image, seen.detections.persons.xyxy)
    if calibration.found is not None:
        return _pairs_from_lines(frame, calibration.found, image.shape)
    fit, rejected = calibration.fit, calibration.rejected
    if rejected:
        raise PortfolioError(
            f"{video}: frame {frame}: the {int(found.visible().sum())} pitch keypoints found "
            "give a fit that the painted lines in view contradict, and the lines alone match "
            "no camera view; pick another --frame or calibrate by hand (without --auto)"
        )
    if fit is None or fit.n_inliers < MIN_INLIERS:
        raise PortfolioError(
            f"{video}: frame {frame} shows too few pitch markings for a calibration "
            f"({int(found.visible().sum())} keypoints found, {MIN_INLIERS} consistent ones needed; "
            "the painted lines alone match no camera view); pick another --frame or calibrate "
            "by hand (without --auto)"
        )
    ok = fit.inliers
    return {
        "frame": frame,
        "image_points": np.round(found.xy[ok], 2).tolist(),
        "pitch_points": np.round(pitch.KEYPOINTS[ok], 3).tolist(),
        "note": f"automatic: {fit.n_inliers} pitch keypoints found by the net "
        f"(median reprojection error {fit.error_px:.1f} px)",
    }


def _pairs_from_lines(frame: int, found: LineSearch, shape: tuple[int, ...]) -> dict[str, Any]:
    """Point pairs for the homography the lines gave: the pitch keypoints it puts inside the
    frame, or where fewer than 4 spread ones are (a zoomed view), a grid of the frame's pixels
    that it puts on the pitch."""
    h, hh, ww = found.homography, *shape[:2]
    q = np.c_[pitch.KEYPOINTS, np.ones(len(pitch.KEYPOINTS))] @ h.T
    front = q[:, 2] > 1e-9
    xy = q[:, :2] / np.where(front, q[:, 2], 1.0)[:, None]
    inside = front & (xy[:, 0] >= 0) & (xy[:, 0] < ww) & (xy[:, 1] >= 0) & (xy[:, 1] < hh)
    image, world = xy[inside], pitch.KEYPOINTS[inside]
    what = f"{int(inside.sum())} pitch keypoints placed by them"
    if len(world) < 4 or not general_position(world):
        us, vs = np.meshgrid(np.linspace(0.1, 0.9, 4) * ww, np.linspace(0.45, 0.95, 3) * hh)
        grid = np.c_[us.ravel(), vs.ravel()]
        on_pitch = image_to_pitch(h, grid)
        keep = (np.abs(on_pitch[:, 0]) <= pitch.HALF_L) & (np.abs(on_pitch[:, 1]) <= pitch.HALF_W)
        image, world, what = grid[keep], on_pitch[keep], f"{int(keep.sum())} pixels of the frame"
    data = {
        "frame": frame,
        "image_points": np.round(image, 2).tolist(),
        "pitch_points": np.round(world, 3).tolist(),
        "note": f"automatic: from the painted lines (support {found.support:.2f}), {what}",
    }
    try:  # what a run will check when it reads the file
        homography_from_calibration(Calibration(frame, np.asarray(image), np.asarray(world)))
    except CalibrationError as exc:
        raise PortfolioError(
            f"frame {frame}: the painted lines gave no usable points ({exc})"
        ) from None
    return data


def interactive_calibration(video: str | Path, frame: int) -> dict[str, Any]:
    """Click an image point, then its place on the schematic pitch; s saves, u undoes, q quits."""
    if (
        os.environ.get("DISPLAY") is None
        and os.name != "nt"
        and os.environ.get("WAYLAND_DISPLAY") is None
    ):
        raise PortfolioError("no display for the calibration window; use --auto")
    image = read_frame(video, frame)
    canvas = tactical.pitch_canvas(ppm=6.0)
    scale = min(1.0, 1100 / image.shape[1])
    shown = cv2.resize(image, None, fx=scale, fy=scale)
    img_pts: list[tuple[float, float]] = []
    world_pts: list[tuple[float, float]] = []
    state = {"want": "image"}

    def on_image(event: int, x: int, y: int, *_: Any) -> None:
        if event == cv2.EVENT_LBUTTONDOWN and state["want"] == "image":
            img_pts.append((x / scale, y / scale))
            state["want"] = "pitch"

    def on_pitch(event: int, x: int, y: int, *_: Any) -> None:
        if event == cv2.EVENT_LBUTTONDOWN and state["want"] == "pitch":
            xy = np.array([x, y]) / canvas.ppm - [
                pitch.HALF_L + canvas.margin,
                pitch.HALF_W + canvas.margin,
            ]
            # Snap to the nearest marking keypoint when close: clicks on a small map are coarse.
            kp = np.array(list(pitch.named_points().values()))
            d = np.linalg.norm(kp - xy, axis=1)
            world_pts.append(
                tuple(kp[int(np.argmin(d))]) if d.min() < 2.5 else (float(xy[0]), float(xy[1]))
            )
            state["want"] = "image"

    try:
        cv2.namedWindow("frame")
        cv2.namedWindow("pitch")
    except cv2.error as exc:
        raise PortfolioError(f"cannot open a window ({exc.err}); use --auto") from None
    cv2.setMouseCallback("frame", on_image)
    cv2.setMouseCallback("pitch", on_pitch)
    try:
        while True:
            a, b = shown.copy(), canvas.image.copy()
            for i, (u, v) in enumerate(img_pts):
                cv2.circle(a, (int(u * scale), int(v * scale)), 5, (0, 0, 255), -1)
                cv2.putText(
                    a,
                    str(i + 1),
                    (int(u * scale) + 6, int(v * scale)),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.6,
                    (0, 0, 255),
                    2,
                )
            for i, p in enumerate(world_pts):
                c = canvas.to_px(np.array(p)).astype(int)
                cv2.circle(b, tuple(c), 5, (0, 0, 255), -1)
                cv2.putText(
                    b, str(i + 1), (c[0] + 6, c[1]), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 255), 2
                )
            tip = f"click the {'FRAME' if state['want'] == 'image' else 'PITCH'} point  |  u undo  s save  q quit"
            cv2.putText(a, tip, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
            cv2.imshow("frame", a)
            cv2.imshow("pitch", b)
            key = cv2.waitKey(30) & 0xFF
            if key in (ord("q"), 27):
                raise PortfolioError("calibration cancelled")
            if key == ord("u"):
                if state["want"] == "pitch" and img_pts:
                    img_pts.pop()
                elif world_pts:
                    world_pts.pop()
                    img_pts.pop()
                state["want"] = "image"
            if key in (ord("s"), 13):
                n = min(len(img_pts), len(world_pts))
                cal = Calibration(frame, np.array(img_pts[:n]), np.array(world_pts[:n]))
                try:
                    homography_from_calibration(cal, "your points")
                except PortfolioError as exc:
                    print(exc.message)
                    continue
                return cal.to_json()
    finally:
        cv2.destroyAllWindows()


def write_calibration(path: Path, data: dict[str, Any]) -> None:
    write_json_atomic(path, data)
