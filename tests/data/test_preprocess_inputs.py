"""Real-world inputs through the shared preprocessing: phone rotation, streams that do not start at 0,
variable frame rate, any audio layout, small frames, two faces, images, misleading bytes.
Every file is generated here with PyAV, a few seconds at low resolution (faces from CREMA-D)."""

import sys
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest

from avemotion.config import PreprocessConfig
from avemotion.data import face_plan, faces
from avemotion.data.audio import compute_mfcc, decode_audio
from avemotion.data.face_plan import sample_times
from avemotion.data.media import looks_like_media, probe, stream_frames
from avemotion.data.preprocess import preprocess
from avemotion.errors import InputError

sys.path.insert(0, str(Path(__file__).parent))
from odd_media import crema_audio, crema_frames, tone, write_av, write_gif  # noqa: E402

SMALL = PreprocessConfig(num_frames=6, frame_size=48)
SR = 44100


@pytest.fixture(scope="module")
def angry(crema_dir):
    return crema_dir / "1001_DFA_ANG_XX.flv"


@pytest.fixture(scope="module")
def portrait(angry):
    """Upright portrait frames (180x240): the centre of the CREMA-D clip, 15 fps, about 2.2 s."""
    import cv2

    return [cv2.resize(f[:, 105:375], (180, 240), interpolation=cv2.INTER_AREA) for f in crema_frames(angry, every=2)]


def face_windows(path, windows=((0.0, 2.0),), cfg=SMALL):
    return preprocess(path, cfg, windows=list(windows), modalities=("video",))


# --- phone video: rotation metadata -------------------------------------------------------------

@pytest.mark.parametrize("degrees, how", [(-90, "matrix"), (90, "matrix"), (180, "matrix"), (-90, "tag")])
def test_rotated_phone_video_gives_upright_face_crops(tmp_path, portrait, degrees, how):
    """Phones store portrait video as landscape frames plus a display rotation: the face must be
    detected and cropped upright, exactly where it is in the upright file."""
    upright = face_windows(write_av(tmp_path / "upright.mp4", portrait, 15))[0]
    stored = [np.rot90(f, -degrees // 90) for f in portrait]  # what the sensor wrote
    if how == "matrix":
        path = write_av(tmp_path / "phone.mp4", stored, 15, rotation=degrees)
    else:  # a Matroska / old-muxer tag, in clockwise degrees
        path = write_av(tmp_path / "phone.mkv", stored, 15, container="matroska", metadata={"rotate": str(-degrees)})
    rotated = face_windows(path)[0]
    np.testing.assert_allclose(rotated.boxes, upright.boxes, atol=8)
    assert np.abs(rotated.video.astype(int) - upright.video.astype(int)).mean() < 8
    if how == "matrix" and degrees != 180:
        assert probe(path).width > probe(path).height  # stored landscape; frames come out portrait


# --- timestamps: streams that do not start at 0, variable frame rate -------------------------------

def burst_at(seconds: float, total: float) -> np.ndarray:
    """Silence with a 0.1 s tone starting at `seconds` (the marker whose position is checked)."""
    audio = np.zeros(int(total * SR), np.float32)
    audio[int(seconds * SR):int((seconds + 0.1) * SR)] = tone(0.1)[0][: int(0.1 * SR)]
    return audio


def onset(audio: np.ndarray) -> float:
    return np.flatnonzero(np.abs(audio) > 0.05)[0] / SR


@pytest.mark.parametrize("container, acodec, video_start, audio_start", [
    ("matroska", "pcm_s16le", 0.0, 0.5),  # audio starts 0.5 s after the first frame
    ("matroska", "pcm_s16le", 0.5, 0.0),  # audio starts 0.5 s before it
    ("mp4", "aac", 0.0, 0.5),
    ("mp4", "aac", 0.5, 0.0),
    ("mp4", "aac", 0.0, 0.0),
])
def test_audio_is_on_the_video_clock(tmp_path, container, acodec, video_start, audio_start):
    """A marker at 2.0 s of the recording is at 2.0 - video_start s of the clip, whatever the audio start."""
    frames = [np.full((48, 64, 3), 90, np.uint8)] * 90  # 3 s at 30 fps
    audio = burst_at(2.0 - audio_start, 3.5 - audio_start)
    path = write_av(tmp_path / f"clip.{'mkv' if container == 'matroska' else 'mp4'}", frames, 30, container=container,
                    video_start=video_start, audio=audio, acodec=acodec, audio_start=audio_start)
    assert onset(decode_audio(path, SR)) == pytest.approx(2.0 - video_start, abs=0.03)


def test_streams_starting_late_in_matroska_are_not_truncated(tmp_path):
    """Matroska states end times: a file whose streams start at 1.5 s and last 3 s says 4.5 s."""
    frames = [np.full((48, 64, 3), 90, np.uint8)] * 90
    path = write_av(tmp_path / "late.mkv", frames, 30, container="matroska", video_start=1.5,
                    audio=tone(3.0)[0], acodec="pcm_s16le", audio_start=1.5)
    info = probe(path)
    assert info.duration == pytest.approx(3.0, abs=0.05)
    assert len(list(stream_frames(path, sample_times(0, info.duration, 6)))) == 6  # no "truncated"
    assert len(decode_audio(path, SR)) / SR == pytest.approx(3.0, abs=0.05)


def test_variable_frame_rate_is_sampled_by_timestamp(tmp_path):
    """The frame shown at t is the last one with pts <= t, whatever the gaps between frames."""
    rng = np.random.default_rng(0)
    gaps = rng.choice([1 / 60, 1 / 30, 1 / 10, 0.3], size=40)
    pts = np.concatenate([[0.0], np.cumsum(gaps)[:-1]])
    frames = [np.full((48, 64, 3), 5 * i, np.uint8) for i in range(40)]  # brightness = index
    path = write_av(tmp_path / "vfr.mkv", frames, 30, pts=pts, container="matroska")
    times = sample_times(0, pts[-1], 12)
    stored = np.round(pts * 1000) / 1000  # Matroska keeps milliseconds
    shown = {p: (i, rgb) for i, rgb, positions in stream_frames(path, times) for p in positions}
    for p, t in enumerate(times):
        want = np.searchsorted(stored, t + 1e-6, side="right") - 1
        index, rgb = shown[p]
        assert index == want and abs(int(rgb.mean()) - 5 * want) <= 3


# --- audio formats ------------------------------------------------------------------------------

@pytest.mark.parametrize("container, suffix, codec, rate, layout", [
    ("mp4", "mp4", "aac", 8000, "mono"),
    ("mp4", "m4a", "aac", 48000, "stereo"),
    ("mp4", "mp4", "aac", 44100, "5.1"),
    ("matroska", "mkv", "pcm_s16le", 44100, "stereo"),
    ("mov", "mov", "pcm_f32le", 22050, "mono"),
    ("mp3", "mp3", "libmp3lame", 44100, "stereo"),
    ("webm", "webm", "libopus", 48000, "stereo"),
    ("matroska", "mka", "ac3", 48000, "5.1"),
])
def test_any_audio_layout_rate_and_format_becomes_mono_44k(tmp_path, container, suffix, codec, rate, layout):
    channels = av.AudioLayout(layout).nb_channels
    path = write_av(tmp_path / f"a.{suffix}", container=container, audio=tone(1.5, rate, channels=channels),
                    rate=rate, layout=layout, acodec=codec)
    audio = decode_audio(path, SR)
    assert audio.dtype == np.float32 and np.isfinite(audio).all()
    assert len(audio) / SR == pytest.approx(1.5, abs=0.1)
    spectrum = np.abs(np.fft.rfft(audio[SR // 4: SR // 4 + SR]))
    assert abs(np.argmax(spectrum) - 440) <= 3  # 1 s of signal: bin = Hz


def test_silent_audio_gives_finite_mfcc():
    assert np.isfinite(compute_mfcc(np.zeros(SMALL.audio_samples, np.float32), SMALL)).all()


def test_decode_audio_holds_the_track_once(tmp_path):
    """A minute of audio: the peak of numpy allocations stays near one copy of the track
    (chunks plus their concatenation held it two to three times)."""
    path = write_av(tmp_path / "minute.wav", container="wav", audio=tone(60.0)[0], acodec="pcm_s16le")
    tracemalloc.start()
    try:
        audio = decode_audio(path, SR)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(audio) == pytest.approx(60 * SR, abs=SR // 10)
    assert peak < 1.3 * audio.nbytes


# --- video: size, faces -------------------------------------------------------------------------

def test_small_video_face_is_found(tmp_path, angry):
    """In a 64x48 video the face is smaller than the Haar window: it is searched on an upscaled copy."""
    path = write_av(tmp_path / "tiny.mp4", crema_frames(angry, (64, 48), every=2), 15)
    arrays = face_windows(path)[0]
    assert arrays.video.shape == (6, 48, 48, 3)
    assert all(10 < (b[0] + b[2]) / 2 < 50 for b in arrays.boxes)


def test_two_faces_the_crop_follows_one(tmp_path, angry, crema_dir):
    """The same actor twice side by side (two equal faces): every sampled frame crops the same one."""
    left = crema_frames(angry, (240, 180))
    right = crema_frames(crema_dir / "1001_DFA_NEU_XX.flv", (240, 180))
    n = min(len(left), len(right))
    path = write_av(tmp_path / "two.mp4", [np.concatenate([a, b], axis=1) for a, b in zip(left[:n], right[:n])], 30)
    cfg = PreprocessConfig(num_frames=16, frame_size=32)
    (arrays,) = face_windows(path, [(0.0, 1.8)], cfg)
    sides = {bool((b[0] + b[2]) / 2 < 240) for b in arrays.boxes}
    assert len(sides) == 1, arrays.boxes


def test_follow_face_keeps_one_person_and_every_shot():
    a = np.array([10, 10, 50, 50], np.float32)
    b = np.array([100, 10, 140, 50], np.float32)
    small = np.array([100, 10, 120, 30], np.float32)
    # two equal faces, which one is larger (listed first) alternating by a pixel: the crop stays on one
    alternating = [np.stack([a + [0, 0, 1, 1], b]) if i % 2 == 0 else np.stack([b + [0, 0, 1, 1], a]) for i in range(6)]
    assert faces.follow_face(alternating) == [0, 1, 0, 1, 0, 1]  # face `a` each time
    # a smaller second person: never taken, even where the big face is missed
    assert faces.follow_face([np.stack([a, small]), small[None], np.stack([a, small])]) == [0, None, 0]
    # a cut: the face moves between shots and is never seen in both; each shot keeps its own box
    assert faces.follow_face([a[None], a[None], b[None], b[None]]) == [0, 0, 0, 0]
    assert faces.follow_face([np.zeros((0, 4)), a[None]]) == [None, 0]


def test_window_without_a_face_is_reported_not_borrowed(tmp_path, angry):
    """Face for 1.5 s, then a black screen: the second window has no face of its own."""
    face = crema_frames(angry, (240, 180), every=2)[:23]
    path = write_av(tmp_path / "leaves.mp4", face + [np.zeros_like(face[0])] * 23, 15)
    with_face, without = face_windows(path, [(0.0, 1.4), (1.6, 3.0)])
    assert with_face.video.shape == (6, 48, 48, 3)
    assert isinstance(without, InputError) and without.code == "no_face" and "1.6-3.0 s" in without.detail


def test_faceless_frames_are_decoded_again_beyond_the_budget(tmp_path, angry, monkeypatch):
    """Frames without a face are cropped with their window's box: from memory, or from a second
    decode when they do not fit the budget (same pixels either way)."""
    frames = crema_frames(angry, (240, 180), every=2)
    frames = [f if i % 3 else np.zeros_like(f) for i, f in enumerate(frames)]  # every third frame black
    path = write_av(tmp_path / "blink.mp4", frames, 15)
    cfg = PreprocessConfig(num_frames=12, frame_size=32)
    kept = face_windows(path, [(0.0, 2.0), (0.2, 2.1)], cfg)
    monkeypatch.setattr(face_plan, "FACELESS_BUDGET", 0)
    again = face_windows(path, [(0.0, 2.0), (0.2, 2.1)], cfg)
    for a, b in zip(kept, again):
        np.testing.assert_array_equal(a.video, b.video)
        np.testing.assert_array_equal(a.boxes, b.boxes)


# --- what is not a video --------------------------------------------------------------------------

def test_images_are_not_videos(tmp_path, angry):
    import cv2

    frame = crema_frames(angry, (160, 120))[0]
    cv2.imwrite(str(tmp_path / "still.png"), frame)
    cv2.imwrite(str(tmp_path / "still.jpg"), frame)
    write_gif(tmp_path / "anim.gif", crema_frames(angry, (160, 120), every=8))
    for name, kind in (("still.png", "png"), ("still.jpg", "jpeg"), ("anim.gif", "gif")):
        with pytest.raises(InputError) as err:
            probe(tmp_path / name)
        assert err.value.code == "not_video" and err.value.detail == f"an image ({kind}), not a video"


def test_text_is_not_video_even_with_box_names_inside(tmp_path):
    """Only an MP4 box type at bytes 4-8 (or a real signature) makes a file that fails to open 'corrupt'."""
    for text in ("a wide range of notes\n", "free text\n", "skip this\n", "moov it\n"):
        path = tmp_path / "notes.mp4"
        path.write_text(text * 20)
        with pytest.raises(InputError) as err:
            probe(path)
        assert err.value.code == "not_video", text
    assert not looks_like_media(b"a wide range of notes")
    assert looks_like_media(b"\x00\x00\x00\x20ftypisom") and looks_like_media(b"\x00\x00\x00\x08free")
    assert looks_like_media(b"\xff\xfb\x90\x00") and looks_like_media(b"\xff\xf1\x50\x80")  # mp3, ADTS
    assert looks_like_media(b"\x1a\x45\xdf\xa3") and looks_like_media(b"FLV\x01")
    assert not looks_like_media(b"G" + b"x" * 300)  # a text starting with the TS sync byte
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="empty file") as err:
        probe(tmp_path / "empty.mp4")
    assert err.value.code == "corrupt"


def test_non_ascii_name_with_spaces(tmp_path, angry):
    path = write_av(tmp_path / "ünïcode clip ñ 表情.mp4", crema_frames(angry, (240, 180), every=2), 15,
                    audio=crema_audio(angry))
    arrays = preprocess(path, PreprocessConfig(num_frames=4, frame_size=32, short_clip="pad"))
    assert arrays.video.shape == (4, 32, 32, 3) and arrays.mfcc.shape == (13, 212)
