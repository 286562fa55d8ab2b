"""Sliding-window planning and smoothing of window probabilities (pure functions, no I/O)."""

from __future__ import annotations

import math

import numpy as np

from avemotion.errors import ConfigError

# A video up to this many windows long is one clip (one prediction), as in training;
# beyond it, it becomes a timeline. 1.5 keeps clips a little longer than a window whole.
LONG_FACTOR = 1.5
_EPS = 1e-6
# The longest window a prediction decodes at once (a bound on memory; the paper's window is 2.95 s).
MAX_WINDOW = 60.0


# A model prepared with the speech window (audio_window="speech": utterances of any length) gives
# one answer for a file up to this long, the mean of its windows' probabilities (an utterance longer
# than a window is one utterance, not a timeline); longer files give a timeline.
POOL_UP_TO = 10.5


def is_long(duration: float, window: float) -> bool:
    return duration > LONG_FACTOR * window


def pool_up_to(audio_window: str) -> float:
    """Seconds up to which windows are pooled into one answer: POOL_UP_TO for the speech window,
    0 (never) for the paper's, whose long videos stay timelines as before."""
    return POOL_UP_TO if audio_window == "speech" else 0.0


def check_window(window: float, hop: float, min_duration: float, pad_short: bool) -> None:
    """Refuse windows the preprocessing cannot fill (unless short clips are padded)."""
    if not (math.isfinite(window) and math.isfinite(hop) and window > 0 and hop > 0):
        raise ConfigError(f"--window and --hop must be finite positive seconds (got {window}, {hop})")
    if window > MAX_WINDOW:
        raise ConfigError(f"--window {window:g} s is longer than {MAX_WINDOW:g} s (one window is decoded at once)")
    if window < min_duration - _EPS and not pad_short:
        raise ConfigError(
            f"--window {window:g} s is shorter than the audio the model needs ({min_duration:g} s = "
            "audio_offset + audio_duration); use a longer window or --pad-short (pad_short=True)"
        )


def plan_windows(duration: float, window: float, hop: float) -> list[tuple[float, float]]:
    """Windows every `hop` seconds that fit in the video, plus one flush with the end if the grid
    leaves a tail uncovered, so that every second of the video is in at least one window."""
    if duration <= window + _EPS:
        return [(0.0, float(duration))]
    count = int(np.floor((duration - window) / hop + _EPS)) + 1
    spans = [(round(i * hop, 6), round(i * hop + window, 6)) for i in range(count)]
    if duration - spans[-1][1] > _EPS:
        spans.append((round(duration - window, 6), round(duration, 6)))
    return spans


def smooth_probs(probs: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average over `n` windows of a (W, C) array; near the ends the average
    uses the windows that exist, so the output has the same length and rows still sum to 1."""
    probs = np.asarray(probs, dtype=np.float64)
    if n <= 1 or len(probs) <= 1:
        return probs.copy()
    before, after = (n - 1) // 2, n // 2
    out = np.empty_like(probs)
    for i in range(len(probs)):
        lo, hi = max(0, i - before), min(len(probs), i + after + 1)
        out[i] = probs[lo:hi].mean(axis=0)
    return out
