"""Files cut short that still decode up to the cut are `corrupt`, not padded with their last frame."""

import shutil

import av
import pytest

from avemotion.config import PreprocessConfig
from avemotion.data.audio import decode_audio
from avemotion.data.datasets import scan_dataset
from avemotion.data.media import probe
from avemotion.data.prepare import prepare
from avemotion.data.preprocess import preprocess
from avemotion.errors import InputError

PAD = PreprocessConfig(num_frames=4, frame_size=32, short_clip="pad")
SMALL = PreprocessConfig(num_frames=4, frame_size=32)


def cut_in_half(src, dst):
    dst.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    return dst


def to_mkv(src, dst):
    """Re-encode src (video and audio) into a Matroska file with PyAV."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="matroska") as out:
        vin = inp.streams.video[0]
        vs = out.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
        vs.width, vs.height, vs.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        aus = out.add_stream("aac", rate=44100, layout="mono")
        for frame in inp.decode(vin):
            out.mux(vs.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")))
        out.mux(vs.encode())
        inp.seek(0)
        for frame in inp.decode(inp.streams.audio[0]):
            frame.pts = None  # let the encoder number the samples
            out.mux(aus.encode(frame))
        out.mux(aus.encode())
    return dst


def assert_truncated(path, cfg, landmarks=None):
    with pytest.raises(InputError) as err:
        preprocess(path, cfg, landmarks=landmarks)
    assert err.value.code == "corrupt"
    assert err.value.detail.startswith("truncated: ") and "\n" not in err.value.detail
    return err.value.detail


def test_truncated_flv_is_corrupt(crema_dir, tmp_path):
    src = crema_dir / "1001_DFA_ANG_XX.flv"
    cut = cut_in_half(src, tmp_path / src.name)
    assert probe(cut).duration == pytest.approx(probe(src).duration)  # the header still claims 2.2 s
    assert assert_truncated(cut, PAD) == "truncated: video stream ends at 1.0 s of 2.2 s"
    with pytest.raises(InputError) as err:
        decode_audio(cut, 44100)
    assert err.value.code == "corrupt" and err.value.detail == "truncated: audio stream ends at 1.0 s of 2.2 s"
    assert preprocess(src, PAD).video.shape == (4, 32, 32, 3)


def test_intact_real_and_synthetic_clips_are_complete(crema_dir, synth_corpus):
    for path in sorted(crema_dir.glob("*.flv")):
        assert len(decode_audio(path, 44100)) / 44100 == pytest.approx(probe(path).duration, abs=0.1)
    for rec in scan_dataset(synth_corpus).records[::10]:
        assert preprocess(rec.path, SMALL, landmarks=rec.landmarks).video.shape == (4, 32, 32, 3)


def test_truncated_mkv_is_corrupt(synth_corpus, tmp_path):
    rec = scan_dataset(synth_corpus).records[0]
    mkv = to_mkv(rec.path, tmp_path / "clip.mkv")
    whole = preprocess(mkv, SMALL, landmarks=rec.landmarks)
    assert whole.face_source == "landmarks" and whole.mfcc.shape == (13, 212)
    detail = assert_truncated(cut_in_half(mkv, tmp_path / "cut.mkv"), SMALL, rec.landmarks)
    assert detail.startswith("truncated: video stream ends at 1.")


def test_prepare_reports_truncated_files(crema_dir, synth_corpus, tmp_path):
    crema = tmp_path / "crema"
    crema.mkdir()
    for src in sorted(crema_dir.glob("*.flv")):
        shutil.copy(src, crema / src.name)
    cut_in_half(crema_dir / "1001_DFA_ANG_XX.flv", crema / "1001_DFA_ANG_XX.flv")
    report = prepare(crema, tmp_path / "c1", PAD, workers=1)
    assert report.prepared == 2
    assert [(f["file"].split("/")[-1], f["reason"]) for f in report.failed] == [("1001_DFA_ANG_XX.flv", "corrupt")]
    assert report.failed[0]["detail"].startswith("truncated: ")

    # RAVDESS layout: a Matroska file under an .mp4 name (the decoder goes by content) cut in half
    ravdess = tmp_path / "ravdess"
    recs = scan_dataset(synth_corpus).records[:2]
    (ravdess / "Actor_01").mkdir(parents=True)
    (ravdess / "landmarks").mkdir()
    for rec in recs:
        shutil.copy(rec.landmarks, ravdess / "landmarks" / rec.landmarks.name)
    shutil.copy(recs[0].path, ravdess / "Actor_01" / recs[0].path.name)
    mkv = to_mkv(recs[1].path, tmp_path / "whole.mkv")
    cut_in_half(mkv, ravdess / "Actor_01" / recs[1].path.name)
    report = prepare(ravdess, tmp_path / "c2", SMALL, workers=1)
    assert report.prepared == 1
    assert [(f["file"].split("/")[-1], f["reason"]) for f in report.failed] == [(recs[1].path.name, "corrupt")]
