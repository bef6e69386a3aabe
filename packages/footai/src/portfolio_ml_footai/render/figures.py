"""Pitch pictures drawn with mplsoccer: the tactical map still, heatmaps, pitch control, and the
report's charts. Drawing only: every position, team and share comes from the match.

mplsoccer's ``custom`` pitch is sized from `pitch.LENGTH` × `pitch.WIDTH`, the project's one
definition of the pitch (the OpenCV radar video, `render.tactical`, draws `pitch.pitch_lines`).
Its frame has the origin at a corner with y up; the project's has it at the centre spot with y
toward the near touchline (the bottom of a broadcast picture), so `to_mpl` flips y: the pictures
show the pitch as the main camera sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import pitch
from .annotate import hex_colour

GRASS = "#3c7832"
LINES = "#ebebeb"
BALL = "#ffff00"
DPI = 100


def to_mpl(xy: np.ndarray) -> np.ndarray:
    """Project pitch metres (centre origin, +y to the near touchline) → mplsoccer's custom frame."""
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    return np.c_[xy[:, 0] + pitch.HALF_L, pitch.HALF_W - xy[:, 1]]


def _pitch(width_in: float = 10.5) -> tuple[Any, Any, Any]:
    import matplotlib

    matplotlib.use("Agg")  # files only: no window, no display needed
    from mplsoccer import Pitch

    sheet = Pitch(
        pitch_type="custom",
        pitch_length=pitch.LENGTH,
        pitch_width=pitch.WIDTH,
        pitch_color=GRASS,
        line_color=LINES,
        linewidth=1.5,
        stripe=True,
        stripe_color="#428238",
        pad_left=3,
        pad_right=3,
        pad_top=3,
        pad_bottom=3,
        line_zorder=2,  # the markings stay visible over heatmaps and control cells
    )
    fig, ax = sheet.draw(figsize=(width_in, width_in * (pitch.WIDTH + 6) / (pitch.LENGTH + 6)))
    fig.set_facecolor(GRASS)
    return fig, ax, sheet


def _image(fig: Any) -> np.ndarray:
    """The figure as a BGR image (for the project's atomic image writers)."""
    import matplotlib.pyplot as plt

    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    plt.close(fig)
    return np.ascontiguousarray(rgba[:, :, 2::-1])


def tactical_still(
    positions: np.ndarray,
    colours: Sequence[tuple[int, int, int]],
    labels: Sequence[str],
    ball: np.ndarray | None,
    view: np.ndarray | None,
    title: str,
) -> np.ndarray:
    """One moment: people as dots in their colour with their ids, the ball, and the camera's
    footprint on the pitch (``view``, a polygon in pitch metres)."""
    fig, ax, sheet = _pitch()
    if view is not None and len(view) >= 3:
        sheet.polygon([to_mpl(view)], ax=ax, fill=False, edgecolor="#b4dcff", linestyle="--")
    if len(positions):
        xy = to_mpl(positions)
        sheet.scatter(
            xy[:, 0], xy[:, 1], ax=ax, s=160, c=[hex_colour(c) for c in colours], edgecolors="white",
            linewidth=1.2, zorder=3,
        )  # fmt: skip
        for (x, y), text in zip(xy, labels, strict=True):
            sheet.annotate(text, (x, y + 1.6), ax=ax, ha="center", va="bottom", fontsize=7,
                           color="white", zorder=4)  # fmt: skip
    if ball is not None:
        b = to_mpl(ball)
        sheet.scatter(b[:, 0], b[:, 1], ax=ax, s=60, c=BALL, edgecolors="black", zorder=5)
    ax.set_title(title, color="white", fontsize=11)
    return _image(fig)


def heatmap(points: np.ndarray, title: str) -> np.ndarray:
    """Where a team stood: occupancy over 3 × 3 m cells, smoothed, over the pitch."""
    from scipy.ndimage import gaussian_filter

    fig, ax, sheet = _pitch()
    pts = points[np.isfinite(points).all(axis=1)] if len(points) else np.empty((0, 2))
    if len(pts):
        xy = to_mpl(pts)
        stats = sheet.bin_statistic(xy[:, 0], xy[:, 1], statistic="count", bins=(35, 23))
        density = gaussian_filter(stats["statistic"], 1.0)
        # Cells nobody came near stay grass: the picture shows where the team was, not a fog.
        stats["statistic"] = np.ma.masked_less(density, 0.04 * density.max())
        sheet.heatmap(stats, ax=ax, cmap="inferno", alpha=0.8, zorder=1.5)
    ax.set_title(title, color="white", fontsize=11)
    return _image(fig)


def pitch_control(
    x: np.ndarray,
    y: np.ndarray,
    team0: np.ndarray,
    positions: np.ndarray,
    teams: np.ndarray,
    team_colours: Sequence[tuple[int, int, int]],
    title: str,
) -> np.ndarray:
    """Which team controls which part of the pitch at one moment: ``team0[j, i]`` (team 0's
    control of the cell centred at ``x[i]``, ``y[j]``, pitch metres) shaded from team 1's
    colour to team 0's, with the players on top."""
    from matplotlib.colors import LinearSegmentedColormap

    fig, ax, sheet = _pitch()
    colours = (
        [hex_colour(c) for c in team_colours] if len(team_colours) == 2 else ["#d9d9d9", "#1f3b73"]
    )
    cmap = LinearSegmentedColormap.from_list("control", [colours[1], "#f0f0f0", colours[0]])
    step_x, step_y = float(np.diff(x[:2])[0]), float(np.diff(y[:2])[0])
    xe = np.r_[x - step_x / 2, x[-1] + step_x / 2] + pitch.HALF_L
    ye = pitch.HALF_W - np.r_[y - step_y / 2, y[-1] + step_y / 2]  # flipped as `to_mpl`
    ax.pcolormesh(xe, ye, team0, cmap=cmap, vmin=0, vmax=1, alpha=0.75, zorder=1.5, shading="flat")
    keep = np.isfinite(positions).all(axis=1) & (teams >= 0)
    if keep.any():
        xy = to_mpl(positions[keep])
        sheet.scatter(xy[:, 0], xy[:, 1], ax=ax, s=90, c=[colours[t] for t in teams[keep]],
                      edgecolors="black", linewidth=0.8, zorder=3)  # fmt: skip
    ax.set_title(title, color="white", fontsize=11)
    return _image(fig)
