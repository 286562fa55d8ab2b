"""The voice pipeline's preprocessing (data/voice.py): activity detector, level, windows, input checks."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from avemotion.data.audio import check_finite
from avemotion.data.voice import VoiceConfig, load_utterance, prepare_wave, speech_span, window_starts, windows
from avemotion.errors import InputError

SR = 16000
CFG = VoiceConfig()


def burst(seconds: float, rng, level: float = 0.1) -> np.ndarray:
    """Voice-like noise: a 200 Hz buzz with noise, at roughly `level` amplitude."""
    t = np.arange(round(seconds * SR)) / SR
    return (level * (np.sign(np.sin(2 * np.pi * 200 * t)) * 0.5 + rng.normal(0, 0.5, len(t)))).astype(np.float32)


def test_speech_span_trims_the_silence_around_the_speech_and_keeps_the_pad():
    rng = np.random.default_rng(0)
    wave = np.concatenate([np.zeros(SR, np.float32), burst(1.0, rng), np.zeros(SR // 2, np.float32)])
    first, end = speech_span(wave, CFG)
    # a 25 ms frame that overlaps the burst at all is loud: the edges are found to within a frame
    assert -0.026 <= first / SR - (1.0 - CFG.vad_pad) <= 0.011
    assert -0.011 <= end / SR - (2.0 + CFG.vad_pad) <= 0.026


def test_quiet_room_noise_is_not_speech_but_hiss_under_the_floor_is_refused():
    rng = np.random.default_rng(1)
    hiss = rng.normal(0, 1e-4, SR * 2).astype(np.float32)  # -80 dBFS: below the absolute floor
    assert speech_span(hiss, CFG) is None
    with pytest.raises(InputError, match="no speech"):
        prepare_wave("hiss.wav", hiss, CFG)


def test_prepare_wave_sets_the_speech_to_the_level_whatever_the_recording_level():
    rng = np.random.default_rng(2)
    for level in (0.003, 0.03, 0.3):
        utt = prepare_wave("x.wav", np.concatenate([np.zeros(SR // 2, np.float32), burst(1.5, rng, level)]), CFG)
        rms_db = 20 * np.log10(np.sqrt(np.mean(utt.wave.astype(np.float64) ** 2)))
        assert abs(rms_db - CFG.level_dbfs) < 0.5


def test_too_little_speech_is_refused_with_the_file_named():
    rng = np.random.default_rng(3)
    wave = np.concatenate([np.zeros(SR, np.float32), burst(0.1, rng), np.zeros(SR, np.float32)])
    with pytest.raises(InputError) as err:
        prepare_wave("tiny.wav", wave, CFG)
    assert err.value.code == "too_short" and "tiny.wav" in str(err.value)


def test_nonfinite_samples_are_a_bad_file():
    wave = np.ones(100, np.float32)
    wave[5] = np.nan
    with pytest.raises(InputError, match="NaN or infinite"):
        check_finite("nan.wav", wave)


@pytest.mark.parametrize("seconds", [0.4, 3.0, 3.01, 9.0, 31.3])
def test_windows_cover_every_sample_and_short_ones_are_one_masked_window(seconds):
    n = round(seconds * SR)
    wave = np.arange(n, dtype=np.float32)
    ws, lengths = windows(wave, CFG)
    starts = window_starts(n, CFG)
    covered = np.zeros(n, bool)
    for s, length in zip(starts, lengths):
        covered[s:s + length] = True
    assert covered.all()
    assert (lengths <= CFG.window_samples).all()
    for w, s, length in zip(ws, starts, lengths):
        np.testing.assert_array_equal(w[:length], wave[s:s + length])
        assert not w[length:].any()  # the padding is zeros (the model masks it)
    if n <= CFG.window_samples:
        assert len(ws) == 1 and lengths[0] == n


def test_real_files_of_1_2_and_9_seconds_load(emodb_dir):
    """EmoDB's shortest and longest utterances: both give speech at the set level."""
    durations = {p: sf.info(p).duration for p in sorted(emodb_dir.glob("*.flac"))}
    shortest, longest = min(durations, key=durations.get), max(durations, key=durations.get)
    assert durations[shortest] < 1.3 and durations[longest] > 8.5
    for path in (shortest, longest):
        utt = load_utterance(path, CFG)
        assert 0.3 < len(utt.wave) / SR <= durations[path] + 0.01
        assert utt.speech_start >= 0 and utt.speech_end <= utt.duration + 0.01


def test_the_config_hash_changes_with_every_setting():
    import dataclasses

    base = VoiceConfig()
    hashes = {base.hash()}
    for f in dataclasses.fields(VoiceConfig):
        value = getattr(base, f.name)
        changed = dataclasses.replace(base, **{f.name: value * 0.5 if f.name in ("fmax", "window_hop") else value + 1})
        hashes.add(changed.hash())
    assert len(hashes) == len(dataclasses.fields(VoiceConfig)) + 1
