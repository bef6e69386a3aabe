"""Synthetic broadcast-style clips with exact ground truth.

A match is simulated on the standard pitch (two teams in 4-4-2, goalkeepers, a referee, a ball that
is dribbled and passed) and filmed from a high main camera beside the halfway line, either static
or panning with play. Every pixel comes from ray casting the camera through a small scene (grass
with mowing stripes and markings, a line of advertising boards, a crowd stand), then players are
drawn as projected 3-D stick figures with kit colours. Because the renderer knows every ray, the
ground truth (boxes, visibility after occlusion and frame edges, pitch positions) is exact.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from portfolio_ml_core.fsutil import atomic_path, write_json_atomic
from portfolio_ml_core.video import VideoSink

from .. import pitch
from ..calibrate.geometry import apply_h
from ..io.tracks_csv import GT_COLUMNS
from .camera import BroadcastCamera

TEX_PPM = 20.0  # ground texture resolution, pixels per metre
TEX_X0, TEX_X1, TEX_Y0, TEX_Y1 = -64.0, 64.0, -42.0, 50.0
BOARD_Y = -pitch.HALF_W - 4.0
BOARD_H = 1.0
CROWD_RAD_PER_PX = 0.0008

# Kit colours (BGR); a team pair is chosen far apart in Lab space.
PALETTE: dict[str, tuple[int, int, int]] = {
    "white": (240, 240, 240),
    "red": (40, 30, 205),
    "blue": (170, 60, 25),
    "sky": (235, 185, 110),
    "yellow": (40, 215, 240),
    "black": (35, 35, 35),
    "orange": (20, 125, 250),
    "maroon": (55, 25, 120),
    "purple": (135, 40, 115),
    "navy": (90, 30, 20),
}
SKIN = [(150, 180, 225), (110, 145, 195), (70, 100, 150), (45, 65, 100)]


CAMERAS = ("static", "pan", "tactical")  # tactical: high and wide, players a few pixels tall


@dataclass(frozen=True)
class SampleConfig:
    camera: str = "static"  # static | pan | tactical
    seconds: float = 8.0
    seed: int = 0
    width: int = 1280
    height: int = 720
    fps: float = 25.0


@dataclass
class Agent:
    track_id: int
    role: str  # player | goalkeeper | referee
    team: int
    home: np.ndarray
    shirt: tuple[int, int, int]
    shorts: tuple[int, int, int]
    socks: tuple[int, int, int]
    skin: tuple[int, int, int]
    vmax: float
    pos: np.ndarray
    vel: np.ndarray = field(default_factory=lambda: np.zeros(2))
    wander: np.ndarray = field(default_factory=lambda: np.zeros(2))
    phase: float = 0.0


@dataclass(frozen=True)
class SampleResult:
    video: Path
    gt: Path
    calibration: Path
    frames: int


def _lab(bgr: tuple[int, int, int]) -> np.ndarray:
    return np.asarray(cv2.cvtColor(np.array([[bgr]], dtype=np.uint8), cv2.COLOR_BGR2LAB))[
        0, 0
    ].astype(float)


def _pick_kits(rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """Five mutually distinct colours: team 0, team 1, keeper 0, keeper 1, referee."""
    names = list(PALETTE)
    for _ in range(500):
        chosen = [PALETTE[n] for n in rng.choice(names, 5, replace=False)]
        labs = [_lab(c) for c in chosen]
        d = [np.linalg.norm(labs[i] - labs[j]) for i in range(5) for j in range(i + 1, 5)]
        if min(d) > 45 and np.linalg.norm(labs[0] - labs[1]) > 80:
            return chosen
    return [
        PALETTE["white"],
        PALETTE["red"],
        PALETTE["yellow"],
        PALETTE["orange"],
        PALETTE["black"],
    ]


FORMATION = (
    [(-50.0, 0.0)]
    + [(-35.0, y) for y in (-22, -8, 8, 22)]
    + [(-18.0, y) for y in (-24, -8, 8, 24)]
    + [(-5.0, -10.0), (-5.0, 10.0)]
)


class SimulatedMatch:
    """A crude but continuous match simulation: positions in metres at a fixed time step."""

    def __init__(self, rng: np.random.Generator, dt: float) -> None:
        self.rng, self.dt = rng, dt
        kits = _pick_kits(rng)
        shorts_opts = [(240, 240, 240), (30, 30, 30), (150, 60, 20)]
        self.kits = kits
        self.agents: list[Agent] = []
        tid = 1
        for team in (0, 1):
            side = 1.0 if team == 0 else -1.0
            shorts = shorts_opts[int(rng.integers(len(shorts_opts)))]
            for k, (hx, hy) in enumerate(FORMATION):
                home = np.array([side * hx, side * hy])
                keeper = k == 0
                shirt = kits[2 + team] if keeper else kits[team]
                pos = home + rng.normal(0, 2.0, 2)
                self.agents.append(
                    Agent(
                        tid,
                        "goalkeeper" if keeper else "player",
                        team,
                        home,
                        shirt,
                        shirt if keeper else shorts,
                        shirt,
                        SKIN[int(rng.integers(4))],
                        float(rng.uniform(6.5, 8.5)),
                        pos,
                    )
                )
                tid += 1
        ref = kits[4]
        self.agents.append(
            Agent(
                tid,
                "referee",
                -1,
                np.zeros(2),
                ref,
                (30, 30, 30),
                ref,
                SKIN[int(rng.integers(4))],
                7.0,
                np.array([-6.0, 6.0]),
            )
        )
        self.carrier: Agent | None = self.agents[10]
        self.ball = self.carrier.pos.copy()
        self.flight: tuple[np.ndarray, np.ndarray, float, float] | None = None
        self.hold = 1.0

    def step(self) -> None:
        rng, dt = self.rng, self.dt
        if self.flight is not None:
            start, end, t, dur = self.flight
            t += dt
            self.ball = start + (end - start) * min(1.0, t / dur)
            self.flight = (start, end, t, dur) if t < dur else None
            if self.flight is None:
                field_players = [a for a in self.agents if a.role != "referee"]
                d = [np.linalg.norm(a.pos - self.ball) for a in field_players]
                self.carrier = field_players[int(np.argmin(d))]
                self.hold = float(rng.uniform(0.8, 2.5))
        elif self.carrier is not None:
            c = self.carrier
            heading = c.vel / (np.linalg.norm(c.vel) + 1e-6)
            self.ball = c.pos + 0.7 * heading
            self.hold -= dt
            if self.hold <= 0:
                mates = [a for a in self.agents if a.team == c.team and a is not c]
                dist = np.array([np.linalg.norm(a.pos - c.pos) for a in mates])
                ok = [a for a, d in zip(mates, dist, strict=True) if 8 < d < 35] or mates
                receiver = ok[int(rng.integers(len(ok)))]
                end = np.clip(
                    receiver.pos + receiver.vel * 1.0 + rng.normal(0, 3, 2),
                    [-pitch.HALF_L + 2, -pitch.HALF_W + 2],
                    [pitch.HALF_L - 2, pitch.HALF_W - 2],
                )
                dur = float(np.linalg.norm(end - self.ball)) / float(rng.uniform(11, 17))
                self.flight = (self.ball.copy(), end, 0.0, max(dur, 0.3))
                self.carrier = None
        ball = self.ball
        chasers: set[int] = set()
        for team in (0, 1):
            outfield = [a for a in self.agents if a.team == team and a.role == "player"]
            order = np.argsort([np.linalg.norm(a.pos - ball) for a in outfield])
            chasers.update(outfield[i].track_id for i in order[:2])
        for a in self.agents:
            a.wander += (-a.wander / 3.0) * dt + rng.normal(0, 1.6, 2) * math.sqrt(dt)
            if a.role == "goalkeeper":
                gx = a.home[0] - math.copysign(2.0, a.home[0])
                target = np.array([gx, np.clip(ball[1] * 0.2, -5, 5)])
                if np.linalg.norm(ball - a.home) < 14:
                    target = ball.copy()
            elif a.role == "referee":
                target = ball + np.array([-7.0, 7.0]) + a.wander
            elif a is self.carrier:
                attack = 1.0 if a.team == 0 else -1.0
                target = a.pos + np.array([attack * 6.0, a.wander[1]])
            elif a.track_id in chasers:
                target = ball.copy()
            else:
                shift = np.array([ball[0] * 0.6, ball[1] * 0.35])
                target = a.home * np.array([0.55, 0.85]) + shift + 2 * a.wander
            target = np.clip(
                target,
                [-pitch.HALF_L + 0.5, -pitch.HALF_W + 0.5],
                [pitch.HALF_L - 0.5, pitch.HALF_W - 0.5],
            )
            desired = (target - a.pos) * 0.9
            speed = np.linalg.norm(desired)
            vmax = a.vmax * (1.0 if (a is self.carrier or a.track_id in chasers) else 0.7)
            if speed > vmax:
                desired *= vmax / speed
            dv = desired - a.vel
            acc = np.linalg.norm(dv) / dt
            if acc > 5.0:
                dv *= 5.0 / acc
            a.vel = a.vel + dv
            a.pos = a.pos + a.vel * dt
            a.phase += float(np.linalg.norm(a.vel)) * dt * 1.6


# -- scene (background) ------------------------------------------------------------------
def _ground_texture(rng: np.random.Generator) -> np.ndarray:
    w = int((TEX_X1 - TEX_X0) * TEX_PPM)
    h = int((TEX_Y1 - TEX_Y0) * TEX_PPM)
    base = np.array(rng.uniform([35, 120, 45], [55, 150, 70]))
    light = base * rng.uniform(1.08, 1.18)
    xs = (np.arange(w) / TEX_PPM + TEX_X0 + pitch.HALF_L) / (pitch.LENGTH / 18)
    stripe = (np.floor(xs).astype(int) % 2).astype(np.float32)
    tex = base[None, None, :] + (light - base)[None, None, :] * stripe[None, :, None]
    tex = np.broadcast_to(tex, (h, w, 3)).astype(np.float32)
    low = cv2.resize(rng.normal(0, 1, (h // 40 + 1, w // 40 + 1)).astype(np.float32), (w, h))
    tex = tex * (1 + 0.05 * low[:, :, None]) + rng.normal(0, 3, (h, w, 1)).astype(np.float32)
    tex = np.clip(tex, 0, 255).astype(np.uint8)
    return tex


LINE_WHITE = (235, 240, 235)


def _draw_markings(frame: np.ndarray, cam: BroadcastCamera, pts: np.ndarray) -> None:
    """Lines drawn in the image (not the texture) so distant lines stay continuous."""
    w3 = np.concatenate([pts, np.zeros((len(pts), 1))], axis=1)
    uv, depth = cam.project(w3)
    thick = np.clip(0.12 * cam.focal / np.maximum(depth, 1.0), 1.0, 20.0)
    h, w = frame.shape[:2]
    q = (uv * 16).round().astype(np.int64)
    for k in range(0, len(pts) - 1, 2):
        a, b = uv[k], uv[k + 1]
        if depth[k] <= 0 or depth[k + 1] <= 0:
            continue
        if (
            max(a[0], b[0]) < -20
            or min(a[0], b[0]) > w + 20
            or max(a[1], b[1]) < -20
            or min(a[1], b[1]) > h + 20
        ):
            continue
        cv2.line(
            frame,
            (int(q[k, 0]), int(q[k, 1])),
            (int(q[k + 1, 0]), int(q[k + 1, 1])),
            LINE_WHITE,
            max(1, round(float(thick[k]))),
            cv2.LINE_AA,
            shift=4,
        )


def _marking_segments() -> np.ndarray:
    """Pairs of points (consecutive rows) covering every line, 0.5 m pieces."""
    out = []
    for line in pitch.pitch_lines():
        pts = line.points
        for a, b in itertools.pairwise(pts):
            n = max(1, math.ceil(float(np.linalg.norm(b - a)) / 0.5))
            t = np.linspace(0.0, 1.0, n + 1)[:, None]
            p = a + (b - a) * t
            out.append(np.stack([p[:-1], p[1:]], axis=1).reshape(-1, 2))
    for x in (0.0, -pitch.HALF_L + pitch.PENALTY_SPOT, pitch.HALF_L - pitch.PENALTY_SPOT):
        out.append(np.array([[x - 0.1, 0.0], [x + 0.1, 0.0], [x, -0.1], [x, 0.1]]))
    return np.concatenate(out)


def _board_texture(rng: np.random.Generator) -> np.ndarray:
    """Advertising boards, indexed by (X, Z) at 20 px/m."""
    w, h = int((TEX_X1 - TEX_X0) * TEX_PPM), int(BOARD_H * TEX_PPM)
    tex = np.zeros((h, w, 3), np.uint8)
    x = 0
    while x < w:
        pw = int(rng.uniform(6, 12) * TEX_PPM)
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        tex[:, x : x + pw] = colour
        for _ in range(int(rng.integers(2, 6))):
            cx = x + int(rng.integers(0, max(1, pw - 20)))
            tw = int(rng.integers(10, 60))
            tex[h // 4 : 3 * h // 4, cx : cx + tw] = (250, 250, 250)
        x += pw
    return tex


def _crowd_texture(rng: np.random.Generator) -> np.ndarray:
    """A stand full of people, indexed by (azimuth, elevation) from the camera."""
    w, h = int(2.6 / CROWD_RAD_PER_PX), int(0.9 / CROWD_RAD_PER_PX)
    tex = np.full((h, w, 3), (45, 40, 50), np.uint8)
    tex[:] = (tex + rng.normal(0, 6, (h, 1, 1))).clip(0, 255).astype(np.uint8)
    n = w * h // 60
    xs, ys = rng.integers(0, w, n), rng.integers(0, h, n)
    cols = rng.integers(0, 256, (n, 3))
    whites = rng.random(n) < 0.15
    cols[whites] = 235
    cols = (cols * 0.55 + 60).astype(int)  # real stands are dim and muted
    for x, y, c in zip(xs, ys, cols, strict=True):
        col = (int(c[0]), int(c[1]), int(c[2]))
        cv2.ellipse(tex, (int(x), int(y) + 3), (4, 5), 0, 0, 360, col, -1)
        cv2.circle(tex, (int(x), int(y) - 3), 3, SKIN[int(x) % 4], -1)
    return tex


class Scene:
    def __init__(self, rng: np.random.Generator) -> None:
        self.ground = _ground_texture(rng)
        self.boards = _board_texture(rng)
        self.crowd = _crowd_texture(rng)
        self.markings = _marking_segments()

    def render(self, cam: BroadcastCamera) -> np.ndarray:
        """Ray-cast the background: grass, boards, crowd."""
        w, h = cam.width, cam.height
        u, v = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        r = cam.rotation().astype(np.float32)
        dx = (u - w / 2) / cam.focal
        dy = (v - h / 2) / cam.focal
        # world ray = R^T [dx, dy, 1]
        rx = r[0, 0] * dx + r[1, 0] * dy + r[2, 0]
        ry = r[0, 1] * dx + r[1, 1] * dy + r[2, 1]
        rz = r[0, 2] * dx + r[1, 2] * dy + r[2, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            tg = np.where(rz < -1e-6, -cam.z / rz, np.inf)
            gx, gy = cam.x + tg * rx, cam.y + tg * ry
            tb = np.where(ry < -1e-6, (BOARD_Y - cam.y) / ry, np.inf)
            bx, bz = cam.x + tb * rx, cam.z + tb * rz
        ground = np.isfinite(tg) & (gy >= BOARD_Y)
        board = ~ground & np.isfinite(tb) & (bz >= 0) & (bz <= BOARD_H)
        map_gx = ((gx - TEX_X0) * TEX_PPM).astype(np.float32)
        map_gy = ((gy - TEX_Y0) * TEX_PPM).astype(np.float32)
        out = cv2.remap(
            self.ground,
            np.nan_to_num(map_gx),
            np.nan_to_num(map_gy),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        map_bx = np.nan_to_num(((bx - TEX_X0) * TEX_PPM).astype(np.float32))
        map_bz = np.nan_to_num(((BOARD_H - bz) * TEX_PPM).astype(np.float32))
        boards = cv2.remap(
            self.boards, map_bx, map_bz, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        az = np.arctan2(rx, -ry)
        el = np.arctan2(rz, np.hypot(rx, ry))
        map_cx = ((az + 1.3) / CROWD_RAD_PER_PX).astype(np.float32)
        map_cy = ((0.6 - el) / CROWD_RAD_PER_PX).astype(np.float32)
        crowd = cv2.remap(
            self.crowd, map_cx, map_cy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        out[board] = boards[board]
        other = ~ground & ~board
        out[other] = crowd[other]
        _draw_markings(out, cam, self.markings)
        return out


# -- figures -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Drawn:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), unclipped
    own_pixels: int


def _figure_strokes(a: Agent, cam: BoundedCamera) -> list[tuple[str, np.ndarray, float, tuple]]:
    """The figure as (kind, pixel points, thickness px, colour) primitives."""
    right = cam.right_ground
    swing = math.sin(a.phase) * min(1.0, float(np.linalg.norm(a.vel)) / 3.0)
    p = a.pos

    def w3(lat: float, z: float, fwd: float = 0.0) -> np.ndarray:
        return np.array([p[0] + right[0] * (lat + fwd), p[1] + right[1] * (lat + fwd), z])

    joints = {
        "foot_l": w3(-0.12, 0.08, 0.35 * swing),
        "foot_r": w3(0.12, 0.08, -0.35 * swing),
        "knee_l": w3(-0.11, 0.5, 0.18 * swing),
        "knee_r": w3(0.11, 0.5, -0.18 * swing),
        "hip_l": w3(-0.14, 0.95),
        "hip_r": w3(0.14, 0.95),
        "sh_l": w3(-0.22, 1.45),
        "sh_r": w3(0.22, 1.45),
        "el_l": w3(-0.3, 1.15, -0.15 * swing),
        "el_r": w3(0.3, 1.15, 0.15 * swing),
        "ha_l": w3(-0.32, 0.9, -0.3 * swing),
        "ha_r": w3(0.32, 0.9, 0.3 * swing),
        "shorts_l": w3(-0.16, 0.7),
        "shorts_r": w3(0.16, 0.7),
        "sock_l": w3(-0.115, 0.42, 0.15 * swing),
        "sock_r": w3(0.115, 0.42, -0.15 * swing),
        "head": w3(0.0, 1.68),
    }
    names = list(joints)
    uv, depth = cam.cam.project(np.stack([joints[n] for n in names]))
    j = dict(zip(names, uv, strict=True))
    s = cam.cam.focal / max(float(depth.mean()), 1.0)
    boot = (20, 20, 20)
    strokes: list[tuple[str, np.ndarray, float, tuple]] = []
    for side in ("l", "r"):
        strokes += [
            ("line", np.stack([j[f"hip_{side}"], j[f"knee_{side}"]]), 0.15 * s, a.skin),
            ("line", np.stack([j[f"knee_{side}"], j[f"foot_{side}"]]), 0.12 * s, a.socks),
            ("line", np.stack([j[f"sock_{side}"], j[f"knee_{side}"]]), 0.13 * s, a.skin),
            ("line", np.stack([j[f"foot_{side}"], j[f"foot_{side}"] + [0.0, 0.0]]), 0.16 * s, boot),
            ("line", np.stack([j[f"el_{side}"], j[f"ha_{side}"]]), 0.08 * s, a.skin),
            ("line", np.stack([j[f"sh_{side}"], j[f"el_{side}"]]), 0.11 * s, a.shirt),
        ]
    strokes.append(
        ("poly", np.stack([j["hip_l"], j["hip_r"], j["shorts_r"], j["shorts_l"]]), 0, a.shorts)
    )
    strokes.append(("poly", np.stack([j["sh_l"], j["sh_r"], j["hip_r"], j["hip_l"]]), 0, a.shirt))
    strokes.append(("circle", j["head"][None], 0.12 * s, a.skin))
    strokes.append(("circle", j["head"][None] - [0, 0.05 * s], 0.09 * s, (25, 30, 40)))
    return strokes


@dataclass(frozen=True)
class BoundedCamera:
    cam: BroadcastCamera
    right_ground: np.ndarray


def _draw(img: np.ndarray, strokes: list, offset: np.ndarray, colour: int | None) -> None:
    aa = cv2.LINE_AA if colour is None else cv2.LINE_8
    for kind, pts, thick, col in strokes:
        c = col if colour is None else colour
        q = ((pts - offset) * 16).round().astype(np.int32)
        if kind == "line":
            t = max(1, round(thick))
            cv2.line(img, tuple(q[0]), tuple(q[1]), c, t, aa, shift=4)
        elif kind == "poly":
            cv2.fillPoly(img, [q], c, aa, shift=4)
        else:
            cv2.circle(img, tuple(q[0]), max(16, round(thick * 16)), c, -1, aa, shift=4)


def _render_objects(
    frame: np.ndarray, objects: list[tuple[float, list]]
) -> list[tuple[Drawn, float]]:
    """Draw far to near; return each object's unclipped box and visibility."""
    h, w = frame.shape[:2]
    ids = np.zeros((h, w), np.uint8)
    drawn: list[Drawn] = []
    order = np.argsort([o[0] for o in objects])
    for rank, k in enumerate(order, start=1):
        strokes = objects[k][1]
        pts = np.concatenate([s[1] for s in strokes])
        pad = max(s[2] for s in strokes) + 3
        x0, y0 = np.floor(pts.min(axis=0) - pad).astype(int)
        x1, y1 = np.ceil(pts.max(axis=0) + pad).astype(int)
        local = np.zeros((y1 - y0, x1 - x0), np.uint8)
        _draw(local, strokes, np.array([x0, y0], float), 255)
        ys, xs = np.nonzero(local)
        if len(xs) == 0:
            drawn.append(Drawn((0, 0, 0, 0), 0))
            continue
        box = (x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1)
        drawn.append(Drawn(box, len(xs)))
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if cx0 < cx1 and cy0 < cy1:
            sub = local[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
            ids[cy0:cy1, cx0:cx1][sub > 0] = rank
        _draw(frame, strokes, np.zeros(2), None)
    counts = np.bincount(ids.ravel(), minlength=len(objects) + 1)
    result: list[tuple[Drawn, float]] = [(Drawn((0, 0, 0, 0), 0), 0.0)] * len(objects)
    for rank, k in enumerate(order, start=1):
        d = drawn[rank - 1]
        result[k] = (d, counts[rank] / d.own_pixels if d.own_pixels else 0.0)
    return result


def _camera_path(
    cfg: SampleConfig, rng: np.random.Generator
) -> tuple[BroadcastCamera, Callable[[np.ndarray, BroadcastCamera], BroadcastCamera]]:
    if cfg.camera == "tactical":
        # A high, wide "tactical camera": the whole pitch in view, players a few pixels tall.
        dist, height, view_m = (float(rng.uniform(18, 28)), float(rng.uniform(32, 42)), 112.0)
    else:
        dist = float(rng.uniform(20, 38))
        height = float(rng.uniform(12, 24))
        view_m = float(rng.uniform(42, 54) if cfg.camera == "static" else rng.uniform(32, 42))
    cam_y = pitch.HALF_W + dist
    focal = cfg.width * math.hypot(cam_y, height) / view_m
    base = BroadcastCamera(0.0, cam_y, height, 0.0, 0.0, focal, cfg.width, cfg.height)
    look_y = float(rng.uniform(-6, 0))
    start = base.looking_at(0.0, look_y)
    alpha = 1 - math.exp(-1 / (cfg.fps * 0.8))

    def follow(ball: np.ndarray, cam: BroadcastCamera) -> BroadcastCamera:
        if cfg.camera != "pan":
            return cam
        aim_x = float(np.clip(ball[0], -38, 38))
        current = cam.x + (cam.y - look_y) * math.tan(cam.pan)
        nx = current + alpha * (aim_x - current)
        return cam.looking_at(nx, look_y)

    return start, follow


@dataclass(frozen=True)
class RenderedFrame:
    """One rendered frame, its ground-truth rows (``GT_COLUMNS`` less the last) and its camera."""

    index: int
    image: np.ndarray
    rows: list[list]
    camera: BroadcastCamera


def iter_frames(cfg: SampleConfig) -> Iterator[RenderedFrame]:
    """Render ``cfg`` frame by frame: pixels, exact ground truth and the camera of each frame."""
    if cfg.camera not in CAMERAS:
        raise ValueError(f"camera must be one of {', '.join(CAMERAS)}")
    rng = np.random.default_rng(cfg.seed)
    scene = Scene(rng)
    match = SimulatedMatch(rng, 1.0 / cfg.fps)
    for _ in range(int(cfg.fps * 2)):  # let the formation settle into motion
        match.step()
    cam, follow = _camera_path(cfg, rng)
    cam = (
        cam.looking_at(float(np.clip(match.ball[0], -38, 38)), cam.y - cam.z / math.tan(cam.tilt))
        if cfg.camera == "pan"
        else cam
    )
    n_frames = max(1, round(cfg.seconds * cfg.fps))
    static_bg = scene.render(cam) if cfg.camera != "pan" else None
    for f in range(n_frames):
        if f > 0:
            match.step()
            cam = follow(match.ball, cam)
        frame = static_bg.copy() if static_bg is not None else scene.render(cam)
        bc = BoundedCamera(cam, np.array([math.cos(cam.pan), math.sin(cam.pan)]))
        objects: list[tuple[float, list]] = []
        for a in match.agents:
            objects.append((float(a.pos[1]), _figure_strokes(a, bc)))
        buv, bdepth = cam.project(np.array([[match.ball[0], match.ball[1], 0.11]]))
        br = max(1.6, 0.11 * cam.focal / max(float(bdepth[0]), 1.0))
        objects.append(
            (
                float(match.ball[1]) + 0.05,
                [
                    ("circle", buv, br, (235, 235, 235)),
                    ("circle", buv + np.array([0.0, br * 0.3]), br * 0.55, (200, 200, 205)),
                ],
            )
        )
        results = _render_objects(frame, objects)
        frame = cv2.GaussianBlur(frame, (3, 3), 0.6)
        noise = rng.normal(0, 2.0, frame.shape).astype(np.float32)
        frame = np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        rows: list[list] = []
        everyone: list[Agent | None] = [*match.agents, None]
        for who, (drawn, vis) in zip(everyone, results, strict=True):
            x0, y0, x1, y1 = drawn.box
            cx0, cy0 = max(x0, 0), max(y0, 0)
            cx1, cy1 = min(x1, cfg.width), min(y1, cfg.height)
            if vis <= 0 or cx1 <= cx0 or cy1 <= cy0:
                continue
            if who is None:
                ident, role, team, pos = 0, "ball", -1, match.ball
            else:
                ident, role, team, pos = who.track_id, who.role, who.team, who.pos
            rows.append(
                [
                    f,
                    ident,
                    role,
                    team,
                    cx0,
                    cy0,
                    cx1 - cx0,
                    cy1 - cy0,
                    1,
                    round(float(pos[0]), 3),
                    round(float(pos[1]), 3),
                    round(vis, 3),
                ]
            )
        yield RenderedFrame(f, frame, rows, cam)


def render_sample(
    out_dir: str | Path, cfg: SampleConfig, progress: Callable[[int, int], None] | None = None
) -> SampleResult:
    """Render ``cfg`` into ``out_dir``: sample.mp4, gt.csv, calibration.json."""
    if cfg.camera not in CAMERAS:
        raise ValueError(f"camera must be one of {', '.join(CAMERAS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_frames = max(1, round(cfg.seconds * cfg.fps))
    first_h: np.ndarray | None = None
    video_path, gt_path = out / "sample.mp4", out / "gt.csv"
    with (
        atomic_path(gt_path) as tmp_gt,
        VideoSink(video_path, cfg.fps, (cfg.width, cfg.height)) as sink,
        tmp_gt.open("w", newline="") as fh,
    ):
        writer = csv.writer(fh)
        writer.writerow(GT_COLUMNS)
        for rendered in iter_frames(cfg):
            if first_h is None:
                first_h = rendered.camera.homography()
            sink.write(rendered.image)
            writer.writerows(rendered.rows)
            if progress is not None:
                progress(rendered.index + 1, n_frames)
    cal_path = out / "calibration.json"
    assert first_h is not None
    write_json_atomic(cal_path, _calibration_for(first_h, cfg))
    return SampleResult(video_path, gt_path, cal_path, n_frames)


def _calibration_for(h: np.ndarray, cfg: SampleConfig) -> dict:
    """Frame-0 correspondences: the visible marking points plus a 10 m ground grid."""
    named = np.array(list(pitch.named_points().values()))
    grid = np.array(
        [[x, y] for x in range(-50, 51, 10) for y in (-30, -20, -10, 0, 10, 20, 30)], float
    )
    world = np.concatenate([named, grid])
    img = apply_h(h, world)
    front = (world @ h[2, :2] + h[2, 2]) > 0
    m = 5
    ok = (
        front
        & (img[:, 0] > m)
        & (img[:, 0] < cfg.width - m)
        & (img[:, 1] > m)
        & (img[:, 1] < cfg.height - m)
    )
    return {
        "frame": 0,
        "image_points": np.round(img[ok], 2).tolist(),
        "pitch_points": np.round(world[ok], 3).tolist(),
        "note": "synthetic clip: exact correspondences from the rendering camera",
    }


__all__ = [
    "RenderedFrame",
    "SampleConfig",
    "SampleResult",
    "iter_frames",
    "render_sample",
    "replace",
]
