"""Other cameras from one labelled frame: the pitch seen from higher, wider, closer or the corner.

The labelled real frames all come from one kind of camera (the Bundesliga main camera at
mid-height). A frame's labelled keypoints fix its homography (pitch metres → pixels); a new
camera placed in the world gives another one, and the pitch plane seen by the first camera is
redrawn as the second would see it: ``image' = H_new · H_frame⁻¹ · image``. The keypoints move
with the plane, so the labels stay exact. Only the plane is right: players and boards lean (the
views are for the pitch-keypoint task alone), and what the first camera did not see is filled
with the frame's grass colour (pitch) or dark noise (beyond it), where no keypoint is labelled.

The camera is always on the near side of the pitch, as broadcast and tactical cameras are. A
camera straight behind a goal is left out: seen from there the two halves look the same, so
the keypoints' names (left goal or right goal) could not be learnt from the picture.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .. import pitch
from ..calibrate.geometry import general_position
from ..calibrate.keypoints import fixes_homography
from ..model.data import FRAME_SIZE, LabelledFrame
from .camera import BroadcastCamera

VIEW_KINDS = ("tactical", "high", "wide", "zoomed", "corner")
PITCH_MARGIN_M = 2.0  # the plane is trusted this far beyond the lines (boards stand further out)
MIN_KEYPOINTS = 4  # a view needs as many labelled keypoints as a homography does
MIN_COVERED = 0.12  # and this share of its picture from the real frame
MASK_STEP = 8  # the validity mask is computed on a grid this coarse, then resized


def frame_homography(frame: LabelledFrame) -> np.ndarray | None:
    """Pitch metres → the frame's pixels from its labelled keypoints (None with < 4 spread ones).

    The sign is fixed so that points in front of the camera have a positive third coordinate.
    """
    if not frame.has_keypoints or frame.visible.sum() < MIN_KEYPOINTS:
        return None
    world = pitch.KEYPOINTS[frame.visible]
    if not general_position(world):
        return None
    h, _ = cv2.findHomography(world, frame.keypoints[frame.visible], 0)
    if h is None:
        return None
    w = (h @ np.append(world[0], 1.0))[2]
    return h if w > 0 else -h


def virtual_camera(
    kind: str, target: tuple[float, float], rng: np.random.Generator
) -> BroadcastCamera:
    """A camera of ``kind`` at a random place on the near side, looking at ``target`` (metres)."""
    tx, ty = target
    u = rng.uniform
    if kind == "tactical":  # high and far, near the halfway line, half the pitch in view
        x, y, z, fov = tx * u(0.0, 0.5), pitch.HALF_W + u(20, 45), u(20, 40), u(50, 75)
    elif kind == "high":  # a gantry camera above the main one
        x, y, z, fov = tx + u(-10, 10), pitch.HALF_W + u(15, 35), u(20, 35), u(25, 45)
    elif kind == "wide":  # the main camera zoomed out
        x, y, z, fov = u(-10, 10), pitch.HALF_W + u(8, 25), u(10, 20), u(45, 70)
    elif kind == "zoomed":  # the main camera zoomed in, lower
        x, y, z, fov = u(-15, 15), pitch.HALF_W + u(8, 25), u(8, 18), u(15, 28)
    elif kind == "corner":  # near a corner flag, looking along the pitch
        side = 1.0 if tx >= 0 else -1.0
        x, y, z, fov = side * u(40, 62), pitch.HALF_W + u(8, 30), u(10, 25), u(30, 60)
    else:
        raise ValueError(f"unknown view kind {kind!r} (one of {', '.join(VIEW_KINDS)})")
    width, height = FRAME_SIZE
    focal = width / 2 / math.tan(math.radians(fov) / 2)
    camera = BroadcastCamera(x, y, z, 0.0, 0.0, focal, width, height)
    return camera.looking_at(tx, ty)


def plane_homography(camera: BroadcastCamera) -> np.ndarray:
    """Pitch plane → the camera's pixels, scaled so that depth (in front > 0) is the third row.

    `BroadcastCamera.homography` normalises by h[2, 2], whose sign depends on where the pitch's
    centre lies; the masks below need the sign of the depth.
    """
    r = camera.rotation()
    t = -r @ np.array([camera.x, camera.y, camera.z])
    return camera.intrinsics() @ np.stack([r[:, 0], r[:, 1], t], axis=1)


def covered_target(h_frame: np.ndarray, rng: np.random.Generator) -> tuple[float, float] | None:
    """A pitch point the frame shows, to aim the new camera at (None when it shows no pitch)."""
    w, hgt = FRAME_SIZE
    us, vs = np.meshgrid(np.linspace(0, w, 17), np.linspace(0, hgt, 9))
    pix = np.stack([us.ravel(), vs.ravel(), np.ones(us.size)])
    p = np.linalg.inv(h_frame) @ pix
    front = p[2] > 1e-9
    xy = (p[:2, front] / p[2, front]).T
    inside = (np.abs(xy[:, 0]) <= pitch.HALF_L) & (np.abs(xy[:, 1]) <= pitch.HALF_W)
    if inside.sum() < 4:
        return None
    pts = xy[inside]
    pick = pts[rng.integers(len(pts))]
    centre = pts.mean(axis=0)
    t = rng.uniform(0.0, 0.6)  # between the covered area's centre and one of its points
    return float(centre[0] + t * (pick[0] - centre[0])), float(
        centre[1] + t * (pick[1] - centre[1])
    )


def _validity(h_new: np.ndarray, h_frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of the new view: on the (margin-grown) pitch, and seen by the frame too."""
    w, hgt = FRAME_SIZE
    us, vs = np.meshgrid(
        np.arange(0, w, MASK_STEP) + MASK_STEP / 2, np.arange(0, hgt, MASK_STEP) + MASK_STEP / 2
    )
    pix = np.stack([us.ravel(), vs.ravel(), np.ones(us.size)])
    p = np.linalg.inv(h_new) @ pix
    front = p[2] > 1e-9
    xy = p[:2] / np.where(front, p[2], 1.0)
    on_pitch = (
        front
        & (np.abs(xy[0]) <= pitch.HALF_L + PITCH_MARGIN_M)
        & (np.abs(xy[1]) <= pitch.HALF_W + PITCH_MARGIN_M)
    )
    s = h_frame @ np.vstack([xy, np.ones(xy.shape[1])])
    s_front = s[2] > 1e-9
    su = s[0] / np.where(s_front, s[2], 1.0)
    sv = s[1] / np.where(s_front, s[2], 1.0)
    seen = on_pitch & s_front & (su >= 0) & (su < w) & (sv >= 0) & (sv < hgt)
    shape = us.shape

    def full(mask: np.ndarray) -> np.ndarray:
        small = mask.reshape(shape).astype(np.uint8) * 255
        return cv2.resize(small, (w, hgt), interpolation=cv2.INTER_LINEAR) >= 128

    return full(on_pitch), full(seen)


def _grass_colour(frame: LabelledFrame, h_frame: np.ndarray) -> np.ndarray:
    """The median colour of the frame's pixels that lie on the pitch."""
    w, hgt = FRAME_SIZE
    us, vs = np.meshgrid(np.arange(8, w, 16), np.arange(8, hgt, 16))
    pix = np.stack([us.ravel(), vs.ravel(), np.ones(us.size)])
    p = np.linalg.inv(h_frame) @ pix
    front = p[2] > 1e-9
    xy = p[:2] / np.where(front, p[2], 1.0)
    inside = front & (np.abs(xy[0]) <= pitch.HALF_L) & (np.abs(xy[1]) <= pitch.HALF_W)
    if not inside.any():
        return np.array([60.0, 120.0, 60.0])
    return np.median(frame.image[vs.ravel()[inside], us.ravel()[inside]], axis=0)


def _fill(grass: np.ndarray, on_pitch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What the frame did not show: its grass (slightly uneven) on the pitch, dark noise beyond.

    Made at a quarter of the size and enlarged: it only has to be smooth, and full-size noise
    costs more than the rest of the view.
    """
    hgt, w = on_pitch.shape
    small = (w // 4, hgt // 4)

    def noise(scale: float) -> np.ndarray:
        coarse = rng.normal(0, scale, (max(2, hgt // 96), max(2, w // 96), 1)).astype(np.float32)
        return cv2.resize(coarse, small, interpolation=cv2.INTER_CUBIC)[..., None]

    pitch_part = grass.astype(np.float32) * (1.0 + noise(0.06))
    stands = rng.uniform(20, 110, 3).astype(np.float32) + noise(30.0)
    mask = cv2.resize(on_pitch.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST)
    fill = np.where(mask[..., None] > 0, pitch_part, stands)
    return cv2.resize(
        np.clip(fill, 0, 255).astype(np.uint8), (w, hgt), interpolation=cv2.INTER_LINEAR
    )


LINE_WIDTH_M = 0.12  # painted lines are 12 cm wide (the Laws of the Game's maximum)
NEAR_M = 1.0  # segments are cut this far in front of the camera


def _paint_lines(
    image: np.ndarray, h_new: np.ndarray, target: tuple[float, float], grass: np.ndarray
) -> None:
    """Draw the pitch model's markings into ``image`` as the camera ``h_new`` sees them.

    A homography keeps straight lines straight, so each segment is drawn between its projected
    ends, cut where it passes behind the camera (depth is linear along a segment).
    """
    w, hgt = FRAME_SIZE
    tx, ty = target
    ends = np.array([[tx, ty, 1.0], [tx + 1.0, ty, 1.0], [tx, ty + 1.0, 1.0]]) @ h_new.T
    if (ends[:, 2] <= 0).any():
        return
    px = ends[:, :2] / ends[:, 2:]
    metre = float(np.sqrt(np.linalg.norm(px[1] - px[0]) * np.linalg.norm(px[2] - px[0])))
    thickness = int(np.clip(round(LINE_WIDTH_M * metre), 1, 6))
    colour = (0.3 * grass + 0.7 * 235.0).tolist()
    for line in pitch.pitch_lines():
        pts = np.hstack([line.points, np.ones((len(line.points), 1))])
        depth = pts @ h_new[2]
        for a, b, da, db in zip(pts[:-1], pts[1:], depth[:-1], depth[1:], strict=True):
            if da < NEAR_M and db < NEAR_M:
                continue
            if da < NEAR_M:
                a = a + (b - a) * (NEAR_M - da) / (db - da)
            elif db < NEAR_M:
                b = b + (a - b) * (NEAR_M - db) / (da - db)
            ends2 = np.stack([a, b]) @ h_new.T
            # Far ends may project far outside the picture: clamp before integer drawing.
            uv = np.clip(ends2[:, :2] / ends2[:, 2:], [-4 * w, -4 * hgt], [5 * w, 5 * hgt])
            p0, p1 = uv.round().astype(int)
            cv2.line(image, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), colour,
                     thickness, cv2.LINE_AA)  # fmt: skip
    # The spots: the penalty spots are keypoints too, so they must be painted where labelled.
    spot = pitch.HALF_L - pitch.PENALTY_SPOT
    for x in (-spot, 0.0, spot):
        p = h_new @ np.array([x, 0.0, 1.0])
        if p[2] >= NEAR_M and abs(p[0] / p[2]) < 5 * w and abs(p[1] / p[2]) < 5 * hgt:
            centre = (round(float(p[0] / p[2])), round(float(p[1] / p[2])))
            cv2.circle(image, centre, max(1, thickness), colour, -1, cv2.LINE_AA)


def _fixes_homography(visible: np.ndarray) -> bool:
    """Whether the labelled keypoints could fix a homography at all (4+, spread, not on a
    line): a view whose labels cannot is no test of a net, nor a lesson for one."""
    return fixes_homography(pitch.KEYPOINTS[visible])


def virtual_view(
    frame: LabelledFrame,
    rng: np.random.Generator,
    kind: str | None = None,
    tries: int = 6,
    paint_missing: bool = False,
) -> LabelledFrame | None:
    """The frame as a camera of ``kind`` (random when None) would see its pitch; None when no
    try gives a view whose labels fix a homography and that shows enough of the real picture.

    ``paint_missing``: the part of the pitch the frame did not show gets the pitch model's
    markings painted on its grass, and the keypoints there are labelled too (for training: a
    real tactical camera shows markings everywhere). Without it that part is plain grass with
    no labels (the test views: every label sits on real pixels).
    """
    h_frame = frame_homography(frame)
    if h_frame is None:
        return None
    w, hgt = FRAME_SIZE
    for _ in range(tries):
        chosen = kind or VIEW_KINDS[rng.integers(len(VIEW_KINDS))]
        target = covered_target(h_frame, rng)
        if target is None:
            return None
        h_new = plane_homography(virtual_camera(chosen, target, rng))
        on_pitch, seen = _validity(h_new, h_frame)
        if seen.mean() < MIN_COVERED:
            continue
        world = np.hstack([pitch.KEYPOINTS, np.ones((len(pitch.KEYPOINTS), 1))])
        q = world @ h_new.T
        in_front = q[:, 2] > NEAR_M
        xy = q[:, :2] / np.where(in_front, q[:, 2], 1.0)[:, None]
        inside = in_front & (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < hgt)
        visible = frame.visible & inside
        if paint_missing:
            ix = np.clip(xy[:, 0], 0, w - 1).astype(int)
            iy = np.clip(xy[:, 1], 0, hgt - 1).astype(int)
            visible |= inside & ~seen[iy, ix]  # painted there, exactly where the label says
        if not _fixes_homography(visible):
            continue
        warp = h_new @ np.linalg.inv(h_frame)
        image = cv2.warpPerspective(
            frame.image, warp / warp[2, 2], (w, hgt), flags=cv2.INTER_LINEAR
        )
        grass = _grass_colour(frame, h_frame)
        fill = _fill(grass, on_pitch, rng)
        if paint_missing:
            _paint_lines(fill, h_new, target, grass)
        cv2.copyTo(fill, (~seen).astype(np.uint8), image)
        return LabelledFrame(
            f"{frame.name}@{chosen}",
            image,
            np.zeros((0, 4)),
            np.zeros(0, int),
            np.where(visible[:, None], xy, 0.0),
            visible,
            has_boxes=False,
            has_keypoints=True,
        )
    return None


def warped_views(
    frames: list[LabelledFrame], per_kind: int = 1, seed: int = 0
) -> list[LabelledFrame]:
    """A fixed set of views of every kind from each keypoint-labelled frame (a test set for
    cameras the real split does not have). Frame i, kind k, copy c always gets the same view."""
    views = []
    for i, frame in enumerate(frames):
        for k, kind in enumerate(VIEW_KINDS):
            for c in range(per_kind):
                rng = np.random.default_rng([seed, i, k, c])
                view = virtual_view(frame, rng, kind)
                if view is not None:
                    views.append(view)
    return views
