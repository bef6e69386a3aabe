"""angles.png: the driving angle over time, with thresholds and every rep marked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from portfolio_ml_core.fsutil import atomic_path

from portfolio_ml_squat.counter import RepKind

if TYPE_CHECKING:
    from portfolio_ml_squat.session import RunResult

_SPAN = {RepKind.FULL: "tab:green", RepKind.PARTIAL: "tab:orange", RepKind.REJECTED: "0.6"}


def plot_angles(result: RunResult, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.array([r.time_s for r in result.rows])
    smooth = np.array([r.angle for r in result.rows], dtype=float)
    raw = np.array([r.sample.angle for r in result.rows], dtype=float)
    left = np.array([r.sample.angle_2d[0] for r in result.rows], dtype=float)
    right = np.array([r.sample.angle_2d[1] for r in result.rows], dtype=float)
    fig, ax = plt.subplots(figsize=(11, 4.2), dpi=100)
    ax.plot(t, left, lw=0.7, alpha=0.5, label="left 2D")
    ax.plot(t, right, lw=0.7, alpha=0.5, label="right 2D")
    ax.plot(t, raw, lw=0.8, color="0.4", alpha=0.7, label="fused (raw)")
    ax.plot(t, smooth, lw=1.8, color="black", label="driving angle (smoothed)")
    for name, value in result.thresholds.items():
        ax.axhline(value, ls="--", lw=0.8, color="tab:red" if name == "bottom" else "tab:blue")
        ax.text(1.005, value, f"{name} {value:.0f}°", va="center", fontsize=8,
                transform=ax.get_yaxis_transform())  # fmt: skip
    for e in result.events:
        ax.axvspan(e.start_s, e.end_s, color=_SPAN[e.kind], alpha=0.18, lw=0)
        if e.kind is not RepKind.REJECTED:
            label = f"{e.index}" if e.kind is RepKind.FULL else f"p{e.index}"
            ax.annotate(label, (e.bottom_s, e.min_angle), textcoords="offset points",
                        xytext=(0, -12), ha="center", fontsize=9, weight="bold")  # fmt: skip
    ax.set_xlabel("time (s)")
    ax.set_ylabel("angle (°)")
    ax.set_ylim(0, 190)
    ax.set_title(
        f"{result.exercise} ({result.preset}): {result.reps} reps, "
        f"{result.partial_reps} partial — green rep, orange partial, grey rejected"
    )
    ax.legend(loc="lower left", fontsize=8, ncol=4)
    fig.subplots_adjust(left=0.06, right=0.9, top=0.9, bottom=0.12)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
