"""Label spaces belong to the corpus: recorded by the cache, used by scoring across corpora."""

import json

import pytest

from avemotion import EMOTIONS
from avemotion.config import PreprocessConfig
from avemotion.data.cache import ClipCache, open_cache
from avemotion.data.labels import check_labels, label_map, parse_labels, recorded_labels
from avemotion.errors import ConfigError

CREMA = ("neutral", "happy", "sad", "angry", "fearful", "disgust")
IEMOCAP = ("neutral", "happy", "sad", "angry")
CFG = PreprocessConfig(num_frames=4, frame_size=32)


def test_label_map_matches_classes_by_name():
    assert label_map(CREMA, EMOTIONS) == [0, 2, 3, 4, 5, 6]
    assert label_map(IEMOCAP, EMOTIONS) == [0, 2, 3, 4]
    with pytest.raises(ConfigError, match="fearful, disgust of the corpus are not among the model's"):
        label_map(CREMA, IEMOCAP)


def test_label_lists_are_checked():
    assert parse_labels(" neu, hap ,sad") == ("neu", "hap", "sad")
    for bad, words in ((["a", "a"], "repeated: a"), (["a", ""], "empty"), (["a"], "at least 2")):
        with pytest.raises(ConfigError, match=words):
            check_labels(bad)


def test_a_cache_without_recorded_labels_holds_ravdess_8(tmp_path):
    cache = ClipCache.create(tmp_path, CFG)  # as before label spaces were recorded
    assert "labels" not in json.loads((cache.path / "config.json").read_text())
    assert open_cache(cache.path).labels == EMOTIONS == recorded_labels({})


def test_cache_records_the_corpus_labels_and_refuses_another_label_space(tmp_path):
    cache = ClipCache.create(tmp_path, CFG, labels=CREMA, speakers={1: "ann"})
    again = open_cache(cache.path)
    assert again.labels == CREMA and again.speakers == {1: "ann"}
    # the same classes again (a second prepare, more speakers) is fine and merges the names
    ClipCache.create(tmp_path, CFG, labels=CREMA, speakers={2: "bob"})
    assert open_cache(cache.path).speakers == {1: "ann", 2: "bob"}
    with pytest.raises(ConfigError, match="holds clips of the classes neutral, happy, sad, angry, fearful, disgust"):
        ClipCache.create(tmp_path, CFG, labels=IEMOCAP)
    with pytest.raises(ConfigError, match="actor id 1 is speaker 'ann'"):
        ClipCache.create(tmp_path, CFG, labels=CREMA, speakers={1: "zoe"})
    # the settings hash is unchanged by the recorded names: old runs and checkpoints still match
    assert open_cache(cache.path).config.hash() == CFG.hash()


def test_an_old_cache_with_clips_refuses_a_corpus_of_other_classes(prepared_cache, tmp_path):
    import shutil

    old = tmp_path / prepared_cache.path.name
    shutil.copytree(prepared_cache.path, old)
    meta = json.loads((old / "config.json").read_text())
    meta.pop("labels", None)  # prepared before the names were recorded
    (old / "config.json").write_text(json.dumps(meta))
    cfg = open_cache(old).config
    assert ClipCache.create(tmp_path, cfg, labels=EMOTIONS).labels == EMOTIONS  # RAVDESS again: fine
    with pytest.raises(ConfigError, match="labelled with RAVDESS's 8 classes"):
        ClipCache.create(tmp_path, cfg, labels=CREMA)


@pytest.fixture(scope="module")
def crema_cache(crema_dir, tmp_path_factory):
    from avemotion.data.prepare import prepare

    report = prepare(crema_dir, tmp_path_factory.mktemp("crema"), PreprocessConfig(num_frames=4, frame_size=32,
                                                                                   short_clip="pad"), workers=1)
    assert not report.failed, report.failed
    return open_cache(report.cache)


def test_crema_d_keeps_its_six_classes(crema_cache):
    assert crema_cache.labels == CREMA
    assert {r["clip_id"]: (r["label"], r["emotion"]) for r in crema_cache.records()} == {
        "1001_DFA_ANG_XX": (3, "angry"), "1001_DFA_HAP_XX": (1, "happy"), "1001_DFA_NEU_XX": (0, "neutral")}


def _checkpoint(tmp_path, labels, cfg):
    import torch

    from avemotion.models import create_model
    from avemotion.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = create_model("audio", num_classes=len(labels), scale="tiny")
    save_checkpoint(model, tmp_path / "best", preprocess=cfg, extra={"labels": list(labels)})
    return tmp_path / "best"


def test_a_ravdess_model_scores_crema_d_clips_by_shared_names(crema_cache, tmp_path):
    from avemotion.evaluation.scoring import score_clips

    trained = PreprocessConfig(num_frames=4, frame_size=32)  # RAVDESS needs no --pad-short
    out = score_clips(_checkpoint(tmp_path, EMOTIONS, trained), crema_cache)
    assert out["labels"] == list(EMOTIONS)
    # CREMA-D's angry (its label 3) is scored as RAVDESS's angry (label 4), and so on
    assert {p["clip_id"]: p["label"] for p in out["predictions"]} == {
        "1001_DFA_ANG_XX": 4, "1001_DFA_HAP_XX": 2, "1001_DFA_NEU_XX": 0}
    assert all(0 <= p["pred"] < 8 and len(p["probs"]) == 8 for p in out["predictions"])
    recall = out["metrics"]["per_class_recall"]
    assert list(recall) == list(EMOTIONS) and recall["calm"] is None and recall["angry"] is not None


def test_a_model_lacking_a_corpus_class_refuses_to_score_it(crema_cache, tmp_path):
    from avemotion.evaluation.scoring import score_clips

    with pytest.raises(ConfigError, match="fearful, disgust"):
        score_clips(_checkpoint(tmp_path, IEMOCAP, CFG), crema_cache)


def test_predictions_and_their_csv_speak_the_runs_class_names():
    from avemotion.inference.outputs import to_csv
    from avemotion.inference.results import Prediction

    p = Prediction.from_probs([0.1, 0.2, 0.6, 0.1], ("video", "audio"), 0.0, 3.0, "a.mp4", names=IEMOCAP)
    assert (p.emotion, p.label, list(p.probabilities)) == ("sad", 2, list(IEMOCAP))
    header = to_csv([p]).splitlines()[0].split(",")
    assert header[8:12] == list(IEMOCAP) and "calm" not in header
    assert list(Prediction.from_probs([1] + [0] * 7, ("audio",), 0, 3).probabilities) == list(EMOTIONS)  # default
