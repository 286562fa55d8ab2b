"""`evaluate RUN --corpus CACHE`: a run trained on one corpus scores another on the class names
they share: an IEMOCAP-layout run (4 classes) on a RAVDESS-layout cache (8) and the reverse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from avemotion import EMOTIONS
from avemotion.cli.main import app
from avemotion.data.cache import open_cache
from avemotion.errors import ConfigError
from avemotion.evaluation.cross import score_run_on

IEMOCAP = ["neutral", "happy", "sad", "angry"]


@pytest.fixture(scope="module")
def iemocap_cache(tmp_path_factory, small_config):
    from avemotion.data.prepare import prepare
    from avemotion.data.synth import IemocapSynthOptions, synth_iemocap

    root = tmp_path_factory.mktemp("iemocap_release")
    synth_iemocap(root, IemocapSynthOptions(sessions=5, utterances=5))
    report = prepare(root, tmp_path_factory.mktemp("iemocap_cache"), small_config, workers=1)
    assert not report.failed, report.failed
    return open_cache(report.cache)


@pytest.fixture(scope="module")
def iemocap_run(iemocap_cache, tmp_path_factory):
    from avemotion.training import train

    out = tmp_path_factory.mktemp("iemocap_run")
    train("audio", iemocap_cache.path, out, preset="small", folds=[0, 1], epochs=2)
    return out


@pytest.fixture(scope="module")
def ravdess_run(prepared_cache, tmp_path_factory):
    from avemotion.training import train

    out = tmp_path_factory.mktemp("ravdess_run")
    train("audio", prepared_cache.path, out, preset="small", folds=[0], n_val=1, epochs=2)
    return out


def test_a_4_class_run_scores_the_shared_classes_of_an_8_class_corpus(iemocap_run, prepared_cache):
    report = score_run_on(iemocap_run, prepared_cache.path)
    audio = report["models"]["audio"]
    assert audio["labels"] == IEMOCAP and audio["model_labels"] == IEMOCAP
    names = [prepared_cache.labels[r["label"]] for r in prepared_cache.records()]
    assert audio["left_out"] == {n: names.count(n) for n in ("calm", "fearful", "disgust", "surprised")}
    assert sorted(audio["folds"]) == ["0", "1"]
    for row in audio["folds"].values():
        assert row["n"] == sum(names.count(n) for n in IEMOCAP) and list(row["per_class_recall"]) == IEMOCAP
        assert row["outside"] == 0  # the model has no class the corpus lacks
    assert audio["mean_std"]["accuracy"]["n"] == 2
    written = json.loads((Path(report["written"]) / "report.json").read_text())
    assert Path(report["written"]).parent == iemocap_run / "cross" and report["seen_left_out"] == 0
    assert written["models"]["audio"]["folds"] == json.loads(json.dumps(audio["folds"]))


def test_an_8_class_run_chooses_among_the_shared_classes_of_a_4_class_corpus(ravdess_run, iemocap_cache):
    from avemotion.evaluation.scoring import cached_clip_loader, predict_cached
    from avemotion.models.checkpoint import load_checkpoint

    report = score_run_on(ravdess_run, iemocap_cache.path)
    audio = report["models"]["audio"]
    assert audio["labels"] == IEMOCAP and audio["model_labels"] == list(EMOTIONS) and audio["left_out"] == {}
    # the same checkpoint's unrestricted probabilities: the choice is their argmax over the 4 shared
    model, _ = load_checkpoint(ravdess_run / "fold_0" / "audio" / "best")
    rows = predict_cached(model, cached_clip_loader(iemocap_cache, iemocap_cache.clip_ids(), 8, video=False))
    shared = [EMOTIONS.index(n) for n in IEMOCAP]
    expected = [IEMOCAP[int(torch.tensor([r["probs"][i] for i in shared]).argmax())] for r in rows]
    truth = [iemocap_cache.labels[r["label"]] for r in rows]
    accuracy = sum(e == t for e, t in zip(expected, truth)) / len(rows)
    assert audio["folds"]["0"]["accuracy"] == pytest.approx(accuracy)
    assert audio["folds"]["0"]["outside"] == sum(EMOTIONS[r["pred"]] not in IEMOCAP for r in rows)


def test_a_run_is_not_cross_scored_on_its_own_corpus(iemocap_run, iemocap_cache):
    with pytest.raises(ConfigError, match="every clip is one of the run's own"):
        score_run_on(iemocap_run, iemocap_cache.path)


def test_cli_evaluate_corpus_prints_the_shared_classes_and_what_was_left_out(iemocap_run, prepared_cache):
    result = CliRunner().invoke(app, ["evaluate", str(iemocap_run), "--corpus", str(prepared_cache.path)])
    assert result.exit_code == 0, result.output
    assert "Shared classes: neutral, happy, sad, angry" in result.output
    assert "clips left out (classes the model lacks): calm" in result.output


def test_cli_evaluate_with_data_and_corpus_is_one_line_exit_2(iemocap_run, prepared_cache, monkeypatch, capsys):
    import sys

    from avemotion.cli.main import run

    monkeypatch.setattr(sys, "argv", ["avemotion", "evaluate", str(iemocap_run), "--corpus", str(prepared_cache.path),
                                      "--data", str(prepared_cache.path)])
    with pytest.raises(SystemExit) as exit:
        run()
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "give one" in err and len(err.strip().splitlines()) == 1, err
