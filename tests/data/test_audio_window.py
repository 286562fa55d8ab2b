"""The audio window policy (issue 23): "paper" (0.5 s in, 2.45 s; the reproduction, hash unchanged)
and "speech" (centred on the detected speech, short utterances zero-padded), on real EmoDB files of
1.2 to 9 s: they prepare and predict by default."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

from avemotion.cli.main import app
from avemotion.config import PreprocessConfig, cache_fingerprint, default_audio_window
from avemotion.data.cache import open_cache
from avemotion.data.prepare import prepare
from avemotion.data.audio import speech_span, speech_window
from avemotion.errors import InputError

EMODB = Path(__file__).parents[2].parent / "shared/data/emodb"
SHORTEST, LONGEST = "12a02Ac", "08b03Tc"  # 1.23 s and 8.98 s, the corpus's extremes
RATE = 16000
# today's (pre-audio_window) PreprocessConfig fields, written out: their hash keys every cache made so far
TODAY = {"num_frames": 30, "frame_size": 224, "crop": "fixed", "margin": 0.25, "detector": "dlib@20",
         "sample_rate": 44100, "audio_offset": 0.5, "audio_duration": 2.45, "n_mfcc": 13, "n_fft": 2048,
         "hop_length": 512, "n_mels": 128, "mfcc_frames": 212, "stft_pad": "constant", "short_clip": "error",
         "modalities": ["video", "audio"]}
LABELS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}


def literal_hash(settings: dict) -> str:
    blob = json.dumps(dict(settings, **cache_fingerprint()), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def voice(seconds: float, lead: float = 0.0, tail: float = 0.0, rate: int = RATE) -> np.ndarray:
    """A tone of `seconds` between `lead` and `tail` seconds of faint noise (a quiet room)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    parts = [rng.normal(0, 1e-4, int(lead * rate)), 0.3 * np.sin(2 * np.pi * 220 * t), rng.normal(0, 1e-4, int(tail * rate))]
    return np.concatenate(parts).astype(np.float32)


def emodb_manifest(tmp_path: Path, stems: list[str]) -> Path:
    rows = ["path,label,speaker"] + [f"{EMODB / s}.flac,{LABELS[s[5]]},{s[:2]}" for s in stems]
    path = tmp_path / "emodb.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_paper_window_keeps_every_existing_hash():
    assert PreprocessConfig().hash() == literal_hash(TODAY)
    legacy = PreprocessConfig(crop="legacy", stft_pad="reflect", short_clip="pad", detector="haar")
    assert legacy.hash() == literal_hash(dict(TODAY, crop="legacy", stft_pad="reflect", short_clip="pad", detector="haar"))
    assert "audio_window" not in PreprocessConfig().to_dict()
    assert PreprocessConfig.from_dict(TODAY).audio_window == "paper"
    speech = PreprocessConfig(audio_window="speech")
    assert speech.hash() != PreprocessConfig().hash() and PreprocessConfig.from_dict(speech.to_dict()) == speech
    with pytest.raises(ValueError, match="audio_window must be one of"):
        PreprocessConfig(audio_window="middle")


def test_a_ravdess_cache_keeps_its_hash_and_the_paper_window(ravdess_speech_dir, tmp_path):
    """prepare with no settings: RAVDESS gets the paper window, its cache the hash of today's fields."""
    corpus = tmp_path / "ravdess" / "Actor_01"
    corpus.mkdir(parents=True)
    for name in ("03-01-01-01-01-01-01.flac", "03-01-05-02-01-01-01.flac"):
        shutil.copy(ravdess_speech_dir / "Actor_01" / name, corpus / name)
    report = prepare(tmp_path / "ravdess", tmp_path / "cache", workers=1)
    assert not report.failed and report.audio_window == "paper"
    assert Path(report.cache).name == literal_hash(dict(TODAY, modalities=["audio"]))
    assert default_audio_window("ravdess") == "paper" and default_audio_window("emodb") == "speech"


def test_speech_is_found_between_quiet_stretches():
    first, last = speech_span(voice(1.0, lead=0.6, tail=0.4), RATE)
    assert abs(first / RATE - 0.6) < 0.03 and abs(last / RATE - 1.6) < 0.03
    assert speech_span(np.zeros(RATE, np.float32), RATE) == (0, 0)  # digital silence: below the absolute floor


def test_short_speech_is_centred_and_zero_padded_on_both_sides():
    cfg = PreprocessConfig(sample_rate=RATE, audio_window="speech")
    piece, padded = speech_window(Path("x.wav"), voice(1.0, lead=0.7, tail=0.1), cfg)
    assert padded and len(piece) == cfg.audio_samples
    loud = np.flatnonzero(np.abs(piece) > 0.01)
    before, after = loud[0], len(piece) - 1 - loud[-1]
    assert abs(before - after) < 0.03 * RATE and abs(before / RATE - 0.725) < 0.03  # (2.45 - 1.0) / 2 each side


def test_long_speech_gives_its_middle_and_too_little_is_refused():
    cfg = PreprocessConfig(sample_rate=RATE, audio_window="speech")
    audio = voice(6.0, lead=1.0)
    audio[int(4.0 * RATE):int(4.1 * RATE)] = 1.0  # a mark 3 s into the speech: its middle
    piece, padded = speech_window(Path("x.wav"), audio, cfg)
    assert not padded and len(piece) == cfg.audio_samples
    assert abs(np.flatnonzero(piece == 1.0)[0] / RATE - 1.225) < 0.03  # the window starts 1.225 s before it
    with pytest.raises(InputError, match=r"0.3\d s of speech found in 1.30 s of audio, under the 0.50 s"):
        speech_window(Path("x.wav"), voice(0.3, lead=0.5, tail=0.5), cfg)
    quiet, _ = speech_window(Path("x.wav"), voice(0.3, lead=0.5, tail=0.5), cfg, strict=False)  # a quiet window
    assert len(quiet) == cfg.audio_samples


def test_emodb_manifest_prepares_with_no_failure_by_default(tmp_path):
    """20 real utterances of 1.2 to 9 s, the shortest and the longest among them: speech window by
    default, short ones padded and counted in the summary, labels read as the shared names."""
    stems = sorted(p.stem for p in EMODB.glob("*.flac"))[::30][:18] + [SHORTEST, LONGEST]
    durations = [soundfile.info(EMODB / f"{s}.flac").duration for s in stems]
    assert min(durations) < 1.25 and max(durations) > 8.9 and sum(d < 2.95 for d in durations) >= 8
    result = CliRunner().invoke(app, ["prepare", "--manifest", str(emodb_manifest(tmp_path, stems)),
                                      "--out", str(tmp_path / "cache"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "20 prepared" in result.output and "0 failed" in result.output and "audio window: speech" in result.output
    assert "(speech window)" in result.output and "anger -> angry" in result.output
    cache = open_cache(tmp_path / "cache")
    assert cache.config.audio_window == "speech" and cache.modalities == ("audio",)
    report = json.loads((cache.path / "report.json").read_text())
    assert SHORTEST in report["padded"] and LONGEST not in report["padded"]
    assert cache.load(SHORTEST)[1].shape == cache.load(LONGEST)[1].shape == (13, 212)


def test_the_paper_window_is_still_there_on_request(tmp_path):
    result = CliRunner().invoke(app, ["prepare", "--manifest", str(emodb_manifest(tmp_path, [SHORTEST, LONGEST])),
                                      "--out", str(tmp_path / "cache"), "--workers", "1", "--audio-window", "paper"])
    assert result.exit_code == 3, result.output
    assert f"failed: {SHORTEST}.flac: too_short: clip is 1.23 s, the window needs 2.95 s" in result.output


def test_one_to_nine_seconds_predict_with_a_speech_window_run(tmp_path):
    """A (random) audio run prepared with the speech window answers a 1.2 s and a 9 s utterance with
    one prediction each, the long one pooled over its windows."""
    import torch

    from avemotion.inference import Recognizer, Prediction
    from avemotion.models import create_model
    from avemotion.models.checkpoint import save_checkpoint
    from avemotion.utils.io import write_json

    torch.manual_seed(0)
    cfg = PreprocessConfig(audio_window="speech", modalities=("audio",))
    extra = {"fold": 0, "epoch": 0, "selection": "val", "selection_metrics": {"val_acc": 0.5, "val_loss": 1.0}}
    save_checkpoint(create_model("audio", scale="tiny"), tmp_path / "run/fold_0/audio/best", preprocess=cfg, extra=extra)
    write_json(tmp_path / "run/run.json", {"models": ["audio"], "preprocess": cfg.to_dict(), "unimodal_dir": "."})
    rec = Recognizer.from_run(tmp_path / "run")
    short, long = rec.predict(EMODB / f"{SHORTEST}.flac"), rec.predict(EMODB / f"{LONGEST}.flac")
    assert isinstance(short, Prediction) and isinstance(long, Prediction)
    assert long.end == pytest.approx(8.98, abs=0.05) and long.notes == ("pooled over 7 windows of 3 s",)
    assert abs(sum(long.probabilities.values()) - 1) < 1e-6
