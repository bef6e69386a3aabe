"""From one pose to the numbers the counter uses: a `PoseSample`.

Everything here is per frame and stateless. Image landmarks are first made isotropic
(x scaled by width/height) so that angles and lengths are true to the picture; lengths are then
expressed in *body scale* units (about one leg length) so that limits do not depend on how far
the person stands from the camera.

The driving angle of each side is the 2D joint angle, blended towards an *extension* estimate
as the person turns to face the camera. Seen from the front, a squatting knee points at the
lens and its 2D angle hardly changes, but the hip still comes down towards the ankle: with thigh
and shin of about equal length L, the hip–ankle distance is d = L·sqrt(2 − 2·cos θ), so
θ = arccos(1 − d²/(2·L²)) recovers the knee angle from the distance, with L taken from the shin
(which stays roughly upright and unforeshortened in a squat). Seen from the side the 2D angle is
exact and the extension estimate only adds noise near full extension, so it is not used there.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from portfolio_ml_core.geometry import joint_angle, segment_inclination
from portfolio_ml_core.pose import PoseLandmark as LM
from portfolio_ml_core.pose import PoseResult

from portfolio_ml_squat.exercises import ExerciseRule, mirror

NAN = float("nan")
SIDES = ("left", "right")
SIDE_VIEW_VIS_GAP = 0.2  # visibility gap between sides beyond which only the better one is used


@dataclass(frozen=True)
class PoseSample:
    """What the counter sees of one frame. Angles in degrees, positions in body-scale units.

    ``angle`` is the fused driving angle (NaN when no side is usable). Positions (``hip_x``,
    ``hip_y``, ``foot_y``, ``ankle_x``; NaN for a foot not watched) are image coordinates
    divided by the image height, and
    ``scale`` is the body scale in the same units, so ``Δ/scale`` is in leg lengths.
    """

    t: float
    angle: float
    side_angles: tuple[float, float] = (NAN, NAN)
    angle_2d: tuple[float, float] = (NAN, NAN)
    angle_3d: tuple[float, float] = (NAN, NAN)
    angle_ext: tuple[float, float] = (NAN, NAN)
    ext_ratio: tuple[float, float] = (NAN, NAN)
    hip_angle: tuple[float, float] = (NAN, NAN)
    visibility: tuple[float, float] = (0.0, 0.0)
    frontal: float = 0.0
    scale: float = NAN
    hip_x: float = NAN
    hip_y: float = NAN
    foot_y: float = NAN
    ankle_x: tuple[float, float] = (NAN, NAN)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def visible(self) -> bool:
        return math.isfinite(self.angle)

    @staticmethod
    def missing(t: float) -> PoseSample:
        """A frame where nobody (or not enough of them) is seen."""
        return PoseSample(t=t, angle=NAN)


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def extension_ratio(proximal: np.ndarray, vertex: np.ndarray, distal: np.ndarray) -> float:
    """Proximal–distal distance over the distal segment (hip–ankle over shin): 2 for a
    straight leg with equal segments, smaller as the joint bends."""
    seg = _dist(vertex, distal)
    return _dist(proximal, distal) / seg if seg > 1e-9 else NAN


def extension_angle(ratio: float, straight_ratio: float = 2.0) -> float:
    """Joint angle implied by an `extension_ratio` (law of cosines).

    ``straight_ratio`` is the ratio of this person's straight limb (1 + proximal/distal segment
    length ratio); `ExtensionCalibrator` learns it, 2.0 assumes equal segments.
    """
    if not math.isfinite(ratio):
        return NAN
    k = straight_ratio - 1.0
    cos = (k * k + 1.0 - ratio * ratio) / (2.0 * k)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


class ExtensionCalibrator:
    """Learns each side's straight-limb `extension_ratio` from the recent past.

    Landmark segment lengths differ from person to person and view to view (MediaPipe's hip
    point sits higher than the joint), so a straight leg does not always read exactly 2. The
    highest ratio over the last ``window_s`` (after a 5-sample median against single-frame
    outliers) is taken as "straight", clamped to a plausible range.
    """

    def __init__(self, window_s: float = 15.0, bounds: tuple[float, float] = (1.8, 2.3)) -> None:
        self.window_s = window_s
        self.bounds = bounds
        self._raw: list[deque[float]] = [deque(maxlen=5), deque(maxlen=5)]
        self._peaks: list[deque[tuple[float, float]]] = [deque(), deque()]

    def update(self, ratios: tuple[float, float], t: float) -> None:
        for side, ratio in enumerate(ratios):
            if not math.isfinite(ratio):
                continue
            raw = self._raw[side]
            raw.append(ratio)
            if len(raw) < raw.maxlen:  # type: ignore[operator]
                continue
            value = float(np.median(raw))
            peaks = self._peaks[side]
            # A monotone queue: the front is always the window's maximum.
            while peaks and peaks[-1][1] <= value:
                peaks.pop()
            peaks.append((t, value))
            while peaks[0][0] < t - self.window_s:
                peaks.popleft()

    def straight(self) -> tuple[float, float]:
        lo, hi = self.bounds
        out = []
        for peaks in self._peaks:
            out.append(min(hi, max(lo, peaks[0][1])) if peaks else 2.0)
        return out[0], out[1]


def frontal_weight(frontalness: float) -> float:
    """0 for a side view, 1 for a front view, linear in between.

    ``frontalness`` is the mean hip and shoulder width over the torso length in the image:
    about 0.1 seen from the side, 0.5–0.7 from the front.
    """
    return float(min(1.0, max(0.0, (frontalness - 0.2) / 0.25)))


def extract(
    pose: PoseResult | None,
    t: float,
    rule: ExerciseRule,
    *,
    min_visibility: float = 0.4,
    straight_ratio: tuple[float, float] = (2.0, 2.0),
) -> PoseSample:
    """Turn one `PoseResult` into a `PoseSample` for ``rule`` (a missing sample if ``pose`` is None)."""
    if pose is None:
        return PoseSample.missing(t)
    lm = pose.landmarks
    w, h = pose.image_size
    pts = lm[:, :2].astype(np.float64) * np.array([w / h, 1.0])
    vis = lm[:, 3]
    world = pose.world.astype(np.float64)

    sh_mid = (pts[LM.LEFT_SHOULDER] + pts[LM.RIGHT_SHOULDER]) / 2
    hip_mid = (pts[LM.LEFT_HIP] + pts[LM.RIGHT_HIP]) / 2
    torso = _dist(sh_mid, hip_mid)
    hip_w = abs(pts[LM.LEFT_HIP][0] - pts[LM.RIGHT_HIP][0])
    sh_w = abs(pts[LM.LEFT_SHOULDER][0] - pts[LM.RIGHT_SHOULDER][0])
    frontalness = (hip_w + sh_w) / 2 / torso if torso > 1e-9 else 0.0
    front = frontal_weight(frontalness)
    wf = front if rule.use_extension else 0.0

    a_l, b_l, c_l = rule.joint
    per_side: dict[str, list[float]] = {
        k: [] for k in ("fused", "2d", "3d", "ext", "ratio", "hip", "vis")
    }
    for side in SIDES:
        a, b, c = (j if side == "left" else mirror(j) for j in (a_l, b_l, c_l))
        req = [j if side == "left" else mirror(j) for j in rule.required]
        v = float(np.min(vis[req]))
        a2 = joint_angle(pts[a], pts[b], pts[c])
        a3 = joint_angle(world[a], world[b], world[c])
        ratio = extension_ratio(pts[a], pts[b], pts[c]) if rule.use_extension else NAN
        ae = extension_angle(ratio, straight_ratio[0 if side == "left" else 1])
        fused = a2
        if wf > 0 and math.isfinite(ae) and ae < a2:
            fused = a2 - wf * (a2 - ae)
        shoulder = LM.LEFT_SHOULDER if side == "left" else LM.RIGHT_SHOULDER
        hip = LM.LEFT_HIP if side == "left" else LM.RIGHT_HIP
        knee = LM.LEFT_KNEE if side == "left" else LM.RIGHT_KNEE
        per_side["fused"].append(fused if v >= min_visibility else NAN)
        per_side["2d"].append(a2)
        per_side["3d"].append(a3)
        per_side["ext"].append(ae)
        per_side["ratio"].append(ratio)
        per_side["hip"].append(joint_angle(pts[shoulder], pts[hip], pts[knee]))
        per_side["vis"].append(v)

    usable = [x for x in per_side["fused"] if math.isfinite(x)]
    vis_l, vis_r = per_side["vis"]
    used = (True, True)
    if len(usable) == 2 and abs(vis_l - vis_r) >= SIDE_VIEW_VIS_GAP:
        # Seen from the side, the far limb is partly hidden and MediaPipe guesses it; the
        # better-visible side alone drives (walking is caught by the counter's limits), and
        # only its foot is watched for steps and jumps.
        used = (vis_l > vis_r, vis_l <= vis_r)
        angle = usable[0] if vis_l > vis_r else usable[1]
    else:
        # Both limbs seen alike: the less-bent side drives, so both must bend — one swinging
        # leg (walking, kicking) never looks like a squat.
        angle = max(usable) if usable else NAN

    # Body scale ≈ leg length: twice the shin, which stays nearly unforeshortened in these
    # movements whatever the view; the torso guards against a shin that is badly placed.
    shins = [
        _dist(pts[k], pts[a])
        for k, a, hv in (
            (LM.LEFT_KNEE, LM.LEFT_ANKLE, vis[LM.LEFT_ANKLE]),
            (LM.RIGHT_KNEE, LM.RIGHT_ANKLE, vis[LM.RIGHT_ANKLE]),
        )
        if hv >= 0.3
    ]
    scale = max(2 * float(np.mean(shins)) if shins else 0.0, 1.5 * torso)
    if scale <= 1e-6:
        scale = NAN

    ankles_y = (pts[LM.LEFT_ANKLE][1], pts[LM.RIGHT_ANKLE][1])
    # Torso lean from the image and from the world landmarks (metres, y down): seen from the
    # front, a forward lean is invisible in the image but not in the 3D estimate.
    w_up = (world[LM.LEFT_SHOULDER] + world[LM.RIGHT_SHOULDER] - world[LM.LEFT_HIP]
            - world[LM.RIGHT_HIP]) / 2  # fmt: skip
    w_norm = float(np.linalg.norm(w_up))
    lean_3d = math.degrees(math.acos(max(-1.0, min(1.0, -w_up[1] / w_norm)))) if w_norm else NAN
    lean_2d = segment_inclination(sh_mid, hip_mid)
    metrics = {
        # From the side the image angle is exact; the 3D estimate weighs in as the body turns.
        "torso_lean": lean_2d + front * max(0.0, lean_3d - lean_2d)
        if math.isfinite(lean_3d) and math.isfinite(lean_2d)
        else lean_2d,
        "torso_lean_2d": lean_2d,
        "knee_width_ratio": _width_ratio(pts),
        "left_right_diff": abs(usable[0] - usable[1]) if len(usable) == 2 else NAN,
        "body_line": float(
            np.nanmean(
                [
                    joint_angle(pts[LM.LEFT_SHOULDER], pts[LM.LEFT_HIP], pts[LM.LEFT_ANKLE]),
                    joint_angle(pts[LM.RIGHT_SHOULDER], pts[LM.RIGHT_HIP], pts[LM.RIGHT_ANKLE]),
                ]
            )
        ),
    }
    return PoseSample(
        t=t,
        angle=angle,
        side_angles=(per_side["fused"][0], per_side["fused"][1]),
        angle_2d=(per_side["2d"][0], per_side["2d"][1]),
        angle_3d=(per_side["3d"][0], per_side["3d"][1]),
        angle_ext=(per_side["ext"][0], per_side["ext"][1]),
        ext_ratio=(per_side["ratio"][0], per_side["ratio"][1]),
        hip_angle=(per_side["hip"][0], per_side["hip"][1]),
        visibility=(per_side["vis"][0], per_side["vis"][1]),
        frontal=wf,
        scale=scale,
        hip_x=float(hip_mid[0]),
        hip_y=float(hip_mid[1]),
        # The lower ankle is the one on the ground.
        foot_y=float(max(y for y, u in zip(ankles_y, used, strict=True) if u)),
        ankle_x=(
            float(pts[LM.LEFT_ANKLE][0]) if used[0] else NAN,
            float(pts[LM.RIGHT_ANKLE][0]) if used[1] else NAN,
        ),
        metrics=metrics,
    )


def _width_ratio(pts: np.ndarray) -> float:
    """Knee spread over ankle spread (front view): below ~0.8 the knees cave in."""
    ankles = abs(pts[LM.LEFT_ANKLE][0] - pts[LM.RIGHT_ANKLE][0])
    knees = abs(pts[LM.LEFT_KNEE][0] - pts[LM.RIGHT_KNEE][0])
    return knees / ankles if ankles > 1e-6 else NAN
