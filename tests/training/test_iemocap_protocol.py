"""IEMOCAP's standard protocol end to end on the synthetic stand-in: prepare (4 classes), leave one
session out (5 folds of the 2 actors of a session, inner validation from the training sessions:
the corpus's protocol, taken without --n-folds / --n-val), CFN-SR and TACFN trained on every fold
(two-stage, tiny), a report with WA (accuracy) and UA (UAR) per fold and mean +- std, in the run's
own 4 class names and speaker names, which the checkpoints record for `predict`."""

import json
import logging

import pytest

from avemotion.config import PreprocessConfig
from avemotion.data.synth import IemocapSynthOptions, synth_iemocap

LABELS = ["neutral", "happy", "sad", "angry"]


@pytest.fixture(scope="module")
def iemocap_run(tmp_path_factory):
    from avemotion.data.prepare import prepare
    from avemotion.training import train_many

    root = tmp_path_factory.mktemp("iemocap_release")
    synth_iemocap(root, IemocapSynthOptions(sessions=5, utterances=5))
    report = prepare(root, tmp_path_factory.mktemp("iemocap_cache"), PreprocessConfig(num_frames=8, frame_size=48, detector="haar"),
                     workers=1)
    assert not report.failed, report.failed
    out = tmp_path_factory.mktemp("iemocap_run")
    said = Said()  # a module fixture: no caplog
    with said:
        run = train_many(["cfn_sr", "tacfn"], report.cache, out, preset="small", epochs=2, unimodal_epochs=2)
    return report, run, out, said.lines


class Said(logging.Handler):
    """The avemotion lines said within the block."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def __enter__(self):
        logger = logging.getLogger("avemotion")
        self.level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)

    def __exit__(self, *exc):
        logger = logging.getLogger("avemotion")
        logger.removeHandler(self)
        logger.setLevel(self.level)


def test_folds_leave_one_session_out(iemocap_run):
    report, _, out, said = iemocap_run
    # 25 utterances cycling through neu hap exc sad ang fru xxx: fru and xxx left out
    assert report.cached == 19
    run = json.loads((out / "run.json").read_text())
    sessions = [tuple(f["test"]) for f in run["folds"]]
    assert sessions == [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)]  # Ses01F+Ses01M, ...: one session each
    for f in run["folds"]:
        assert not set(f["val"]) & set(f["test"]) and len(f["val"]) == 2
        genders = {a % 2 for a in f["val"]}  # odd ids are the female actors (Ses0NF)
        assert genders == {0, 1}


    assert any("leave one session out" in line for line in said)  # the corpus's protocol, said once


def test_explicit_fold_options_override_the_corpus_protocol(iemocap_run):
    from avemotion.training.api import corpus_folds

    report = iemocap_run[0]
    assert corpus_folds(report.cache, {}) == {"n_folds": 5, "n_val": 2}
    assert corpus_folds(report.cache, {"n_folds": 10, "n_val": None}) == {"n_val": 2}


@pytest.mark.parametrize("model", ["cfn_sr", "tacfn"])
def test_report_has_wa_and_ua_per_fold_and_mean_std_in_the_runs_class_names(iemocap_run, model):
    _, report, out, _ = iemocap_run
    scores = report["models"][model]
    assert sorted(scores["folds"]) == ["0", "1", "2", "3", "4"]
    for k, row in scores["folds"].items():
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["uar"] <= 1  # WA, UA
        assert list(row["per_class_recall"]) == LABELS and len(row["confusion"]) == 4
        session = int(k) + 1
        assert row["test_speakers"] == [f"Ses{session:02d}F", f"Ses{session:02d}M"]
    assert scores["mean_std"]["accuracy"]["n"] == 5 and scores["mean_std"]["uar"]["n"] == 5
    assert scores["labels"] == LABELS
    assert set(scores["slices"]["actor"]) <= {f"Ses{s:02d}{g}" for s in range(1, 6) for g in "FM"}
    assert scores["paper"]["accuracy"] is None and report["paper_train"] is None  # RAVDESS figures: not here
    assert json.loads((out / "confusion.json").read_text())["classes"] == LABELS
    text = (out / "report.md").read_text()
    assert all(name in text for name in LABELS) and "Ses03F, Ses03M" in text and "1200" not in text


def test_run_json_records_the_corpus_names_and_face_sources(iemocap_run):
    report, _, out, _ = iemocap_run
    run = json.loads((out / "run.json").read_text())
    assert run["labels"] == LABELS and run["dataset"] == "iemocap"
    assert run["speakers"]["1"] == "Ses01F" and run["speakers"]["10"] == "Ses05M"
    assert run["face_sources"] == {"detector": report.cached}


@pytest.mark.parametrize("model", ["cfn_sr", "tacfn", "video", "audio"])
def test_checkpoints_have_four_outputs_and_record_the_names(iemocap_run, model):
    from avemotion.inference.recognizer import Recognizer
    from avemotion.models.checkpoint import load_checkpoint

    _, _, out, _ = iemocap_run
    net, meta = load_checkpoint(out / "fold_0" / model / "best")
    assert net.num_classes == 4 and meta["labels"] == LABELS
    if model in ("cfn_sr", "tacfn"):
        recognizer = Recognizer.from_run(out, fold=0, model=model)
        assert list(recognizer.labels) == LABELS
