"""IEMOCAP's standard protocol end to end on the synthetic stand-in: prepare (4 classes), leave one
session out (5 folds of the 2 actors of a session, inner validation from the training sessions), a
tiny training on 2 folds, a report with WA (accuracy) and UA (UAR) per fold and mean +- std, in the
run's own 4 class names, which the checkpoints record for `predict`."""

import json

import pytest

from avemotion.config import PreprocessConfig
from avemotion.data.synth import IemocapSynthOptions, synth_iemocap

LABELS = ["neutral", "happy", "sad", "angry"]


@pytest.fixture(scope="module")
def iemocap_run(tmp_path_factory):
    from avemotion.data.prepare import prepare
    from avemotion.training import train

    root = tmp_path_factory.mktemp("iemocap_release")
    synth_iemocap(root, IemocapSynthOptions(sessions=5, utterances=5))
    report = prepare(root, tmp_path_factory.mktemp("iemocap_cache"), PreprocessConfig(num_frames=8, frame_size=48, detector="haar"),
                     workers=1)
    assert not report.failed, report.failed
    out = tmp_path_factory.mktemp("iemocap_run")
    run = train("video", report.cache, out, preset="small", folds=[0, 1], n_folds=5, n_val=2, epochs=2,
                log=lambda *a, **k: None)
    return report, run, out


def test_folds_leave_one_session_out(iemocap_run):
    report, _, out = iemocap_run
    # 25 utterances cycling through neu hap exc sad ang fru xxx: fru and xxx left out
    assert report.cached == 19
    run = json.loads((out / "run.json").read_text())
    sessions = [tuple(f["test"]) for f in run["folds"]]
    assert sessions == [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)]  # Ses01F+Ses01M, ...: one session each
    for f in run["folds"]:
        assert not set(f["val"]) & set(f["test"]) and len(f["val"]) == 2
        genders = {a % 2 for a in f["val"]}  # odd ids are the female actors (Ses0NF)
        assert genders == {0, 1}


def test_report_has_wa_and_ua_per_fold_and_mean_std_in_the_runs_class_names(iemocap_run):
    _, report, out = iemocap_run
    video = report["models"]["video"]
    assert sorted(video["folds"]) == ["0", "1"]
    for row in video["folds"].values():
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["uar"] <= 1  # WA, UA
        assert list(row["per_class_recall"]) == LABELS and len(row["confusion"]) == 4
    assert video["mean_std"]["accuracy"]["n"] == 2 and video["mean_std"]["uar"]["n"] == 2
    assert video["labels"] == LABELS
    assert json.loads((out / "confusion.json").read_text())["classes"] == LABELS
    assert all(name in (out / "report.md").read_text() for name in LABELS)


def test_checkpoints_have_four_outputs_and_record_the_names(iemocap_run):
    from avemotion.inference.recognizer import Recognizer
    from avemotion.models.checkpoint import load_checkpoint

    _, _, out = iemocap_run
    model, meta = load_checkpoint(out / "fold_0" / "video" / "best")
    assert model.num_classes == 4 and meta["labels"] == LABELS
    recognizer = Recognizer.from_run(out, fold=0)
    assert list(recognizer.labels) == LABELS
