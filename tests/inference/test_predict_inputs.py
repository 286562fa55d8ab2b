"""Prediction on real-world odd inputs: audio-only files, faces that leave the frame, long videos in
chunks, files that are not videos, rotated phone video. Media generated here (PyAV, seconds long)."""

import json

import numpy as np
import pytest

from avemotion.config import PreprocessConfig
from avemotion.errors import InputError
from avemotion.inference import Prediction, Recognizer, Timeline, features
from avemotion.inference.media import iter_frames
from inference_helpers import run_predict
from odd_media import crema_audio, crema_frames, write_av, write_gif

FALLBACK_HINT = " (--allow-missing predicts from the other modality)"


@pytest.fixture(scope="module")
def face_leaves(crema_clips, tmp_path_factory):
    """8.1 s: the actor for 4.1 s (angry, then happy), then a black screen; voices all along.
    With 3 s windows every second, the last two windows (5.0-8.0, 5.1-8.1) show no face."""
    face = crema_frames(crema_clips[0], (240, 180)) + crema_frames(crema_clips[1], (240, 180))
    frames = face + [np.zeros_like(face[0])] * 120
    voice = np.concatenate([crema_audio(crema_clips[0]), crema_audio(crema_clips[1])])
    audio = np.resize(voice, int(len(frames) / 29.97 * 44100))
    return write_av(tmp_path_factory.mktemp("leaves") / "leaves.mp4", frames, 29.97, audio=audio)


def test_audio_only_file_falls_back_to_audio_or_says_why(random_run, media, tmp_path, crema_clips):
    mp3 = write_av(tmp_path / "voice.mp3", container="mp3", audio=np.resize(crema_audio(crema_clips[0]), 3 * 44100),
                   acodec="libmp3lame")
    for path in (media["audio_only"], mp3):
        result = Recognizer.from_run(random_run, allow_missing=True).predict(path)
        assert isinstance(result, Prediction) and result.modalities == ("audio",)
        assert result.notes == ("no video stream; predicted from audio only",)
        with pytest.raises(InputError) as err:
            Recognizer.from_run(random_run).predict(path)
        assert err.value.code == "not_video" and str(err.value) == f"{path}: no video stream (audio-only file?)"


def test_windows_without_a_face_fall_back_or_fail_clearly(random_run, face_leaves):
    timeline = Recognizer.from_run(random_run, allow_missing=True).predict(face_leaves)
    assert isinstance(timeline, Timeline) and len(timeline.windows) == 7
    assert [w.modalities for w in timeline.windows] == [("video", "audio")] * 5 + [("audio",)] * 2
    assert timeline.notes == ("no face found in 2 of 7 windows; those predicted from audio only",)
    with pytest.raises(InputError) as err:
        Recognizer.from_run(random_run).predict(face_leaves)
    assert err.value.code == "no_face"
    assert err.value.detail == "no face found in 2 of 7 windows (first: 5.0-8.0 s)"


def test_chunks_hold_the_window_stacks_within_budget():
    """A call keeps each window's own T crops besides the distinct frames' crops: budget both."""
    cfg = PreprocessConfig()

    class Info:
        fps = 30.0

    n = features.windows_per_call(Info, cfg, 3.0, 1.0)
    frame = cfg.frame_size**2 * 3
    rate = cfg.num_frames / 3.0

    def held(k):
        return frame * (k * cfg.num_frames + ((k - 1) * 1.0 + 3.0) * rate)

    assert held(n) <= features.FRAME_BUDGET < held(n + 1)


def test_chunked_timeline_equals_one_call_and_shows_progress(random_run, face_leaves, monkeypatch):
    rec = Recognizer.from_run(random_run, allow_missing=True)
    whole = rec.predict(face_leaves)
    monkeypatch.setattr(features, "FRAME_BUDGET", 48 * 48 * 3 * (16 + 8 + 8 / 3))  # two windows per call
    seen = []
    chunked = rec.predict(face_leaves, on_windows=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 7), (4, 7), (6, 7), (7, 7)]
    np.testing.assert_allclose([w.probs_array() for w in chunked.windows], [w.probs_array() for w in whole.windows], atol=1e-6)
    assert [w.modalities for w in chunked.windows] == [w.modalities for w in whole.windows]


def test_every_bad_input_is_one_line_naming_the_file(monkeypatch, capsys, random_run, media, crema_clips, tmp_path):
    import cv2

    frame = crema_frames(crema_clips[0], (160, 120))[0]
    files = {
        tmp_path / "empty.mp4": ("corrupt", "empty file (0 bytes)"),
        tmp_path / "notes.mp4": ("not_video", "not a media file (unrecognised content)"),
        tmp_path / "photo.png": ("not_video", "an image (png), not a video"),
        tmp_path / "anim.gif": ("not_video", "an image (gif), not a video"),
        media["truncated"]: ("corrupt", None),
        tmp_path / "folder.mp4": ("unreadable", None),
        media["audio_only"]: ("not_video", "no video stream (audio-only file?)"),
    }
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("a wide range of notes, nothing to see\n" * 20)
    cv2.imwrite(str(tmp_path / "photo.png"), frame)
    write_gif(tmp_path / "anim.gif", [frame] * 3)
    (tmp_path / "folder.mp4").mkdir()
    code, out, err = run_predict(monkeypatch, capsys, *files, "--run", random_run, "--format", "json", "--no-progress")
    assert code == 3 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == len(files)
    for line, (path, (reason, detail)) in zip(lines, files.items()):
        assert line.startswith(f"{path}: ")
        if detail:
            assert line[len(f"{path}: "):] == detail + (FALLBACK_HINT if path == media["audio_only"] else "")
    doc = json.loads(out)
    assert [r["error"]["reason"] for r in doc["results"]] == [reason for reason, _ in files.values()]


def test_rotated_phone_video_is_predicted_and_annotated_upright(random_run, crema_clips, tmp_path):
    import cv2

    portrait = [cv2.resize(f[:, 105:375], (180, 240)) for f in crema_frames(crema_clips[1], every=2)]
    path = write_av(tmp_path / "phone.mp4", [np.rot90(f, 1) for f in portrait], 15, rotation=-90,
                    audio=crema_audio(crema_clips[1]))
    t, first = next(iter_frames(path))
    assert first.shape == (240, 180, 3)  # what the annotated copy draws on: upright
    result = Recognizer.from_run(random_run, pad_short=True).predict(path)
    assert isinstance(result, Prediction) and result.modalities == ("video", "audio")
