import sys
import wave
from pathlib import Path

import librosa
import numpy as np
import pytest

from avemotion.config import PreprocessConfig
from avemotion.data import faces
from avemotion.data.audio import compute_mfcc, decode_audio
from avemotion.data.datasets import scan_dataset
from avemotion.data.face_plan import sample_times
from avemotion.data.media import probe, stream_frames
from avemotion.data.preprocess import preprocess
from avemotion.errors import InputError

sys.path.insert(0, str(Path(__file__).parent))
from odd_media import crema_frames, write_av  # noqa: E402

SMALL = PreprocessConfig(num_frames=8, frame_size=48)
SR = 44100


def test_mfcc_matches_librosa_directly():
    cfg = PreprocessConfig()
    rng = np.random.default_rng(0)
    y = (rng.standard_normal(cfg.audio_samples) * 0.1).astype(np.float32)
    got = compute_mfcc(y, cfg)
    want = librosa.feature.mfcc(y=y, sr=44100, n_mfcc=13, n_fft=2048, hop_length=512, n_mels=128)
    assert got.shape == (13, 212) == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    short = compute_mfcc(y[:44100], cfg)  # padded to 212 frames
    assert short.shape == (13, 212) and np.all(short[:, 100:] == 0)


def voice_like(t: np.ndarray) -> np.ndarray:
    """A band-limited test signal known at any time t (s): tones from 110 Hz to 8 kHz (under 0.75 x
    the lowest rate's Nyquist, 11025 Hz) under a 3 Hz envelope; peak about 0.55."""
    freqs = np.array([110, 220, 440, 1000, 2500, 5000, 8000])
    amps = np.array([0.24, 0.16, 0.12, 0.08, 0.064, 0.04, 0.024])
    phases = np.linspace(0, 2, len(freqs))
    tones = (amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t[None] + phases[:, None])).sum(axis=0)
    return (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) * tones


def write_wav(path, samples: np.ndarray, rate: int):
    """16-bit PCM, samples (n,) or (channels, n), with the standard library's writer (nothing of
    PyAV or FFmpeg)."""
    samples = np.atleast_2d(samples)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.round(samples.T * 32767).astype("<i2").tobytes())  # interleaved frames
    return path


@pytest.mark.parametrize("rate, channels", [(44100, 1), (22050, 1), (48000, 1), (48000, 2)])
def test_decoded_audio_matches_the_samples_written(tmp_path, rate, channels):
    """decode_audio against the signal itself: a band-limited signal resampled to 44.1 kHz is that
    signal sampled at 44.1 kHz, so the reference needs no resampler at all. In stereo the channels
    differ (signal +/- a 300 Hz tone) and the mono mix is their mean, as librosa's: the signal.

    Tolerance 1e-3 (60 dB under full scale), away from the first and last 10 ms where the
    resampling filter runs into the ends of the track: 16-bit storage adds at most 1.5e-5 and
    FFmpeg's windowed-sinc resampler a passband error of a few 1e-5 at these frequencies (measured
    4e-5 at most). A one-sample shift (0.03 at 8 kHz) or a 1 % gain error (0.005) is far outside."""
    seconds = 1.5
    t = np.arange(int(seconds * rate)) / rate
    written = voice_like(t)
    stored = written if channels == 1 else written + np.array([[1], [-1]]) * 0.1 * np.sin(2 * np.pi * 300 * t)
    path = write_wav(tmp_path / f"voice_{rate}_{channels}.wav", stored, rate)
    got = decode_audio(path, SR)
    assert got.dtype == np.float32 and got.ndim == 1
    assert abs(len(got) - seconds * SR) <= 1
    want = voice_like(np.arange(len(got)) / SR)
    edge = SR // 100
    np.testing.assert_allclose(got[edge:-edge], want[edge:-edge], rtol=0, atol=1e-3)
    if rate == SR and channels == 1:  # no resampling, no mix: the 16-bit samples exactly
        np.testing.assert_array_equal(got, np.round(written * 32767).astype(np.int16) / np.float32(32768))


def test_clip_audio_window_matches_direct_computation(synth_corpus, tmp_path):
    """A synthetic clip's frames with a known track (16-bit PCM at 44.1 kHz, so decoding is exact):
    the clip's MFCC is librosa's MFCC of the written samples from audio_offset (0.5 s) on."""
    rec = scan_dataset(synth_corpus).records[3]
    rng = np.random.default_rng(0)
    n = round(3.5 * SR)
    t = np.arange(n) / SR
    # noise under a syllable-like envelope plus a chirp: every window start gives other MFCCs
    track = 0.2 * rng.standard_normal(n) * (0.55 + 0.45 * np.sin(2 * np.pi * 2.3 * t)) + 0.1 * np.sin(2 * np.pi * (200 + 300 * t) * t)
    track = np.round(np.clip(track, -1, 1) * 32767) / 32768  # on the 16-bit grid: stored exactly
    frames = crema_frames(rec.path)  # the synthetic clip's own frames, so its landmark CSV applies
    path = write_av(tmp_path / "known_audio.mkv", frames, 30, container="matroska",
                    audio=track.astype(np.float32), rate=SR, acodec="pcm_s16le")
    arrays = preprocess(path, SMALL, landmarks=rec.landmarks)
    window = track[SR // 2 : SR // 2 + SMALL.audio_samples].astype(np.float32)
    want = librosa.feature.mfcc(y=window, sr=SR, n_mfcc=13, n_fft=2048, hop_length=512, n_mels=128)
    np.testing.assert_allclose(arrays.mfcc, want, rtol=1e-4, atol=1e-3)
    # the window is pinned: the MFCC of the track 10 ms later or earlier is far from it
    for shift in (-441, 441):
        moved = track[SR // 2 + shift : SR // 2 + shift + SMALL.audio_samples].astype(np.float32)
        other = librosa.feature.mfcc(y=moved, sr=SR, n_mfcc=13, n_fft=2048, hop_length=512, n_mels=128)
        assert np.abs(other - arrays.mfcc).max() > 1
    assert arrays.video.shape == (8, 48, 48, 3) and arrays.face_source == "landmarks"


def test_clip_probe_and_span(synth_corpus):
    rec = scan_dataset(synth_corpus).records[3]
    arrays = preprocess(rec.path, SMALL, landmarks=rec.landmarks)
    assert arrays.video.shape == (8, 48, 48, 3) and arrays.face_source == "landmarks"
    info = probe(rec.path)
    assert 3.1 < info.duration < 3.7 and info.has_audio and (info.width, info.height) == (160, 120)
    assert arrays.start == 0 and arrays.end == pytest.approx(info.duration)


def test_sample_times():
    np.testing.assert_allclose(sample_times(0, 3.0, 30), np.arange(30) * 0.1)


def test_windows_share_one_decode(synth_corpus, monkeypatch):
    import avemotion.data.face_plan as face_plan
    import avemotion.data.preprocess as pre

    calls = {"audio": 0, "frames": 0}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(pre, "decode_audio", counted("audio", pre.decode_audio))
    monkeypatch.setattr(face_plan, "sample_faces", counted("frames", face_plan.sample_faces))
    rec = scan_dataset(synth_corpus).records[0]
    out = preprocess(rec.path, SMALL, windows=[(0.0, 3.0), (0.2, 3.2), (1.5, 3.2)], landmarks=rec.landmarks)
    assert calls == {"audio": 1, "frames": 1}  # one decode of each stream for the three windows
    assert out[0].video.shape == (8, 48, 48, 3) and out[1].start == 0.2
    assert isinstance(out[2], InputError) and out[2].code == "too_short"


def test_fixed_crop_geometry():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[40:60, 90:110] = 255  # a white 20x20 square = "the face"
    crop = faces.crop_fixed(frame, (90, 40, 110, 60), 40, margin=0.5)
    # box 20 px + 10 px margin each side = 40 px square, centred: white in the middle half
    assert crop.shape == (40, 40, 3)
    assert crop[10:30, 10:30].min() == 255 and crop[:9].max() == 0 and crop[:, :9].max() == 0
    # a wide box becomes square (side = width) and is zero-padded past the frame edge
    edge = faces.crop_fixed(frame, (180, 40, 220, 60), 40, margin=0.0)
    assert edge.shape == (40, 40, 3) and edge[:, 25:].max() == 0
    np.testing.assert_allclose(faces.square_box((0, 0, 40, 20), 0.25), (-10, -20, 50, 40))


def test_legacy_crop_geometry():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[20:80, 50:150] = 200  # the whole box region is grey; legacy crops exactly the box
    crop = faces.crop_legacy(frame, (50, 20, 150, 80), 50)
    assert crop.shape == (50, 50, 3)
    # tight box stretched back: only the edge pixels mix with the background, no margin, no border
    assert crop[3:-3, 3:-3].min() == 200 and crop.mean() > 190


def test_landmark_columns_found_by_header(tmp_path):
    names = [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    header = ["frame", " success"] + names[::-1]  # any order, spaces after commas
    row = [1, 1] + [float(i) for i in range(136)][::-1]
    path = tmp_path / "lm.csv"
    path.write_text(", ".join(h.strip() for h in header) + "\n" + ", ".join(map(str, row)) + "\n")
    pts = faces.read_landmarks(path)
    assert pts.shape == (1, 68, 2)
    assert pts[0, 5, 0] == 5 and pts[0, 5, 1] == 73
    (tmp_path / "bad.csv").write_text("frame, x_0, y_0\n1, 2, 3\n")
    with pytest.raises(InputError) as err:
        faces.read_landmarks(tmp_path / "bad.csv")
    assert err.value.code == "bad_landmarks"


def test_synth_landmark_header_positions(synth_corpus):
    csv = next((synth_corpus / "landmarks").glob("*.csv"))
    header = [h.strip() for h in csv.read_text().splitlines()[0].split(",")]
    assert header[297] == "x_0" and header[364] == "x_67" and header[365] == "y_0" and header[432] == "y_67"
    assert ", x_0, " in csv.read_text().splitlines()[0]


def test_synth_landmark_box_agrees_with_detector(synth_corpus):
    """The drawn face is found by Haar in most frames, inside the landmark crop."""
    recs = scan_dataset(synth_corpus).records[::12]
    hits = 0
    for rec in recs:
        a = preprocess(rec.path, SMALL, landmarks=rec.landmarks)
        b = preprocess(rec.path, SMALL)
        assert b.face_source == "detector"
        crop = faces.square_box(a.boxes[4], SMALL.margin)
        cx, cy = (b.boxes[4, 0] + b.boxes[4, 2]) / 2, (b.boxes[4, 1] + b.boxes[4, 3]) / 2
        hits += crop[0] < cx < crop[2] and crop[1] < cy < crop[3]
    assert hits >= len(recs) - 1


def test_real_clip_crop_contains_detected_face(crema_dir):
    cfg = PreprocessConfig(num_frames=6, frame_size=64, short_clip="pad")
    for path in sorted(crema_dir.glob("*.flv")):
        arrays = preprocess(path, cfg)
        assert arrays.face_source == "detector" and arrays.video.shape == (6, 64, 64, 3)
        for box in arrays.boxes:
            x0, y0, x1, y1 = box
            # the face in a 480x360 frame of a seated actor: central, 90..250 px tall
            assert 90 < x1 - x0 < 250 and 100 < (x0 + x1) / 2 < 380 and 60 < (y0 + y1) / 2 < 300
            sq = faces.square_box(box, cfg.margin)
            assert sq[0] <= x0 and sq[1] <= y0 and sq[2] >= x1 and sq[3] >= y1
        # skin dominates the centre of the crop, not the green screen (R > G)
        centre = arrays.video[:, 24:40, 24:40].astype(int)
        assert (centre[..., 0] > centre[..., 1]).mean() > 0.8


def test_real_clip_short_policy(crema_dir):
    path = crema_dir / "1001_DFA_ANG_XX.flv"
    with pytest.raises(InputError) as err:
        preprocess(path, PreprocessConfig(num_frames=4, frame_size=32))
    assert err.value.code == "too_short" and "--pad-short" in err.value.detail
    arrays = preprocess(path, PreprocessConfig(num_frames=4, frame_size=32, short_clip="pad"))
    assert arrays.mfcc.shape == (13, 212)
    assert np.all(arrays.mfcc[:, -20:] == arrays.mfcc[:, -1:])  # zero-padded tail = constant frames


def assert_same_arrays(a, b):
    assert a.face_source == b.face_source and (a.start, a.end) == (b.start, b.end)
    np.testing.assert_array_equal(a.video, b.video)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(a.mfcc, b.mfcc)


@pytest.mark.parametrize("use_landmarks", [True, False])
def test_whole_clip_window_equals_the_whole_clip(synth_corpus, use_landmarks):
    rec = scan_dataset(synth_corpus).records[5]
    landmarks = rec.landmarks if use_landmarks else None
    whole = preprocess(rec.path, SMALL, landmarks=landmarks)
    (window,) = preprocess(rec.path, SMALL, windows=[(0.0, probe(rec.path).duration)], landmarks=landmarks)
    assert whole.face_source == ("landmarks" if use_landmarks else "detector")
    assert_same_arrays(whole, window)


def test_overlapping_windows_equal_each_window_alone(synth_corpus, monkeypatch):
    """Shared frames are decoded and detected once, and no window sees another's faces."""
    rec = scan_dataset(synth_corpus).records[7]
    # Haar searches every sampled frame (the dlib detectors every other one: tests/data/test_detectors.py)
    cfg = PreprocessConfig(num_frames=30, frame_size=32, crop="legacy", detector="haar")
    windows = [(0.0, 2.96), (0.1, 3.06), (0.05, 2.0), (0.0, 2.96)]
    alone = [preprocess(rec.path, cfg, windows=[w])[0] for w in windows]
    calls = []
    real_detect = faces.detect_faces
    monkeypatch.setattr(faces, "detect_faces", lambda frame, *args: calls.append(1) or real_detect(frame, *args))
    together = preprocess(rec.path, cfg, windows=windows)
    for a, b in zip(alone, together):
        assert_same_arrays(a, b)
    # one Haar run per distinct source frame: 30 fps, 30 samples 0.1 s apart, shifted by 0.1 s or 0.05 s
    times = np.concatenate([sample_times(s, e, 30) for s, e in windows])
    distinct = list(stream_frames(rec.path, times))
    assert len(calls) == len(distinct) < len(times) - 60
    assert sorted(p for _, _, positions in distinct for p in positions) == list(range(len(times)))


def test_stream_frames_yields_each_frame_once_in_order(synth_corpus):
    rec = scan_dataset(synth_corpus).records[0]
    times = np.array([1.0, 0.0, 1.0, 0.5, 0.51, 9.0])  # unsorted, repeated, past the end
    got = list(stream_frames(rec.path, times))
    indices = [i for i, _, _ in got]
    assert indices == sorted(set(indices)) and indices[:3] == [0, 15, 30]
    # an intact stream ends at its stated duration: a later time is shown its last frame, no error
    assert indices[3] == round(probe(rec.path).duration * 30) - 1
    assert [sorted(p) for _, _, p in got] == [[1], [3, 4], [0, 2], [5]]
    assert all(frame.shape == (120, 160, 3) for _, frame, _ in got)
