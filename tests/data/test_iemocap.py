"""IEMOCAP: the adapter on the release layout (the synthetic stand-in), the speaker's face in a frame
showing both actors, and clips decoded as segments of the dialogue video."""

import json
import shutil

import numpy as np
import pytest

from avemotion.config import PreprocessConfig
from avemotion.data.audio import audio_window, compute_mfcc, decode_audio, decode_audio_span
from avemotion.data.cache import open_cache
from avemotion.data.datasets import scan_dataset
from avemotion.data.datasets.iemocap import parse_left, parse_turn
from avemotion.data.media import stream_frames
from avemotion.data.preprocess import preprocess
from avemotion.data.synth import IemocapSynthOptions, iemocap_dialogues, synth_iemocap
from avemotion.errors import ConfigError

OPTS = IemocapSynthOptions(sessions=2, utterances=7)  # the 7 codes once: neu hap exc sad ang fru xxx
# the Haar cascade: 3x faster than the default detector here, and it finds every drawn face of the stand-in
CFG = PreprocessConfig(num_frames=8, frame_size=48, detector="haar")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("iemocap")
    synth_iemocap(root, OPTS)
    return root


def test_turn_names_say_the_speaker_by_the_letter_before_the_index():
    assert parse_turn("Ses01F_impro01_M003") == ("Ses01F_impro01", 1, "M")
    assert parse_turn("Ses05M_script01_1b_F012") == ("Ses05M_script01_1b", 5, "F")
    with pytest.raises(ValueError):
        parse_turn("Ses01F_impro01")


def test_left_actor_option():
    assert parse_left(None) == {s: "female" for s in range(1, 6)}
    assert parse_left("male")[3] == "male"
    assert parse_left("Session2=male,5=male") == {1: "female", 2: "male", 3: "female", 4: "female", 5: "male"}
    with pytest.raises(ConfigError, match="say 'female' or 'male'"):
        parse_left("left")


def test_adapter_reads_the_release_layout_with_the_standard_4_classes(release):
    scan = scan_dataset(release)
    assert scan.dataset == "iemocap" and not scan.errors
    assert scan.labels == ("neutral", "happy", "sad", "angry") and scan.modalities == ("video", "audio")
    # per session: neu hap exc sad ang kept (exc merged into happy), fru and xxx left out
    assert len(scan.records) == 10
    assert scan.notes == ["4 utterances of classes outside the '4' mapping left out (fru 2, xxx 2)"]
    by_id = {r.clip_id: r for r in scan.records}
    turns = dict(t for _, _, ts in iemocap_dialogues(OPTS) for t in ts)
    for clip_id, r in by_id.items():
        want = {"neu": "neutral", "hap": "happy", "exc": "happy", "sad": "sad", "ang": "angry"}[turns[clip_id]]
        assert r.emotion == want and scan.labels[r.label] == want
    r = by_id["Ses02F_impro01_M001"]
    base = release / "IEMOCAP_full_release" / "Session2"
    assert r.path == base / "dialog/avi/DivX/Ses02F_impro01.avi"
    assert r.audio_path == base / "sentences/wav/Ses02F_impro01/Ses02F_impro01_M001.wav"
    assert (r.speaker, r.actor, r.gender, r.face) == ("Ses02M", 4, "male", "right")
    # the segment is the line's [START - END]
    line = next(ln for ln in (base / "dialog/EmoEvaluation/Ses02F_impro01.txt").read_text().splitlines()
                if "Ses02F_impro01_M001" in ln)
    assert f"[{r.start:.4f} - {r.end:.4f}]" in line
    assert scan.speakers[1] == "Ses01F" and scan.speakers[10] == "Ses05M"
    assert set(scan_dataset(release, classes="6").labels) == {"neutral", "happy", "sad", "angry", "excited", "frustrated"}
    assert len(scan_dataset(release, classes="4-noexc").records) == 8


def test_bad_lines_and_missing_files_are_reported_and_the_others_go_on(release, tmp_path):
    root = tmp_path / "IEMOCAP_full_release"
    shutil.copytree(release / "IEMOCAP_full_release", root)
    txt = root / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"
    txt.write_text(txt.read_text() + "[1.0 - 0.5]\tSes01F_impro01_F009\tneu\t[2, 2, 2]\n[oops]\n")
    (root / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M000.wav").unlink()
    scan = scan_dataset(tmp_path)
    reasons = sorted((e.code, e.detail.split(":")[0]) for e in scan.errors)
    assert reasons == [("bad_row", "Ses01F_impro01_F009"), ("bad_row", "not an utterance line `[START - END]\\tTURN\\tEMOTION\\t[V, A, D]`"),
                       ("unreadable", "utterance audio of Ses01F_impro01_M000 not found")]
    assert len(scan.records) == 9


def test_segments_are_reached_by_seeking_and_decode_as_the_whole_file_does(release):
    scan = scan_dataset(release)
    r = max(scan.records, key=lambda r: r.start)  # the last utterance of a dialogue
    times = np.linspace(r.start, r.end, 8, endpoint=False)
    seek, full = {}, {}
    a = [(i, f.copy()) for i, f, _ in stream_frames(r.path, times, seek, seek=True)]
    b = [(i, f.copy()) for i, f, _ in stream_frames(r.path, times, full)]
    assert [i for i, _ in a] == [i for i, _ in b]  # frame indices as counted from the start
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, b))
    assert seek["decoded"] < 0.5 * full["decoded"]  # not decoded from the start
    whole = decode_audio(r.path, 44100)
    span = decode_audio_span(r.path, 44100, r.start, r.end)
    first = round(r.start * 44100)
    assert len(span) == round((r.end - r.start) * 44100)
    # the resampler restarts at the seek: the samples agree to a fraction of a sample's time
    assert np.corrcoef(span, whole[first:first + len(span)])[0, 1] > 0.99
    cfg = PreprocessConfig()
    mfcc_span = compute_mfcc(audio_window(r.path, span, 0.0, cfg), cfg)
    mfcc_whole = compute_mfcc(audio_window(r.path, whole, r.start, cfg), cfg)
    assert np.abs(mfcc_span - mfcc_whole).max() < 1.0  # of values up to ~500


def test_a_short_segment_is_padded_by_the_rule_or_refused(release):
    r = scan_dataset(release).records[0]
    with pytest.raises(Exception, match="is 2.00 s, the window needs 2.95 s"):
        preprocess(r.path, CFG, span=(r.start, r.start + 2.0))
    padded = preprocess(r.path, PreprocessConfig(num_frames=8, frame_size=48, detector="haar", short_clip="pad"),
                        span=(r.start, r.start + 2.0))
    assert padded.padded and padded.video.shape == (8, 48, 48, 3)
    with pytest.raises(Exception, match="ends past the end of the file"):
        preprocess(r.path, CFG, span=(r.start, 999.0))


@pytest.fixture(scope="module")
def prepared(release, tmp_path_factory):
    from avemotion.data.prepare import prepare

    report = prepare(release, tmp_path_factory.mktemp("iemocap_cache"), CFG, workers=1)
    assert not report.failed, report.failed
    return report, open_cache(report.cache)


def _colour(cache, clip_id):
    """R - B of the crop's mean: the stand-in draws the female actor reddish, the male bluish."""
    video, _ = cache.load(clip_id)
    mean = np.asarray(video, float).reshape(-1, 3).mean(0)
    return mean[0] - mean[2]


def test_the_speakers_face_is_the_one_cropped(prepared):
    """Both actors are in every frame; the crop must show the one who speaks (by colour)."""
    report, cache = prepared
    assert report.cached == 10 and report.face_sources == {"detector": 10}
    for r in cache.records():
        redness = _colour(cache, r["clip_id"])
        assert (redness > 10) if r["gender"] == "female" else (redness < -10), (r["clip_id"], redness)
    assert cache.labels == ("neutral", "happy", "sad", "angry")
    assert json.loads((cache.path / "config.json").read_text())["speakers"]["3"] == "Ses02F"


def test_the_left_actor_option_decides_whose_face_is_cropped(release, tmp_path):
    """Told the male actor sits on the left (wrong for the stand-in), every crop shows the listener:
    the colour check above would catch it."""
    from avemotion.data.prepare import prepare

    report = prepare(release, tmp_path, CFG, workers=1, options={"left": "Session1=male"})
    cache = open_cache(report.cache)
    for r in cache.records():
        if r["speaker"].startswith("Ses01"):
            redness = _colour(cache, r["clip_id"])
            assert (redness < -10) if r["gender"] == "female" else (redness > 10), (r["clip_id"], redness)
    # corrected, the same cache prepares the clips whose side changed again (and only those)
    again = prepare(release, tmp_path, CFG, workers=1)
    assert again.prepared == 5 and len(again.redone) == 5
    for r in open_cache(report.cache).records():
        redness = _colour(cache, r["clip_id"])
        assert (redness > 10) if r["gender"] == "female" else (redness < -10), (r["clip_id"], redness)


def test_prepare_resumes_a_corpus_of_segments(release, prepared):
    from avemotion.data.prepare import prepare

    report, cache = prepared
    again = prepare(release, cache.path.parent, CFG, workers=1)
    assert (again.prepared, again.cached_before, again.cached) == (0, 10, 10)


def test_no_face_in_an_utterance_names_the_utterance_and_its_span(release, tmp_path, monkeypatch):
    """Every utterance of a dialogue is a span of one video: a failure naming only the .avi would not
    say which utterance failed, so its detail starts with the turn name and the span."""
    from avemotion.data import faces
    from avemotion.data.prepare import prepare

    monkeypatch.setattr(faces, "detect_faces", lambda frame, detector="haar": faces.NO_FACE)
    report = prepare(release, tmp_path, CFG, workers=1)  # one worker: in this process, the patch holds
    records = {r.clip_id: r for r in scan_dataset(release).records}
    assert report.cached == 0 and len(report.failed) == len(records) == 10
    details = {}
    for f in report.failed:
        assert f["reason"] == "no_face" and f["file"].endswith(".avi"), f
        details[f["detail"].split(",")[0]] = f["detail"]
    assert sorted(details) == sorted(records)  # one failure per utterance, named by its turn
    for clip_id, r in records.items():
        assert details[clip_id] == (f"{clip_id}, {r.start:.2f}-{r.end:.2f} s: "
                                    f"no face found in any of the {CFG.num_frames} sampled frames"), details[clip_id]


def test_without_dialogue_videos_the_corpus_is_audio_only(release, tmp_path):
    shutil.copytree(release / "IEMOCAP_full_release", tmp_path / "IEMOCAP_full_release",
                    ignore=shutil.ignore_patterns("avi"))
    scan = scan_dataset(tmp_path)
    assert scan.modalities == ("audio",) and len(scan.records) == 10
    r = scan.records[0]
    assert r.path.suffix == ".wav" and r.start is None and r.audio_path is None and r.face is None
