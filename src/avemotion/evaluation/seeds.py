"""Several runs of one model that differ only by seed: mean +- std over seeds, beside over folds.

    summary = summarize_seeds([run_s0, run_s1, run_s2], model="audio")

Each run's report.json (evaluation.report.build_report) gives its per-fold scores; the spread over
seeds is the std of the seeds' fold means, the spread over folds the mean of their fold stds. The
per-fold predictions (metrics.json of each scored stage) are pooled for per-class recall, the
confusion matrix and the slices, with the corpus's `statement` read from the run's cache.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from avemotion.errors import ConfigError
from avemotion.evaluation.metrics import mean_std, score, slices
from avemotion.registries import selection as selection_rules
from avemotion.run_layout import read_run_folder, scored_stage
from avemotion.utils.io import read_json

METRICS = ("accuracy", "uar", "macro_f1")
# The settings of a run that are no learning settings (run.json "scopes": "check", what the preset
# requires of the cache's frames); runs from before run.json recorded its scopes hold these, some
# under their names before a rename.
OLD_CHECKS = ("frames", "frame_size", "required_frames", "required_frame_size", "max_frames", "max_frame_size")


def summarize_seeds(run_dirs: list[str | Path], model: str, scored: str = "selected") -> dict:
    """`scored`: "selected" (each stage's scored checkpoint: the run's selection rule, or its refit)
    or "last_epoch" (the final epoch's weights, recorded by every stage beside them)."""
    runs = [_run(Path(d), model, scored) for d in run_dirs]
    settings = {r["settings"] for r in runs}
    if len(settings) != 1:
        raise ConfigError(f"runs differ in more than the seed ({len(settings)} settings); summarise like with like")
    labels = runs[0]["labels"]  # equal in every run: they are part of the settings compared
    folds = sorted({k for r in runs for k in r["folds"]}, key=int)
    preds = [p for r in runs for p in r["predictions"]]
    pooled = score([p["label"] for p in preds], [p["pred"] for p in preds], names=labels)
    return {
        "model": model,
        "labels": list(labels),
        "scored": scored,
        "runs": [str(r["path"]) for r in runs],
        "seeds": [r["seed"] for r in runs],
        "label": runs[0]["label"],
        "train": runs[0]["train"],
        "over_seeds": {m: mean_std([r["mean"][m] for r in runs]) for m in METRICS},
        "over_folds": {m: float(np.mean([r["std"][m] for r in runs])) for m in METRICS},
        "per_fold": {k: {m: mean_std([r["folds"][k][m] for r in runs if k in r["folds"]]) for m in METRICS}
                     for k in folds},
        "per_seed": {r["seed"]: {m: r["mean"][m] for m in METRICS} for r in runs},
        "n_folds_per_seed": [len(r["folds"]) for r in runs],
        "epochs": {k: [r["folds"][k]["epoch"] for r in runs if k in r["folds"]] for k in folds},
        "per_class_recall": pooled["per_class_recall"],
        "confusion": pooled["confusion"],
        "slices": slices(preds, names=labels),
        "n_predictions": len(preds),
        # accuracy on the inner validation actors at the selected epochs (None unless every fold
        # was selected on them): what choices between recipes may be made on, never the test figures
        "validation": mean_std([r["validation"] for r in runs]) if all(r["validation"] is not None for r in runs) else None,
    }


def _run(path: Path, model: str, scored: str) -> dict:
    layout, run = read_run_folder(path)
    report = read_json(path / "report.json")
    entry = report["models"].get(model)
    if entry is None:
        raise ConfigError(f"{path}: no results for model {model!r} in report.json")
    statements = _statements(run.cache)
    stage = scored_stage(model, run.refit)
    folds, preds, train, val = {}, [], {}, []
    for k in entry["folds"]:
        doc = layout.read_result(int(k), stage)
        val.append((doc.selection_metrics or {}).get("val_acc") if selection_rules.selected_on_validation(doc.selection) else None)
        part = doc.part(scored)
        folds[str(k)] = dict(part["metrics"], epoch=part["epoch"])
        train[str(k)] = (len(doc.train_actors or ()), doc.train_clips)
        preds += [dict(p, statement=statements.get(p["clip_id"])) for p in part["predictions"]]
    stats = {m: mean_std([f[m] for f in folds.values()]) for m in METRICS}
    # what the preset requires of the cache's frames is no learning setting (the preprocessing hash
    # says what the cache holds): run.json's scopes say which settings those are
    ignored = {"seed", *run.scopes.get("check", OLD_CHECKS)}
    training = {k: v for k, v in run.training.items() if k not in ignored}
    training["preprocess_hash"] = run.preprocess_hash
    labels = run.class_names  # the corpus's class names (RAVDESS's 8 for runs that did not record them)
    training["labels"] = list(labels)
    return {
        "path": path, "seed": run.seed, "label": report.get("label"), "labels": labels,
        "settings": repr(sorted(training.items())), "folds": folds,
        "mean": {m: stats[m]["mean"] for m in METRICS}, "std": {m: stats[m]["std"] for m in METRICS},
        "train": train, "predictions": preds,
        "validation": float(np.mean(val)) if val and None not in val and scored == "selected" else None,
    }


@functools.lru_cache(maxsize=8)
def _statements(cache_path: str | None) -> dict[str, object]:
    """clip_id -> statement from a run's cache (empty when the cache has moved); read once per
    cache, not once per run (every seed and rule of a table shares it)."""
    from avemotion.data.cache import open_cache

    if cache_path is None:
        return {}
    try:
        cache = open_cache(cache_path)
    except ConfigError:
        return {}
    return {r["clip_id"]: r.get("statement") for r in cache.records()}
