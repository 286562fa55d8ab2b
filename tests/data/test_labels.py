"""Label spaces belong to the corpus: recorded by the cache, used by scoring across corpora."""

import json

import pytest

from avemotion import EMOTIONS
from avemotion.config import PreprocessConfig
from avemotion.data.cache import ClipCache, open_cache
from avemotion.data.labels import check_labels, parse_labels, recorded_labels, shared_labels
from avemotion.errors import ConfigError

CREMA = ("neutral", "happy", "sad", "angry", "fearful", "disgust")
IEMOCAP = ("neutral", "happy", "sad", "angry")
CFG = PreprocessConfig(num_frames=4, frame_size=32)


def test_shared_labels_are_the_common_names_in_the_models_order():
    assert shared_labels(CREMA, EMOTIONS) == ("neutral", "happy", "sad", "angry", "fearful", "disgust")
    assert shared_labels(EMOTIONS, CREMA) == CREMA  # a CREMA-D model on RAVDESS: its 6 of the 8
    assert shared_labels(("angry", "sad", "neutral"), IEMOCAP) == ("neutral", "sad", "angry")
    with pytest.raises(ConfigError, match="share 1 name: nothing to score"):
        shared_labels(("angry", "bored"), IEMOCAP)


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
    assert out["labels"] == list(CREMA) and out["model_labels"] == list(EMOTIONS) and out["left_out"] == {}
    # labels in the shared space (the model's order of the 6 names CREMA-D and RAVDESS share)
    assert {p["clip_id"]: p["label"] for p in out["predictions"]} == {
        "1001_DFA_ANG_XX": 3, "1001_DFA_HAP_XX": 1, "1001_DFA_NEU_XX": 0}
    assert all(0 <= p["pred"] < 6 and len(p["probs"]) == 6 for p in out["predictions"])
    recall = out["metrics"]["per_class_recall"]
    assert list(recall) == list(CREMA) and recall["fearful"] is None and recall["angry"] is not None


def test_clips_of_classes_the_model_lacks_are_left_out_and_counted(crema_cache, tmp_path):
    from avemotion.evaluation.scoring import score_clips

    labels = ("neutral", "happy", "bored")  # shares 2 of the cached clips' classes; angry is not its
    out = score_clips(_checkpoint(tmp_path, labels, CFG), crema_cache)
    assert out["labels"] == ["neutral", "happy"] and out["left_out"] == {"angry": 1}
    assert sorted(p["clip_id"] for p in out["predictions"]) == ["1001_DFA_HAP_XX", "1001_DFA_NEU_XX"]
    assert out["metrics"]["n"] == 2 and all(len(p["probs"]) == 2 for p in out["predictions"])


def test_predictions_and_their_csv_speak_the_runs_class_names():
    from avemotion.inference.outputs import to_csv
    from avemotion.inference.results import Prediction

    p = Prediction.from_probs([0.1, 0.2, 0.6, 0.1], ("video", "audio"), 0.0, 3.0, "a.mp4", names=IEMOCAP)
    assert (p.emotion, p.label, list(p.probabilities)) == ("sad", 2, list(IEMOCAP))
    header = to_csv([p]).splitlines()[0].split(",")
    assert header[8:12] == list(IEMOCAP) and "calm" not in header
    assert list(Prediction.from_probs([1] + [0] * 7, ("audio",), 0, 3).probabilities) == list(EMOTIONS)  # default
