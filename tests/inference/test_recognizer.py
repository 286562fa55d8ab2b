"""Recognizer on a hand-made run (random tiny CFN-SR): real clips, odd files, run checks."""

import dataclasses
import json

import numpy as np
import pytest

from avemotion import EMOTIONS
from avemotion.data.preprocess import preprocess
from avemotion.errors import ConfigError, InputError
from avemotion.inference import FileError, Prediction, Recognizer
from avemotion.inference.runs import read_run
from inference_helpers import TEST_PREPROCESS, make_run


@pytest.fixture(scope="module")
def recognizer(random_run):
    return Recognizer.from_run(random_run, pad_short=True, allow_missing=True)


def test_real_clips_give_one_prediction_each(recognizer, crema_clips):
    results = list(recognizer.predict_many(crema_clips, progress=False))
    for clip, result in zip(crema_clips, results):
        assert isinstance(result, Prediction), result
        assert result.file == str(clip)
        assert list(result.probabilities) == list(EMOTIONS)
        assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert result.emotion == EMOTIONS[int(np.argmax(result.probs_array()))]
        assert result.modalities == ("video", "audio")
        assert len(result.notes) == 1 and "zero-padded to 2.95 s" in result.notes[0]  # the clips are ~2.2 s
        assert result.start == 0 and 1.8 < result.end < 2.3
    # different faces and voices give different outputs (the features reach the model)
    assert not np.allclose(results[0].probs_array(), results[1].probs_array())


def test_short_clip_padded_by_default_with_a_note(random_run, crema_clips):
    """A real CREMA-D clip (2.23 s) is shorter than the run's 2.95 s audio window: by default its
    audio is zero-padded and the prediction says so, in its notes (JSON `notes`)."""
    result = Recognizer.from_run(random_run).predict(crema_clips[0])
    assert isinstance(result, Prediction)
    assert result.notes == ("clip is 2.23 s, shorter than the model's 2.95 s window: its audio was zero-padded to "
                            "2.95 s (--no-pad-short / pad_short=False refuses such clips)",)
    assert result.to_dict()["notes"] == list(result.notes)


def test_short_clip_refused_with_pad_short_false(random_run, crema_clips):
    for strict in (Recognizer.from_run(random_run, pad_short=False),
                   Recognizer.from_run(random_run, pad_short=None)):  # None: the run's own policy, short_clip="error"
        assert strict.cfg.short_clip == "error"
        with pytest.raises(InputError) as err:
            strict.predict(crema_clips[0])
        # the message names the keyword argument of the Python API beside the CLI flag
        assert err.value.code == "too_short" and "pad_short=True" in str(err.value) and "--pad-short" in str(err.value)
        assert "\n" not in str(err.value)


def test_ensemble_averages_the_folds(random_run, crema_clips):
    arrays = [preprocess(crema_clips[1], dataclasses.replace(TEST_PREPROCESS, short_clip="pad"))]
    both = ("video", "audio")
    single = [Recognizer.from_run(random_run, fold=k).probabilities(arrays, both) for k in (0, 1)]
    ensemble = Recognizer.from_run(random_run, ensemble=True)
    assert ensemble.folds == [0, 1]
    np.testing.assert_allclose(ensemble.probabilities(arrays, both), (single[0] + single[1]) / 2, atol=1e-6)
    assert not np.allclose(single[0], single[1])


def test_default_fold_is_the_best_validated(random_run):
    assert Recognizer.from_run(random_run).folds == [1]  # val_acc 0.7 beats 0.4
    assert Recognizer.from_run(random_run, fold=0).folds == [0]
    with pytest.raises(ConfigError, match="fold 5"):
        Recognizer.from_run(random_run, fold=5)
    with pytest.raises(ConfigError, match="together"):
        Recognizer.from_run(random_run, fold=0, ensemble=True)


def test_changed_preprocessing_is_refused(random_run):
    with pytest.raises(ConfigError, match="frame_size: 48 -> 64"):
        Recognizer.from_run(random_run, preprocess={"frame_size": 64})
    with pytest.raises(ConfigError, match="unknown"):
        Recognizer.from_run(random_run, preprocess={"frames": 8})
    # asking for the run's own settings, or changing only the short-clip policy, is fine
    rec = Recognizer.from_run(random_run, preprocess=TEST_PREPROCESS.to_dict(), pad_short=True)
    assert rec.cfg.short_clip == "pad" and rec.cfg.frame_size == 48


def test_checkpoints_that_disagree_are_refused(tmp_path):
    run = make_run(tmp_path / "run")
    meta_path = run / "fold_1" / "audio" / "best.json"
    meta = json.loads(meta_path.read_text())
    meta["preprocess"]["n_mfcc"] = 20
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="disagree.*n_mfcc"):
        Recognizer.from_run(run, fold=0)


def test_a_hash_this_environment_cannot_reproduce_is_refused(tmp_path):
    run = make_run(tmp_path / "run", folds=(0,), unimodal=False)
    meta_path = run / "fold_0" / "cfn_sr" / "best.json"
    meta = json.loads(meta_path.read_text())
    meta["preprocess_hash"] = "0123456789abcdef"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="librosa"):
        Recognizer.from_run(run)


def test_run_without_model_or_with_several_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not a run folder"):
        read_run(tmp_path / "nothing")
    run = make_run(tmp_path / "run", folds=(0,), unimodal=False)
    make_run(run, model="msaf", folds=(0,), unimodal=False)
    (run / "run.json").write_text(json.dumps({"models": ["cfn_sr", "msaf"]}))
    with pytest.raises(ConfigError, match="--model"):
        read_run(run)
    assert read_run(run, "msaf").model == "msaf"


def test_missing_audio(random_run, recognizer, media):
    with pytest.raises(InputError) as err:
        Recognizer.from_run(random_run).predict(media["no_audio"])
    assert str(err.value) == f"{media['no_audio']}: no audio stream"
    result = recognizer.predict(media["no_audio"])
    assert result.modalities == ("video",)
    assert result.notes == ("no audio stream; predicted from video only",)


def test_missing_face(random_run, recognizer, media):
    with pytest.raises(InputError) as err:
        Recognizer.from_run(random_run).predict(media["no_face"])
    assert err.value.code == "no_face" and "no face found" in str(err.value)
    result = recognizer.predict(media["no_face"])
    assert result.modalities == ("audio",)
    assert result.notes == ("no face found; predicted from audio only",)


def test_no_fallback_without_unimodal_checkpoints(tmp_path, media):
    run = make_run(tmp_path / "run", folds=(0,), unimodal=False)
    with pytest.raises(InputError, match="no audio stream"):
        Recognizer.from_run(run, allow_missing=True).predict(media["no_audio"])


def test_bad_files_each_give_one_line_and_the_others_go_on(recognizer, media, crema_clips, tmp_path):
    paths = [media["truncated"], media["audio_only"], crema_clips[2], media["not_video"], tmp_path / "gone.mp4"]
    results = list(recognizer.predict_many(paths, progress=False))
    reasons = [r.reason if isinstance(r, FileError) else "ok" for r in results]
    assert reasons == ["corrupt", "ok", "ok", "not_video", "unreadable"]  # audio only: --allow-missing
    assert results[1].modalities == ("audio",) and results[1].notes == ("no video stream; predicted from audio only",)
    for r in results:
        if isinstance(r, FileError):
            assert r.message.startswith(f"{r.file}: ") and "\n" not in r.message


# container: (format, video codec, audio codec, audio rate)
CONTAINERS = {
    "mov": ("mov", "libx264", "aac", 44100),
    "mkv": ("matroska", "libx264", "libmp3lame", 44100),
    "webm": ("webm", "libvpx", "libopus", 48000),
    "avi": ("avi", "mpeg4", "libmp3lame", 44100),
}


@pytest.mark.parametrize("suffix", sorted(CONTAINERS))
def test_common_containers(recognizer, crema_clips, tmp_path, suffix):
    from avemotion.inference import media

    container, vcodec, acodec, rate = CONTAINERS[suffix]
    src = crema_clips[1]
    frames = [f for _, f in media.iter_frames(src)]
    path = media.write_video(tmp_path / f"clip.{suffix}", frames, media.video_fps(src), media.read_audio(src, rate),
                             container=container, video_codec=vcodec, audio_codec=acodec)
    result = recognizer.predict(path)
    assert isinstance(result, Prediction) and result.modalities == ("video", "audio")
    assert 1.7 < result.end < 2.1


def test_unimodal_checkpoints_found_after_the_run_folder_moved(tmp_path, media):
    import json

    run = make_run(tmp_path / "old", folds=(0,))
    doc = json.loads((run / "run.json").read_text())
    doc["unimodal_dir"] = str(run)  # as runs written before the folder was recorded relative to the run
    (run / "run.json").write_text(json.dumps(doc))
    moved = run.rename(tmp_path / "moved")  # run.json still names the old folder as unimodal_dir
    result = Recognizer.from_run(moved, allow_missing=True).predict(media["no_audio"])
    assert result.modalities == ("video",)


def test_long_video_without_audio_gives_a_video_only_timeline(recognizer, crema_clips, tmp_path):
    from avemotion.inference import Timeline, media

    frames = [f for clip in crema_clips for _, f in media.iter_frames(clip)]  # ~6 s, no audio track
    path = media.write_mp4(tmp_path / "silent.mp4", frames, media.video_fps(crema_clips[0]))
    timeline = recognizer.predict(path)
    assert isinstance(timeline, Timeline) and len(timeline.windows) == 5
    assert timeline.modalities == ("video",) and all(w.modalities == ("video",) for w in timeline.windows)
    assert timeline.notes == ("no audio stream; predicted from video only",)
