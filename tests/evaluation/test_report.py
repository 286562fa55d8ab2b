"""Reports from a hand-made run folder: tables, flags, figures; no training needed."""

import json

import pytest

from avemotion.evaluation.report import build_report, read_curves
from avemotion.utils.io import write_json


def _fake_stage(run, fold, stage, labels, preds, optimistic=False):
    from avemotion import EMOTIONS
    from avemotion.evaluation.metrics import score

    rows = [
        {"clip_id": f"{fold}-{i}", "label": y, "pred": p, "actor": 1 + fold * 2 + i % 2, "gender": "male" if i % 2 == 0 else "female", "intensity": 1 + i % 2}
        for i, (y, p) in enumerate(zip(labels, preds))
    ]
    path = run / f"fold_{fold}" / stage
    write_json(path / "metrics.json", {"fold": fold, "stage": stage, "epoch": 1, "selection": "test-legacy" if optimistic else "val",
                                       "optimistic": optimistic, "test_actors": [1 + fold * 2, 2 + fold * 2],
                                       "metrics": score(labels, preds, names=EMOTIONS), "predictions": rows})
    log = path / "logs" / "csv" / "version_0"
    log.mkdir(parents=True)
    (log / "metrics.csv").write_text("epoch,step,train_loss,val_acc\n0,3,2.0,\n0,3,,0.25\n1,7,1.5,\n1,7,,0.5\n")


@pytest.mark.parametrize("optimistic", [False, True])
def test_report_files_and_flag(tmp_path, optimistic):
    run = tmp_path / "run"
    write_json(run / "run.json", {"models": ["cfn_sr"], "folds": [{}, {}], "selection": "test-legacy" if optimistic else "val",
                                  "optimistic": optimistic, "preset": "small", "preprocess_hash": "abc", "unimodal_dir": str(run)})
    for fold in (0, 1):
        _fake_stage(run, fold, "cfn_sr", [0, 1, 2, 3], [0, 1, 2, 0 if fold else 3], optimistic)
        _fake_stage(run, fold, "video", [0, 1, 2, 3], [0, 1, 0, 0], optimistic)
    report = build_report(run)
    assert report["primary"] == "cfn_sr"
    acc = report["models"]["cfn_sr"]["mean_std"]["accuracy"]
    assert acc["mean"] == pytest.approx((1.0 + 0.75) / 2)
    assert set(report["models"]) == {"cfn_sr", "video"}
    assert report["comparison"]["reference"] == "cfn_sr"
    for name in ("report.md", "report.json", "confusion.png", "confusion.json", "curves.png"):
        assert (run / name).stat().st_size > 0, name
    md = (run / "report.md").read_text()
    saved = json.loads((run / "report.json").read_text())
    assert saved["optimistic"] is optimistic
    assert ("OPTIMISTIC" in md) is optimistic
    assert "87.50 ± 17.68" in md  # mean ± sample std of 100 and 75
    assert json.loads((run / "confusion.json").read_text())["models"]["cfn_sr"][3] == [1, 0, 0, 1, 0, 0, 0, 0]


def test_curves_merge_resumed_versions(tmp_path):
    for v, text in ((0, "epoch,step,train_loss\n0,1,2.0\n1,2,1.9\n"), (1, "epoch,step,train_loss\n1,2,1.5\n2,3,1.0\n")):
        d = tmp_path / "logs" / "csv" / f"version_{v}"
        d.mkdir(parents=True)
        (d / "metrics.csv").write_text(text)
    curves = read_curves(tmp_path)
    assert curves == {0: {"train_loss": 2.0}, 1: {"train_loss": 1.5}, 2: {"train_loss": 1.0}}
