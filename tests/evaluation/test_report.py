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
    curves = read_curves(tmp_path / "logs" / "csv")
    assert curves == {0: {"train_loss": 2.0}, 1: {"train_loss": 1.5}, 2: {"train_loss": 1.0}}


def _run_on(tmp_path, name, dataset, actors, n_folds):
    """A hand-made run of cfn_sr + video (folds 0 and 1 scored) over `actors` in `n_folds` folds."""
    run = tmp_path / name
    per = actors // n_folds
    folds = [{"test": list(range(1 + k * per, 1 + (k + 1) * per)), "val": [], "train": []} for k in range(n_folds)]
    write_json(run / "run.json", {"models": ["cfn_sr"], "folds": folds, "selection": "val", "optimistic": False,
                                  "preset": "paper", "preprocess_hash": "abc", "unimodal_dir": str(run), "dataset": dataset})
    for fold in (0, 1):
        _fake_stage(run, fold, "cfn_sr", [0, 1, 2, 3], [0, 1, 2, 3])
        _fake_stage(run, fold, "video", [0, 1, 2, 3], [0, 1, 0, 0])
    return build_report(run)


def _console(report, capsys, monkeypatch) -> str:
    from avemotion.cli.train import _print_report

    monkeypatch.setenv("COLUMNS", "200")  # no header wrapped
    _print_report(report)
    return capsys.readouterr().out


def test_paper_figures_only_beside_ravdess_at_the_papers_protocol(tmp_path, capsys, monkeypatch):
    """The paper's accuracy (CFN-SR 75.76) stands beside a run's only on RAVDESS's 24 actors in 6
    folds (evaluation.report.on_paper_corpus, the one rule): the console summary (train/evaluate/
    reproduce) and report.md follow it. The synthetic corpus is RAVDESS-layout (dataset ravdess) but
    8 actors in 4 folds: no paper column, no paper tables, no paper training sizes."""
    paper = _run_on(tmp_path, "ravdess", "ravdess", actors=24, n_folds=6)
    assert paper["paper_train"] is not None and paper["models"]["cfn_sr"]["paper"]["accuracy"] == 75.76
    out = _console(paper, capsys, monkeypatch)
    assert "paper %" in out and "75.76" in out and "paper: 20, 1200" in out
    md = (tmp_path / "ravdess" / "report.md").read_text()
    assert "Paper Table 1" in md and "75.76" in md and "paper 20 / 1200" in md

    for name, dataset, actors, n_folds in (("synth", "ravdess", 8, 4), ("iemocap", "iemocap", 10, 5),
                                           ("ravdess_4_folds", "ravdess", 24, 4)):
        report = _run_on(tmp_path, name, dataset, actors, n_folds)
        assert report["paper_train"] is None and report["models"]["cfn_sr"]["paper"]["accuracy"] is None
        out = _console(report, capsys, monkeypatch)
        assert "paper" not in out.split("report:")[0] and "75.76" not in out, name
        assert "100.00" in out  # the run's own figures are there
        md = (tmp_path / name / "report.md").read_text()
        assert "Paper Table" not in md and "75.76" not in md and "24 actors in 6 folds, and are not shown" in md
