"""Scores computed from per-clip predictions (the one source of truth kept in metrics.json).

Everything here works on plain lists of prediction dicts, `{"clip_id", "label", "pred", "actor",
"gender", "intensity", ...}`, so a report can be rebuilt from a finished run without a model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_recall,
)

SCALAR_METRICS = ("accuracy", "uar", "macro_f1")


def score(labels: Sequence[int], preds: Sequence[int], *, names: Sequence[str]) -> dict:
    """Accuracy, UAR (macro recall), macro-F1, per-class recall and the confusion matrix.

    `names`: the class names in label order (the run's: a cache records them); they give the
    number of classes and name the per-class recalls. Required: no corpus is assumed.

    Classes absent from `labels` get recall None (not 0) and do not enter UAR, so a subset of the
    corpus without some class is not penalised for it.
    """
    num_classes = len(names)
    target = torch.as_tensor(list(labels), dtype=torch.long)
    pred = torch.as_tensor(list(preds), dtype=torch.long)
    if target.numel() == 0:
        return {"n": 0, **{m: None for m in SCALAR_METRICS}, "per_class_recall": {}, "confusion": []}
    args = dict(num_classes=num_classes)
    support = torch.bincount(target, minlength=num_classes)
    recall = multiclass_recall(pred, target, average="none", **args)
    present = support > 0
    per_class = {name: (float(recall[i]) if present[i] else None) for i, name in enumerate(names)}
    return {
        "n": int(target.numel()),
        "accuracy": float(multiclass_accuracy(pred, target, average="micro", **args)),
        "uar": float(recall[present].mean()),
        "macro_f1": float(multiclass_f1_score(pred, target, average="macro", **args)),
        "per_class_recall": per_class,
        "confusion": multiclass_confusion_matrix(pred, target, **args).tolist(),
    }


def score_predictions(predictions: list[dict], *, names: Sequence[str]) -> dict:
    return score([p["label"] for p in predictions], [p["pred"] for p in predictions], names=names)


def slices(predictions: list[dict], *, names: Sequence[str]) -> dict:
    """Accuracy and UAR per actor, gender, intensity and (where predictions carry it) statement;
    -1/None = unknown, left out."""
    out = {}
    for key in ("actor", "gender", "intensity", "statement"):
        groups: dict[str, list[dict]] = {}
        for p in predictions:
            value = p.get(key)
            if value is None or value == -1:
                continue
            groups.setdefault(str(value), []).append(p)
        if groups or key != "statement":
            out[key] = {
                name: _slice_scores(group, names) for name, group in sorted(groups.items(), key=_natural)
            }
    return out


def _natural(item):
    name = item[0]
    return (0, int(name), "") if name.lstrip("-").isdigit() else (1, 0, name)


def _slice_scores(group: list[dict], names: Sequence[str]) -> dict:
    s = score_predictions(group, names=names)
    return {"n": s["n"], "accuracy": s["accuracy"], "uar": s["uar"]}


def mean_std(values: Sequence[float | None]) -> dict:
    """Mean and sample standard deviation (ddof=1; 0 for a single value) over folds."""
    vals = [float(v) for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return {"mean": None, "std": None, "n": 0}
    mean = sum(vals) / len(vals)
    var = sum((v - mean) ** 2 for v in vals) / (len(vals) - 1) if len(vals) > 1 else 0.0
    return {"mean": mean, "std": math.sqrt(var), "n": len(vals)}


def aggregate_folds(fold_scores: dict[int, dict]) -> dict:
    """Mean ± std of the scalar metrics and of each class's recall over folds."""
    folds = [fold_scores[k] for k in sorted(fold_scores)]
    out = {m: mean_std([f[m] for f in folds]) for m in SCALAR_METRICS}
    names = list(folds[0]["per_class_recall"]) if folds else []
    out["per_class_recall"] = {c: mean_std([f["per_class_recall"].get(c) for f in folds]) for c in names}
    return out


def pooled_confusion(fold_scores: dict[int, dict]) -> list[list[int]]:
    """Confusion matrix summed over folds (every clip counted once: the test folds partition the corpus)."""
    total = None
    for k in sorted(fold_scores):
        m = torch.tensor(fold_scores[k]["confusion"])
        total = m if total is None else total + m
    return [] if total is None else total.tolist()


def paired_comparison(per_fold: dict[int, float], reference: dict[int, float]) -> dict:
    """Per-fold differences (model - reference) on the folds both have, with two paired tests.

    With 6 folds the exact two-sided Wilcoxon signed-rank test cannot go below p = 0.031, and a
    paired t-test assumes normal differences: both have low power, so read them as a sanity check.
    """
    folds = sorted(set(per_fold) & set(reference))
    diffs = [per_fold[k] - reference[k] for k in folds]
    out = {"folds": folds, "differences": diffs, "difference": mean_std(diffs)}
    out.update(_paired_tests(diffs))
    return out


def _paired_tests(diffs: list[float]) -> dict:
    result = {"wilcoxon_p": None, "ttest_p": None, "note": None}
    if len(diffs) < 2 or all(d == 0 for d in diffs):
        result["note"] = "fewer than 2 folds or identical scores: no test"
        return result
    try:
        from scipy import stats
    except ImportError:  # scipy arrives with librosa, but keep reports working without it
        result["note"] = "scipy not installed: no test"
        return result
    result["wilcoxon_p"] = float(stats.wilcoxon(diffs).pvalue)
    if len(set(diffs)) > 1:
        result["ttest_p"] = float(stats.ttest_1samp(diffs, 0.0).pvalue)
    result["note"] = f"{len(diffs)} folds: low power (exact Wilcoxon p >= {2 / 2 ** len(diffs):.3f})"
    return result
