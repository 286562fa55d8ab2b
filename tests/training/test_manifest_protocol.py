"""A corpus given as a manifest CSV prepares, trains with speaker-independent folds and reports in
its own class and speaker names, end to end, in two scenarios:

1. audio only, real voices: 96 real RAVDESS speech FLACs (6 actors, 4 emotions, normal intensity;
   ../shared/data/ravdess-speech, licence CC BY-NC-SA 4.0, see its README), relabelled with class
   names RAVDESS does not have (flat, glad, low, mad) and speaker names (spk_a .. spk_f) whose
   sorted order is not the actors' order; prepared through the CLI, the audio CNN trained on 3 folds.
2. audio-video, synthetic: clips of the `synth_corpus` fixture with their landmark CSVs, listed by
   paths relative to the manifest's folder, 3 own class names in an order fixed by `labels=` (not
   sorted), 4 named speakers; CFN-SR (two-stage: its video and audio
   networks first) trained leaving one speaker out.
"""

from __future__ import annotations

import json
import os

import pytest

from avemotion.config import PreprocessConfig
from avemotion.utils.io import read_json


# ----------------------------------------------------------------- 1: real voices, audio only

SPEECH_LABELS = ["flat", "glad", "low", "mad"]  # sorted: a manifest's classes without --labels
SPEECH_EMOTIONS = {"01": "flat", "03": "glad", "04": "low", "05": "mad"}  # RAVDESS neutral happy sad angry
# RAVDESS actor -> the corpus's speaker name; sorted names give ids 1..6 in another order than the actors'
SPEECH_SPEAKERS = {1: "spk_d", 2: "spk_a", 3: "spk_f", 4: "spk_b", 5: "spk_e", 6: "spk_c"}


def _gender(actor: int) -> str:
    return "male" if actor % 2 else "female"  # RAVDESS: odd actors are male


@pytest.fixture(scope="module")
def speech_run(ravdess_speech_dir, tmp_path_factory):
    """(clip id -> speaker name, CLI output, cache, train's report, run folder)."""
    from typer.testing import CliRunner

    from avemotion.cli.main import app
    from avemotion.data.cache import open_cache
    from avemotion.training import train

    base = tmp_path_factory.mktemp("speech_manifest")
    rows, speaker_of = [], {}
    for actor, name in SPEECH_SPEAKERS.items():
        # rows in reverse emotion order: the first-seen order (mad, low, ...) is not the sorted one
        for code in ("05", "04", "03", "01"):
            for statement in ("01", "02"):
                for rep in ("01", "02"):
                    path = ravdess_speech_dir / f"Actor_{actor:02d}" / f"03-01-{code}-01-{statement}-{rep}-{actor:02d}.flac"
                    rows.append(f"{path},{SPEECH_EMOTIONS[code]},{name},{_gender(actor)}")
                    speaker_of[path.stem] = name
    csv = base / "corpus.csv"
    csv.write_text("path,label,speaker,gender\n" + "\n".join(rows) + "\n")
    result = CliRunner().invoke(app, ["prepare", "--manifest", str(csv), "--out", str(base / "cache"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    cache = open_cache(base / "cache")
    out = base / "run"
    report = train("audio", cache.path, out, preset="small", n_folds=3, n_val=1, epochs=3)
    return speaker_of, result.output, cache, report, out


def test_speech_manifest_prepares_an_audio_only_cache_in_its_own_names(speech_run):
    speaker_of, output, cache, _, _ = speech_run
    assert len(speaker_of) == 96 and len(cache) == 96
    assert "manifest (audio): 96 files, 96 prepared" in output
    assert "classes: 4 (flat, glad, low, mad)" in output
    assert cache.modalities == ("audio",) and cache.labels == tuple(SPEECH_LABELS)
    assert cache.speakers == {k: n for k, n in enumerate(sorted(SPEECH_SPEAKERS.values()), start=1)}
    for r in cache.records():
        assert r["dataset"] == "manifest" and r["speaker"] == speaker_of[r["clip_id"]]
        assert SPEECH_LABELS[r["label"]] == r["emotion"] and cache.speakers[r["actor"]] == r["speaker"]
        actor = int(r["clip_id"][-2:])  # the RAVDESS actor of the file
        assert r["gender"] == _gender(actor)


def _check_speaker_independent(out, speaker_of: dict[str, str], n_folds: int) -> list[list[str]]:
    """Every fold of RUN/run.json and RUN/folds/fold_K.json keeps its test speakers out of its
    training and validation clips, the test groups partition the speakers, every clip is in one split;
    returns the test speakers' names per fold (read from the clips, not from the report)."""
    run = read_json(out / "run.json")
    names = {int(a): n for a, n in run["speakers"].items()}
    assert sorted(names.values()) == sorted(set(speaker_of.values()))
    assert len(run["folds"]) == n_folds
    tested = [a for f in run["folds"] for a in f["test"]]
    assert sorted(tested) == sorted(names)  # the test groups partition the speakers
    per_fold = []
    for k, f in enumerate(run["folds"]):
        assert not set(f["test"]) & (set(f["train"]) | set(f["val"])) and not set(f["train"]) & set(f["val"])
        manifest = read_json(out / "folds" / f"fold_{k}.json")
        assert (manifest["test_actors"], manifest["val_actors"], manifest["train_actors"]) == (f["test"], f["val"], f["train"])
        split = {s: {speaker_of[c] for c in manifest[s]} for s in ("train", "val", "test")}
        assert not split["test"] & (split["train"] | split["val"]), (k, split)
        assert not split["train"] & split["val"] and split["train"] and split["val"]
        assert split["test"] == {names[a] for a in f["test"]}  # the clips' own speakers
        assert sorted(manifest["train"] + manifest["val"] + manifest["test"]) == sorted(speaker_of)
        per_fold.append(sorted(split["test"]))
    return per_fold


def _check_report(report: dict, out, model: str, labels: list[str], test_speakers: list[list[str]]) -> None:
    """WA (accuracy) and UA (UAR) per fold, recalls by class name in label order, fold rows and the
    per-actor slice in speaker names, in report.json (train's return value), report.md and confusion.json."""
    assert report == read_json(out / "report.json")
    assert report["dataset"] == "manifest" and report["paper_train"] is None
    scores = report["models"][model]
    assert scores["labels"] == labels
    assert sorted(scores["folds"], key=int) == [str(k) for k in range(len(test_speakers))]
    for k, row in scores["folds"].items():
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["uar"] <= 1, (k, row)
        assert list(row["per_class_recall"]) == labels and len(row["confusion"]) == len(labels)
        assert row["test_speakers"] == test_speakers[int(k)]
    for metric in ("accuracy", "uar"):
        assert scores["mean_std"][metric]["n"] == len(test_speakers)
    assert list(scores["mean_std"]["per_class_recall"]) == labels
    assert sorted(scores["slices"]["actor"]) == sorted(s for group in test_speakers for s in group)
    assert scores["paper"]["accuracy"] is None  # the paper's figures are RAVDESS's
    confusion = json.loads((out / "confusion.json").read_text())
    assert confusion["classes"] == labels and confusion["labels"][model] == labels
    text = (out / "report.md").read_text()
    for k, speakers in enumerate(test_speakers):
        assert f"| {k} | {', '.join(speakers)} |" in text
    for name in labels:
        assert f"| {name} |" in text  # per-class recall rows
    assert "1200" not in text  # no RAVDESS training figures beside another corpus


def test_speech_folds_keep_every_test_speaker_out_of_training_and_validation(speech_run):
    speaker_of, _, _, _, out = speech_run
    per_fold = _check_speaker_independent(out, speaker_of, 3)
    # 3 consecutive groups of the sorted speaker ids (spk_a = 1 ... spk_f = 6)
    assert per_fold == [["spk_a", "spk_b"], ["spk_c", "spk_d"], ["spk_e", "spk_f"]]
    for k in range(3):
        metrics = read_json(out / f"fold_{k}" / "audio" / "metrics.json")
        manifest = read_json(out / "folds" / f"fold_{k}.json")
        assert {p["clip_id"] for p in metrics["predictions"]} == set(manifest["test"])
        assert {speaker_of[p["clip_id"]] for p in metrics["predictions"]} == set(per_fold[k])


def test_speech_report_has_wa_and_ua_per_fold_in_the_corpus_class_and_speaker_names(speech_run):
    speaker_of, _, _, report, out = speech_run
    _check_report(report, out, "audio", SPEECH_LABELS,
                  [["spk_a", "spk_b"], ["spk_c", "spk_d"], ["spk_e", "spk_f"]])
    assert sorted(report["models"]["audio"]["slices"]["gender"]) == ["female", "male"]
    assert report["models"]["audio"]["n_clips"] == 96


def test_speech_run_json_records_the_corpus_labels_speakers_and_dataset(speech_run):
    from avemotion.models.checkpoint import load_checkpoint

    _, _, cache, _, out = speech_run
    run = read_json(out / "run.json")
    assert run["labels"] == SPEECH_LABELS and run["dataset"] == "manifest"
    assert run["speakers"] == {str(a): n for a, n in cache.speakers.items()}
    assert run["face_sources"] == {"none": 96}  # audio only: no faces
    net, meta = load_checkpoint(out / "fold_0" / "audio" / "best")
    assert net.num_classes == 4 and meta["labels"] == SPEECH_LABELS


# --------------------------------------------------------- 2: synthetic audio-video, landmarks

AV_LABELS = ["still", "bright", "stormy"]  # fixed by labels=: not the sorted order
AV_EMOTIONS = {1: "still", 3: "bright", 5: "stormy"}  # RAVDESS neutral, happy, angry of the synthetic clips
AV_SPEAKERS = {1: "wim", 2: "zoe", 3: "xia", 4: "yan"}  # synthetic actor -> speaker name (ids: xia yan wim zoe)
AV_CONFIG = PreprocessConfig(num_frames=8, frame_size=48)


@pytest.fixture(scope="module")
def av_run(synth_corpus, tmp_path_factory):
    """(clip id -> speaker name, prepare's report, cache, train's report, run folder)."""
    from avemotion.data.cache import open_cache
    from avemotion.data.prepare import prepare
    from avemotion.training import train

    base = tmp_path_factory.mktemp("av_manifest")
    folder = base / "lists"  # the manifest's folder: every path below is relative to it (or absolute)
    folder.mkdir()
    rows, speaker_of = [], {}
    for actor, name in AV_SPEAKERS.items():
        for video in sorted((synth_corpus / f"Actor_{actor:02d}").glob("*.mp4")):
            code = int(video.name.split("-")[2])
            if code not in AV_EMOTIONS:
                continue
            csv = synth_corpus / "landmarks" / f"{video.stem}.csv"
            assert csv.is_file()
            landmarks = os.path.relpath(csv, folder) if len(rows) % 2 == 0 else str(csv)  # relative and absolute
            rows.append(f"{os.path.relpath(video, folder)},{AV_EMOTIONS[code]},{name},{'m' if actor % 2 else 'f'},{landmarks}")
            speaker_of[video.stem] = name
    assert all(r.startswith("..") for r in rows)  # relative to the manifest's folder, not to the cwd
    csv_path = folder / "corpus.csv"
    csv_path.write_text("path,label,speaker,gender,landmarks\n" + "\n".join(rows) + "\n")
    prepared = prepare(csv_path, base / "cache", AV_CONFIG, workers=1, options={"labels": tuple(AV_LABELS)})
    assert not prepared.failed, prepared.failed
    cache = open_cache(prepared.cache)
    out = base / "run"
    report = train("cfn_sr", cache.path, out, preset="small", n_folds=len(AV_SPEAKERS), n_val=1, epochs=2,
                   unimodal_epochs=2)
    return speaker_of, prepared, cache, report, out


def test_av_manifest_faces_come_from_its_landmark_csvs(av_run):
    speaker_of, prepared, cache, _, out = av_run
    assert len(speaker_of) == 20 and prepared.cached == 20 and len(cache) == 20  # 4 speakers x 5 clips
    assert cache.modalities == ("video", "audio")
    assert prepared.face_sources == {"landmarks": 20}
    assert read_json(cache.path / "report.json")["face_sources"] == {"landmarks": 20}
    assert read_json(out / "run.json")["face_sources"] == {"landmarks": 20}
    video, mfcc = cache.load(next(iter(speaker_of)))
    assert video.shape == (8, 48, 48, 3) and mfcc.shape == (13, 212)


def test_av_manifest_keeps_the_label_order_it_was_given(av_run):
    speaker_of, prepared, cache, _, out = av_run
    assert list(prepared.labels) == AV_LABELS and cache.labels == tuple(AV_LABELS)
    assert cache.speakers == {1: "wim", 2: "xia", 3: "yan", 4: "zoe"}  # sorted names
    for r in cache.records():
        assert AV_LABELS[r["label"]] == r["emotion"] and r["speaker"] == speaker_of[r["clip_id"]]
        assert r["gender"] == ("male" if r["speaker"] in ("wim", "xia") else "female")
    run = read_json(out / "run.json")
    assert run["labels"] == AV_LABELS and run["dataset"] == "manifest"
    assert run["speakers"] == {"1": "wim", "2": "xia", "3": "yan", "4": "zoe"}


def test_av_leave_one_speaker_out_folds_are_speaker_independent(av_run):
    speaker_of, _, _, _, out = av_run
    per_fold = _check_speaker_independent(out, speaker_of, 4)
    assert per_fold == [["wim"], ["xia"], ["yan"], ["zoe"]]


@pytest.mark.parametrize("model", ["cfn_sr", "video", "audio"])  # CFN-SR and its two unimodal stages
def test_av_report_has_wa_and_ua_per_fold_in_the_corpus_class_and_speaker_names(av_run, model):
    _, _, _, report, out = av_run
    assert report["primary"] == "cfn_sr"
    _check_report(report, out, model, AV_LABELS, [["wim"], ["xia"], ["yan"], ["zoe"]])


def test_av_checkpoints_have_three_outputs_and_record_the_names(av_run):
    from avemotion.models.checkpoint import load_checkpoint

    out = av_run[4]
    for model in ("cfn_sr", "video", "audio"):
        net, meta = load_checkpoint(out / "fold_0" / model / "best")
        assert net.num_classes == 3 and meta["labels"] == AV_LABELS, model
