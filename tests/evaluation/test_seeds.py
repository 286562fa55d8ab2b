"""Seed summaries (evaluation.seeds, docs/results.md's tables) from hand-made run folders of a
4-class corpus: they name the corpus's own classes (issue 22, defect 2) and read a moved run whole
(report.json records stage folders relative to the run: defect 5)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from avemotion.evaluation.metrics import score
from avemotion.evaluation.report import build_report
from avemotion.evaluation.seeds import summarize_seeds
from avemotion.utils.io import write_json

LABELS = ["neutral", "happy", "sad", "angry"]  # IEMOCAP's 4, not RAVDESS's 8


def fake_run(run, seed: int) -> None:
    """A finished 2-fold audio run of a 4-class corpus: run.json, metrics.json per fold, report."""
    write_json(run / "run.json", {
        "models": ["audio"], "folds": [{}, {}], "selection": "val", "seed": seed, "labels": LABELS,
        "training": {"lr": 1e-3, "seed": seed}, "preprocess_hash": "p", "dataset": "iemocap",
        "cache": str(run.parent / "no_cache_here"), "unimodal_dir": "."})
    for fold in (0, 1):
        labels = [i % 4 for i in range(12)]
        preds = [(y + (i + seed + fold) % 3 // 2) % 4 for i, y in enumerate(labels)]
        rows = [{"clip_id": f"{fold}-{i}", "label": y, "pred": p, "actor": 1 + fold, "gender": "male", "intensity": -1}
                for i, (y, p) in enumerate(zip(labels, preds))]
        write_json(run / f"fold_{fold}" / "audio" / "metrics.json", {
            "fold": fold, "stage": "audio", "epoch": 1, "selection": "val", "labels": LABELS,
            "selection_metrics": {"val_acc": 0.5}, "test_actors": [1 + fold],
            "metrics": score(labels, preds, names=LABELS), "predictions": rows})
    build_report(run)


@pytest.fixture
def runs(tmp_path):
    paths = [tmp_path / "runs" / f"seed{s}" for s in (0, 1)]
    for seed, path in enumerate(paths):
        fake_run(path, seed)
    return paths


def test_seed_summary_names_the_corpus_classes(runs):
    summary = summarize_seeds(runs, "audio")
    assert list(summary["per_class_recall"]) == LABELS
    assert len(summary["confusion"]) == len(LABELS)
    assert summary["labels"] == LABELS


def test_runs_of_other_class_names_are_not_summarised_together(runs):
    doc = json.loads((runs[1] / "run.json").read_text())
    (runs[1] / "run.json").write_text(json.dumps(dict(doc, labels=["a", "b", "c", "d"])))
    with pytest.raises(Exception, match="more than the seed"):
        summarize_seeds(runs, "audio")


def test_a_moved_run_is_read_whole(tmp_path, monkeypatch):
    """report.json records stage folders relative to the run, whatever form the run folder was given in."""
    monkeypatch.chdir(tmp_path)
    first = tmp_path / "here" / "seed0"
    fake_run(first.relative_to(tmp_path), 0)  # given relative to the working folder
    (tmp_path / "elsewhere").mkdir()
    moved = shutil.move(first, tmp_path / "elsewhere" / "seed0")
    report = json.loads((moved / "report.json").read_text())
    stages = report["models"]["audio"]["stage_dirs"]
    assert stages and all(not os.path.isabs(p) for p in stages.values())
    assert all((moved / p / "metrics.json").is_file() for p in stages.values())
    summary = summarize_seeds([moved], "audio")
    assert summary["n_predictions"] == 24
