"""Timeline plot (PNG): stacked class probabilities over time with the top-class band above."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avemotion.inference.results import Prediction, Timeline
from avemotion.utils.io import atomic_path

COLORS = ("#9e9e9e", "#80cbc4", "#ffd54f", "#64b5f6", "#e57373", "#ba68c8", "#81c784", "#ffb74d")


def _color(label: int) -> str:
    return COLORS[label % len(COLORS)]


def plot_result(result: Prediction | Timeline, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(result, Timeline):
        fig = _timeline_figure(plt, result)
    else:
        fig = _clip_figure(plt, result)
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _timeline_figure(plt, timeline: Timeline):
    preds = timeline.final
    # each window's probabilities are drawn at its centre; the band shows each window's top class
    centres = np.array([(p.start + p.end) / 2 for p in preds])
    probs = np.stack([p.probs_array() for p in preds], axis=1)  # (C, W)
    fig, (band, ax) = plt.subplots(2, 1, figsize=(10, 4), sharex=True, gridspec_kw={"height_ratios": [1, 5]})
    names = list(preds[0].probabilities)  # the run's class names
    ax.stackplot(centres, probs, labels=names, colors=[_color(i) for i in range(len(names))])
    ax.set_xlim(0, max(timeline.duration, centres[-1]))
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    edges = np.concatenate([[0.0], (centres[1:] + centres[:-1]) / 2, [max(timeline.duration, centres[-1])]])
    for p, left, right in zip(preds, edges[:-1], edges[1:]):
        band.axvspan(left, right, color=_color(p.label))
    band.set_yticks([])
    smoothed = f", smoothed over {timeline.smooth}" if timeline.smoothed is not None else ""
    band.set_title(f"{Path(timeline.file or '').name}: top class per window{smoothed}", fontsize=10)
    return fig


def _clip_figure(plt, prediction: Prediction):
    fig, ax = plt.subplots(figsize=(6, 3))
    names = list(prediction.probabilities)
    ax.barh(names, prediction.probs_array(), color=[_color(i) for i in range(len(names))])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    ax.set_title(f"{Path(prediction.file or '').name}: {prediction.emotion} ({prediction.probability:.2f})", fontsize=10)
    return fig
