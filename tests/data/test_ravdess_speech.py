"""The real RAVDESS speech audio (../shared/data/ravdess-speech, CC BY-NC-SA 4.0, see its README):
the audio-only adapter, an MFCC-only cache, the stereo files and the duplicate pair of Actor_07."""

from __future__ import annotations

import numpy as np

from avemotion.config import PreprocessConfig
from avemotion.data.datasets import scan_dataset

STEREO = "Actor_01/03-01-02-01-01-02-01.flac"  # one of the corpus's 5 stereo files
DUPLICATES = ["03-01-03-01-02-01-07", "03-01-03-01-02-02-07"]  # identical samples (corpus README)


def test_the_full_corpus_is_found_as_an_audio_only_ravdess_corpus(ravdess_speech_dir):
    scan = scan_dataset(ravdess_speech_dir)
    assert scan.dataset == "ravdess" and scan.modalities == ("audio",)
    assert len(scan.records) == 1440 and not scan.errors
    assert sorted({r.actor for r in scan.records}) == list(range(1, 25))
    counts = np.bincount([r.label for r in scan.records])
    assert counts.tolist() == [96] + [192] * 7
    assert {r.gender for r in scan.records if r.actor == 7} == {"male"}


def test_prepare_writes_an_mfcc_only_cache_and_warns_of_the_duplicate_pair(speech_subset_prepared):
    report, cache = speech_subset_prepared
    assert cache.modalities == ("audio",)
    assert report.prepared == report.found == 8 * 60 and not report.failed
    assert not list(cache.clips.glob("*.video.npy")), "an audio-only cache holds no video"
    video, mfcc = cache.load(DUPLICATES[0])
    assert video is None and mfcc.shape == (13, 212)
    assert report.duplicates == [DUPLICATES]
    assert any(all(d in w for d in DUPLICATES) for w in report.warnings)


def test_cached_mfcc_of_a_real_flac_equals_librosa_on_the_decoded_samples(speech_subset_prepared, ravdess_speech_dir):
    import librosa

    from avemotion.data.audio import decode_audio

    _, cache = speech_subset_prepared
    path = ravdess_speech_dir / "Actor_02/03-01-05-02-01-01-02.flac"
    cfg = cache.config
    samples = decode_audio(path, cfg.sample_rate)
    first = round(cfg.audio_offset * cfg.sample_rate)
    window = samples[first:first + cfg.audio_samples]
    expected = librosa.feature.mfcc(y=window, sr=44100, n_mfcc=13, n_fft=2048, hop_length=512, n_mels=128)
    assert expected.shape == (13, 212)
    np.testing.assert_allclose(cache.load(path.stem)[1], expected, rtol=1e-5, atol=1e-3)


def test_decoded_real_audio_matches_an_independent_decoder_and_resampler(ravdess_speech_dir):
    import librosa
    import soundfile

    from avemotion.data.audio import decode_audio

    path = ravdess_speech_dir / "Actor_03/03-01-04-01-02-01-03.flac"
    native, rate = soundfile.read(path, dtype="float32")
    assert rate == 48000 and native.ndim == 1
    np.testing.assert_array_equal(decode_audio(path, 48000), native)  # lossless: sample for sample
    # FFmpeg's resampler against soxr (librosa's default): the same signal to within 0.5 % of its
    # peak, except the last filter length, where each treats the end of the track its own way
    ours, theirs = decode_audio(path, 44100), librosa.resample(native, orig_sr=48000, target_sr=44100)
    assert len(ours) == len(theirs)
    assert np.abs(ours - theirs)[:-64].max() < 5e-3 * np.abs(theirs).max()  # measured: 0.23 %


def test_a_stereo_file_is_mixed_to_the_mean_of_its_channels(ravdess_speech_dir):
    import soundfile

    from avemotion.data.audio import decode_audio

    stereo, rate = soundfile.read(ravdess_speech_dir / STEREO, dtype="float32")
    assert stereo.shape[1] == 2
    # the mean, as librosa.to_mono (FFmpeg's own downmix would be (L + R) / sqrt(2): 3 dB louder)
    np.testing.assert_allclose(decode_audio(ravdess_speech_dir / STEREO, rate), stereo.mean(axis=1), atol=1e-7)


def test_an_audio_only_cache_is_refused_by_a_fusion_model_in_one_line(speech_subset_prepared, tmp_path):
    import subprocess
    import sys

    _, cache = speech_subset_prepared
    result = subprocess.run([sys.executable, "-m", "avemotion.cli.main", "train", "--model", "cfn_sr", "--data",
                             str(cache.path), "--preset", "small", "--out", str(tmp_path / "run")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and not result.stdout.strip()
    assert "'cfn_sr' needs video" in lines[0] and "holds audio" in lines[0]
    assert not (tmp_path / "run" / "fold_0").exists()


def test_audio_only_corpus_naming_is_checked(tmp_path):
    from avemotion.data.datasets.ravdess import Ravdess

    actor = tmp_path / "Actor_03"
    actor.mkdir()
    for name in ("03-01-04-01-02-01-03.wav", "01-01-04-01-02-01-03.wav", "03-01-04-01-02-01-25.flac"):
        (actor / name).write_bytes(b"")
    scan = Ravdess().scan(tmp_path)
    assert [r.clip_id for r in scan.records] == ["03-01-04-01-02-01-03"]
    reasons = sorted(e.detail for e in scan.errors)
    assert any("modality field 01 does not fit an audio file" in r for r in reasons)
    assert any("actor=25 outside 01..24" in r for r in reasons)
    assert PreprocessConfig(modalities=["audio"]).modalities == ("audio",)


def test_reproduce_all_on_an_audio_only_cache_runs_the_audio_model_and_names_the_others(speech_subset_prepared, tmp_path):
    import subprocess
    import sys

    _, cache = speech_subset_prepared
    result = subprocess.run([sys.executable, "-m", "avemotion.cli.main", "reproduce", "--models", "all", "--data",
                             str(cache.path), "--preset", "small", "--folds", "0", "--n-folds", "4", "--epochs", "1",
                             "--out", str(tmp_path / "run")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    skipped = [line for line in result.stdout.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 1 and "cfn_sr" in skipped[0] and "video" in skipped[0] and " audio," not in skipped[0]
    assert [p.name for p in (tmp_path / "run" / "fold_0").iterdir()] == ["audio"]
