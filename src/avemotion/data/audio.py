"""Audio: a clip's track decoded on the clip's clock (whole, or a span reached by a seek), the window
of it the MFCCs are computed from ("paper" or "speech"), the project's one speech activity detector,
the short-clip rules, and the MFCCs themselves (SPEC 2).

Below `data.preprocess` (the entry point); uses `data.media` to open and check streams.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from avemotion.config import PreprocessConfig
from avemotion.data.media import (SEEK_AFTER, SEEK_MARGIN, SYNC_TOLERANCE, check_complete, open_media, stated_span,
                                  stream_start)
from avemotion.errors import InputError

# Files shorter than this are refused even with short_clip="pad": too little audio to mean anything.
MIN_PAD_DURATION = 1.0
# The speech window (audio_window="speech"): the project's energy-based activity detector (loud_span
# below, shared with data.voice: 25 ms frames every 10 ms). Frames are speech when their RMS level is
# within SPEECH_TOP_DB of the clip's loudest frame (relative, as librosa.effects.trim; 40 dB rather
# than its 60 leaves out breath and room noise of a quiet studio) and above SPEECH_FLOOR_DB dBFS
# (absolute: a clip of near-silence holds no speech). Only leading and trailing silence is trimmed;
# pauses inside the speech stay.
SPEECH_TOP_DB = 40.0
SPEECH_FLOOR_DB = -60.0
# Less speech than this is refused by prepare (a clip, not a window of a longer recording).
MIN_SPEECH = 0.5


class _Samples:
    """A growing float32 buffer: the decoded track is held once (not as chunks plus their
    concatenation), sized from the stated duration so that it rarely has to grow."""

    def __init__(self, expected: int, lead: int = 0):
        self.data = np.zeros(max(expected + lead, lead, 1 << 16), np.float32)
        self.size = lead  # `lead` zeros: audio that starts after the video

    def add(self, chunk: np.ndarray) -> None:
        end = self.size + len(chunk)
        if end > len(self.data):
            grown = np.empty(max(end, 2 * len(self.data)), np.float32)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = chunk
        self.size = end

    def array(self) -> np.ndarray:
        # within 1 % of the stated length the view is kept; a copy only when the estimate was far off
        view = self.data[: self.size]
        return view if len(self.data) - self.size < 0.01 * len(self.data) + (1 << 16) else view.copy()


def audio_lead(first_audio: float, video_start: float | None) -> float:
    """Seconds the audio track starts after the first video frame (negative: before it); 0 within
    SYNC_TOLERANCE, and for an audio-only file."""
    if video_start is None:
        return 0.0
    offset = first_audio - video_start
    return offset if abs(offset) > SYNC_TOLERANCE else 0.0


def decode_audio(path: Path, sample_rate: int) -> np.ndarray:
    """The clip's own audio track as mono float32 at `sample_rate`, on the clip's clock: sample 0 is
    the time of the first video frame (audio that starts later is preceded by zeros, audio that starts
    earlier loses what comes before), so windows in seconds line up with the frames. Any channel
    layout, rate and sample format is resampled and mixed down to the mean of its channels (as
    librosa.to_mono, which the published pipeline used). A truncated or damaged track is corrupt.

    Memory: the track once at `sample_rate` (635 MB per hour at 44.1 kHz)."""
    import av

    with open_media(path) as c:
        if not c.streams.audio:
            raise InputError(path, "no_audio", "no audio stream")
        stream = c.streams.audio[0]
        video_start = stream_start(c.streams.video[0]) if c.streams.video else None
        stated = stated_span(c, stream)
        samples, skip, decoded = None, 0, 0
        try:
            for first, out in _resampled(c, stream, sample_rate):
                if samples is None:  # the first frame places the track on the clip's clock
                    lead = audio_lead(first if first is not None else stream_start(stream), video_start)
                    samples = _Samples(round(stated * sample_rate * 1.01), max(0, round(lead * sample_rate)))
                    skip = max(0, round(-lead * sample_rate))
                skip, decoded = _keep(samples, out, skip, decoded)
        except av.error.FFmpegError as err:
            if not decoded:
                raise InputError(path, "corrupt", f"audio does not decode ({err})") from None
            raise InputError(path, "corrupt", f"truncated or damaged: audio does not decode past {decoded / sample_rate:.1f} s ({err})") from None
        if not decoded:
            raise InputError(path, "no_audio", "audio stream holds no samples")
        check_complete(path, "audio", decoded / sample_rate, stated)
    return check_finite(path, samples.array())


def check_finite(path: str | Path, wave: np.ndarray) -> np.ndarray:
    """The one gate of audio samples into avemotion: a track holding NaN or infinite samples (a
    float WAV can) is a corrupt input like any other, refused before it reaches a feature."""
    if not np.isfinite(wave).all():
        bad = int((~np.isfinite(wave)).sum())
        raise InputError(path, "corrupt", f"{bad} audio samples are NaN or infinite")
    return wave.astype(np.float32, copy=False)


def _resampled(c, stream, sample_rate: int):
    """(time of the stream's first decoded frame or None, resampled frame) for the whole stream, the
    one decode loop of decode_audio and decode_audio_span. A stream may change rate or layout
    midway: the resampler is flushed and started over. Channels are kept through the resampler and
    averaged in _keep: FFmpeg's own downmix weights stereo by 1/sqrt(2) (3 dB louder than the mono
    files of the corpus)."""
    import av

    resampler, layout, first, started = None, None, None, False
    for frame in c.decode(stream):
        if not started:
            first, started = frame.time, True
        setup = (frame.format.name, frame.layout.name, frame.sample_rate)
        if setup != layout:
            for out in resampler.resample(None) if resampler else ():
                yield first, out
            resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=sample_rate)
            layout = setup
        for out in resampler.resample(frame):
            yield first, out
    for out in resampler.resample(None) if resampler else ():
        yield first, out


def _keep(samples: _Samples, frame, skip: int, decoded: int) -> tuple[int, int]:
    """Append a resampled frame, dropping the first `skip` samples of the track; returns the
    samples still to skip and the count decoded so far (skipped ones included)."""
    chunk = frame.to_ndarray().mean(axis=0, dtype=np.float32)  # (channels, n) planar -> mono, as librosa.to_mono
    decoded += len(chunk)
    if skip:
        dropped = min(skip, len(chunk))
        chunk, skip = chunk[dropped:], skip - dropped
    samples.add(chunk)
    return skip, decoded


def audio_window(path: Path, audio: np.ndarray, start: float, cfg: PreprocessConfig, end: float | None = None,
                 *, strict: bool = True) -> np.ndarray:
    """The samples the MFCCs are computed from (window_audio without the padded flag)."""
    return window_audio(path, audio, start, cfg, end, strict=strict)[0]


def window_audio(path: Path, audio: np.ndarray, start: float, cfg: PreprocessConfig, end: float | None = None,
                 *, strict: bool = True) -> tuple[np.ndarray, bool]:
    """(audio_samples samples, whether they were zero-padded) of the window [start, end] (end None:
    the end of the track). "paper": `audio_duration` s from `start + audio_offset`, zero-padded only
    when cfg.short_clip == "pad". "speech": speech_window over the window's own audio; `strict`
    refuses a window with less than MIN_SPEECH s of speech (a clip), otherwise such a window (a quiet
    stretch of a long recording) is taken as it is."""
    sr = cfg.sample_rate
    if cfg.audio_window == "speech":
        stop = None if end is None else round(end * sr)
        return speech_window(path, audio[round(start * sr):stop], cfg, strict=strict)
    first = round((start + cfg.audio_offset) * sr)
    need = cfg.audio_samples
    piece = audio[first:first + need]
    if len(piece) < need:
        have = len(audio) / sr
        if cfg.short_clip != "pad" or have < MIN_PAD_DURATION:
            raise InputError(path, "too_short", f"audio is {have:.2f} s, " + short_rule(cfg, start + cfg.min_duration))
        piece = np.pad(piece, (0, need - len(piece)))
        return piece, True
    return piece, False


def speech_span(audio: np.ndarray, sample_rate: int) -> tuple[int, int]:
    """[first, last) sample of the speech in `audio`, leading and trailing silence trimmed by the
    project's one activity detector (loud_span, with the SPEECH_* rule above); (0, 0) when no frame is
    loud enough."""
    return loud_span(audio, sample_rate, SPEECH_TOP_DB, SPEECH_FLOOR_DB) or (0, 0)


def speech_window(path: Path, audio: np.ndarray, cfg: PreprocessConfig, *, strict: bool = True) -> tuple[np.ndarray, bool]:
    """`audio_duration` s centred on the speech of `audio`: the middle of the speech when it is
    longer, else the whole speech zero-padded on both sides (padded True). Speech is found by
    speech_span; with less than MIN_SPEECH s of it, InputError too_short when `strict`, else the
    window's own audio stands for it."""
    sr, need = cfg.sample_rate, cfg.audio_samples
    first, last = speech_span(audio, sr)
    if last - first < MIN_SPEECH * sr:
        if strict or len(audio) < MIN_SPEECH * sr:
            raise InputError(path, "too_short", f"{(last - first) / sr:.2f} s of speech found in {len(audio) / sr:.2f} s "
                                                f"of audio, under the {MIN_SPEECH:.2f} s the speech window needs")
        first, last = 0, len(audio)
    if last - first >= need:
        begin = (first + last - need) // 2
        return audio[begin:begin + need], False
    before = (need - (last - first)) // 2  # symmetric padding, the odd sample after
    return np.pad(audio[first:last], (before, need - (last - first) - before)), True


def shortest_clip(cfg: PreprocessConfig) -> float:
    """Seconds below which a clip is refused before it is decoded."""
    if cfg.audio_window == "speech":
        return MIN_SPEECH
    return cfg.min_duration if cfg.short_clip == "error" else MIN_PAD_DURATION


def short_rule(cfg: PreprocessConfig, needed: float) -> str:
    """The rule a too-short clip broke, as the end of its message."""
    if cfg.audio_window == "speech":
        return f"under the {MIN_SPEECH:.2f} s of speech the speech window needs"
    if cfg.short_clip == "pad":
        return f"under the {MIN_PAD_DURATION:.2f} s that --pad-short needs to zero-pad a clip to {needed:.2f} s"
    return f"the window needs {needed:.2f} s (use --pad-short to zero-pad clips of at least {MIN_PAD_DURATION:.2f} s)"


@functools.lru_cache(maxsize=4)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)  # librosa's defaults (Slaney)


def compute_mfcc(samples: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """librosa MFCC with the SPEC parameters (Hann, centred, power dB), padded/cropped to mfcc_frames.
    The centred STFT pads with cfg.stft_pad ("reflect" gives the published librosa 0.8 features)."""
    import librosa

    # librosa.feature.mfcc(y=...) step by step, with one change: the mel projection is a matrix
    # product. librosa's np.einsum(optimize=True) takes 98 ms per clip under numpy 2.4 against
    # 0.3 ms for the same float32 product (bench/bench_cache.py); it was most of `prepare`'s time.
    # tests/data/test_preprocess.py checks the result against librosa.feature.mfcc(y=...).
    spec = np.abs(librosa.stft(samples.astype(np.float32), n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                               window="hann", center=True, pad_mode=cfg.stft_pad)) ** 2
    mel = _mel_basis(cfg.sample_rate, cfg.n_fft, cfg.n_mels) @ spec
    m = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=cfg.n_mfcc)
    if m.shape[1] < cfg.mfcc_frames:
        m = np.pad(m, ((0, 0), (0, cfg.mfcc_frames - m.shape[1])))
    return np.ascontiguousarray(m[:, :cfg.mfcc_frames], dtype=np.float32)



def decode_audio_span(path: Path, sample_rate: int, start: float, end: float) -> np.ndarray:
    """The audio of [start, end] (seconds on the clip's clock, as decode_audio places the track) as
    mono float32 at `sample_rate`, reached by a seek (not decoded from the start of the file); what
    the file lacks of the span is simply not there (shorter array)."""
    import av

    with open_media(path) as c:
        if not c.streams.audio:
            raise InputError(path, "no_audio", "no audio stream")
        stream = c.streams.audio[0]
        video_start = stream_start(c.streams.video[0]) if c.streams.video else None
        track = stream_start(stream)
        # the clip clock: time 0 is the first video frame, with decode_audio's sync tolerance
        zero = track - audio_lead(track, video_start)
        want, need = zero + start, round((end - start) * sample_rate)
        if want - SEEK_MARGIN > track + SEEK_AFTER and stream.time_base:
            c.seek(int((want - SEEK_MARGIN) / stream.time_base), stream=stream, backward=True)
        samples, skip, decoded = None, 0, 0
        try:
            for first, out in _resampled(c, stream, sample_rate):
                if samples is None:
                    first = first if first is not None else track
                    samples = _Samples(need, max(0, round((first - want) * sample_rate)))
                    skip = max(0, round((want - first) * sample_rate))
                skip, decoded = _keep(samples, out, skip, decoded)
                if samples.size >= need:
                    break
        except av.error.FFmpegError as err:
            raise InputError(path, "corrupt", f"audio does not decode in {start:.2f}-{end:.2f} s ({err})") from None
        if samples is None or not decoded:
            raise InputError(path, "no_audio", f"no audio samples in {start:.2f}-{end:.2f} s")
    return check_finite(path, samples.data[: min(samples.size, need)].copy())



FRAME, HOP = 0.025, 0.010  # the activity detector's frames (seconds)


def frame_db(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS in dBFS of FRAME-second frames every HOP seconds (a trailing partial frame counts)."""
    size, hop = round(FRAME * sample_rate), round(HOP * sample_rate)
    if len(wave) < size:
        wave = np.pad(wave, (0, size - len(wave)))
    n = 1 + (len(wave) - size + hop - 1) // hop
    wave = np.pad(wave, (0, (n - 1) * hop + size - len(wave)))
    frames = np.lib.stride_tricks.sliding_window_view(wave, size)[::hop][:n]
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10))


def loud_span(wave: np.ndarray, sample_rate: int, top_db: float, floor_dbfs: float) -> tuple[int, int] | None:
    """(first, end) sample of the frames within `top_db` of the loudest and above `floor_dbfs`: the
    project's one speech activity detector (the voice pipeline, and the paper cache's speech window
    below); None when no frame is speech."""
    db = frame_db(wave, sample_rate)
    loud = np.flatnonzero(db >= max(db.max() - top_db, floor_dbfs))
    if not len(loud):
        return None
    hop, size = round(HOP * sample_rate), round(FRAME * sample_rate)
    return int(loud[0] * hop), int(min(len(wave), loud[-1] * hop + size))
