"""The voice pipeline's preprocessing: any utterance, any microphone, any level (issue 23).

The paper's audio features (SPEC 2: MFCCs at 44.1 kHz, a fixed 0.5 s + 2.45 s window, no
normalisation) stay for the reproduction. A voice model meant for real recordings instead sees:

- one sample rate and band for every corpus: 16 kHz, features up to 8 kHz (a 16 kHz corpus has
  nothing above that, so a model trained on 44.1 kHz features meets empty bands elsewhere);
- speech only: leading and trailing silence trimmed by an energy activity detector (RAVDESS clips
  start with about 1 s of silence, EmoDB's speech starts at once);
- one level: the speech is scaled to LEVEL_DBFS RMS (corpora differ by about 19 dB);
- any length: `windows()` covers an utterance with fixed windows (a short one is one window with the
  rest masked; a long one several overlapping windows whose outputs are pooled).

`VoiceConfig` is the contract: its hash is recorded with every voice store and weights file, and
prediction applies exactly the same steps (`prepare_wave`, `windows`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemotion.data.audio import decode_audio, loud_span
from avemotion.data.media import probe
from avemotion.errors import InputError

# Bumped when this module changes what a setting produces (stores and weights record it).
VOICE_REVISION = 1


@dataclass(frozen=True)
class VoiceConfig:
    sample_rate: int = 16000
    # activity detector: 25 ms frames every 10 ms; a frame is speech when its RMS is within
    # `vad_top_db` of the loudest frame and above `vad_floor_dbfs` (an absolute floor, so that a
    # recording of pure hiss is not "speech" relative to itself); `vad_pad` s kept around the speech
    vad_top_db: float = 40.0
    vad_floor_dbfs: float = -60.0
    vad_pad: float = 0.1
    level_dbfs: float = -23.0  # RMS of the speech after scaling
    min_speech: float = 0.3  # seconds of speech below which an utterance is refused
    max_duration: float = 600.0  # seconds decoded at most (a bound on memory: 38 MB at 16 kHz)
    window: float = 3.0  # seconds seen by the model at once
    window_hop: float = 1.5  # between the windows of a long utterance
    # log-mel front end (computed by the model, models/voice.py): 32 ms frames, 10 ms hop, 8 kHz band
    n_fft: int = 512
    hop_length: int = 160
    n_mels: int = 64
    fmin: float = 50.0
    fmax: float = 8000.0

    def __post_init__(self):
        if self.fmax > self.sample_rate / 2:
            raise ValueError(f"fmax {self.fmax} is above the Nyquist frequency of {self.sample_rate} Hz")
        if not 0 < self.window_hop <= self.window:
            raise ValueError("window_hop must be in (0, window]")

    @property
    def window_samples(self) -> int:
        return round(self.window * self.sample_rate)

    @property
    def hop_samples(self) -> int:
        return round(self.window_hop * self.sample_rate)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "VoiceConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def hash(self) -> str:
        payload = dict(self.to_dict(), voice_revision=VOICE_REVISION)
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Utterance:
    """An utterance ready for a voice model: the speech at 16 kHz and one level, and what was done."""

    wave: np.ndarray  # float32 (n,), speech only
    duration: float  # seconds of the input (before trimming)
    speech_start: float  # seconds: where the kept speech starts and ends in the input
    speech_end: float
    gain_db: float  # applied to reach the level


def decode_voice(path: str | Path, cfg: VoiceConfig) -> np.ndarray:
    """The file's audio (any container PyAV reads, audio or video) as mono float32 at cfg.sample_rate.
    Refuses a file without finite samples or longer than cfg.max_duration."""
    path = Path(path)
    info = probe(path)
    if not info.has_audio:
        raise InputError(path, "no_audio", "no audio stream")
    if info.duration > cfg.max_duration:
        raise InputError(path, "too_long", f"{info.duration:.0f} s of audio; a voice prediction decodes at most "
                         f"{cfg.max_duration:.0f} s (cut the file, or use predict's timeline on a video)")
    return decode_audio(path, cfg.sample_rate)  # finite: decode_audio refuses NaN and infinite samples


def speech_span(wave: np.ndarray, cfg: VoiceConfig) -> tuple[int, int] | None:
    """(first, end) sample of the speech with `vad_pad` s kept on each side, or None (no speech)."""
    span = loud_span(wave, cfg.sample_rate, cfg.vad_top_db, cfg.vad_floor_dbfs)
    if span is None:
        return None
    pad = round(cfg.vad_pad * cfg.sample_rate)
    return max(0, span[0] - pad), min(len(wave), span[1] + pad)


def prepare_wave(path: str | Path, wave: np.ndarray, cfg: VoiceConfig) -> Utterance:
    """Trim silence and set the level; InputError when there is not `min_speech` of speech."""
    sr = cfg.sample_rate
    loud = loud_span(wave, sr, cfg.vad_top_db, cfg.vad_floor_dbfs)
    if loud is None:
        raise InputError(path, "too_short", f"no speech found (every frame below {cfg.vad_floor_dbfs:.0f} dBFS)")
    if loud[1] - loud[0] < cfg.min_speech * sr:
        raise InputError(path, "too_short", f"{(loud[1] - loud[0]) / sr:.2f} s of speech; a voice prediction needs {cfg.min_speech:.2f} s")
    first, end = speech_span(wave, cfg)
    speech = wave[first:end]
    rms = float(np.sqrt(np.mean(speech.astype(np.float64) ** 2)))
    gain_db = cfg.level_dbfs - 20 * np.log10(max(rms, 1e-10))
    speech = speech * np.float32(10 ** (gain_db / 20))
    return Utterance(np.clip(speech, -1.0, 1.0).astype(np.float32), len(wave) / sr, first / sr, end / sr, float(gain_db))


def load_utterance(path: str | Path, cfg: VoiceConfig) -> Utterance:
    return prepare_wave(path, decode_voice(path, cfg), cfg)


def window_starts(n: int, cfg: VoiceConfig) -> list[int]:
    """Start samples of the windows covering n samples: one window when n fits, else windows every
    `window_hop` with the last one ending at the end (every sample is covered)."""
    size, hop = cfg.window_samples, cfg.hop_samples
    if n <= size:
        return [0]
    starts = list(range(0, n - size + 1, hop))
    if starts[-1] + size < n:
        starts.append(n - size)
    return starts


def windows(wave: np.ndarray, cfg: VoiceConfig) -> tuple[np.ndarray, np.ndarray]:
    """(windows float32 (k, window_samples), lengths int64 (k,)): the utterance cut into the model's
    windows; a short one is zero-padded and its length says how much is real (the model masks the rest)."""
    size = cfg.window_samples
    starts = window_starts(len(wave), cfg)
    out = np.zeros((len(starts), size), np.float32)
    lengths = np.zeros(len(starts), np.int64)
    for i, s in enumerate(starts):
        piece = wave[s:s + size]
        out[i, :len(piece)] = piece
        lengths[i] = len(piece)
    return out, lengths
