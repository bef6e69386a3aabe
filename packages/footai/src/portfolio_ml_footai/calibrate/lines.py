"""The painted lines judge and correct homographies (`FrameLines`, one per frame).

A fit from 4 keypoints is exact whatever their identities (and 5–7 check it little), and on
cameras the net saw little of (high, zoomed, behind the goal) a wrong identity is common: the
fit then puts the pitch metres away. Projected through a right homography, the pitch model's
lines land on the white lines of the frame; through a wrong one they land on grass.
`FrameLines.support` measures that share; it confirms weak fits, keeps a homography carried
without fits (after moving it onto the lines, `FrameLines.refine`), judges a fit that would
switch the homography, and says when a held one is wrong (`rejects`): what
`keypoints.HomographyTracker` asks of the lines, with `line_search.SearchableFrameLines` adding
the search for the pitch in the lines alone.

Measured on the real test frames redrawn as other cameras (206 views, shipped net): fits
wrong by more than 3 m fell from 21 % to 8 % of views, and no view within 1.5 m was lost.
Refining *fits* onto the lines was measured and not kept: it moved good main-camera fits off
their labels (within 1 m 23/23 → 17/23) and could not rescue wrong ones (see docs/footai.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from portfolio_ml_core.geometry import apply_homography as apply_h

from .. import pitch
from ..detections import PitchKeypoints
from ..grass import DEFAULT_GRASS, GrassModel
from .geometry import homography_is_plausible
from .keypoints import CHECK_BELOW_INLIERS, KeypointFit, fit_keypoints, image_to_pitch

WORK_WIDTH = 640  # lines are found on a copy this wide (a 1280-px frame's lines are 2–4 px here)
NEAR_LINE_PX = 3.0  # a projected model point this close to a line pixel is on a line
# The pixels OpenCV's 5×5 chamfer distance (`DIST_L2`, mask 5) puts under NEAR_LINE_PX of a line
# pixel are exactly a 5×5 square around it: `support` finds them by a dilation (~0.1 ms) instead
# of a distance transform (~2.5 ms; `support` runs ~500 times in a 630-frame run).
NEAR_SQUARE = np.ones((5, 5), np.uint8)
FIELD_MARGIN_M = 3.0  # line pixels are looked for this far beyond the touchlines and no further
# The share of the model's visible line samples that must lie on painted lines. Right fits
# measured 0.14–0.87 (median ~0.6), wrong ones mostly under 0.12.
MIN_SUPPORT = 0.12
# A fit on 4 keypoints is exact whatever their identities, and a fifth checks it once: where such
# a fit would start the homography (nothing else checks it) it needs more of the model on painted
# lines. On the real test frames redrawn as other cameras (`bench footai.views_pitch`),
# 4–5-keypoint fits 1.5 m or closer had support 0.18–0.83, and 41 of the 44 more than 3 m off had
# under 0.3. A switch is checked against the carried homography as well (`prefer`).
FEW_INLIERS = 5
MIN_SUPPORT_FEW = 0.3
# A carried homography (no fit for ~2 s) stays while this share of the lines in view is met.
CARRY_SUPPORT = 0.25
# A fit that contradicts the carried homography replaces it only if the lines like it about as
# well (support within this much): on the real LaLiga clip two agreeing wrong fits twisted the
# pitch for 4 s (support 0.03-0.14) where the carried homography had 0.6-0.8.
PREFER_MARGIN = 0.05
MIN_LINE_SAMPLES = 20  # fewer model samples in view than this: the lines cannot judge
# A weak fit (6-7 keypoints) whose lines support is under STRAY_CHECK_BELOW is fitted again
# without each keypoint in turn (`fit_keypoints_on_lines`); dropping one must leave a checked fit
# (5 keypoints) and lift the support by PREFER_MARGIN. Right fits on the real LaLiga clip with
# 6-7 keypoints had support 0.59-0.75; the clip filmed off a TV, where the net puts the halfway
# line's touchline end on the screen's edge, 0.30-0.56 with that keypoint in.
STRAY_CHECK_BELOW = 0.6
STRAY_MIN_LEFT = 5
MAX_REFINE_STEP_M = 1.5  # a refinement onto the lines that moves the pitch further is refused


def line_samples(step_m: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step_m`` metres along every painted line of the pitch model, and the
    line's unit direction at each."""
    points, directions = [], []
    for line in pitch.pitch_lines():
        for a, b in zip(line.points[:-1], line.points[1:], strict=True):
            length = float(np.linalg.norm(b - a))
            n = max(1, int(np.ceil(length / step_m)))
            t = np.linspace(0.0, 1.0, n, endpoint=False)[:, None]
            points.append(a + t * (b - a))
            directions.append(np.repeat(((b - a) / length)[None], n, axis=0))
    return np.concatenate(points), np.concatenate(directions)


LINE_SAMPLES, LINE_DIRECTIONS = line_samples()


@dataclass(frozen=True)
class _WorkCopy:
    """What a frame's lines need that no homography changes, made once per frame."""

    scale: float  # work copy / frame
    ridges: np.ndarray  # white top-hat of the grey work copy: thin bright lines stand out
    on_grass: np.ndarray  # bool: grass, or a line lying on it
    green: np.ndarray  # uint8 255/0: the grass colour itself
    people: np.ndarray  # bool: inside a person's box (no line is counted there)


class FrameLines:
    """One frame's painted lines. The work copy is made on first use, and each homography's
    support is measured once (the tracker may ask about the same one twice in a frame)."""

    def __init__(
        self,
        image: np.ndarray,
        people_xyxy: np.ndarray | None = None,
        grass: GrassModel | None = None,
    ) -> None:
        self.image, self.people_xyxy, self.grass = image, people_xyxy, grass
        self._copy: _WorkCopy | None = None
        self._supports: dict[bytes, float | None] = {}

    # --- what the tracker asks -----------------------------------------------------------

    def confirm(self, fit: KeypointFit, starts: bool = True) -> bool:
        """A fit on many keypoints stands; a weak one needs the lines' support, and the weakest
        more of it where it ``starts`` the homography (a switch also answers to `prefer`)."""
        if fit.n_inliers >= CHECK_BELOW_INLIERS:
            return True
        support = self.support(fit.homography)
        few = starts and fit.n_inliers <= FEW_INLIERS
        return support is not None and support >= (MIN_SUPPORT_FEW if few else MIN_SUPPORT)

    def agree(self, homography: np.ndarray) -> bool:
        support = self.support(homography)
        return support is not None and support >= CARRY_SUPPORT

    def prefer(self, new: np.ndarray, old: np.ndarray) -> bool:
        """Whether ``new`` fits the lines at least about as well as ``old`` (True when the lines
        cannot judge either)."""
        a, b = self.support(new), self.support(old)
        return a is None or b is None or a + PREFER_MARGIN >= b

    def rejects(self, homography: np.ndarray) -> bool:
        """Whether the lines clearly say the homography is wrong: they can judge it, and do not
        `agree` with it."""
        return self.support(homography) is not None and not self.agree(homography)

    def refine(self, homography: np.ndarray, iterations: int = 3) -> np.ndarray:
        """The homography moved onto the frame's painted lines (`onto_lines`), or as it was:
        kept only when more of the model then lands on lines and the pitch moved little."""
        lines = self.pixels(homography)
        if np.count_nonzero(lines) < 50:
            return homography
        found = line_map(lines)
        scale = self._work().scale
        to_work = np.diag([scale, scale, 1.0])
        current = to_work @ homography
        current = current / current[2, 2]
        near = found.distance < NEAR_LINE_PX
        before = _share_on_lines(near, current)
        if before is None:
            return homography
        captures = [8.0 - 4.0 * it / max(1, iterations - 1) for it in range(iterations)]
        moved = onto_lines(current, found, captures)
        if moved is None:
            return homography
        current = moved
        after = _share_on_lines(near, current)
        if after is None or after <= before or not homography_is_plausible(current):
            return homography
        out = np.linalg.inv(to_work) @ current
        out = out / out[2, 2]
        # Drift is slow; a jump is the model snapping onto other lines (on the real clip: 11 m,
        # to the next set of markings, with as much support as the right place).
        if pitch_shift_m(homography, out, self.image.shape) > MAX_REFINE_STEP_M:
            return homography
        return np.asarray(out)

    # --- the measurements ----------------------------------------------------------------

    def support(self, homography: np.ndarray) -> float | None:
        """Share of the pitch model's line samples in view that land on painted lines; None
        when too few samples are in view to judge."""
        key = homography.tobytes()
        if key not in self._supports:
            lines = self.pixels(homography)
            scale = self._work().scale
            h_work = np.diag([scale, scale, 1.0]) @ homography
            if not lines.any():
                seen, _ = in_view(h_work, lines.shape)
                self._supports[key] = None if seen.sum() < MIN_LINE_SAMPLES else 0.0
            else:
                near = cv2.dilate(lines, NEAR_SQUARE) > 0
                self._supports[key] = _share_on_lines(near, h_work)
        return self._supports[key]

    def pixels(self, homography: np.ndarray) -> np.ndarray:
        """Painted-line pixels of the work copy: bright ridges on grass, inside the pitch the
        homography implies, outside people's boxes, in long (not compact) blobs."""
        copy = self._work()
        field = copy.on_grass & _pitch_area(
            np.diag([copy.scale, copy.scale, 1.0]) @ homography, copy.ridges.shape
        )
        return _long_lines(copy, field)

    def painted_pixels(self) -> np.ndarray:
        """Painted-line pixels of the work copy on the grass: what `pixels` finds when no
        homography says where the pitch is (`line_search`). Grass here is where most of the
        neighbourhood is grass-coloured: a crowd's speckle of colours has green pixels too, and
        its contrast would set the line threshold (a synthetic tactical frame lost all but its
        nearest lines to it)."""
        copy = self._work()
        k = max(9, copy.green.shape[0] // 12) | 1
        share = cv2.blur(copy.green, (k, k))
        return _long_lines(copy, copy.on_grass & (share >= 128))

    @property
    def scale(self) -> float:
        """Work copy pixels per frame pixel."""
        return self._work().scale

    def _work(self) -> _WorkCopy:
        if self._copy is None:
            image = self.image
            scale = min(1.0, WORK_WIDTH / image.shape[1])
            hh, ww = round(image.shape[0] * scale), round(image.shape[1] * scale)
            small = cv2.resize(image, (ww, hh), interpolation=cv2.INTER_AREA)
            k = max(5, round(hh / 40)) | 1
            ridges = cv2.morphologyEx(
                cv2.cvtColor(small, cv2.COLOR_BGR2GRAY),
                cv2.MORPH_TOPHAT,
                cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)),
            )
            # The footage's grass (learnt by the run; a lone frame gets the default range);
            # closing lets the lines, which are not green, count as lying on the grass around them.
            grass = self.grass or DEFAULT_GRASS
            green = grass.mask(cv2.cvtColor(small, cv2.COLOR_BGR2HSV))
            on_grass = cv2.morphologyEx(green, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8)) > 0
            people = np.zeros((hh, ww), np.uint8)
            if self.people_xyxy is not None:
                for x1, y1, x2, y2 in np.asarray(self.people_xyxy).reshape(-1, 4) * scale:
                    cv2.rectangle(
                        people, (int(x1) - 2, int(y1) - 2), (int(x2) + 2, int(y2) + 2), 1, -1
                    )
            self._copy = _WorkCopy(scale, ridges, on_grass, green, people > 0)
        return self._copy


def fit_keypoints_on_lines(
    keypoints: PitchKeypoints, frame_width: int, lines: FrameLines
) -> KeypointFit | None:
    """`fit_keypoints`, and a weak fit again without the one keypoint the painted lines clearly
    like it better without.

    A few keypoints check each other little: with 6 of them, one far off (the net puts a line's
    end where the picture ends, at a TV screen's edge or a letterbox bar) bends the whole fit
    and still counts as an inlier. Strong fits, and ones the lines already support well, are
    left alone (it costs a support measure per keypoint)."""
    fit = fit_keypoints(keypoints, frame_width)
    if fit is None or not STRAY_MIN_LEFT < fit.n_inliers < CHECK_BELOW_INLIERS:
        return fit
    support = lines.support(fit.homography)
    if support is None or support >= STRAY_CHECK_BELOW:
        return fit
    best, bar = fit, support + PREFER_MARGIN
    for k in np.flatnonzero(fit.inliers):
        confidence = keypoints.confidence.copy()
        confidence[k] = 0.0
        other = fit_keypoints(PitchKeypoints(keypoints.xy, confidence), frame_width)
        if other is None or other.n_inliers < STRAY_MIN_LEFT:
            continue
        other_support = lines.support(other.homography)
        if other_support is not None and other_support > bar:
            best, bar = other, other_support
    return best


def fit_frame(
    keypoints: PitchKeypoints,
    image: np.ndarray,
    people_xyxy: np.ndarray | None = None,
    lines: FrameLines | None = None,
) -> tuple[KeypointFit | None, bool]:
    """One frame on its own (`line_search.calibrate_frame`): the keypoint fit if the lines
    confirm it, and whether they rejected one — what a run does with a shot's first fit.
    ``lines``: the frame's, when the caller has them already."""
    lines = lines or FrameLines(image, people_xyxy)
    fit = fit_keypoints_on_lines(keypoints, image.shape[1], lines)
    if fit is None:
        return None, False
    if lines.confirm(fit):
        return fit, False
    return None, True


def _long_lines(copy: _WorkCopy, field: np.ndarray) -> np.ndarray:
    """Bright ridges inside ``field`` and outside people's boxes, in long (not compact) blobs."""
    hh, ww = copy.ridges.shape
    if not field.any():
        return np.zeros((hh, ww), np.uint8)
    threshold = max(15.0, float(np.percentile(copy.ridges[field][::4], 94)))  # a sample will do
    lines = ((copy.ridges > threshold) & field & ~copy.people).astype(np.uint8) * 255
    # Lines are long; shirts, the ball and lettering are compact blobs.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    if n > 1:
        extent = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
        fill = stats[1:, cv2.CC_STAT_AREA] / np.maximum(
            stats[1:, cv2.CC_STAT_WIDTH] * stats[1:, cv2.CC_STAT_HEIGHT], 1
        )
        keep = np.zeros(n, bool)
        keep[1:] = (extent >= max(10, ww // 40)) & ((fill < 0.4) | (extent >= ww // 8))
        lines = np.where(keep[labels], lines, 0).astype(np.uint8)
    return lines


@dataclass(frozen=True)
class LineMap:
    """A work copy's line pixels and, for every pixel, the distance to and the label of the
    nearest one (what moving a homography onto the lines reads)."""

    lines: np.ndarray  # uint8, 255 on a line pixel
    distance: np.ndarray  # float32
    labels: np.ndarray  # int32: the nearest line pixel's number (1, 2, …)
    line_xy: np.ndarray  # (n, 2): x, y of line pixel number i + 1


def line_map(lines: np.ndarray) -> LineMap:
    dist, labels = cv2.distanceTransformWithLabels(
        cv2.bitwise_not(lines), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    # Each line pixel's x, y, in the order the labels number them (1, 2, …); a sample's
    # nearest line pixel is looked up for the samples only, not for the whole image.
    return LineMap(lines, dist, labels, np.argwhere(lines > 0)[:, ::-1].astype(np.float64))


def onto_lines(
    h_work: np.ndarray, found: LineMap, captures: list[float] | tuple[float, ...]
) -> np.ndarray | None:
    """ICP: the homography (pitch metres → work-copy pixels) moved onto the line pixels, one
    least-squares solve per capture radius (model samples further from a line are left out);
    None when too few samples, or samples spread too little, are near lines to solve.

    Each model line sample is matched to its nearest line pixel and the homography is solved
    for the distances along the projected line's normal, so samples slide freely along their
    line (point-to-point matching would pin them to the wrong place on it)."""
    from scipy.optimize import least_squares

    current = h_work / h_work[2, 2]
    for capture in captures:
        seen, px = in_view(current, found.lines.shape)
        close = found.distance[px[:, 1], px[:, 0]] < capture
        world = LINE_SAMPLES[seen][close]
        if len(world) < 30 or (np.ptp(world[:, 0]) < 5 and np.ptp(world[:, 1]) < 5):
            return None
        target = found.line_xy[found.labels[px[close, 1], px[close, 0]] - 1]
        step = LINE_DIRECTIONS[seen][close] * 0.5
        ahead = apply_h(current, world + step) - apply_h(current, world)
        ahead /= np.maximum(np.linalg.norm(ahead, axis=1, keepdims=True), 1e-9)
        normal = np.stack([-ahead[:, 1], ahead[:, 0]], axis=1)

        residuals, jacobian = _point_to_line(world, target, normal)
        solved = least_squares(
            residuals,
            current.ravel()[:8],
            jac=jacobian,
            loss="huber",
            f_scale=1.5,
            max_nfev=30,
        )
        current = np.append(solved.x, 1.0).reshape(3, 3)
    return current


def _pitch_area(h_work: np.ndarray, shape: tuple[int, int], cell: int = 8) -> np.ndarray:
    """Pixels whose ground point is on the pitch (plus a margin) in front of the camera.

    Decided on a grid of ``cell``-pixel cells (exact per pixel took 47 ms of a 640-px frame;
    the margin makes the blocky edge harmless)."""
    hh, ww = shape
    ys, xs = np.mgrid[cell // 2 : hh : cell, cell // 2 : ww : cell]
    pts = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)]).astype(np.float64)
    ground = np.linalg.inv(h_work) @ pts
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = ground[0] / ground[2], ground[1] / ground[2]
        front = (x * h_work[2, 0] + y * h_work[2, 1] + h_work[2, 2]) > 0
        inside = (np.abs(x) <= pitch.HALF_L + FIELD_MARGIN_M) & (
            np.abs(y) <= pitch.HALF_W + FIELD_MARGIN_M
        )
    coarse = (front & inside).reshape(xs.shape).astype(np.uint8)
    return cv2.resize(coarse, (ww, hh), interpolation=cv2.INTER_NEAREST) > 0


def _point_to_line(
    world: np.ndarray, target: np.ndarray, normal: np.ndarray
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """The residuals of `FrameLines.refine` (each projected model sample's distance to its
    matched line pixel along the line's normal) as a function of the homography's first 8
    entries (the 9th is 1), and their exact Jacobian: finite differences cost 9 evaluations
    each and were 60 % of a refinement's time."""
    w = np.c_[world, np.ones(len(world))]  # (n, 3) homogeneous model points

    def project(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = w @ np.append(p, 1.0).reshape(3, 3).T
        return q[:, :2] / q[:, 2:3], q[:, 2]

    def residuals(p: np.ndarray) -> np.ndarray:
        uv, _ = project(p)
        return np.asarray(np.sum((uv - target) * normal, axis=1))

    def jacobian(p: np.ndarray) -> np.ndarray:
        uv, depth = project(p)
        nx, ny = normal[:, 0] / depth, normal[:, 1] / depth
        back = -(normal[:, 0] * uv[:, 0] + normal[:, 1] * uv[:, 1]) / depth
        return np.c_[nx[:, None] * w, ny[:, None] * w, back[:, None] * w[:, :2]]

    return residuals, jacobian


def in_view(
    h_work: np.ndarray, shape: tuple[int, ...], points: np.ndarray = LINE_SAMPLES
) -> tuple[np.ndarray, np.ndarray]:
    """(which pitch points — by default the line samples — the homography puts in front of the
    camera and inside a ``shape`` picture, their pixels rounded)."""
    hh, ww = shape[:2]
    uv = apply_h(h_work, points)
    front = (points @ h_work[2, :2] + h_work[2, 2]) > 0
    seen = front & (uv[:, 0] >= 0) & (uv[:, 0] < ww - 1) & (uv[:, 1] >= 0) & (uv[:, 1] < hh - 1)
    return seen, uv[seen].round().astype(int)


def _share_on_lines(near: np.ndarray, h_work: np.ndarray) -> float | None:
    """Share of the samples in view within `NEAR_LINE_PX` of a line pixel (``near``: that mask
    of the work copy); None when too few are in view."""
    seen, px = in_view(h_work, near.shape)
    if seen.sum() < MIN_LINE_SAMPLES:
        return None
    return float(np.mean(near[px[:, 1], px[:, 0]]))


def pitch_shift_m(a: np.ndarray, b: np.ndarray, shape: tuple[int, ...]) -> float:
    """Median distance (m) between where two homographies put a grid of the frame's pixels."""
    hh, ww = shape[:2]
    grid = np.array([[x * ww, y * hh] for x in (0.2, 0.5, 0.8) for y in (0.5, 0.8)])
    try:
        pa, pb = image_to_pitch(a, grid), image_to_pitch(b, grid)
    except np.linalg.LinAlgError:
        return float("inf")
    return float(np.median(np.linalg.norm(pa - pb, axis=1)))
