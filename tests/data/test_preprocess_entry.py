"""preprocess(): the one entry point of the data layer's preprocessing (whole clip, span, windows)
and its one set of input checks."""

import math
import wave

import numpy as np
import pytest

from avemotion.config import PreprocessConfig
from avemotion.data.datasets import scan_dataset
from avemotion.data.media import probe
from avemotion.data.preprocess import ClipArrays, preprocess
from avemotion.errors import InputError

SMALL = PreprocessConfig(num_frames=8, frame_size=48)


@pytest.fixture(scope="module")
def clip(synth_corpus):
    """A synthetic RAVDESS clip (3.4 s, landmarks CSV) and its duration."""
    rec = scan_dataset(synth_corpus).records[0]
    return rec, probe(rec.path).duration


def assert_same(a: ClipArrays, b: ClipArrays, fields=("video", "boxes", "mfcc")):
    for name in fields:
        x, y = getattr(a, name), getattr(b, name)
        assert x is not None and y is not None, name
        np.testing.assert_array_equal(x, y, err_msg=name)


def test_a_window_and_the_same_span_give_the_same_arrays(clip):
    rec, _ = clip
    (window,) = preprocess(rec.path, SMALL, windows=[(0.0, 3.0)], landmarks=rec.landmarks)
    span = preprocess(rec.path, SMALL, span=(0.0, 3.0), landmarks=rec.landmarks)
    assert (window.start, window.end) == (span.start, span.end) == (0.0, 3.0)
    assert_same(window, span)


def test_a_span_to_the_end_is_the_whole_clip(clip):
    rec, duration = clip
    whole = preprocess(rec.path, SMALL, landmarks=rec.landmarks)
    span = preprocess(rec.path, SMALL, span=(0.0, None), landmarks=rec.landmarks)
    assert whole.end == span.end == duration and whole.face_source == span.face_source == "landmarks"
    assert_same(whole, span)


def test_a_seeking_span_samples_the_frames_of_the_same_window(clip):
    """A span starting past SEEK_AFTER is reached by a seek; its frames and boxes are those of the
    window decoded from the start."""
    rec, duration = clip
    span = preprocess(rec.path, SMALL, span=(1.2, duration), landmarks=rec.landmarks, modalities=("video",))
    (window,) = preprocess(rec.path, SMALL, windows=[(1.2, duration)], landmarks=rec.landmarks, modalities=("video",))
    assert span.mfcc is None and window.mfcc is None
    assert_same(span, window, ("video", "boxes"))
    # and they are not the frames of the clip's start
    start = preprocess(rec.path, SMALL, span=(0.0, duration - 1.2), landmarks=rec.landmarks, modalities=("video",))
    assert not np.array_equal(start.video, span.video)


def test_modalities_leave_the_other_array_out(clip):
    rec, _ = clip
    windows = [(0.0, 3.0), (0.3, 3.3)]
    both = preprocess(rec.path, SMALL, windows=windows, landmarks=rec.landmarks)
    video = preprocess(rec.path, SMALL, windows=windows, landmarks=rec.landmarks, modalities=("video",))
    audio = preprocess(rec.path, SMALL, windows=windows, landmarks=rec.landmarks, modalities=("audio",))
    for b, v, a in zip(both, video, audio):
        assert v.mfcc is None and a.video is None and a.boxes is None and a.face_source == "none"
        assert_same(b, v, ("video", "boxes"))
        assert_same(b, a, ("mfcc",))
    assert not np.array_equal(both[0].mfcc, both[1].mfcc)  # each window its own audio


def assert_refused(err: pytest.ExceptionInfo, path, code: str, phrase: str) -> None:
    e = err.value
    assert isinstance(e, InputError) and e.code == code and phrase in e.detail
    assert str(e) == f"{path}: {e.detail}" and "\n" not in str(e)


@pytest.mark.parametrize("call, phrase", [
    (dict(span=(0.0, math.nan)), "segment 0.0-nan s is not a finite span"),
    (dict(span=(math.inf, 3.0)), "is not a finite span"),
    (dict(span=(-0.5, 2.0)), "segment -0.50-2.00 s is not a span of the file"),
    (dict(span=(2.0, 1.0)), "segment 2.00-1.00 s is not a span of the file"),
    (dict(span=(1.0, 1.0)), "is not a span of the file"),
    (dict(span=(1.0, 9.0)), "segment 1.00-9.00 s ends past the end of the file (3.43 s)"),
    (dict(windows=[(0.0, 2.0), (0.5, math.nan)]), "window 0.5-nan s is not a finite span"),
    (dict(windows=[(0.0, 2.0), (3.0, 2.5)]), "window 3.00-2.50 s is not a span of the file"),
    (dict(windows=[(0.0, 2.0), (1.0, 3.6)]), "window 1.00-3.60 s ends past the end of the file (3.43 s)"),
])
def test_bad_spans_and_windows_are_refused_before_decoding(clip, monkeypatch, call, phrase):
    from avemotion.data import face_plan, preprocess as entry

    rec, _ = clip

    def no_decode(*_, **__):
        raise AssertionError("decoded a span that the checks refuse")

    for module, name in [(entry, "window_videos"), (entry, "decode_audio"), (entry, "decode_audio_span"),
                         (face_plan, "stream_frames")]:
        monkeypatch.setattr(module, name, no_decode)
    with pytest.raises(InputError) as err:
        preprocess(rec.path, SMALL, landmarks=rec.landmarks, **call)
    assert_refused(err, rec.path, "bad_row", phrase)


def test_the_span_may_end_a_frame_past_the_stated_duration(clip):
    rec, duration = clip
    arrays = preprocess(rec.path, SMALL, span=(0.0, duration + 0.05), landmarks=rec.landmarks, modalities=("video",))
    assert arrays.video.shape == (8, 48, 48, 3)


@pytest.mark.parametrize("call", [{}, dict(span=(0.0, 2.0)), dict(windows=[(0.0, 2.0)])])
def test_missing_and_non_media_files_are_refused_whatever_the_call(tmp_path, call):
    missing = tmp_path / "missing.mp4"
    with pytest.raises(InputError) as err:
        preprocess(missing, SMALL, **call)
    assert_refused(err, missing, "unreadable", "file not found")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 40)
    with pytest.raises(InputError) as err:
        preprocess(text, SMALL, **call)
    assert_refused(err, text, "not_video", "not a media file")


@pytest.mark.parametrize("call", [{}, dict(span=(0.0, 2.0)), dict(windows=[(0.0, 2.0)])])
def test_an_audio_file_has_no_video_for_a_video_config(tmp_path, call):
    path = tmp_path / "voice.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(16000 * 3, "<i2").tobytes())
    with pytest.raises(InputError) as err:
        preprocess(path, SMALL, **call)
    assert_refused(err, path, "not_video", "no video stream")
    audio_only = PreprocessConfig(num_frames=8, frame_size=48, modalities=("audio",), short_clip="pad")
    arrays = preprocess(path, audio_only, **call)
    arrays = arrays[0] if isinstance(arrays, list) else arrays
    assert arrays.video is None and arrays.mfcc.shape == (13, 212)


def test_arguments_that_do_not_go_together(clip):
    rec, _ = clip
    with pytest.raises(ValueError, match="a span or windows, not both"):
        preprocess(rec.path, SMALL, span=(0.0, 2.0), windows=[(0.0, 2.0)])
    with pytest.raises(ValueError, match="audio_path is the audio of a span"):
        preprocess(rec.path, SMALL, audio_path=rec.path)
    with pytest.raises(ValueError, match="modalities must be"):
        preprocess(rec.path, SMALL, windows=[(0.0, 2.0)], modalities=("face",))
    assert preprocess(rec.path, SMALL, windows=[]) == []
