"""Training curves and confusion-matrix figures (matplotlib, Agg, written atomically)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from portfolio_ml_core.fsutil import atomic_path

if TYPE_CHECKING:
    from portfolio_ml_cifar.history import EpochRecord


def _figure(*args: Any, **kwargs: Any) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_curves(history: Sequence[EpochRecord], path: Path) -> None:
    fig, (ax_loss, ax_acc) = _figure(1, 2, figsize=(10, 4))
    epochs = [r.epoch for r in history]
    ax_loss.plot(epochs, [r.train_loss for r in history], "o-", label="train")
    ax_loss.plot(epochs, [r.test_loss for r in history], "o-", label="test")
    ax_loss.set(xlabel="epoch", ylabel="loss (label-smoothed)", title="Loss")
    ax_acc.plot(epochs, [r.train_accuracy for r in history], "o-", label="train (augmented)")
    ax_acc.plot(epochs, [r.test_accuracy for r in history], "o-", label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=(0, 1))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path)


def plot_confusion(confusion: np.ndarray, class_names: Sequence[str], path: Path) -> None:
    fig, ax = _figure(figsize=(7, 6))
    totals = confusion.sum(axis=1, keepdims=True)
    rates = np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix (row-normalised)")
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            ax.text(
                j,
                i,
                str(confusion[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    fig.colorbar(image, ax=ax, fraction=0.046)
    _save(fig, path)
