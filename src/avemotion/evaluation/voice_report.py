"""A voice model scored on a corpus, in or across corpora: the figures a practitioner needs before
trusting it on their own recordings (issue 23).

Scores are on the class names the model and corpus share (`shared`); the model's probabilities are
restricted to those classes and renormalised, so a class the corpus does not have cannot be right or
wrong. Reported: accuracy, UAR, macro-F1, the confusion matrix, the distribution of predicted classes
(a class taking more than COLLAPSE of the predictions is flagged: the failure mode of a model that
meets a corpus unlike its training corpora is to answer one class to everything), the expected
calibration error (ECE, 15 equal-width confidence bins), and the same figures per speaker.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COLLAPSE = 0.5
ECE_BINS = 15


def restrict(probs: np.ndarray, model_labels: Sequence[str], shared: Sequence[str]) -> np.ndarray:
    """Columns of `shared` (in that order) from probabilities over `model_labels`, renormalised."""
    cols = [list(model_labels).index(n) for n in shared]
    p = probs[:, cols]
    return p / p.sum(axis=1, keepdims=True).clip(1e-12)


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            ece += inside.mean() * abs(float((pred[inside] == y[inside]).mean()) - float(conf[inside].mean()))
    return float(ece)


def scores(y: np.ndarray, probs: np.ndarray, names: Sequence[str]) -> dict:
    """y: indices into `names` (the shared classes); probs (n, len(names))."""
    k = len(names)
    pred = probs.argmax(axis=1)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (y, pred), 1)
    present = confusion.sum(axis=1) > 0
    recall = np.divide(np.diag(confusion), confusion.sum(axis=1), out=np.zeros(k), where=present)
    precision = np.divide(np.diag(confusion), confusion.sum(axis=0), out=np.zeros(k), where=confusion.sum(axis=0) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    share = np.bincount(pred, minlength=k) / max(1, len(pred))
    top = int(share.argmax())
    return {
        "clips": int(len(y)),
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        "uar": float(recall[present].mean()) if present.any() else float("nan"),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "recall": {n: float(r) for n, r, p in zip(names, recall, present) if p},
        "predicted_share": {n: float(s) for n, s in zip(names, share)},
        "collapse": names[top] if share[top] > COLLAPSE else None,
        "ece": expected_calibration_error(probs, y) if len(y) else float("nan"),
        "confusion": confusion.tolist(),
    }


def corpus_report(y_names: Sequence[str], probs: np.ndarray, model_labels: Sequence[str], speakers: Sequence[str],
                  *, corpus: str, model: str) -> dict:
    """Scores on the shared classes, overall and per speaker. Utterances of classes the model does not
    know are left out and counted."""
    shared = [n for n in model_labels if n in set(y_names)]
    keep = np.array([n in shared for n in y_names])
    y = np.array([shared.index(n) for n, k in zip(y_names, keep) if k], dtype=np.int64)
    p = restrict(probs[keep], model_labels, shared)
    spk = np.array(speakers)[keep]
    left_out = {}
    for n, k in zip(y_names, keep):
        if not k:
            left_out[n] = left_out.get(n, 0) + 1
    return {
        "corpus": corpus, "model": model, "classes": shared, "left_out": left_out,
        "overall": scores(y, p, shared),
        "speakers": {s: _speaker(y[spk == s], p[spk == s], shared) for s in sorted(set(spk.tolist()))},
    }


def _speaker(y, p, names) -> dict:
    s = scores(y, p, names)
    return {key: s[key] for key in ("clips", "accuracy", "uar", "macro_f1", "collapse")}


def report_markdown(report: dict) -> str:
    o, names = report["overall"], report["classes"]
    lines = [f"### {report['model']} on {report['corpus']} ({o['clips']} utterances, {len(names)} shared classes)", "",
             f"UAR {100 * o['uar']:.1f} %, accuracy {100 * o['accuracy']:.1f} %, macro-F1 {100 * o['macro_f1']:.1f} %, "
             f"ECE {o['ece']:.3f}; chance UAR {100 / len(names):.1f} %.",
             f"**Collapse: {o['collapse']} takes more than {COLLAPSE:.0%} of the predictions.**" if o["collapse"]
             else f"No collapse (no class above {COLLAPSE:.0%} of the predictions).", ""]
    if report["left_out"]:
        lines += ["Left out (classes the model does not have): "
                  + ", ".join(f"{n} {c}" for n, c in sorted(report["left_out"].items())), ""]
    lines += ["| true \\ predicted | " + " | ".join(names) + " | recall |", "|---" * (len(names) + 2) + "|"]
    for n, row in zip(names, o["confusion"]):
        lines.append(f"| {n} | " + " | ".join(str(v) for v in row) + f" | {100 * o['recall'].get(n, float('nan')):.1f} % |")
    lines.append("| share of predictions | " + " | ".join(f"{100 * o['predicted_share'][n]:.0f} %" for n in names) + " | |")
    lines += ["", "| speaker | utterances | UAR | accuracy | collapse |", "|---|---:|---:|---:|---|"]
    for s, r in report["speakers"].items():
        lines.append(f"| {s} | {r['clips']} | {100 * r['uar']:.1f} % | {100 * r['accuracy']:.1f} % | {r['collapse'] or ''} |")
    return "\n".join(lines) + "\n"
