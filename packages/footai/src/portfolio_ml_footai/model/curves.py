"""Training curves (loss parts and valid loss per epoch) as one PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from portfolio_ml_core.fsutil import atomic_path


def write_curves(history: Sequence[Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    epochs = [r.epoch for r in history]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for name in ("loss", "person", "ball", "keypoints", "valid_loss"):
        ax.plot(epochs, [getattr(r, name) for r in history], label=name.replace("_", " "))
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
