"""Voice protocols and runs (training/voice_protocol.py, training/voice_run.py) on real voices."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from avemotion.data.voice import VoiceConfig
from avemotion.data.voice_store import VoiceCorpus, build_store, open_store
from avemotion.errors import ConfigError
from avemotion.training.voice import VoiceTrainConfig
from avemotion.training.voice_protocol import common_classes, plan
from avemotion.training.voice_run import export_voice, run_voice


def fake_corpus(dataset, speakers, labels, per=2, protocol=None):
    ids, emotions, spk, genders = [], [], [], []
    for s in speakers:
        for e in labels:
            for r in range(per):
                ids.append(f"{dataset}-{s}-{e}-{r}")
                emotions.append(e)
                spk.append(f"{dataset}:{s}")
                genders.append("male" if int(s) % 2 else "female")
    return VoiceCorpus(VoiceConfig(), dataset, tuple(labels), ids, emotions, spk, genders, [dataset] * len(ids),
                       [np.zeros(10, np.float32)] * len(ids), protocols={dataset: protocol})


RAV = fake_corpus("ravdess", [f"{a:02d}" for a in range(1, 25)], ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"])
EMO = fake_corpus("emodb", ["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"],
                  ["angry", "boredom", "disgust", "fearful", "happy", "neutral", "sad"], protocol={"n_folds": 5, "n_val": 2})


def test_speaker_folds_on_ravdess_alone_are_the_audio_video_protocols_folds():
    from avemotion.data.folds import make_folds

    splits = plan([RAV], "speaker-folds")
    genders = {a: "male" if a % 2 else "female" for a in range(1, 25)}
    for split, fold in zip(splits, make_folds(range(1, 25), genders=genders, n_folds=6, n_val=4, seed=0)):
        assert split.test == tuple(f"ravdess:{a:02d}" for a in fold.test_actors)
        assert split.val == tuple(f"ravdess:{a:02d}" for a in fold.val_actors)
        assert split.classes == RAV.labels


@pytest.mark.parametrize("protocol", ["speaker-folds", "leave-one-corpus-out", "all"])
def test_no_speaker_is_in_two_roles_and_every_speaker_is_tested_once(protocol):
    splits = plan([RAV, EMO], protocol, n_folds=5 if protocol == "speaker-folds" else None)
    for s in splits:
        assert not set(s.train) & set(s.val) and not set(s.test) & (set(s.train) | set(s.val))
    if protocol != "all":
        tested = [spk for s in splits for spk in s.test]
        assert sorted(tested) == sorted(set(RAV.speakers) | set(EMO.speakers))


def test_leave_one_corpus_out_never_trains_or_selects_on_the_test_corpus():
    for split in plan([RAV, EMO], "leave-one-corpus-out"):
        held = split.name.removeprefix("test_")
        assert all(s.startswith(f"{held}:") for s in split.test)
        assert not any(s.startswith(f"{held}:") for s in split.train + split.val)


def test_training_uses_only_the_classes_every_training_corpus_has():
    assert common_classes([RAV, EMO]) == ("neutral", "happy", "sad", "angry", "fearful", "disgust")
    splits = plan([RAV, EMO], "all")
    assert "calm" not in splits[0].classes and "boredom" not in splits[0].classes


def test_speaker_folds_across_corpora_need_the_same_fold_count():
    with pytest.raises(ConfigError, match="same number of folds"):
        plan([RAV, EMO], "speaker-folds")


def _manifest(path: Path, rows) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "speaker", "gender"])
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def small_stores(tmp_path_factory, ravdess_speech_dir, emodb_dir):
    """Real voices: 4 RAVDESS actors x 3 classes x 2 clips, 4 EmoDB speakers x the same 3 classes x 2 clips."""
    root = tmp_path_factory.mktemp("voice_stores")
    codes = {"03": "happy", "04": "sad", "05": "angry"}
    rav = []
    for actor in (1, 2, 3, 4):
        for code, label in codes.items():
            files = sorted((ravdess_speech_dir / f"Actor_{actor:02d}").glob(f"03-01-{code}-*.flac"))[:2]
            rav += [[str(p), label, f"{actor:02d}", "male" if actor % 2 else "female"] for p in files]
    letters = {"F": "happy", "T": "sad", "W": "angry"}
    genders = {"03": "male", "08": "female", "10": "male", "09": "female"}
    emo, seen = [], {}
    for p in sorted(emodb_dir.glob("*.flac")):
        key = (p.stem[:2], p.stem[5])
        if p.stem[:2] in genders and p.stem[5] in letters and seen.get(key, 0) < 2:
            seen[key] = seen.get(key, 0) + 1
            emo.append([str(p), letters[p.stem[5]], p.stem[:2], genders[p.stem[:2]]])
    stores = []
    for name, rows in (("rav", rav), ("emo", emo)):
        stores.append(build_store(_manifest(root / f"{name}.csv", rows), root / name, workers=1, progress=False))
    # the same corpus name with other content (a store rebuilt from other files)
    (root / "other").mkdir()
    build_store(_manifest(root / "other" / "rav.csv", rav[:-2]), root / "rav-other", workers=1, progress=False)
    return root


def test_a_two_corpus_leave_one_corpus_out_run_writes_the_cross_corpus_report(small_stores, tmp_path, caplog):
    cfg = VoiceTrainConfig(epochs=1, batch_size=8)
    stores = [small_stores / "rav", small_stores / "emo"]
    report = run_voice(stores, tmp_path / "run", cfg, protocol="leave-one-corpus-out", seeds=[0], n_folds=2, n_val=1)
    assert set(report["corpora"]) == {"rav", "emo"}  # a manifest corpus is called by its CSV's name
    doc = json.loads((tmp_path / "run" / "report.json").read_text())
    for name, entry in doc["corpora"].items():
        pooled = entry["pooled"]["0"]["overall"]
        assert set(pooled) >= {"uar", "accuracy", "macro_f1", "confusion", "predicted_share", "collapse", "ece"}
        assert abs(sum(pooled["predicted_share"].values()) - 1) < 1e-9
        top = max(pooled["predicted_share"].values())
        assert (pooled["collapse"] is not None) == (top > 0.5)
    text = (tmp_path / "run" / "report.md").read_text()
    assert "collapse" in text.lower()
    # the same command again reuses every stage
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="avemotion"):
        run_voice(stores, tmp_path / "run", cfg, protocol="leave-one-corpus-out", seeds=[0], n_folds=2, n_val=1)
    said = [r.getMessage() for r in caplog.records if r.name.startswith("avemotion")]
    assert said and all("done, reusing" in m for m in said)
    # a run folder is bound to its data: another store is refused
    with pytest.raises(ConfigError, match="other settings or other data"):
        run_voice([small_stores / "rav-other", stores[1]], tmp_path / "run", cfg, protocol="leave-one-corpus-out",
                  seeds=[0], n_folds=2, n_val=1)


def test_an_exported_model_keeps_its_contract_and_verifies(small_stores, tmp_path):
    from avemotion.models.voice_weights import load_voice_model

    cfg = VoiceTrainConfig(epochs=1, batch_size=8)
    run_voice([small_stores / "emo"], tmp_path / "run", cfg, protocol="all", seeds=[0], n_folds=2, n_val=1)
    export_voice(tmp_path / "run", tmp_path / "w", card={"name": "test-voice"})
    model, meta = load_voice_model(tmp_path / "w")
    assert meta["name"] == "test-voice" and meta["voice_hash"] == VoiceConfig().hash()
    assert meta["labels"] == ["angry", "happy", "sad"]


def test_a_store_resumes_and_refuses_another_corpus(small_stores, tmp_path):
    store = open_store(small_stores / "emo")
    assert len(store) > 0 and store.cfg == VoiceConfig()
    with pytest.raises(ConfigError):
        build_store(small_stores / "rav.csv", small_stores / "emo", workers=1, progress=False)


def test_a_corpus_folds_by_its_adapters_speaker_order_and_protocol(emodb_dir, tmp_path):
    """EmoDB's adapter pairs one man and one woman per fold (actor ids 03+08, 10+09, ...)."""
    store = build_store(emodb_dir, tmp_path / "emodb", workers=1, progress=False)
    splits = plan([store], "speaker-folds")
    assert len(splits) == 5
    genders = dict(zip(store.speakers, store.genders))
    for split in splits:
        assert sorted(genders[s] for s in split.test) == ["female", "male"]
        assert len(split.val) == 2


def test_a_weight_decay_grid_keeps_the_decay_and_epoch_of_the_best_validation_uar(small_stores):
    """Each decay trains from the same start; the one row selected is the best validation UAR over
    every (decay, epoch), the returned model scores exactly that on the validation speakers, and a
    grid of one decay is the run without a grid."""
    import torch

    from avemotion.training.voice import predict_probs, train_voice, uar

    corpus = open_store(small_stores / "rav")
    held = sorted(set(corpus.speakers))[-1]  # subset() is given utterance indices
    train = corpus.subset(lambda i: corpus.speakers[i] != held)
    val = corpus.subset(lambda i: corpus.speakers[i] == held)
    labels = ("angry", "happy", "sad")
    cfg = VoiceTrainConfig(model="egemaps_linear", epochs=4, batch_size=8, lr=0.05, weight_decay_grid=(0.0, 30.0))
    model, history = train_voice(train, val, labels, cfg)
    assert [r["weight_decay"] for r in history] == [0.0] * 4 + [30.0] * 4
    chosen = [r for r in history if r["selected"]]
    assert len(chosen) == 1 and chosen[0]["val_uar"] == max(r["val_uar"] for r in history)
    assert chosen[0] is next(r for r in history if r["val_uar"] == chosen[0]["val_uar"])  # ties: the first
    truth = np.array([labels.index(e) for e in val.emotions])
    assert uar(truth, predict_probs(model, val).argmax(1), 3) == chosen[0]["val_uar"]
    torch.manual_seed(0)
    _, alone = train_voice(train, val, labels, VoiceTrainConfig(model="egemaps_linear", epochs=4, batch_size=8, lr=0.05,
                                                                weight_decay=30.0))
    assert [r["val_uar"] for r in alone] == [r["val_uar"] for r in history[4:]]
    assert "weight_decay_grid" not in VoiceTrainConfig().to_dict()  # earlier runs keep their stage hashes
