"""A run folder is relocatable: paths are recorded relative to it, and `evaluate` writes only into
the run folder it is given (issue: `evaluate` on a copy rewrote the original's metrics.json)."""

import json
import logging
import shutil

from avemotion.evaluation.rescore import evaluate_run
from avemotion.run_layout import RunLayout


def _metrics_bytes(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("metrics.json"))}


def test_evaluate_on_a_copy_rewrites_the_copy_and_never_the_original(speech_run, speech_subset_prepared, tmp_path):
    _, original = speech_run
    _, cache = speech_subset_prepared
    before = _metrics_bytes(original)
    copy = shutil.copytree(original, tmp_path / "copy")
    assert json.loads((copy / "run.json").read_text())["unimodal_dir"] == "."
    evaluate_run(copy, cache.path)
    assert _metrics_bytes(original) == before  # not one byte of the original changed
    rescored = [json.loads(b) for b in _metrics_bytes(copy).values()]
    assert rescored and all(doc.get("rescored") for doc in rescored)


def test_evaluate_never_writes_into_a_shared_unimodal_folder(speech_run, speech_subset_prepared, tmp_path, caplog):
    """A run whose audio stages live in a folder shared with other runs (--unimodal-dir): the run
    reads them there, and `evaluate` leaves them as they are."""
    _, original = speech_run
    _, cache = speech_subset_prepared
    shared = tmp_path / "shared_unimodal"
    run = tmp_path / "runs" / "mine"
    run.mkdir(parents=True)
    for fold in original.glob("fold_*"):
        shutil.copytree(fold, shared / fold.name)
    shutil.copytree(original / "folds", run / "folds")
    doc = json.loads((original / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(dict(doc, unimodal_dir="../../shared_unimodal")))
    assert RunLayout.read(run).unimodal_root == run / "../../shared_unimodal"
    before = _metrics_bytes(shared)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="avemotion"):
        report = evaluate_run(run, cache.path)
    said = [r.getMessage() for r in caplog.records if r.name.startswith("avemotion")]
    assert _metrics_bytes(shared) == before
    assert said and all("outside the run folder" in line for line in said)
    assert report["models"]["audio"]["n_clips"] > 0  # the report still reads the shared stages
