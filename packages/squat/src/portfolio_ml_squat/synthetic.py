"""Synthetic pose sequences for testing the counter without video.

A simple 3D stick body (metres; X forward, Y up, Z to the person's left) is posed by a few
parameters — knee angle for a squat, gait phase for walking, elbow angle for a push-up — then
filmed by a pinhole camera from any side (``yaw`` 0° = side view, 90° = front view). The result
is a list of ``(time, PoseResult)`` shaped exactly like MediaPipe's output (33 normalised image
landmarks with visibility, 33 hip-centred world landmarks), with optional pixel noise and gaps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from portfolio_ml_core.pose import PoseLandmark as LM
from portfolio_ml_core.pose import PoseResult

THIGH = SHIN = 0.43
TORSO = 0.50
HIP_HALF = 0.10
SHOULDER_HALF = 0.18
UPPER_ARM, FOREARM = 0.29, 0.27
ANKLE_HEIGHT = 0.08

Body = np.ndarray  # (33, 3) world points in the body frame


def _leg_ik(hip: np.ndarray, ankle: np.ndarray, bend: np.ndarray) -> np.ndarray:
    """Knee position for a leg from hip to ankle, bending towards ``bend``."""
    d_vec = ankle - hip
    d = min(float(np.linalg.norm(d_vec)), THIGH + SHIN - 1e-6)
    u = d_vec / max(float(np.linalg.norm(d_vec)), 1e-9)
    a = (THIGH**2 - SHIN**2 + d**2) / (2 * d)
    h = math.sqrt(max(THIGH**2 - a**2, 0.0))
    v = bend - np.dot(bend, u) * u
    v = v / max(float(np.linalg.norm(v)), 1e-9)
    return hip + a * u + h * v


def _fill(
    hips: tuple[np.ndarray, np.ndarray],
    knees: tuple[np.ndarray, np.ndarray],
    ankles: tuple[np.ndarray, np.ndarray],
    lean_deg: float,
    arm_deg: float = 0.0,
    torso_dir: np.ndarray | None = None,
) -> Body:
    """All 33 landmarks from the legs, a torso lean (forward, degrees) and an arm angle."""
    p = np.zeros((33, 3))
    hip_mid = (hips[0] + hips[1]) / 2
    lean = math.radians(lean_deg)
    up = torso_dir if torso_dir is not None else np.array([math.sin(lean), math.cos(lean), 0.0])
    sh_mid = hip_mid + TORSO * up
    side = np.array([0.0, 0.0, 1.0])
    for s, sign in (("LEFT", 1.0), ("RIGHT", -1.0)):
        p[LM[f"{s}_HIP"]] = hips[0] if sign > 0 else hips[1]
        p[LM[f"{s}_KNEE"]] = knees[0] if sign > 0 else knees[1]
        ankle = ankles[0] if sign > 0 else ankles[1]
        p[LM[f"{s}_ANKLE"]] = ankle
        p[LM[f"{s}_HEEL"]] = ankle + np.array([-0.06, -0.06, 0.0])
        p[LM[f"{s}_FOOT_INDEX"]] = ankle + np.array([0.16, -0.07, 0.0])
        shoulder = sh_mid + sign * SHOULDER_HALF * side
        p[LM[f"{s}_SHOULDER"]] = shoulder
        arm = math.radians(arm_deg)
        down = np.array([math.sin(arm), -math.cos(arm), 0.0])
        elbow = shoulder + UPPER_ARM * down
        wrist = elbow + FOREARM * down
        p[LM[f"{s}_ELBOW"]] = elbow
        p[LM[f"{s}_WRIST"]] = wrist
        for name, off in (("PINKY", -0.02), ("INDEX", 0.0), ("THUMB", 0.02)):
            p[LM[f"{s}_{name}"]] = wrist + 0.07 * down + off * sign * side
    head = sh_mid + 0.2 * up + np.array([0.08, 0.0, 0.0])
    p[LM.NOSE] = head
    for s, sign in (("LEFT", 1.0), ("RIGHT", -1.0)):
        p[LM[f"{s}_EYE"]] = head + np.array([-0.01, 0.03, 0.03 * sign])
        p[LM[f"{s}_EYE_INNER"]] = head + np.array([-0.01, 0.03, 0.015 * sign])
        p[LM[f"{s}_EYE_OUTER"]] = head + np.array([-0.01, 0.03, 0.045 * sign])
        p[LM[f"{s}_EAR"]] = head + np.array([-0.08, 0.02, 0.07 * sign])
    p[LM.MOUTH_LEFT] = head + np.array([0.0, -0.03, 0.02])
    p[LM.MOUTH_RIGHT] = head + np.array([0.0, -0.03, -0.02])
    return p


def squat_body(
    knee_deg: float,
    *,
    stance: float = 0.16,
    knees_out: float = 0.05,
    lean_gain: float = 0.4,
    lift: float = 0.0,
    x: float = 0.0,
    lean_deg: float | None = None,
    thigh: float = THIGH,
) -> Body:
    """A squat with both knees at ``knee_deg`` (180 = standing); ``lift`` raises the whole body
    (a jump), ``x`` moves it forward; ``thigh`` changes the thigh length (shin stays)."""
    f = max(0.0, 180.0 - knee_deg)
    alpha = math.radians(0.33 * f)  # the shins tilt forward as the knees travel
    theta = math.radians(knee_deg)
    hips, knees, ankles = [], [], []
    for sign in (1.0, -1.0):
        ankle = np.array([x, ANKLE_HEIGHT + lift, sign * stance])
        out = sign * knees_out * math.sin(math.radians(min(f, 90.0)))
        knee = ankle + np.array([SHIN * math.sin(alpha), SHIN * math.cos(alpha), out])
        dx, dy = -math.sin(alpha), -math.cos(alpha)
        tx = dx * math.cos(theta) + dy * math.sin(theta)
        ty = -dx * math.sin(theta) + dy * math.cos(theta)
        hip = knee + thigh * np.array([tx, ty, 0.0])
        hip[2] = sign * HIP_HALF
        hips.append(hip)
        knees.append(knee)
        ankles.append(ankle)
    lean = lean_gain * f if lean_deg is None else lean_deg
    return _fill((hips[0], hips[1]), (knees[0], knees[1]), (ankles[0], ankles[1]), lean, 0.6 * f)


def walking_body(t: float, *, speed: float = 1.2, cadence_hz: float = 0.9) -> Body:
    """Walking forward (+X): legs swing, the knee of the swinging leg bends to ~115°."""
    phase = 2 * math.pi * cadence_hz * t
    hip_x = speed * t
    hips, knees, ankles = [], [], []
    for sign, offset in ((1.0, 0.0), (-1.0, math.pi)):
        ph = phase + offset
        swing = math.sin(ph)  # +1 foot forward, -1 foot behind
        lift = max(0.0, math.cos(ph)) ** 2 * 0.12 if math.sin(ph + math.pi / 2) > 0 else 0.0
        ankle = np.array([hip_x + 0.35 * swing, ANKLE_HEIGHT + lift, sign * 0.1])
        hips.append(np.array([hip_x, 0.0, sign * HIP_HALF]))
        ankles.append(ankle)
    # Hip height: the lower ankle's leg is (nearly) straight.
    lowest = min(ankles, key=lambda a: a[1])
    hip_y = lowest[1] + math.sqrt(max((THIGH + SHIN - 0.02) ** 2 - (lowest[0] - hip_x) ** 2, 0))
    for hip in hips:
        hip[1] = hip_y
    for hip, ankle in zip(hips, ankles, strict=True):
        knees.append(_leg_ik(hip, ankle, np.array([1.0, 0.0, 0.0])))
    return _fill((hips[0], hips[1]), (knees[0], knees[1]), (ankles[0], ankles[1]), 4.0)


def pushup_body(elbow_deg: float) -> Body:
    """A push-up seen in the sagittal plane: hands under the shoulders, body straight."""
    theta = math.radians(elbow_deg)
    d = math.sqrt(UPPER_ARM**2 + FOREARM**2 - 2 * UPPER_ARM * FOREARM * math.cos(theta))
    wrist_y = 0.04
    shoulder = np.array([0.0, wrist_y + d, 0.0])
    ankle = np.array([-1.45, ANKLE_HEIGHT, 0.0])
    along = shoulder - ankle
    along /= np.linalg.norm(along)
    hip_mid = shoulder - TORSO * along
    p = np.zeros((33, 3))
    for s, sign in (("LEFT", 1.0), ("RIGHT", -1.0)):
        z = np.array([0.0, 0.0, sign])
        sh = shoulder + SHOULDER_HALF * z
        hip = hip_mid + HIP_HALF * z
        an = ankle + 0.1 * z
        wrist = np.array([0.0, wrist_y, 0.0]) + SHOULDER_HALF * z
        elbow = _leg_ik_arm(sh, wrist)
        knee = (hip + an) / 2
        for name, value in (
            ("SHOULDER", sh), ("HIP", hip), ("ANKLE", an), ("WRIST", wrist),
            ("ELBOW", elbow), ("KNEE", knee),
            ("HEEL", an + np.array([-0.05, 0.05, 0.0])),
            ("FOOT_INDEX", an + np.array([0.05, -0.08, 0.0])),
            ("PINKY", wrist + np.array([0.07, -0.01, 0.0])),
            ("INDEX", wrist + np.array([0.08, -0.01, 0.0])),
            ("THUMB", wrist + np.array([0.06, 0.0, 0.0])),
            ("EAR", shoulder + along * 0.2 + 0.07 * z), ("EYE", shoulder + along * 0.24 + 0.03 * z),
            ("EYE_INNER", shoulder + along * 0.24 + 0.015 * z),
            ("EYE_OUTER", shoulder + along * 0.24 + 0.045 * z),
        ):  # fmt: skip
            p[LM[f"{s}_{name}"]] = value
    head = shoulder + along * 0.25 + np.array([0.0, -0.05, 0.0])
    p[LM.NOSE] = head
    p[LM.MOUTH_LEFT] = head + np.array([0.0, -0.03, 0.02])
    p[LM.MOUTH_RIGHT] = head + np.array([0.0, -0.03, -0.02])
    return p


def _leg_ik_arm(shoulder: np.ndarray, wrist: np.ndarray) -> np.ndarray:
    d_vec = wrist - shoulder
    d = min(float(np.linalg.norm(d_vec)), UPPER_ARM + FOREARM - 1e-6)
    u = d_vec / max(float(np.linalg.norm(d_vec)), 1e-9)
    a = (UPPER_ARM**2 - FOREARM**2 + d**2) / (2 * d)
    h = math.sqrt(max(UPPER_ARM**2 - a**2, 0.0))
    back = np.array([-1.0, 0.0, 0.0])  # elbows travel back towards the feet
    v = back - np.dot(back, u) * u
    v /= max(float(np.linalg.norm(v)), 1e-9)
    return shoulder + a * u + h * v


def lunge_body(depth: float) -> Body:
    """A split squat: ``depth`` 0 (standing tall) … 1 (front thigh level)."""
    front = np.array([0.3, ANKLE_HEIGHT, 0.1])
    rear = np.array([-0.35, ANKLE_HEIGHT + 0.04, -0.1])
    top = rear[1] + math.sqrt((THIGH + SHIN - 0.004) ** 2 - 0.35**2)  # rear leg straight
    hip_y = top - depth * (top - 0.55)
    hips = (np.array([0.0, hip_y, HIP_HALF]), np.array([0.0, hip_y, -HIP_HALF]))
    fwd = np.array([1.0, 0.0, 0.0])
    knees = (_leg_ik(hips[0], front, fwd), _leg_ik(hips[1], rear, fwd))
    return _fill(hips, knees, (front, rear), 5.0)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera looking at the body from ``yaw`` degrees (0 side, 90 front)."""

    yaw: float = 0.0
    distance: float = 3.5
    size: tuple[int, int] = (640, 480)
    body_height_frac: float = 0.7  # how much of the picture height 1.75 m fills at the origin

    def film(self, body: Body, *, visibility: float = 0.95) -> PoseResult:
        w, h = self.size
        psi = math.radians(self.yaw)
        # Camera frame: x to the image right, y up, depth towards the camera.
        x_img = body[:, 0] * math.cos(psi) + body[:, 2] * math.sin(psi)
        depth = body[:, 0] * math.sin(psi) - body[:, 2] * math.cos(psi)
        focal = self.body_height_frac * h * self.distance / 1.75
        z = self.distance - depth
        u = w / 2 + focal * x_img / z
        v = 0.92 * h - focal * body[:, 1] / z
        lm = np.zeros((33, 5), np.float32)
        lm[:, 0] = u / w
        lm[:, 1] = v / h
        lm[:, 2] = -depth / 2
        # The far side of a body seen from the side is partly hidden.
        hidden = np.clip(-depth / 0.1, 0, 1) * abs(math.cos(psi))
        lm[:, 3] = visibility - 0.3 * hidden
        lm[:, 4] = 0.99
        hip_mid = (body[LM.LEFT_HIP] + body[LM.RIGHT_HIP]) / 2
        rel = body - hip_mid
        world = np.stack(
            [
                rel[:, 0] * math.cos(psi) + rel[:, 2] * math.sin(psi),
                -rel[:, 1],
                -(rel[:, 0] * math.sin(psi) - rel[:, 2] * math.cos(psi)),
            ],
            axis=1,
        ).astype(np.float32)
        return PoseResult(lm, world, self.size)


Frames = list[tuple[float, PoseResult | None]]


def film_sequence(
    body_at: Callable[[float], Body | None],
    duration_s: float,
    *,
    fps: float = 30.0,
    camera: Camera = Camera(),
    noise_px: float = 0.0,
    world_noise_m: float = 0.0,
    seed: int = 0,
) -> Frames:
    """Film ``body_at(t)`` (None = nobody visible) for ``duration_s`` at ``fps``."""
    rng = np.random.default_rng(seed)
    frames: Frames = []
    w, h = camera.size
    for i in range(round(duration_s * fps)):
        t = i / fps
        body = body_at(t)
        if body is None:
            frames.append((t, None))
            continue
        pose = camera.film(body)
        if noise_px or world_noise_m:
            lm = pose.landmarks.copy()
            lm[:, 0] += rng.normal(0, noise_px / w, 33)
            lm[:, 1] += rng.normal(0, noise_px / h, 33)
            world = pose.world + rng.normal(0, world_noise_m, (33, 3)).astype(np.float32)
            pose = PoseResult(lm, world, pose.image_size)
        frames.append((t, pose))
    return frames


def squat_profile(
    reps: int,
    *,
    period_s: float = 2.0,
    bottom_deg: float = 80.0,
    rest_s: float = 0.5,
    lead_s: float = 1.5,
    top_deg: float = 176.0,
    depths: list[float] | None = None,
) -> tuple[Callable[[float], float], float]:
    """Knee angle over time for ``reps`` squats (cosine dips); returns (angle_at, duration)."""
    bottoms = depths if depths is not None else [bottom_deg] * reps
    starts = [lead_s + i * (period_s + rest_s) for i in range(len(bottoms))]
    duration = lead_s + len(bottoms) * (period_s + rest_s) + 1.5

    def angle_at(t: float) -> float:
        for start, bottom in zip(starts, bottoms, strict=True):
            if start <= t < start + period_s:
                phase = (t - start) / period_s
                return top_deg - (top_deg - bottom) * (1 - math.cos(2 * math.pi * phase)) / 2
        return top_deg

    return angle_at, duration
