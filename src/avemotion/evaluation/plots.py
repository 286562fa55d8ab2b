"""Confusion matrix and training-curve figures (matplotlib, Agg: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from avemotion.utils.io import atomic_path  # noqa: E402


def plot_confusion(matrix: list[list[int]], classes: list[str], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    if matrix:
        rows = [sum(r) or 1 for r in matrix]
        norm = [[v / rows[i] for v in r] for i, r in enumerate(matrix)]
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i, r in enumerate(matrix):
            for j, v in enumerate(r):
                ax.text(j, i, str(v), ha="center", va="center", fontsize=8, color="white" if norm[i][j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def plot_curves(curves: dict[int, dict[int, dict]], path: Path, title: str) -> None:
    """curves: fold -> epoch -> {metric: value}; loss and accuracy panels, one line per fold."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for fold, epochs in sorted(curves.items()):
        xs = sorted(epochs)
        for ax, key, style in ((ax_loss, "train_loss", "-"), (ax_loss, "val_loss", "--"), (ax_acc, "train_acc", "-"), (ax_acc, "val_acc", "--")):
            pts = [(x, epochs[x][key]) for x in xs if key in epochs[x]]
            if pts:
                ax.plot(*zip(*pts), style, label=f"fold {fold} {key}")
    for ax, name in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.suptitle(title + " (val = selection split)", fontsize=10)
    _save(fig, path)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
